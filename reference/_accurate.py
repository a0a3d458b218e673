"""Error-free transformations, double-double helpers and accurate sums for the float64 reference.

Job: the arithmetic that lets `reference.cross_entropy` stay within a few float64 ULPs of the exact
loss, including losses as small as 1e-300 (where `log(sum(exp(x - max)))` has already lost every
digit) and logits as large as 1e4 (where the rounding of `x - max` alone costs hundreds of ULPs).

- `two_sum`, `fast_two_sum`, `two_prod`: error-free transformations (Knuth, Dekker, Veltkamp):
  `s + e == a + b` and `p + e == a * b` exactly.
- `dd_add`, `dd_mul`, `dd_div`: double-double arithmetic on `(hi, lo)` pairs of arrays, for the
  per-position combination of the loss pieces (cheap: one value per position, not per element).
- `accurate_sum`: a vectorised pairwise two-sum tree; result within about one rounding of the exact
  sum of a float64 array (the rounding errors of every addition are kept and added back).
- `row_sums`: per-row sums of an (n, C) block as double-doubles by error-free extraction (Rump,
  Ogita, Oishi): numpy's pairwise sum alone can be off by a few ULPs, too much here.
- `subtract_row_max`, `exp_tail_sums`, `lazy_tail_sums`, `log1p_dd`: the pieces of an accurate
  per-row logsumexp `log S = log(1 + T)` with `T = sum_{c != argmax} exp(x_c - m)`, the shift
  `x_c - m` carried exactly as `t_c + lo_c` and `exp(t + lo) ~ exp(t) (1 + lo)`; the lazy variant
  computes `lo` only in rows where a bound says it can matter.

Constraints: numpy only, float64 throughout. Non-finite values propagate like plain float
arithmetic: an error term that is not finite (because the value itself overflowed or is inf/NaN)
is replaced by 0, so `(inf, 0)` stays inf instead of turning into NaN. The per-element kernels work
in place on caller-owned buffers and allocate only per-row vectors.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "accurate_sum",
    "dd_add",
    "dd_div",
    "dd_mul",
    "exp_tail_sums",
    "fast_two_sum",
    "lazy_tail_sums",
    "log1p_dd",
    "row_dot",
    "row_max",
    "row_sums",
    "shift_error",
    "subtract_row_max",
    "two_prod",
    "two_sum",
]

_SPLITTER = 134217729.0  # 2**27 + 1, Veltkamp's constant for splitting a float64 in two halves
# Above this share of elements needing the exact fallback, a whole-block TwoSum is cheaper than
# gathering and scattering them one by one.
_FIXUP_SHARE = 16


def _drop_nonfinite(err: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(err), err, 0.0)


# The public functions below set numpy's error state once and call these, which assume it is set
# (entering `np.errstate` costs more than the arithmetic on the per-row vectors of a block).
_QUIET = {"invalid": "ignore", "over": "ignore"}


def _two_sum(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    s = a + b
    bp = s - a
    ap = s - bp
    e = (a - ap) + (b - bp)
    return s, np.where(np.isfinite(s), e, 0.0)


def _fast_two_sum(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    s = a + b
    e = b - (s - a)
    return s, np.where(np.isfinite(s), e, 0.0)


def _two_prod(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, _drop_nonfinite(e)


def _dd_add(ah, al, bh, bl):
    s, e = _two_sum(ah, bh)
    t, f = _two_sum(al, bl)
    s, e = _fast_two_sum(s, e + t)
    return _fast_two_sum(s, e + f)


def _dd_mul(ah, al, bh, bl):
    p, e = _two_prod(ah, bh)
    e = e + (np.asarray(ah) * bl + np.asarray(al) * bh)
    # an infinite product has no error term (its cross terms may be 0 * inf)
    return _fast_two_sum(p, np.where(np.isfinite(p), e, 0.0))


def _dd_div(ah, al, bh, bl):
    q1 = np.asarray(ah, dtype=np.float64) / bh
    ph, pl = _dd_mul(q1, 0.0, bh, bl)
    rh, rl = _dd_add(ah, al, -ph, -pl)
    q2 = rh / bh
    return _fast_two_sum(q1, _drop_nonfinite(q2))


def two_sum(a, b):
    """Knuth's TwoSum: `s = fl(a + b)` and `e` with `s + e == a + b` exactly (any order of size).

    Example:
        >>> s, e = two_sum(np.float64(1.0), np.float64(1e-20))
        >>> float(s), float(e)
        (1.0, 1e-20)
    """
    with np.errstate(**_QUIET):
        return _two_sum(a, b)


def fast_two_sum(a, b):
    """Dekker's Fast2Sum, exact when `|a| >= |b|` (or `a == 0`): `s + e == a + b`.

    Example:
        >>> s, e = fast_two_sum(np.float64(1.0), np.float64(2.0**-60))
        >>> float(s), float(e) == 2.0**-60
        (1.0, True)
    """
    with np.errstate(**_QUIET):
        return _fast_two_sum(a, b)


def _split(a: np.ndarray):
    c = _SPLITTER * a
    hi = c - (c - a)
    return hi, a - hi


def two_prod(a, b):
    """Dekker's TwoProduct: `p = fl(a * b)` and `e` with `p + e == a * b` exactly.

    Exact unless `a * b` underflows or `|a|`, `|b|` exceed about 1e300 (the split overflows);
    there `e` falls back to 0, i.e. an ordinary rounded product.

    Example:
        >>> p, e = two_prod(np.float64(1.0 + 2.0**-30), np.float64(1.0 + 2.0**-30))
        >>> float(e) == 2.0**-60
        True
    """
    with np.errstate(**_QUIET):
        return _two_prod(a, b)


def dd_add(ah, al, bh, bl):
    """Double-double sum `(ah + al) + (bh + bl)`, returned normalised as `(hi, lo)`.

    Example:
        >>> hi, lo = dd_add(1.0, 2.0**-60, 1.0, 2.0**-60)
        >>> float(hi), float(lo) == 2.0**-59
        (2.0, True)
    """
    with np.errstate(**_QUIET):
        return _dd_add(ah, al, bh, bl)


def dd_mul(ah, al, bh, bl):
    """Double-double product `(ah + al) * (bh + bl)`, returned normalised as `(hi, lo)`.

    Example:
        >>> hi, lo = dd_mul(3.0, 0.0, 1.0 / 3.0, 0.0)  # 3 * fl(1/3) = 1 - 2**-54 exactly
        >>> float(hi), float(lo) == -(2.0**-54)
        (1.0, True)
    """
    with np.errstate(**_QUIET):
        return _dd_mul(ah, al, bh, bl)


def dd_div(ah, al, bh, bl):
    """Double-double quotient `(ah + al) / (bh + bl)`, returned normalised as `(hi, lo)`.

    Example:
        >>> hi, lo = dd_div(1.0, 0.0, 3.0, 0.0)
        >>> float(hi) == 1.0 / 3.0
        True
    """
    with np.errstate(divide="ignore", **_QUIET):
        return _dd_div(ah, al, bh, bl)


def accurate_sum(values):
    """Sum a float64 array (all of it) as a double-double `(hi, lo)`; `hi` is the rounded sum.

    A pairwise tree of TwoSums whose rounding errors are kept and summed on the side: the result
    is within about one rounding of the exact sum unless the terms cancel by more than ~1e15.

    Example:
        >>> hi, lo = accurate_sum(np.array([1.0, 1e-16, 1e-16, -1.0]))
        >>> float(hi)
        2e-16
    """
    a = np.asarray(values, dtype=np.float64).ravel()
    if a.size == 0:
        return np.float64(0.0), np.float64(0.0)
    errors = []
    while a.size > 1:
        if a.size % 2:
            a = np.append(a, 0.0)
        s, e = two_sum(a[0::2], a[1::2])
        errors.append(e)
        a = s
    with np.errstate(invalid="ignore", over="ignore"):
        rest = np.sum(np.concatenate(errors)) if errors else np.float64(0.0)
        return two_sum(a[0], rest)


def row_sums(a: np.ndarray, scratch: np.ndarray, rough=None, same_sign: bool = True):
    """Row sums of an (n, C) array as double-doubles `(hi, lo)`, accurate to ~1e-30 relative.

    Rump-Ogita-Oishi extraction: with `sigma` a power of two above `(C + 2) max|a_c|`, the high
    parts `(a + sigma) - sigma` are multiples of `2**-53 sigma` and sum exactly in any order; the
    low parts `a - high` are below `2**-53 sigma`, so numpy's pairwise error on their sum is
    negligible. Five passes instead of one. `rough` is an approximate row sum (computed if None);
    it bounds `max|a_c|` when every row has one sign (`same_sign`), otherwise `max|a|` is computed.
    `scratch` (n, C) float64 is overwritten.

    Example:
        >>> a = np.array([[1.0, 1e-16, 1e-16, 1e-16, 1e-16]]); z = np.empty_like(a)
        >>> hi, lo = row_sums(a, z)
        >>> float(hi[0]), float(a.sum(axis=1)[0])  # numpy's pairwise sum drops every 1e-16
        (1.0000000000000004, 1.0)
    """
    n, C = a.shape
    with np.errstate(invalid="ignore", over="ignore"):
        if same_sign:
            if rough is None:
                rough = a.sum(axis=1)
            big = np.abs(rough)
        else:
            big = np.abs(a, out=scratch).max(axis=1) * C
        _, exponent = np.frexp(big * (1.0 + 2.0**-40))
        sigma = np.ldexp(1.0, exponent + int(np.ceil(np.log2(C + 2))))[:, None]
        np.add(a, sigma, out=scratch)
        np.subtract(scratch, sigma, out=scratch)
        high = scratch.sum(axis=1)
        np.subtract(a, scratch, out=scratch)
        low = np.where(np.isfinite(high), scratch.sum(axis=1), 0.0)
    return fast_two_sum(high, low)


def row_max(x: np.ndarray):
    """First argmax `k` of each row of an (n, C) array and its value `m`.

    Example:
        >>> row_max(np.array([[1.0, 3.0, 3.0]]))
        (array([1]), array([3.]))
    """
    k = np.argmax(x, axis=1)
    return k, x[np.arange(x.shape[0]), k]


def subtract_row_max(x: np.ndarray, t: np.ndarray, lo: np.ndarray, scratch: np.ndarray):
    """Shift each row by its maximum, exactly: `t = fl(x - m)` and `lo` with `t + lo == x - m`.

    `x`, `t`, `lo`, `scratch` are C-contiguous float64 arrays of shape (n, C); `t`, `lo` and
    `scratch` are overwritten. Returns `(k, m)` as `row_max`. Fast2Sum (2 operations per element)
    is exact where the operand order is known: everywhere in a row with `m <= 0`, and where
    `x >= -m` in a row with `m > 0`; the elements with `x < -m` get Knuth's TwoSum.
    Where `x` is -inf, `lo` is NaN (and `t` is -inf).

    Example:
        >>> x = np.array([[0.1, -700.3]]); t, lo, z = (np.empty_like(x) for _ in range(3))
        >>> k, m = subtract_row_max(x, t, lo, z)
        >>> float(lo[0, 1]) != 0.0
        True
    """
    k, m = row_max(x)
    mc = m[:, None]
    with np.errstate(invalid="ignore", over="ignore"):
        np.subtract(x, mc, out=t)
        positive = m > 0.0
        if positive.all():
            # Fast2Sum(-m, x): exact where |x| <= m; TwoSum where x < -m.
            np.add(t, mc, out=scratch)
            np.subtract(x, scratch, out=lo)
            wrong = np.flatnonzero(np.less(x, -mc))
            if wrong.size * _FIXUP_SHARE > x.size:
                shift_error(x, m, t, out=lo, scratch=scratch)
            elif wrong.size:
                r, c = np.divmod(wrong, x.shape[1])
                xc, mr = x[r, c], m[r]
                lo[r, c] = -mr - ((xc - mr) - xc)
        elif not positive.any():
            # x <= m <= 0, so |x| >= |m| everywhere: Fast2Sum(x, -m) is exact.
            np.subtract(t, x, out=scratch)
            np.subtract(-mc, scratch, out=lo)
        else:
            shift_error(x, m, t, out=lo, scratch=scratch)
    return k, m


def shift_error(x, m, t, out=None, scratch=None) -> np.ndarray:
    """Knuth's TwoSum error of `t = fl(x - m)` (row-broadcast `m`): `(x - m) - t`, exactly.

    Example:
        >>> x, m = np.array([[0.1, -700.3]]), np.array([0.1])
        >>> err = shift_error(x, m, x - m[:, None])
        >>> bool(err[0, 0] == 0.0 and err[0, 1] != 0.0)
        True
    """
    out = np.empty_like(t) if out is None else out
    scratch = np.empty_like(t) if scratch is None else scratch
    mc = m[:, None]
    with np.errstate(invalid="ignore", over="ignore"):
        np.subtract(t, x, out=scratch)  # b' = s - a
        np.subtract(t, scratch, out=out)  # a' = s - b'
        np.subtract(x, out, out=out)  # a - a'
        np.subtract(-mc, scratch, out=scratch)  # b - b'
        np.add(out, scratch, out=out)
    return out


_VECDOT = getattr(np, "vecdot", None)  # numpy >= 2.0


def row_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise dot products of two (n, C) arrays (BLAS; for correction terms and bounds only).

    `np.vecdot` where numpy has it: the same dot kernel per row as the batched
    `np.matmul(a[:, None, :], b[:, :, None])` (the same bits), with less overhead per call;
    `np.einsum("ij,ij->i")` would be slower here and rounds differently.

    Example:
        >>> row_dot(np.ones((2, 3)), np.arange(6.0).reshape(2, 3)).tolist()
        [3.0, 12.0]
    """
    if _VECDOT is not None:
        return _VECDOT(a, b)
    return np.matmul(a[:, None, :], b[:, :, None]).reshape(a.shape[0])


def exp_tail_sums(t: np.ndarray, lo: np.ndarray, k: np.ndarray):
    """Turn `t` into `exp(t)` with 0 at `k`; return `(sum_c e_c, sum_c e_c lo_c)` per row.

    `T = sum_{c != k} exp(t_c + lo_c)` is the sum of the two: `exp(t + lo) = exp(t) (1 + lo)` up
    to `lo**2 / 2`, and `|lo| <= 2**-53 |t| < 1e-13` wherever `exp(t)` does not underflow. The
    first sum is numpy's pairwise sum; the second is a correction that needs only a few digits.
    NaN in the correction means a -inf logit (see `subtract_row_max`).

    Example:
        >>> t = np.array([[0.0, -700.0]]); lo = np.zeros_like(t)
        >>> main, correction = exp_tail_sums(t, lo, np.array([0]))
        >>> bool(main[0] == np.exp(-700.0)), float(correction[0])
        (True, 0.0)
    """
    np.exp(t, out=t)
    t[np.arange(t.shape[0]), k] = 0.0
    with np.errstate(invalid="ignore"):
        return t.sum(axis=1), row_dot(t, lo)


def lazy_tail_sums(x, k, m, t, e, offset, share=0.5):
    """`T = sum_{c != k} exp(x_c - m)` per row as `(sum, correction)`, the shift error on demand.

    Fills `t = fl(x - m)` and `e = exp(t)` (0 at `k`), both (n, C) buffers. The error `lo` of the
    shift is at most `2**-53 |t_c|` per element, so leaving it out moves `log(1 + T)` by at most
    `2**-53 sum_c e_c |t_c| / (1 + T)`; one dot product bounds that. Only rows where the bound
    exceeds `share * 2**-53 * (offset + log(1 + T))` (the size of the loss it feeds, `offset`
    being `m - x_y >= 0`) get the exact shift error and their correction `sum_c e_c lo_c`;
    elsewhere the correction is 0. With logits spread over a few units this skips two thirds of
    the work of `subtract_row_max`.
    NaN in the correction means a -inf logit.

    Example:
        >>> x = np.array([[0.0, -700.0], [0.1, -700.3]]); t, e = np.empty_like(x), np.empty_like(x)
        >>> k, m = row_max(x)
        >>> tail, corr = lazy_tail_sums(x, k, m, t, e, offset=np.zeros(2))
        >>> float(corr[0]), bool(corr[1] != 0.0)
        (0.0, True)
    """
    n = x.shape[0]
    with np.errstate(invalid="ignore", over="ignore"):
        np.subtract(x, m[:, None], out=t)
        np.exp(t, out=e)
        e[np.arange(n), k] = 0.0
        tail = e.sum(axis=1)
        spread = -row_dot(e, t)  # sum_c e_c |t_c|, NaN with a -inf logit
        correction = np.zeros(n)
        exact = spread <= share * (1.0 + tail) * (offset + np.log1p(tail))
        rows = np.flatnonzero(~exact)
        if rows.size == n:
            correction = row_dot(e, shift_error(x, m, t))
        elif rows.size:
            lo = shift_error(x[rows], m[rows], t[rows])
            correction[rows] = row_dot(e[rows], lo)
    return tail, correction


def log1p_dd(th, tl):
    """`log(1 + (th + tl))` as `(hi, lo)`: `log1p(th)` plus the first-order effect of `tl`.

    Example:
        >>> hi, lo = log1p_dd(np.float64(1e-300), np.float64(0.0))
        >>> float(hi)
        1e-300
    """
    th = np.asarray(th, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return fast_two_sum(np.log1p(th), np.asarray(tl) / (1.0 + th))
