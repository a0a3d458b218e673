"""The paddle adapter through the real worker: plain cases pass, each declared convention shows on a
case built for it, invalid input is judged as paddle behaves, and the bug-report snippet reproduces
the worker's numbers.

paddle is never imported in this (the pytest) process: everything framework-side runs in the worker
or in a subprocess. One Engine (one paddle worker) serves the whole module.
"""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import reference
from harness.adapters.paddle_adapter import PaddleAdapter
from harness.cases import load_case_file
from harness.inputs import generate_inputs
from harness.pool import WorkItem
from harness.runner import AdapterSpec, Engine

_MISSING = PaddleAdapter.installed()
pytestmark = pytest.mark.skipif(_MISSING is not None, reason=_MISSING or "")

# Plain cases: canonical paddle behaviour, every verdict must be `pass`.
PLAIN = {
    "hard-none-w=none-ii=-100-ax=-1-f64-6x5": {"reduction": "none"},
    "hard-sum-w=random-ii=-100-ax=-1-f64-6x5": {"reduction": "sum", "weight": "random"},
    "hard-mean-w=none-ii=-100-ax=-1-f32-6x5": {"dtype": "float32"},
    "hard-mean-w=random-ii=-100-ax=-1-f64-6x5": {"weight": "random"},
    "soft-mean-w=none-ii=-100-ax=-1-f64-6x5": {"label": "soft"},
    "soft-sum-w=random-ii=-100-ax=-1-f64-6x5": {"label": "soft", "weight": "random",
                                                "reduction": "sum"},
    "soft-mean-w=random-ii=-100-ax=-1-f32-6x5": {"label": "soft", "weight": "random",
                                                 "dtype": "float32"},
    # ignore_index >= 0 masks the mean; ignore_index < 0 with weights is canonical too
    "hard-mean-w=none-ii=2-ig=0.5-ax=-1-f64-6x5": {"ignore_index": 2, "ignore_frac": 0.5},
    "hard-mean-w=random-ii=2-ig=0.5-ax=-1-f64-6x5": {"ignore_index": 2, "ignore_frac": 0.5,
                                                     "weight": "random"},
    "hard-mean-w=random-ii=-100-ig=0.5-ax=-1-f64-6x5": {"ignore_frac": 0.5, "weight": "random"},
    "hard-none-w=none-ii=-1-ig=0.5-ax=-1-f64-6x5": {"ignore_index": -1, "ignore_frac": 0.5,
                                                    "reduction": "none"},
    # class axis not last
    "hard-none-w=random-ii=-100-ax=1-f64-3x5x4": {"shape": [3, 5, 4], "axis": 1,
                                                  "reduction": "none", "weight": "random"},
    "hard-keepdim-mean-w=none-ii=-100-ax=1-f64-3x5x4": {"shape": [3, 5, 4], "axis": 1,
                                                        "label": "hard-keepdim"},
    "soft-mean-w=none-ii=-100-ax=0-f64-5x3": {"shape": [5, 3], "axis": 0, "label": "soft"},
    # probabilities (use_softmax=False)
    "hard-probs-mean-w=random-ii=-100-ax=-1-f64-6x5": {"input": "probs", "weight": "random"},
    "soft-probs-sum-w=none-ii=-100-ax=-1-f64-6x5": {"input": "probs", "label": "soft",
                                                    "reduction": "sum"},
}

# One case per declared convention, built so that only that convention explains paddle's numbers.
# (Smoothing cases are float32 or sums where they must not also show the float32 coefficients.)
DEMOS = {
    "mean-counts-ignored": ("hard-mean-w=none-ii=-100-ig=0.5-ax=-1-f64-6x5",
                            {"ignore_frac": 0.5}),
    "empty-mean-zero": ("hard-mean-w=none-ii=2-ig=1-ax=-1-f64-6x5",
                        {"ignore_index": 2, "ignore_frac": 1.0}),
    "softmax-shift-clipped-64": ("hard-sum-w=none-ii=-100-ax=-1-f64-6x5-d=large",
                                 {"dist": "large", "reduction": "sum"}),
    "log-zero-1e20": ("hard-probs-sum-w=none-ii=-100-ls=0.1-ax=-1-f32-6x5-d=probs-zeros",
                      {"input": "probs", "dist": "probs-zeros", "smoothing": 0.1,
                       "reduction": "sum", "dtype": "float32"}),
    "mean-counts-label-elements": ("soft-mean-w=none-ii=0-ax=-1-f64-6x5",
                                   {"label": "soft", "ignore_index": 0}),
    "smoothing-skips-ignore": ("hard-sum-w=none-ii=2-ig=0.5-ls=0.1-ax=-1-f32-6x5",
                               {"ignore_index": 2, "ignore_frac": 0.5, "smoothing": 0.1,
                                "reduction": "sum", "dtype": "float32"}),
    "smoothing-coefficients-float32": ("hard-sum-w=none-ii=-100-ls=0.1-ax=-1-f64-6x5",
                                       {"smoothing": 0.1, "reduction": "sum"}),
    "none-keeps-class-axis": ("soft-none-w=none-ii=-100-ax=-1-f64-6x5",
                              {"label": "soft", "reduction": "none"}),
    # the smoothed float64 rows do not sum to 1 exactly: paddle's gradient is softmax - q
    "grad-assumes-normalised-labels": ("hard-mean-w=none-ii=-100-ls=0.1-ax=-1-f64-6x5",
                                       {"smoothing": 0.1}),
    "smoothing-classes-from-last-axis": ("soft-sum-w=none-ii=-100-ls=0.2-ax=1-f32-4x6x5",
                                         {"shape": [4, 6, 5], "axis": 1, "label": "soft",
                                          "smoothing": 0.2, "reduction": "sum",
                                          "dtype": "float32"}),
}

INVALID = {
    "label-out-of-range": ("hard-mean-w=none-ii=-100-ax=-1-f32-6x5-only=forward"
                           "-bad=label-out-of-range", "pass"),
    "label-negative": ("hard-mean-w=none-ii=-100-ax=-1-f32-6x5-only=forward-bad=label-negative",
                       "pass"),
    "bad-reduction": ("hard-mean-w=none-ii=-100-ax=-1-f32-6x5-only=forward-bad=bad-reduction",
                      "pass"),
    "float-labels": ("hard-mean-w=none-ii=-100-ax=-1-f32-6x5-only=forward-bad=float-labels",
                     "bad-input-accepted"),
}

SNIPPET_CASE = "hard-mean-w=random-ii=2-ig=0.5-ax=-1-f64-6x5"


def _grid_yaml():
    explicit = [p for p in PLAIN.values()] + [p for _, p in DEMOS.values()]
    lines = ["defaults: {shape: [6, 5], dtype: float64}", "blocks:", "  - cases:"]
    lines += [f"      - {json.dumps(p)}" for p in explicit]
    lines += ["  - grid:", "      dtype: [float32]", "      checks: [[forward]]",
              f"      invalid: {json.dumps(list(INVALID))}"]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    path = tmp_path_factory.mktemp("paddle") / "grid.yaml"
    path.write_text(_grid_yaml())
    cases = load_case_file(path)
    eng = Engine([AdapterSpec("paddle", "harness.adapters.paddle_adapter:PaddleAdapter")])
    eng.start()
    try:
        assert eng.running, eng.adapters[0].unavailable
        verdicts = eng.run(cases)
        yield {"engine": eng, "cases": {c.id: c for c in cases},
               "verdicts": {(v.case_id, v.check): v for v in verdicts}}
    finally:
        eng.close()


def _verdicts(run, case_id):
    got = [v for (cid, _), v in run["verdicts"].items() if cid == case_id]
    assert got, f"no verdict for {case_id}; cases: {sorted(run['cases'])}"
    return got


def test_worker_reports_setup_flags_and_capabilities(run):
    info = run["engine"].running[0].info
    assert info["name"] == "paddle" and info["version"] == PaddleAdapter.version()
    assert info["flags"]["FLAGS_paddle_num_threads"] == 1
    assert info["capabilities"]["dtypes"] == ["float32", "float64"]
    assert {c["name"] for c in info["conventions"]} == {n for n in DEMOS}


@pytest.mark.parametrize("case_id", sorted(PLAIN))
def test_plain_cases_pass(run, case_id):
    for v in _verdicts(run, case_id):
        assert v.verdict == "pass", v.explain()


@pytest.mark.parametrize("name", sorted(DEMOS))
def test_each_declared_convention_shows_on_its_case(run, name):
    assert name in {c.name for c in PaddleAdapter.conventions}
    case_id, _ = DEMOS[name]
    vs = _verdicts(run, case_id)
    if name in reference.CONVENTIONS:
        # shown on at least one check; a check it does not affect (the all-ignored gradient is
        # zero either way) passes
        from tests.test_adapter_tf import explained_as_declared

        shown = [v for v in vs if explained_as_declared(v, PaddleAdapter)
                 and name in v.convention.split("+")]
        # (the other check may show a companion convention of the same case, one paddle declares)
        declared = {c.name for c in PaddleAdapter.conventions}
        assert shown and all(
            v in shown or v.verdict == "pass"
            or (explained_as_declared(v, PaddleAdapter)
                and set(v.convention.split("+")) <= declared)
            for v in vs), [v.explain() for v in vs]
    else:
        # the reference cannot compute it yet: paddle must still visibly differ from canonical
        assert any(v.verdict == "mismatch" for v in vs), [v.explain() for v in vs]
        pytest.skip(f"the reference does not implement {name!r} yet (paddle differs as expected)")


def test_every_declared_convention_has_a_demo_case_and_a_paddle_link():
    for c in PaddleAdapter.conventions:
        assert c.name in DEMOS
        assert c.link.startswith(("https://github.com/PaddlePaddle/Paddle/blob/v3.3.1/",
                                  "https://www.paddlepaddle.org.cn/")), c.link
        assert c.note


@pytest.mark.parametrize("invalid", sorted(INVALID))
def test_invalid_input(run, invalid):
    case_id, expected = INVALID[invalid]
    (v,) = _verdicts(run, case_id)
    assert v.verdict == expected, v.explain()
    assert v.error_behaviour == ("raises" if expected == "pass" else "accepts")


def test_half_precision_unsupported_on_cpu_only():
    params = {"shape": [6, 5], "axis": -1, "dtype": "float16", "label_kind": "hard",
              "use_softmax": True, "has_weight": False, "ignore_index": -100,
              "uses_ignore": False, "reduction": "mean", "label_smoothing": 0.0, "invalid": None}
    for dt in ("float16", "bfloat16"):
        reason = PaddleAdapter("cpu").unsupported_reason({**params, "dtype": dt})
        assert reason and "CPU kernel" in reason
        assert PaddleAdapter("gpu").unsupported_reason({**params, "dtype": dt}) is None
    assert PaddleAdapter("cpu").unsupported_reason(params | {"dtype": "float64"}) is None


_RUN_SNIPPETS = textwrap.dedent("""
    import json, sys
    import numpy as np
    d = np.load(sys.argv[1])
    out = {}
    for check, src in json.loads(open(sys.argv[2]).read()).items():
        ns = {"np": np, "x": d["x"], "label": d["label"],
              "weight": d["weight"] if "weight" in d else None,
              "g": d["grad_output"] if "grad_output" in d else None}
        exec(src, ns)
        out[check] = ns["grad" if check == "grad" else "loss"]
    np.savez(sys.argv[3], **out)
""")


@pytest.mark.parametrize("case_id", [SNIPPET_CASE, "hard-none-w=random-ii=-100-ax=1-f64-3x5x4",
                                     DEMOS["none-keeps-class-axis"][0]])
def test_snippet_reproduces_the_worker(run, case_id, tmp_path):
    case = run["cases"][case_id]
    data = generate_inputs(case.params, case.id)
    item = WorkItem({**data.worker_params, "case_id": case.id}, data.arrays(), case.checks)
    (res,) = run["engine"].running[0].worker.run([item])
    adapter = PaddleAdapter("cpu")
    snippets = {check: adapter.snippet(data.worker_params, check) for check in case.checks}
    np.savez(tmp_path / "in.npz", **data.arrays())
    (tmp_path / "snippets.json").write_text(json.dumps(snippets))
    (tmp_path / "run.py").write_text(_RUN_SNIPPETS)
    subprocess.run([sys.executable, str(tmp_path / "run.py"), str(tmp_path / "in.npz"),
                    str(tmp_path / "snippets.json"), str(tmp_path / "out.npz")],
                   check=True, capture_output=True, timeout=60)
    got = np.load(tmp_path / "out.npz")
    for check in case.checks:
        assert res.checks[check]["status"] == "ok", res.checks[check]
        worker = res.arrays[check]
        assert got[check].shape == worker.shape and got[check].dtype == worker.dtype
        np.testing.assert_allclose(got[check], worker, rtol=1e-13, atol=0, err_msg=check)
