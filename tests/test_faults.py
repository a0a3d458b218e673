"""Fault injection, end to end through `xent-parity run`: every misbehaving adapter in
tests/fault_adapters.py misbehaves on the float64 cases only. Each fault must be recorded as the
right verdict on exactly those cases, the worker restarted where it died, the run completed, every
other result kept and identical to the plain numpy adapter's, and report.md must say what happened.

Two runs serve every test here (module fixtures): the hanging adapter alone with `--timeout 1`,
and all the other adapters together with a generous timeout (so that a busy machine cannot turn a
slow answer into a spurious timeout).
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from harness.cli import main
from harness.orchestrate import PARTIAL
from harness.report import VERDICT_COLUMNS
from harness.verdicts import VERDICTS
from tests import mdtable

# Small grid: 4 float64 cases (3 valid, 1 invalid) among 4 others.
GRID = """\
    defaults: {shape: [4, 3]}
    blocks:
      - grid:
          dtype: [float32, float64]
          reduction: [none, mean]
      - cases:
          - {dtype: float16, reduction: sum}
          - {dtype: float64, label: soft, reduction: sum}
      - grid:
          dtype: [float32, float64]
          invalid: [label-out-of-range]
          checks: [[forward]]
    """

FA = "tests.fault_adapters"

# adapter class -> what a float64 case must give: verdict (per check, or one for both), a pattern
# its detail must match, the comparison reason (mismatches), the verdict and error behaviour on the
# invalid float64 case, and the worker event recorded for each float64 case (None: no event).
# (Nan, WrongDtype and LongDouble compute with numpy first, so the invalid case raises there.)
EXPECT = {
    "SegfaultAdapter": dict(verdict="crash", detail=r"killed by SIGSEGV",
                            invalid=("crash", "crashes"), event="crash"),
    "AbortAdapter": dict(verdict="crash", detail=r"exited with code 3",
                         invalid=("crash", "crashes"), event="crash"),
    "OomKilledAdapter": dict(verdict="crash",
                             detail=r"killed by SIGKILL \(possibly out of memory\)",
                             invalid=("crash", "crashes"), event="crash"),
    "SystemExitAdapter": dict(verdict="crash", detail=r"exited with code 7",
                              invalid=("crash", "crashes"), event="crash"),
    "HangAdapter": dict(verdict="timeout",
                        detail=r"no answer within 1 s; worker killed and restarted",
                        invalid=("timeout", "hangs"), event="timeout"),
    "RaiseAdapter": dict(verdict="error", detail=r"raised RuntimeError on valid input: deliberate "
                         r"failure", invalid=("pass", "raises"), event=None),
    # a MemoryError on a small case is the framework's error (on a large one, see test_large)
    "MemoryHogAdapter": dict(verdict="error", detail=r"raised MemoryError on valid input",
                             invalid=("pass", "raises"), event=None),
    "WrongShapeAdapter": dict(verdict="mismatch", detail=r"shape \[3, 3, 3\] != expected",
                              reason="shape", invalid=("bad-input-accepted", "accepts"),
                              event=None),
    # NanAdapter answers the gradient with the (NaN) forward value too: a shape mismatch there
    "NanAdapter": dict(verdict="mismatch", detail={"forward": r"NaN/inf pattern differs",
                                                   "grad": r"shape \[.*\] != expected"},
                       reason={"forward": "nonfinite", "grad": "shape"},
                       invalid=("pass", "raises"), event=None),
    # float32 values for a float64 case: beyond the float64 bound, and the detail must say why
    "WrongDtypeAdapter": dict(verdict="mismatch", detail=r"float32", reason=("dtype", "values"),
                              dtype_got="float32", invalid=("pass", "raises"), event=None),
    # exact values in a dtype the pipe does not carry: a dtype mismatch, not a dead worker
    "LongDoubleAdapter": dict(verdict="mismatch", detail=r"dtype float(128|96|64)|longdouble",
                              reason="dtype", invalid=("pass", "raises"), event=None),
    # prints garbage on stdout/stderr from Python and C, answers correctly: same as numpy
    "GarbageAdapter": dict(verdict=None, invalid=None, event=None),
}
NAMES = {"SegfaultAdapter": "segfault", "AbortAdapter": "abort", "OomKilledAdapter": "oomkilled",
         "SystemExitAdapter": "sysexit", "HangAdapter": "hang", "RaiseAdapter": "raise",
         "MemoryHogAdapter": "memhog", "WrongShapeAdapter": "wrongshape", "NanAdapter": "nan",
         "WrongDtypeAdapter": "wrongdtype", "LongDoubleAdapter": "longdouble",
         "GarbageAdapter": "garbage"}


def _run(out: Path, adapters: list[str], timeout: str) -> dict:
    grid = out / "grid.yaml"
    out.mkdir(parents=True, exist_ok=True)
    grid.write_text(textwrap.dedent(GRID))
    frameworks = ",".join(["numpy"] + [f"{FA}:{a}" for a in adapters])
    code = main(["run", str(grid), "--frameworks", frameworks, "--out", str(out / "out"),
                 "--timeout", timeout, "--expectations", "", "--top", "50"])
    doc = json.loads((out / "out" / "results.json").read_text())
    return {"code": code, "doc": doc, "report": (out / "out" / "report.md").read_text(),
            "out": out / "out"}


@pytest.fixture(scope="module")
def hang_run(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("hang"), ["HangAdapter"], "1")


@pytest.fixture(scope="module")
def fault_run(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("faults"), [a for a in EXPECT if a != "HangAdapter"], "60")


@pytest.fixture
def run_of(request):
    def get(adapter):
        return request.getfixturevalue("hang_run" if adapter == "HangAdapter" else "fault_run")
    return get


def _records(doc, framework):
    return {(r["case"], r["check"]): r for r in doc["results"] if r["framework"] == framework}


def _per_check(value, check):
    return value[check] if isinstance(value, dict) else value


def _strip(r):
    return {k: v for k, v in r.items() if k not in ("framework",)}


@pytest.mark.parametrize("which", ["hang_run", "fault_run"])
def test_the_run_completes_with_every_result(request, which):
    run = request.getfixturevalue(which)
    doc = run["doc"]
    assert run["code"] == 0
    assert "complete" not in doc and not (run["out"] / PARTIAL).exists()
    cases = doc["grid"]["cases"]
    assert cases == 8
    fws = {r["framework"] for r in doc["results"]}
    assert all("unavailable" not in doc["environment"]["frameworks"][f] for f in fws)
    for fw in fws:
        recs = _records(doc, fw)
        # 7 cases with forward and grad, 2 invalid ones with forward only
        assert len(recs) == 6 * 2 + 2, (fw, len(recs))
        assert all(r["verdict"] in VERDICTS for r in recs.values())


@pytest.mark.parametrize("adapter", list(EXPECT))
def test_fault_is_recorded_on_exactly_the_float64_cases(run_of, adapter):
    run = run_of(adapter)
    doc, exp = run["doc"], EXPECT[adapter]
    mine, ref = _records(doc, NAMES[adapter]), _records(doc, "numpy")
    assert mine.keys() == ref.keys()
    # the control: the plain numpy adapter passes every valid case and raises on the invalid ones
    for (case, check), r in ref.items():
        assert r["verdict"] == "pass", (case, check, r["detail"])
    for key, r in mine.items():
        case, check = key
        invalid = r["params"]["invalid"]
        if r["params"]["dtype"] != "float64" or exp["verdict"] is None:
            # unaffected: kept, and identical to numpy's result (figures, detail and all)
            assert _strip(r) == _strip(ref[key]), (adapter, case, check)
            continue
        if invalid:
            assert (r["verdict"], r["error_behaviour"]) == exp["invalid"], (case, r["detail"])
            assert r["detail"]
            continue
        assert r["verdict"] == _per_check(exp["verdict"], check), (case, check, r["detail"])
        assert re.search(_per_check(exp["detail"], check), r["detail"]), (case, check, r["detail"])
        if "reason" in exp:
            reason = _per_check(exp["reason"], check)
            assert r["reason"] in (reason if isinstance(reason, tuple) else (reason,)), r
        if "dtype_got" in exp:
            assert r["dtype_got"] == exp["dtype_got"]


@pytest.mark.parametrize("adapter", list(EXPECT))
def test_worker_faults_restart_the_worker_and_are_logged(run_of, adapter):
    run = run_of(adapter)
    doc, exp, name = run["doc"], EXPECT[adapter], NAMES[adapter]
    f64 = sorted({r["case"] for r in doc["results"]
                  if r["framework"] == name and r["params"]["dtype"] == "float64"})
    assert len(f64) == 4
    events = [e for e in doc["events"] if e["framework"] == name]
    faults = [e for e in events if e["event"] in ("crash", "timeout")]
    restarts = [e for e in events if e["event"] == "restart"]
    if exp["event"] is None:
        assert events == [], events
        return
    # one fault per float64 case, nothing on the others; one restart per fault
    assert sorted(e["case"] for e in faults) == f64
    assert {e["event"] for e in faults} == {exp["event"]}
    assert all(re.search(exp["detail"], e["detail"]) for e in faults), faults
    assert len(restarts) == len(f64)
    # the numpy control in the same run had nothing to report
    assert not [e for e in doc["events"] if e["framework"] == "numpy"]


@pytest.mark.parametrize("adapter", list(EXPECT))
def test_report_worker_faults_section_says_what_happened(run_of, adapter):
    run = run_of(adapter)
    exp, name = EXPECT[adapter], NAMES[adapter]
    report = run["report"]
    section = mdtable.section(report, "Worker faults")
    rows = [row for row in mdtable.rows(section) if row[0] == name]
    if exp["event"] is None:
        assert rows == [], rows
        return
    f64 = sorted({r["case"] for r in run["doc"]["results"]
                  if r["framework"] == name and r["params"]["dtype"] == "float64"})
    assert sorted(re.search(r"`([^`]+)`", row[2]).group(1) for row in rows) == f64
    for row in rows:
        assert row[1] == exp["event"]
        assert re.search(exp["detail"], " | ".join(row)), row
    assert "the worker was restarted and the run went on" in section


def test_verdict_matrix_counts_the_faults(fault_run, hang_run):
    """The Verdicts table of report.md counts each fault (forward / gradient)."""
    for run, adapters in ((fault_run, [a for a in EXPECT if a != "HangAdapter"]),
                          (hang_run, ["HangAdapter"])):
        section = mdtable.section(run["report"], "Verdicts")
        header = next(line for line in section.splitlines() if line.startswith("| framework"))
        names = [c.strip() for c in header.strip().strip("|").split("|")]
        table = {row[0]: dict(zip(names, row)) for row in mdtable.rows(section)}
        for a in adapters:
            exp = EXPECT[a]
            if exp["verdict"] is None:
                continue
            col = exp["verdict"] if isinstance(exp["verdict"], str) else None
            if col:
                # 3 valid float64 cases with both checks fail that way (+1 invalid forward when
                # the invalid case fails the same way)
                fwd = 3 + (exp["invalid"][0] == col)
                title = dict(VERDICT_COLUMNS)[col]
                assert table[NAMES[a]][title] == str(fwd + 3), (a, table[NAMES[a]])
