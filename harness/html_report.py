"""`report.html`: a static view of the same report, for a browser: the verdicts, the root causes,
the conformance matrix (each table sortable by a click on a column header) and the figures.

Rendered by jinja2 from `templates/report.html.j2`, with autoescaping on: every value comes from a
results document, which is data, so none of it can become markup or script. The page needs no
network and no server (open it from the folder it was written to).
"""

from __future__ import annotations

from harness import findings, report
from harness.render import clip


def _environment():
    import jinja2

    return jinja2.Environment(loader=jinja2.PackageLoader("harness", "templates"),
                              autoescape=True, undefined=jinja2.StrictUndefined,
                              keep_trailing_newline=True)


def _rate_class(passed: int, ran: int) -> str:
    if not ran:
        return "zero"
    share = passed / ran
    return "ok" if share == 1 else "warn" if share >= 0.9 else "bad"


def render_html(doc: dict, reproducers: "report.Reproducers | None" = None,
                figures: dict[str, str] | None = None) -> str:
    """The page, from the results document alone (plus the reproducer files and figures written
    beside it)."""
    repro = reproducers or report.Reproducers()
    env, grid, recs = doc["environment"], doc["grid"], doc["results"]
    fws = env.get("frameworks", {})
    counts, shown = report.verdict_counts(recs)
    bad = {"mismatch", "error", "crash", "timeout", "bad-input-accepted", "inconsistent"}
    verdict_rows = [{"framework": fw, "version": fws.get(fw, {}).get("version", "?"),
                     "total": sum(counts[fw].values()),
                     "cells": [{"n": counts[fw][v] or "·",
                                "cls": "zero" if not counts[fw][v] else
                                "bad" if v in bad else "ok" if v == "pass" else ""}
                               for v, _ in shown]}
                    for fw in sorted(counts)]

    def script(r):
        key = (r["case"], r["framework"], r["check"])
        return repro.files.get(key), repro.why_not.get(key, "")

    groups, found = [], findings.groups(recs)
    for section, title in findings.SECTIONS:
        for g in found[section]:
            w = g.worst
            name, why = script(w)
            groups.append({"section": title, "framework": g.framework, "cause": g.cause,
                           "n": len(g.records), "case": w["case"], "check": w["check"],
                           "effect": findings.effect(w), "script": name, "why_not": why})
    matrix, cols = report.feature_matrix(recs)
    rows = []
    for fw in sorted(matrix):
        cells = []
        for f in cols:
            c = matrix[fw][f]
            ran = sum(n for v, n in c.items() if v != "unsupported")
            passed = c["pass"] + c["divergent"]
            cells.append({"text": f"{100 * passed / ran:.0f}%" if ran else "·",
                          "cls": _rate_class(passed, ran),
                          "title": ", ".join(f"{v} {n}" for v, n in sorted(c.items())) or "none"})
        rows.append({"framework": fw, "cells": cells})
    review = []
    for r in findings.needs_review(recs):
        name, _ = script(r)
        review.append({"framework": r["framework"], "check": r["check"], "case": r["case"],
                       "verdict": r["verdict"], "detail": clip(r.get("detail", ""), 300),
                       "script": name})
    page = _environment().get_template("report.html.j2")
    return page.render(
        grid_files=", ".join(grid.get("files", [])), n_cases=grid.get("cases"),
        grid_hash=grid.get("hash"), frameworks=sorted(counts), n_results=len(recs),
        device=env.get("device"), verdict_titles=[t for _, t in shown],
        verdict_rows=verdict_rows, groups=groups, features=cols, matrix=rows, review=review,
        figures=sorted((figures or {}).items()))
