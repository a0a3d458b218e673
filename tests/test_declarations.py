"""Declarations: every declared behaviour has a kind and its evidence, the reference knows no
framework, who follows what is computed from the declarations, and no declaration can mask a bug it
merely resembles (mutants of the numpy adapter, tests/mutant_adapters.py)."""

import json
import re
from pathlib import Path

import pytest

from harness import declarations
from harness.adapters import BUILTIN, load_class
from harness.adapters.base import KINDS, DocumentedConvention
from harness.cli import main
from tests import mdtable

ROOT = Path(__file__).resolve().parent.parent
FRAMEWORK_WORDS = re.compile(r"torch|paddle|keras|tensorflow|tf\.nn|optax|\bjax\b|onnx", re.I)


# ----------------------------------------------------------------------------- evidence


@pytest.mark.parametrize("adapter", sorted(BUILTIN))
def test_every_declaration_has_a_kind_and_its_evidence(adapter):
    import reference

    for d in load_class(BUILTIN[adapter]).conventions:
        assert d.kind in KINDS, d
        assert d.name in reference.CONVENTIONS or d.raises, (
            f"{adapter} declares unknown {d.name!r}")
        assert d.link.startswith("https://"), d
        if d.kind == "convention":
            assert len(d.quote) > 30, f"{adapter} {d.name}: a convention quotes its docs"
        if d.kind == "defect":
            assert len(d.contradicts) > 30, f"{adapter} {d.name}: what contradicts what"
        assert not d.upstream or d.upstream.startswith("https://github.com/"), d


def test_a_convention_without_a_quote_or_a_defect_without_a_reason_is_refused():
    with pytest.raises(ValueError, match="quotes the documentation"):
        DocumentedConvention("probs-clipped", "https://x", "note")
    with pytest.raises(ValueError, match="what contradicts what"):
        DocumentedConvention("probs-clipped", "https://x", "note", kind="defect")
    with pytest.raises(ValueError, match="kind"):
        DocumentedConvention("probs-clipped", "https://x", "note", kind="quirk", quote="q" * 40)


def test_a_name_declared_twice_has_disjoint_scopes():
    for adapter, ref in BUILTIN.items():
        decls = load_class(ref).conventions
        for name in {d.name for d in decls}:
            same = [d for d in decls if d.name == name]
            if len(same) < 2:
                continue
            for params in ({"label": "soft", "smoothing": 0.1}, {"label": "hard", "smoothing": 0.1},
                           {"label": "hard", "smoothing": 0.0},
                           {"label": "hard-keepdim", "smoothing": 0.0}):
                hits = [d for d in same if d.in_scope(params, "forward")]
                assert len(hits) <= 1, (adapter, name, params)


# ----------------------------------------------------------------------------- one home


def test_the_reference_knows_no_framework():
    import reference

    names = sorted(reference.CONVENTIONS, key=len, reverse=True)
    for path in (ROOT / "reference").glob("*.py"):
        text = path.read_text()
        for n in names:  # a rule's stable name may carry history; nothing else may
            text = text.replace(n, "")
        hits = [ln for ln in text.splitlines() if FRAMEWORK_WORDS.search(ln)]
        assert not hits, f"{path.name}: {hits[:3]}"


def test_docs_semantics_lists_exactly_the_declarations():
    text = declarations.DOC.read_text()
    assert declarations.rendered_doc(text, declarations.render_table()) == text, (
        "docs/semantics.md is not current: python -m harness.declarations --update")
    assert declarations.main([]) == 0


def test_who_follows_what_is_computed_from_the_declarations():
    from harness.orchestrate import convention_catalogue

    env = {"frameworks": {"a": {"conventions": [{"name": "probs-clipped", "kind": "defect"}]},
                          "b": {"conventions": [{"name": "probs-clipped"}]}}}
    cat = convention_catalogue(env)
    assert cat["probs-clipped"]["declared_by"] == {"a": "defect", "b": "convention"}
    assert cat["empty-mean-zero"]["declared_by"] == {}
    assert "framework" not in cat["probs-clipped"]
    f = declarations.followers()
    assert f["soft-weight-per-class"] == {"torch": "convention"}
    assert f["none-keeps-class-axis"] == {"paddle": "convention / defect"}


# ----------------------------------------------------------------------------- mutants

GRID = """\
defaults: {shape: [12, 7], dtype: float64, checks: [forward, grad]}
blocks:
  - grid:
      label: [hard]
      ignore_index: [-100, -1]
      ignore_frac: [0.25, 0.5]
      weight: [none, random]
      reduction: [mean, none]
"""


@pytest.fixture(scope="module")
def mutant_runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mutants")
    grid = tmp / "g.yaml"
    grid.write_text(GRID)
    out = {}
    for cls in ("MeanOverAllAt100", "MeanOverAllConsistent", "MeanOverAllWeighted",
                "DeclaresADefect"):
        rc = main(["run", str(grid), "--frameworks", f"tests.mutant_adapters:{cls}",
                   "--expectations", "", "--out", str(tmp / cls)])
        assert rc == 0
        out[cls] = json.loads((tmp / cls / "results.json").read_text())
    return grid, tmp, out


def _verdicts(doc):
    return {(r["case"], r["check"]): r["verdict"] for r in doc["results"]}


def test_a_declaration_followed_only_sometimes_is_an_inconsistency(mutant_runs):
    _, _, docs = mutant_runs
    doc = docs["MeanOverAllAt100"]
    (f,) = doc["inconsistencies"]
    assert f["convention"] == "mean-counts-ignored"
    assert all("ii=-100" in c for c in f["followed"]) and f["followed"]
    assert all("ii=-1-" in c for c in f["not_followed"]) and f["not_followed"]
    v = _verdicts(doc)
    failing = [k for k, x in v.items() if x == "inconsistent"]
    assert failing and all("ii=-100" in k[0] and "w=none" in k[0] for k in failing)
    assert "divergent" not in v.values()  # nothing the mutant does passes as a convention
    md = (mutant_runs[1] / "MeanOverAllAt100" / "report.md").read_text()
    rows = mdtable.rows(mdtable.section(md, "Inconsistencies"))
    assert any(row[0] == "mutant-mean-at-100" and row[1] == "`mean-counts-ignored`" for row in rows)
    assert "mutant-mean-at-100 `mean-counts-ignored`" in md  # the followed / not-followed line


def test_a_declaration_followed_wherever_it_applies_is_consistent(mutant_runs):
    doc = mutant_runs[2]["MeanOverAllConsistent"]
    assert doc["inconsistencies"] == []
    v = _verdicts(doc)
    assert {x for (c, _), x in v.items() if "w=none" in c and "-mean-" in c} == {"divergent"}
    assert set(v.values()) <= {"pass", "divergent"}


def test_a_bug_that_resembles_a_declaration_still_fails_where_the_rule_does_not_reach(mutant_runs):
    doc = mutant_runs[2]["MeanOverAllWeighted"]
    v = _verdicts(doc)
    weighted = {x for (c, _), x in v.items() if "w=random" in c and "-mean-" in c}
    assert weighted == {"mismatch"}
    assert {x for (c, _), x in v.items() if "w=none" in c and "-mean-" in c} == {"divergent"}


def test_a_declared_defect_explains_results_as_known_defect(mutant_runs):
    doc = mutant_runs[2]["DeclaresADefect"]
    v = _verdicts(doc)
    assert {x for (c, _), x in v.items() if "w=none" in c and "-mean-" in c} == {"known-defect"}
    r = next(r for r in doc["results"] if r["verdict"] == "known-defect")
    assert r["kind"] == "defect" and r["canonical"]["max_ratio"] > 1
    md = (mutant_runs[1] / "DeclaresADefect" / "report.md").read_text()
    head = md.split("## Environment")[0]
    assert "## Known defects" in head and "https://example.invalid/issue/1" in head


def test_an_unknown_declared_name_is_an_error(mutant_runs, capsys):
    grid, tmp, _ = mutant_runs
    rc = main(["run", str(grid), "--frameworks", "tests.mutant_adapters:DeclaresAnUnknownName",
               "--expectations", "", "--out", str(tmp / "unknown")])
    assert rc == 1
    assert "declares 'no-such-rule', which the reference does not compute" in capsys.readouterr().err


def test_pytest_fails_an_inconsistent_result_and_passes_a_consistent_convention(mutant_runs):
    import subprocess
    import sys

    grid, tmp, _ = mutant_runs
    cases = tmp / "cases"
    cases.mkdir(exist_ok=True)
    (cases / "mutants.yaml").write_text(GRID)
    (cases / "expectations.yaml").write_text("[]\n")
    for cls, want in (("MeanOverAllAt100", "failed"), ("MeanOverAllConsistent", None),
                      ("DeclaresADefect", "xfailed")):
        p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            str(cases / "mutants.yaml"),  # the plugin: its pytest11 entry point
                            "--frameworks", f"tests.mutant_adapters:{cls}", "--expectations",
                            str(cases / "expectations.yaml"), "--rootdir", str(tmp)],
                           cwd=ROOT, capture_output=True, text=True, timeout=300)
        tail = p.stdout.strip().splitlines()[-1]
        if want is None:
            assert p.returncode == 0 and "failed" not in tail, p.stdout[-2000:]
        else:
            assert want in tail, p.stdout[-2000:]
        if want == "failed":
            assert "inconsistent" in p.stdout
