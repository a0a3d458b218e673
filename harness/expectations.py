"""Reviewed known divergences: expectations that turn a verdict into a strict xfail.

`cases/expectations.yaml` is a list of entries::

    - case: "soft-*-w=random-*"      # glob over case IDs, or a list of globs / IDs
      framework: torch
      check: forward                 # forward, grad or any (default any)
      verdict: divergent
      convention: soft-weight-per-class   # required for divergent
      reason: torch weights soft labels per class and divides the mean by N
      link: https://pytorch.org/docs/stable/generated/torch.nn.functional.cross_entropy.html

A result that matches an entry's selectors must have exactly the expected verdict (and convention,
which may be any of the sets that fit the result: harness.verdicts.same_outcome): then it is an
expected failure. If it has another verdict (say the framework fixed it and now
passes), the test fails, so the change is seen. An entry that matches no result is reported.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path

from harness.cases import CaseFileError, _show, load_yaml
from harness.verdicts import DIVERGENT, VERDICTS, same_outcome

KEYS = {"case", "framework", "check", "verdict", "convention", "reason", "link"}
REQUIRED = ("case", "framework", "verdict", "reason", "link")


@dataclass
class Expectation:
    case: str | list[str]  # a glob, or a list of globs / case IDs
    framework: str
    verdict: str
    reason: str
    link: str
    check: str = "any"
    convention: str | None = None
    source: str = ""
    matched: int = field(default=0, compare=False)

    def selects(self, case_id: str, framework: str, check: str) -> bool:
        patterns = self.case if isinstance(self.case, (list, tuple)) else (self.case,)
        return (framework == self.framework and self.check in ("any", check)
                and any(fnmatch.fnmatchcase(case_id, p) for p in patterns))

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
        return f"{self.framework} {self.check} {case}: {self.verdict}{conv} [{self.source}]"


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
        if entry.get("check", "any") not in ("any", "forward", "grad"):
            raise CaseFileError(f"{path}:{entry.key_lines['check']}: key 'check': must be "
                                "forward, grad or any")
        conv = entry.get("convention")
        if conv is not None and not (isinstance(conv, str) and conv):
            raise CaseFileError(f"{path}:{entry.key_lines['convention']}: key 'convention': "
                                f"{_show(entry['convention'])} is not a non-empty string")
        if entry["verdict"] == DIVERGENT and not entry.get("convention"):
            raise CaseFileError(f"{path}:{line}: key 'convention': required when verdict is divergent")
        out.append(Expectation(list(entry["case"]) if isinstance(entry["case"], list)
                               else entry["case"], entry["framework"], entry["verdict"], entry["reason"],
                               entry["link"], entry.get("check", "any"), entry.get("convention"),
                               f"{path}:{line}"))
    return out


def find(expectations: list[Expectation], case_id: str, framework: str, check: str
         ) -> Expectation | None:
    """The first entry selecting this result (entries are checked in file order)."""
    for e in expectations:
        if e.selects(case_id, framework, check):
            return e
    return None
