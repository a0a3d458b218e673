"""The regression gate: exit codes 0/1/2 and the diff text, from one real numpy run and mutated
copies of it; --update writes atomically; unusable files exit 2 with a clear message."""

import argparse
import copy
import json
import os
from pathlib import Path

import pytest

from harness import report
from harness.cli import main
from harness.gate import add_gate_parser, cmd_gate, main_gate

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def real_doc(tmp_path_factory):
    out = tmp_path_factory.mktemp("gate-run")
    rc = main(["run", str(ROOT / "cases" / "smoke.yaml"), "--frameworks", "numpy",
               "--out", str(out)])
    assert rc == 0
    doc = json.loads((out / "results.json").read_text())
    assert any("max_ulp" in r for r in doc["results"])
    return doc


@pytest.fixture
def docs(real_doc):
    """(baseline, results): two independent copies of the real run, to mutate."""
    return copy.deepcopy(real_doc), copy.deepcopy(real_doc)


class Gate:
    def __init__(self, tmp_path, capsys):
        self.tmp, self.capsys = tmp_path, capsys

    def write(self, name, doc) -> Path:
        p = self.tmp / name
        p.write_text(json.dumps(doc, indent=1))
        return p

    def __call__(self, base, res, *extra):
        b = base if isinstance(base, (str, Path)) else self.write("baseline.json", base)
        r = res if isinstance(res, (str, Path)) else self.write("results.json", res)
        rc = main_gate(["--baseline", str(b), "--results", str(r), *extra])
        cap = self.capsys.readouterr()
        assert "Traceback" not in cap.out + cap.err
        return rc, cap.out, cap.err


@pytest.fixture
def run_gate(tmp_path, capsys):
    return Gate(tmp_path, capsys)


def rec(doc, pred=lambda r: True):
    """The first record of `doc` matching `pred`."""
    return next(r for r in doc["results"] if pred(r))


def numeric(r):
    return "max_ratio" in r


def key(r):
    return (r["case"], r["framework"], r["check"])


def same(doc, r):
    """The record of `doc` with the same (case, framework, check) as `r`."""
    return rec(doc, lambda x: key(x) == key(r))


def section(out, name):
    """The lines of one group (REGRESSIONS or IMPROVEMENTS) of the text output."""
    return out.split(name, 1)[1].split("\n\n", 1)[0]


# ----------------------------------------------------------------------------- nothing changed


def test_identical_documents_pass(run_gate, docs):
    rc, out, err = run_gate(*docs)
    assert rc == 0 and err == ""
    assert "REGRESSIONS (none)" in out and "IMPROVEMENTS (none)" in out
    n = len(docs[0]["results"])
    assert f"OK: 0 regressions, 0 improvements; {n} records in the baseline, {n} unchanged" in out
    assert f"grid hash {docs[0]['grid']['hash']} (unchanged" in out


def test_timing_and_detail_changes_are_not_regressions(run_gate, docs):
    base, res = docs
    res["timing"] = {"started": "tomorrow"}
    for r in res["results"]:
        r["detail"] = r["detail"] + " (reworded)"
    assert run_gate(base, res)[0] == 0


# ----------------------------------------------------------------------------- regressions


def test_pass_to_mismatch_regresses_with_figures(run_gate, docs):
    base, res = docs
    r = rec(res, lambda r: r["verdict"] == "pass" and numeric(r))
    r.update(verdict="mismatch", max_ratio=3.5, worst_ulp=300.0, n_bad=1, reason="values")
    old = same(base, r)
    rc, out, _ = run_gate(base, res)
    assert rc == 1
    regs = section(out, "REGRESSIONS (1)")
    assert (f"numpy {r['check']} {r['case']}: pass -> mismatch; error/bound "
            f"{old['max_ratio']:.3g} -> 3.5 (worst element {old['worst_ulp']:.3g} -> 300 ULP") in regs
    assert f"1/{r['n']} beyond the bound" in regs
    assert "FAIL: 1 regression, 0 improvements" in out


def test_pass_to_unsupported_regresses(run_gate, docs):
    base, res = docs
    r = rec(res, lambda r: r["verdict"] == "pass")
    for k in [k for k in r if k.startswith(("max_", "bound", "n", "worst", "dtype_got", "reason"))]:
        r.pop(k)
    r.update(verdict="unsupported", detail="dtype float32 no longer supported")
    rc, out, _ = run_gate(base, res)
    assert rc == 1 and "pass -> unsupported; dtype float32 no longer supported" in out


def test_new_convention_regresses(run_gate, docs):
    base, res = docs
    r = rec(res, lambda r: r["verdict"] == "pass" and numeric(r))
    r.update(verdict="divergent", convention="soft-weight-per-class")
    rc, out, _ = run_gate(base, res)
    assert rc == 1
    assert f"{r['case']}: pass -> divergent (soft-weight-per-class)" in section(out, "REGRESSIONS")


def test_changed_convention_regresses(run_gate, docs):
    base, res = docs
    r = rec(res, numeric)
    same(base, r).update(verdict="divergent", convention="smoothing-weighted-torch")
    r.update(verdict="divergent", convention="soft-weight-per-class")
    rc, out, _ = run_gate(base, res)
    assert rc == 1
    assert ("divergent (smoothing-weighted-torch) -> divergent (soft-weight-per-class)"
            in section(out, "REGRESSIONS (1)"))


def test_changed_error_behaviour_regresses(run_gate, docs):
    base, res = docs
    r = rec(res, lambda r: r["params"].get("invalid"))
    same(base, r).update(verdict="pass", error_behaviour="raises", detail="raised ValueError")
    r.update(verdict="bad-input-accepted", error_behaviour="accepts", detail="accepted silently")
    rc, out, _ = run_gate(base, res)
    assert rc == 1
    assert (f"{r['case']}: pass [raises] -> bad-input-accepted [accepts]; accepted silently"
            in section(out, "REGRESSIONS (1)"))


def test_unsupported_to_divergent_is_a_new_convention(run_gate, docs):
    base, res = docs
    r = rec(res, numeric)
    same(base, r).update(verdict="unsupported", convention=None)
    r.update(verdict="divergent", convention="soft-weight-per-class")
    rc, out, _ = run_gate(base, res)
    assert rc == 1
    assert "unsupported -> divergent (soft-weight-per-class)" in section(out, "REGRESSIONS (1)")


@pytest.mark.parametrize("old, new", [("mismatch", "error"), ("crash", "error"),
                                      ("timeout", "bad-input-accepted"), ("mismatch", "crash"),
                                      ("divergent", "mismatch"), ("unsupported", "mismatch")])
def test_worse_verdicts_and_new_failure_modes_regress(run_gate, docs, old, new):
    base, res = docs
    r = rec(res, lambda r: not numeric(r) and not r["params"].get("invalid"))
    same(base, r).update(verdict=old, convention="c" if old == "divergent" else None)
    r.update(verdict=new, detail=f"now {new}")
    rc, out, _ = run_gate(base, res)
    assert rc == 1, out
    assert f"{r['case']}: {old}" in section(out, "REGRESSIONS (1)")


def test_error_growth_against_the_bound_regresses(run_gate, docs):
    base, res = docs
    r = rec(res, lambda r: r["verdict"] == "pass" and numeric(r))
    same(base, r).update(max_ratio=0.1, worst_ulp=2.0)
    r.update(max_ratio=0.45, worst_ulp=9.0)  # > 0.1 + 0.25
    rc, out, _ = run_gate(base, res)
    assert rc == 1
    assert (f"{r['case']}: pass -> pass; error/bound 0.1 -> 0.45 (worst element 2 -> 9 ULP"
            in section(out, "REGRESSIONS (1)"))
    assert "ratio margin 0.25: an error regresses when new error/bound > old + 0.25 x max(1, old)" \
        in out


@pytest.mark.parametrize("old, new, margin, rc", [
    (0.0, 0.2, [], 0),          # noise within a quarter of the bound
    (0.1, 0.35, [], 0),         # exactly the margin is not beyond it
    (0.1, 0.36, [], 1),
    (0.9, 1.1, [], 0),          # across 1, the verdict decides (it is left as it is here)
    (2.0, 2.4, [], 0),          # beyond the bound: a quarter of the error itself
    (2.0, 2.6, [], 1),
    (0.1, 0.5, ["--ratio-margin", "0.5"], 0),
    (0.1, 0.61, ["--ratio-margin", "0.5"], 1),
    (0.5, "inf", [], 1),        # a NaN/inf pattern now
    ("inf", "inf", [], 0),
])
def test_ratio_margin(run_gate, docs, old, new, margin, rc):
    base, res = docs
    r = rec(res, lambda r: r["verdict"] == "pass" and numeric(r))
    same(base, r)["max_ratio"] = old
    r["max_ratio"] = new
    assert run_gate(base, res, *margin)[0] == rc


def test_max_ulp_alone_never_regresses(run_gate, docs):
    """84 -> 2048 ULP at a tiny element, the error against the bound unchanged: what a pin-unchanged
    run on a CPU without AVX-512 showed; not a regression."""
    base, res = docs
    r = rec(res, lambda r: r["verdict"] == "pass" and numeric(r))
    same(base, r)["max_ulp"] = 84.0
    r["max_ulp"] = 2048.0
    rc, out, _ = run_gate(base, res)
    assert rc == 0 and "REGRESSIONS (none)" in out


def test_either_fitting_convention_is_the_same_outcome(run_gate, docs):
    """A result two conventions explain may name either: on another CPU the other one."""
    base, res = docs
    r = rec(res, numeric)
    same(base, r).update(verdict="divergent", convention="probs-renormalised-clipped",
                         fitting=["probs-renormalised-clipped", "probs-clipped"])
    r.update(verdict="divergent", convention="probs-clipped", fitting=["probs-clipped"])
    assert run_gate(base, res)[0] == 0
    r.update(convention="soft-weight-per-class", fitting=["soft-weight-per-class"])
    rc, out, _ = run_gate(base, res)
    assert rc == 1 and "-> divergent (soft-weight-per-class)" in section(out, "REGRESSIONS (1)")


def test_cpu_and_dispatch_differences_are_information(run_gate, docs):
    base, res = docs
    base["environment"]["cpu"] = {"model": "A", "simd": ["avx2", "avx512f"],
                                  "numpy": {"baseline": ["X86_V2"],
                                            "dispatched": ["X86_V3", "X86_V4"]}}
    res["environment"]["cpu"] = {"model": "B", "simd": ["avx2"],
                                 "numpy": {"baseline": ["X86_V2"], "dispatched": ["X86_V3"]}}
    base["environment"]["frameworks"]["numpy"]["dispatch"] = {"cpu_capability": "AVX512"}
    res["environment"]["frameworks"]["numpy"]["dispatch"] = {"cpu_capability": "AVX2"}
    rc, out, _ = run_gate(base, res)
    assert rc == 0
    assert "cpu model: A -> B (information" in out and "cpu simd: -avx512f" in out
    assert "numpy dispatch cpu_capability: AVX512 -> AVX2" in out


def test_missing_record_regresses(run_gate, docs):
    base, res = docs
    r = res["results"].pop(0)
    rc, out, _ = run_gate(base, res)
    assert rc == 1
    assert (f"numpy {r['check']} {r['case']}: missing (was {r['verdict']}"
            in section(out, "REGRESSIONS (1)"))


def test_framework_unavailable_now_regresses(run_gate, docs):
    base, res = docs
    res["environment"]["frameworks"]["numpy"] = {"unavailable": "ModuleNotFoundError: numpy"}
    res["results"] = []
    rc, out, _ = run_gate(base, res)
    n = len(base["results"])
    assert rc == 1
    assert (f"numpy: unavailable now (ModuleNotFoundError: numpy); {n} baseline records not checked"
            in section(out, "REGRESSIONS (1)"))
    assert "numpy 2" in out and "-> unavailable (ModuleNotFoundError: numpy)" in out


def test_framework_not_run_regresses(run_gate, docs):
    base, res = docs
    fake = [dict(r, framework="fake") for r in base["results"]]
    base["results"] = sorted(base["results"] + fake, key=key)
    base["environment"]["frameworks"]["fake"] = dict(base["environment"]["frameworks"]["numpy"],
                                                     version="1.0")
    rc, out, _ = run_gate(base, res)
    assert rc == 1
    assert f"fake: not in the results (not run); {len(fake)} baseline records not checked" in out
    assert "fake 1.0 -> not run" in out


def test_regressions_and_improvements_together(run_gate, docs):
    base, res = docs
    a = rec(res, lambda r: r["verdict"] == "pass" and numeric(r))
    a.update(verdict="mismatch", max_ratio=1e6)
    b = rec(res, lambda r: key(r) != key(a) and numeric(r))
    same(base, b).update(verdict="mismatch", max_ratio=1e6)
    rc, out, _ = run_gate(base, res)
    assert rc == 1
    assert a["case"] in section(out, "REGRESSIONS (1)")
    assert f"{b['case']}: mismatch -> {b['verdict']}" in section(out, "IMPROVEMENTS (1)")


# ----------------------------------------------------------------------------- informational


def test_version_bump_is_reported_not_a_regression(run_gate, docs):
    base, res = docs
    old = base["environment"]["frameworks"]["numpy"]["version"]
    res["environment"]["frameworks"]["numpy"]["version"] = "9.9.9"
    for r in res["results"]:
        r["version"] = "9.9.9"
    rc, out, _ = run_gate(base, res)
    assert rc == 0
    assert f"  numpy {old} -> 9.9.9\n" in out


def test_grid_hash_change_counts_cases(run_gate, docs):
    base, res = docs
    extra = [dict(r, case=r["case"] + "-new") for r in res["results"][:2]]
    res["results"] = sorted(res["results"] + extra, key=key)
    res["grid"].update(hash="0123456789abcdef", cases=res["grid"]["cases"] + 1)
    rc, out, _ = run_gate(base, res)
    n_new = len({r["case"] for r in extra})
    added = f"{n_new} case{'s' * (n_new != 1)} added, 0 removed"
    assert rc == 0
    assert f"grid hash {base['grid']['hash']} -> 0123456789abcdef: {added}" in out
    new = section(out, f"NEW RECORDS ({len(extra)})")
    assert f"numpy {extra[0]['check']} {extra[0]['case']}: new: {extra[0]['verdict']}" in new


def test_grid_hash_change_with_removed_cases_regresses(run_gate, docs):
    base, res = docs
    gone = res["results"][0]["case"]
    res["results"] = [r for r in res["results"] if r["case"] != gone]
    res["grid"].update(hash="fedcba9876543210", cases=res["grid"]["cases"] - 1)
    rc, out, _ = run_gate(base, res)
    assert rc == 1
    assert "-> fedcba9876543210: 0 cases added, 1 removed" in out
    assert f"{gone}: missing" in out


# ----------------------------------------------------------------------------- improvements


@pytest.mark.parametrize("old, new", [("mismatch", "pass"), ("mismatch", "divergent"),
                                      ("unsupported", "pass"), ("crash", "mismatch"),
                                      ("error", "pass"), ("divergent", "pass")])
def test_improvements_are_listed_and_pass(run_gate, docs, old, new):
    base, res = docs
    r = rec(res, lambda r: numeric(r) and not r["params"].get("invalid"))
    same(base, r).update(verdict=old, convention="c" if old == "divergent" else None)
    r.update(verdict=new, convention="c" if new == "divergent" else None)
    rc, out, _ = run_gate(base, res)
    assert rc == 0, out
    shown = lambda v: v + " (c)" if v == "divergent" else v  # noqa: E731
    assert (f"numpy {r['check']} {r['case']}: {shown(old)} -> {shown(new)}"
            in section(out, "IMPROVEMENTS (1)"))
    assert "OK: 0 regressions, 1 improvement" in out


def test_error_shrink_is_an_improvement(run_gate, docs):
    base, res = docs
    r = rec(res, lambda r: r["verdict"] == "pass" and numeric(r))
    same(base, r).update(max_ratio=0.8, worst_ulp=40.0)
    r.update(max_ratio=0.05, worst_ulp=1.0)
    rc, out, _ = run_gate(base, res)
    assert rc == 0
    assert (f"{r['case']}: pass -> pass; error/bound 0.8 -> 0.05 (worst element 40 -> 1 ULP"
            in section(out, "IMPROVEMENTS (1)"))


# ----------------------------------------------------------------------------- output


def test_long_lists_are_capped(run_gate, docs):
    base, res = docs
    for r in res["results"]:
        r.update(verdict="crash", convention=None, detail="worker died")
    n = len(res["results"])
    rc, out, _ = run_gate(base, res, "--max-lines", "5")
    assert rc == 1
    regs = section(out, f"REGRESSIONS ({n})").strip().splitlines()
    assert len(regs) == 6 and regs[-1].strip() == f"... and {n - 5} more"


def test_markdown_format(run_gate, docs):
    base, res = docs
    r = rec(res, lambda r: r["verdict"] == "pass" and numeric(r))
    r.update(verdict="mismatch")
    rc, out, _ = run_gate(base, res, "--format", "markdown")
    assert rc == 1
    assert out.startswith("### xent-parity gate: FAIL: 1 regression")
    assert "#### Regressions (1)" in out and "#### Improvements (none)" in out
    assert f"- numpy {r['check']} `{r['case']}`: pass -> mismatch" in out


# ----------------------------------------------------------------------------- --update


def test_update_writes_atomically_then_gate_passes(run_gate, docs, tmp_path, monkeypatch):
    base, res = docs
    r = rec(res, lambda r: r["verdict"] == "pass" and numeric(r))
    r.update(verdict="mismatch")
    bpath, rpath = run_gate.write("baseline.json", base), run_gate.write("results.json", res)
    before = bpath.read_bytes()
    replaced = []
    real_replace = os.replace

    def spy(src, dst):
        replaced.append((Path(src), Path(dst)))
        assert Path(dst).read_bytes() == before  # the baseline is intact until the rename
        return real_replace(src, dst)

    monkeypatch.setattr(report.os, "replace", spy)
    rc, out, _ = run_gate(bpath, rpath, "--update")
    assert rc == 0
    assert len(replaced) == 1
    src, dst = replaced[0]
    assert dst == bpath and src.parent == bpath.parent and src != bpath
    assert bpath.read_bytes() == rpath.read_bytes()  # the results, as given
    assert sorted(p.name for p in tmp_path.iterdir()) == ["baseline.json", "results.json"]
    assert "UPDATED: 1 regression" in out and f"{r['case']}: pass -> mismatch" in out
    assert "updated" in out.splitlines()[-1]
    assert run_gate(bpath, rpath)[0] == 0


def test_update_failure_leaves_the_baseline_and_no_temp_file(run_gate, docs, tmp_path, monkeypatch):
    base, res = docs
    res["results"].pop()
    bpath, rpath = run_gate.write("baseline.json", base), run_gate.write("results.json", res)
    before = bpath.read_bytes()

    def fail(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(report.os, "replace", fail)
    rc, _, err = run_gate(bpath, rpath, "--update")
    assert rc == 2 and f"baseline {bpath}: cannot write: Permission denied" in err
    assert bpath.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["baseline.json", "results.json"]


def test_update_creates_a_missing_baseline(run_gate, docs, tmp_path):
    rpath = run_gate.write("results.json", docs[1])
    bpath = tmp_path / "sub" / "baseline.json"
    rc, out, _ = run_gate(bpath, rpath, "--update")
    assert rc == 0 and "no previous baseline" in out
    assert bpath.read_bytes() == rpath.read_bytes()
    assert run_gate(bpath, rpath)[0] == 0


def test_update_replaces_an_unusable_baseline(run_gate, docs, tmp_path):
    rpath = run_gate.write("results.json", docs[1])
    bpath = tmp_path / "baseline.json"
    bpath.write_text("<<<<<<< merge conflict")
    rc, out, _ = run_gate(bpath, rpath, "--update")
    assert rc == 0 and "the previous baseline was not usable, replaced" in out
    assert run_gate(bpath, rpath)[0] == 0


def test_update_refuses_invalid_results(run_gate, docs):
    base, res = docs
    res["results"][0]["verdict"] = "fine"
    bpath = run_gate.write("baseline.json", base)
    before = bpath.read_bytes()
    rc, _, err = run_gate(bpath, run_gate.write("results.json", res), "--update")
    assert rc == 2 and "results[0].verdict" in err
    assert bpath.read_bytes() == before


# ----------------------------------------------------------------------------- unusable files


def test_missing_baseline_exits_2(run_gate, docs, tmp_path):
    missing = tmp_path / "nope.json"
    rc, out, err = run_gate(missing, docs[1])
    assert rc == 2 and out == ""
    assert f"baseline {missing}: cannot read: No such file or directory" in err
    assert "--update" in err


def test_unreadable_file_exits_2(run_gate, docs, tmp_path):
    d = tmp_path / "adir"
    d.mkdir()
    rc, _, err = run_gate(docs[0], d)
    assert rc == 2 and f"results {d}: is a directory" in err
    p = run_gate.write("locked.json", docs[0])
    p.chmod(0)
    try:
        if os.access(p, os.R_OK):  # root reads anything
            return
        rc, _, err = run_gate(p, docs[1])
        assert rc == 2 and f"baseline {p}: cannot read: Permission denied" in err
    finally:
        p.chmod(0o644)


@pytest.mark.parametrize("content, message", [
    (b"# a report\n", "not JSON: Expecting value at line 1 column 1"),
    (b'{"format": "xent-parity-results/1",\n "grid": }', "not JSON: Expecting value at line 2"),
    (b'{"max_ulp": NaN}', "not valid JSON: NaN is not JSON"),
    (b"\xff\xfe{}", "not UTF-8 text"),
    (b"[]", "not a valid xent-parity results document"),
])
def test_non_json_file_exits_2(run_gate, docs, tmp_path, content, message):
    p = tmp_path / "bad.json"
    p.write_bytes(content)
    rc, out, err = run_gate(docs[0], p)
    assert rc == 2 and out == ""
    assert err.startswith(f"xent-parity gate: results {p}: ") and message in err


def test_invalid_document_names_the_problems(run_gate, docs):
    base, res = docs
    del base["results"][1]["check"]
    base["results"][2]["verdict"] = "great"
    rc, _, err = run_gate(base, res)
    assert rc == 2
    assert "not a valid xent-parity results document (2 problems)" in err
    assert "results[1]: 'check' is a required property" in err
    assert "results[2].verdict: 'great' is not one of" in err


def test_duplicate_records_exit_2(run_gate, docs):
    base, res = docs
    res["results"].append(copy.deepcopy(res["results"][0]))
    rc, _, err = run_gate(base, res)
    assert rc == 2 and "duplicate record" in err


@pytest.mark.parametrize("argv", [[], ["--baseline", "b.json", "--ratio-margin", "-0.5"],
                                  ["--baseline", "b.json", "--ratio-margin", "x"],
                                  ["--baseline", "b.json", "--ulp-factor", "4"],
                                  ["--baseline", "b.json", "--format", "html"]])
def test_usage_errors_exit_2(argv, capsys):
    assert main_gate(argv) == 2
    assert "usage: xent-parity gate" in capsys.readouterr().err


def test_add_gate_parser_registers_the_subcommand():
    ap = argparse.ArgumentParser(prog="xent-parity")
    sub = ap.add_subparsers(dest="command", required=True)
    add_gate_parser(sub)
    args = ap.parse_args(["gate", "--baseline", "b.json", "--ratio-margin", "0.5", "--format",
                          "markdown"])
    assert args.func is cmd_gate
    assert (args.baseline, args.results, args.ratio_margin, args.format, args.update) == (
        "b.json", "reports/results.json", 0.5, "markdown", False)


# ----------------------------------------------------------------------------- runs that judge nothing


def test_update_refuses_a_partial_run_unless_forced(run_gate, docs, tmp_path):
    base, res = docs
    res["complete"] = False
    bpath, rpath = run_gate.write("baseline.json", base), run_gate.write("results.json", res)
    before = bpath.read_bytes()
    rc, _, err = run_gate(bpath, rpath, "--update")
    assert rc == 2 and "is a partial run" in err and "--force" in err
    assert bpath.read_bytes() == before
    rc, out, _ = run_gate(bpath, rpath, "--update", "--force")
    assert rc == 0 and bpath.read_bytes() == rpath.read_bytes()


def _new_framework(doc, name, verdict, expectation=None):
    """`doc` with a copy of every numpy record under framework `name`, each with `verdict`."""
    recs = []
    for r in [r for r in doc["results"] if r["framework"] == "numpy"]:
        c = dict(r, framework=name, verdict=verdict, convention=None, fitting=None)
        c.pop("fitting")
        c.pop("expectation", None)
        if expectation is not None:
            c["expectation"] = expectation
        recs.append(c)
    doc["results"] = sorted(doc["results"] + recs, key=key)
    doc["environment"]["frameworks"][name] = dict(doc["environment"]["frameworks"]["numpy"],
                                                  version="0.1")
    return len(recs)


def test_new_adapter_with_unreviewed_failures_regresses(run_gate, docs):
    base, res = docs
    n = _new_framework(res, "newfw", "mismatch")
    rc, out, _ = run_gate(base, res)
    assert rc == 1
    assert "newfw: not in the baseline; now 0.1" in out
    assert f"REGRESSIONS ({n})" in out and "new, unreviewed: mismatch" in out
    rc, out, _ = run_gate(base, res, "--accept-new")
    assert rc == 0 and "(accepted: --accept-new)" in section(out, "NEW RECORDS")
    assert f"newfw: not in the baseline, now 0.1: {n} new records (mismatch {n})" in out


def test_new_adapter_reviewed_or_passing_is_listed_not_failed(run_gate, docs):
    base, res = docs
    _new_framework(res, "okfw", "pass")
    _new_framework(res, "reviewedfw", "mismatch",
                   expectation={"verdict": "mismatch", "reason": "r", "link": "l", "holds": True})
    rc, out, _ = run_gate(base, res)
    assert rc == 0, out
    assert "okfw: not in the baseline, now 0.1" in section(out, "NEW RECORDS")


def test_a_crash_against_a_partial_baseline_is_no_improvement(run_gate, docs):
    base, res = docs
    base["complete"] = False
    gone = base["results"].pop(0)
    same(res, gone).update(verdict="crash", convention=None, detail="worker died")
    rc, out, _ = run_gate(base, res)
    assert rc == 1
    assert "the baseline is a partial run" in out
    assert f"{gone['case']}: new, unreviewed: crash" in section(out, "REGRESSIONS (1)")
    assert "IMPROVEMENTS (none)" in out


def test_a_planted_relative_error_on_float32_results_is_caught(tmp_path, run_gate):
    """The numpy adapter with every float32 result off by 1e-5 relative (about 84 ULP): the gate
    against the true run fails on float32 records, and only there."""
    grid = ROOT / "cases" / "smoke.yaml"
    out_a, out_b = tmp_path / "a", tmp_path / "b"
    assert main(["run", str(grid), "--frameworks", "numpy", "--out", str(out_a)]) == 0
    assert main(["run", str(grid), "--frameworks", "tests.mutant_adapters:PlantedErrorAdapter",
                 "--out", str(out_b)]) == 0
    base = json.loads((out_a / "results.json").read_text())
    res = json.loads((out_b / "results.json").read_text())
    for r in res["results"]:  # the mutant under the numpy adapter's name
        r["framework"] = "numpy"
    res["environment"]["frameworks"] = base["environment"]["frameworks"]
    rc, out, _ = run_gate(base, res)
    assert rc == 1
    regressed = [ln for ln in section(out, "REGRESSIONS").splitlines()[1:] if ln.strip()]
    assert regressed and all("-f32-" in ln or "... and" in ln for ln in regressed), regressed
    f32 = [r for r in base["results"] if r["params"]["dtype"] == "float32"
           and r["verdict"] == "pass" and "max_ratio" in r]
    n = int(section(out, "REGRESSIONS").split("(", 1)[1].split(")", 1)[0])
    assert n >= 0.9 * len(f32), (n, len(f32))
