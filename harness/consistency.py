"""Consistency of declarations: a declared rule a framework follows on some cases and not on
others where it would change the value.

An adapter declares the rules its framework follows (conventions, defects). A declaration explains
a result when the result matches the reference under that rule; nothing so far checks that the
framework follows the rule wherever the rule applies. A framework that applies a rule for one value
of an argument and the canonical formula for another value that the rule also covers is
inconsistent, and that is itself evidence of a defect: a declaration that fits only some of the
cases a bug touches would otherwise hide the bug.

Per framework (forward and gradient together: a gradient that disagrees with its own forward is
as inconsistent as two arguments that disagree), for each declared name:

- followed: the results a set containing the name explains (any of the fitting sets);
- not followed: the results that passed canonically although the name's reference departs from
  the canonical value beyond the bound there (`Verdict.departs`): the framework computed the
  canonical value where the rule would have given another.

When both are non-empty the framework is inconsistent about the name. The finding lists both
sets; the followed results become `inconsistent`, a failing verdict (their previous verdict is
kept in `inconsistency.was`, so that shards can be merged and checked again).

>>> recs = [{"case": "a", "framework": "f", "check": "forward", "verdict": "divergent",
...          "convention": "x", "fitting": ["x"]},
...         {"case": "b", "framework": "f", "check": "forward", "verdict": "pass",
...          "convention": None, "departs": ["x"]}]
>>> [(f["convention"], f["followed"], f["not_followed"]) for f in find(recs)]
[('x', ['a forward'], ['b forward'])]
"""

from __future__ import annotations

from collections import defaultdict

from harness.verdicts import EXPLAINED, INCONSISTENT, PASS

MAX_LISTED = 200  # results named per side of a finding


def _followed_names(r: dict) -> set[str]:
    sets = [r.get("convention"), *(r.get("fitting") or ())]
    return {n for s in sets if s for n in s.split("+")}


def _was(r: dict) -> str:
    return (r.get("inconsistency") or {}).get("was", r["verdict"])


def find(records: list[dict]) -> list[dict]:
    """The inconsistencies in `records` (results.json records, or the same keys), sorted by
    framework and name: {framework, convention, followed, not_followed, n_followed,
    n_not_followed}, each side a sorted list of 'case check' strings."""
    followed: dict = defaultdict(set)
    not_followed: dict = defaultdict(set)
    for r in records:
        verdict = _was(r)
        where = f"{r['case']} {r['check']}"
        if verdict in EXPLAINED:
            for n in _followed_names(r):
                followed[(r["framework"], n)].add(where)
        elif verdict == PASS:
            for n in r.get("departs") or ():
                not_followed[(r["framework"], n)].add(where)
    out = []
    for key in sorted(followed.keys() & not_followed.keys()):
        fw, name = key
        a, b = sorted(followed[key]), sorted(not_followed[key])
        out.append({"framework": fw, "convention": name, "n_followed": len(a),
                    "n_not_followed": len(b), "followed": a[:MAX_LISTED],
                    "not_followed": b[:MAX_LISTED]})
    return out


def apply(records: list[dict]) -> list[dict]:
    """Find the inconsistencies and mark the followed results `inconsistent` (in place); results
    marked by an earlier pass (a shard) are first restored. Returns the findings."""
    for r in records:
        if "inconsistency" in r:
            r["verdict"] = r.pop("inconsistency")["was"]
    findings = find(records)
    by_key = {(f["framework"], f["convention"]): f for f in findings}
    for r in records:
        if r["verdict"] not in EXPLAINED:
            continue
        hit = [by_key[(r["framework"], n)] for n in sorted(_followed_names(r))
               if (r["framework"], n) in by_key]
        if not hit:
            continue
        f = hit[0]
        r["inconsistency"] = {"was": r["verdict"], "convention": f["convention"],
                              "n_not_followed": f["n_not_followed"],
                              "example": f["not_followed"][0]}
        r["verdict"] = INCONSISTENT
        r["detail"] = (f"{f['framework']} follows {f['convention']} here but not on "
                       f"{f['n_not_followed']} other result(s) where it would change the value "
                       f"(e.g. {f['not_followed'][0]}): inconsistent, evidence of a defect; "
                       f"{r['detail']}")
    return findings


def record_of(v) -> dict:
    """The keys `find` reads, of a harness.verdicts.Verdict."""
    return {"case": v.case_id, "framework": v.framework, "check": v.check,
            "verdict": v.verdict, "convention": v.convention, "fitting": v.fitting,
            "departs": v.departs, "detail": v.detail}
