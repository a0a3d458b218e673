"""judge(): every verdict from hand-made worker answers, with the real reference and bounds."""

import numpy as np
import pytest

import reference
from harness import bounds
from harness.verdicts import judge

X = np.array([[1.0, 2.0, 0.5], [0.1, -1.0, 3.0]])
LABEL = np.array([1, 2])
W = np.array([1.0, 2.0, 0.5])


def ref_fn(reduction="mean", soft=False, label=LABEL, weight=None):
    kw = dict(ignore_index=-100, reduction=reduction, soft_label=soft, axis=-1, use_softmax=True,
              label_smoothing=0.0)

    def expected(conv):
        return reference.cross_entropy(X, label, weight, **kw, conventions=conv)

    def bound(conv):
        per = reference.cross_entropy(X, label, weight, **{**kw, "reduction": "none"},
                                      conventions=conv)
        return bounds.forward_bound(X, label, weight, kw, "float32", per)

    return expected, bound


def run(answer, got=None, invalid=None, conventions=(), **kw):
    expected, bound = ref_fn(**kw)
    return judge("case", "fw", "forward", invalid, answer, got, expected, bound, "float32",
                 conventions)


def test_pass_within_the_bound_and_mismatch_beyond_it():
    exact = reference.cross_entropy(X, LABEL)
    v = run({"status": "ok", "dtype": "float32"}, np.float32(exact))
    assert v.verdict == "pass" and v.comparison.max_ulp <= 1
    v = run({"status": "ok", "dtype": "float32"}, np.float32(exact * (1 + 1e-4)))
    assert v.verdict == "mismatch" and "beyond the bound" in v.detail
    assert v.comparison.max_ulp > v.comparison.bound_ulp


def test_divergent_names_the_convention_that_explains_the_result():
    q = np.array([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]])
    alt = reference.cross_entropy(X, q, W, soft_label=True, conventions=("soft-weight-per-class",))
    v = run({"status": "ok", "dtype": "float32"}, np.float32(alt), soft=True, label=q, weight=W,
            conventions=("empty-mean-zero", "soft-weight-per-class"))
    assert (v.verdict, v.convention) == ("divergent", "soft-weight-per-class")
    # a convention the adapter does not declare explains nothing
    v = run({"status": "ok", "dtype": "float32"}, np.float32(alt), soft=True, label=q, weight=W)
    assert v.verdict == "mismatch"


def test_error_behaviour_on_invalid_input():
    v = run({"status": "error", "type": "IndexError", "message": "Target 7 is out of bounds"},
            invalid="label-out-of-range")
    assert (v.verdict, v.error_behaviour) == ("pass", "raises") and "IndexError" in v.detail
    v = run({"status": "ok", "dtype": "float32"}, np.float32(1.5), invalid="label-negative")
    assert (v.verdict, v.error_behaviour) == ("bad-input-accepted", "accepts")
    v = run({"status": "crash", "message": "killed by SIGSEGV"}, invalid="label-negative")
    assert (v.verdict, v.error_behaviour) == ("crash", "crashes")


@pytest.mark.parametrize("answer, verdict", [
    ({"status": "error", "type": "RuntimeError", "message": "boom"}, "error"),
    ({"status": "unsupported", "reason": "no bfloat16"}, "unsupported"),
    ({"status": "crash", "message": "killed by SIGKILL"}, "crash"),
    ({"status": "timeout", "message": "no answer within 5 s"}, "timeout"),
])
def test_non_numeric_outcomes(answer, verdict):
    v = run(answer)
    assert v.verdict == verdict
    assert v.detail and (answer.get("message", "") in v.detail or answer.get("reason") in v.detail)


def test_wrong_shape_or_nan_is_a_mismatch_with_the_reason():
    v = run({"status": "ok", "dtype": "float32"}, np.zeros(2, np.float32))
    assert v.verdict == "mismatch" and v.comparison.reason == "shape"
    v = run({"status": "ok", "dtype": "float32"}, np.float32(np.nan))
    assert v.verdict == "mismatch" and v.comparison.reason == "nonfinite"


def test_the_bound_scales_with_the_dtype_and_covers_float32_rounding():
    kw = dict(ignore_index=-100, reduction="none", soft_label=False, axis=-1, use_softmax=True,
              label_smoothing=0.0)
    per = reference.cross_entropy(X, LABEL, reduction="none")
    b32 = bounds.forward_bound(X, LABEL, None, kw, "float32", per)
    b16 = bounds.forward_bound(X, LABEL, None, kw, "float16", per)
    np.testing.assert_array_less(b32, b16)
    assert np.all(b32 >= np.abs(per.astype(np.float32) - per))  # rounding the exact answer passes
    assert np.all(b32 < 1e-5 * np.maximum(per, 1))
