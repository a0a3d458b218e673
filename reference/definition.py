"""Softmax cross entropy as a definition: the canonical formula of docs/semantics.md, plainly.

This is the contract to read, in the manner of an operator specification's reference code: float64
numpy, no care for accuracy or memory, no named conventions. `reference.cross_entropy` computes the same
values to a few ULPs, in blocks and with the named conventions; tests/test_reference_definition.py
holds the two equal on random cases.

>>> round(float(cross_entropy(np.array([[1.0, 2.0, 0.5]]), np.array([1]))), 6)
0.464369
"""

from __future__ import annotations

import numpy as np


def _targets(x, label, soft_label, axis, ignore_index, label_smoothing):
    """(q, kept): the target distribution of every position (class axis last) and whether the
    position counts (hard labels equal to ignore_index do not)."""
    C = x.shape[axis]
    if soft_label:
        q = np.moveaxis(np.asarray(label, dtype=np.float64), axis, -1)
        kept = np.ones(q.shape[:-1], dtype=bool)
    else:
        y = np.asarray(label)
        if y.ndim == x.ndim:  # labels given with the size-1 class axis
            y = np.squeeze(y, axis=axis)
        kept = y != ignore_index
        if np.any(kept & ((y < 0) | (y >= C))):
            raise ValueError("a label outside [0, C) that is not ignore_index")
        q = np.eye(C)[np.where(kept, y, 0)]
    if label_smoothing:
        q = (1 - label_smoothing) * q + label_smoothing / C
    return q, kept


def _log_probs(x, axis, use_softmax):
    """log p of every position, class axis last: log_softmax(x), or log(x) for probabilities."""
    z = np.moveaxis(np.asarray(x, dtype=np.float64), axis, -1)
    if not use_softmax:
        with np.errstate(divide="ignore"):
            return np.log(z)
    m = np.max(z, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return (z - m) - np.log(np.sum(np.exp(z - m), axis=-1, keepdims=True))


def cross_entropy(x, label, weight=None, ignore_index=-100, reduction="mean", soft_label=False,
                  axis=-1, use_softmax=True, label_smoothing=0.0):
    """The loss: per position l_j = -sw_j sum_c q_jc log p_jc, with the sample weight
    sw_j = sum_c w_c q_jc (0 where ignored); `none` gives l, `sum` its sum, `mean` its sum over
    the sum of the sample weights (NaN when that is 0)."""
    if reduction not in ("none", "sum", "mean"):
        raise ValueError(f"reduction {reduction!r} is not none, sum or mean")
    q, kept = _targets(x, label, soft_label, axis, ignore_index, label_smoothing)
    lp = _log_probs(x, axis, use_softmax)
    w = np.ones(q.shape[-1]) if weight is None else np.asarray(weight, dtype=np.float64)
    sw = np.where(kept, np.sum(q * w, axis=-1), 0.0)
    with np.errstate(invalid="ignore"):
        h = -np.sum(np.where(q > 0, q * lp, 0.0), axis=-1)  # 0 log 0 = 0
    loss = np.where(kept, sw * h, 0.0)
    if reduction == "none":
        return loss
    if reduction == "sum":
        return np.sum(loss)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sum(loss) / np.sum(sw)


def cross_entropy_grad(x, label, weight=None, ignore_index=-100, reduction="mean",
                       soft_label=False, axis=-1, use_softmax=True, label_smoothing=0.0,
                       grad_output=None):
    """d(loss)/dx, for `none` of sum_j g_j l_j with the cotangent g: with softmax
    s_j sw_j (p_j sum_c q_jc - q_j), without it -s_j sw_j q_jc / x_jc (0 where q_jc = 0), s_j
    the cotangent (none), 1 (sum) or 1 / sum_j sw_j (mean); ignored positions get 0."""
    q, kept = _targets(x, label, soft_label, axis, ignore_index, label_smoothing)
    w = np.ones(q.shape[-1]) if weight is None else np.asarray(weight, dtype=np.float64)
    sw = np.where(kept, np.sum(q * w, axis=-1), 0.0)
    if reduction == "none":
        s = np.ones(sw.shape) if grad_output is None else np.asarray(grad_output, np.float64)
    elif reduction == "sum":
        s = np.ones(sw.shape)
    else:
        with np.errstate(divide="ignore"):
            s = np.full(sw.shape, 1.0 / np.sum(sw))
    with np.errstate(invalid="ignore"):  # nothing kept: 1/0 times 0, NaN like the mean
        scale = (s * sw)[..., None]
    z = np.moveaxis(np.asarray(x, dtype=np.float64), axis, -1)
    if use_softmax:
        p = np.exp(_log_probs(x, axis, True))
        g = scale * (p * np.sum(q, axis=-1, keepdims=True) - q)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where(q > 0, -scale * q / z, 0.0)
    return np.moveaxis(np.where(kept[..., None], g, 0.0), -1, axis)
