"""numpy: cross entropy written the way a user would, computing in the case dtype.

This is the plain textbook implementation (max-shift, exp, sum, log, gather) with no accuracy
tricks, so it shows what straightforward code achieves in each dtype. numpy has no bfloat16.
It is also the adapter the harness's own unit tests use.
"""

from __future__ import annotations

import numpy as np

from harness.adapters.base import COMPOSED, NATIVE, Adapter, Capabilities


def numpy_cross_entropy(x, label, weight=None, grad_output=None, *, ignore_index=-100,
                        reduction="mean", soft_label=False, axis=-1, use_softmax=True,
                        label_smoothing=0.0, want_grad=False):
    """Straightforward cross entropy (and its analytic gradient) in x's dtype; returns the values
    and the name of their dtype."""
    dt = x.dtype
    xm = np.moveaxis(x, axis, -1)
    C = xm.shape[-1]
    if use_softmax:
        shifted = xm - xm.max(axis=-1, keepdims=True)
        lse = np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        logp = shifted - lse
    else:
        with np.errstate(divide="ignore"):
            logp = np.log(xm)
    if soft_label:
        q = np.moveaxis(label, axis, -1).astype(dt)
        valid = np.ones(q.shape[:-1], dtype=bool)
    else:
        lab = np.squeeze(label, axis=axis) if label.ndim == x.ndim else label
        valid = lab != ignore_index
        q = np.zeros(xm.shape, dtype=dt)  # one-hot; IndexError for labels >= C, -1 wraps
        np.put_along_axis(q, np.where(valid, lab, 0)[..., None], 1, axis=-1)
    if label_smoothing > 0:
        q = (q * (1 - label_smoothing) + label_smoothing / C).astype(dt)
    # without weights every position weighs 1 (soft rows need not sum to 1); sums of float16 in
    # float32, as numpy's own mean does ("float16 results are computed using float32
    # intermediates")
    acc = np.float32 if dt == np.float16 else dt
    if weight is None:
        sample_w = valid.astype(dt)
    else:
        sample_w = np.where(valid, (q * weight.astype(dt)).sum(axis=-1), 0).astype(dt)
    with np.errstate(invalid="ignore"):
        per_pos = -(np.where(q != 0, q * logp, 0)).sum(axis=-1) * sample_w
    per_pos = np.where(valid, per_pos, 0).astype(dt)
    if reduction == "none":
        loss, scale = per_pos, (np.ones_like(per_pos) if grad_output is None else grad_output)
    elif reduction == "sum":
        loss, scale = per_pos.sum(dtype=acc).astype(dt), np.ones_like(per_pos)
    elif reduction == "mean":
        denom = sample_w.sum(dtype=acc)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            loss = (per_pos.sum(dtype=acc) / denom).astype(dt)
            scale = np.full_like(per_pos, 1 / denom)
    else:
        raise ValueError(f"unknown reduction {reduction!r}")
    if not want_grad:
        return np.asarray(loss, dtype=dt), dt.name
    with np.errstate(invalid="ignore"):
        s = np.where(valid, scale * sample_w, 0)[..., None].astype(dt)  # ignored: no gradient
    if use_softmax:
        p = np.exp(logp)
        g = s * (p * q.sum(axis=-1, keepdims=True) - q)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where(q != 0, -s * q / xm, 0)
    return np.moveaxis(g.astype(dt), -1, axis), dt.name


_ALL = {f: NATIVE for f in ("soft_label", "use_softmax", "weight", "ignore_index", "label_smoothing",
                             "axis", "reduction_none", "reduction_sum", "reduction_mean")}


class NumpyAdapter(Adapter):
    name = "numpy"
    module = "numpy"
    distribution = "numpy"
    position = 0
    api = "numpy (textbook implementation, in the case dtype)"
    capabilities = Capabilities(
        dtypes=("float16", "float32", "float64"),
        features={**_ALL, "axis": COMPOSED,
                  "framework_probs": ("unsupported: numpy is no framework; its textbook loss takes "
                                      "logits or probabilities the case gives")},
        dtype_notes={"bfloat16": "numpy has no bfloat16 dtype"},
        calls={"functional": NATIVE,
               "module": "unsupported: the textbook numpy loss is one function; numpy has no "
                         "loss classes"},
    )
    conventions = ()  # written to the canonical definition
    # whole-array temporaries in the case dtype: shifted logits, their exp, log-probabilities, the
    # one-hot target and the products (forward); probabilities and the gradient besides
    memory_factors = {"forward": 6.0, "grad": 9.0}

    def dispatch(self):
        from harness.cpu import numpy_dispatch

        return {"numpy": numpy_dispatch()}

    program = (numpy_cross_entropy,)

    def arguments(self, params, check):
        return {"ignore_index": params["ignore_index"], "reduction": params["reduction"],
                "soft_label": params["label_kind"] == "soft", "axis": params["axis"],
                "use_softmax": params["use_softmax"],
                "label_smoothing": params["label_smoothing"], "want_grad": check == "grad"}
