"""Results and reports: `results.json` (one record per case x framework x check) and `report.md`.

Both are written atomically (temporary file, then rename). Everything that varies from run to run
(timestamps, durations) sits in the `timing` section of results.json, so two runs of the same grid
on the same versions give identical files elsewhere.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import numpy as np
from tabulate import tabulate

from harness import findings, render
from harness.render import clip
from harness.verdicts import Verdict

FORMAT = "xent-parity-results/1"


def shown_path(path: str) -> str:
    """`path` relative to the current directory where it lies below it (a report does not show
    the checkout's absolute location), else as given."""
    try:
        return Path(path).resolve().relative_to(Path.cwd().resolve()).as_posix()
    except (ValueError, OSError):
        return str(path)


def atomic_write(path: str | Path, text: str | bytes) -> None:
    """Write text (UTF-8) or bytes to `path` atomically: a temporary file in the same folder,
    fsync, os.replace. Keeps the permissions of the file it replaces (0644 for a new one, not
    mkstemp's 0600)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o7777
    except OSError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".tmp-{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(text.encode("utf-8") if isinstance(text, str) else text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


BASE_KEYS = ("case", "framework", "check", "verdict", "convention", "fitting", "kind", "canonical",
             "departs", "error_behaviour", "detail", "version", "device", "params")
# "fitting", "kind" and "canonical" only on divergent and known-defect records, "departs" only
# on passing ones that a declared name would have changed
COMPARISON_KEYS = ("max_ulp", "max_abs", "max_rel", "bound", "bound_ulp", "max_ratio", "worst_ulp",
                   "n_bad", "n", "worst_index", "worst_got", "worst_expected", "dtype_got", "reason")


def record(v: Verdict, params: dict) -> dict:
    r = {"case": v.case_id, "framework": v.framework, "check": v.check, "verdict": v.verdict,
         "convention": v.convention, "error_behaviour": v.error_behaviour, "detail": v.detail,
         "version": v.version, "device": v.device, "params": params}
    if v.fitting:
        r["fitting"] = list(v.fitting)
    if v.kind:
        r["kind"] = v.kind
    if v.canonical:
        r["canonical"] = {k: _plain_float(x) for k, x in v.canonical.items()}
    if v.departs:
        r["departs"] = list(v.departs)
    c = v.comparison
    if c is not None:
        cj = c.to_json()
        r.update({k: cj[k] for k in COMPARISON_KEYS})
    return r


def _plain_float(v):
    if isinstance(v, (float, np.floating)):
        v = float(v)
        return v if np.isfinite(v) else repr(v)
    return v


def results_document(records: list[dict], environment: dict, grid: dict, events: list[dict],
                     timing: dict, extra: dict | None = None) -> dict:
    records = sorted(records, key=lambda r: (r["case"], r["framework"], r["check"]))
    return {"format": FORMAT, "grid": grid, "environment": environment, "results": records,
            "events": sorted(events, key=lambda e: (e.get("framework", ""), e.get("case") or "",
                                                    e.get("event", ""))),
            **(extra or {}), "timing": timing}


def write_results(path, doc: dict) -> None:
    atomic_write(path, json.dumps(doc, indent=1, sort_keys=False, allow_nan=False) + "\n")


def _md_escape(s: str) -> str:
    """Text as one table cell or line of markdown: no cell break, no line break, and no emphasis
    (`Loss.__call__` would render as a bold "call")."""
    out = str(s).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
    return out.replace("*", "\\*").replace("_", "\\_")


# -- features of a case, for the conformance matrix ---------------------------------------------------
def features(params: dict, check: str) -> list[str]:
    """The matrix columns a result counts towards."""
    out = ["soft labels" if params["label"] == "soft" else "hard labels"]
    if params["input"] == "probs":
        out.append("probability input")
    if params["weight"] != "none":
        out.append("weights")
    if params["ignore_frac"] > 0 or (params["label"] != "soft" and 0 <= params["ignore_index"]
                                     < params["shape"][params["axis"]]):
        out.append("ignore_index")
    if params["smoothing"] > 0:
        out.append("smoothing")
    rank = len(params["shape"])
    if params["axis"] % rank != rank - 1:
        out.append("class axis")
    out.append({"float16": "f16", "bfloat16": "bf16", "float32": "f32", "float64": "f64"}[
        params["dtype"]])
    out.append(params["reduction"])
    if check.split("~")[0] == "grad":
        out.append("gradient")
    if "~" in check:
        out.append("relations")
    if params.get("invalid"):
        out = ["bad input"]
    return out


FEATURES = ["hard labels", "soft labels", "probability input", "weights", "ignore_index",
            "smoothing", "class axis", "f16", "bf16", "f32", "f64", "none", "sum", "mean",
            "gradient", "relations", "bad input"]
CELL = (("pass", "✓"), ("divergent", "d"), ("known-defect", "k"), ("inconsistent", "i"),
        ("mismatch", "m"), ("bad-input-accepted", "b"),
        ("error", "e"), ("crash", "c"), ("timeout", "t"), ("unsupported", "u"))


def _cell(counter: Counter) -> str:
    parts = [f"{counter[v]}{sym}" for v, sym in CELL if counter[v]]
    return " ".join(parts) if parts else "·"


def table(headers: list[str], rows: list[list]) -> list[str]:
    """A GitHub markdown table (tabulate), as lines; cells are taken as they are."""
    text = tabulate([[str(c) for c in row] for row in rows], headers=headers, tablefmt="github",
                    disable_numparse=True)
    return text.splitlines() + [""]


@dataclass
class Reproducers:
    """The reproducer files of a report: result key -> file name under `reproducers/`, and for
    the results that have none the reason why."""

    files: dict = field(default_factory=dict)
    why_not: dict = field(default_factory=dict)

    def cell(self, r) -> str:
        key = (r["case"], r["framework"], r["check"])
        if key in self.files:
            name = self.files[key]
            return f"[script](reproducers/{quote(name, safe='=,+@~')})"
        why = self.why_not.get(key)
        return f"none: {_md_escape(why)}" if why else ""


VERDICT_COLUMNS = (("pass", "pass"), ("divergent", "convention"), ("known-defect", "known defect"),
                   ("inconsistent", "inconsistent"), ("mismatch", "mismatch"),
                   ("error", "error"), ("crash", "crash"), ("timeout", "timeout"),
                   ("bad-input-accepted", "bad input accepted"), ("unsupported", "unsupported"))


def render_markdown(doc: dict, reproducers: Reproducers | None = None, top: int = 200,
                    figures: dict[str, str] | None = None) -> str:
    """The human report, from the results document alone (plus the reproducer files written
    beside it and figure paths, if given). It opens with what was run and what was found, each
    with counts; then each finding grouped by root cause (findings.groups) with its worst case and
    reproducer; every result that needs a review by ID; framework against framework; then the
    detail tables."""
    env, grid, recs = doc["environment"], doc["grid"], doc["results"]
    repro = reproducers or Reproducers()
    timing = doc.get("timing", {})
    fws = env.get("frameworks", {})
    ran = sorted(n for n, f in fws.items() if "unavailable" not in f)
    out = ["# xent-parity report", "",
           "Softmax cross entropy: each framework's public API, called as users call it, "
           "against a float64 reference.", ""]
    out.append(f"**What was run.** Grid `{', '.join(grid.get('files', []))}` ({grid.get('cases')} "
               f"cases, hash `{grid.get('hash')}`), {len(ran)} framework"
               f"{'s' * (len(ran) != 1)}, {len(recs)} results (case x framework x check), "
               f"device `{env.get('device')}`, Python {env.get('python')}, numpy "
               f"{env.get('numpy')} (date and durations: [Run](#run)).")
    not_run = sorted(n for n, f in fws.items() if "unavailable" in f)
    if not_run:
        why = ", ".join(f"{n} ({_md_escape(fws[n]['unavailable'])})" for n in not_run)
        out.append(f"Not run: {why}.")
    out.append("")
    counts, shown = verdict_counts(recs)
    rows = [[fw, fws.get(fw, {}).get("version", "?"), sum(counts[fw].values()),
             *[counts[fw][v] or "·" for v, _ in shown]] for fw in sorted(counts)]
    total = Counter()
    for c in counts.values():
        total.update(c)
    rows.append(["**all**", "", len(recs), *[total[v] or "·" for v, _ in shown]])
    out += ["## Verdicts", "", "Results per framework (forward and gradient together; a result "
            "is one case, framework and check).", ""]
    out += table(["framework", "version", "results", *[t for _, t in shown]], rows)

    found = findings.groups(recs)
    review = findings.needs_review(recs)
    exp = doc.get("expectations") or {}
    parts = []
    for section, title in findings.SECTIONS:
        gs = found[section]
        n = len({id(r) for g in gs for r in g.records})
        if n:
            parts.append(f"[{title.lower()}](#{_anchor(title)}): {n} results, {len(gs)} "
                         f"cause{'s' * (len(gs) != 1)}")
    out.append("**What was found.** " + ("; ".join(parts) if parts else
                                         "every result passed or is unsupported") + ".")
    out.append("")
    n_reviewed = sum(1 for r in review if (r.get("expectation") or {}).get("holds"))
    out.append(f"**Needs review: {len(review)} results** ([by ID](#needs-review)), {n_reviewed} "
               f"of them reviewed in `{shown_path(exp['file']) if exp.get('file') else 'no file'}`"
               f" (known, with a reason and a link); {exp.get('broken', 0)} reviewed entries no "
               f"longer hold; {exp.get('unexplained', 0)} results have no reviewed entry. "
               "Everything else is a pass, unsupported, or explained by a behaviour its adapter "
               "declares (a documented convention, or a defect with its evidence).")
    out.append("")
    out.append("Each root cause below is one framework with one explanation, with its count and "
               "worst case; the worst case's reproducer is a self-contained script under "
               "`reproducers/` that prints the framework's value, the expected value and the "
               "error at the worst element.")
    out.append("")

    for section, title in findings.SECTIONS:
        gs = found[section]
        if not gs and section not in ("defect", "mismatch"):
            continue
        n = len({id(r) for g in gs for r in g.records})
        out += [f"## {title}", "", _SECTION_TEXT[section].format(n=n, groups=len(gs)), ""]
        if not gs:
            out += ["None on this grid.", ""]
            continue
        rows = []
        for g in gs:
            w = g.worst
            link = _links(doc, g)
            rows.append([g.framework, _cause_cell(g), len(g.records),
                         f"`{w['case']}` {w['check']}", _md_escape(findings.effect(w)),
                         repro.cell(w), link])
        out += table(["framework", _CAUSE_TITLE[section], "results", "worst case", "effect",
                      "reproducer", "evidence"], rows)
        if section == "inconsistent":
            for f in doc.get("inconsistencies") or []:
                out.append(f"- **{f['framework']} `{f['convention']}`**: followed on "
                           f"{f['n_followed']} result(s) (e.g. `{f['followed'][0]}`), not on "
                           f"{f['n_not_followed']} where it would change the value (e.g. "
                           f"`{f['not_followed'][0]}`)")
            out.append("")

    out += ["## Needs review", "",
            "Every result that no declaration settles, worst first (a reviewed entry of the "
            "expectations file names why it is known).", ""]
    if not review:
        out += ["None.", ""]
    else:
        rows = []
        for r in review[:top]:
            e = r.get("expectation")
            known = (f"[known]({e['link']})" if e.get("holds") else "**changed**") if e else ""
            rows.append([r["framework"], r["check"], f"`{r['case']}`", r["verdict"],
                         _md_escape(clip(r.get("detail", ""), 160)), known, repro.cell(r)])
        out += table(["framework", "check", "case", "verdict", "detail", "reviewed",
                      "reproducer"], rows)
        if len(review) > top:
            out += [f"... and {len(review) - top} more in results.json.", ""]

    out += pairwise_section(recs, ran)
    out += relations_section(recs)
    out += _matrix_section(recs)
    out += _worst_error_section(recs, counts)
    for title, path in (figures or {}).items():
        out += [f"![{title}]({path})", ""]
    out += _error_behaviour_section(recs)
    out += _versions_section(recs)
    out += declarations_table(doc)
    out += _conventions_section(doc)
    out += _environment_section(env)

    events = doc.get("events", [])
    crashes = [e for e in events if e.get("event") in ("crash", "timeout")]
    if crashes:
        out += ["## Worker faults", "",
                "Each fault cost only the case in flight: the worker was restarted and the run "
                "went on.", ""]
        out += table(["framework", "event", "case", "detail"],
                     [[e["framework"], e["event"], f"`{e.get('case')}`",
                       _md_escape(e.get("detail", ""))[:300]] for e in crashes])
    unmatched = exp.get("unmatched")
    if unmatched:
        out += ["## Expectations that matched nothing", ""]
        out += [f"- `{u}`" for u in unmatched]
        out.append("")
    out += ["## Run", "", f"Started {timing.get('started')}, finished {timing.get('finished')}."]
    bd = timing.get("breakdown_s")
    if bd:
        out.append("Seconds: " + ", ".join(f"{k} {v:g}" for k, v in bd.items()) + ".")
    out += ["", "Any result: `xent-parity explain CASE_ID --frameworks NAME --reproducer`; one "
            "framework against another: `xent-parity compare A B`.", ""]
    return "\n".join(out)


_SECTION_TEXT = {
    "defect": "{n} results explained by a behaviour an adapter declares as a defect: it "
              "contradicts the framework's own documentation, its other code paths or "
              "mathematics (the evidence and the upstream issue are linked). A result several "
              "defects explain counts under each. The effect is the worst case's departure "
              "from the documented value.",
    "convention": "{n} results that depart from the canonical formula the way their framework "
                  "documents (quoted and linked in [Declared behaviours](#declared-behaviours)): "
                  "conformant, but what a port between frameworks meets.",
    "mismatch": "{n} results beyond the error bound that no declaration explains, by reviewed "
                "reason (cases/expectations.yaml) or by what differs.",
    "error": "{n} results where the framework failed on valid input, by exception.",
    "bad-input": "{n} results where the framework returned a value for input whose canonical "
                 "answer is an error, by kind of invalid input.",
    "inconsistent": "{n} results that follow a declared behaviour the framework does not follow "
                    "elsewhere, where it would change the value: evidence of a defect.",
}
_CAUSE_TITLE = {"defect": "defect", "convention": "convention", "mismatch": "kind",
                "error": "exception", "bad-input": "invalid input", "inconsistent": "behaviour"}


def _anchor(title: str) -> str:
    return "-".join("".join(ch for ch in title.lower() if ch.isalnum() or ch == " ").split())


def _cause_cell(g) -> str:
    if g.section in findings.NAMED:
        return " + ".join(f"`{n}`" for n in g.cause.split("+"))
    return _md_escape(clip(g.cause, 140))


def _links(doc, g) -> str:
    """The evidence of a group: each declared name's upstream issue (or its evidence), or the
    reviewed expectation's link."""
    if g.section in findings.NAMED:
        info = doc["environment"].get("frameworks", {}).get(g.framework, {})
        decl = {d["name"]: d for d in info.get("conventions") or []}
        links = []
        for name in g.cause.split("+"):
            d = decl.get(name, {})
            if d.get("upstream"):
                links.append(f"[upstream]({d['upstream']})")
            elif d.get("link"):
                what = "evidence" if d.get("kind") == "defect" else "docs"
                links.append(f"[{what}]({d['link']})")
        return ", ".join(links)
    return f"[link]({g.link})" if g.link else ""


def pairwise_section(recs, frameworks: list[str], causes: int = 3) -> list[str]:
    """Framework against framework: how many (case, check) each pair differs on, and for each
    pair its most frequent causes with the largest difference of each."""
    if len(frameworks) < 2:
        return []
    pairs = findings.pairwise_all(recs, frameworks)
    out = ["## Framework against framework", "",
           "The porting question: on how many (case, check) two frameworks give different "
           "answers, where both ran. Both are judged against the same float64 reference; a "
           "difference is one side departing from the documented formula (a convention, a "
           "defect, a mismatch), or raising. Below the table, each pair's most frequent causes; "
           "`xent-parity compare A B` lists every difference with its size.", ""]
    rows = []
    for a in frameworks:
        rows.append([a] + ["·" if a == b else (pairs.get((a, b)) or pairs.get((b, a)))[1]["differ"]
                           for b in frameworks])
    out += table(["", *frameworks], rows)
    for (a, b), (diffs, counts) in pairs.items():
        if not diffs:
            continue
        found = findings.pair_causes(diffs)
        out += [f"<details><summary>{a} against {b}: {counts['differ']} of "
                f"{counts['compared']} differ</summary>", ""]
        for (ea, eb), n, d in found[:causes]:
            out.append(f"- {n} x {a} {_md_escape(ea)}, {b} {_md_escape(eb)}; largest `{d.case}` "
                       f"{d.check}: {_md_escape(findings.effect(d.a) if ea != 'canonical' else ea)}"
                       f" / {_md_escape(findings.effect(d.b) if eb != 'canonical' else eb)}")
        if len(found) > causes:
            out.append(f"- ... {len(found) - causes} more causes: `xent-parity compare {a} {b}`")
        out += ["", "</details>", ""]
    return out


def verdict_counts(recs) -> tuple[dict[str, Counter], list[tuple[str, str]]]:
    """framework -> verdict counts, and the (verdict, column title) of VERDICT_COLUMNS that
    some framework has (the report's and the page's verdict tables)."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for r in recs:
        counts[r["framework"]][r["verdict"]] += 1
    shown = [(v, title) for v, title in VERDICT_COLUMNS if any(c[v] for c in counts.values())]
    return counts, shown


def feature_matrix(recs) -> tuple[dict[str, dict[str, Counter]], list[str]]:
    """framework -> feature -> verdict counts of the results touching it (`features`), and the
    features some framework has (the report's and the page's conformance matrix)."""
    matrix: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
    for r in recs:
        for f in features(r["params"], r["check"]):
            matrix[r["framework"]][f][r["verdict"]] += 1
    return matrix, [f for f in FEATURES if any(matrix[fw][f] for fw in matrix)]


def _matrix_section(recs) -> list[str]:
    matrix, cols = feature_matrix(recs)
    out = ["## Conformance by feature", "",
           "Each cell counts the results touching that feature: ✓ pass, d divergent (a named "
           "convention), k known defect, i inconsistent, m mismatch, b bad input accepted, "
           "e error, c crash, t timeout, u unsupported.", ""]
    out += table(["framework", *cols],
                 [[fw, *[_cell(matrix[fw][f]) for f in cols]] for fw in sorted(matrix)])
    return out


def _worst_error_section(recs, by_fw) -> list[str]:
    out = ["## Worst numerical error by dtype", "",
           "For each framework and dtype, the result whose error is largest relative to its "
           "bound (among pass, divergent and mismatch): at its worst element, the error in ULPs "
           "of the dtype and the bound in ULPs (✗: beyond). Bounds come from the error model in "
           "docs/error-model.md; the largest error in ULPs anywhere is in results.json "
           "(`max_ulp`), and is often at an element whose value is tiny, where the bound is "
           "absolute.", ""]
    dtypes = ["float16", "bfloat16", "float32", "float64"]
    worst: dict = {}
    for r in recs:
        if "max_ulp" not in r or r["verdict"] not in ("pass", "divergent", "known-defect",
                                                      "mismatch"):
            continue
        if not np.isfinite(render.value(r["max_ulp"])):
            continue
        key = (r["framework"], r["check"], r["params"]["dtype"])
        if key not in worst or render.ratio(r) > render.ratio(worst[key]):
            worst[key] = r
    rows = []
    for fw in sorted(by_fw):
        for check in ("forward", "grad"):
            rows.append([fw, check, *[render.cell(worst[(fw, check, dt)])
                                      if (fw, check, dt) in worst else "·" for dt in dtypes]])
    out += table(["framework", "check", *dtypes], rows)
    return out


def _environment_section(env) -> list[str]:
    out = ["## Environment", "",
           f"Python {env.get('python')}, numpy {env.get('numpy')}, {env.get('platform')} "
           f"({env.get('machine')}), device `{env.get('device')}`.", ""]
    rows = []
    for name, fw in sorted(env.get("frameworks", {}).items()):
        if "unavailable" in fw:
            rows.append([name, "", "", f"not run: {_md_escape(fw['unavailable'])}"])
        else:
            flags = ", ".join(f"{k}={v}" for k, v in sorted((fw.get("flags") or {}).items()))
            interp = f" (python `{fw['interpreter']}`)" if fw.get("interpreter") else ""
            rows.append([name, f"`{_md_escape(fw.get('api'))}`", f"{fw.get('version')}{interp}",
                         _md_escape(flags)])
    out += table(["framework", "API", "version", "numerics flags"], rows)
    return out


def _declared(doc) -> list[tuple[str, dict]]:
    """(framework, declaration) for every declaration of every framework that ran."""
    out = []
    for fw, info in sorted(doc["environment"].get("frameworks", {}).items()):
        for d in info.get("conventions") or []:
            out.append((fw, d))
    return out


def _names(r) -> set:
    return set((r.get("convention") or "").split("+")) - {""}


def declarations_table(doc) -> list[str]:
    """Every declared behaviour: its kind, what states or shows it (the documentation's quote for
    a convention, what contradicts what for a defect), its links and what it explains here."""
    recs = doc["results"]
    declared = _declared(doc)
    if not declared:
        return []
    per: dict = defaultdict(lambda: {"results": 0, "worst": None, "inconsistent": 0})
    for r in recs:
        if r["verdict"] not in ("divergent", "known-defect", "inconsistent"):
            continue
        for name in _names(r):
            p = per[(r["framework"], name)]
            p["results"] += 1
            p["inconsistent"] += r["verdict"] == "inconsistent"
            if p["worst"] is None or findings.departure(r) > findings.departure(p["worst"]):
                p["worst"] = r
    out = ["## Declared behaviours", "",
           "Every behaviour an adapter declares: its kind, the evidence (for a convention the "
           "documentation that states it, quoted; for a defect what contradicts what), and what "
           "it explains on this grid (its worst departure from the documented formula).", ""]
    order = {"defect": 0, "platform-limit": 1, "convention": 2}
    rows = []
    for fw, d in sorted(declared, key=lambda x: (order.get(x[1].get("kind"), 3), x[0],
                                                 x[1]["name"])):
        links = f"[evidence]({d.get('link', '')})"
        if d.get("upstream"):
            links += f", [upstream]({d['upstream']})"
        p = per.get((fw, d["name"]))
        if p and p["results"]:
            res = f"{p['results']}, worst {findings.effect(p['worst'])}"
            if p["inconsistent"]:
                res += f" ({p['inconsistent']} inconsistent)"
        else:
            res = "none"
        says = d.get("quote") or d.get("contradicts") or ""
        rows.append([fw, f"`{d['name']}`", d.get("kind", "convention"),
                     _md_escape(clip(says, 400)), links, _md_escape(res)])
    out += table(["framework", "name", "kind", "what states or shows it", "links",
                  "results on this grid"], rows)
    return out


def relations_section(recs) -> list[str]:
    """Metamorphic relations: per framework and relation, how many held, how many were
    violated (with the first few violations named), how many did not apply."""
    rel = [r for r in recs if "~" in r["check"]]
    if not rel:
        return []
    names = sorted({r["check"].split("~")[1] for r in rel})
    counts: dict = defaultdict(Counter)
    for r in rel:
        counts[(r["framework"], r["check"].split("~")[1])][r["verdict"]] += 1
    out = ["## Metamorphic relations", "",
           "Pairs of calls of one framework that must agree (harness.relations): each cell "
           "counts held / violated / not applicable, forward and gradient together.", ""]
    rows = []
    for fw in sorted({r["framework"] for r in rel}):
        cells = []
        for n in names:
            c = counts[(fw, n)]
            bad = sum(v for k, v in c.items() if k not in ("pass", "unsupported"))
            cells.append(f"{c['pass']} / {'**' + str(bad) + '**' if bad else 0} / "
                         f"{c['unsupported']}")
        rows.append([fw, *cells])
    out += table(["framework", *names], rows)
    violated = [r for r in rel if r["verdict"] not in ("pass", "unsupported")]
    for r in violated[:20]:
        out.append(f"- {r['framework']} `{r['check']}` `{r['case']}`: "
                   f"{_md_escape(r['detail'])[:400]}")
    if len(violated) > 20:
        out.append(f"- ... and {len(violated) - 20} more in results.json")
    if violated:
        out.append("")
    return out


def _conventions_section(doc) -> list[str]:
    recs = doc["results"]
    declared = defaultdict(dict)  # name -> framework -> link
    for fw, info in doc["environment"].get("frameworks", {}).items():
        for c in info.get("conventions") or []:
            declared[c["name"]][fw] = c.get("link", "")
    found = defaultdict(Counter)
    for r in recs:
        if r["verdict"] in ("divergent", "known-defect", "inconsistent"):
            for name in (r["convention"] or "").split("+"):
                found[name][r["framework"]] += 1
    names = sorted(set(declared) | set(found))
    if not names:
        return []
    catalogue = doc.get("conventions", {})
    out = ["## Named behaviours", "",
           "What the reference computes for each declared name, beside the canonical formula. A "
           "result is `divergent` (a convention) or `known-defect` when it matches the reference "
           "under the name its framework declares.", ""]
    rows = []
    for name in names:
        info = catalogue.get(name, {})
        if info:
            what = (f"{_md_escape(clip(info.get('summary', ''), 300))} This name: "
                    f"`{info.get('formula', '')}`; canonical: `{info.get('canonical_formula', '')}`")
        else:
            what = ("declared by an adapter; the reference does not implement it yet, so results "
                    "it would explain stay `mismatch`")
        follows = ", ".join(f"{fw} ({n})" for fw, n in sorted(found[name].items()))
        links = ", ".join(f"[{fw}]({link})" for fw, link in sorted(declared[name].items()))
        diverged = {(d["case"], d["check"]) for d in recs  # built once: quadratic if inlined
                    if d["verdict"] in ("divergent", "known-defect", "inconsistent")
                    and name in (d["convention"] or "")}
        canon = sorted({r["framework"] for r in recs if r["verdict"] == "pass"
                        and (r["case"], r["check"]) in diverged})
        rows.append([f"`{name}`", what, follows or "none", links or "none",
                     ", ".join(canon) or "none"])
    out += table(["name", "what it computes", "follows it here (results)", "declared by",
                  "canonical on the same cases"], rows)
    return out


def _error_behaviour_section(recs) -> list[str]:
    bad = [r for r in recs if r["params"].get("invalid")]
    if not bad:
        return []
    fws = sorted({r["framework"] for r in bad})
    cells: dict = defaultdict(dict)
    for r in bad:
        key = (r["params"]["invalid"], r["params"]["label"])
        beh = r.get("error_behaviour") or r["verdict"]
        cells[key][r["framework"]] = {"raises": "raises", "accepts": "**accepts**",
                                      "crashes": "**crashes**", "hangs": "**hangs**"}.get(beh, beh)
    out = ["## Invalid input", "",
           "What each framework does with input whose canonical answer is an error.", ""]
    out += table(["invalid input", "labels", *fws],
                 [[kind, label, *[row.get(f, "·") for f in fws]]
                  for (kind, label), row in sorted(cells.items())])
    return out


def _versions_section(recs) -> list[str]:
    """Frameworks run twice under different versions (name@label): what changed between them."""
    groups = defaultdict(set)
    for r in recs:
        groups[r["framework"].split("@")[0]].add(r["framework"])
    out = []
    for base, names in sorted(groups.items()):
        if len(names) < 2:
            continue
        names = sorted(names)
        idx = {(r["framework"], r["case"], r["check"]): r for r in recs if r["framework"] in names}
        versions = {n: next(r["version"] for r in recs if r["framework"] == n) for n in names}
        a = names[0]
        for b in names[1:]:
            changes, numeric, compared = [], [], 0
            for (fw, case, check), ra in sorted(idx.items()):
                if fw != a:
                    continue
                rb = idx.get((b, case, check))
                if rb is None:
                    continue
                compared += 1
                if (ra["verdict"], ra["convention"], ra.get("error_behaviour")) != (
                        rb["verdict"], rb["convention"], rb.get("error_behaviour")):
                    changes.append((case, check, ra, rb))
                elif "max_ulp" in ra and "max_ulp" in rb and (
                        ra["max_ulp"], ra.get("worst_got")) != (rb["max_ulp"], rb.get("worst_got")):
                    numeric.append((case, check, ra, rb))
            if not out:
                out += ["## What changed between versions", ""]
            out += [f"### {base}: {a} ({versions[a]}) vs {b} ({versions[b]})", "",
                    f"{compared} results compared: {len(changes)} changed verdict, convention or "
                    f"error behaviour; {len(numeric)} more changed numerically within the same "
                    "verdict.", ""]
            if numeric:
                rows = [[f"`{case}`", check, render.number(ra["max_ulp"]),
                         render.number(rb["max_ulp"])] for case, check, ra, rb in numeric[:20]]
                if len(numeric) > 20:
                    rows.append([f"... {len(numeric) - 20} more", "", "", ""])
                out += table(["case", "check", f"max ULP {a}", f"max ULP {b}"], rows)
            if not changes:
                continue
            rows = []
            for case, check, ra, rb in changes[:100]:
                fa = ra["verdict"] + (f" ({ra['convention']})" if ra["convention"] else "")
                fb = rb["verdict"] + (f" ({rb['convention']})" if rb["convention"] else "")
                rows.append([f"`{case}`", check, fa, fb])
            if len(changes) > 100:
                rows.append([f"... {len(changes) - 100} more", "", "", ""])
            out += table(["case", "check", f"{a} ({versions[a]})", f"{b} ({versions[b]})"], rows)
    return out


def render_figures(doc: dict, folder: Path) -> dict[str, str]:
    """Error distributions by framework and dtype as PNG (matplotlib); {title: relative path}.
    Returns {} when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return {}
    recs = [r for r in doc["results"] if "max_abs" in r and r["verdict"] in
            ("pass", "divergent", "known-defect", "mismatch")]
    if not recs:
        return {}
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    dtypes = ["float16", "bfloat16", "float32", "float64"]
    fws = sorted({r["framework"] for r in recs})
    for check in ("forward", "grad"):
        fig, axes = plt.subplots(1, len(dtypes), figsize=(3.2 * len(dtypes), 0.45 * len(fws) + 1.6),
                                 sharey=True, sharex=True)
        for ax, dt in zip(axes, dtypes):
            data, labels = [], []
            for fw in fws:
                vals = [min(max(render.ratio(r), 1e-6), 1e3) for r in recs
                        if r["framework"] == fw and r["check"] == check
                        and r["params"]["dtype"] == dt]
                data.append(np.log10(vals) if vals else [np.nan])
                labels.append(fw)
            ax.boxplot(data, orientation="horizontal", showfliers=True,
                       flierprops={"markersize": 2})
            ax.set_yticks(range(1, len(labels) + 1), labels)
            ax.axvline(0, color="red", lw=0.8)
            ax.set_xlim(-6.3, 3.3)
            ax.set_title(dt, fontsize=9)
            ax.set_xlabel("log10(error / bound), clipped to [-6, 3]", fontsize=8)
            ax.tick_params(labelsize=8)
        fig.suptitle(f"{check}: error relative to its bound (right of the red line: beyond)",
                     fontsize=9)
        fig.tight_layout()
        name = f"error-vs-bound-{check}.png"
        buf = io.BytesIO()  # written like the other reports: atomically, no temporary left behind
        fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
        plt.close(fig)
        atomic_write(folder / name, buf.getvalue())
        out[f"{check}: error relative to the bound, by framework and dtype"] = (
            f"{folder.name}/{name}")
    return out
