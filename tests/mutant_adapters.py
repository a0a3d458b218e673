"""Adapters with planted numerical bugs: the harness must catch each one. They wrap the numpy
adapter (the only framework tests of the harness may use), so every other path is the real one."""

import numpy as np

from harness.adapters.base import Output
from harness.adapters.numpy_adapter import NumpyAdapter


class PlantedErrorAdapter(NumpyAdapter):
    """Every float32 result off by 1e-5 relative (about 84 ULP): a real numeric regression."""

    name = "planted-error"

    @staticmethod
    def _plant(out, params):
        if params["dtype"] != "float32":
            return out
        values = out.values if isinstance(out, Output) else np.asarray(out)
        planted = (values * np.float32(1 + 1e-5)).astype(values.dtype)
        return Output(planted, out.dtype) if isinstance(out, Output) else planted

    def forward(self, inputs, params):
        return self._plant(super().forward(inputs, params), params)

    def gradient(self, inputs, params):
        return self._plant(super().gradient(inputs, params), params)


# -- declarations that must not hide a bug (harness.consistency) -------------------------------------
from harness.adapters.base import DocumentedConvention  # noqa: E402

_MCI = "mean-counts-ignored"
_DOC = "https://example.invalid/mutant-docs"


def _ignored_share(inputs, params):
    """positions / non-ignored positions, for hard labels without weights (1 elsewhere)."""
    lab = inputs.label
    if params["label_kind"] == "soft" or inputs.weight is not None:
        return 1.0
    if lab.ndim == len(params["shape"]):
        lab = np.squeeze(lab, axis=params["axis"])
    valid = int(np.sum(lab != params["ignore_index"]))
    return lab.size / valid if valid else 1.0


class _MeanOverAll(NumpyAdapter):
    """The mean divided by every position, ignored ones included, where `applies` says so: the
    rule `mean-counts-ignored` is, as the reference computes it (hard labels, no weight,
    ignore_index < 0); forward and gradient alike."""

    conventions = (DocumentedConvention(_MCI, _DOC, "mutant", quote="the mean divides by N"),)

    def applies(self, params) -> bool:
        raise NotImplementedError

    def _scaled(self, out, inputs, params):
        if params["reduction"] != "mean" or not self.applies(params):
            return out
        share = _ignored_share(inputs, params)
        return (np.asarray(out) / np.asarray(share, np.asarray(out).dtype)).astype(
            np.asarray(out).dtype)

    def forward(self, inputs, params):
        return self._scaled(super().forward(inputs, params).values, inputs, params)

    def gradient(self, inputs, params):
        return self._scaled(super().gradient(inputs, params).values, inputs, params)


class MeanOverAllAt100(_MeanOverAll):
    """Declares mean-counts-ignored and applies it for ignore_index == -100 only: at -1 the rule
    would change the mean too, and the framework gives the canonical one. The declaration fits
    half the cases the behaviour touches: an inconsistency."""

    name = "mutant-mean-at-100"

    def applies(self, params):
        return params["ignore_index"] == -100


class MeanOverAllConsistent(_MeanOverAll):
    """Declares mean-counts-ignored and follows it wherever it applies: divergent, consistent."""

    name = "mutant-mean-consistent"

    def applies(self, params):
        return params["ignore_index"] < 0


class MeanOverAllWeighted(_MeanOverAll):
    """Declares mean-counts-ignored, but the bug also divides weighted means by every position,
    where the declared rule does not reach (with weights it is canonical): those results are
    mismatches, whatever the declaration."""

    name = "mutant-mean-weighted"

    def applies(self, params):
        return params["ignore_index"] < 0

    def _scaled(self, out, inputs, params):
        if params["reduction"] != "mean" or params["ignore_index"] >= 0:
            return out
        lab = inputs.label
        if params["label_kind"] == "soft":
            return out
        if lab.ndim == len(params["shape"]):
            lab = np.squeeze(lab, axis=params["axis"])
        valid = lab != params["ignore_index"]
        w = np.ones(params["shape"][params["axis"]]) if inputs.weight is None else inputs.weight
        D = float(np.sum(np.where(valid, w[np.where(valid, lab, 0)], 0.0)))
        arr = np.asarray(out)
        return (arr * np.asarray(D / lab.size, arr.dtype)).astype(arr.dtype)


class DeclaresADefect(MeanOverAllConsistent):
    """The same behaviour, declared as a defect: its results are known-defect, not divergent."""

    name = "mutant-declared-defect"
    conventions = (DocumentedConvention(_MCI, _DOC, "mutant", kind="defect",
                                        contradicts="the docs say ignored positions do not count",
                                        upstream="https://example.invalid/issue/1"),)


class DeclaresAnUnknownName(NumpyAdapter):
    """Declares a name the reference does not compute: an error, the adapter is not run."""

    name = "mutant-unknown-name"
    conventions = (DocumentedConvention("no-such-rule", _DOC, "mutant", quote="whatever"),)


# -- declarations whose evidence does not hold (harness.testing.check_adapter) ------------------
class UnshownDeclarationAdapter(NumpyAdapter):
    """Declares a defect its framework does not have: numpy's mean masks ignored positions, so
    the demo case of mean-counts-ignored passes and shows nothing."""

    name = "unshown-declaration"
    conventions = (DocumentedConvention(
        "mean-counts-ignored", "https://example.invalid/numpy", "ignored positions counted",
        kind="defect", contradicts="a planted declaration", demo={"ignore_frac": 0.5}),)


class UndemonstratedDeclarationAdapter(NumpyAdapter):
    """Declares a convention with neither a demo case nor a reason why none can show it."""

    name = "undemonstrated-declaration"
    conventions = (DocumentedConvention(
        "mean-counts-ignored", "https://example.invalid/numpy", "ignored positions counted",
        kind="defect", contradicts="a planted declaration"),)
