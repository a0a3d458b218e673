"""Workers: batches through a real subprocess, and faults recorded on exactly the cases they hit."""

import numpy as np
import pytest

from harness.cases import load_case_file
from harness.inputs import generate_inputs
from harness.pool import Worker, WorkItem

SMOKE = [c for c in load_case_file("cases/smoke.yaml") if not c.invalid]
# a few float64 cases (where the fault adapters misbehave) between normal ones
FEW = [c for c in SMOKE if c.params["dtype"] == "float64"][:3] + [
    c for c in SMOKE if c.params["dtype"] != "float64"][:4]
FEW = sorted(FEW, key=lambda c: c.id)


def items(cases):
    out = []
    for c in cases:
        d = generate_inputs(c.params, c.id)
        out.append(WorkItem({**d.worker_params, "case_id": c.id}, d.arrays(), c.checks))
    return out


def run(ref, cases, timeout=30.0):
    w = Worker(ref.rpartition(":")[2], ref, timeout=timeout)
    w.start()
    try:
        return w, w.run(items(cases))
    finally:
        w.close()


def test_numpy_worker_answers_every_item_in_order():
    w, results = run("harness.adapters.numpy_adapter:NumpyAdapter", SMOKE)
    assert len(results) == len(SMOKE)
    for case, res in zip(SMOKE, results):
        for check in case.checks:
            ans = res.checks[check]
            if case.params["dtype"] == "bfloat16":
                assert ans["status"] == "unsupported" and "bfloat16" in ans["reason"]
            else:
                assert ans["status"] == "ok", ans
                assert res.arrays[check].dtype.name == case.params["dtype"]
    assert w.info["name"] == "numpy" and w.info["version"] == np.__version__
    assert w.restarts == 0


@pytest.mark.parametrize("adapter, status", [
    ("SegfaultAdapter", "crash"), ("AbortAdapter", "crash"), ("HangAdapter", "timeout")])
def test_a_dying_worker_costs_only_the_case_in_flight(adapter, status):
    w, results = run(f"tests.fault_adapters:{adapter}", FEW, timeout=1.5)
    f64 = [c.params["dtype"] == "float64" for c in FEW]
    assert len(results) == len(FEW) and 0 < sum(f64) < len(FEW)
    for is64, case, res in zip(f64, FEW, results):
        got = {res.checks[c]["status"] for c in case.checks}
        if is64:
            # the forward check dies first and takes the whole item with it
            assert got == {status}, (case.id, res.checks)
        else:
            assert got <= {"ok", "unsupported"}, (case.id, res.checks)
    assert w.restarts == sum(f64)
    crash_events = [e for e in w.events if e["event"] == status]
    assert sorted(e["case"] for e in crash_events) == sorted(c.id for c, s in zip(FEW, f64) if s)
    if status == "crash":
        assert "SIGSEGV" in crash_events[0]["detail"] or "code 3" in crash_events[0]["detail"]


def test_exceptions_are_results_and_garbage_output_does_not_break_the_protocol():
    _, results = run("tests.fault_adapters:RaiseAdapter", SMOKE)
    for case, res in zip(SMOKE, results):
        if case.params["dtype"] == "float64":
            assert res.checks["forward"] == {**res.checks["forward"], "status": "error",
                                             "type": "RuntimeError"}
    _, results = run("tests.fault_adapters:GarbageAdapter", SMOKE)
    assert all(res.checks["forward"]["status"] in ("ok", "unsupported") for res in results)
