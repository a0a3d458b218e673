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
from pathlib import Path

import numpy as np

from harness import render
from harness.verdicts import ORDER, Verdict

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


def render_markdown(doc: dict, reproducers: dict[tuple[str, str, str], str] | None = None,
                    top: int = 15, figures: dict[str, str] | None = None) -> str:
    """The human report, from the results document alone (plus reproducer scripts and figure
    paths if given)."""
    env, grid, recs = doc["environment"], doc["grid"], doc["results"]
    out = ["# xent-parity report", ""]
    out.append(f"Softmax cross entropy, every framework's public API against a float64 reference. "
               f"Grid `{', '.join(grid.get('files', []))}`: {grid.get('cases')} cases, hash "
               f"`{grid.get('hash')}`.")
    out.append("")
    out += declarations_sections(doc)
    out += relations_section(doc["results"])
    out += ["## Environment", "",
            f"Python {env.get('python')}, numpy {env.get('numpy')}, {env.get('platform')} "
            f"({env.get('machine')}), device `{env.get('device')}`. Date and durations: see Run at "
            "the end.", "",
            "| framework | API | version | numerics flags |", "|---|---|---|---|"]
    for name, fw in sorted(env.get("frameworks", {}).items()):
        if "unavailable" in fw:
            out.append(f"| {name} | | | not run: {_md_escape(fw['unavailable'])} |")
        else:
            flags = ", ".join(f"{k}={v}" for k, v in sorted((fw.get("flags") or {}).items()))
            interp = f" (python `{fw['interpreter']}`)" if fw.get("interpreter") else ""
            out.append(f"| {name} | `{fw.get('api')}` | {fw.get('version')}{interp} | "
                       f"{_md_escape(flags)} |")
    out.append("")

    by_fw: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
    for r in recs:
        by_fw[r["framework"]][r["check"]][r["verdict"]] += 1
    out += ["## Verdicts", "", "Counts per framework, forward / gradient.", ""]
    out.append("| framework | " + " | ".join(ORDER) + " |")
    out.append("|---|" + "---|" * len(ORDER))
    for fw in sorted(by_fw):
        cells = [f"{by_fw[fw]['forward'][v]} / {by_fw[fw]['grad'][v]}" for v in ORDER]
        out.append(f"| {fw} | " + " | ".join(cells) + " |")
    out.append("")

    exp = doc.get("expectations")
    if exp and exp.get("file"):
        reviewed = sum(1 for r in recs if r.get("expectation", {}).get("holds"))
        out += [f"Reviewed known divergences (`{shown_path(exp['file'])}`): {reviewed} results "
                f"as expected, "
                f"{exp.get('broken', 0)} no longer as expected, {exp.get('unexplained', 0)} "
                "results other than pass/unsupported with no reviewed entry.", ""]
    matrix: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
    for r in recs:
        for f in features(r["params"], r["check"]):
            matrix[r["framework"]][f][r["verdict"]] += 1
    cols = [f for f in FEATURES if any(matrix[fw][f] for fw in matrix)]
    out += ["## Conformance by feature", "",
            "Each cell counts the results touching that feature: ✓ pass, d divergent (a named "
            "convention), k known defect, i inconsistent, m mismatch, b bad input accepted, "
            "e error, c crash, t timeout, u unsupported.", ""]
    out.append("| framework | " + " | ".join(cols) + " |")
    out.append("|---|" + "---|" * len(cols))
    for fw in sorted(matrix):
        out.append(f"| {fw} | " + " | ".join(_cell(matrix[fw][f]) for f in cols) + " |")
    out.append("")

    out += ["## Worst numerical error by dtype", "",
            "For each framework and dtype, the result whose error is largest relative to its "
            "bound (among pass, divergent and mismatch): at its worst element, the error in ULPs "
            "of the dtype and the bound in ULPs (✗: beyond). Bounds come from the error model in "
            "docs/error-model.md; the largest error in ULPs anywhere is in results.json "
            "(`max_ulp`), and is often at an element whose value is tiny, where the bound is "
            "absolute.", ""]
    dtypes = ["float16", "bfloat16", "float32", "float64"]
    out.append("| framework | check | " + " | ".join(dtypes) + " |")
    out.append("|---|---|" + "---|" * len(dtypes))
    for fw in sorted(by_fw):
        for check in ("forward", "grad"):
            cells = []
            for dt in dtypes:
                rs = [r for r in recs if r["framework"] == fw and r["check"] == check
                      and r["params"]["dtype"] == dt and "max_ulp" in r
                      and r["verdict"] in ("pass", "divergent", "known-defect", "mismatch")
                      and np.isfinite(render.value(r["max_ulp"]))]
                if not rs:
                    cells.append("·")
                    continue
                cells.append(render.cell(max(rs, key=render.ratio)))
            out.append(f"| {fw} | {check} | " + " | ".join(cells) + " |")
    out.append("")
    for title, path in (figures or {}).items():
        out += [f"![{title}]({path})", ""]

    out += _conventions_section(doc)
    out += _error_behaviour_section(recs)
    out += _versions_section(recs)

    bad = render.worst_records(recs)
    out += ["## Top discrepancies", ""]
    if not bad:
        out += ["None: every result passed, was a named convention, or is unsupported.", ""]
    for r in bad[:top]:
        out.append(f"### {r['framework']} {r['check']}: `{r['case']}`")
        out.append("")
        out.append(f"**{r['verdict']}** ({r['framework']} {r['version']}, {r['device']}): "
                   f"{_md_escape(r['detail'])}")
        out.append("")
        exp = r.get("expectation")
        if exp:
            state = "reviewed" if exp["holds"] else "**expected " + exp["verdict"] + ", changed**"
            out += [f"Known ({state}): {_md_escape(exp['reason'])} ([link]({exp['link']}))", ""]
        script = (reproducers or {}).get((r["case"], r["framework"], r["check"]))
        if script:
            out += ["<details><summary>reproducer</summary>", "", "```python", script.rstrip(),
                    "```", "", "</details>", ""]
    if len(bad) > top:
        out += [f"... and {len(bad) - top} more in results.json "
                "(`xent-parity explain CASE_ID --reproducer` prints any of them).", ""]

    events = doc.get("events", [])
    crashes = [e for e in events if e.get("event") in ("crash", "timeout")]
    if crashes:
        out += ["## Worker faults", "",
                "Each fault cost only the case in flight: the worker was restarted and the run "
                "went on.", "", "| framework | event | case | detail |", "|---|---|---|---|"]
        for e in crashes:
            out.append(f"| {e['framework']} | {e['event']} | `{e.get('case')}` | "
                       f"{_md_escape(e.get('detail', ''))[:300]} |")
        out.append("")
    unmatched = doc.get("expectations", {}).get("unmatched")
    if unmatched:
        out += ["## Expectations that matched nothing", ""]
        out += [f"- `{u}`" for u in unmatched]
        out.append("")
    timing = doc.get("timing", {})
    out += ["## Run", "",
            f"Started {timing.get('started')}, finished {timing.get('finished')}."]
    bd = timing.get("breakdown_s")
    if bd:
        out.append("Seconds: " + ", ".join(f"{k} {v:g}" for k, v in bd.items()) + ".")
    out.append("")
    return "\n".join(out)


def _declared(doc) -> list[tuple[str, dict]]:
    """(framework, declaration) for every declaration of every framework that ran."""
    out = []
    for fw, info in sorted(doc["environment"].get("frameworks", {}).items()):
        for d in info.get("conventions") or []:
            out.append((fw, d))
    return out


def _names(r) -> set:
    return set((r.get("convention") or "").split("+")) - {""}


def declarations_sections(doc) -> list[str]:
    """The defects found (first), the inconsistencies, and the table of every declared behaviour
    with its kind, evidence and results on this grid."""
    recs = doc["results"]
    declared = _declared(doc)
    if not declared:
        return []
    per: dict = defaultdict(lambda: {"results": 0, "ratio": 0.0, "rel": 0.0, "nonfinite": 0,
                                     "shape": 0, "inconsistent": 0})
    for r in recs:
        if r["verdict"] not in ("divergent", "known-defect", "inconsistent"):
            continue
        canon = r.get("canonical") or {}
        for name in _names(r):
            kind = (canon.get("kinds") or {}).get(name, r.get("kind") or "convention")
            p = per[(r["framework"], name, kind)]
            p["results"] += 1
            p["inconsistent"] += r["verdict"] == "inconsistent"
            ratio, rel = render.value(canon.get("max_ratio", 0.0)), render.value(canon.get("max_rel", 0.0))
            if canon.get("reason") == "shape":
                p["shape"] += 1
            elif canon.get("reason") == "nonfinite" or not np.isfinite(ratio):
                p["nonfinite"] += 1
            else:
                p["ratio"], p["rel"] = max(p["ratio"], ratio), max(p["rel"], rel)

    def effect(fw, name, kind):
        p = per.get((fw, name, kind))
        if not p or not p["results"]:
            return "no result on this grid"
        parts = []
        finite = p["results"] - p["nonfinite"] - p["shape"]
        if finite:
            parts.append(f"up to {p['rel']:.3g} relative ({p['ratio']:.3g}x the bound)")
        if p["nonfinite"]:
            parts.append(f"{p['nonfinite']} with NaN/inf where canonical has none, or none "
                         "where it has")
        if p["shape"]:
            parts.append(f"{p['shape']} in the shape of the result only")
        n = p["results"]
        return f"{n} result{'s' * (n != 1)}: " + "; ".join(parts)

    out = ["## Known defects", "",
           "Behaviours the adapters declare as defects: they contradict the framework's own "
           "documentation, its other code paths or mathematics. A result they explain is "
           "`known-defect`, not a convention.", ""]
    defects = [(fw, d) for fw, d in declared if d.get("kind") == "defect"]
    for fw, d in defects:
        link = d.get("upstream") or d.get("link", "")
        out.append(f"- **{fw} `{d['name']}`**: {effect(fw, d['name'], 'defect')}. "
                   f"{_md_escape(d.get('contradicts', ''))} "
                   f"([{'upstream' if d.get('upstream') else 'evidence'}]({link}))")
    if not defects:
        out.append("None declared.")
    out.append("")
    found = doc.get("inconsistencies") or []
    out += ["## Inconsistencies", "",
            "A declared behaviour the framework follows on some results but not on others where "
            "it would change the value (harness.consistency): evidence of a defect; the results "
            "that follow it are `inconsistent`.", ""]
    if not found:
        out.append("None found: every declared behaviour is followed wherever it applies.")
    for f in found:
        out.append(f"- **{f['framework']} `{f['convention']}`**: followed on {f['n_followed']} "
                   f"result(s) (e.g. `{f['followed'][0]}`), not on {f['n_not_followed']} where "
                   f"it would change the value (e.g. `{f['not_followed'][0]}`)")
    out.append("")
    out += ["## Declared behaviours", "",
            "Every behaviour an adapter declares: its kind, the evidence (for a convention the "
            "documentation that states it; for a defect what shows it), and what it explains on "
            "this grid.", "",
            "| framework | name | kind | evidence | results on this grid |", "|---|---|---|---|---|"]
    order = {"defect": 0, "platform-limit": 1, "convention": 2}
    for fw, d in sorted(declared, key=lambda x: (order.get(x[1].get("kind"), 3), x[0],
                                                 x[1]["name"])):
        links = f"[evidence]({d.get('link', '')})"
        if d.get("upstream"):
            links += f", [upstream]({d['upstream']})"
        kind = d.get("kind", "convention")
        inc = per.get((fw, d["name"], kind), {}).get("inconsistent", 0)
        res = effect(fw, d["name"], kind) + (f" ({inc} inconsistent)" if inc else "")
        out.append(f"| {fw} | `{d['name']}` | {d.get('kind', 'convention')} | {links} | {res} |")
    out.append("")
    return out


def relations_section(recs) -> list[str]:
    """Metamorphic relations: per framework and relation, how many held, how many were
    violated (with the first few violations named), how many did not apply."""
    rel = [r for r in recs if "~" in r["check"]]
    if not rel:
        return []
    names = sorted({r["check"].split("~")[1] for r in rel})
    table: dict = defaultdict(Counter)
    for r in rel:
        table[(r["framework"], r["check"].split("~")[1])][r["verdict"]] += 1
    out = ["## Metamorphic relations", "",
           "Pairs of calls of one framework that must agree (harness.relations): each cell "
           "counts held / violated / not applicable, forward and gradient together.", "",
           "| framework | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for fw in sorted({r["framework"] for r in rel}):
        cells = []
        for n in names:
            c = table[(fw, n)]
            bad = sum(v for k, v in c.items() if k not in ("pass", "unsupported"))
            cells.append(f"{c['pass']} / {'**' + str(bad) + '**' if bad else 0} / "
                         f"{c['unsupported']}")
        out.append(f"| {fw} | " + " | ".join(cells) + " |")
    out.append("")
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
    out = ["## Named conventions", "",
           "Where frameworks legitimately differ. A result is `divergent` when it matches the "
           "reference under a convention its framework documents.", ""]
    for name in names:
        info = catalogue.get(name, {})
        out.append(f"### `{name}`")
        out.append("")
        if info:
            out += [info.get("summary", ""), "",
                    f"- this convention: `{info.get('formula', '')}`",
                    f"- canonical: `{info.get('canonical_formula', '')}`"]
        else:
            out.append("Declared by an adapter; the reference does not implement it yet, so "
                       "results it would explain stay `mismatch`.")
        follows = ", ".join(f"{fw} ({n} results)" for fw, n in sorted(found[name].items()))
        out.append(f"- follows it on this grid: {follows or 'none'}")
        links = ", ".join(f"[{fw}]({link})" for fw, link in sorted(declared[name].items()))
        out.append(f"- documented by: {links or 'none'}")
        diverged = {(d["case"], d["check"]) for d in recs  # built once: quadratic if inlined
                    if d["verdict"] in ("divergent", "known-defect", "inconsistent")
                    and name in (d["convention"] or "")}
        canon = sorted({r["framework"] for r in recs if r["verdict"] == "pass"
                        and (r["case"], r["check"]) in diverged})
        out.append(f"- canonical on the same cases: {', '.join(canon) or 'none'}")
        out.append("")
    return out


def _error_behaviour_section(recs) -> list[str]:
    bad = [r for r in recs if r["params"].get("invalid")]
    if not bad:
        return []
    fws = sorted({r["framework"] for r in bad})
    table = defaultdict(dict)
    for r in bad:
        key = (r["params"]["invalid"], r["params"]["label"])
        beh = r.get("error_behaviour") or r["verdict"]
        table[key][r["framework"]] = {"raises": "raises", "accepts": "**accepts**",
                                      "crashes": "**crashes**", "hangs": "**hangs**"}.get(beh, beh)
    out = ["## Invalid input", "",
           "What each framework does with input whose canonical answer is an error.", "",
           "| invalid input | labels | " + " | ".join(fws) + " |",
           "|---|---|" + "---|" * len(fws)]
    for (kind, label), row in sorted(table.items()):
        out.append(f"| {kind} | {label} | " + " | ".join(row.get(f, "·") for f in fws) + " |")
    out.append("")
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
                out += [f"| case | check | max ULP {a} | max ULP {b} |",
                        "|---|---|---|---|"]
                for case, check, ra, rb in numeric[:20]:
                    out.append(f"| `{case}` | {check} | {render.number(ra['max_ulp'])} | "
                               f"{render.number(rb['max_ulp'])} |")
                if len(numeric) > 20:
                    out.append(f"| ... {len(numeric) - 20} more | | | |")
                out.append("")
            if not changes:
                continue
            out += [f"| case | check | {a} ({versions[a]}) | {b} ({versions[b]}) |",
                    "|---|---|---|---|"]
            for case, check, ra, rb in changes[:100]:
                fa = ra["verdict"] + (f" ({ra['convention']})" if ra["convention"] else "")
                fb = rb["verdict"] + (f" ({rb['convention']})" if rb["convention"] else "")
                out.append(f"| `{case}` | {check} | {fa} | {fb} |")
            if len(changes) > 100:
                out.append(f"| ... {len(changes) - 100} more | | | |")
            out.append("")
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
