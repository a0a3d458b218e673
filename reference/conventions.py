"""Named conventions: the points where frameworks legitimately disagree on cross entropy.

The canonical definition (docs/semantics.md) is one choice among several that frameworks make on
purpose. Each alternative gets a stable name here, the reference can compute it, and an adapter
declares the names its framework documents, so a difference that is a convention is reported as
that convention rather than as an error.

`Conventions` holds one field per point of disagreement, canonical by default. `CONVENTIONS` maps
each name to the field and value it sets, with a one-line summary and the formulas side by side.
Constraints: standard library only; adding a convention means adding a field (canonical default)
and a registry entry, and teaching `reference.cross_entropy` the new value.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Iterable, Union

__all__ = [
    "CANONICAL",
    "CONVENTIONS",
    "Convention",
    "Conventions",
    "resolve_conventions",
]


@dataclass(frozen=True)
class Conventions:
    """Which rule the reference applies at each point where frameworks differ.

    Every field defaults to the canonical rule; `CANONICAL == Conventions()`.

    - `soft_weight`: class weights with soft labels (or smoothed labels built from soft ones).
      `"sample"` (canonical, paddle): `sw_j = sum_c w_c q_jc` multiplies `l_j`, mean divides by
      `sum_j sw_j`. `"per-class"` (torch): `l_j = -sum_c w_c q_jc lp_jc`, mean divides by the
      number of positions.
    - `mean_counts_ignored`: `False` (canonical): `mean` divides by the non-ignored positions.
      `True` (paddle): with hard labels, no weight and `ignore_index < 0`, ignored positions count
      in the denominator (as zero loss).
    - `empty_mean`: `"nan"` (canonical): `mean` with a zero denominator is 0/0 = NaN. `"zero"`
      (paddle): it divides by `count + (count == 0)`, so an all-ignored batch gives 0.
    - `smoothing_weight`: hard labels with label smoothing and class weights. `"soft"`
      (canonical): smoothing builds `q`, then weights apply as for soft labels. `"torch"`:
      `l_j = (1-e) w_{y_j} (-lp_{j,y_j}) + (e/C) sum_c w_c (-lp_jc)`, mean divides by
      `sum_j w_{y_j}`.
    - `probs_clip_eps`: `use_softmax=False` only. `0.0` (canonical): `lp = log(p)` exactly. A
      positive value (keras: 1e-7) clips `p` to `[eps, 1 - eps]` before the log.

    Example:
        >>> Conventions(empty_mean="zero") == resolve_conventions(["empty-mean-zero"])
        True
    """

    soft_weight: str = "sample"
    mean_counts_ignored: bool = False
    empty_mean: str = "nan"
    smoothing_weight: str = "soft"
    probs_clip_eps: float = 0.0

    def __post_init__(self) -> None:
        _check_choice("soft_weight", self.soft_weight, ("sample", "per-class"))
        _check_choice("empty_mean", self.empty_mean, ("nan", "zero"))
        _check_choice("smoothing_weight", self.smoothing_weight, ("soft", "torch"))
        flag = self.mean_counts_ignored
        if not isinstance(flag, bool):
            raise ValueError(f"Conventions.mean_counts_ignored: expected a bool, got {flag!r}")
        eps = self.probs_clip_eps
        if not isinstance(eps, (int, float)) or not 0.0 <= eps < 0.5:
            raise ValueError(
                f"Conventions.probs_clip_eps: expected a float in [0, 0.5), got {eps!r}"
            )

    def names(self) -> tuple[str, ...]:
        """The registered convention names that produce this object from `CANONICAL`, sorted.

        Example:
            >>> resolve_conventions(["probs-clipped"]).names()
            ('probs-clipped',)
        """
        return tuple(
            sorted(c.name for c in CONVENTIONS.values() if getattr(self, c.field) == c.value)
        )


def _check_choice(field: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"Conventions.{field}: expected one of {choices}, got {value!r}")


@dataclass(frozen=True)
class Convention:
    """One named alternative to the canonical rule: it sets `Conventions.<field>` to `value`."""

    name: str
    field: str
    value: object
    framework: str
    summary: str
    formula: str
    canonical_formula: str


CANONICAL = Conventions()

_REGISTRY = (
    Convention(
        name="soft-weight-per-class",
        field="soft_weight",
        value="per-class",
        framework="torch",
        summary=(
            "torch: class weights with soft labels weight each class term; "
            "mean divides by the number of positions"
        ),
        formula="l_j = -sum_c w_c q_jc lp_jc;  mean = sum_j l_j / N",
        canonical_formula=(
            "sw_j = sum_c w_c q_jc;  l_j = -sw_j sum_c q_jc lp_jc;  mean = sum_j l_j / sum_j sw_j"
        ),
    ),
    Convention(
        name="mean-counts-ignored",
        field="mean_counts_ignored",
        value=True,
        framework="paddle",
        summary=(
            "paddle: with hard labels, no weight and ignore_index < 0, mean divides by all "
            "positions, ignored ones counted as zero loss"
        ),
        formula="mean = sum_j l_j / N   (N counts ignored positions too)",
        canonical_formula="mean = sum_j l_j / #{j : y_j != ignore_index}",
    ),
    Convention(
        name="empty-mean-zero",
        field="empty_mean",
        value="zero",
        framework="paddle",
        summary="paddle: mean with a zero denominator (all ignored, zero weight, empty) is 0",
        formula="mean = sum_j l_j / (D + (D == 0)),  D = sum_j d_j",
        canonical_formula="mean = sum_j l_j / D  (0/0 = NaN when D == 0)",
    ),
    Convention(
        name="smoothing-weighted-torch",
        field="smoothing_weight",
        value="torch",
        framework="torch",
        summary=(
            "torch: hard labels + label smoothing + class weights use torch's own weighted "
            "formula; mean divides by sum of w_{y_j}"
        ),
        formula=(
            "l_j = (1-e) w_{y_j} (-lp_{j,y_j}) + (e/C) sum_c w_c (-lp_jc);  "
            "mean = sum_j l_j / sum_j w_{y_j}"
        ),
        canonical_formula=(
            "q_j = (1-e) onehot(y_j) + e/C;  sw_j = sum_c w_c q_jc;  "
            "l_j = -sw_j sum_c q_jc lp_jc;  mean = sum_j l_j / sum_j sw_j"
        ),
    ),
    Convention(
        name="probs-clipped",
        field="probs_clip_eps",
        value=1e-7,
        framework="keras",
        summary=(
            "keras: with use_softmax=False probabilities are clipped to [eps, 1-eps], "
            "eps = 1e-7, before the log"
        ),
        formula="lp = log(clip(p, eps, 1 - eps));  gradient 0 where the clip is active",
        canonical_formula="lp = log(p);  log(0) = -inf",
    ),
)

CONVENTIONS: dict[str, Convention] = {c.name: c for c in _REGISTRY}

ConventionsLike = Union[Conventions, str, Iterable[str], None]


def resolve_conventions(conventions: ConventionsLike) -> Conventions:
    """Turn a `Conventions` object, one name, or an iterable of names into a `Conventions`.

    Unknown names and two names that set the same field raise `ValueError`.

    Example:
        >>> resolve_conventions(()) == CANONICAL
        True
        >>> resolve_conventions(["soft-weight-per-class", "smoothing-weighted-torch"]).soft_weight
        'per-class'
    """
    if conventions is None:
        return CANONICAL
    if isinstance(conventions, Conventions):
        return conventions
    names = [conventions] if isinstance(conventions, str) else list(conventions)
    chosen: dict[str, Convention] = {}
    for name in names:
        if not isinstance(name, str):
            raise ValueError(f"conventions: expected convention names (str), got {name!r}")
        convention = CONVENTIONS.get(name)
        if convention is None:
            known = ", ".join(sorted(CONVENTIONS))
            raise ValueError(f"conventions: unknown convention {name!r}; known: {known}")
        other = chosen.get(convention.field)
        if other is not None and other.name != name:
            raise ValueError(
                f"conventions: {other.name!r} and {name!r} both set Conventions.{convention.field}"
            )
        chosen[convention.field] = convention
    return dataclasses.replace(CANONICAL, **{f: c.value for f, c in chosen.items()})
