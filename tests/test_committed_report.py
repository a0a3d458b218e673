"""The committed default report: small enough for GitHub to render, readable from its first
screen, current with the committed results, and every reproducer it links is there."""

import json
import os
import re
import urllib.parse
from pathlib import Path

import pytest

from harness import orchestrate
from harness.cases import load_cases

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "reports"
LIMIT = 200 * 1024  # GitHub renders about the first 512 KB of a markdown file; we keep to 200 KB


def test_the_committed_report_is_under_200_kb():
    size = (REPORTS / "report.md").stat().st_size
    assert size <= LIMIT, f"reports/report.md is {size} bytes"


def test_its_first_screen_says_what_was_run_and_what_was_found():
    head = "\n".join((REPORTS / "report.md").read_text().splitlines()[:30])
    for words in ("**What was run.**", "## Verdicts", "**What was found.**", "[known defects]",
                  "[conventions]", "[mismatches]", "**Needs review"):
        assert words in head, words


def test_every_linked_reproducer_is_committed_and_every_committed_one_is_linked():
    md = (REPORTS / "report.md").read_text()
    linked = {urllib.parse.unquote(n) for n in re.findall(r"\(reproducers/([^)]+)\)", md)}
    folder = REPORTS / "reproducers"
    scripts = {p.name for p in folder.glob("*.py")}
    assert linked == scripts and len(scripts) > 20
    for npz in folder.glob("*.npz"):  # an .npz only beside the script that reads it
        script = npz.with_suffix(".py")
        assert script.name in scripts and repr(npz.name) in script.read_text(), npz.name


def test_the_committed_report_is_the_rendering_of_the_committed_results(tmp_path, monkeypatch):
    """report.md is a function of results.json alone: rendered again from the committed results
    it is the committed file, byte for byte (the reproducers' names too; their embedded expected
    values are the reference's, whose last bits may follow the CPU)."""
    doc = json.loads((REPORTS / "results.json").read_text())
    monkeypatch.chdir(ROOT)  # paths in the report are shown relative to the checkout
    cases = {c.id: c for c in load_cases(doc["grid"]["files"])}
    for r in doc["results"]:
        r["params"] = cases[r["case"]].params
    out = tmp_path / "reports"
    orchestrate.write_reports(doc, out, cases, orchestrate.TOP)
    assert (out / "report.md").read_text() == (REPORTS / "report.md").read_text()
    assert sorted(os.listdir(out / "reproducers")) == sorted(os.listdir(REPORTS / "reproducers"))
