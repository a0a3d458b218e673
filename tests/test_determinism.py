"""Determinism: the same grid on the same versions gives byte-identical `results.json` (apart from
its `timing` section, the last key) and the same report.md (apart from its "Run" section): run
twice, with another batch size, with the frameworks named in another order, and sharded (the
shards running in parallel, then `merge`). Under pytest, serial and `-n 2` (pytest-xdist) give the
same outcome for every item. All on the numpy adapter and cases/smoke.yaml.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.cases import load_cases
from harness.cli import main

ROOT = Path(__file__).resolve().parent.parent
SMOKE = "cases/smoke.yaml"
TIMING = '\n "timing": '


def stable_bytes(out: Path) -> bytes:
    """results.json up to its timing section, which must be the document's last key."""
    raw = (out / "results.json").read_bytes()
    doc = json.loads(raw)
    assert list(doc)[-1] == "timing", list(doc)
    head, sep, tail = raw.partition(TIMING.encode())
    assert sep and tail.count(TIMING.encode()) == 0
    json.loads(tail.rstrip()[:-1])  # the timing section parses on its own: nothing else after it
    return head


def report_body(out: Path) -> bytes:
    text = (out / "report.md").read_bytes()
    assert text.count(b"\n## Run\n") == 1
    return text.split(b"\n## Run\n")[0]


def _run(out: Path, *extra: str, frameworks: str = "numpy") -> Path:
    code = main(["run", SMOKE, "--frameworks", frameworks, "--out", str(out), *extra])
    assert code == 0
    return out


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        return _run(tmp_path_factory.mktemp("det") / "serial")
    finally:
        os.chdir(cwd)


@pytest.fixture(autouse=True)
def at_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def test_two_runs_are_byte_identical_apart_from_timing(serial, tmp_path):
    again = _run(tmp_path / "again")
    assert stable_bytes(again) == stable_bytes(serial)
    assert report_body(again) == report_body(serial)
    doc = json.loads((serial / "results.json").read_text())
    # the comparison is not vacuous: every case, and timing really is what differs
    assert len(doc["results"]) > 50 and doc["grid"]["cases"] == len(load_cases([SMOKE]))
    assert set(doc["timing"]) >= {"started", "finished", "breakdown_s"}


def test_batch_size_does_not_change_the_results(serial, tmp_path):
    one = _run(tmp_path / "one", "--batch-size", "1")
    assert stable_bytes(one) == stable_bytes(serial)
    assert report_body(one) == report_body(serial)


def test_the_order_of_the_frameworks_does_not_change_the_results(tmp_path):
    garbage = "tests.fault_adapters:GarbageAdapter"
    a = _run(tmp_path / "a", "-k", "f64", frameworks=f"numpy,{garbage}")
    b = _run(tmp_path / "b", "-k", "f64", frameworks=f"{garbage},numpy")
    assert {r["framework"] for r in json.loads((a / "results.json").read_text())["results"]} == {
        "numpy", "garbage"}
    assert stable_bytes(a) == stable_bytes(b)
    assert report_body(a) == report_body(b)


def test_parallel_shards_merged_equal_the_serial_run(serial, tmp_path):
    procs = []
    for k in (1, 2):
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "harness", "run", SMOKE, "--frameworks", "numpy",
             "--shard", f"{k}/2", "--out", str(tmp_path / f"s{k}")],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for p in procs:  # both shards run at the same time
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    sizes = [json.loads((tmp_path / f"s{k}" / "results.json").read_text())["grid"]["shard_cases"]
             for k in (1, 2)]
    assert all(sizes) and sum(sizes) == len(load_cases([SMOKE]))
    shards = [str(tmp_path / f"s{k}" / "results.json") for k in (2, 1)]
    assert main(["merge", *shards, "--out", str(tmp_path / "merged")]) == 0
    assert stable_bytes(tmp_path / "merged") == stable_bytes(serial)
    assert report_body(tmp_path / "merged") == report_body(serial)


def _junit_outcomes(xml: Path) -> dict[str, tuple[str, str]]:
    out = {}
    for tc in ET.parse(xml).getroot().iter("testcase"):
        name = f"{tc.get('classname')}::{tc.get('name')}"
        outcome, message = "passed", ""
        for child in tc:
            if child.tag in ("failure", "error", "skipped"):
                outcome, message = child.tag, child.get("message", "")
                if child.tag == "skipped" and child.get("type") == "pytest.xfail":
                    outcome = "xfailed"
        out[name] = (outcome, message)
    return out


def test_pytest_serial_and_xdist_give_the_same_outcomes(tmp_path):
    try:
        import xdist  # noqa: F401
    except ImportError:
        pytest.skip("pytest-xdist is not installed: cannot compare serial with -n 2")
    runs = {}
    for label, extra in (("serial", []), ("xdist", ["-n", "2"])):
        xml = tmp_path / f"{label}.xml"
        res = subprocess.run(
            [sys.executable, "-m", "pytest", SMOKE, "--frameworks", "numpy", "-q",
             "-p", "no:cacheprovider", f"--junitxml={xml}", "-o", "junit_family=xunit1", *extra],
            cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert res.returncode in (0, 1), res.stdout[-3000:] + res.stderr[-3000:]
        runs[label] = _junit_outcomes(xml)
    assert len(runs["serial"]) > 50
    assert runs["xdist"] == runs["serial"]
