"""How results read: the one place that turns a comparison's figures into words, and that picks
the worst results.

Every figure a person reads goes through here: the one-line summary of a comparison (a verdict's
detail, the CLI's `explain`, a pytest failure), the figures behind a gate change, the cells of
the report's error matrix, and the order of its top discrepancies. A record is a comparison's
fields as a mapping: a `Comparison`'s own, or a results.json record (whose non-finite floats
are the strings 'inf', '-inf', 'nan').
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping



def clip(s, n: int = 200) -> str:
    """`s` on one line (runs of white space as one space), at most `n` characters ('...' ends
    what was cut)."""
    s = " ".join(str(s).split())
    return s if len(s) <= n else s[:n - 3] + "..."


def optional(v) -> float | None:
    """A figure as a float (a results.json string 'inf' too), or None where there is none."""
    if isinstance(v, bool) or v is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def value(v) -> float:
    """A figure as a float (a results.json string 'inf' too); NaN for what is not a number."""
    if isinstance(v, bool) or v is None:
        return float("nan")
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def number(v) -> str:
    """A figure to three significant digits; 'inf', 'nan' as such, '?' for none."""
    if v is None or isinstance(v, bool):
        return "?"
    try:
        x = float(v)
    except (TypeError, ValueError):
        return "?"
    if math.isnan(x) or math.isinf(x):
        return str(v)
    return f"{x:.3g}"


def summary(c: Mapping[str, Any]) -> str:
    """One line: what failed, where, by how much, against which bound."""
    text = _summary(c)
    if c["reason"] not in ("", "dtype") and c["dtype_got"] != c["dtype_expected"]:
        text += f"; result dtype {c['dtype_got']}, not {c['dtype_expected']}"
    return text


def _summary(c: Mapping[str, Any]) -> str:
    if c["reason"] == "shape":
        return f"shape {c['shape_got']} != expected {c['shape_expected']}"
    if c["reason"] == "dtype":
        return f"dtype {c['dtype_got']} != expected {c['dtype_expected']}"
    index = c.get("worst_index")
    where = f" at {tuple(index)}" if index is not None else ""
    got_exp = (f": got {c['worst_got']!r}, expected {c['worst_expected']!r}"
               if c.get("worst_got") is not None else "")
    if c["reason"] == "nonfinite":
        return f"NaN/inf pattern differs in {c['n_bad']}/{c['n']} elements{where}{got_exp}"
    head = "ok" if c["ok"] else f"{c['n_bad']}/{c['n']} elements beyond the bound{where}{got_exp}"
    return (f"{head}; max error {value(c['max_ulp']):.3g} ULP (abs {value(c['max_abs']):.3g}, "
            f"rel {value(c['max_rel']):.3g}); bound {value(c['bound']):.3g} abs = "
            f"{value(c['bound_ulp']):.3g} ULP")


def figures(new: Mapping[str, Any], old: Mapping[str, Any] | None = None) -> str:
    """The numbers behind a result (and its change from `old`): the error against the bound at
    the worst element, the error there in ULPs and the bound, the elements beyond it. '' for a
    record without a comparison."""
    if "max_ratio" not in new:
        return ""
    ratio, ulp = number(new["max_ratio"]), number(new.get("worst_ulp"))
    if old is not None and "max_ratio" in old:
        ratio = f"{number(old['max_ratio'])} -> {ratio}"
        ulp = f"{number(old.get('worst_ulp'))} -> {ulp}"
    if new.get("reason") == "nonfinite":
        parts = [f"error/bound {ratio} (NaN/inf pattern differs)"]
    else:
        parts = [f"error/bound {ratio} (worst element {ulp} ULP, bound "
                 f"{number(new.get('bound_ulp'))} ULP)"]
    if new.get("n_bad"):
        parts.append(f"{new['n_bad']}/{new.get('n')} beyond the bound")
    return ", ".join(parts)


def cell(r: Mapping[str, Any]) -> str:
    """A result in the report's error matrix: the error at its worst element in ULPs, with the
    bound there, marked ✗ beyond it."""
    if r.get("reason") == "nonfinite":
        return "NaN/inf pattern ✗"
    flag = " ✗" if ratio(r) > 1 else ""
    return (f"{value(r.get('worst_ulp', r['max_ulp'])):.3g} "
            f"(bound {value(r['bound_ulp']):.3g}){flag}")


def state(r: Mapping[str, Any]) -> str:
    """A record's verdict with the convention that explains it and how invalid input behaved."""
    s = r["verdict"]
    if r.get("convention"):
        s += f" ({r['convention']})"
    if r.get("error_behaviour"):
        s += f" [{r['error_behaviour']}]"
    return s


def ratio(r: Mapping[str, Any]) -> float:
    """The worst error / bound of a record (> 1: beyond the bound; inf for a NaN/inf pattern that
    differs)."""
    v = value(r.get("max_ratio", 0.0))
    return float("inf") if math.isnan(v) else v


def worst_records(recs: Iterable[Mapping[str, Any]]) -> list:
    """The records that need a review (not `verdicts.SETTLED`), worst first: by severity
    (harness.verdicts.ORDER), then by error relative to the bound."""
    from harness.verdicts import SETTLED, rank

    bad = [r for r in recs if r["verdict"] not in SETTLED]
    bad.sort(key=lambda r: (-rank(r["verdict"]), -ratio(r), r["case"], r["framework"],
                            r["check"]))
    return bad
