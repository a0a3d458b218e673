"""The comparison engine: one structured result that the CLI, pytest and the reports all render.

Order of checks (as numpy.testing): shape, then dtype, then NaN/inf positions, then values against
a per-element bound (see harness.bounds). Errors are measured in absolute terms, relative terms and
ULPs of the case dtype at the reference value.

The expected value of an element whose exact value overflows the case dtype is the correctly
rounded one: infinity of its sign (a float16 sum of 74540 is inf). Where the bound reaches the
overflow threshold, both the finite value within the bound and infinity are accepted. A
comparison that fails on its NaN/inf pattern has `max_ratio` inf: beyond the bound, in every
figure and table.

>>> c = compare(np.array([1.0, 2.0], np.float32), np.array([1.0, 2.0]), np.array([1e-7, 1e-7]),
...             "float32", "float32")
>>> c.ok, c.max_ulp
(True, 0.0)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from harness import render
from harness.dtypes import fmt, ulp, ulp_distance


@dataclass
class Comparison:
    ok: bool
    reason: str  # "" when ok; else "shape", "dtype", "nonfinite" or "values"
    shape_expected: list
    shape_got: list
    dtype_expected: str
    dtype_got: str
    n: int = 0
    n_bad: int = 0
    worst_index: list | None = None
    worst_got: float | None = None
    worst_expected: float | None = None
    max_abs: float = 0.0
    max_rel: float = 0.0
    max_ulp: float = 0.0
    bound: float = 0.0  # the absolute bound at the worst element
    bound_ulp: float = 0.0  # the same bound in ULPs of the dtype at the worst element
    max_ratio: float = 0.0  # max over elements of error / bound: > 1 fails
    worst_ulp: float = 0.0  # the error in ULPs at the worst element (where bound and bound_ulp are)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {k: _plain(v) for k, v in asdict(self).items()}

    def summary(self) -> str:
        """One line: what failed, where, by how much, against which bound (harness.render)."""
        return render.summary(vars(self))


def _plain(v):
    if isinstance(v, (np.floating, float)):
        v = float(v)
        return v if np.isfinite(v) else repr(v)  # JSON has no inf/NaN
    if isinstance(v, np.integer):
        return int(v)
    return v


def _index(flat_i, shape):
    return [int(i) for i in np.unravel_index(flat_i, shape)] if shape else []


def compare(got, expected, bound, dtype_expected: str, dtype_got: str) -> Comparison:
    """Compare a framework result with the float64 reference under a per-element (or scalar) bound."""
    got = np.asarray(got)
    expected = np.asarray(expected, dtype=np.float64)
    c = Comparison(False, "", list(expected.shape), list(got.shape), dtype_expected, dtype_got,
                   n=int(expected.size))
    if got.shape != expected.shape:
        c.reason = "shape"
        return c
    bound = np.broadcast_to(np.asarray(bound, dtype=np.float64), expected.shape)
    acc = _Accumulator(dtype_expected)
    acc.add(0, got.reshape(-1), expected.reshape(-1), bound.reshape(-1))
    return acc.finish(c, dtype_got, lambda i: _index(i, expected.shape))


def compare_blocks(got, blocks, axis: int, dtype_expected: str, dtype_got: str) -> Comparison:
    """`compare` for results too large to widen whole: `blocks` yields `(s, e, expected, bound)`
    for the positions s..e-1 as (e - s, C) rows, class axis last (positions in C order of the
    result without its class axis), covering every position once, in order. `got` (any float
    dtype, e.g. a memory map) is read block by block. The figures equal `compare`'s."""
    got = np.asarray(got)
    moved = np.moveaxis(got, axis, -1)
    c = Comparison(False, "", list(got.shape), list(got.shape), dtype_expected, dtype_got,
                   n=int(got.size))
    rows = moved.reshape(-1, moved.shape[-1]) if moved.ndim else moved.reshape(1, 1)
    acc = _Accumulator(dtype_expected)
    C = rows.shape[-1]
    for s, e, exp_b, bound_b in blocks:
        bound_b = np.broadcast_to(np.asarray(bound_b, dtype=np.float64), exp_b.shape)
        acc.add(s * C, rows[s:e].reshape(-1), np.asarray(exp_b, np.float64).reshape(-1),
                bound_b.reshape(-1))
    ax = axis % got.ndim if got.ndim else 0

    def index(i):
        moved_index = _index(i, moved.shape)
        return moved_index[:ax] + moved_index[-1:] + moved_index[ax:-1]

    return acc.finish(c, dtype_got, index)


class _Accumulator:
    """Running figures of a comparison fed in flat chunks (one chunk for a whole array)."""

    def __init__(self, dtype: str):
        self.dtype = dtype
        self.n = 0
        self.max_abs = self.max_ulp = self.max_rel = self.max_ratio = 0.0
        self.n_pattern = self.n_bad = self.n_overflow = 0
        self.first_pattern = None  # (flat index, got, expected, bound, ulps)
        self.worst = None  # the same at the largest ratio (first occurrence)

    def add(self, offset: int, got, expected, bound) -> None:
        if not expected.size:
            return
        got = np.asarray(got, dtype=np.float64)
        expected = self._rounded(got, expected, bound)
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            abs_err = np.abs(got - expected)
            rel_err = abs_err / np.abs(expected)
        same_nonfinite = (np.isnan(got) & np.isnan(expected)) | (
            np.isinf(got) & np.isinf(expected) & (np.sign(got) == np.sign(expected)))
        finite_both = np.isfinite(got) & np.isfinite(expected)
        pattern_bad = ~finite_both & ~same_nonfinite
        ulps = np.where(finite_both, ulp_distance(got, expected, self.dtype), 0.0)
        abs_f = np.where(finite_both, abs_err, 0.0)
        rel_f = np.where(finite_both & (expected != 0), rel_err,
                         np.where(finite_both & (abs_f > 0), np.inf, 0.0))
        self.n += expected.size
        # all three are >= 0 and never NaN (non-finite pairs count 0), so 0.0 starts them
        self.max_abs = max(self.max_abs, float(abs_f.max()))
        self.max_ulp = max(self.max_ulp, float(ulps.max()))
        self.max_rel = max(self.max_rel, float(rel_f.max()))

        def at(i):
            return (offset + i, float(got[i]), float(expected[i]), float(bound[i]), float(ulps[i]))

        n_pattern = int(pattern_bad.sum())
        if n_pattern and self.first_pattern is None:
            self.first_pattern = at(int(np.argmax(pattern_bad)))
        self.n_pattern += n_pattern
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            ratio = np.where(finite_both, abs_f / bound, 0.0)
        self.n_bad += int((ratio > 1.0).sum())
        i = int(np.argmax(ratio))
        r = float(ratio[i])
        if self.worst is None or r > self.max_ratio or (np.isnan(r) and not np.isnan(self.max_ratio)):
            self.max_ratio, self.worst = r, at(i)

    def _rounded(self, got, expected, bound):
        """`expected` with the values that overflow the dtype replaced by infinity (and, where
        the bound reaches the threshold, by the framework's own infinity)."""
        limit = fmt(self.dtype).overflow
        if not np.isfinite(limit):
            return expected
        with np.errstate(invalid="ignore", over="ignore"):
            a = np.abs(expected)
            reach = np.isfinite(expected) & (a + bound >= limit)
        if not reach.any():
            return expected
        over = reach & (a >= limit)
        inf_ok = reach & np.isinf(got) & (np.sign(got) == np.sign(expected))
        with np.errstate(invalid="ignore", over="ignore"):
            finite_ok = over & np.isfinite(got) & (np.abs(got - expected) <= bound)
        self.n_overflow += int(over.sum())
        out = np.where(over & ~finite_ok, np.copysign(np.inf, expected), expected)
        return np.where(inf_ok, got, out)

    def finish(self, c: Comparison, dtype_got: str, index) -> Comparison:
        c.max_abs, c.max_ulp, c.max_rel = self.max_abs, self.max_ulp, self.max_rel
        worst = None
        if self.n_overflow:
            c.notes.append(f"{self.n_overflow} element{'s' * (self.n_overflow != 1)} overflow "
                           f"{self.dtype}: expected the correctly rounded infinity")
        if self.n_pattern:
            c.reason, c.n_bad = "nonfinite", self.n_pattern
            c.max_ratio = float("inf")  # beyond the bound, whatever the finite elements did
            worst = self.first_pattern
        else:
            c.max_ratio = self.max_ratio
            c.n_bad = self.n_bad
            c.ok = c.n_bad == 0
            c.reason = "" if c.ok else "values"
            worst = self.worst
        if dtype_got != c.dtype_expected:
            c.notes.append(f"result dtype is {dtype_got}, not {c.dtype_expected}")
            if c.ok:
                c.ok, c.reason = False, "dtype"
        if worst is not None:
            i, c.worst_got, c.worst_expected, c.bound, c.worst_ulp = worst
            c.worst_index = index(i)
            with np.errstate(over="ignore"):  # a huge bound at a subnormal: inf ULP, said so
                c.bound_ulp = float(c.bound / ulp(c.worst_expected, c.dtype_expected)) if (
                    np.isfinite(c.worst_expected)) else float("inf")
        return c
