"""Files are data, never code; signals and shared folders never cost results (issue: a CI owner
merges shard results from many machines and gates whatever a run wrote)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.cli import main

ROOT = Path(__file__).resolve().parent.parent
SMOKE = str(ROOT / "cases" / "smoke.yaml")




def _write(path, doc):
    path.write_text(json.dumps(doc))
    return str(path)


# ----------------------------------------------------------------------------- injection


def test_merge_never_imports_a_framework_named_in_a_results_file(shards, tmp_path, monkeypatch,
                                                                 capsys):
    """A record naming `module:Class`, with such a module in the current directory, in a file
    marked as the only shard: merge must neither import it nor paste the injected version."""
    marker = tmp_path / "pwned"
    (tmp_path / "evil_shard_mod.py").write_text(
        f"open({str(marker)!r}, 'w').write('x')\nclass Evil: pass\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    doc = json.loads(json.dumps(shards[0]))
    doc["grid"]["shard"] = "1/1"
    for r in doc["results"]:
        if r["verdict"] == "bad-input-accepted":
            r["framework"] = "evil_shard_mod:Evil"
            r["version"] = "1.0\nimport os; os.system('touch INJECTED')\n#"
    doc["environment"]["frameworks"]["evil_shard_mod:Evil"] = dict(
        doc["environment"]["frameworks"]["numpy"])
    p = _write(tmp_path / "crafted.json", doc)
    rc = main(["merge", p, "--out", str(tmp_path / "merged")])
    assert not marker.exists(), "merge imported a module named in a results file"
    assert rc in (0, 2)
    if rc == 0:
        md = (tmp_path / "merged" / "report.md").read_text()
        assert "\nimport os; os.system" not in md


def test_a_reproducer_keeps_every_value_of_a_record_inside_its_comments():
    from harness.inputs import generate_inputs
    from harness.cases import load_case_file
    from harness.reproducer import reproducer

    case = load_case_file(SMOKE)[0]
    data = generate_inputs(case.params, case.id)
    src = reproducer(case.id, data, "harness.adapters.numpy_adapter:NumpyAdapter", "forward",
                     "2.0\nimport os\r#", "cpu\u2028x = 1", "verdict: x\rprint('pwned')")
    compile(src, "<reproducer>", "exec")  # it is still Python
    lines = src.splitlines()
    assert not any(ln.startswith(("import os", "print('pwned')", "x = 1")) for ln in lines)
    assert "print('pwned')" not in "\n".join(ln for ln in lines if not ln.startswith("#"))


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(results="nope"), "results: 'nope' is not of type 'array'"),
    (lambda d: d["results"][0].update(check="sideways"), "results[0].check"),
    (lambda d: d["grid"].update(shard="1/x"), "grid.shard '1/x' is not K/N"),
    (lambda d: d["timing"].update(started=3), "timing.started"),
    (lambda d: d["results"][0].update(case="no-such-case"), "is not a case of the grid"),
])
def test_merge_of_an_unusable_shard_is_a_clean_exit_2(shards, tmp_path, capsys, mutate, message):
    a, b = json.loads(json.dumps(shards[0])), json.loads(json.dumps(shards[1]))
    mutate(a)
    rc = main(["merge", _write(tmp_path / "a.json", a), _write(tmp_path / "b.json", b),
               "--out", str(tmp_path / "m")])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and "Traceback" not in err, err


def test_merge_after_the_grid_was_edited_is_refused(shards, tmp_path, capsys):
    a, b = (json.loads(json.dumps(s)) for s in shards)
    for d in (a, b):
        d["grid"]["hash"] = "0000000000000000"
    rc = main(["merge", _write(tmp_path / "a.json", a), _write(tmp_path / "b.json", b),
               "--out", str(tmp_path / "m")])
    assert rc == 2 and "were they edited?" in capsys.readouterr().err


# ----------------------------------------------------------------------------- bounded loading


def test_an_alias_bomb_is_refused_within_a_second(tmp_path, capsys):
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    lines.append("blocks: [*a8]")
    p = tmp_path / "bomb.yaml"
    p.write_text("\n".join(lines) + "\n")
    assert len(p.read_bytes()) < 700
    t0 = time.perf_counter()
    rc = main(["list", str(p)])
    assert time.perf_counter() - t0 < 1.0
    assert rc == 2 and "once its aliases are expanded" in capsys.readouterr().err


@pytest.mark.parametrize("special", ["/dev/zero", "/dev/urandom", "fifo", "dir"])
def test_special_files_are_refused_without_blocking(tmp_path, capsys, special):
    if special == "fifo":
        path = tmp_path / "cases.yaml"
        os.mkfifo(path)
    elif special == "dir":
        path = tmp_path
    else:
        path = special
    t0 = time.perf_counter()
    assert main(["list", str(path)]) == 2
    assert time.perf_counter() - t0 < 5
    assert "not a regular file" in capsys.readouterr().err


def test_a_case_file_larger_than_the_limit_is_refused(tmp_path, capsys):
    from harness import cases

    p = tmp_path / "big.yaml"
    p.write_text("# " + "x" * (cases.MAX_FILE_BYTES + 10) + "\nblocks: []\n")
    assert main(["list", str(p)]) == 2
    assert "more than the" in capsys.readouterr().err


# ----------------------------------------------------------------------------- honest case files


@pytest.mark.parametrize("text, message", [
    ("blocks:\n  - cases: [{shape: [2, 3]}]\n    exclude: [{dtype: float16}]\n",
     "only a 'grid' block has exclusions"),
    ("blocks:\n  - grid: {dtype: [float32, float64]}\n    exclude: [{dtype: flaot64}]\n"
     "defaults: {shape: [2, 3]}\n", "matches no combination"),
    ("blocks:\n  - cases: [{shape: [2, 3], label: soft, ignore_frac: 0.5}]\n",
     "this case means nothing: soft labels ignore nothing"),
])
def test_case_files_are_honest(tmp_path, capsys, text, message):
    p = tmp_path / "g.yaml"
    p.write_text(text)
    assert main(["list", str(p)]) == 2
    err = capsys.readouterr().err
    assert message in err and f"{p}:" in err


def test_a_case_the_harness_cannot_build_is_a_case_file_error(tmp_path, capsys, monkeypatch):
    import harness.case_reference as runner

    real = runner.unbuildable
    monkeypatch.setattr(runner, "unbuildable", lambda cases: [(cases[0], "planted")] + real(cases))
    p = tmp_path / "g.yaml"
    p.write_text("blocks:\n  - cases: [{shape: [2, 3]}]\n")
    assert main(["run", str(p), "--frameworks", "numpy", "--out", str(tmp_path / "o")]) == 2
    assert "cannot judge (a contradiction of the case file" in capsys.readouterr().err
    assert not (tmp_path / "o" / "results.json").exists()


def test_every_committed_grid_is_buildable():
    from harness.cases import load_cases
    from harness.case_reference import unbuildable

    for grid in ("smoke.yaml", "default.yaml"):
        assert unbuildable(load_cases([ROOT / "cases" / grid])) == []


# ----------------------------------------------------------------------------- the output folder


def test_a_second_run_on_the_same_out_is_refused_naming_the_first(tmp_path):
    out = tmp_path / "out"
    first = subprocess.Popen([sys.executable, "-m", "harness", "run", SMOKE, "--frameworks",
                              "tests.fault_adapters:HangAdapter", "--out", str(out),
                              "--timeout", "30", "--expectations", ""],
                             cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (out / ".lock").exists() or not (out / ".lock").read_text():
            assert time.monotonic() < deadline and first.poll() is None
            time.sleep(0.05)
        second = subprocess.run([sys.executable, "-m", "harness", "run", SMOKE, "--frameworks",
                                 "numpy", "--out", str(out)], cwd=ROOT, capture_output=True,
                                text=True, timeout=120)
        assert second.returncode == 2
        assert f"pid {first.pid}" in second.stderr and "in use by another" in second.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)


# ----------------------------------------------------------------------------- signals


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_the_reports_are_written_loses_nothing(tmp_path, sig):
    """The signal arrives once every case is done, while the reports are being written (the
    figures take seconds): complete files, no worker and no spill directory left behind."""
    out, spill = tmp_path / "out", tmp_path / "spill"
    spill.mkdir()
    env = {**os.environ, "XENT_PARITY_TMPDIR": str(spill), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "harness", "run", SMOKE, "--frameworks",
                             "numpy", "--out", str(out)], cwd=ROOT, env=env,
                            stderr=subprocess.PIPE, text=True)
    seen = ""
    while True:  # the last progress line: every case is done, the reports come next
        line = proc.stderr.readline()
        seen += line
        if not line or "cases x 1 frameworks" in line or (
                "[" in line and line.split("/")[0].strip("[") == line.split("/")[1].split()[0]):
            break
    proc.send_signal(sig)
    rest = proc.communicate(timeout=120)[1]
    seen += rest
    assert proc.returncode in (0, 130), seen
    doc = json.loads((out / "results.json").read_text())
    assert doc.get("complete", True) is True or "resume with: " in seen
    assert "## Verdicts" in (out / "report.md").read_text()
    assert not [p for p in spill.iterdir() if p.name.startswith("xent-parity-")]
    ps = subprocess.run(["pgrep", "-f", f"harness.worker.*{spill.name}"], capture_output=True)
    assert ps.stdout.strip() == b""


def test_the_resume_command_is_shell_quoted(tmp_path):
    import shlex

    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "harness", "run", SMOKE, "--frameworks", "numpy", "-k",
           "soft and not f16", "--out", str(out)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (out / ".partial.jsonl").exists() or (
            out / ".partial.jsonl").read_text().count("end-of-batch") < 1:
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=60)[1]
    if "resume with:" not in err:  # the run finished first: nothing to resume
        assert proc.returncode in (0, 130)
        return
    hint = err.split("resume with:")[1].strip().splitlines()[0]
    argv = shlex.split(hint)
    assert argv[argv.index("-k") + 1] == "soft and not f16" and argv[-1] == "--resume"


# ----------------------------------------------------------------------------- start-up


def test_a_worker_that_hangs_while_importing_is_bounded_by_the_startup_timeout(tmp_path, capsys):
    t0 = time.perf_counter()
    rc = main(["run", SMOKE, "--frameworks", "tests.fault_adapters:HangingSetupAdapter",
               "--startup-timeout", "2", "--out", str(tmp_path), "--expectations", ""])
    assert time.perf_counter() - t0 < 30
    err = capsys.readouterr().err
    assert rc == 1 and "did not start within 2 s" in err and "--startup-timeout" in err


@pytest.mark.parametrize("expr, message", [
    ("(soft", "missing ')'"), ("soft and", "expected a term"), ("soft )", "unexpected ')'"),
    ("(" * 500 + "soft" + ")" * 500, "nested more than"), ("not " * 3000 + "soft", "nested"),
])
def test_a_bad_k_expression_is_a_clean_usage_error(capsys, expr, message):
    assert main(["list", SMOKE, "-k", expr]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
