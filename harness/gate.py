r"""Regression gate: compare results with a reviewed baseline; fail when anything got worse.

    xent-parity gate --baseline reports/baseline.json             # against reports/results.json
    xent-parity gate --baseline reports/baseline.json --results /tmp/run/results.json \
        --format markdown                                         # for a pull-request comment
    xent-parity gate --baseline reports/baseline.json --update    # accept the results as baseline

Records are matched by (case, framework, check). A record **regressed** when:

- it passed and no longer does (pass -> anything else);
- its convention is new or changed (pass -> divergent, divergent under another convention,
  unsupported -> divergent); a failure now explained by a convention (mismatch -> divergent, and
  likewise from error, crash, ...) is an improvement;
- its error behaviour is new or changed (`error_behaviour` differs), or its verdict changed to
  one of the failure modes error, bad-input-accepted, timeout, crash;
- its verdict got worse in the order
  pass < divergent < unsupported < mismatch < bad-input-accepted < error < timeout < crash;
- its error in ULPs grew beyond the factor: `new max_ulp > factor * max(old max_ulp, 1)`
  (`--ulp-factor`, default 4). The floor of 1 ULP keeps rounding noise (0 -> 0.5 ULP, 0.3 -> 2 ULP)
  from counting; with factor 4, 0.8 -> 4.1 ULP regresses, 0.8 -> 3.9 does not;
- it is in the baseline and missing from the results ("missing"), or its framework is unavailable
  now (one line per framework, with the number of baseline records it leaves unchecked).

**Improvements** are listed too: anything -> pass, a verdict better in the order above (mismatch ->
divergent, unsupported -> pass, ...), a max_ulp that shrank by the factor
(`old > factor * max(new, 1)`), and new records.

The framework versions and the grid hash the baseline was made with are inside it
(`environment.frameworks[*].version`, `grid.hash`); when they differ the gate says so in its header
("torch 2.13.0 -> 2.14.0", "grid hash abc -> def: 3 cases added, 1 removed"). That is information,
not by itself a regression.

Exit status: 0 when nothing regressed (and always after a successful `--update`), 1 when something
regressed, 2 for usage errors and unreadable or invalid files (the message names the file and what
is wrong). Both documents are validated against `harness/schema/results.schema.json` first.

Example output::

    xent-parity gate: /tmp/run/results.json against baseline reports/baseline.json
      torch 2.13.0 -> 2.14.0
      grid hash 131c5212e3467e23 (unchanged, 29 cases)
      ULP factor 4: a max_ulp regresses when new > 4 x max(old, 1)

    REGRESSIONS (2)
      torch forward hard-mean-w=none-ii=-100-ax=-1-f32-6x5: pass -> mismatch; max_ulp 0.5 -> 300 \
(bound 96.6 ULP), 1/1 beyond the bound
      torch grad soft-mean-w=none-ii=-100-ax=-1-f32-6x5: missing (was pass)

    IMPROVEMENTS (none)

    FAIL: 2 regressions, 0 improvements; 110 records in the baseline, 108 unchanged
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_RESULTS = "reports/results.json"
DEFAULT_ULP_FACTOR = 4.0
ULP_FLOOR = 1.0  # ULP errors below this count as 1 when judging growth: rounding noise
MAX_LINES = 50  # lines per group before "... and N more"
SCHEMA_FILE = ("schema", "results.schema.json")  # relative to the harness package

# "Worse" order of verdicts; FAILURE_MODES appearing (from another verdict) always regress.
RANK = {"pass": 0, "divergent": 1, "unsupported": 2, "mismatch": 3, "bad-input-accepted": 4,
        "error": 5, "timeout": 6, "crash": 7}
FAILURE_MODES = frozenset({"bad-input-accepted", "error", "timeout", "crash"})
_DETAILED = FAILURE_MODES | {"unsupported"}  # verdicts whose detail text is the figure


class GateError(Exception):
    """A file that cannot be used (unreadable, not JSON, not a results document): exit status 2."""


# --------------------------------------------------------------------------------------------------
# Schema validation


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
    """Problems with a results document, as 'path: message' lines; empty when it is valid.

    Uses `jsonschema` (Draft 2020-12) when importable, else a small built-in interpreter of the
    keywords the schema uses. Also checks that each (case, framework, check) appears once.
    """
    schema = load_schema()
    try:
        import jsonschema
    except ImportError:
        errors: list[str] = []
        _mini_check(doc, schema, schema, (), errors)
    else:
        validator = jsonschema.Draft202012Validator(schema)
        found = sorted(validator.iter_errors(doc), key=lambda e: _path_key(e.absolute_path))
        errors = [f"{_path(e.absolute_path)}: {_clip(e.message)}" for e in found]
    if not errors:
        errors = _duplicates(doc)
    return errors


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


def _clip(s: str, n: int = 200) -> str:
    s = " ".join(str(s).split())
    return s if len(s) <= n else s[:n - 3] + "..."


_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool))
    or (isinstance(v, float) and v.is_integer()),
}


def _mini_check(inst, schema: dict, root: dict, path: tuple, errors: list[str]) -> None:
    """The subset of JSON Schema the results schema uses, for when `jsonschema` is missing."""
    def err(msg):
        errors.append(f"{_path(path)}: {_clip(msg)}")

    if "$ref" in schema:
        node = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        _mini_check(inst, node, root, path, errors)
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_TYPES[t](inst) for t in types):
            err(f"{inst!r} is not of type {', '.join(map(repr, types))}")
            return
    if "const" in schema and inst != schema["const"]:
        err(f"{schema['const']!r} was expected, got {inst!r}")
    if "enum" in schema and not any(_json_eq(inst, e) for e in schema["enum"]):
        err(f"{inst!r} is not one of {schema['enum']!r}")
    if isinstance(inst, str):
        if len(inst) < schema.get("minLength", 0):
            err(f"{inst!r} is too short")
    if _TYPES["number"](inst) and "minimum" in schema and inst < schema["minimum"]:
        err(f"{inst!r} is less than the minimum of {schema['minimum']}")
    if "anyOf" in schema:
        if not any(_mini_ok(inst, s, root) for s in schema["anyOf"]):
            err(f"{inst!r} is not valid under any of the given schemas")
    for sub in schema.get("allOf", ()):
        _mini_check(inst, sub, root, path, errors)
    if "if" in schema:
        branch = schema.get("then") if _mini_ok(inst, schema["if"], root) else schema.get("else")
        if branch is not None:
            _mini_check(inst, branch, root, path, errors)
    if isinstance(inst, dict):
        for key in schema.get("required", ()):
            if key not in inst:
                err(f"{key!r} is a required property")
        for key, needs in schema.get("dependentRequired", {}).items():
            if key in inst:
                for k in needs:
                    if k not in inst:
                        err(f"{k!r} is a dependency of {key!r}")
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, value in inst.items():
            if key in props:
                _mini_check(value, props[key], root, path + (key,), errors)
            elif extra is False:
                err(f"additional property {key!r} is not allowed")
            elif isinstance(extra, dict):
                _mini_check(value, extra, root, path + (key,), errors)
    if isinstance(inst, list) and "items" in schema:
        for i, value in enumerate(inst):
            _mini_check(value, schema["items"], root, path + (i,), errors)


def _json_eq(a, b) -> bool:
    """Equality as JSON Schema means it: booleans are not numbers."""
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def _mini_ok(inst, schema: dict, root: dict) -> bool:
    errors: list[str] = []
    _mini_check(inst, schema, root, (), errors)
    return not errors


# --------------------------------------------------------------------------------------------------
# Loading


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON (non-finite floats are written as strings)")


def read_document(path: str | Path, role: str) -> tuple[dict, bytes]:
    """Read, parse and validate one results document; `role` ("baseline", "results") names it in
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
    except ValueError as e:
        raise GateError(f"{where}: not valid JSON: {e}") from None
    try:
        problems = validate_results(doc)
    except (OSError, ValueError) as e:  # the schema itself is missing or broken: an install problem
        raise GateError(f"cannot load the results schema harness/{'/'.join(SCHEMA_FILE)} "
                        f"({e}); is the package data installed?") from None
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
    text: str  # what changed: "pass -> mismatch; max_ulp ..."
    order: int = 0  # sort key within its group: larger first

    def line(self, markdown: bool = False) -> str:
        if not self.case:
            return f"{self.framework}: {self.text}"
        case = f"`{self.case}`" if markdown else self.case
        return f"{self.framework} {self.check} {case}: {self.text}"


@dataclass
class GateResult:
    """What `compare_documents` found: header notes, regressions, improvements, counts."""

    notes: list[str] = field(default_factory=list)
    regressions: list[Change] = field(default_factory=list)
    improvements: list[Change] = field(default_factory=list)
    baseline_records: int = 0
    unchanged: int = 0
    ulp_factor: float = DEFAULT_ULP_FACTOR
    updated: bool = False  # the results were accepted as the new baseline (--update)

    @property
    def ok(self) -> bool:
        return not self.regressions


def _num(v) -> float | None:
    """A float field as written in results.json (number, or 'inf'/'-inf'/'nan'), or None."""
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)):
        return float(v)
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _fmt(v) -> str:
    x = _num(v)
    if x is None:
        return "?"
    if math.isnan(x) or math.isinf(x):
        return str(v)
    return f"{x:.3g}"


def _factor(f: float) -> str:
    return f"{f:g}"


def _state(r: dict) -> str:
    s = r["verdict"]
    if r.get("convention"):
        s += f" ({r['convention']})"
    if r.get("error_behaviour"):
        s += f" [{r['error_behaviour']}]"
    return s


def _figures(old: dict | None, new: dict, growth: str = "") -> str:
    """The numbers behind a change: ULPs against the bound, elements beyond it, or the detail."""
    parts = []
    if "max_ulp" in new:
        ulp = _fmt(new["max_ulp"])
        if old is not None and "max_ulp" in old:
            ulp = f"{_fmt(old['max_ulp'])} -> {ulp}"
        parts.append(f"max_ulp {ulp} ({growth}bound {_fmt(new.get('bound_ulp'))} ULP)")
        if new.get("n_bad"):
            parts.append(f"{new['n_bad']}/{new.get('n')} beyond the bound")
    elif new["verdict"] in _DETAILED and new.get("detail"):
        parts.append(_clip(new["detail"], 120))
    return "; " + ", ".join(parts) if parts else ""


def judge_pair(old: dict, new: dict, ulp_factor: float) -> tuple[list[str], list[str]]:
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
        elif RANK.get(vn, 99) > RANK.get(vo, 99):
            worse.append("worse verdict")
    if cn is not None and cn != co and RANK.get(vo, 99) < RANK["mismatch"]:
        worse.append("new convention" if co is None else "changed convention")
    if en is not None and en != eo:
        worse.append("new error behaviour" if eo is None else "changed error behaviour")
    uo, un = _num(old.get("max_ulp")), _num(new.get("max_ulp"))
    if uo is not None and un is not None:
        if un > ulp_factor * max(uo, ULP_FLOOR):
            worse.append("ulp growth")
        elif uo > ulp_factor * max(un, ULP_FLOOR):
            better.append("ulp shrank")
    if vo != vn and (vn == "pass" or RANK.get(vn, 99) < RANK.get(vo, 99)):
        better.append("better verdict")
    return worse, (better if not worse else [])


def _describe_change(old: dict, new: dict, worse: list[str], ulp_factor: float) -> str:
    growth = ""
    if "ulp growth" in worse:
        ratio = _num(new["max_ulp"]) / max(_num(old["max_ulp"]), ULP_FLOOR)
        growth = f"x{ratio:.3g} > factor {_factor(ulp_factor)}; "
    return f"{_state(old)} -> {_state(new)}{_figures(old, new, growth)}"


def _counts(counts: Counter) -> str:
    """'pass 3, mismatch 1': verdict counts in the verdict order."""
    ordered = sorted(counts.items(), key=lambda x: RANK.get(x[0], 99))
    return ", ".join(f"{v} {c}" for v, c in ordered)


def _available(entry: dict | None) -> bool:
    return entry is not None and "unavailable" not in entry


def _environment_notes(base: dict, res: dict) -> list[str]:
    """Version, device and interpreter differences between the two environments."""
    eb, er = base["environment"], res["environment"]
    fb, fr = eb["frameworks"], er["frameworks"]
    notes = []
    for key, label in (("python", "python"), ("numpy", "harness numpy"), ("device", "device"),
                       ("machine", "machine")):
        if eb.get(key) != er.get(key):
            notes.append(f"{label} {eb.get(key)} -> {er.get(key)}")
    same = []
    for name in sorted(set(fb) | set(fr)):
        b, r = fb.get(name), fr.get(name)
        if b is None:
            now = r["version"] if _available(r) else f"unavailable ({_clip(r['unavailable'], 100)})"
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
        elif _available(b):
            notes.append(f"{name} {b['version']} -> unavailable ({_clip(r['unavailable'], 100)})")
        elif _available(r):
            notes.append(f"{name} unavailable -> {r['version']}")
        else:
            notes.append(f"{name}: unavailable in both")
    if same:
        notes.append("unchanged: " + ", ".join(same))
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


def compare_documents(base: dict, res: dict, ulp_factor: float = DEFAULT_ULP_FACTOR) -> GateResult:
    """Diff two valid results documents: the baseline `base` and the new results `res`."""
    out = GateResult(ulp_factor=ulp_factor)
    out.notes = _environment_notes(base, res) + _grid_notes(base, res)
    out.notes.append(f"ULP factor {_factor(ulp_factor)}: a max_ulp regresses when new > "
                     f"{_factor(ulp_factor)} x max(old, {ULP_FLOOR:g})")
    fb, fr = base["environment"]["frameworks"], res["environment"]["frameworks"]
    old = {(r["case"], r["framework"], r["check"]): r for r in base["results"]}
    new = {(r["case"], r["framework"], r["check"]): r for r in res["results"]}
    out.baseline_records = len(old)

    ran = {k[1] for k in new}
    unchecked: Counter = Counter()  # framework -> baseline records left unchecked
    for key in sorted(old.keys() - new.keys(), key=lambda k: (k[1], k[0], k[2])):
        case, fw, check = key
        if fw in ran or _available(fr.get(fw)):
            out.regressions.append(Change(fw, check, case, f"missing (was {_state(old[key])})",
                                          order=RANK["crash"] + 1))
        else:
            unchecked[fw] += 1
    gone = {f for f in fr if _available(fb.get(f)) and not _available(fr[f])}
    for fw in sorted(set(unchecked) | gone):
        n = unchecked.get(fw, 0)
        why = (f"unavailable now ({_clip(fr[fw]['unavailable'], 120)})" if fw in fr
               else "not in the results (not run)")
        out.regressions.append(Change(fw, "", "", f"{why}; {n} baseline record{'s' * (n != 1)} "
                                      f"not checked", order=100))

    for key in sorted(old.keys() & new.keys(), key=lambda k: (k[1], k[0], k[2])):
        case, fw, check = key
        o, n = old[key], new[key]
        worse, better = judge_pair(o, n, ulp_factor)
        if worse:
            text = _describe_change(o, n, worse, ulp_factor)
            out.regressions.append(Change(fw, check, case, text, order=RANK.get(n["verdict"], 0)))
        elif better:
            out.improvements.append(Change(fw, check, case, _describe_change(o, n, [], ulp_factor),
                                           order=1))
        else:
            out.unchanged += 1

    added = sorted(new.keys() - old.keys(), key=lambda k: (k[1], k[0], k[2]))
    newly_run = {k[1] for k in added if not _available(fb.get(k[1]))}
    per_fw: dict[str, Counter] = {}
    for key in added:
        case, fw, check = key
        if fw in newly_run:
            per_fw.setdefault(fw, Counter())[new[key]["verdict"]] += 1
        else:
            out.improvements.append(Change(fw, check, case, f"new: {_state(new[key])}"
                                           f"{_figures(None, new[key])}", order=0))
    for fw, counts in sorted(per_fw.items()):
        was = "unavailable in the baseline" if fw in fb else "not in the baseline"
        verdicts = _counts(counts)
        out.improvements.append(Change(fw, "", "", f"{was}, now {fr[fw]['version']}: "
                                       f"{sum(counts.values())} new records ({verdicts})", order=2))
    out.regressions.sort(key=lambda c: -c.order)  # stable: framework, case, check within a level
    out.improvements.sort(key=lambda c: -c.order)
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
    return (f"{head}: {nr} regression{'s' * (nr != 1)}, {ni} improvement{'s' * (ni != 1)}; "
            f"{g.baseline_records} records in the baseline, {g.unchanged} unchanged")


def render_text(g: GateResult, results_path: str, baseline_path: str,
                max_lines: int = MAX_LINES, title: str | None = None) -> str:
    """Plain text for a terminal or CI log: header, REGRESSIONS, IMPROVEMENTS, summary line."""
    out = [title or f"xent-parity gate: {results_path} against baseline {baseline_path}"]
    out += [f"  {n}" for n in g.notes]
    for name, items in (("REGRESSIONS", g.regressions), ("IMPROVEMENTS", g.improvements)):
        out += ["", f"{name} ({len(items) or 'none'})"] + _group(items, False, max_lines)
    out += ["", _summary(g)]
    return "\n".join(out) + "\n"


def render_markdown(g: GateResult, results_path: str, baseline_path: str,
                    max_lines: int = MAX_LINES, title: str | None = None) -> str:
    """Markdown for a pull-request comment: the same content as `render_text`."""
    out = [f"### {title or 'xent-parity gate'}: {_summary(g)}", "",
           f"`{results_path}` against baseline `{baseline_path}`", ""]
    out += [f"- {n}" for n in g.notes]
    for name, items in (("Regressions", g.regressions), ("Improvements", g.improvements)):
        out += ["", f"#### {name} ({len(items) or 'none'})", ""]
        out += _group(items, True, max_lines) if items else ["None."]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------------------
# Command line


def _ulp_factor(s: str) -> float:
    try:
        f = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {s!r}") from None
    if not (math.isfinite(f) and f >= 1):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 1, got {s!r}")
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
    ap.add_argument("--ulp-factor", type=_ulp_factor, default=DEFAULT_ULP_FACTOR, metavar="F",
                    help="a max_ulp regresses when new > F x max(old, 1) (default 4)")
    ap.add_argument("--format", choices=("text", "markdown"), default="text",
                    help="text (default) or markdown for a pull-request comment")
    ap.add_argument("--max-lines", type=_max_lines, default=MAX_LINES, metavar="N",
                    help=f"lines per group before the rest is counted (default {MAX_LINES})")


_DESCRIPTION = ("Compare a results document with a baseline; exit 1 when a record got worse "
                "(verdict, convention, error behaviour, ULPs beyond --ulp-factor, missing, "
                "framework unavailable), 0 otherwise, 2 for unusable files.")


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
        g = compare_documents(previous, res, args.ulp_factor)
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
    try:
        if args.update:
            return _update(args)
        base, _ = read_document(args.baseline, "baseline")
        res, _ = read_document(args.results, "results")
        g = compare_documents(base, res, args.ulp_factor)
        sys.stdout.write(_render(g, args))
        return 0 if g.ok else 1
    except GateError as e:
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
