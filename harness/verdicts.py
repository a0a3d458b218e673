"""Verdicts: what one (case, framework, forward|grad) result means, explained.

`judge` turns a worker's answer into a `Verdict`, in this order:
- the worker crashed or hung: `crash` / `timeout`;
- the adapter declared the case `unsupported` (reason given);
- an invalid case (canonical answer: an error): raising is `pass` (error behaviour "raises"),
  returning a value is `bad-input-accepted`;
- a valid case that raised: `error`;
- values within the bound of the canonical reference: `pass`;
- values within the bound of the reference under a convention the adapter documents: `divergent`,
  with the convention named; under a behaviour the adapter declares a defect (it contradicts the
  framework's own documentation, its other code paths or mathematics): `known-defect`, with its
  upstream link;
- otherwise `mismatch`, with the figures against the canonical reference.

A declared name that the framework follows on some cases and not on others where it would change
the value is an inconsistency (`harness.consistency`): the results that follow it become
`inconsistent`, a failing verdict, since a declaration must never hide a bug it merely resembles.

Attribution does not depend on rounding. Two conventions can explain one result equally well (a
clip-then-renormalise and a renormalise-then-clip where nothing needs renormalising): the judge
tries the smallest sets first, records every set of that size whose reference the result matches
within its bound (`Verdict.fitting`), and names the first of them in a fixed preference order, the
adapter's declaration order (sets of two or more: ordered by their members' declaration order), a
set with a declared defect in it before one without (a bug must not pass as a convention). It
never picks by the closer fit, since which of two fits is closer is decided by the last bits, which
differ between CPUs (numpy's float64 exp and log are dispatched to AVX-512 kernels on some
machines, libm on others). Expectations, pytest and the gate accept any fitting set as the same
outcome (`same_outcome`).

`ORDER` is the one order of severity, best first; the report, the gate and the expectations all
use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from harness.case_reference import compare, is_streamed, same
from harness.compare import Comparison

PASS, MISMATCH, DIVERGENT = "pass", "mismatch", "divergent"
BAD_INPUT, ERROR, UNSUPPORTED, CRASH, TIMEOUT = (
    "bad-input-accepted", "error", "unsupported", "crash", "timeout")
KNOWN_DEFECT, INCONSISTENT = "known-defect", "inconsistent"
# The one order of severity, best first: what the gate calls worse, the order of the report's
# columns and of its discrepancies
ORDER = (PASS, DIVERGENT, UNSUPPORTED, KNOWN_DEFECT, INCONSISTENT, MISMATCH, BAD_INPUT, ERROR,
         TIMEOUT, CRASH)
EXPLAINED = frozenset({DIVERGENT, KNOWN_DEFECT})  # matched a declared behaviour
# results that need no review: a pass, a declared limit, or a declared (so reviewed) behaviour
SETTLED = frozenset({PASS, UNSUPPORTED}) | EXPLAINED
VERDICTS = ORDER
RANK = {v: i for i, v in enumerate(ORDER)}
FAILURE_MODES = frozenset({BAD_INPUT, ERROR, TIMEOUT, CRASH})  # appearing, they always regress


def rank(verdict: str) -> int:
    """The verdict's place in ORDER (an unknown verdict ranks worst)."""
    return RANK.get(verdict, len(ORDER))


def same_outcome(verdict_a: str, conventions_a, verdict_b: str, conventions_b) -> bool:
    """Whether two results are the same outcome: the same verdict and, for divergent results, a
    convention set in common (`conventions_*`: the chosen set and every other set that fitted,
    as '+'-joined names; a bare string or None is one set)."""
    if verdict_a != verdict_b:
        return False
    a, b = _sets(conventions_a), _sets(conventions_b)
    return not a and not b or bool(a & b)


def _sets(conventions) -> set:
    if conventions is None:
        return set()
    if isinstance(conventions, str):
        return {conventions}
    return {c for c in conventions if c}


@dataclass
class Verdict:
    case_id: str
    framework: str
    check: str  # "forward" or "grad"
    verdict: str
    convention: str | None = None
    fitting: list[str] = field(default_factory=list)  # every set that fits, the chosen first
    kind: str | None = None  # of the chosen set: defect if a member is one, else its kind
    canonical: dict | None = None  # divergent/known-defect: the canonical figures, the effect
    departs: list[str] = field(default_factory=list)  # pass: declared names that would change it
    detail: str = ""
    error_behaviour: str | None = None  # for invalid cases: raises, accepts, crashes, hangs
    comparison: Comparison | None = None
    version: str = ""
    device: str = "cpu"
    seconds: float | None = None
    output: np.ndarray | None = field(default=None, repr=False)  # kept only when asked for

    def explain(self) -> str:
        """One line a person reads: the verdict and why."""
        head = f"{self.framework} {self.check} {self.case_id}: {self.verdict}"
        if self.convention:
            head += f" (convention {self.convention})"
        why = self.detail or (self.comparison.summary() if self.comparison else "")
        return f"{head}: {why}" if why else head


def _describe_value(a) -> str:
    a = np.asarray(a)
    if a.size <= 4:
        return f"returned {np.array2string(a.astype(np.float64), precision=6)}"
    return f"returned an array of shape {list(a.shape)}"


def judge(case_id: str, framework: str, check: str, invalid: str | None, answer: dict,
          got: np.ndarray | None, expected: Callable[[tuple[str, ...]], np.ndarray],
          bound: Callable[[tuple[str, ...]], np.ndarray], dtype: str, conventions: tuple[str, ...],
          version: str = "", device: str = "cpu", kinds: dict | None = None,
          dtype_of: Callable[[tuple[str, ...]], str] | None = None,
          refusals: tuple[dict, ...] = ()) -> Verdict:
    """`expected(conventions)` gives the reference value (raises ValueError for invalid input);
    `bound(conventions)` the per-element bound of that value; `conventions` are the names the
    adapter declares for this case (in scope), in its order; `kinds` maps a name to its kind
    (convention, defect, platform-limit; convention when absent); `dtype_of(conventions)` the
    dtype of that reference value (default: `dtype`). `refusals` are the declarations in scope
    whose framework raises on valid input (`raises`: a regular expression its message matches):
    such an error is the declared behaviour, not an `error`."""
    kinds = kinds or {}
    dtype_of = dtype_of or (lambda names: dtype)
    v = Verdict(case_id, framework, check, "", version=version, device=device,
                seconds=answer.get("seconds"))
    status = answer.get("status")
    if status in (CRASH, TIMEOUT):
        v.verdict, v.detail = status, answer.get("message", "")
        if invalid:
            v.error_behaviour = "crashes" if status == CRASH else "hangs"
        return v
    if status == UNSUPPORTED:
        v.verdict, v.detail = UNSUPPORTED, answer.get("reason", "")
        return v
    if invalid:
        if status == "error":
            v.verdict, v.error_behaviour = PASS, "raises"
            v.detail = f"raised {answer.get('type')} as expected: {answer.get('message', '')[:300]}"
        else:
            v.verdict, v.error_behaviour = BAD_INPUT, "accepts"
            v.detail = f"invalid input ({invalid}) accepted silently: {_describe_value(got)}"
        return v
    if status == "error":
        message = f"{answer.get('type')}: {answer.get('message', '')}"
        for d in refusals:  # in declaration order; a defect is named as one
            if re.search(d["raises"], message):
                kind = d.get("kind", "convention")
                v.verdict = KNOWN_DEFECT if kind == "defect" else DIVERGENT
                v.convention, v.kind, v.fitting = d["name"], kind, [d["name"]]
                v.error_behaviour = "raises"
                what = "the known defect" if kind == "defect" else "convention"
                v.detail = (f"raised on valid input, as {what} {d['name']} says: "
                            f"{answer.get('type')}: {answer.get('message', '')[:300]}")
                return v
        v.verdict = ERROR
        v.detail = f"raised {answer.get('type')} on valid input: {answer.get('message', '')[:400]}"
        return v
    try:
        ref = expected(())
        b = bound(())
    except Exception as e:  # noqa: BLE001 - a valid case the reference rejects is a grid bug
        v.verdict = ERROR
        v.detail = f"the reference rejected this valid case ({type(e).__name__}: {e}); fix the case"
        return v
    try:
        c = compare(got, ref, b, dtype, answer.get("dtype", dtype))
    except Exception as e:  # noqa: BLE001 - a streamed reference fails while it is compared
        v.verdict = ERROR
        v.detail = f"the reference failed while comparing ({type(e).__name__}: {e})"
        return v
    v.comparison = c
    if c.ok:
        v.verdict = PASS
        v.departs = _departures(conventions, expected, ref, b, dtype)
        return v
    if c.reason in ("values", "nonfinite", "shape", "dtype"):
        # the smallest set of conventions that explains the result; among sets of that size, the
        # first in the preference order, every fitting one recorded (see the module docstring:
        # never the closest fit, which the last bits decide). A set of two or more is tried only when
        # one of its members changes this case on its own: the sets grow combinatorially (175
        # for paddle's ten), and most conventions leave a given case as it is. Members that change
        # nothing alone still count inside a set (paddle's assumed-normalised gradient shows only
        # once its float32 smoothing coefficients unnormalise the labels)
        changes: dict[tuple[str, ...], bool] = {}  # a streamed value's test is a whole pass

        def changes_case(names: tuple[str, ...]) -> bool:
            if names not in changes:
                try:
                    changes[names] = not same(expected(names), ref)
                except ValueError:  # the convention rejects this case
                    changes[names] = False
            return changes[names]

        for size, group in _convention_sets(conventions, lambda n: changes_case((n,))):
            fits = []
            for names in group:  # in the preference order
                if not changes_case(names):  # the set does not apply to this case
                    continue
                try:
                    c2 = compare(got, expected(names), bound(names), dtype_of(names),
                                  answer.get("dtype", dtype))
                except ValueError:
                    continue
                if c2.ok:
                    fits.append((names, c2))
            if fits:
                # a set with a declared defect first: a bug must not pass as a convention
                fits.sort(key=lambda f: not any(kinds.get(n) == "defect" for n in f[0]))
                names, c2 = fits[0]
                kind = _kind_of(names, kinds)
                v.verdict = KNOWN_DEFECT if kind == "defect" else DIVERGENT
                v.convention, v.comparison, v.kind = "+".join(names), c2, kind
                v.fitting = ["+".join(n) for n, _ in fits]
                v.canonical = {"max_ratio": c.max_ratio, "max_rel": c.max_rel,
                               "reason": c.reason,
                               "kinds": {n: kinds.get(n, "convention") for n in names}}
                others = (f"; also fits {', '.join(v.fitting[1:])}" if len(fits) > 1 else "")
                what = "the known defect" if kind == "defect" else "convention"
                v.detail = (f"matches {what} {'+'.join(names)}, not canonical{others} "
                            f"(canonical: {c.summary()})")
                return v
    v.verdict = MISMATCH
    v.detail = c.summary()
    return v


def _kind_of(names, kinds) -> str:
    """The kind of a set of declared names: defect if any member is, else platform-limit if any
    is, else convention."""
    found = {kinds.get(n, "convention") for n in names}
    for kind in ("defect", "platform-limit"):
        if kind in found:
            return kind
    return "convention"


def _departures(names, expected, ref, bound, dtype) -> list[str]:
    """The declared names whose reference differs from the canonical value beyond the canonical
    bound on this case: had the framework followed them, the result would not have passed
    (harness.consistency compares this with the cases where it did follow them)."""
    from reference import CONVENTIONS

    if is_streamed(ref):  # a streamed gradient: too large to hold a second one
        return []
    out = []
    for n in names:
        if n not in CONVENTIONS:
            continue
        try:
            alt = expected((n,))
        except ValueError:  # the convention rejects this case
            continue
        if is_streamed(alt) or same(alt, ref):
            continue
        try:
            c = compare(np.asarray(alt), ref, bound, dtype, dtype)
        except ValueError:  # a bound that does not broadcast to a kept axis: it departs
            out.append(n)
            continue
        if not c.ok:
            out.append(n)
    return out


def _convention_sets(names: tuple[str, ...], changes_case=None):
    """(size, candidate sets): singles, pairs, triples, quadruples (paddle's smoothed mean
    gradient with an ignore_index it does not ignore takes four), then all together, each in the
    preference
    order (the order of `names`, the adapter's declaration order); beyond singles, only the sets
    with a member for which `changes_case(name)` holds (every set when it is None)."""
    from itertools import combinations

    from reference import CONVENTIONS

    known = tuple(n for n in names if n in CONVENTIONS)
    if known:
        yield 1, [(n,) for n in known]

    def useful(group):
        return changes_case is None or any(changes_case(n) for n in group)

    for k in (2, 3, 4):
        if k <= len(known):
            yield k, [g for g in combinations(known, k) if useful(g)]
    if len(known) > 4 and useful(known):
        yield len(known), [known]
