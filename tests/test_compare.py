"""The comparison engine and the float formats, against hand-computed values."""

import numpy as np
import pytest

from harness.compare import compare
from harness.dtypes import round_to_dtype, ulp, ulp_distance

pytestmark = pytest.mark.fast


def test_ulp_matches_numpy_spacing_and_bfloat16_by_hand():
    for dt in ("float16", "float32", "float64"):
        for v in (1.0, 3.0, 1e-3, 6e-5):
            assert ulp(v, dt) == float(np.spacing(np.array(v, dtype=dt).astype(dt)))
    assert ulp(1.0, "bfloat16") == 2.0 ** -7
    assert ulp(0.0, "float32") == 2.0 ** -149
    assert ulp_distance(1.0 + 2 ** -23, 1.0, "float32") == 1.0


def test_bfloat16_rounding_is_nearest_even():
    # 1 + 2**-8 is halfway between 1 and 1 + 2**-7: ties to even gives 1
    assert round_to_dtype(np.array([1 + 2 ** -8]), "bfloat16")[0] == 1.0
    assert round_to_dtype(np.array([1 + 3 * 2 ** -8]), "bfloat16")[0] == 1 + 2 ** -6
    # no double rounding through float32
    x = 1 + 2 ** -8 + 2 ** -30
    assert round_to_dtype(np.array([x]), "bfloat16")[0] == 1 + 2 ** -7


def test_checks_shape_first_then_dtype_then_nonfinite_then_values():
    exp = np.array([1.0, 2.0, np.inf])
    assert compare(np.zeros(2), exp, 1.0, "float32", "float32").reason == "shape"
    c = compare(exp.astype(np.float32), exp, 1e-3, "float16", "float32")
    assert (c.ok, c.reason) == (False, "dtype")
    c = compare(np.array([1.0, np.nan, np.inf]), exp, 1e-3, "float32", "float32")
    assert (c.reason, c.n_bad, c.worst_index) == ("nonfinite", 1, [1])
    c = compare(np.array([1.0, 2.5, np.inf]), exp, np.array([1e-3, 0.4, 0]), "float32", "float32")
    assert (c.ok, c.reason, c.n_bad, c.worst_index) == (False, "values", 1, [1])
    assert c.max_abs == pytest.approx(0.5) and c.max_rel == pytest.approx(0.25)
    assert c.bound == pytest.approx(0.4)
    assert c.max_ulp == pytest.approx(0.5 / 2.0 ** -22)
    assert "beyond the bound" in c.summary() and "bound" in c.summary()


def test_within_bound_passes_and_reports_the_figures():
    exp = np.array([[1.0, 2.0], [3.0, 4.0]])
    got = exp + np.array([[0, 1e-7], [0, 0]])
    c = compare(got, exp, 2e-7, "float32", "float32")
    assert c.ok and c.worst_index == [0, 1]
    assert c.max_ulp == pytest.approx(1e-7 / 2.0 ** -22)
    assert c.to_json()["max_ulp"] == pytest.approx(c.max_ulp)


def test_signed_infinities_must_agree():
    c = compare(np.array([-np.inf]), np.array([np.inf]), 1.0, "float32", "float32")
    assert not c.ok and c.reason == "nonfinite"
    assert compare(np.array([np.nan]), np.array([np.nan]), 1.0, "float32", "float32").ok
