"""The reference side of a case: its canonical (and convention) values and their error bounds.

`CaseReference` computes them lazily from a case's inputs and caches them per check and convention
set. A value is held whole (a numpy array), except the gradient of a large case
(`inputs.is_large`): a `StreamedGrad`, computed block by block when a result is compared, so that
no process ever holds a float64 copy of it. `compare` and `same` take either kind, so nothing
else needs to tell them apart.

`unbuildable` is the reference's check of a grid before a run: a case the harness itself cannot
make sense of is the case file's error, never a framework's verdict.
"""

from __future__ import annotations

import math

import numpy as np

import reference
from harness import bounds
from harness.cases import Case
from harness.compare import Comparison, compare_blocks
from harness.compare import compare as compare_whole
from harness.inputs import CaseData, generate_inputs, is_large


class StreamedGrad:
    """The reference gradient of a large case and its bound, computed block by block when a result
    is compared (`compare`), never whole."""

    def __init__(self, ref: "CaseReference", conventions: tuple[str, ...]):
        self.ref, self.conventions = ref, conventions
        self.shape = tuple(ref.data.x.shape)

    def blocks_of_values(self):
        """The reference gradient's blocks `(s, e, block)` (validated when called)."""
        x, label, w = self.ref._args()
        return reference.cross_entropy_grad_blocks(x, label, w, **self.ref.data.ref_kwargs,
                                                   grad_output=self.ref._cotangent(),
                                                   conventions=self.conventions)

    def same_as(self, other: "StreamedGrad") -> bool:
        """Whether two streamed gradients are equal (NaN equal to NaN), block by block."""
        for (s, e, a), (s2, e2, b) in zip(self.blocks_of_values(), other.blocks_of_values()):
            if (s, e) != (s2, e2) or not np.array_equal(a, b, equal_nan=True):
                return False
        return True

    def blocks(self):
        x, label, w = self.ref._args()
        dtype = self.ref.case.params["dtype"]
        limits = bounds.GradBound(x, label, w, self.ref.data.ref_kwargs, dtype,
                                  self.ref._cotangent())
        for s, e, exp_b in self.blocks_of_values():  # the bound of the reference's own blocks
            bound_b = limits.block(s, e)
            if self.conventions:
                bound_b = bounds.convention_grad_bound(bound_b, exp_b, -1, dtype)
            yield s, e, exp_b, bound_b

    def compare(self, got, dtype_got: str) -> Comparison:
        got = np.asarray(got)
        dtype = self.ref.case.params["dtype"]
        if got.shape != self.shape:
            return Comparison(False, "shape", list(self.shape), list(got.shape), dtype, dtype_got,
                              n=int(np.prod(self.shape)))
        return compare_blocks(got, self.blocks(), self.ref.data.ref_kwargs["axis"], dtype,
                              dtype_got)


class CaseReference:
    """Reference values and bounds of one case, computed lazily and cached. The gradient of a
    large case is a `StreamedGrad` (its own bound), compared block by block."""

    def __init__(self, case: Case, data: CaseData):
        self.case, self.data = case, data
        self.large = is_large(case)
        self._cache: dict = {}

    def _args(self):
        d = self.data
        w = None if d.weight is None else d.weight.astype(np.float64)
        return d.x, d.label, w  # the reference and the bounds widen x block by block

    def _cotangent(self):
        g = self.data.grad_output
        return None if g is None else g.astype(np.float64)

    def value(self, check: str, conventions: tuple[str, ...] = ()):
        if check == "none" and self.data.ref_kwargs["reduction"] == "none":
            check = "forward"  # the same computation: do it once
        key = (check, conventions)
        if key not in self._cache and conventions and check in ("forward", "grad") \
                and not self._may_differ(check, conventions):
            self._cache[key] = self.value(check)  # certainly the canonical value: not recomputed
        if key not in self._cache:
            x, label, w = self._args()
            try:
                if check in ("forward", "none"):  # "none": per-position losses, for the bounds
                    kw = dict(self.data.ref_kwargs)
                    if check == "none":
                        kw["reduction"] = "none"
                    out = reference.cross_entropy(x, label, w, **kw, conventions=conventions)
                elif self.large:
                    out = StreamedGrad(self, conventions)
                    out.blocks_of_values()  # validates now (the blocks come when compared)
                else:
                    out = reference.cross_entropy_grad(x, label, w, **self.data.ref_kwargs,
                                                       grad_output=self._cotangent(),
                                                       conventions=conventions)
            except Exception as e:  # noqa: BLE001 - judged per result, never fatal to the run
                out = e
            self._cache[key] = out
        out = self._cache[key]
        if isinstance(out, Exception):
            raise out
        return out

    def _may_differ(self, check: str, conventions: tuple[str, ...]) -> bool:
        """reference.conventions.may_differ for this case (from its arguments alone)."""
        from reference.conventions import may_differ

        try:
            conv = reference.resolve_conventions(conventions)
        except ValueError:
            return True  # computed, and its error judged as before
        kw = self.data.ref_kwargs
        return may_differ(conv, check=check, reduction=kw["reduction"],
                          soft_label=kw["soft_label"], use_softmax=kw["use_softmax"],
                          label_smoothing=kw["label_smoothing"], ignore_index=kw["ignore_index"],
                          axis=kw["axis"], shape=tuple(self.data.x.shape),
                          weighted=self.data.weight is not None)

    def dtype(self, conventions: tuple[str, ...] = ()) -> str:
        """The dtype the computation is in: the case's, or float32 under a convention that
        computes in float32."""
        if conventions and reference.resolve_conventions(conventions).float32_computation:
            return "float32"
        return self.case.params["dtype"]

    def result_dtype(self, check: str, conventions: tuple[str, ...] = ()) -> str:
        """The dtype a result should come in: a loss computed in float32 is float32; the
        gradient is the input's (its values are those of the float32 computation)."""
        return self.dtype(conventions) if check == "forward" else self.case.params["dtype"]

    def bound(self, check: str, conventions: tuple[str, ...] = ()):
        """The error bound of `value(check, conventions)` (see harness.bounds)."""
        key = ("bound", check, conventions)
        if key not in self._cache:
            x, label, w = self._args()
            kw, dtype = self.data.ref_kwargs, self.dtype(conventions)
            if conventions:  # an API's own defaults: the bound of the call they make
                from reference.cross_entropy import call_defaults

                x, label, w, reduction, axis = call_defaults(
                    conventions, x, label, w, kw["reduction"], kw["axis"], kw["soft_label"])
                kw = {**kw, "reduction": reduction, "axis": axis}
            if check == "forward":
                per_pos = self.value("none", conventions)
                canonical = np.shape(self.value("none"))
                if np.shape(per_pos) != canonical and np.size(per_pos) == int(np.prod(canonical)):
                    per_pos = np.reshape(per_pos, canonical)
                b = bounds.forward_bound(x, label, w, kw, dtype, per_pos)
            elif self.large:
                self._cache[key] = None  # StreamedGrad computes it with the values
                return None
            else:
                b = bounds.grad_bound(x, label, w, kw, dtype, self._cotangent())
                if conventions:
                    b = bounds.convention_grad_bound(b, self.value(check, conventions),
                                                     kw["axis"], dtype)
            target = np.shape(self.value(check, conventions))
            if np.shape(b) != target and np.size(b) == int(np.prod(target)):
                b = np.reshape(b, target)  # a convention that keeps or drops a size-1 axis
            self._cache[key] = b
        return self._cache[key]

    def warm(self) -> None:
        """Compute the canonical values and bounds now (overlaps with the workers)."""
        if self.case.invalid:
            return
        for check in self.case.checks:
            try:
                self.value(check)
                self.bound(check)
            except Exception:  # noqa: BLE001 - cached; judge() reports it on each result
                pass


BUILD_CHECK_ELEMENTS = 1 << 22  # cases checked before a run; larger ones are left to the run


def unbuildable(cases: list[Case]) -> list[tuple[Case, str]]:
    """The cases the harness itself cannot make sense of: a valid case the reference rejects, or
    an invalid one it computes. Such a contradiction is the case file's, never a framework's
    verdict (`error`, `bad-input-accepted`), so `run` refuses the grid before any work. Large
    cases are left to the run (their inputs are gigabytes)."""
    out = []
    for c in cases:
        shape = c.params["shape"]
        if is_large(c) or math.prod(shape) + max(shape) > BUILD_CHECK_ELEMENTS:
            continue
        d = generate_inputs(c.params, c.id)
        w = None if d.weight is None else d.weight.astype(np.float64)
        try:
            reference.cross_entropy(d.x, d.label, w, **d.ref_kwargs)
        except ValueError as e:
            if not c.invalid:
                out.append((c, f"the reference rejects this valid case: {e}"))
            continue
        if c.invalid:
            out.append((c, f"marked invalid: {c.invalid}, but the reference computes it (its "
                           "canonical answer is not an error)"))
    return out


def is_streamed(value) -> bool:
    """Whether a reference value is computed block by block (a large case's gradient)."""
    return isinstance(value, StreamedGrad)


def compare(got, expected, bound, dtype: str, dtype_got: str) -> Comparison:
    """A result against a reference value of either kind (a `StreamedGrad` carries its bound)."""
    if isinstance(expected, StreamedGrad):
        return expected.compare(got, dtype_got)
    return compare_whole(got, expected, bound, dtype, dtype_got)


def same(a, b) -> bool:
    """Whether two reference values are equal, NaN equal to NaN (streamed ones block by block;
    a streamed value never equals a whole one)."""
    if a is b:  # a convention that certainly leaves the value as it is (CaseReference.value)
        return True
    if isinstance(a, StreamedGrad) or isinstance(b, StreamedGrad):
        return isinstance(a, StreamedGrad) and isinstance(b, StreamedGrad) and a.same_as(b)
    return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)
