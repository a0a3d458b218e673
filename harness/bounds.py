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

Signed class weights (`weight: signed`) make sums cancel: a soft position's sample weight
sw_j = sum_c w_c q_c, a per-class convention's terms w_c q_c log p_c, and a weighted mean's
denominator D = sum_j sw_j. Every magnitude in the model is then taken with |w| (R, r and |l|
become their magnitudes |w|-weighted), the error of each sample weight is u k_C S_j (S_j =
sum_c |w_c| q_c), and that of D is u (k_N sum_j |sw_j| + k_C sum_j (S_j - |sw_j|)): relative to
|D| it is unbounded as D cancels, and so is the mean's bound. Without negative weights these terms
are zero and every bound is what it was (bit for bit).
"""

from __future__ import annotations

import numpy as np

from harness.dtypes import fmt

SAFETY = 4.0


_BLOCK_ELEMENTS = 1 << 21  # float64 elements per block of rows: the input is never widened whole


class _Rows:
    """The inputs seen as (positions, C) rows, class axis last, read in blocks: the canonical
    coefficients r (float64), the ignore mask and the sample weights of each block."""

    def __init__(self, x, label, weight, kw):
        axis = kw["axis"]
        xm = np.moveaxis(np.asarray(x), axis, -1)
        self.pos_shape, self.C = xm.shape[:-1], xm.shape[-1]
        self.P = int(np.prod(self.pos_shape, dtype=np.int64))
        self.x = xm.reshape(self.P, self.C)  # a view when the class axis is last
        self.kw = kw
        if kw["soft_label"]:
            self.q = np.moveaxis(np.asarray(label), axis, -1).reshape(self.P, self.C)
            self.valid = np.ones(self.P, dtype=bool)
        else:
            lab = np.asarray(label)
            if lab.ndim == xm.ndim:
                lab = np.squeeze(lab, axis=axis)
            lab = lab.reshape(self.P)
            self.valid = lab != kw["ignore_index"]
            self.idx = np.where(self.valid, lab, 0).astype(np.int64)
        self.w = np.ones(self.C) if weight is None else np.asarray(weight, dtype=np.float64)
        # signed weights: the magnitudes of the model use |w| (see the module docstring)
        self.signed = bool(np.any(self.w < 0))
        self.w_abs = np.abs(self.w) if self.signed else self.w
        self.step = max(1, _BLOCK_ELEMENTS // max(self.C, 1))

    def ranges(self):
        return ((s, min(s + self.step, self.P)) for s in range(0, self.P, self.step))

    def _q(self, s, e):
        if self.kw["soft_label"]:
            q = np.asarray(self.q[s:e], dtype=np.float64)
        else:
            q = np.zeros((e - s, self.C))
            np.put_along_axis(q, self.idx[s:e, None], 1.0, axis=-1)
        eps = self.kw["label_smoothing"]
        if eps:
            q = (1 - eps) * q + eps / self.C
        return q

    def block(self, s, e):
        """(x as float64, r, sample weights) of positions s..e-1; with signed weights r holds
        the magnitudes |r| (|w|-weighted), the sample weights keep their sign."""
        xb = np.asarray(self.x[s:e], dtype=np.float64)
        q = self._q(s, e)
        sw = np.where(self.valid[s:e], (q * self.w).sum(-1), 0.0)
        if not self.signed:
            return xb, q * sw[..., None], sw
        S = np.where(self.valid[s:e], (q * self.w_abs).sum(-1), 0.0)
        return xb, q * S[..., None], sw

    def magnitudes(self, s, e):
        """(S_j = sum_c |w_c| q_c, the target distribution q) of positions s..e-1 (signed
        weights only)."""
        q = self._q(s, e)
        return np.where(self.valid[s:e], (q * self.w_abs).sum(-1), 0.0), q

    def sample_weights(self):
        """The sample weights of every position (shape of the positions)."""
        sw = np.empty(self.P)
        for s, e in self.ranges():
            sw[s:e] = self.block(s, e)[2]
        return sw.reshape(self.pos_shape)

    def denominator(self, u: float) -> tuple[float, float]:
        """(D, the rounding error of D): D = sum_j sw_j, the mean's denominator. The error is
        u k_N sum_j |sw_j| (plus u k_C sum_j (S_j - |sw_j|) with signed weights), so that
        error / |D| is u k_N exactly, bit for bit, when no weight is negative."""
        sw = self.sample_weights()
        D = float(np.sum(sw))
        kN = _log2(max(self.P, 1))
        if not self.signed:
            return D, u * kN * abs(D)
        excess = 0.0
        for s, e in self.ranges():
            S, _ = self.magnitudes(s, e)
            excess += float(np.sum(S - np.abs(sw.reshape(-1)[s:e])))
        return D, u * (kN * float(np.sum(np.abs(sw))) + _log2(self.C) * excess)


def _softmax_stats(xm):
    """t = x - max (a non-finite max taken as 0) and p = softmax(x), of rows of logits (float64)."""
    m = np.max(np.where(np.isfinite(xm), xm, -np.inf), axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    t = xm - m
    e = np.exp(t)
    return t, e / e.sum(-1, keepdims=True)


def _log2(n):
    return np.log2(max(n, 1)) + 2.0


def forward_bound(x, label, weight, kw, dtype, per_position_loss):
    """Bound for reduction kw['reduction'], same shape as the result; `per_position_loss` is the
    reference's `none` output (float64). Computed over blocks of rows."""
    u, tiny = fmt(dtype).unit_roundoff, fmt(dtype).tiny_ulp
    rows = _Rows(x, label, weight, kw)
    kC = _log2(rows.C)
    R, T, sw = np.empty(rows.P), np.empty(rows.P), np.empty(rows.P)
    H = np.zeros(rows.P) if rows.signed else None  # |w|-weighted loss magnitudes, signed weights
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        for s, e in rows.ranges():
            xm, r, sw[s:e] = rows.block(s, e)
            R[s:e] = r.sum(-1)
            if kw["use_softmax"]:
                t, p = _softmax_stats(xm)
                T[s:e] = np.where(p > 0, p * np.abs(t), 0.0).sum(-1)
                if H is not None:
                    H[s:e] = (r * np.abs(np.log(p))).sum(-1)
            elif H is not None:
                H[s:e] = (r * np.abs(np.log(xm))).sum(-1)
    R, T, sw = (a.reshape(rows.pos_shape) for a in (R, T, sw))
    lj = np.abs(np.nan_to_num(np.asarray(per_position_loss, dtype=np.float64), nan=0.0, posinf=0.0))
    if H is not None:  # a convention's own per-class terms can cancel: their magnitudes count
        lj = np.maximum(lj, np.nan_to_num(H.reshape(rows.pos_shape), nan=0.0, posinf=0.0))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if kw["use_softmax"]:
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
    D, D_err = rows.denominator(u)
    if not D:
        return np.float64(np.inf)
    mean = float(np.sum(lj)) / D
    # D's relative error, u k_N without negative weights (D_err / |D| is then exactly that)
    D_rel = D_err / abs(D) if rows.signed else u * kN
    return np.float64(SAFETY * (total / abs(D) + D_rel * abs(mean)) + tiny)


class GradBound:
    """Per-element bound of the gradient with respect to the input, for any block of positions:
    `block(s, e)` gives positions s..e-1 as (e - s, C) rows, class axis last (the layout of
    `reference.cross_entropy_grad_blocks` and `compare.compare_blocks`)."""

    def __init__(self, x, label, weight, kw, dtype, grad_output=None):
        self.u, self.tiny = fmt(dtype).unit_roundoff, fmt(dtype).tiny_ulp
        self.rows = rows = _Rows(x, label, weight, kw)
        self.kw = kw
        self.kC, self.kN = _log2(rows.C), _log2(max(rows.P, 1))
        self.D_excess = 0.0  # signed weights: D's relative error beyond u k_N
        red = kw["reduction"]
        if red == "none":
            s_all = (np.ones(rows.P) if grad_output is None
                     else np.asarray(grad_output, np.float64).reshape(rows.P))
        elif red == "mean":
            D, D_err = rows.denominator(self.u)
            s_all = np.full(rows.P, 1.0 / D if D else 0.0)
            if rows.signed and D:
                self.D_excess = max(D_err / abs(D) - self.u * self.kN, 0.0)
        else:
            s_all = np.ones(rows.P)
        self.s_all = np.abs(s_all)

    def block(self, a: int, b: int) -> np.ndarray:
        u, kC, kN = self.u, self.kC, self.kN
        rows = self.rows
        xm, r, sw = rows.block(a, b)
        s = self.s_all[a:b, None]
        R = r.sum(-1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            if self.kw["use_softmax"]:
                t, p = _softmax_stats(xm)
                at = np.where(p > 0, np.abs(t), 0.0)
                T = (p * at).sum(-1, keepdims=True)
                E = u * s * (R * p * (at + T + kC + 2) + r + kN * np.abs(p * R - r))
                if rows.signed:
                    # the rounding of the cancelling sample weight and of the mean's D, relative
                    # to the magnitudes (r holds |w|-weighted coefficients)
                    # (|p R - r| = S |p sum(q) - q|, the gradient's magnitude per unit of
                    # sample weight; sw_j's error is u k_C S_j, of which u k_C |sw_j| is new)
                    S, _ = rows.magnitudes(a, b)
                    share = np.where(S > 0, (S - np.abs(sw)) / np.where(S > 0, S, 1.0), 0.0)
                    E = E + u * s * kC * share[:, None] * np.abs(p * R - r)
                    E = E + s * self.D_excess * np.abs(p * R - r)
            else:
                E = u * s * (3 + kN) * np.where(r > 0, r / xm, 0.0)
                if rows.signed:
                    E = E + s * self.D_excess * np.where(r > 0, r / xm, 0.0)
        return np.nan_to_num(SAFETY * E, nan=np.inf) + self.tiny


def grad_bound_blocks(x, label, weight, kw, dtype, grad_output=None):
    """`GradBound` over consecutive blocks of rows, as `(s, e, block)`."""
    gb = GradBound(x, label, weight, kw, dtype, grad_output)
    for a, b in gb.rows.ranges():
        yield a, b, gb.block(a, b)


def grad_bound(x, label, weight, kw, dtype, grad_output=None):
    """Per-element bound for the gradient with respect to the input (the shape of the input)."""
    gb = GradBound(x, label, weight, kw, dtype, grad_output)
    rows = gb.rows
    out = np.empty((rows.P, rows.C))
    for s, e in rows.ranges():
        out[s:e] = gb.block(s, e)
    return np.moveaxis(out.reshape(rows.pos_shape + (rows.C,)), -1, kw["axis"])


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
