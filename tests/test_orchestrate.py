"""Shards merge into the unsharded result; an interrupted run leaves valid partial results and
resumes to the same final files without recomputing finished cases."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.cli import main
from harness.orchestrate import PARTIAL, parse_shard, shard_of

ROOT = Path(__file__).resolve().parent.parent


def load(p):
    doc = json.loads(Path(p).read_text())
    doc.pop("timing")
    return doc


def report_body(p):
    return Path(p).read_text().split("\n## Run\n")[0]


def test_shard_parsing_and_split_are_stable():
    assert parse_shard("2/3") == (2, 3) and parse_shard(None) is None
    for bad in ("0/3", "4/3", "x", "1/0", "2"):
        with pytest.raises(ValueError):
            parse_shard(bad)
    # the split is a fixed function of the ID (not of the process: hash() is salted per process),
    # and it spreads a grid over every shard
    from harness.cases import load_cases

    ids = [c.id for c in load_cases(["cases/default.yaml"])]
    code = ("from harness.orchestrate import shard_of; import sys; "
            "print([shard_of(i, 7) for i in sys.argv[1:]])")
    here = [shard_of(i, 7) for i in ids[:50]]
    there = subprocess.run([sys.executable, "-c", code, *ids[:50]], capture_output=True,
                           text=True, cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": "123"})
    assert there.stdout.strip() == str(here), there.stderr
    assert {shard_of(i, 7) for i in ids} == set(range(7))


def test_merged_shards_equal_the_unsharded_run(tmp_path):
    args = ["cases/smoke.yaml", "--frameworks", "numpy"]
    assert main(["run", *args, "--out", str(tmp_path / "all")]) == 0
    for k in (1, 2, 3):
        assert main(["run", *args, "--shard", f"{k}/3", "--out", str(tmp_path / f"s{k}")]) == 0
    sizes = [load(tmp_path / f"s{k}" / "results.json")["grid"]["shard_cases"] for k in (1, 2, 3)]
    assert all(sizes) and sum(sizes) == load(tmp_path / "all" / "results.json")["grid"]["cases"]
    shards = [str(tmp_path / f"s{k}" / "results.json") for k in (3, 1, 2)]
    assert main(["merge", *shards, "--out", str(tmp_path / "merged")]) == 0
    assert load(tmp_path / "merged" / "results.json") == load(tmp_path / "all" / "results.json")
    assert report_body(tmp_path / "merged" / "report.md") == report_body(
        tmp_path / "all" / "report.md")
    # an incomplete set of shards is refused
    assert main(["merge", *shards[:2], "--out", str(tmp_path / "bad")]) == 2


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_run_keeps_partial_results_and_resumes_to_the_same_files(tmp_path, sig):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "harness", "run", "cases/smoke.yaml", "--frameworks",
           "tests.fault_adapters:SlowAdapter", "--batch-size", "3", "--out", str(out)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180  # generous: CI machines can be loaded
    while True:  # wait for a finished batch in the checkpoint (the header line ends one too)
        p = out / PARTIAL
        if p.exists() and p.read_text().count("end-of-batch") >= 2:
            break
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail(f"no batch finished in time: {proc.communicate()[1][-2000:]}")
        time.sleep(0.05)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    hint = err.split("resume with:")[1].strip().splitlines()[0]
    assert hint.startswith("xent-parity run cases/smoke.yaml") and hint.endswith(" --resume")
    partial = json.loads((out / "results.json").read_text())
    assert partial["complete"] is False
    done = {r["case"] for r in partial["results"]}
    assert 0 < len(done) < partial["grid"]["cases"]
    assert "## Verdicts" in (out / "report.md").read_text()

    res = subprocess.run(cmd + ["--resume"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert f"resuming: {len(done)} cases done before" in res.stderr
    assert not (out / PARTIAL).exists()

    fresh = tmp_path / "fresh"
    res = subprocess.run(cmd[:-1] + [str(fresh)], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    resumed, uninterrupted = load(out / "results.json"), load(fresh / "results.json")
    assert "complete" not in resumed
    assert resumed == uninterrupted
    assert report_body(out / "report.md") == report_body(fresh / "report.md")


def test_resume_refuses_a_checkpoint_of_another_run(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / PARTIAL).write_text(json.dumps({"fingerprint": {"grid": {"hash": "other"}}}) + "\n")
    assert main(["run", "cases/smoke.yaml", "--frameworks", "numpy", "--out", str(out),
                 "--resume"]) == 2
