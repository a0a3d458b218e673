"""Metamorphic relations: pairs of calls of one framework that must agree.

A relation takes a case's call and builds a partner call of the same framework that its
documentation says must give the same result, up to a known rearrangement: a weight of ones
against no weight, positions in another order, one-hot soft labels against the hard labels,
ignored labels relabelled to another ignore value, the class axis moved with the input transposed,
a sum against the sum of the per-position losses. The harness sends both calls to the framework
and compares them with each other; the reference is shown beside them. A violated relation is a
`mismatch` of the check `forward~NAME` (or `grad~NAME`), with both calls and both values; it needs
no reference to be wrong, and no declaration can explain it away (DeepREL-style relational testing,
per case).

Both results carry their framework's rounding, so they must agree within twice the case's bound
(harness.bounds), mapped to the partner's layout.

>>> sorted(RELATIONS)
['ignore-relabel', 'moved-axis', 'onehot', 'permute', 'sum-of-none', 'weight-ones']
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import numpy as np

from harness.dtypes import round_to_dtype

# name -> (what the partner call is, the checks it has)
RELATIONS = {
    "weight-ones": ("the same call with weight = ones(C), against no weight", ("forward", "grad")),
    "permute": ("the positions in another order (a fixed permutation)", ("forward", "grad")),
    "onehot": ("one-hot soft labels, against the hard labels (no weights, nothing ignored)",
               ("forward", "grad")),
    "ignore-relabel": ("the ignored labels relabelled to another ignore value, passed as "
                       "ignore_index", ("forward", "grad")),
    "moved-axis": ("the class axis moved to the front, the input transposed to match",
                   ("forward", "grad")),
    "sum-of-none": ("reduction 'none', summed, against reduction 'sum'", ("forward",)),
}


def relation_checks(case_params: dict) -> list[str]:
    """The checks a case's relations add: 'forward~NAME', 'grad~NAME'."""
    out = []
    for r in case_params.get("relations") or ():
        for ch in case_params["checks"]:
            if ch in RELATIONS[r][1]:
                out.append(f"{ch}~{r}")
    return out


def split(check: str) -> tuple[str, str | None]:
    """'grad~permute' -> ('grad', 'permute'); 'forward' -> ('forward', None)."""
    base, _, rel = check.partition("~")
    return base, rel or None


@dataclass
class Partner:
    """A partner call: its parameters and arrays, and how the case's own results map onto its
    layout (`expected(check, value)`); `why_not` when the relation does not apply."""

    relation: str
    worker_params: dict | None = None
    arrays: dict | None = None
    expected: Callable[[str, np.ndarray], np.ndarray] | None = None
    why_not: str | None = None


def _positions(a: np.ndarray, axis: int) -> tuple[np.ndarray, tuple]:
    """`a` as (positions, C) rows (class axis last), and the moved shape to undo it."""
    m = np.moveaxis(a, axis, -1)
    return m.reshape(-1, m.shape[-1]), m.shape


def _unpositions(rows: np.ndarray, moved_shape: tuple, axis: int) -> np.ndarray:
    return np.moveaxis(rows.reshape(moved_shape), -1, axis)


def partner(relation: str, case_params: dict, data) -> Partner:
    """Build the partner call of `relation` for a case (`data`: harness.inputs.CaseData)."""
    wp, arrays = dict(data.worker_params), dict(data.arrays())
    p = Partner(relation)
    if case_params["invalid"]:
        p.why_not = "invalid input has no partner call"
        return p
    axis, rank = wp["axis"] % len(wp["shape"]), len(wp["shape"])
    C = wp["shape"][axis]
    hard = wp["label_kind"] != "soft"
    same = lambda check, v: v  # noqa: E731 - the partner's result is the case's own
    if relation == "weight-ones":
        if wp["has_weight"]:
            p.why_not = "the case has weights"
            return p
        arrays["weight"] = round_to_dtype(np.ones(C), wp["dtype"])
        wp["has_weight"] = True
        p.expected = same
    elif relation == "permute":
        positions = int(np.prod([s for i, s in enumerate(wp["shape"]) if i != axis]))
        if positions < 2:
            p.why_not = "fewer than two positions"
            return p
        perm = np.random.default_rng(positions).permutation(positions)
        x_rows, x_shape = _positions(data.x, axis)
        arrays["x"] = np.ascontiguousarray(_unpositions(x_rows[perm], x_shape, axis))
        lab = data.label
        if hard:
            keep = lab.ndim == rank
            flat = (np.squeeze(lab, axis) if keep else lab).reshape(-1)[perm]
            pos_shape = tuple(s for i, s in enumerate(wp["shape"]) if i != axis)
            new = flat.reshape(pos_shape)
            arrays["label"] = np.expand_dims(new, axis) if keep else new
        else:
            l_rows, l_shape = _positions(lab, axis)
            arrays["label"] = np.ascontiguousarray(_unpositions(l_rows[perm], l_shape, axis))
        if data.grad_output is not None:
            g = data.grad_output
            arrays["grad_output"] = g.reshape(-1)[perm].reshape(g.shape)

        def permuted(check, v):
            v = np.asarray(v)
            if check == "grad":
                rows, shape = _positions(v, axis)
                return _unpositions(rows[perm], shape, axis)
            if v.ndim == 0:
                return v
            return v.reshape(-1)[perm].reshape(v.shape)
        p.expected = permuted
    elif relation == "onehot":
        if not hard or wp["has_weight"] or wp["uses_ignore"] or wp["label_kind"] != "hard":
            p.why_not = "needs hard labels without the class axis, no weights, nothing ignored"
            return p
        onehot = np.eye(C)[data.label]  # positions..., C
        arrays["label"] = round_to_dtype(np.moveaxis(onehot, -1, axis), wp["dtype"])
        wp["label_kind"] = "soft"
        wp["uses_ignore"] = False
        p.expected = same
    elif relation == "ignore-relabel":
        if not hard or not wp["uses_ignore"]:
            p.why_not = "needs hard labels with ignored positions"
            return p
        old = wp["ignore_index"]
        new = C + 5 if old < 0 else -100
        lab = data.label.copy()
        lab[lab == old] = new
        arrays["label"] = lab
        wp["ignore_index"] = new
        p.expected = same
    elif relation == "moved-axis":
        if rank < 2 or axis == 0:
            p.why_not = "needs a class axis that is not already first"
            return p
        arrays["x"] = np.ascontiguousarray(np.moveaxis(data.x, axis, 0))
        if not hard:
            arrays["label"] = np.ascontiguousarray(np.moveaxis(data.label, axis, 0))
        elif data.label.ndim == rank:  # the size-1 class axis moves too
            arrays["label"] = np.ascontiguousarray(np.moveaxis(data.label, axis, 0))
        else:  # positions keep their order: labels unchanged
            pass
        wp["shape"] = [wp["shape"][axis]] + [s for i, s in enumerate(wp["shape"]) if i != axis]
        wp["axis"] = 0

        def moved(check, v):
            v = np.asarray(v)
            return np.moveaxis(v, axis, 0) if check == "grad" else v
        p.expected = moved
    elif relation == "sum-of-none":
        if wp["reduction"] != "sum":
            p.why_not = "the case's reduction is not sum"
            return p
        wp["reduction"] = "none"
        arrays.pop("grad_output", None)
        p.expected = same  # compared after summing the partner's losses (`partner_value`)
    else:
        raise ValueError(f"unknown relation {relation!r}")
    p.worker_params, p.arrays = wp, arrays
    return p


def _as_case_layout(value, bound):
    """The case's own result in the layout of its reference (and bound): a size-1 axis the
    framework keeps is dropped, so that the partner's layout can be derived from it."""
    value = np.asarray(value)
    shape = np.shape(bound)
    if shape and value.shape != shape and value.size == int(np.prod(shape)):
        return value.reshape(shape)
    return value


def partner_value(relation: str, check: str, value) -> np.ndarray:
    """The partner's result as it is compared: 'sum-of-none' sums the per-position losses (in
    float64: the sum itself is the relation, not its rounding)."""
    if relation == "sum-of-none":
        return np.float64(np.sum(np.asarray(value, dtype=np.float64)))
    return np.asarray(value)


def judge_relation(case, framework: str, check: str, main: tuple, other: tuple, p: Partner,
                   bound, reference_value, dtype: str, version: str, device: str,
                   refusals: tuple = ()):
    """The verdict of one relation check (`check` = 'forward~NAME'): `main` and `other` are
    (answer, value) of the case's call and of the partner's; `bound` is the case's own bound for
    the base check and `reference_value` the reference's value, both in the case's layout.
    A call refused with an error that a declared refusal names (`refusals`) leaves the relation
    nothing to compare: unsupported, with the declaration named."""
    from harness.compare import compare
    from harness.verdicts import ERROR, MISMATCH, PASS, UNSUPPORTED, Verdict

    base, name = split(check)
    v = Verdict(case.id, framework, check, "", version=version, device=device)
    what = RELATIONS[name][0]
    if p.why_not:
        v.verdict, v.detail = UNSUPPORTED, f"relation {name} does not apply: {p.why_not}"
        return v
    (a_ans, a_val), (b_ans, b_val) = main, other
    for label, ans in (("the case's call", a_ans), (f"the partner call ({what})", b_ans)):
        status = ans.get("status")
        if status == "unsupported":
            v.verdict, v.detail = UNSUPPORTED, f"{label} is unsupported: {ans.get('reason', '')}"
            return v
        if status == "error":
            message = f"{ans.get('type')}: {ans.get('message', '')}"
            named = next((d["name"] for d in refusals if re.search(d["raises"], message)), None)
            if named:
                v.verdict = UNSUPPORTED
                v.detail = (f"relation {name}: {label} is refused as declared ({named}): "
                            f"{message[:200]}")
                return v
        if status != "ok":
            v.verdict = ERROR if status == "error" else status
            v.detail = (f"relation {name}: {label} gave {status} "
                        f"({ans.get('type', '')}: {ans.get('message', '')[:300]})")
            return v
    try:
        a_val = _as_case_layout(a_val, bound)
        expected = np.asarray(p.expected(base, np.asarray(a_val, dtype=np.float64)))
        got = np.asarray(partner_value(name, base, b_val))
        notes = []
        if got.shape != expected.shape and got.size == expected.size:
            # a size-1 axis kept by one call and not the other (a documented output shape):
            # the relation is about the values
            notes.append(f"shapes {list(expected.shape)} and {list(got.shape)}")
            got = got.reshape(expected.shape)
        limit = 2.0 * np.asarray(p.expected(base, np.broadcast_to(
            np.asarray(bound, dtype=np.float64), np.shape(a_val))))
        c = compare(got, expected, limit, dtype, dtype)
        c.notes += notes
    except Exception as e:  # noqa: BLE001 - shapes that cannot be related: a violation
        v.verdict = MISMATCH
        v.detail = (f"relation {name} violated: the two calls cannot be compared "
                    f"({type(e).__name__}: {e}); {what}")
        return v
    v.comparison = c
    if c.ok:
        v.verdict = PASS
        v.detail = f"relation {name} holds: {what}"
        return v
    v.verdict = MISMATCH
    if c.reason == "shape":
        v.detail = (f"relation {name} violated ({what}): the case's call gives shape "
                    f"{c.shape_expected}, the partner call {c.shape_got}")
        return v
    where = tuple(c.worst_index) if c.worst_index is not None else ()
    ref = np.asarray(p.expected(base, np.asarray(reference_value, dtype=np.float64)))
    ref_at = ref[where] if ref.ndim and where else ref
    v.detail = (f"relation {name} violated ({what}): at {where} the case's call gives "
                f"{c.worst_expected!r}, the partner call {c.worst_got!r}; the reference "
                f"{float(np.asarray(ref_at).reshape(-1)[0]) if np.size(ref_at) else ref_at!r}; "
                f"{c.n_bad}/{c.n} elements differ beyond twice the bound "
                f"({c.bound:.3g})")
    return v
