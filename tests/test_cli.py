"""The CLI end to end with the numpy adapter: run, list, explain, exit codes, report contents."""

import json
import re
import shutil
import subprocess
import sys
import textwrap
import urllib.parse

import pytest

from harness.cli import main
from tests import mdtable


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    rc = main(["run", "cases/smoke.yaml", "--frameworks", "numpy", "--out", str(out)])
    return rc, out


def test_run_writes_results_and_report(smoke_run):
    rc, out = smoke_run
    assert rc == 0
    doc = json.loads((out / "results.json").read_text())
    recs = doc["results"]
    assert {r["framework"] for r in recs} == {"numpy"}
    assert {r["check"] for r in recs} == {"forward", "grad"}
    keys = {"case", "params", "framework", "version", "device", "check", "verdict", "convention",
            "detail"}
    assert all(keys <= set(r) for r in recs)
    numeric = [r for r in recs if "max_ulp" in r]
    assert numeric and all({"max_abs", "max_rel", "bound", "bound_ulp"} <= set(r) for r in numeric)
    by = {(r["case"], r["check"]): r for r in recs}
    bf16 = next(r for (c, _), r in by.items() if "-bf16-" in c)
    assert bf16["verdict"] == "unsupported" and "bfloat16" in bf16["detail"]
    neg = next(r for (c, _), r in by.items() if "bad=label-negative" in c)
    assert neg["verdict"] == "bad-input-accepted"  # numpy's fancy indexing wraps -1 silently
    assert doc["grid"]["cases"] == len({r["case"] for r in recs}) and doc["grid"]["hash"]
    md = (out / "report.md").read_text()
    for section in ("## Environment", "## Verdicts", "## Conformance by feature",
                    "## Worst numerical error by dtype", "## Invalid input", "## Needs review",
                    "## Bad input accepted", "## Run"):
        assert section in md, section
    verdicts = mdtable.rows(mdtable.section(md, "Verdicts"))
    assert verdicts[0][0] == "numpy" and verdicts[0][2] == str(len(recs))
    assert "figures/error-vs-bound-forward.png" in md
    assert (out / "figures" / "error-vs-bound-forward.png").stat().st_size > 1000
    assert "```python" not in md  # the reproducers are files beside it, linked
    review = mdtable.rows(mdtable.section(md, "Needs review"))
    assert any("bad=label-negative" in row[2] and "reproducers/" in row[-1] for row in review)


def test_reproducer_files_run_from_a_clean_folder_and_show_the_silent_acceptance(smoke_run,
                                                                                 tmp_path):
    _, out = smoke_run
    md = (out / "report.md").read_text()
    row = next(row for row in mdtable.rows(mdtable.section(md, "Bad input accepted"))
               if row[0] == "numpy" and row[1] == "label-negative")
    name = re.search(r"\(reproducers/([^)]+)\)", row[5]).group(1)
    script = out / "reproducers" / urllib.parse.unquote(name)
    assert script.is_file() and script.name.endswith("--numpy--forward.py")
    clean = tmp_path / "clean"
    clean.mkdir()
    shutil.copy(script, clean)
    res = subprocess.run([sys.executable, script.name], cwd=clean, capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    got = re.match(r"got: dtype float32, shape \[\]: array\(([-0-9.e]+)", lines[0])
    assert got and float(got.group(1)) > 0, lines  # a loss came back for a label of -1
    assert lines[1].startswith("expected (an error: ValueError") and "label" in lines[1], lines


def test_every_reproducer_file_of_a_report_is_linked_and_every_link_exists(smoke_run):
    _, out = smoke_run
    md = (out / "report.md").read_text()
    linked = {urllib.parse.unquote(n) for n in re.findall(r"\(reproducers/([^)]+\.py)\)", md)}
    files = {p.name for p in (out / "reproducers").glob("*.py")}
    assert linked and linked == files
    for name in files:  # each is Python that names its case, framework and check
        text = (out / "reproducers" / name).read_text()
        compile(text, name, "exec")
        case, framework, check = name[:-3].split("--")
        assert f"# case {case}" in text and f"reproducer: {framework} " in text


def test_two_runs_are_identical_apart_from_timing(smoke_run, tmp_path):
    _, out = smoke_run
    assert main(["run", "cases/smoke.yaml", "--frameworks", "numpy", "--out", str(tmp_path)]) == 0
    a = json.loads((out / "results.json").read_text())
    b = json.loads((tmp_path / "results.json").read_text())
    a.pop("timing"), b.pop("timing")
    assert a == b
    def without_run(p):  # the Run section holds the date and durations
        return p.read_text().split("\n## Run\n")[0]

    assert without_run(out / "report.md") == without_run(tmp_path / "report.md")
    assert (out / "figures" / "error-vs-bound-grad.png").read_bytes() == (
        tmp_path / "figures" / "error-vs-bound-grad.png").read_bytes()
    names = sorted(p.name for p in (out / "reproducers").iterdir())
    assert names and names == sorted(p.name for p in (tmp_path / "reproducers").iterdir())
    for n in names:  # the reproducers (and any .npz beside them) byte for byte
        assert (out / "reproducers" / n).read_bytes() == (tmp_path / "reproducers" / n).read_bytes()


def test_usage_errors_exit_2_with_a_clear_message(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(textwrap.dedent("""
        blocks:
          - grid:
              shape: [[4, 3]]
              dtype: [float8]
        """))
    assert main(["run", str(bad), "--frameworks", "numpy", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:5:" in err and "'dtype'" in err
    assert main(["run", "cases/smoke.yaml", "--frameworks", "nosuch", "--out", str(tmp_path)]) == 2
    assert "unknown adapter 'nosuch'" in capsys.readouterr().err
    assert main(["run", "cases/smoke.yaml", "-k", "soft and (", "--out", str(tmp_path)]) == 2
    assert main(["run", "cases/smoke.yaml", "-k", "nothing-matches-this", "--out", str(tmp_path)]) == 2
    assert not (tmp_path / "results.json").exists()
    with pytest.raises(SystemExit) as e:
        main(["run", "--no-such-flag"])
    assert e.value.code == 2


def test_list_and_explain(capsys):
    assert main(["list", "--frameworks", "numpy,torch", "cases/smoke.yaml", "-k", "soft"]) == 0
    out = capsys.readouterr().out
    assert "numpy [" in out and "torch" in out and "soft-weight-per-class" in out
    assert "cases (" in out and all("soft" in line for line in out.split("cases (")[1].splitlines()[1:])
    cid = "hard-mean-w=random-ii=-100-ax=-1-f64-6x5"
    assert main(["explain", cid, "cases/smoke.yaml", "--frameworks", "numpy", "--reproducer"]) == 0
    out = capsys.readouterr().out
    assert f"case {cid}" in out and "reference forward:" in out
    assert "numpy forward" in out and ": pass" in out and "numpy_cross_entropy(" in out
    assert main(["explain", "no-such-case", "cases/smoke.yaml"]) == 2


def test_module_entry_point():
    res = subprocess.run([sys.executable, "-m", "harness", "list", "--frameworks", "numpy"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "numpy" in res.stdout


def test_a_second_interpreter_runs_side_by_side_and_the_report_compares_versions(tmp_path):
    out = tmp_path / "up"
    assert main(["run", "cases/smoke.yaml", "--frameworks", "numpy,numpy@other", "--python",
                 f"numpy@other={sys.executable}", "--out", str(out), "-k", "f64"]) == 0
    doc = json.loads((out / "results.json").read_text())
    assert {r["framework"] for r in doc["results"]} == {"numpy", "numpy@other"}
    assert doc["environment"]["frameworks"]["numpy@other"]["interpreter"] == sys.executable
    md = (out / "report.md").read_text()
    assert "## What changed between versions" in md
    assert "0 changed verdict, convention or error behaviour" in md


def test_version_section_lists_changed_verdicts():
    from harness.report import _versions_section

    def rec(fw, version, verdict, conv=None):
        return {"framework": fw, "version": version, "case": "c1", "check": "forward",
                "verdict": verdict, "convention": conv, "max_ulp": 1.0, "worst_got": 0.5}

    lines = "\n".join(_versions_section([rec("paddle", "3.3.1", "pass"),
                                         rec("paddle@old", "3.2.2", "divergent", "x")]))
    assert "paddle (3.3.1) vs paddle@old (3.2.2)" in lines
    assert ["`c1`", "forward", "pass", "divergent (x)"] in mdtable.rows(lines)
    assert re.search(r"\| case +\| check +\| paddle \(3.3.1\) +\| paddle@old \(3.2.2\) +\|", lines)
    assert main(["run", "--frameworks", "numpy@", "cases/smoke.yaml"]) == 2  # empty label


def test_an_unwritable_output_folder_is_a_clear_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["run", "cases/smoke.yaml", "--frameworks", "numpy", "-k", "f64 and hard-mean",
                 "--out", str(blocker / "reports")]) == 2
    assert "cannot write" in capsys.readouterr().err


# ----------------------------------------------------------------------------- runs that cannot be judged


def test_a_run_in_which_no_adapter_could_start_exits_1_naming_it(tmp_path, capsys):
    grid = tmp_path / "g.yaml"
    grid.write_text("blocks:\n  - cases: [{shape: [2, 3]}]\n")
    rc = main(["run", str(grid), "--frameworks", "tests.fault_adapters:BrokenSetupAdapter",
               "--out", str(tmp_path / "o"), "--expectations", ""])
    err = capsys.readouterr().err
    assert rc == 1
    assert "adapter brokensetup could not start" in err and "deliberate" in err and "0 run" in err


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "soon"])
def test_a_timeout_that_is_not_a_positive_number_is_refused(value, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["run", "cases/smoke.yaml", "--frameworks", "numpy", "--timeout", value,
              "--out", str(tmp_path)])
    assert e.value.code == 2 and "--timeout" in capsys.readouterr().err


def test_a_missing_expectations_file_is_an_error(tmp_path, capsys):
    rc = main(["run", "cases/smoke.yaml", "--frameworks", "numpy", "--out", str(tmp_path / "o"),
               "--expectations", str(tmp_path / "nope.yaml")])
    assert rc == 2 and "nope.yaml: no such file" in capsys.readouterr().err
    assert not (tmp_path / "o" / "results.json").exists()


def test_the_default_expectations_are_found_beside_the_case_file_not_in_the_cwd(tmp_path,
                                                                              monkeypatch):
    from harness.cli import default_expectations

    root = __import__("pathlib").Path(__file__).resolve().parent.parent
    monkeypatch.chdir(tmp_path)  # no cases/ here
    assert default_expectations([str(root / "cases" / "smoke.yaml")]) == str(
        root / "cases" / "expectations.yaml")
    own = tmp_path / "mine"
    own.mkdir()
    (own / "expectations.yaml").write_text("[]\n")
    (own / "g.yaml").write_text("blocks:\n  - cases: [{shape: [2, 3]}]\n")
    assert default_expectations([str(own / "g.yaml")]) == str(own / "expectations.yaml")
    # a case file with no expectations beside it falls back to the repository's, from any cwd
    (tmp_path / "g.yaml").write_text("blocks:\n  - cases: [{shape: [2, 3]}]\n")
    assert default_expectations([str(tmp_path / "g.yaml")]) == str(
        root / "cases" / "expectations.yaml")


def test_version_and_the_exit_status_of_list(capsys):
    import importlib.metadata

    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == (
        f"xent-parity {importlib.metadata.version('xent-parity')}")
    assert main(["list", "--frameworks", "numpy"]) == 0
    assert main(["list", "--frameworks", "numpy,no.such.module:Ghost"]) == 1
    out = capsys.readouterr().out
    assert "numpy [" in out and "no.such.module:Ghost" in out


def test_every_built_in_adapter_names_an_extra_that_exists():
    import tomllib
    from pathlib import Path

    from harness.adapters import BUILTIN, load_class

    extras = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text()
                           )["project"]["optional-dependencies"]
    for name, ref in BUILTIN.items():
        cls = load_class(ref)
        assert cls.extra == "" or cls.extra in extras, (name, cls.extra)
        assert cls.extra or cls.module == "numpy", f"{name}: no install hint"


def test_report_text_cannot_turn_into_markdown_emphasis():
    from harness.report import _md_escape

    assert _md_escape("Loss.__call__ casts | *labels*") == (
        "Loss.\\_\\_call\\_\\_ casts \\| \\*labels\\*")


def test_exit_status_is_0_ok_1_failed_2_usage_for_every_command(smoke_run, tmp_path):
    """The documented exit status (README, harness.cli), from the real command line: no
    traceback in any of them."""
    _, out = smoke_run
    results = out / "results.json"
    worse = json.loads(results.read_text())
    r = next(r for r in worse["results"] if r["verdict"] == "pass")
    r.update(verdict="error", detail="raised RuntimeError on valid input: planted")
    worse_path = tmp_path / "worse.json"
    worse_path.write_text(json.dumps(worse))
    grid = tmp_path / "bad.yaml"
    grid.write_text("xent-parity: 1\nblocks:\n  - grid: {dtype: [float128]}\n")
    cases = [
        (["--version"], 0, ""),
        (["list", "--frameworks", "numpy"], 0, ""),
        (["compare", "numpy", "numpy@x", "--results", str(results)], 2, "is not in"),
        (["gate", "--baseline", str(results), "--results", str(results)], 0, ""),
        (["gate", "--baseline", str(results), "--results", str(worse_path)], 1, ""),
        (["gate", "--baseline", str(results), "--results", str(tmp_path / "none.json")], 2,
         "cannot read"),
        (["list", "--frameworks", "no_such_module_xyz:Adapter"], 1, "cannot load"),
        (["run", "cases/smoke.yaml", "--frameworks", "numpy", "-k", "(soft", "--out",
          str(tmp_path / "r")], 2, "missing ')'"),
        (["run", str(grid), "--frameworks", "numpy", "--out", str(tmp_path / "r")], 2,
         "bad.yaml:3"),
        (["run", "cases/smoke.yaml", "--frameworks", "nonexistent", "--out", str(tmp_path / "r")],
         2, "nonexistent"),
        (["frobnicate"], 2, "invalid choice"),
    ]
    for argv, status, message in cases:
        res = subprocess.run([sys.executable, "-m", "harness", *argv], capture_output=True,
                             text=True, timeout=120)
        assert res.returncode == status, (argv, res.returncode, res.stderr[-2000:])
        assert "Traceback" not in res.stderr, (argv, res.stderr)
        assert message in res.stderr + res.stdout, (argv, res.stderr)


def test_a_run_of_ones_own_case_file_lists_no_unmatched_repository_entries(tmp_path):
    grid = tmp_path / "mine.yaml"
    grid.write_text("xent-parity: 1\nblocks:\n  - cases:\n"
                    "      - {shape: [4, 3], reduction: mean, dtype: float64}\n")
    assert main(["run", str(grid), "--frameworks", "numpy", "--out", str(tmp_path / "a")]) == 0
    doc = json.loads((tmp_path / "a" / "results.json").read_text())
    assert doc["expectations"]["entries"] > 0 and doc["expectations"]["unmatched"] == []
    assert "## Expectations that matched nothing" not in (tmp_path / "a" / "report.md").read_text()
    assert main(["run", str(grid), "--frameworks", "numpy", "--out", str(tmp_path / "b"),
                 "--expectations", "cases/expectations.yaml"]) == 0  # named: listed
    doc = json.loads((tmp_path / "b" / "results.json").read_text())
    assert doc["expectations"]["unmatched"]
