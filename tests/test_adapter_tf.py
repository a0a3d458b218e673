"""The tf.nn adapter, end to end through a real worker: plain and composed cases pass, declared
conventions show where the reference knows them, invalid input gives the measured error behaviour,
and the bug-report snippet reproduces the worker's numbers in a fresh interpreter.

TensorFlow is never imported in the pytest process; everything runs in the adapter's worker or in a
subprocess. One worker per module (module-scoped fixture).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import reference
from harness.adapters.tf_adapter import TfNnAdapter
from harness.cases import load_case_file
from harness.inputs import generate_inputs
from harness.pool import WorkItem
from harness.runner import AdapterSpec, Engine

REF = "harness.adapters.tf_adapter:TfNnAdapter"
ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(TfNnAdapter.installed() is not None,
                                reason=str(TfNnAdapter.installed()))

GRID = """
description: tf.nn adapter tests
defaults: {shape: [6, 5], dtype: float64, checks: [forward, grad]}
blocks:
  - name: plain
    grid:
      dtype: [float32, float64]
      label: [hard, soft]
      weight: [none, random]
      reduction: [none, sum, mean]
  - name: composed
    cases:
      - {ignore_frac: 0.5, ignore_index: -100, reduction: mean}
      - {ignore_frac: 0.5, ignore_index: 2, weight: random, reduction: mean}
      - {ignore_frac: 1.0, reduction: mean}
      - {smoothing: 0.1, weight: random, ignore_frac: 0.25, reduction: mean}
      - {smoothing: 0.1, label: soft, weight: random, reduction: sum}
      - {shape: [3, 5, 4], axis: 1, label: hard-keepdim, weight: random, ignore_frac: 0.25,
         reduction: none}
      - {shape: [3, 5, 4], axis: 0, label: soft, weight: random, reduction: mean}
      - {shape: [7], axis: 0, reduction: none}
      - {shape: [0, 5], reduction: sum}
      - {dtype: float16, reduction: mean}
      - {dtype: bfloat16, reduction: mean}
      - {dist: gaps, reduction: none}
  - name: conventions
    cases:
      - {label: soft, dist: neginf, reduction: none}
  - name: unsupported
    cases:
      - {input: probs, reduction: mean}
  - name: invalid
    grid:
      invalid: [label-out-of-range, label-negative, label-rank, float-labels, bad-reduction,
                weight-shape]
      checks: [[forward]]
  - name: invalid soft
    cases:
      - {label: soft, invalid: soft-ignore-positive, checks: [forward]}
"""

# A case (as grid parameters) that shows each convention the adapter declares; a string: why no
# case of the grid language can show it on this configuration.
NOT_SHOWN_GRAD_NORMALISED = (
    "only the fused softmax_cross_entropy_with_logits kernel has it, and with op determinism on "
    "(the harness default) TF takes the log_softmax path; the grid's soft rows also sum to 1")
SHOWS: dict[str, dict | str] = {
    "zero-q-neg-inf-nan": {"label": "soft", "dist": "neginf", "reduction": "none"},
    "grad-assumes-normalised-labels": NOT_SHOWN_GRAD_NORMALISED,
}

INVALID = {  # measured on tensorflow-cpu 2.21.0, op determinism on
    "label-out-of-range": "raises", "label-negative": "raises", "label-rank": "raises",
    "float-labels": "raises",
    "bad-reduction": "unsupported", "weight-shape": "unsupported",
    "soft-ignore-positive": "unsupported",
}


# -- helpers (the keras tests use them too) ------------------------------------------------------
def run_grid(tmp_path_factory, name: str, ref: str, grid: str):
    """Load `grid`, run it through one worker; the engine stays open for `raw` until `close()`."""
    path = tmp_path_factory.mktemp(name.replace(".", "_")) / "grid.yaml"
    path.write_text(textwrap.dedent(grid))
    cases = load_case_file(path)
    eng = Engine([AdapterSpec(name, ref)])
    eng.start()
    st = eng.adapters[0]
    if st.worker is None:
        eng.close()
        pytest.fail(f"{name} worker did not start: {st.unavailable}")
    verdicts = eng.run(cases)
    return SimpleNamespace(engine=eng, worker=st.worker, info=st.info,
                           cases={c.id: c for c in cases},
                           verdicts={(v.case_id, v.check): v for v in verdicts})


def find(run, **params) -> str:
    """The one case whose parameters include `params` (grid names: label, weight, reduction...)."""
    hits = [cid for cid, c in run.cases.items()
            if all(c.params.get(k) == v for k, v in params.items())]
    assert len(hits) == 1, (params, hits)
    return hits[0]


def raw(run, case_id: str):
    """(CaseData, {check: answer}, {check: array}) straight from the worker, for one case."""
    case = run.cases[case_id]
    data = generate_inputs(case.params, case.id)
    res = run.worker.run([WorkItem({**data.worker_params, "case_id": case.id}, data.arrays(),
                                   case.checks)])[0]
    return data, res.checks, res.arrays


def run_snippets(adapter_cls, jobs, tmp_path) -> list[np.ndarray]:
    """Exec each (params, check, CaseData) snippet in one fresh interpreter; return its results."""
    lines = ["import numpy as np", "out = {}"]
    for i, (params, check, data) in enumerate(jobs):
        arrays = {k: v for k, v in (("x", data.x), ("label", data.label), ("weight", data.weight),
                                    ("g", data.grad_output)) if v is not None}
        np.savez(tmp_path / f"in{i}.npz", **arrays)
        (tmp_path / f"snippet{i}.py").write_text(adapter_cls().snippet(params, check))
        var = "grad" if check == "grad" else "loss"
        lines += [f"d = np.load({str(tmp_path / f'in{i}.npz')!r})",
                  "ns = {k: (d[k] if k in d.files else None)",
                  "      for k in ('x', 'label', 'weight', 'g')}",
                  f"exec(open({str(tmp_path / f'snippet{i}.py')!r}).read(), ns)",
                  f"out['r{i}'] = np.asarray(ns[{var!r}])"]
    lines.append(f"np.savez({str(tmp_path / 'out.npz')!r}, **out)")
    script = tmp_path / "run_snippets.py"
    script.write_text("\n".join(lines) + "\n")
    proc = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = np.load(tmp_path / "out.npz")
    return [out[f"r{i}"] for i in range(len(jobs))]


def check_conventions(run, adapter_cls, shows, name):
    """Declared + known to the reference -> the showing case is `divergent` with that name."""
    declared = {c.name for c in adapter_cls.conventions}
    assert set(shows) == declared, "every declared convention needs an entry in SHOWS"
    if name not in reference.CONVENTIONS:
        pytest.skip(f"reference does not implement {name!r} yet")
    spec = shows[name]
    if isinstance(spec, str):
        # a convention no case can show under the harness's settings: hold those settings, so
        # that a run that changes them (op determinism off) fails here and gets a showing case
        assert run.info["flags"].get("op_determinism") is True, (
            f"{name}: op determinism is off, so this convention can show: give it a case in "
            f"SHOWS ({spec})")
        return
    params, checks = dict(spec), spec.get("_checks", ("forward",))
    params.pop("_checks", None)
    cid = find(run, **params)
    for check in checks:
        v = run.verdicts[(cid, check)]
        fitting = {n for s in [v.convention, *v.fitting] if s for n in s.split("+")}
        assert explained_as_declared(v, adapter_cls) and name in fitting, v.explain()


def explained_as_declared(v, adapter_cls) -> bool:
    """divergent under conventions, known-defect when a member of the set is a declared defect:
    the verdict carries the kind the adapter declares."""
    if v.verdict not in ("divergent", "known-defect"):
        return False
    names = (v.convention or "").split("+")
    kinds = {c.kind for c in adapter_cls.conventions if c.name in names}
    return v.kind in kinds and (v.verdict == "known-defect") == (v.kind == "defect")


# -- tests ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tfrun(tmp_path_factory):
    run = run_grid(tmp_path_factory, "tf.nn", REF, GRID)
    yield run
    run.engine.close()


def test_setup_pins_numerics(tfrun):
    flags = tfrun.info["flags"]
    assert flags["op_determinism"] is True
    assert flags["tensor_float_32_execution"] is False
    assert flags["intra_op_parallelism_threads"] == 1 == flags["inter_op_parallelism_threads"]
    assert flags["device"] == "/CPU:0"


def test_plain_and_composed_cases_pass(tfrun):
    checked = 0
    for (cid, check), v in tfrun.verdicts.items():
        c = tfrun.cases[cid]
        if c.invalid or c.params["input"] == "probs" or c.params["dist"] == "neginf":
            continue  # (the neginf case shows a convention: test_declared_convention_is_seen)
        assert v.verdict == "pass", v.explain()
        checked += 1
    assert checked >= 2 * 36


def test_bfloat16_comes_back_as_bfloat16(tfrun):
    cid = find(tfrun, dtype="bfloat16")
    _, answers, arrays = raw(tfrun, cid)
    assert answers["forward"]["dtype"] == "bfloat16" and arrays["forward"].dtype == np.float32


def test_probability_input_is_unsupported(tfrun):
    cid = find(tfrun, input="probs")
    for check in ("forward", "grad"):
        v = tfrun.verdicts[(cid, check)]
        assert v.verdict == "unsupported" and "logits only" in v.detail, v.explain()


@pytest.mark.parametrize("name", sorted(SHOWS))
def test_declared_convention_shows(tfrun, name):
    check_conventions(tfrun, TfNnAdapter, SHOWS, name)


def check_invalid(run, invalid, behaviour):
    """The invalid case's forward verdict is the measured error behaviour."""
    v = run.verdicts[(find(run, invalid=invalid), "forward")]
    if behaviour == "raises":
        assert v.verdict == "pass" and v.error_behaviour == "raises", v.explain()
    else:
        assert v.verdict == behaviour, v.explain()


@pytest.mark.parametrize("invalid, behaviour", sorted(INVALID.items()))
def test_invalid_input(tfrun, invalid, behaviour):
    check_invalid(tfrun, invalid, behaviour)


def test_snippet_reproduces_worker(tfrun, tmp_path):
    picks = [(find(tfrun, shape=[3, 5, 4], axis=1), "grad"),
             (find(tfrun, shape=[3, 5, 4], axis=0), "forward"),
             (find(tfrun, smoothing=0.1, label="hard"), "grad")]
    jobs, expected = [], []
    for cid, check in picks:
        data, answers, arrays = raw(tfrun, cid)
        assert answers[check]["status"] == "ok", answers
        jobs.append((data.worker_params, check, data))
        expected.append(arrays[check])
    for got, want in zip(run_snippets(TfNnAdapter, jobs, tmp_path), expected):
        np.testing.assert_array_equal(got, want)


def test_tensorflow_stays_out_of_the_pytest_process(tfrun):
    assert "tensorflow" not in sys.modules
