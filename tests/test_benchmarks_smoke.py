"""The benchmark script's machinery runs end to end on toy sizes (no timing assertions: the figures
of benchmarks/RESULTS.md come from `make bench`)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import lib, make_x10, sec_harness, sec_reference  # noqa: E402
from benchmarks import run as bench  # noqa: E402


def test_interleave_ratio_and_memory_helpers():
    times = lib.interleave({"a": lambda: sum(range(100)), "b": lambda: None}, reps=3, warmup=1)
    assert {k: len(v) for k, v in times.items()} == {"a": 3, "b": 3}
    r = lib.ratio(times, "a", "b")
    assert set(r) == {"best", "median"} and r["best"] > 0
    peak, out = lib.peak_extra_bytes(lambda: np.ones(100_000))
    assert peak >= out.nbytes


def test_straightforward_versions_agree_with_the_reference():
    import reference

    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((5, 7)), rng.integers(0, 7, 5)
    assert np.isclose(sec_reference.naive_forward(x, y), reference.cross_entropy(x, y))
    assert np.allclose(sec_reference.naive_grad(x, y), reference.cross_entropy_grad(x, y))


def test_x10_grid_has_ten_times_the_cases(tmp_path):
    from harness.cases import load_cases

    out = tmp_path / "x10.yaml"
    assert make_x10.main(["--out", str(out)]) == 0
    base, big = load_cases([str(ROOT / "cases" / "default.yaml")]), load_cases([str(out)])
    literal = [c for c in base if c.params.get("data")]  # their shape is their arrays'
    assert literal and len(big) == 10 * (len(base) - len(literal)) + len(literal)
    assert make_x10.variants([4, 32000])[:3] == [[4, 32000], [4, 32001], [4, 31999]]


def test_process_monitor_sees_a_child_and_its_memory():
    code = "import numpy as np, time; a = np.ones(20_000_000); time.sleep(0.5)"
    r = lib.run_monitored([sys.executable, "-c", code], timeout=60, interval=0.05)
    assert r["rc"] == 0
    assert r["memory"]["peak_total_rss"] > 100 << 20


def test_process_monitor_kills_a_child_over_its_cap():
    code = ("import subprocess, sys; p = subprocess.run([sys.executable, '-c', "
            "'import numpy as np, time; a = np.ones(40_000_000); time.sleep(5)']); "
            "print('child', p.returncode)")
    r = lib.run_monitored([sys.executable, "-c", code], timeout=60, interval=0.05,
                          per_process_limit=150 << 20)
    assert "child -9" in r["output"]
    assert r["memory"]["kills"]


def test_pytest_summary_parser():
    line = "12 passed, 3 skipped, 2 xfailed, 1 warning in 4.20s"
    assert sec_harness._pytest_counts(line) == {"passed": 12, "skipped": 3, "xfailed": 2,
                                                "warning": 1}


def test_quick_run_writes_results(tmp_path):
    only = "reference,overhead,scale,shard,large-vocab,speed,gate"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick",
                        "--only", only, "--out", str(tmp_path)], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["quick"] is True
    for name in only.split(","):
        assert "error" not in doc["sections"][name], doc["sections"][name].get("traceback")
    md = (tmp_path / "RESULTS.md").read_text()
    assert "## Targets" in md and "--quick" in md
    assert doc["sections"]["shard"]["result"]["results_equal"] is True
    speed = doc["sections"]["speed"]["result"]["shapes"][0]["checks"]
    assert speed["forward"]["vs_fastest"]["numpy"] == pytest.approx(1.0)
    gate = doc["sections"]["gate"]["result"]
    assert gate["records"] > 0 and gate["gate_over_load"]["median"] > 0


def test_render_survives_a_failed_section():
    doc = {"machine": lib.machine(), "quick": True,
           "sections": {"reference": {"error": "RuntimeError: boom", "traceback": "tb",
                                      "date": "now", "seconds": 0}}}
    assert "Section failed" in bench.render(doc)
