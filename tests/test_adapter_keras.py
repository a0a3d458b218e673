"""The keras adapter, end to end through a real worker (TensorFlow backend): plain and composed
cases pass; declared conventions show where the reference knows them, and the formulas of those it
does not know yet are checked directly against the reference's canonical pieces; invalid input gives
the measured error behaviour; the snippet reproduces the worker's numbers.

Keras and TensorFlow are never imported in the pytest process.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

import reference
from harness.adapters.keras_adapter import KerasAdapter
from harness.dtypes import round_to_dtype
from tests.test_adapter_tf import (NOT_SHOWN_GRAD_NORMALISED, check_conventions, check_invalid,
                                   find, raw, run_grid, run_snippets)

REF = "harness.adapters.keras_adapter:KerasAdapter"
EPS = 1e-7  # keras.config.epsilon()

pytestmark = pytest.mark.skipif(KerasAdapter.installed() is not None,
                                reason=str(KerasAdapter.installed()))

GRID = """
description: keras adapter tests
defaults: {shape: [6, 5], dtype: float64, checks: [forward, grad]}
blocks:
  - name: plain
    grid:
      dtype: [float32, float64]
      label: [hard, soft]
      weight: [none, random]
      reduction: [none, sum, mean]
    exclude:
      - {weight: random, reduction: mean}
  - name: composed
    cases:
      - {ignore_frac: 0.5, ignore_index: -100, reduction: mean}
      - {ignore_frac: 0.5, ignore_index: 2, weight: random, reduction: none}
      - {smoothing: 0.1, reduction: mean}
      - {smoothing: 0.1, label: soft, weight: random, reduction: sum}
      - {shape: [3, 5, 4], axis: 1, label: hard-keepdim, weight: random, ignore_frac: 0.25,
         reduction: none}
      - {shape: [3, 5, 4], axis: 0, label: soft, reduction: mean}
      - {shape: [7], axis: 0, reduction: none}
      - {label: hard-keepdim, weight: random, reduction: sum}
      - {dtype: float16, reduction: mean}
      - {dtype: bfloat16, reduction: mean}
      - {dist: gaps, reduction: none}
  - name: conventions and keras behaviour
    cases:
      - {ignore_frac: 1.0, reduction: mean}
      - {weight: random, reduction: mean}
      - {weight: random, ignore_frac: 0.25, reduction: mean}
      - {label: soft, weight: random, reduction: mean}
      - {shape: [0, 5], reduction: mean}
      - {shape: [0, 5], reduction: sum}
      - {input: probs, dist: probs-zeros, label: soft, reduction: mean}
      - {input: probs, dist: probs-zeros, label: hard, reduction: none}
      - {input: probs, label: soft, reduction: none}
      - {shape: [4, 6, 5], axis: 1, label: soft, smoothing: 0.2, reduction: none}
      - {shape: [32, 290], dtype: bfloat16, reduction: none, checks: [forward]}
      - {label: soft, dist: neginf, reduction: none}
  - name: unsupported
    cases:
      - {smoothing: 0.1, ignore_frac: 0.25, reduction: mean}
  - name: invalid
    grid:
      invalid: [label-out-of-range, label-negative, label-rank, float-labels, bad-reduction,
                weight-shape]
      checks: [[forward]]
  - name: invalid soft
    cases:
      - {label: soft, invalid: soft-ignore-positive, checks: [forward]}
"""

# the cases of the "conventions and keras behaviour" and "unsupported" blocks, by parameters
SPECIAL = {
    "all-ignored": dict(ignore_frac=1.0),
    "weighted-hard": dict(weight="random", reduction="mean", label="hard", ignore_frac=0.0,
                          dtype="float64"),
    "weighted-ignore": dict(weight="random", reduction="mean", ignore_frac=0.25),
    "weighted-soft": dict(weight="random", reduction="mean", label="soft", dtype="float64",
                          smoothing=0.0),
    "empty-mean": dict(shape=[0, 5], reduction="mean"),
    "empty-sum": dict(shape=[0, 5], reduction="sum"),
    "probs-zeros-soft": dict(input="probs", dist="probs-zeros", label="soft"),
    "probs-zeros-hard": dict(input="probs", dist="probs-zeros", label="hard"),
    "probs-soft": dict(input="probs", dist="normal", label="soft"),
    "smoothing-axis": dict(shape=[4, 6, 5]),
    "bf16-labels": dict(shape=[32, 290]),
    "smoothing-ignore": dict(smoothing=0.1, ignore_frac=0.25),
    "soft-neginf": dict(label="soft", dist="neginf", reduction="none"),
}

# the case that shows each declared convention (checked when the reference knows the name)
SHOWS: dict[str, dict | None] = {
    "empty-mean-zero": SPECIAL["all-ignored"],
    "weighted-mean-by-count": {**SPECIAL["weighted-hard"], "_checks": ("forward", "grad")},
    "empty-unreduced": SPECIAL["empty-mean"],
    "probs-clipped": SPECIAL["probs-zeros-soft"],
    "probs-clipped-renormalised": SPECIAL["probs-zeros-hard"],
    # (on rows without zeros nothing is clipped and the two probability rules agree)
    "probs-renormalised-clipped": {**SPECIAL["probs-zeros-soft"], "_checks": ("grad",)},
    "smoothing-classes-from-last-axis": {**SPECIAL["smoothing-axis"],
                                         "_checks": ("forward", "grad")},
    "zero-q-neg-inf-nan": SPECIAL["soft-neginf"],
    "grad-assumes-normalised-labels": NOT_SHOWN_GRAD_NORMALISED,
}

INVALID = {  # measured on keras 3.15.1 / tensorflow-cpu 2.21.0
    "label-out-of-range": "raises", "label-negative": "raises", "label-rank": "raises",
    "bad-reduction": "raises",
    "float-labels": "bad-input-accepted",  # y_true is cast to int64, silently
    "weight-shape": "unsupported", "soft-ignore-positive": "unsupported",
}


@pytest.fixture(scope="module")
def krun(tmp_path_factory):
    run = run_grid(tmp_path_factory, "keras", REF, GRID)
    yield run
    run.engine.close()


def _ref(data, **overrides):
    """The canonical reference on the case's arrays (float64), with keyword overrides."""
    kw = {**data.ref_kwargs, **overrides}
    label = kw.pop("label", data.label)
    w = None if data.weight is None else data.weight.astype(np.float64)
    return reference.cross_entropy(data.x.astype(np.float64), label, w, **kw)


def _ref_grad(data, **overrides):
    kw = {**data.ref_kwargs, **overrides}
    label = kw.pop("label", data.label)
    w = None if data.weight is None else data.weight.astype(np.float64)
    g = kw.pop("grad_output", None if data.grad_output is None
               else data.grad_output.astype(np.float64))
    return reference.cross_entropy_grad(data.x.astype(np.float64), label, w, grad_output=g, **kw)


def test_setup_uses_tensorflow_backend(krun):
    flags = krun.info["flags"]
    assert flags["keras_backend"] == "tensorflow" and flags["op_determinism"] is True
    assert flags["intra_op_parallelism_threads"] == 1 and flags["keras_epsilon"] == EPS


def test_plain_and_composed_cases_pass(krun):
    special = {find(krun, **p) for p in SPECIAL.values()}
    checked = 0
    for (cid, check), v in krun.verdicts.items():
        if krun.cases[cid].invalid or cid in special:
            continue
        assert v.verdict == "pass", v.explain()
        checked += 1
    assert checked >= 2 * (20 + 11)


@pytest.mark.parametrize("name", sorted(SHOWS))
def test_declared_convention_shows(krun, name):
    check_conventions(krun, KerasAdapter, SHOWS, name)


@pytest.mark.parametrize("which", ["weighted-hard", "weighted-ignore", "weighted-soft"])
def test_weighted_mean_divides_by_the_position_count(krun, which):
    """weighted-mean-by-count: sum_j w_j l_j / #non-ignored positions (canonical: / sum_j w_j)."""
    data, answers, arrays = raw(krun, find(krun, **SPECIAL[which]))
    p = data.worker_params
    if p["label_kind"] == "soft":
        count = data.label.shape[0]
    else:
        count = (data.label != p["ignore_index"]).sum()
    np.testing.assert_allclose(arrays["forward"], _ref(data, reduction="none").sum() / count,
                               rtol=1e-12)
    np.testing.assert_allclose(arrays["grad"], _ref_grad(data, reduction="sum") / count,
                               rtol=1e-10, atol=1e-15)
    assert not np.isclose(arrays["forward"], _ref(data))  # the case does show the difference


def test_empty_input_comes_back_unreduced(krun):
    for which in ("empty-mean", "empty-sum"):
        _, answers, arrays = raw(krun, find(krun, **SPECIAL[which]))
        assert arrays["forward"].shape == (0,), which  # empty-unreduced; canonical: a scalar


def test_sparse_probabilities_are_clipped_then_renormalised(krun):
    """probs-clipped-renormalised: lp = log clip(p) - log sum clip(p); gradient through the clip."""
    data, answers, arrays = raw(krun, find(krun, **SPECIAL["probs-zeros-hard"]))
    p = data.x.astype(np.float64)
    assert (p == 0).any()
    cp = np.clip(p, EPS, 1 - EPS)
    rows = np.arange(p.shape[0])
    y = data.label
    np.testing.assert_allclose(arrays["forward"],
                               -np.log(cp[rows, y]) + np.log(cp.sum(axis=-1)), rtol=1e-12)
    inside = (p > EPS) & (p < 1 - EPS)
    onehot = np.eye(p.shape[1])[y]
    grad = data.grad_output[:, None] * (1 / cp.sum(axis=-1, keepdims=True) - onehot / cp) * inside
    np.testing.assert_allclose(arrays["grad"], grad, rtol=1e-10, atol=1e-15)


def test_categorical_probability_gradient_renormalises(krun):
    """probs-renormalised-clipped: d/dp = -q/p + sum(q)/sum(p) (canonical: -q/p)."""
    data, answers, arrays = raw(krun, find(krun, **SPECIAL["probs-soft"]))
    p, q = data.x.astype(np.float64), data.label.astype(np.float64)
    extra = data.grad_output[:, None] * q.sum(-1, keepdims=True) / p.sum(-1, keepdims=True)
    np.testing.assert_allclose(arrays["grad"], _ref_grad(data) + extra, rtol=1e-10, atol=1e-15)


def test_smoothing_counts_classes_on_the_last_axis(krun):
    """smoothing-classes-from-last-axis: q' = (1-e) q + e / shape[-1], not e / shape[axis]."""
    data, answers, arrays = raw(krun, find(krun, **SPECIAL["smoothing-axis"]))
    e, last = data.ref_kwargs["label_smoothing"], data.x.shape[-1]
    assert last != data.x.shape[data.ref_kwargs["axis"]]
    q = (1 - e) * data.label.astype(np.float64) + e / last
    np.testing.assert_allclose(arrays["forward"], _ref(data, label=q, label_smoothing=0.0),
                               rtol=1e-12)
    np.testing.assert_allclose(arrays["grad"], _ref_grad(data, label=q, label_smoothing=0.0),
                               rtol=1e-10, atol=1e-15)


def test_bfloat16_loss_rounds_integer_labels(krun):
    """Loss.__call__ converts y_true to the loss dtype: bfloat16 rounds labels above 256
    (keras#15012, fixed in keras 2 by keras#15015, back in keras 3). A real keras mismatch."""
    cid = find(krun, **SPECIAL["bf16-labels"])
    assert krun.verdicts[(cid, "forward")].verdict == "mismatch"
    data, answers, arrays = raw(krun, cid)
    rounded = round_to_dtype(data.label.astype(np.float64), "bfloat16").astype(np.int64)
    assert (rounded != data.label).any()
    np.testing.assert_allclose(arrays["forward"], _ref(data, label=rounded), rtol=2e-2, atol=2e-2)


def test_smoothing_with_ignored_positions_is_unsupported(krun):
    cid = find(krun, **SPECIAL["smoothing-ignore"])
    v = krun.verdicts[(cid, "forward")]
    assert v.verdict == "unsupported" and "ignore_class" in v.detail, v.explain()


@pytest.mark.parametrize("invalid, behaviour", sorted(INVALID.items()))
def test_invalid_input(krun, invalid, behaviour):
    check_invalid(krun, invalid, behaviour)


def test_snippet_reproduces_worker(krun, tmp_path):
    picks = [(find(krun, shape=[3, 5, 4], axis=1), "grad"),
             (find(krun, shape=[4, 6, 5]), "forward"),
             (find(krun, **SPECIAL["weighted-ignore"]), "forward"),
             (find(krun, smoothing=0.1, label="hard", ignore_frac=0.0), "grad")]
    jobs, expected = [], []
    for cid, check in picks:
        data, answers, arrays = raw(krun, cid)
        assert answers[check]["status"] == "ok", answers
        jobs.append((data.worker_params, check, data))
        expected.append(arrays[check])
    for got, want in zip(run_snippets(KerasAdapter, jobs, tmp_path), expected):
        np.testing.assert_array_equal(got, want)


def test_keras_stays_out_of_the_pytest_process(krun):
    assert "keras" not in sys.modules and "tensorflow" not in sys.modules
