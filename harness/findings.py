"""What a run found, grouped by root cause, and one framework against another.

The report, the CLI's `compare` and pytest's summary read a results document through here, so
that "a root cause" means one thing everywhere:

- a known defect or a convention: the framework and the declared name(s) that explain it;
- a mismatch: the framework and the reviewed expectation that names it (its reason), else the
  comparison's reason (values, NaN/inf pattern, shape, dtype);
- an error (on valid input), a crash or a timeout: the framework and the exception's type;
- bad input accepted: the framework and the kind of invalid input;
- inconsistent: the framework and the declared name it follows only sometimes.

`pairwise` answers the porting question, framework A against framework B on the cases both ran:
where one follows the documented formula and the other does not, or each follows another
declared behaviour, or only one raises. Both are judged against the same float64 reference, so
each side's departure from it bounds how far apart they are.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from harness import render
from harness.verdicts import (BAD_INPUT, CRASH, DIVERGENT, ERROR, INCONSISTENT, KNOWN_DEFECT,
                              MISMATCH, PASS, SETTLED, TIMEOUT, UNSUPPORTED)

# the report's sections, in the order a reader needs them
SECTIONS = (("defect", "Known defects"), ("convention", "Conventions"),
            ("mismatch", "Mismatches"), ("error", "Errors on valid input"),
            ("bad-input", "Bad input accepted"), ("inconsistent", "Inconsistencies"))
SECTION_OF = {KNOWN_DEFECT: "defect", DIVERGENT: "convention", MISMATCH: "mismatch",
              ERROR: "error", CRASH: "error", TIMEOUT: "error", BAD_INPUT: "bad-input",
              INCONSISTENT: "inconsistent"}
_RAISED = re.compile(r"raised ([A-Za-z_][\w.]*)")


def departure(r: Mapping) -> float:
    """How far a record is from the canonical value, as error / bound (inf for a NaN/inf pattern
    or a shape that differs; 0 for a pass): the canonical comparison of an explained record, the
    record's own otherwise."""
    canon = r.get("canonical")
    if canon:
        if canon.get("reason") in ("nonfinite", "shape"):
            return float("inf")
        return render.ratio(canon)
    if r["verdict"] == PASS:
        return 0.0
    if r.get("reason") in ("nonfinite", "shape"):
        return float("inf")
    return render.ratio(r)


def effect(r: Mapping) -> str:
    """A record's departure from canonical in words: relative error and error / bound, a NaN/inf
    pattern, a shape, or how it raised."""
    if r.get("error_behaviour") == "raises" and r["verdict"] != PASS:
        return "raises"
    if r["verdict"] in (ERROR, CRASH, TIMEOUT):
        m = _RAISED.search(r.get("detail") or "")
        return f"raised {m.group(1)}" if m else r["verdict"]
    if r["verdict"] == BAD_INPUT:
        return "returned a value"
    canon = r.get("canonical") or (r if "max_ratio" in r else None)
    if not canon:
        return r["verdict"]
    reason = canon.get("reason")
    if reason == "shape":
        return "shape differs"
    if reason == "dtype":
        return "dtype differs"
    if reason == "nonfinite" or not render.value(canon.get("max_ratio", 0)) < float("inf"):
        return "NaN/inf pattern"
    return (f"rel {render.number(canon.get('max_rel'))} "
            f"({render.number(canon.get('max_ratio'))}x bound)")


NAMED = ("defect", "convention", "inconsistent")  # sections whose cause is a declared name


def causes(r: Mapping) -> list[tuple[str, str]]:
    """(section, root cause) of a record that is neither pass nor unsupported: one per declared
    name that explains it (a result two defects explain counts under each), else one."""
    section, why = cause(r)
    return [(section, n) for n in why.split("+")] if section in NAMED else [(section, why)]


def cause(r: Mapping) -> tuple[str, str]:
    """(section, root cause) of a record that is neither pass nor unsupported: for a record
    several names explain, their combination."""
    v = r["verdict"]
    section = SECTION_OF.get(v, "error")
    if section in NAMED:
        return section, r.get("convention") or "?"
    if section == "mismatch":
        exp = r.get("expectation")
        if exp and exp.get("reason"):
            return section, exp["reason"]
        return section, {"values": "values beyond the bound", "nonfinite": "NaN/inf pattern",
                         "shape": "shape", "dtype": "result dtype"}.get(r.get("reason") or "",
                                                                         r.get("reason") or "?")
    if section == "bad-input":
        return section, (r.get("params") or {}).get("invalid") or "?"
    m = _RAISED.search(r.get("detail") or "")
    return section, f"{v}: {m.group(1)}" if m else v


@dataclass
class Group:
    """The records of one framework with one root cause."""

    section: str
    framework: str
    cause: str
    records: list = field(default_factory=list)

    @functools.cached_property
    def worst(self) -> Mapping:
        """The record that departs most, among those this cause explains alone when there are
        any (a result two names explain shows the effect of both). Read once the group is
        complete (`groups`)."""
        alone = [r for r in self.records if (r.get("convention") or "") == self.cause]
        return max(alone or self.records, key=lambda r: (departure(r), r["case"], r["check"]))

    @property
    def link(self) -> str:
        r = self.worst
        exp = r.get("expectation")
        return (exp or {}).get("link") or ""


def groups(records: Iterable[Mapping]) -> dict[str, list[Group]]:
    """Every record that is neither pass nor unsupported, grouped by section and root cause
    (`causes`: a record several declared names explain is in the group of each), the largest
    group first."""
    by: dict = {}
    for r in records:
        if r["verdict"] in (PASS, UNSUPPORTED):
            continue
        for section, why in causes(r):
            key = (section, r["framework"], why)
            if key not in by:
                by[key] = Group(section, r["framework"], why)
            by[key].records.append(r)
    out: dict[str, list[Group]] = {s: [] for s, _ in SECTIONS}
    for g in by.values():
        out[g.section].append(g)
    for gs in out.values():
        gs.sort(key=lambda g: (-len(g.records), g.framework, g.cause))
    return out


def needs_review(records: Iterable[Mapping]) -> list[Mapping]:
    """The records no declaration settles, worst first (harness.render.worst_records)."""
    return render.worst_records(r for r in records if r["verdict"] not in SETTLED)


# -- one framework against another ---------------------------------------------------------------
@dataclass
class Difference:
    """One (case, check) on which frameworks `a` and `b` differ."""

    case: str
    check: str
    a: Mapping
    b: Mapping
    why: str

    @property
    def size(self) -> float:
        """An upper bound of how far apart the two are, in bounds: the sum of their departures
        from the canonical value (inf where one raises or has another NaN/inf pattern)."""
        if "raises" in (effect(self.a), effect(self.b)):
            return float("inf")
        return departure(self.a) + departure(self.b)


def _side(r: Mapping) -> tuple:
    """What a record says about the value, for telling two frameworks apart: canonical, a
    declared name (with how it departs), raises, or another value."""
    v = r["verdict"]
    if v == PASS:
        return ("canonical",)
    if r.get("error_behaviour") == "raises" or v in (ERROR, CRASH, TIMEOUT):
        return ("raises",)
    if v in (DIVERGENT, KNOWN_DEFECT, INCONSISTENT):
        return ("named", r.get("convention"))
    return ("other", v)


def describe(r: Mapping) -> str:
    """One side of a difference: its verdict with the name that explains it, and its departure."""
    if r["verdict"] == PASS:
        return "canonical"
    state = r["verdict"] + (f" ({r['convention']})" if r.get("convention") else "")
    return f"{state}: {effect(r)}"


def pairwise(records: Iterable[Mapping], a: str, b: str) -> tuple[list[Difference], dict]:
    """The (case, check) where `a` and `b` differ, largest first, and the counts: compared (both
    ran), agree, differ, and one side unsupported."""
    side: dict = defaultdict(dict)
    for r in records:
        if r["framework"] in (a, b):
            side[(r["case"], r["check"])][r["framework"]] = r
    diffs, counts = [], {"compared": 0, "agree": 0, "differ": 0, "only one ran": 0}
    for (case, check), pair in sorted(side.items()):
        if len(pair) < 2:
            continue
        ra, rb = pair[a], pair[b]
        if UNSUPPORTED in (ra["verdict"], rb["verdict"]):
            counts["only one ran"] += ra["verdict"] != rb["verdict"]
            continue
        counts["compared"] += 1
        sa, sb = _side(ra), _side(rb)
        if sa == sb and sa[0] != "other":
            counts["agree"] += 1
            continue
        if sa == ("canonical",):
            why = f"{b} departs from the documented formula"
        elif sb == ("canonical",):
            why = f"{a} departs from the documented formula"
        elif "raises" in (sa[0], sb[0]):
            why = "one raises, the other returns a value" if sa != sb else "both raise"
        else:
            why = "each departs in its own way"
        counts["differ"] += 1
        diffs.append(Difference(case, check, ra, rb, why))
    diffs.sort(key=lambda d: (-d.size, d.case, d.check))
    return diffs, counts


def pairwise_all(records: list[Mapping], frameworks: list[str]) -> dict[tuple[str, str], tuple]:
    """`pairwise` of each pair of frameworks (a before b in `frameworks`)."""
    return {(a, b): pairwise(records, a, b)
            for i, a in enumerate(frameworks) for b in frameworks[i + 1:]}


def pair_causes(diffs: list[Difference]) -> list[tuple[tuple[str, str], int, Difference]]:
    """The differences grouped by what explains each side, the most frequent first: (the two
    sides' explanations, count, the largest difference)."""
    by: dict = defaultdict(list)
    for d in diffs:
        by[(_explanation(d.a), _explanation(d.b))].append(d)
    out = [(k, len(v), max(v, key=lambda d: d.size)) for k, v in by.items()]
    out.sort(key=lambda t: (-t[1], t[0]))
    return out


def _explanation(r: Mapping) -> str:
    v = r["verdict"]
    if v == PASS:
        return "canonical"
    if r.get("convention"):
        return f"{v} ({r['convention']})"
    if v == MISMATCH:
        why = cause(r)[1]
        return f"mismatch ({why if len(why) <= 90 else why[:87] + '...'})"
    return v
