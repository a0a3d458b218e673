"""Reviewed known divergences: expectations that turn a verdict into a strict xfail.

`cases/expectations.yaml` holds what no adapter declaration explains (mismatches, errors, bad input
accepted, inconsistencies): conventions and known defects live on the adapters. It is a list of
entries::

    - case: "soft-*-w=random-*"      # glob over case IDs, or a list of globs / IDs
      framework: torch
      check: forward                 # forward, grad or any (default any)
      verdict: mismatch
      reason: what the framework does, and why it is not a convention
      link: https://github.com/org/framework/issues/123

A result that matches an entry's selectors must have exactly the expected verdict (and convention,
which may be any of the sets that fit the result: harness.verdicts.same_outcome): then it is an
expected failure. If it has another verdict (say the framework fixed it and now
passes), the test fails, so the change is seen. An entry that matches no result is reported.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path

from harness.cases import CaseFileError, _show, load_yaml
from harness.verdicts import DIVERGENT, SETTLED, VERDICTS, same_outcome

KEYS = {"case", "framework", "check", "verdict", "convention", "reason", "link"}
REQUIRED = ("case", "framework", "verdict", "reason", "link")


@dataclass
class Expectation:
    case: str | list[str]  # a glob, or a list of globs / case IDs
    framework: str
    verdict: str
    reason: str
    link: str
    check: str | list[str] = "any"
    convention: str | None = None
    source: str = ""
    matched: int = field(default=0, compare=False)

    def selects(self, case_id: str, framework: str, check: str) -> bool:
        patterns = self.case if isinstance(self.case, (list, tuple)) else (self.case,)
        return (framework == self.framework and self.covers(check)
                and any(fnmatch.fnmatchcase(case_id, p) for p in patterns))

    def covers(self, check: str) -> bool:
        """`self.check` is any, a check, a glob over checks ('*~weight-ones'), or a list."""
        patterns = self.check if isinstance(self.check, list) else [self.check]
        return any(p == "any" or fnmatch.fnmatchcase(check, p) for p in patterns)

    def accepts(self, verdict: str, convention: str | None, fitting=()) -> bool:
        """Whether a result is the expected outcome: the verdict and, when the entry names one, a
        convention set among those that fit the result (`fitting`, the chosen one included)."""
        if verdict != self.verdict:
            return False
        if self.convention is None:
            return True
        return same_outcome(verdict, self.convention, verdict, [convention, *(fitting or ())])

    def describe(self) -> str:
        conv = f" ({self.convention})" if self.convention else ""
        case = self.case if isinstance(self.case, str) else f"[{len(self.case)} cases]"
        check = ",".join(self.check) if isinstance(self.check, list) else self.check
        return f"{self.framework} {check} {case}: {self.verdict}{conv} [{self.source}]"


def load_expectations(path: str | Path) -> list[Expectation]:
    path = str(path)
    if not Path(path).is_file():
        raise CaseFileError(f"{path}: no such expectations file")
    doc = load_yaml(path)
    if doc is None:
        return []
    if not isinstance(doc, list):
        raise CaseFileError(f"{path}:{getattr(doc, 'line', 1)}: expectations must be a list of entries")
    out = []
    for entry in doc:
        line = getattr(entry, "line", 0)
        if not isinstance(entry, dict):
            raise CaseFileError(f"{path}:{line}: each expectation must be a mapping")
        for k in entry:
            if k not in KEYS:
                raise CaseFileError(f"{path}:{entry.key_lines.get(k, line)}: key {_show(k)}: "
                                    f"unknown (known: {', '.join(sorted(KEYS))})")
        for k in REQUIRED:
            value = entry.get(k)
            if k == "case" and isinstance(value, list):
                if value and all(isinstance(c, str) and c for c in value):
                    continue
                raise CaseFileError(f"{path}:{entry.key_lines.get(k, line)}: key 'case': a list "
                                    "must hold non-empty strings (case IDs or globs)")
            if not isinstance(value, str) or not value:
                raise CaseFileError(f"{path}:{line}: key {k!r}: required, a non-empty string")
        if entry["verdict"] not in VERDICTS:
            raise CaseFileError(f"{path}:{entry.key_lines['verdict']}: key 'verdict': "
                                f"{entry['verdict']!r} is not one of {', '.join(VERDICTS)}")
        checks = entry.get("check", "any")
        checks = checks if isinstance(checks, list) and checks else [checks]
        if not all(isinstance(c, str) and re.fullmatch(r"any|[a-z*?~-]+", c) for c in checks):
            raise CaseFileError(f"{path}:{entry.key_lines['check']}: key 'check': must be "
                                "forward, grad, any, a relation's check (forward~NAME), a glob "
                                "of them ('*~weight-ones'), or a list of those")
        conv = entry.get("convention")
        if conv is not None and not (isinstance(conv, str) and conv):
            raise CaseFileError(f"{path}:{entry.key_lines['convention']}: key 'convention': "
                                f"{_show(entry['convention'])} is not a non-empty string")
        if entry["verdict"] == DIVERGENT and not entry.get("convention"):
            raise CaseFileError(f"{path}:{line}: key 'convention': required when verdict is divergent")
        out.append(Expectation(list(entry["case"]) if isinstance(entry["case"], list)
                               else entry["case"], entry["framework"], entry["verdict"], entry["reason"],
                               entry["link"], (list(entry["check"]) if isinstance(
                                   entry.get("check"), list) else entry.get("check", "any")),
                               entry.get("convention"),
                               f"{path}:{line}"))
    return out


def find(expectations: list[Expectation], case_id: str, framework: str, check: str
         ) -> Expectation | None:
    """The first entry selecting this result (entries are checked in file order)."""
    for e in expectations:
        if e.selects(case_id, framework, check):
            return e
    return None


def match(expectations: list[Expectation], case_id: str, framework: str, check: str,
          verdict: str, convention: str | None, fitting=()) -> tuple[Expectation | None, bool]:
    """The entry selecting a result (counted as matched) and whether the result is what it
    expects: (None, False) when no entry selects it. The one place results meet entries (the
    report's records, pytest's items)."""
    e = find(expectations, case_id, framework, check)
    if e is None:
        return None, False
    e.matched += 1
    return e, e.accepts(verdict, convention, fitting)


# -- regeneration ---------------------------------------------------------------------------------
HEADER = """\
# Reviewed behaviours of the pinned set on cases/default.yaml (and the smoke grid, a subset) that no
# adapter declaration explains: results that are mismatch, error, bad-input-accepted, crash, timeout
# or inconsistent. Each entry turns the results it selects into strict expected failures: a selected
# result with any other verdict or convention fails, so a framework that changes its behaviour shows
# up; an entry that matches nothing is reported. Keys: framework, check (forward | grad | any),
# verdict, convention, reason, link, case (a glob or a list of IDs).
#
# Conventions and known defects are declared on the adapters (harness/adapters/, with their kind and
# evidence) and need no entry here. After a reviewed change, regenerate the case lists from a run:
#     xent-parity run && xent-parity expectations --update
"""
NEEDS_NO_ENTRY = SETTLED


@dataclass
class Update:
    """What `plan_update` found: the entries to write, and what changed."""

    entries: list[dict]
    dropped: list[str] = field(default_factory=list)  # entries removed, described
    changed: list[str] = field(default_factory=list)  # entries whose case lists changed
    unreviewed: list[str] = field(default_factory=list)  # results no entry covers


def _entry_dict(e: Expectation) -> dict:
    out = {"framework": e.framework}
    if e.check != "any":
        out["check"] = e.check
    out["verdict"] = e.verdict
    if e.convention:
        out["convention"] = e.convention
    out.update({"reason": e.reason, "link": e.link,
                "case": list(e.case) if isinstance(e.case, list) else e.case})
    return out


def plan_update(expectations: list[Expectation], records: list[dict]) -> Update:
    """The expectations regenerated from `records` (results.json records): entries for behaviours
    a declaration now explains are dropped; each list-valued entry gets the IDs of the results
    of its framework, check, verdict and convention that need an entry (IDs of cases the
    records do not hold, from another grid, stay); glob entries are kept; results that no entry
    covers are listed as unreviewed (an entry needs a reason and a link a person writes)."""
    lists: dict[int, set] = {i: set() for i, e in enumerate(expectations)
                             if isinstance(e.case, list)}
    unreviewed = []
    for r in records:
        if r["verdict"] in NEEDS_NO_ENTRY:
            continue
        home = None
        candidates = []
        for i, e in enumerate(expectations):
            if e.verdict in NEEDS_NO_ENTRY or e.framework != r["framework"]:
                continue
            same = (e.covers(r["check"]) and e.verdict == r["verdict"]
                    and (e.convention is None or e.accepts(r["verdict"], r.get("convention"),
                                                             r.get("fitting"))))
            if same and e.selects(r["case"], r["framework"], r["check"]):
                home = i  # the entry that already names it: its reason is this result's
                break
            if same and i in lists:
                candidates.append(i)
        if home is None and candidates:
            home = candidates[0]  # a new result of a known behaviour: the first such list
        if home is None:
            unreviewed.append(f"{r['framework']} {r['check']} {r['case']}: {r['verdict']}"
                              + (f" ({r['convention']})" if r.get("convention") else ""))
        elif home in lists:
            lists[home].add(r["case"])
    out = Update(entries=[])
    present = {r["case"] for r in records}  # IDs of other grids keep their place in a list
    for i, e in enumerate(expectations):
        if e.verdict in NEEDS_NO_ENTRY:
            out.dropped.append(f"{e.describe()}: a declaration explains it")
            continue
        d = _entry_dict(e)
        if i in lists:
            new = sorted(lists[i] | (set(e.case) - present))
            if not new:
                out.dropped.append(f"{e.describe()}: matches no result now")
                continue
            if new != sorted(e.case):
                out.changed.append(f"{e.describe()}: {len(e.case)} -> {len(new)} cases")
            d["case"] = new
        out.entries.append(d)
    out.unreviewed = unreviewed
    return out


def render(entries: list[dict]) -> str:
    import yaml

    return HEADER + yaml.safe_dump(entries, sort_keys=False, width=100, allow_unicode=True)


def covers(path: str | None, case_files) -> bool:
    """Whether the expectations file at `path` is about these case files: it lies in the folder
    of one of them (as `cases/expectations.yaml` beside `cases/default.yaml`). Only then is an
    entry that matched nothing worth listing: run on a case file of one's own, the repository's
    file still explains the known divergences, but its other entries are about other cases."""
    if not path:
        return False
    folder = Path(path).resolve().parent
    return any(Path(f).resolve().parent == folder for f in case_files)
