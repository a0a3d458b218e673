r"""Regression gate: compare results with a reviewed baseline; fail when anything got worse.

    xent-parity gate --baseline reports/baseline.json             # against reports/results.json
    xent-parity gate --baseline reports/baseline.json --results /tmp/run/results.json \
        --format markdown                                         # for a pull-request comment
    xent-parity gate --baseline reports/baseline.json --update    # accept the results as baseline

Records are matched by (case, framework, check). A record **regressed** when:

- it passed and no longer does (pass -> anything else);
- its convention is new or changed (pass -> divergent, unsupported -> divergent, or divergent under
  a convention set that none of the old fitting sets shares: a result that two sets explain may
  name either, `harness.verdicts.same_outcome`); a failure now explained by a convention
  (mismatch -> divergent, and likewise from error, crash, ...) is an improvement;
- its error behaviour is new or changed (`error_behaviour` differs), or its verdict changed to
  one of the failure modes error, bad-input-accepted, timeout, crash;
- its verdict got worse in the one order of `harness.verdicts.ORDER`: pass < divergent <
  unsupported < known-defect < inconsistent < mismatch < bad-input-accepted < error < timeout <
  crash (a convention reclassified as a defect regresses: divergent -> known-defect);
- its error grew relative to its bound by more than the noise margin: `max_ratio` (the error at
  the worst element over the bound there) regresses when `new > old + margin x max(1, old)`
  (`--ratio-margin`, default 0.25: a quarter of the bound within it, a quarter of the error beyond
  it). These are the stable quantities: the error in ULPs anywhere (`max_ulp`) is often taken at
  an element whose value is tiny, where a pin-unchanged run on another CPU moves it from 84 to
  2048 ULP while the error against the bound stays put; `max_ulp` is never compared;
- it is in the baseline and missing from the results ("missing"), or its framework is unavailable
  now (one line per framework, with the number of baseline records it leaves unchecked);
- it is new (a new case, or a framework the baseline does not have) and failing (mismatch, error,
  bad-input-accepted, crash, timeout) with no reviewed expectation that holds for it: "new,
  unreviewed". `--accept-new` lists these without failing.

**Improvements** are listed too: anything -> pass, a verdict better in the order above (mismatch ->
divergent, unsupported -> pass, ...), and an error that shrank relative to its bound by the margin.
New records that pass, are unsupported, divergent or reviewed are listed apart ("new records").

The framework versions and the grid hash the baseline was made with are inside it
(`environment.frameworks[*].version`, `grid.hash`); when they differ the gate says so in its header
("torch 2.13.0 -> 2.14.0", "grid hash abc -> def: 3 cases added, 1 removed"), and so it does for
the CPU and the SIMD dispatch of numpy and of each framework (`environment.cpu`,
`environment.frameworks[*].dispatch`): information, never by itself a regression.

Exit status: 0 when nothing regressed (and always after a successful `--update`), 1 when something
regressed, 2 for usage errors and unreadable or invalid files (the message names the file and what
is wrong). Both checks are jsonschema over `harness/schema/results.schema.json`: the gate checks
the part of it that it reads (`check_document`, about a second on the default grid); the whole
document is `validate_results` (seconds). `--update`
refuses a partial run (`"complete": false`) unless `--force`.

Example output::

    xent-parity gate: /tmp/run/results.json against baseline reports/baseline.json
      torch 2.13.0 -> 2.14.0
      grid hash 131c5212e3467e23 (unchanged, 29 cases)
      ratio margin 0.25: an error regresses when new error/bound > old + 0.25 x max(1, old)

    REGRESSIONS (2)
      torch forward hard-mean-w=none-ii=-100-ax=-1-f32-6x5: pass -> mismatch; error/bound 0.02 -> \
3.1 (worst element 2 -> 300 ULP, bound 96.6 ULP), 1/1 beyond the bound
      torch grad soft-mean-w=none-ii=-100-ax=-1-f32-6x5: missing (was pass)

    IMPROVEMENTS (none)

    FAIL: 2 regressions, 0 improvements; 110 records in the baseline, 108 unchanged
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import render
from harness.render import clip
from harness.verdicts import FAILURE_MODES, RANK, SETTLED, rank, same_outcome

DEFAULT_RESULTS = "reports/results.json"
DEFAULT_RATIO_MARGIN = 0.25
MAX_LINES = 50  # lines per group before "... and N more"
SCHEMA_FILE = ("schema", "results.schema.json")  # relative to the harness package
FORMAT = "xent-parity-results/1"

_DETAILED = FAILURE_MODES | {"unsupported"}  # verdicts whose detail text is the figure


class GateError(Exception):
    """A file that cannot be used (unreadable, not JSON, not a results document): exit status 2."""


# --------------------------------------------------------------------------------------------------
# Validation


def load_schema() -> dict:
    """The results JSON Schema (draft 2020-12), shipped as package data next to this module."""
    try:
        from importlib.resources import files

        resource = files("harness")
        for part in SCHEMA_FILE:  # one name at a time: Python 3.10's joinpath takes one
            resource = resource.joinpath(part)
        text = resource.read_text(encoding="utf-8")
    except (ImportError, TypeError, AttributeError):  # pragma: no cover - unusual loaders
        text = Path(__file__).resolve().parent.joinpath(*SCHEMA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def validate_results(doc: Any) -> list[str]:
    """Problems with a results document against the whole JSON Schema, as 'path: message' lines
    (jsonschema, Draft 2020-12); empty when it is valid. Also checks that each (case, framework,
    check) appears once. Thorough and slow (seconds on the default grid): the gate itself runs
    `check_document`."""
    found = sorted(_full_validator().iter_errors(doc), key=lambda e: _path_key(e.absolute_path))
    errors = [f"{_path(e.absolute_path)}: {clip(e.message)}" for e in found]
    if not errors:
        errors = _duplicates(doc)
    return errors


# What the gate reads of a record: the parts of the results schema it checks before using a
# document (the whole schema, `validate_results`, also checks params, environment details and the
# rest, and takes seconds on the default grid)
GATE_RECORD_KEYS = ("case", "framework", "check", "verdict", "convention", "error_behaviour",
                    "detail", "fitting", "max_ratio", "worst_ulp", "bound_ulp", "n_bad", "n",
                    "expectation")


@functools.lru_cache(maxsize=1)
def _full_validator():
    """The whole results schema's validator, built once (the schema is the package's own)."""
    import jsonschema

    return jsonschema.Draft202012Validator(load_schema())


@functools.lru_cache(maxsize=1)
def _gate_validator():
    """A jsonschema validator of the part of the results schema the gate reads: derived from the
    one schema file, never written twice. Records keep only the gate's keys (their types, the
    required ones, and the rule that a divergent or known-defect record names its convention);
    a framework entry keeps its version or the reason it did not run."""
    import jsonschema

    schema = load_schema()  # a fresh document, parsed now: changed in place
    defs = schema["$defs"]
    rec = defs["record"]
    rec["properties"] = {k: v for k, v in rec["properties"].items() if k in GATE_RECORD_KEYS}
    rec["required"] = [k for k in rec["required"] if k in GATE_RECORD_KEYS]
    rec.pop("dependentRequired", None)  # the comparison figures come together; it reads three
    fw = defs["framework"]
    fw["else"] = {"required": ["version"], "properties": {
        "version": fw["else"]["properties"]["version"]}}
    env = defs["environment"]
    env["required"] = ["frameworks"]
    env["properties"] = {"frameworks": env["properties"]["frameworks"]}
    schema["required"] = [k for k in schema["required"] if k in ("format", "grid", "environment",
                                                                   "results")]
    schema["properties"] = {k: v for k, v in schema["properties"].items()
                            if k in ("format", "grid", "environment", "results", "complete")}
    defs["record"] = _inline_refs(rec, defs)  # checked 10000 times a document: no $ref lookups
    return jsonschema.Draft202012Validator(schema)


def _inline_refs(node, defs: dict):
    """`node` with each `{"$ref": "#/$defs/NAME", ...}` replaced by that definition (merged with
    the keywords beside the reference): the same schema, without a reference lookup per value."""
    if isinstance(node, list):
        return [_inline_refs(v, defs) for v in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = defs[ref[len("#/$defs/"):]]
        beside = {k: v for k, v in node.items() if k != "$ref"}
        if set(beside) & set(target) - {"description"}:  # both constrain: both must hold
            return _inline_refs({"allOf": [target, beside]}, defs)
        return _inline_refs({**target, **beside}, defs)
    return {k: _inline_refs(v, defs) for k, v in node.items()}


def check_document(doc: Any, limit: int = 50) -> list[str]:
    """Problems with the parts of a results document that the gate reads, as 'path: message'
    lines (jsonschema over `_gate_validator`'s part of the results schema); empty when the gate
    can use it. At most `limit` problems; then each (case, framework, check) must appear once."""
    errors = []
    for e in _gate_validator().iter_errors(doc):
        errors.append((_path_key(e.absolute_path), f"{_path(e.absolute_path)}: {clip(e.message)}"))
        if len(errors) >= limit:
            break
    if errors:
        return [text for _, text in sorted(errors)]
    return _duplicates(doc)


def _duplicates(doc: dict) -> list[str]:
    seen: dict[tuple, int] = {}
    out = []
    for i, r in enumerate(doc["results"]):
        key = (r["case"], r["framework"], r["check"])
        if key in seen:
            out.append(f"results[{i}]: duplicate record for {key[1]} {key[2]} {key[0]} "
                       f"(also results[{seen[key]}])")
        else:
            seen[key] = i
    return out


def _path_key(path) -> tuple:
    return tuple((0, p, "") if isinstance(p, int) else (1, 0, str(p)) for p in path)


def _path(path) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(document)"


# --------------------------------------------------------------------------------------------------
# Loading


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON (non-finite floats are written as strings)")


def read_document(path: str | Path, role: str) -> tuple[dict, bytes]:
    """Read, parse and check one results document; `role` ("baseline", "results") names it in
    messages. Returns the document and the exact bytes read. Raises GateError."""
    where = f"{role} {path}"
    try:
        raw = Path(path).read_bytes()
    except IsADirectoryError:
        raise GateError(f"{where}: is a directory, not a results file") from None
    except OSError as e:
        hint = " (create a baseline with --update)" if role == "baseline" and isinstance(
            e, FileNotFoundError) else ""
        raise GateError(f"{where}: cannot read: {e.strerror or e}{hint}") from None
    try:
        doc = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError as e:
        raise GateError(f"{where}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise GateError(f"{where}: not JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    except (ValueError, RecursionError) as e:
        raise GateError(f"{where}: not valid JSON: {e}") from None
    problems = check_document(doc)
    if problems:
        shown = "\n".join(f"  {p}" for p in problems[:5])
        more = f"\n  ... and {len(problems) - 5} more" if len(problems) > 5 else ""
        raise GateError(f"{where}: not a valid xent-parity results document "
                        f"({len(problems)} problem{'s' * (len(problems) != 1)}):\n{shown}{more}")
    return doc, raw


# --------------------------------------------------------------------------------------------------
# Comparison


@dataclass
class Change:
    """One line of the diff: a record (or, for `framework` entries, a whole framework)."""

    framework: str
    check: str
    case: str
    text: str  # what changed: "pass -> mismatch; error/bound ..."
    order: int = 0  # sort key within its group: larger first

    def line(self, markdown: bool = False) -> str:
        if not self.case:
            return f"{self.framework}: {self.text}"
        case = f"`{self.case}`" if markdown else self.case
        return f"{self.framework} {self.check} {case}: {self.text}"


@dataclass
class GateResult:
    """What `compare_documents` found: header notes, regressions, improvements, new records."""

    notes: list[str] = field(default_factory=list)
    regressions: list[Change] = field(default_factory=list)
    improvements: list[Change] = field(default_factory=list)
    new: list[Change] = field(default_factory=list)  # new records that need no review
    baseline_records: int = 0
    unchanged: int = 0
    ratio_margin: float = DEFAULT_RATIO_MARGIN
    updated: bool = False  # the results were accepted as the new baseline (--update)

    @property
    def ok(self) -> bool:
        return not self.regressions


def _figures(old: dict | None, new: dict) -> str:
    """The numbers behind a change (harness.render.figures), or the detail where there are none."""
    text = render.figures(new, old)
    if not text and new["verdict"] in _DETAILED and new.get("detail"):
        text = clip(new["detail"], 120)
    return "; " + text if text else ""


def _fitting(r: dict) -> list:
    return [r.get("convention"), *(r.get("fitting") or ())]


def _grew(old: float, new: float, margin: float) -> bool:
    """`new` beyond `old` by the noise margin: a share of the bound within it (ratios up to 1),
    a share of the error itself beyond it. NaN counts as infinite."""
    old = math.inf if math.isnan(old) else old
    new = math.inf if math.isnan(new) else new
    if math.isinf(old):
        return False
    return new > old + margin * max(1.0, old)


def judge_pair(old: dict, new: dict, margin: float) -> tuple[list[str], list[str]]:
    """Why one record regressed, and (if it did not) why it improved: two lists of reasons."""
    worse, better = [], []
    vo, vn = old["verdict"], new["verdict"]
    co, cn = old.get("convention"), new.get("convention")
    eo, en = old.get("error_behaviour"), new.get("error_behaviour")
    if vo != vn:
        if vo == "pass":
            worse.append("no longer passes")
        elif vn in FAILURE_MODES:
            worse.append(f"now {vn}")
        elif rank(vn) > rank(vo):
            worse.append("worse verdict")
    if cn is not None and rank(vo) < RANK["mismatch"] and not same_outcome(
            "divergent", _fitting(old) if co else None, "divergent", _fitting(new)):
        worse.append("new convention" if co is None else "changed convention")
    if en is not None and en != eo:
        worse.append("new error behaviour" if eo is None else "changed error behaviour")
    ro, rn = render.optional(old.get("max_ratio")), render.optional(new.get("max_ratio"))
    if ro is not None and rn is not None:
        if _grew(ro, rn, margin):
            worse.append("error grew against its bound")
        elif _grew(rn, ro, margin):
            better.append("error shrank against its bound")
    if vo != vn and (vn == "pass" or rank(vn) < rank(vo)):
        better.append("better verdict")
    return worse, (better if not worse else [])


def _describe_change(old: dict, new: dict) -> str:
    return f"{render.state(old)} -> {render.state(new)}{_figures(old, new)}"


def _counts(counts: Counter) -> str:
    """'pass 3, mismatch 1': verdict counts in the verdict order."""
    ordered = sorted(counts.items(), key=lambda x: rank(x[0]))
    return ", ".join(f"{v} {c}" for v, c in ordered)


def _available(entry: dict | None) -> bool:
    return entry is not None and "unavailable" not in entry


def _reviewed(r: dict) -> bool:
    """A new record that needs no review: it passes, is unsupported or a declared convention, or
    a reviewed expectation holds for it."""
    return r["verdict"] in SETTLED or bool((r.get("expectation") or {}).get("holds"))


def _dispatch_notes(label: str, old, new) -> list[str]:
    """What differs between two dispatch descriptions (flat dicts of strings or lists)."""
    if old == new or not isinstance(old, dict) or not isinstance(new, dict):
        return [] if old == new else [f"{label} {clip(str(old), 80)} -> {clip(str(new), 80)}"]
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if a == b:
            continue
        if isinstance(a, list) and isinstance(b, list):
            gone, came = sorted(set(a) - set(b)), sorted(set(b) - set(a))
            what = ", ".join(filter(None, ["-" + " -".join(gone) if gone else "",
                                           "+" + " +".join(came) if came else ""]))
            out.append(f"{label} {k}: {what or 'reordered'}")
        else:
            out.append(f"{label} {k}: {clip(str(a), 60)} -> {clip(str(b), 60)}")
    return out


def _environment_notes(base: dict, res: dict) -> list[str]:
    """Version, device, interpreter, CPU and dispatch differences between the environments."""
    eb, er = base["environment"], res["environment"]
    fb, fr = eb["frameworks"], er["frameworks"]
    notes = []
    for key, label in (("python", "python"), ("numpy", "harness numpy"), ("device", "device"),
                       ("machine", "machine")):
        if eb.get(key) != er.get(key):
            notes.append(f"{label} {eb.get(key)} -> {er.get(key)}")
    if "cpu" in eb or "cpu" in er:
        cpu = _dispatch_notes("cpu", eb.get("cpu"), er.get("cpu"))
        if cpu:
            notes += [n + " (information: verdicts do not depend on it)" for n in cpu[:1]]
            notes += cpu[1:]
    same = []
    for name in sorted(set(fb) | set(fr)):
        b, r = fb.get(name), fr.get(name)
        if b is None:
            now = r["version"] if _available(r) else f"unavailable ({clip(r['unavailable'], 100)})"
            notes.append(f"{name}: not in the baseline; now {now}")
        elif r is None:
            notes.append(f"{name} {b.get('version', 'unavailable')} -> not run")
        elif _available(b) and _available(r):
            if b["version"] != r["version"]:
                notes.append(f"{name} {b['version']} -> {r['version']}")
            else:
                same.append(f"{name} {r['version']}")
            if b.get("device") != r.get("device"):
                notes.append(f"{name} device {b.get('device')} -> {r.get('device')}")
            if "dispatch" in b or "dispatch" in r:
                notes += _dispatch_notes(f"{name} dispatch", b.get("dispatch"), r.get("dispatch"))
        elif _available(b):
            notes.append(f"{name} {b['version']} -> unavailable ({clip(r['unavailable'], 100)})")
        elif _available(r):
            notes.append(f"{name} unavailable -> {r['version']}")
        else:
            notes.append(f"{name}: unavailable in both")
    if same:
        notes.append("unchanged: " + ", ".join(same))
    for doc, role in ((base, "baseline"), (res, "results")):
        if doc.get("complete") is False:
            notes.append(f"the {role} is a partial run (interrupted): its missing records count "
                         + ("as new" if role == "baseline" else "as missing"))
    return notes


def _grid_notes(base: dict, res: dict) -> list[str]:
    gb, gr = base["grid"], res["grid"]
    notes = []
    if gb["hash"] != gr["hash"]:
        cb = {r["case"] for r in base["results"]}
        cr = {r["case"] for r in res["results"]}
        added, removed = len(cr - cb), len(cb - cr)
        notes.append(f"grid hash {gb['hash']} -> {gr['hash']}: {added} case{'s' * (added != 1)} "
                     f"added, {removed} removed ({gb['cases']} -> {gr['cases']} cases)")
    else:
        notes.append(f"grid hash {gr['hash']} (unchanged, {gr['cases']} cases)")
    if list(gb["files"]) != list(gr["files"]):
        files_b, files_r = ", ".join(gb["files"]) or "-", ", ".join(gr["files"]) or "-"
        notes.append(f"grid files {files_b} -> {files_r}")
    return notes


def compare_documents(base: dict, res: dict, ratio_margin: float = DEFAULT_RATIO_MARGIN,
                      accept_new: bool = False) -> GateResult:
    """Diff two checked results documents: the baseline `base` and the new results `res`."""
    out = GateResult(ratio_margin=ratio_margin)
    out.notes = _environment_notes(base, res) + _grid_notes(base, res)
    m = f"{ratio_margin:g}"
    out.notes.append(f"ratio margin {m}: an error regresses when new error/bound > old + {m} x "
                     "max(1, old)")
    fb, fr = base["environment"]["frameworks"], res["environment"]["frameworks"]
    old = {(r["case"], r["framework"], r["check"]): r for r in base["results"]}
    new = {(r["case"], r["framework"], r["check"]): r for r in res["results"]}
    out.baseline_records = len(old)

    ran = {k[1] for k in new}
    unchecked: Counter = Counter()  # framework -> baseline records left unchecked
    for key in sorted(old.keys() - new.keys(), key=lambda k: (k[1], k[0], k[2])):
        case, fw, check = key
        if fw in ran or _available(fr.get(fw)):
            out.regressions.append(Change(fw, check, case, f"missing (was {render.state(old[key])})",
                                          order=RANK["crash"] + 1))
        else:
            unchecked[fw] += 1
    gone = {f for f in fr if _available(fb.get(f)) and not _available(fr[f])}
    for fw in sorted(set(unchecked) | gone):
        n = unchecked.get(fw, 0)
        why = (f"unavailable now ({clip(fr[fw]['unavailable'], 120)})" if fw in fr
               else "not in the results (not run)")
        out.regressions.append(Change(fw, "", "", f"{why}; {n} baseline record{'s' * (n != 1)} "
                                      f"not checked", order=100))

    for key in sorted(old.keys() & new.keys(), key=lambda k: (k[1], k[0], k[2])):
        case, fw, check = key
        o, n = old[key], new[key]
        worse, better = judge_pair(o, n, ratio_margin)
        if worse:
            out.regressions.append(Change(fw, check, case, _describe_change(o, n),
                                          order=rank(n["verdict"])))
        elif better:
            out.improvements.append(Change(fw, check, case, _describe_change(o, n), order=1))
        else:
            out.unchanged += 1

    added = sorted(new.keys() - old.keys(), key=lambda k: (k[1], k[0], k[2]))
    newly_run = {k[1] for k in added if not _available(fb.get(k[1]))}
    per_fw: dict[str, Counter] = {}
    for key in added:
        case, fw, check = key
        r = new[key]
        if fw in newly_run:
            per_fw.setdefault(fw, Counter())[r["verdict"]] += 1
        if not _reviewed(r):
            text = f"new, unreviewed: {render.state(r)}{_figures(None, r)}"
            (out.new if accept_new else out.regressions).append(
                Change(fw, check, case, text + (" (accepted: --accept-new)" if accept_new else ""),
                       order=rank(r["verdict"])))
        elif fw not in newly_run:
            out.new.append(Change(fw, check, case, f"new: {render.state(r)}{_figures(None, r)}"))
    for fw, counts in sorted(per_fw.items()):
        was = "unavailable in the baseline" if fw in fb else "not in the baseline"
        out.new.append(Change(fw, "", "", f"{was}, now {fr[fw]['version']}: "
                              f"{sum(counts.values())} new records ({_counts(counts)})", order=100))
    out.regressions.sort(key=lambda c: -c.order)  # stable: framework, case, check within a level
    out.improvements.sort(key=lambda c: -c.order)
    out.new.sort(key=lambda c: -c.order)
    return out


# --------------------------------------------------------------------------------------------------
# Rendering


def _group(changes: list[Change], markdown: bool, max_lines: int) -> list[str]:
    bullet = "- " if markdown else "  "
    lines = [bullet + c.line(markdown) for c in changes[:max_lines]]
    if len(changes) > max_lines:
        lines.append(f"{bullet}... and {len(changes) - max_lines} more")
    return lines


def _summary(g: GateResult) -> str:
    head = "UPDATED" if g.updated else "FAIL" if g.regressions else "OK"
    nr, ni = len(g.regressions), len(g.improvements)
    new = f", {len(g.new)} new" if g.new else ""
    return (f"{head}: {nr} regression{'s' * (nr != 1)}, {ni} improvement{'s' * (ni != 1)}{new}; "
            f"{g.baseline_records} records in the baseline, {g.unchanged} unchanged")


def _groups(g: GateResult):
    out = [("REGRESSIONS", "Regressions", g.regressions),
           ("IMPROVEMENTS", "Improvements", g.improvements)]
    if g.new:
        out.append(("NEW RECORDS", "New records", g.new))
    return out


def render_text(g: GateResult, results_path: str, baseline_path: str,
                max_lines: int = MAX_LINES, title: str | None = None) -> str:
    """Plain text for a terminal or CI log: header, REGRESSIONS, IMPROVEMENTS, summary line."""
    out = [title or f"xent-parity gate: {results_path} against baseline {baseline_path}"]
    out += [f"  {n}" for n in g.notes]
    for name, _, items in _groups(g):
        out += ["", f"{name} ({len(items) or 'none'})"] + _group(items, False, max_lines)
    out += ["", _summary(g)]
    return "\n".join(out) + "\n"


def render_markdown(g: GateResult, results_path: str, baseline_path: str,
                    max_lines: int = MAX_LINES, title: str | None = None) -> str:
    """Markdown for a pull-request comment: the same content as `render_text`."""
    out = [f"### {title or 'xent-parity gate'}: {_summary(g)}", "",
           f"`{results_path}` against baseline `{baseline_path}`", ""]
    out += [f"- {n}" for n in g.notes]
    for _, name, items in _groups(g):
        out += ["", f"#### {name} ({len(items) or 'none'})", ""]
        out += _group(items, True, max_lines) if items else ["None."]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------------------
# Command line


def _ratio_margin(s: str) -> float:
    try:
        f = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {s!r}") from None
    if not (math.isfinite(f) and f >= 0):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {s!r}")
    return f


def _max_lines(s: str) -> int:
    try:
        n = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {s!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {s!r}")
    return n


def _add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--baseline", required=True, metavar="PATH",
                    help="the reviewed results document to compare with, e.g. "
                         "reports/baseline.json")
    ap.add_argument("--results", default=DEFAULT_RESULTS, metavar="PATH",
                    help=f"the new results document (default {DEFAULT_RESULTS})")
    ap.add_argument("--update", action="store_true",
                    help="accept the results: copy them to the baseline path (atomically), print "
                         "what changed, exit 0")
    ap.add_argument("--force", action="store_true",
                    help="with --update: accept a partial (interrupted) run as the baseline")
    ap.add_argument("--ratio-margin", type=_ratio_margin, default=DEFAULT_RATIO_MARGIN,
                    metavar="M", help="an error regresses when new error/bound > old + M x "
                    f"max(1, old) (default {DEFAULT_RATIO_MARGIN:g})")
    ap.add_argument("--accept-new", action="store_true",
                    help="list new records (new cases, new frameworks) that fail unreviewed "
                         "without failing the gate")
    ap.add_argument("--format", choices=("text", "markdown"), default="text",
                    help="text (default) or markdown for a pull-request comment")
    ap.add_argument("--max-lines", type=_max_lines, default=MAX_LINES, metavar="N",
                    help=f"lines per group before the rest is counted (default {MAX_LINES})")


_DESCRIPTION = ("Compare a results document with a baseline; exit 1 when a record got worse "
                "(verdict, convention, error behaviour, error against its bound beyond "
                "--ratio-margin, missing, framework unavailable, new and failing unreviewed), "
                "0 otherwise, 2 for unusable files.")


def add_gate_parser(subparsers) -> argparse.ArgumentParser:
    """Register the `gate` subcommand on an argparse subparsers object (from cli.build_parser)."""
    ap = subparsers.add_parser("gate", help="compare results with a baseline; exit 1 on "
                               "regressions",
                               description=_DESCRIPTION)
    _add_arguments(ap)
    ap.set_defaults(func=cmd_gate)
    return ap


def build_gate_parser() -> argparse.ArgumentParser:
    """A stand-alone parser for `xent-parity gate` (used by main_gate)."""
    ap = argparse.ArgumentParser(prog="xent-parity gate", description=_DESCRIPTION)
    _add_arguments(ap)
    ap.set_defaults(func=cmd_gate)
    return ap


def _render(g: GateResult, args, title: str | None = None) -> str:
    render = render_markdown if args.format == "markdown" else render_text
    return render(g, args.results, args.baseline, args.max_lines, title)


def _update(args) -> int:
    res, raw = read_document(args.results, "results")
    if res.get("complete") is False and not args.force:
        raise GateError(f"results {args.results}: is a partial run (interrupted: "
                        "\"complete\": false); resume it first, or --force to accept it as the "
                        "baseline anyway")
    base_path = Path(args.baseline)
    previous = None
    note = ""
    if base_path.exists():
        try:
            previous, _ = read_document(base_path, "baseline")
        except GateError as e:
            note = f"the previous baseline was not usable, replaced: {str(e).splitlines()[0]}"
    else:
        note = f"no previous baseline at {args.baseline}; created it"
    from harness.report import atomic_write  # the project's one atomic writer

    try:
        atomic_write(base_path, raw)
    except OSError as e:
        raise GateError(f"baseline {args.baseline}: cannot write: {e.strerror or e}") from None
    title = f"xent-parity gate --update: baseline {args.baseline} <- {args.results}"
    if previous is not None:
        g = compare_documents(previous, res, args.ratio_margin, accept_new=True)
        g.updated = True
        sys.stdout.write(_render(g, args, title))
    else:
        counts = Counter(r["verdict"] for r in res["results"])
        sys.stdout.write(f"{title}\n  {note}\n  {len(res['results'])} records "
                         f"({_counts(counts) or 'none'}), "
                         f"grid hash {res['grid']['hash']}\n")
        return 0
    if note:
        sys.stdout.write(f"  {note}\n")
    sys.stdout.write(f"baseline {args.baseline} updated\n")
    return 0


def cmd_gate(args) -> int:
    """Run the gate from parsed arguments; returns the exit status (0 ok, 1 regressions, 2 unusable
    files). Messages about unusable files go to stderr and name the file."""
    from harness import progress

    # a bar on a terminal only: the gate's log in CI is its report, on stdout
    bar = progress.Progress(3, "gate", unit="step", quiet=progress.mode() != "bar")
    try:
        if args.update:
            bar.close()
            return _update(args)
        base, _ = read_document(args.baseline, "baseline")
        bar.update(1)
        res, _ = read_document(args.results, "results")
        bar.update(2)
        g = compare_documents(base, res, args.ratio_margin, args.accept_new)
        bar.update(3)
        bar.close()
        sys.stdout.write(_render(g, args))
        return 0 if g.ok else 1
    except GateError as e:
        bar.close()
        print(f"xent-parity gate: {e}", file=sys.stderr)
        return 2


def main_gate(argv: list[str] | None = None) -> int:
    """`xent-parity gate ARGS` as a function: the exit status (argparse usage errors give 2)."""
    try:
        args = build_gate_parser().parse_args(argv)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 2
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main_gate())
