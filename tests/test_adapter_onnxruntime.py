"""The onnxruntime adapter end to end: a real worker, a small grid, verdicts.

onnx and onnxruntime are imported only in the worker subprocesses, never here.
"""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import reference
from harness.adapters.onnxruntime_adapter import OnnxRuntimeAdapter
from harness.cases import load_case_file
from harness.inputs import generate_inputs
from harness.pool import Worker, WorkItem
from harness.reproducer import reproducer
from harness.runner import AdapterSpec, Engine

_why = OnnxRuntimeAdapter.installed()
pytestmark = pytest.mark.skipif(_why is not None, reason=_why or "")

REF = "harness.adapters.onnxruntime_adapter:OnnxRuntimeAdapter"

GRID = """
description: onnxruntime adapter tests
defaults: {shape: [6, 5], dtype: float64, label: hard, checks: [forward]}
blocks:
  - name: plain
    grid:
      dtype: [float16, float32, float64]
      weight: [none, random]
      reduction: [none, sum, mean]
  - name: more plain
    cases:
      - {label: hard-keepdim, shape: [3, 5, 4], axis: 1, weight: random, ignore_frac: 0.25,
         reduction: mean}
      - {shape: [2, 5, 3, 4], axis: -1, reduction: none}
      - {shape: [4, 6, 5], axis: 0, weight: random, reduction: sum}
      - {ignore_frac: 0.5, ignore_index: 2, weight: random, reduction: mean}
      - {ignore_frac: 0.25, ignore_index: -1, reduction: none}
      - {input: probs, weight: random, reduction: mean}
      - {input: probs, dist: probs-zeros, reduction: none}
      - {dist: gaps, reduction: none}
      - {shape: [4, 1000], dtype: float32, reduction: mean}
  - name: nothing left for the mean (canonical NaN, not empty-mean-zero)
    cases:
      - {ignore_frac: 1.0, reduction: mean}
      - {ignore_frac: 1.0, weight: random, reduction: mean}
  - name: not expressible
    cases:
      - {label: soft, reduction: mean}
      - {smoothing: 0.1, reduction: mean}
      - {dtype: bfloat16, reduction: mean}
      - {shape: [7], axis: 0, reduction: none}
      - {reduction: mean, checks: [forward, grad]}
  - name: empty input
    cases:
      - {shape: [0, 5], reduction: sum}
  - name: invalid
    grid:
      invalid: [label-out-of-range, label-negative, bad-reduction, weight-shape, label-rank,
                float-labels]
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    path = tmp_path_factory.mktemp("ort") / "grid.yaml"
    path.write_text(GRID)
    cases = load_case_file(path)
    with Engine([AdapterSpec("onnxruntime", REF)]) as eng:
        eng.start()
        assert eng.adapters[0].unavailable is None, eng.adapters[0].unavailable
        verdicts = eng.run(cases)
        info = eng.adapters[0].info
    by = {(v.case_id, v.check): v for v in verdicts}
    return cases, by, info


def _case(cases, **match):
    found = [c for c in cases if all(c.params[k] == v for k, v in match.items())]
    assert found, match
    return found


def test_setup_flags_and_capabilities(run):
    _, _, info = run
    flags = info["flags"]
    assert flags["intra_op_num_threads"] == 1 and flags["use_deterministic_compute"] is True
    assert flags["provider"] == "CPUExecutionProvider" and flags["opset"] == 13
    caps = info["capabilities"]
    assert caps["gradient"] is False and "bfloat16" not in caps["dtypes"]
    assert caps["features"]["soft_label"].startswith("unsupported: ")
    assert caps["features"]["label_smoothing"].startswith("unsupported: ")
    assert caps["features"]["axis"] == caps["features"]["use_softmax"] == "composed"


def test_plain_cases_pass(run):
    cases, by, _ = run
    plain = [c for c in cases if not c.invalid and c.params["label"] != "soft"
             and not c.params["smoothing"] and c.params["dtype"] != "bfloat16"
             and len(c.params["shape"]) > 1 and c.params["shape"][0] > 0]
    assert len(plain) > 20
    for c in plain:
        v = by[(c.id, "forward")]
        assert v.verdict == "pass", v.explain()


def test_empty_mean_is_nan(run):
    cases, by, _ = run
    for c in _case(cases, ignore_frac=1.0):
        v = by[(c.id, "forward")]
        assert v.verdict == "pass" and v.convention is None, v.explain()
        d = generate_inputs(c.params, c.id)
        assert np.isnan(reference.cross_entropy(d.x, d.label, d.weight, **d.ref_kwargs))


@pytest.mark.parametrize("match, check, needle", [
    ({"label": "soft"}, "forward", "integer class labels only"),
    ({"smoothing": 0.1}, "forward", "no label smoothing"),
    ({"dtype": "bfloat16"}, "forward", "tensor(bfloat16)"),
    ({"shape": [7]}, "forward", "no batch axis"),
    ({"checks": ["forward", "grad"]}, "grad", "no gradient"),
])
def test_not_expressible_is_unsupported(run, match, check, needle):
    cases, by, _ = run
    (c,) = _case(cases, **match)
    v = by[(c.id, check)]
    assert v.verdict == "unsupported" and needle in v.detail, v.explain()


def test_empty_input_raises(run):
    # measured: session creation fails in the operator's Reshape (docs/research-frameworks.md §7)
    cases, by, _ = run
    (c,) = _case(cases, shape=[0, 5])
    v = by[(c.id, "forward")]
    assert v.verdict == "error" and "Reshape" in v.detail, v.explain()


def test_no_declared_conventions_and_a_canonical_mean():
    # SoftmaxCrossEntropyLoss's mean is SPEC's canonical one; nothing is declared
    assert OnnxRuntimeAdapter.conventions == ()
    assert "onnx__SoftmaxCrossEntropyLoss" in sys.modules[OnnxRuntimeAdapter.__module__].OP_DOC


@pytest.mark.parametrize("invalid, verdict, needle", [
    ("label-out-of-range", "pass", "raised"),
    ("label-negative", "bad-input-accepted", "returned"),  # -1 wraps to class C-1
    ("bad-reduction", "bad-input-accepted", "returned"),  # an unknown reduction gives the sum
    ("weight-shape", "bad-input-accepted", "returned"),  # a [C+1] weight is accepted
    ("label-rank", "pass", "raised"),
    ("float-labels", "pass", "raised"),
])
def test_invalid_input(run, invalid, verdict, needle):
    cases, by, _ = run
    (c,) = _case(cases, invalid=invalid)
    v = by[(c.id, "forward")]
    assert v.verdict == verdict and needle in v.detail, v.explain()


def test_bad_reduction_returns_the_sum(tmp_path):
    (c,) = [c for c in load_case_file(_write(tmp_path, "{invalid: bad-reduction}"))]
    data, got = _worker_output(c)
    kw = {**data.ref_kwargs, "reduction": "sum"}
    want = reference.cross_entropy(data.x, data.label, data.weight, **kw)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def _write(tmp_path, spec):
    path = tmp_path / "one.yaml"
    path.write_text("defaults: {shape: [6, 5], dtype: float64, checks: [forward]}\n"
                    f"blocks:\n  - cases:\n      - {spec}\n")
    return path


def _worker_output(case):
    data = generate_inputs(case.params, case.id)
    w = Worker("onnxruntime", REF, timeout=60.0)
    w.start()
    try:
        (res,) = w.run([WorkItem({**data.worker_params, "case_id": case.id}, data.arrays(),
                                 ["forward"])])
    finally:
        w.close()
    assert res.checks["forward"]["status"] == "ok", res.checks
    return data, res.arrays["forward"]


def test_snippet_reproduces_the_worker(tmp_path):
    (case,) = load_case_file(_write(tmp_path, "{label: hard-keepdim, shape: [3, 5, 4], axis: 1, "
                                              "weight: random, ignore_frac: 0.25, reduction: none, "
                                              "dtype: float16}"))
    data, got = _worker_output(case)
    out = tmp_path / "out.npy"
    script = reproducer(case.id, data, REF, "forward") + textwrap.dedent(f"""
        np.save({str(out)!r}, loss)
    """)
    (tmp_path / "repro.py").write_text(script)
    r = subprocess.run([sys.executable, str(tmp_path / "repro.py")], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    np.testing.assert_array_equal(np.load(out), got)
