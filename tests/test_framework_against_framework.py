"""One framework against another: `xent-parity compare A B`, the report's section, and the
reproducers of a third-party adapter. numpy against a mutant of it whose mean divides by every
position (tests/mutant_adapters.py): they differ exactly on the mean cases with ignored labels."""

import json
import re

import pytest

from harness import findings
from harness.cli import main
from tests import mdtable

GRID = """\
xent-parity: 1
defaults: {shape: [12, 7], dtype: float64, checks: [forward, grad]}
blocks:
  - grid:
      label: [hard]
      ignore_index: [-100]
      ignore_frac: [0.0, 0.25]
      weight: [none, random]
      reduction: [mean, sum]
"""
MUTANT = "tests.mutant_adapters:MeanOverAllWeighted"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pair")
    grid = tmp / "g.yaml"
    grid.write_text(GRID)
    out = tmp / "out"
    assert main(["run", str(grid), "--frameworks", f"numpy,{MUTANT}", "--expectations", "",
                 "--out", str(out)]) == 0
    return grid, out, json.loads((out / "results.json").read_text())


def _expected_differences(doc):
    """What the mutant changes: a mean over positions with some ignored, or weighted (it divides
    by every position, not by the weights' sum)."""
    return {(r["case"], r["check"]) for r in doc["results"]
            if r["framework"] == "mutant-mean-weighted" and "-mean-" in r["case"]
            and ("ig=0.25" in r["case"] or "w=random" in r["case"])}


def test_pairwise_finds_exactly_the_cases_where_the_two_differ(run):
    _, _, doc = run
    diffs, counts = findings.pairwise(doc["results"], "numpy", "mutant-mean-weighted")
    assert {(d.case, d.check) for d in diffs} == _expected_differences(doc)
    assert counts["differ"] == len(diffs) and counts["agree"] == counts["compared"] - len(diffs)
    assert all(d.why == "mutant-mean-weighted departs from the documented formula" for d in diffs)
    back, counts_back = findings.pairwise(doc["results"], "mutant-mean-weighted", "numpy")
    assert {(d.case, d.check) for d in back} == {(d.case, d.check) for d in diffs}
    assert all(d.why == "mutant-mean-weighted departs from the documented formula" for d in back)
    assert counts_back == counts
    assert all(d.size > 1 for d in diffs)  # each beyond the bound of the documented value


def test_compare_prints_where_how_much_and_why_in_both_directions(run, capsys):
    _, out, doc = run
    n = len(_expected_differences(doc))
    for a, b in (("numpy", "mutant-mean-weighted"), ("mutant-mean-weighted", "numpy")):
        assert main(["compare", a, b, "--results", str(out / "results.json"), "--limit", "0"]) == 0
        text = capsys.readouterr().out
        assert f"{n} differ" in text and f"differences, largest first ({n} of {n})" in text
        # the unweighted mean is the declared convention, the weighted one a mismatch
        assert "divergent (mean-counts-ignored)" in text and "mismatch" in text
        assert re.search(r"rel [0-9.e+-]+ \([0-9.e+]+x bound\)", text)


def test_compare_of_a_framework_not_in_the_results_is_a_usage_error(run, capsys):
    _, out, _ = run
    assert main(["compare", "numpy", "torch", "--results", str(out / "results.json")]) == 2
    assert "'torch' is not in" in capsys.readouterr().err
    assert main(["compare", "numpy", "numpy", "--results", str(out / "results.json")]) == 2
    assert main(["compare", "numpy", "torch", "--results", str(out / "nope.json")]) == 2


def test_the_report_counts_each_pair_and_names_its_causes(run):
    _, out, doc = run
    md = (out / "report.md").read_text()
    section = mdtable.section(md, "Framework against framework")
    header = next(ln for ln in section.splitlines() if ln.startswith("|"))
    cols = [c.strip() for c in header.strip().strip("|").split("|")]
    rows = {row[0]: dict(zip(cols, row)) for row in mdtable.rows(section)}
    n = str(len(_expected_differences(doc)))
    assert rows["numpy"]["mutant-mean-weighted"] == n == rows["mutant-mean-weighted"]["numpy"]
    assert rows["numpy"]["numpy"] == "·"
    assert "mutant-mean-weighted against numpy" in section
    assert "mutant-mean-weighted divergent (mean-counts-ignored)" in section


def test_a_third_party_adapter_gets_reproducers_and_a_merged_one_a_stated_reason(run, tmp_path):
    _, out, doc = run
    mutant = [p.name for p in (out / "reproducers").glob("*--mutant-mean-weighted--*.py")]
    assert mutant, "the module:Class adapter that ran in this process has reproducers"
    md = (out / "report.md").read_text()
    assert "mutant-mean-weighted" in md and "none: " not in md
    merged = tmp_path / "merged"  # a document read back: the adapter is named, never imported
    doc["grid"]["shard"] = "1/1"
    shard = tmp_path / "shard.json"
    shard.write_text(json.dumps(doc))
    assert main(["merge", str(shard), "--out", str(merged)]) == 0
    md = (merged / "report.md").read_text()
    assert "none: mutant-mean-weighted is not a built-in adapter" in md
    assert not list((merged / "reproducers").glob("*--mutant-mean-weighted--*"))
