"""Error bounds from an error model of cross entropy computed in the case dtype.

A comparison passes when every element's error is within the bound this module derives; the bound
is printed beside the error. Model (u = unit roundoff of the case dtype, e.g. 2**-24 for float32;
k_C = log2(C) + 2 for a blocked/pairwise class sum; t_c = x_c - max(x); p = softmax(x);
r_c = the weighted target coefficients, l = -sum_c r_c log p_c; R = sum_c r_c):

forward, logits, per position   E_j = u * (k_C * |l_j| + R_j * (T_j + k_C + 1)),  T_j = sum_c p_c |t_c|
    (rounding of each t_c and log p_c term, exp's relative error carried into the sum, the class
    sum's accumulation, the log)
forward, probabilities          E_j = u * (k_C * |l_j| + R_j)
gradient, logits                E_jc = u * |s_j| * (R_j p_c (|t_c| + T_j + k_C + 2) + r_c + k_N |p_c R_j - r_c|)
gradient, probabilities         E_jc = u * |s_j| * (3 + k_N) * r_c / p_c
reductions                      sum: sum_j (E_j + u |l_j|) + u k_N sum_j |l_j|;  mean: sum-bound / D + u k_N |mean|
                                (k_N = log2(N) + 2; s_j the cotangent or 1/D; D the mean's denominator)

Every bound is multiplied by SAFETY and gets the dtype's subnormal spacing added (no result can be
closer than that). The inputs are exact in the case dtype, so the model contains no input rounding.
The model uses the canonical coefficients r even when a named convention is tested: conventions
reweight the same terms and leave the magnitudes alike.
"""

from __future__ import annotations

import numpy as np

from harness.dtypes import fmt

SAFETY = 4.0


def _coefficients(x, label, weight, kw):
    """Canonical r (positions x C, float64), the ignore mask, and the sample weights."""
    axis = kw["axis"]
    xm = np.moveaxis(np.asarray(x, dtype=np.float64), axis, -1)
    C = xm.shape[-1]
    if kw["soft_label"]:
        q = np.moveaxis(np.asarray(label, dtype=np.float64), axis, -1)
        valid = np.ones(q.shape[:-1], dtype=bool)
    else:
        lab = np.asarray(label)
        if lab.ndim == xm.ndim:
            lab = np.squeeze(lab, axis=axis)
        valid = lab != kw["ignore_index"]
        idx = np.where(valid, lab, 0).astype(np.int64)
        q = np.zeros(xm.shape)
        np.put_along_axis(q, idx[..., None], 1.0, axis=-1)
    e = kw["label_smoothing"]
    if e:
        q = (1 - e) * q + e / C
    w = np.ones(C) if weight is None else np.asarray(weight, dtype=np.float64)
    sw = np.where(valid, (q * w).sum(-1), 0.0)
    return xm, q * sw[..., None], sw


def _log2(n):
    return np.log2(max(n, 1)) + 2.0


def forward_bound(x, label, weight, kw, dtype, per_position_loss):
    """Bound for reduction kw['reduction'], same shape as the result; `per_position_loss` is the
    reference's `none` output (float64)."""
    u, tiny = fmt(dtype).unit_roundoff, fmt(dtype).tiny_ulp
    xm, r, sw = _coefficients(x, label, weight, kw)
    C = xm.shape[-1]
    kC = _log2(C)
    R = r.sum(-1)
    lj = np.abs(np.nan_to_num(np.asarray(per_position_loss, dtype=np.float64), nan=0.0, posinf=0.0))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if kw["use_softmax"]:
            m = np.max(np.where(np.isfinite(xm), xm, -np.inf), axis=-1, keepdims=True)
            m = np.where(np.isfinite(m), m, 0.0)
            t = xm - m
            s = np.exp(t).sum(-1, keepdims=True)
            p = np.exp(t) / s
            T = np.where(p > 0, p * np.abs(t), 0.0).sum(-1)
            E = u * (kC * lj + R * (T + kC + 1))
        else:
            E = u * (kC * lj + R)
    E = SAFETY * E + tiny
    red = kw["reduction"]
    if red == "none":
        return E
    N = max(lj.size, 1)
    kN = _log2(N)
    total = float(np.sum(E + u * lj) + u * kN * np.sum(lj))
    if red == "sum":
        return np.float64(SAFETY * total + tiny)
    D = float(np.sum(sw))
    mean = float(np.sum(lj)) / D if D else 0.0
    return np.float64(SAFETY * (total / abs(D) + u * kN * abs(mean)) + tiny if D else np.inf)


def grad_bound(x, label, weight, kw, dtype, grad_output=None):
    """Per-element bound for the gradient with respect to the input."""
    u, tiny = fmt(dtype).unit_roundoff, fmt(dtype).tiny_ulp
    axis = kw["axis"]
    xm, r, sw = _coefficients(x, label, weight, kw)
    C = xm.shape[-1]
    N = max(int(np.prod(xm.shape[:-1])), 1)
    kC, kN = _log2(C), _log2(N)
    red = kw["reduction"]
    if red == "none":
        s = np.ones(xm.shape[:-1]) if grad_output is None else np.asarray(grad_output, np.float64)
    elif red == "mean":
        D = float(np.sum(sw))
        s = np.full(xm.shape[:-1], 1.0 / D if D else 0.0)
    else:
        s = np.ones(xm.shape[:-1])
    s = np.abs(s)[..., None]
    R = r.sum(-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if kw["use_softmax"]:
            m = np.max(np.where(np.isfinite(xm), xm, -np.inf), axis=-1, keepdims=True)
            m = np.where(np.isfinite(m), m, 0.0)
            t = xm - m
            p = np.exp(t) / np.exp(t).sum(-1, keepdims=True)
            at = np.where(p > 0, np.abs(t), 0.0)
            T = (p * at).sum(-1, keepdims=True)
            E = u * s * (R * p * (at + T + kC + 2) + r + kN * np.abs(p * R - r))
        else:
            E = u * s * (3 + kN) * np.where(r > 0, r / np.asarray(xm, np.float64), 0.0)
    E = np.nan_to_num(SAFETY * E, nan=np.inf) + tiny
    return np.moveaxis(E, -1, axis)


def convention_grad_bound(base, grad, axis, dtype):
    """The gradient bound under a named convention: the canonical model's bound, widened to cover
    the convention's own gradient. A convention can move mass where the canonical gradient is ~0
    (a clipped softmax, renormalised probabilities, positions no longer ignored), so each element
    also gets u * (k_C + 2) * (|g_c| + max_c |g_c|) of its row (rounding relative to the row)."""
    u, tiny = fmt(dtype).unit_roundoff, fmt(dtype).tiny_ulp
    g = np.abs(np.nan_to_num(np.asarray(grad, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0))
    if g.ndim == 0 or g.size == 0:
        return base
    C = g.shape[axis]
    row = np.max(g, axis=axis, keepdims=True)
    extra = SAFETY * u * (_log2(C) + 2) * (g + row) + tiny
    return np.maximum(np.broadcast_to(base, g.shape), extra)
