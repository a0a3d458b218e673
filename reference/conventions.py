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
import math
from dataclasses import dataclass, fields
from typing import Iterable, Union

__all__ = [
    "CANONICAL",
    "CONVENTIONS",
    "DEFAULT_CLIP_EPS",
    "Convention",
    "Conventions",
    "resolve_conventions",
]

DEFAULT_CLIP_EPS = 1e-7  # the probability clip of probs-clipped and of the renormalising rules


@dataclass(frozen=True)
class Conventions:
    """Which rule the reference applies at each point where frameworks differ.

    Every field defaults to the canonical rule; `CANONICAL == Conventions()`.

    - `soft_weight`: class weights with soft labels (or smoothed labels built from soft ones).
      `"sample"` (canonical): `sw_j = sum_c w_c q_jc` multiplies `l_j`, mean divides by
      `sum_j sw_j`. `"per-class"`: `l_j = -sum_c w_c q_jc lp_jc`, mean divides by the
      number of positions.
    - `mean_counts_ignored`: `False` (canonical): `mean` divides by the non-ignored positions.
      `True`: with hard labels, no weight and `ignore_index < 0`, ignored positions count
      in the denominator (as zero loss).
    - `empty_mean`: `"nan"` (canonical): `mean` with a zero denominator is 0/0 = NaN. `"zero"`:
      it divides by `count + (count == 0)`, so an all-ignored batch gives 0.
    - `smoothing_weight`: hard labels with label smoothing and class weights. `"soft"`
      (canonical): smoothing builds `q`, then weights apply as for soft labels. `"separate-terms"`:
      `l_j = (1-e) w_{y_j} (-lp_{j,y_j}) + (e/C) sum_c w_c (-lp_jc)`, mean divides by
      `sum_j w_{y_j}`.
    - `probs_clip_eps`: `use_softmax=False` only. `0.0` (canonical): `lp = log(p)` exactly. A
      positive value clips `p` to `[eps, 1 - eps]` before the log.
    - `probs_renormalise`: `use_softmax=False` only. `"none"` (canonical). `"after-clip"`:
      `lp = log cp - log sum_c cp_c`, `cp = clip(p, eps, 1-eps)`.
      `"before-clip"`: `lp = log clip(p / sum_c p_c, eps, 1-eps)`.
      Both clip with `probs_clip_eps`, or `DEFAULT_CLIP_EPS` when that is 0.
    - `zero_times_inf`: a term with target `q_jc == 0` where `lp_jc` is not finite. `"zero"`
      (canonical): it adds 0. `"nan"`: it adds
      `0 * -inf = NaN`. Dense targets only (soft or smoothed labels); a hard label is gathered.
    - `softmax_shift_floor`: `-inf` (canonical): `lp = x - logsumexp(x)`. A finite value (e.g.
      -64) clips the shifted logits first, `s = max(x - max(x), floor)`, `lp = s - log sum exp(s)`.
    - `log_inf_value`: `inf` (canonical). A finite value (e.g. 1e20) replaces a log-probability
      of `-inf` (`log 0`) by `-value` (and `+inf` by `+value`).
    - `mean_counts_label_elements`: `False` (canonical). `True`: `mean` with
      `ignore_index >= 0` and a dense target (soft or smoothed labels) weights position `j` by
      `#{c : q_jc != ignore_index}` on top of its sample weight.
    - `smoothing_skips_ignore`: `False` (canonical). `True`: with label smoothing, hard
      labels are never ignored; a label equal to `ignore_index` is an ordinary class, and one
      outside `[0, C)` is an error.
    - `smoothing_precision`: `"exact"` (canonical). `"float32"`: the smoothing
      coefficients are rounded to float32 step by step (see `CONVENTIONS`).
    - `smoothing_classes`: `"class-axis"` (canonical): smoothing adds `e / C`. `"last-axis"`:
      it adds `e / input.shape[-1]`, whatever the class axis.
    - `none_keeps_class_axis`: `False` (canonical). `True`: `reduction="none"` keeps a
      size-1 class axis for soft labels, smoothed labels and hard labels given with that axis.
    - `weighted_mean`: `"weights"` (canonical): `mean` divides by the sum of the sample weights.
      `"count"`: by the number of non-ignored positions.
    - `empty_unreduced`: `False` (canonical). `True`: when the `none` output has shape
      `(0,)`, `sum` and `mean` return it unreduced.
    - `grad_assumes_normalised_labels`: `False` (canonical). `True`: with
      softmax the gradient is `s_j (softmax(x_j) - q_j)`, as if `sum_c q_jc == 1`; the loss is
      unchanged.

    Three more are the defaults of an API called without the argument (a case with
    `defaults: true` leaves the class axis, the reduction and the loss dtype to the API), so that
    the same call giving another value with another framework's defaults is named:

    - `class_axis`: `"given"` (canonical): the class axis is `axis`. `"dim-1"`: it is dim 1
      (dim 0 of a 1-D input), whatever `axis` says.
    - `unreduced`: `False` (canonical). `True`: the loss is returned per position, whatever
      `reduction` says (its gradient is that of the sum, unless a cotangent is given).
    - `float32_computation`: `False` (canonical). `True`: the inputs are converted to float32
      (round to nearest) and the loss computed and returned in float32.

    Example:
        >>> Conventions(empty_mean="zero") == resolve_conventions(["empty-mean-zero"])
        True
    """

    soft_weight: str = "sample"
    mean_counts_ignored: bool = False
    empty_mean: str = "nan"
    smoothing_weight: str = "soft"
    probs_clip_eps: float = 0.0
    probs_renormalise: str = "none"
    zero_times_inf: str = "zero"
    softmax_shift_floor: float = -math.inf
    log_inf_value: float = math.inf
    mean_counts_label_elements: bool = False
    smoothing_skips_ignore: bool = False
    smoothing_precision: str = "exact"
    smoothing_classes: str = "class-axis"
    none_keeps_class_axis: bool = False
    weighted_mean: str = "weights"
    empty_unreduced: bool = False
    grad_assumes_normalised_labels: bool = False
    class_axis: str = "given"
    unreduced: bool = False
    float32_computation: bool = False

    def __post_init__(self) -> None:
        _check_choice("soft_weight", self.soft_weight, ("sample", "per-class"))
        _check_choice("empty_mean", self.empty_mean, ("nan", "zero"))
        _check_choice("smoothing_weight", self.smoothing_weight, ("soft", "separate-terms"))
        _check_choice("probs_renormalise", self.probs_renormalise,
                      ("none", "after-clip", "before-clip"))
        _check_choice("zero_times_inf", self.zero_times_inf, ("zero", "nan"))
        _check_choice("smoothing_precision", self.smoothing_precision, ("exact", "float32"))
        _check_choice("smoothing_classes", self.smoothing_classes, ("class-axis", "last-axis"))
        _check_choice("weighted_mean", self.weighted_mean, ("weights", "count"))
        _check_choice("class_axis", self.class_axis, ("given", "dim-1"))
        for name in ("mean_counts_ignored", "mean_counts_label_elements", "smoothing_skips_ignore",
                     "none_keeps_class_axis", "empty_unreduced", "grad_assumes_normalised_labels",
                     "unreduced", "float32_computation"):
            flag = getattr(self, name)
            if not isinstance(flag, bool):
                raise ValueError(f"Conventions.{name}: expected a bool, got {flag!r}")
        eps = self.probs_clip_eps
        if not _is_real(eps) or not 0.0 <= eps < 0.5:
            raise ValueError(
                f"Conventions.probs_clip_eps: expected a float in [0, 0.5), got {eps!r}"
            )
        floor = self.softmax_shift_floor
        if not _is_real(floor) or not floor < 0.0:
            raise ValueError(
                f"Conventions.softmax_shift_floor: expected a negative float or -inf, got {floor!r}"
            )
        cap = self.log_inf_value
        if not _is_real(cap) or not cap > 0.0:
            raise ValueError(
                f"Conventions.log_inf_value: expected a positive float or inf, got {cap!r}"
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


def _is_real(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def _check_choice(field: str, value: object, choices: tuple[str, ...]) -> None:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"Conventions.{field}: expected one of {choices}, got {value!r}")


@dataclass(frozen=True)
class Convention:
    """One named alternative to the canonical rule: it sets `Conventions.<field>` to `value`."""

    name: str
    field: str
    value: object
    summary: str
    formula: str
    canonical_formula: str


CANONICAL = Conventions()

_REGISTRY = (
    Convention(
        name="soft-weight-per-class",
        field="soft_weight",
        value="per-class",
        summary=(
            "class weights with soft labels weight each class term; "
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
        summary=(
            "with hard labels, no weight and ignore_index < 0, mean divides by all "
            "positions, ignored ones counted as zero loss"
        ),
        formula="mean = sum_j l_j / N   (N counts ignored positions too)",
        canonical_formula="mean = sum_j l_j / #{j : y_j != ignore_index}",
    ),
    Convention(
        name="empty-mean-zero",
        field="empty_mean",
        value="zero",
        summary="mean with a zero denominator (all ignored, zero weight, empty) is 0",
        formula="mean = sum_j l_j / (D + (D == 0)),  D = sum_j d_j",
        canonical_formula="mean = sum_j l_j / D  (0/0 = NaN when D == 0)",
    ),
    Convention(
        name="smoothing-weighted-torch",
        field="smoothing_weight",
        value="separate-terms",
        summary=(
            "hard labels + label smoothing + class weights: the smoothing term weighted per "
            "class, separately from the label's term; mean divides by sum of w_{y_j}"
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
        summary=(
            "with use_softmax=False probabilities are clipped to [eps, 1-eps], "
            "eps = 1e-7, before the log (the value of both renormalising rules below on rows "
            "that sum to 1)"
        ),
        formula="lp = log(clip(p, eps, 1 - eps));  gradient 0 where the clip is active",
        canonical_formula="lp = log(p);  log(0) = -inf",
    ),
    Convention(
        name="probs-clipped-renormalised",
        field="probs_renormalise",
        value="after-clip",
        summary=(
            "with use_softmax=False p is clipped to [eps, 1-eps] (eps = 1e-7) and the log of "
            "that goes through a softmax, which renormalises the clipped row"
        ),
        formula=(
            "cp = clip(p, eps, 1 - eps);  lp_c = log cp_c - log sum_k cp_k;  "
            "dl/dp_c = [eps <= p_c <= 1-eps] (R / sum_k cp_k - r_c / p_c)"
        ),
        canonical_formula="lp = log(p);  dl/dp_c = -r_c / p_c",
    ),
    Convention(
        name="probs-renormalised-clipped",
        field="probs_renormalise",
        value="before-clip",
        summary=(
            "with use_softmax=False p is divided by its row sum, then clipped to "
            "[eps, 1-eps] (eps = 1e-7) before the log"
        ),
        formula=(
            "u = p / sum_k p_k;  lp_c = log clip(u_c, eps, 1 - eps);  dl/dp_c = "
            "-[eps <= u_c <= 1-eps] r_c / p_c + sum_{k: eps <= u_k <= 1-eps} r_k / sum_k p_k"
        ),
        canonical_formula="lp = log(p);  dl/dp_c = -r_c / p_c",
    ),
    Convention(
        name="zero-q-neg-inf-nan",
        field="zero_times_inf",
        value="nan",
        summary=(
            "-sum_c q_c lp_c is evaluated literally for dense targets, so "
            "q_c = 0 where lp_c = -inf (a -inf logit, or p = 0) makes the loss NaN"
        ),
        formula=(
            "l_j = NaN if some q_jc == 0 with lp_jc non-finite (soft or smoothed labels);  "
            "gradient unchanged (autodiff of log_softmax stays finite)"
        ),
        canonical_formula="a term with q_jc == 0 adds 0, whatever lp_jc",
    ),
    Convention(
        name="softmax-shift-clipped-64",
        field="softmax_shift_floor",
        value=-64.0,
        summary=(
            "the softmax clips the shifted logits at -64 before exp, so lp_c >= -64 - log C; "
            "the gradient is that clipped softmax minus the target"
        ),
        formula=(
            "s_c = max(x_c - max_k x_k, -64);  lp_c = s_c - log sum_k exp(s_k);  "
            "dl/dx_c = exp(lp_c) R - r_c"
        ),
        canonical_formula="lp_c = x_c - logsumexp(x);  dl/dx_c = softmax(x)_c R - r_c",
    ),
    Convention(
        name="log-zero-1e20",
        field="log_inf_value",
        value=1e20,
        summary=(
            "log(0) = -inf is replaced by -1e20 (use_softmax=False: a zero probability costs "
            "q_c * 1e20); the gradient is the literal -q/p"
        ),
        formula=(
            "lp_c = -1e20 where log p_c = -inf (and +1e20 for +inf);  dl/dp_c = -r_c / p_c "
            "literally for dense targets (-inf at p_c = 0 < q_c, NaN at p_c = q_c = 0)"
        ),
        canonical_formula="lp = log(p), log(0) = -inf;  a term with q_c = 0 adds 0, gradient 0",
    ),
    Convention(
        name="mean-counts-label-elements",
        field="mean_counts_label_elements",
        value=True,
        summary=(
            "mean with ignore_index >= 0 and a dense label (soft labels, or any "
            "smoothing) divides by the label elements != ignore_index, not the positions"
        ),
        formula=(
            "mean = sum_j l_j / sum_j d_j #{c : q_jc != ignore_index}  "
            "(d_j = sw_j, 1 without weights; usually C * sum_j d_j)"
        ),
        canonical_formula="mean = sum_j l_j / sum_j d_j",
    ),
    Convention(
        name="smoothing-skips-ignore",
        field="smoothing_skips_ignore",
        value=True,
        summary=(
            "label smoothing one-hot encodes hard labels and never applies ignore_index; "
            "a label equal to it is an ordinary class (outside [0, C) it is an error)"
        ),
        formula=(
            "label_smoothing > 0: q_j = (1-e) onehot(y_j) + e/C for every position; "
            "y_j == ignore_index outside [0, C) is an error"
        ),
        canonical_formula="y_j == ignore_index: l_j = 0, d_j = 0 (also with smoothing)",
    ),
    Convention(
        name="smoothing-coefficients-float32",
        field="smoothing_precision",
        value="float32",
        summary=(
            "the smoothing coefficients are computed in float32 (epsilon as a float32, hard "
            "labels one-hot in float32), whatever the input's dtype"
        ),
        formula=(
            "a = f32(1 - f32(e)), b = f32(f32(e) / C);  hard: q_y = f32(a + b), q_c = b;  "
            "soft: q' = a q + b"
        ),
        canonical_formula="q' = (1 - e) q + e / C, exactly",
    ),
    Convention(
        name="smoothing-classes-from-last-axis",
        field="smoothing_classes",
        value="last-axis",
        summary=(
            "smoothing divides epsilon by the size of the last axis, also when the class "
            "axis is another one"
        ),
        formula="q' = (1 - e) q + e / input.shape[-1]",
        canonical_formula="q' = (1 - e) q + e / input.shape[axis]",
    ),
    Convention(
        name="none-keeps-class-axis",
        field="none_keeps_class_axis",
        value=True,
        summary=(
            "reduction='none' keeps a size-1 class axis for soft labels, smoothed labels "
            "and hard labels given with the size-1 axis"
        ),
        formula="none output shape: input.shape with shape[axis] = 1 (those label forms)",
        canonical_formula="none output shape: input.shape without the class axis",
    ),
    Convention(
        name="weighted-mean-by-count",
        field="weighted_mean",
        value="count",
        summary=(
            "a weighted mean divides the weighted losses by the number of non-ignored "
            "positions, not by the sum of the weights"
        ),
        formula="mean = sum_j sw_j l_j / #{j : not ignored}",
        canonical_formula="mean = sum_j sw_j l_j / sum_j sw_j",
    ),
    Convention(
        name="empty-unreduced",
        field="empty_unreduced",
        value=True,
        summary=(
            "a per-position loss of shape (0,) is returned unreduced, so sum and mean of an "
            "empty batch are the empty array"
        ),
        formula="none output of shape (0,): sum = mean = that empty array",
        canonical_formula="sum = 0, mean = NaN (0-d arrays)",
    ),
    Convention(
        name="grad-assumes-normalised-labels",
        field="grad_assumes_normalised_labels",
        value=True,
        summary=(
            "the gradient is softmax - labels, right only for labels that sum to 1 (the loss "
            "is unchanged)"
        ),
        formula="dl_j/dx_j = s_j (softmax(x_j) - q_j)  (s_j the sample weight)",
        canonical_formula="dl_j/dx_j = s_j (softmax(x_j) sum_c q_jc - q_j)",
    ),
)

_REGISTRY += (
    Convention(
        name="class-axis-1-by-default",
        field="class_axis",
        value="dim-1",
        summary=("called without a class axis, the API takes dim 1 (dim 0 of a 1-D input) as "
                 "the classes"),
        formula="classes along dim 1",
        canonical_formula="classes along the case's axis",
    ),
    Convention(
        name="unreduced-by-default",
        field="unreduced",
        value=True,
        summary="called without a reduction, the API returns the per-position losses",
        formula="l_j for every position j (gradient: of sum_j l_j)",
        canonical_formula="the case's reduction of l_j",
    ),
    Convention(
        name="float32-by-default",
        field="float32_computation",
        value=True,
        summary=("called without a dtype, the loss converts its inputs to float32 and computes "
                 "and returns float32 (a configured default float type), whatever the input's dtype"),
        formula="l(fl32(x), fl32(q)) in float32",
        canonical_formula="l(x, q) in the input's dtype",
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
    if isinstance(conventions, str):
        names = [conventions]
    else:
        try:
            names = list(conventions)
        except TypeError:
            raise ValueError(
                "conventions: expected a Conventions object, a convention name or an iterable of "
                f"names, got {type(conventions).__name__}"
            ) from None
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


def may_differ(conv: Conventions, *, check: str, reduction: str, soft_label: bool,
               use_softmax: bool, label_smoothing: float, ignore_index: int, axis: int,
               shape: tuple, weighted: bool) -> bool:
    """Whether `conv` can give another loss (`check` "forward") or gradient ("grad") than the
    canonical rule for a case with these arguments; False only where every field that differs
    from `CANONICAL` certainly leaves the value as it is (bit for bit), judged from the
    arguments alone. A field whose effect depends on the data (a shifted logit below the floor,
    a log of 0, a zero target against an infinite log-probability) may always differ, and so does
    the float32 computation. The harness skips computing a convention's value where this is
    False (harness.case_reference), so each condition is the field's own definition above, never
    a guess."""
    smoothed = label_smoothing > 0
    dense = soft_label or smoothed  # a target the loss sums over the classes
    mean = reduction == "mean"
    ndim = len(shape)
    for f in fields(Conventions):
        value = getattr(conv, f.name)
        if value == getattr(CANONICAL, f.name):
            continue
        name = f.name
        if name == "soft_weight":
            matters = weighted and dense
        elif name in ("mean_counts_ignored", "empty_mean"):
            matters = mean
        elif name == "weighted_mean":
            matters = mean and weighted
        elif name == "smoothing_weight":
            matters = smoothed and weighted
        elif name in ("probs_clip_eps", "probs_renormalise"):
            matters = not use_softmax
        elif name == "zero_times_inf":
            matters = dense  # a hard label is gathered
        elif name == "softmax_shift_floor":
            matters = use_softmax
        elif name == "mean_counts_label_elements":
            matters = mean and ignore_index >= 0 and dense
        elif name in ("smoothing_skips_ignore", "smoothing_precision"):
            matters = smoothed
        elif name == "smoothing_classes":
            matters = smoothed and ndim > 0 and axis % ndim != ndim - 1
        elif name == "none_keeps_class_axis":
            matters = reduction == "none"
        elif name == "empty_unreduced":
            matters = 0 in tuple(shape)
        elif name == "grad_assumes_normalised_labels":
            matters = check != "forward" and use_softmax and dense  # the loss is unchanged
        elif name == "class_axis":
            matters = ndim == 0 or axis % ndim != (1 if ndim > 1 else 0)
        elif name == "unreduced":
            matters = reduction != "none"
        else:  # log_inf_value, float32_computation, and any field added later
            matters = True
        if matters:
            return True
    return False
