"""The comparison engine: one structured result that the CLI, pytest and the reports all render.

Order of checks (as numpy.testing): shape, then dtype, then NaN/inf positions, then values against
a per-element bound (see harness.bounds). Errors are measured in absolute terms, relative terms and
ULPs of the case dtype at the reference value.

>>> c = compare(np.array([1.0, 2.0], np.float32), np.array([1.0, 2.0]), np.array([1e-7, 1e-7]),
...             "float32", "float32")
>>> c.ok, c.max_ulp
(True, 0.0)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from harness.dtypes import ulp, ulp_distance


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
        """One line: what failed, where, by how much, against which bound."""
        text = self._summary()
        if self.reason not in ("", "dtype") and self.dtype_got != self.dtype_expected:
            text += f"; result dtype {self.dtype_got}, not {self.dtype_expected}"
        return text

    def _summary(self) -> str:
        if self.reason == "shape":
            return f"shape {self.shape_got} != expected {self.shape_expected}"
        if self.reason == "dtype":
            return f"dtype {self.dtype_got} != expected {self.dtype_expected}"
        where = f" at {tuple(self.worst_index)}" if self.worst_index is not None else ""
        got_exp = (f": got {self.worst_got!r}, expected {self.worst_expected!r}"
                   if self.worst_got is not None else "")
        if self.reason == "nonfinite":
            return f"NaN/inf pattern differs in {self.n_bad}/{self.n} elements{where}{got_exp}"
        head = "ok" if self.ok else f"{self.n_bad}/{self.n} elements beyond the bound{where}{got_exp}"
        return (f"{head}; max error {self.max_ulp:.3g} ULP (abs {self.max_abs:.3g}, "
                f"rel {self.max_rel:.3g}); bound {self.bound:.3g} abs = {self.bound_ulp:.3g} ULP")


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
    got = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    c = Comparison(False, "", list(expected.shape), list(got.shape), dtype_expected, dtype_got,
                   n=int(expected.size))
    if got.shape != expected.shape:
        c.reason = "shape"
        return c
    bound = np.broadcast_to(np.asarray(bound, dtype=np.float64), expected.shape)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        abs_err = np.abs(got - expected)
        rel_err = abs_err / np.abs(expected)
    same_nonfinite = (np.isnan(got) & np.isnan(expected)) | (
        np.isinf(got) & np.isinf(expected) & (np.sign(got) == np.sign(expected)))
    finite_both = np.isfinite(got) & np.isfinite(expected)
    pattern_bad = ~finite_both & ~same_nonfinite
    ulps = np.where(finite_both, ulp_distance(got, expected, dtype_expected), 0.0)
    abs_f = np.where(finite_both, abs_err, 0.0)
    rel_f = np.where(finite_both & (expected != 0), rel_err, np.where(finite_both & (abs_f > 0),
                                                                        np.inf, 0.0))
    if expected.size:
        c.max_abs, c.max_ulp = float(abs_f.max()), float(ulps.max())
        c.max_rel = float(rel_f.max())
    if np.any(pattern_bad):
        c.reason, c.n_bad = "nonfinite", int(pattern_bad.sum())
        i = int(np.argmax(pattern_bad.reshape(-1)))
    else:
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            ratio = np.where(finite_both, abs_f / bound, 0.0)
        bad = ratio > 1.0
        c.max_ratio = float(ratio.max()) if expected.size else 0.0
        c.n_bad = int(bad.sum())
        c.ok = c.n_bad == 0
        c.reason = "" if c.ok else "values"
        i = int(np.argmax(ratio.reshape(-1))) if expected.size else None
    if dtype_got != dtype_expected:
        c.notes.append(f"result dtype is {dtype_got}, not {dtype_expected}")
        if c.ok:
            c.ok, c.reason = False, "dtype"
    if i is not None and expected.size:
        c.worst_index = _index(i, expected.shape)
        c.worst_got = float(got.reshape(-1)[i])
        c.worst_expected = float(expected.reshape(-1)[i])
        c.bound = float(bound.reshape(-1)[i])
        c.bound_ulp = float(c.bound / ulp(c.worst_expected, dtype_expected)) if np.isfinite(
            c.worst_expected) else float("inf")
        c.worst_ulp = float(ulps.reshape(-1)[i])
    return c
