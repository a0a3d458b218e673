"""Softmax cross entropy in float64: the reference every framework adapter is measured against.

Job: `cross_entropy` (the loss) and `cross_entropy_grad` (its gradient with respect to `input`)
with the project's canonical signature (SPEC.md) and the semantics of docs/semantics.md, canonical by default and any named
convention (`reference.conventions`) on request; invalid input raises `ValueError` naming the
argument, what was expected and what was given. `cross_entropy_grad_blocks` yields the same
gradient block by block, for inputs whose float64 gradient should never exist whole.

Constraints:
- numpy only; every input is widened to float64 exactly and nothing is computed in lower precision.
- Accuracy: each per-position loss is within a few float64 ULPs of the exact value on the given
  inputs, even for losses near 1e-300 or logits near 1e4 (see `reference._accurate` for how).
- Memory: positions are processed in blocks of about `_BLOCK_BYTES` per work buffer, so the input is
  never copied or widened as a whole; only per-position vectors (and the gradient itself, which
  `cross_entropy_grad_blocks` does not build) are allocated at full length. `cross_entropy_grad`
  builds each block in the result's own rows when the class axis is last (no copy).

Formulation. For each position j the loss is `l_j = -sum_c r_jc lp_jc` with coefficients
`r_jc = c1_j v1_jc + c2_j v2_jc`: `v1` is the target (one-hot of the hard label, the soft label,
or soft label times class weights), `v2` the smoothing term (ones or the class weights), and
`c1`, `c2` per-position scalars that carry smoothing, sample weights and ignored positions.
With softmax, `-lp_jc = (m_j - x_jc) + log S_j`, so each term is
`A_j(v) + V_j(v) log S_j` with `A = sum_c v_c (m - x_c) >= 0` and `V = sum_c v_c`: a sum of
nonnegative pieces, each computed accurately, combined per position in double-double.
`mean` divides `sum_j l_j` by `sum_j d_j` where `d_j` is the position's weight.

Conventions (`reference.conventions`) change `c1`, `c2`, `d` (weights, smoothing, means), the
shape of the result, or the log-probabilities themselves: the clipped shift `max(x - m, floor)`
replaces `t + lo` before the same sums, `log 0` becomes a finite cap, the probability clip-and-renormalise rules
add `log sum_c cp_c` as the `log S` of the probability path (or renormalise before the log), and
zero targets at non-finite log-probabilities turn the loss into NaN. The canonical path computes
exactly what it computed without them; the cruder rules are float64, not held to its ULP bound.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from reference import _accurate as acc
from reference.conventions import (
    DEFAULT_CLIP_EPS,
    Conventions,
    ConventionsLike,
    resolve_conventions,
)

__all__ = ["cross_entropy", "cross_entropy_grad", "cross_entropy_grad_blocks"]

_BLOCK_BYTES = 1 << 21  # float64 bytes per work buffer and block of positions
_GROUP_ROWS = 1 << 16  # positions whose per-position pieces are combined together
_REDUCTIONS = ("none", "sum", "mean")


def cross_entropy(
    input,
    label,
    weight=None,
    ignore_index=-100,
    reduction="mean",
    soft_label=False,
    axis=-1,
    use_softmax=True,
    label_smoothing=0.0,
    conventions: ConventionsLike = (),
) -> np.ndarray:
    """Cross entropy of `input` (logits, or probabilities if `use_softmax=False`) against `label`.

    Returns float64: the per-position losses (the label shape without the class axis) for
    `reduction="none"`, a 0-d array for `"sum"` and `"mean"`.

    Example:
        >>> x = np.array([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
        >>> float(cross_entropy(x, np.array([0, 2]), reduction="sum"))  # doctest: +ELLIPSIS
        1.268...
        >>> cross_entropy(x, np.array([0, -100]), reduction="none").tolist()  # doctest: +ELLIPSIS
        [0.1698..., 0.0]
    """
    input, label, weight, reduction, axis = call_defaults(
        conventions, input, label, weight, reduction, axis, soft_label)
    p = _Problem(
        input, label, weight, ignore_index, reduction, soft_label, axis, use_softmax,
        label_smoothing, conventions,
    )
    if reduction != "none" and p.conv.empty_unreduced and p.none_shape == (0,):
        return np.zeros((0,))  # empty-unreduced: a loss of shape (0,) is returned unreduced
    ws = _Workspace(p)
    losses = np.empty(p.n_positions) if reduction == "none" else None
    total = (np.float64(0.0), np.float64(0.0))
    denominator = (np.float64(0.0), np.float64(0.0))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        for a, b in _ranges(p.n_positions, _GROUP_ROWS):
            pieces = _Pieces(b - a, len(p.terms))
            for s, e in _ranges(b - a, ws.rows, start=a):
                x = ws.load(p.input_rows, s, e)
                terms = p.block_terms(s, e, ws)
                rows = slice(s - a, e - a)
                if p.needs_soft_weight_sum:
                    _put(pieces.wq, rows, p.soft_weight_sum(terms[0][1], ws))
                if p.needs_label_count:
                    pieces.count[rows] = p.label_count(s, e)
                if p.needs_nan_check:
                    pieces.nan[rows] = p.nan_positions(x, s, e)
                if p.use_softmax:
                    _softmax_sums(x, terms, ws, pieces, rows, p.rules.shift_floor, p.rules.softmax_log_cap)
                else:
                    _log_prob_sums(x, terms, p, ws, pieces, rows)
            c1, c2, d, _ = p.coefficients(
                a, b, pieces.wq, pieces.count if p.needs_label_count else None)
            lh, ll = _combine(p, pieces, (c1, c2))
            if p.needs_nan_check:
                lh, ll = np.where(pieces.nan, np.nan, lh), np.where(pieces.nan, 0.0, ll)
            if losses is not None:
                losses[a:b] = lh
            total = acc.dd_add(*total, *acc.accurate_sum(np.concatenate([lh, ll])))
            denominator = acc.dd_add(
                *denominator, *acc.accurate_sum(np.concatenate(np.broadcast_arrays(*d)))
            )
        if losses is not None:
            return losses.reshape(p.none_shape)
        if reduction == "sum":
            return np.asarray(total[0], dtype=np.float64)
        return np.asarray(p.mean(total, denominator), dtype=np.float64)


def cross_entropy_grad(
    input,
    label,
    weight=None,
    ignore_index=-100,
    reduction="mean",
    soft_label=False,
    axis=-1,
    use_softmax=True,
    label_smoothing=0.0,
    grad_output=None,
    conventions: ConventionsLike = (),
) -> np.ndarray:
    """Gradient of the cross entropy with respect to `input`, float64, shape of `input`.

    For `reduction="none"` this is `d(sum_j g_j l_j)/d input` with `g = grad_output` (the shape of
    the `none` output, ones if None); for `"sum"`/`"mean"` it is `d(loss)/d input`, times
    `grad_output` if that scalar is given. Ignored positions get zero gradient.
    `cross_entropy_grad_blocks` gives the same values block by block.

    Example:
        >>> g = cross_entropy_grad(np.array([[0.0, 0.0]]), np.array([1]), reduction="sum")
        >>> g.tolist()
        [[0.5, -0.5]]
    """
    input, label, weight, reduction, axis = call_defaults(
        conventions, input, label, weight, reduction, axis, soft_label)
    plan = _GradPlan(
        input, label, weight, ignore_index, reduction, soft_label, axis, use_softmax,
        label_smoothing, grad_output, conventions,
    )
    grad = np.zeros(plan.p.input_shape)
    out_rows = _Rows(grad, plan.p.axis)
    if out_rows.flat is not None:  # class axis last and contiguous: blocks are built in place
        for _ in _grad_blocks(plan, dest=out_rows.flat):
            pass
    else:
        for s, e, block in _grad_blocks(plan):
            out_rows.store(s, e, block)
    return grad


def cross_entropy_grad_blocks(
    input,
    label,
    weight=None,
    ignore_index=-100,
    reduction="mean",
    soft_label=False,
    axis=-1,
    use_softmax=True,
    label_smoothing=0.0,
    grad_output=None,
    conventions: ConventionsLike = (),
):
    """`cross_entropy_grad` block by block, without the whole gradient ever existing.

    Returns an iterator of `(s, e, block)`: `block` is a float64 array of shape `(e - s, C)`,
    class axis last, holding the gradient of positions `s .. e-1`, the positions numbered in C
    order of `np.moveaxis(input, axis, -1).shape[:-1]`; the blocks cover `0 .. n` in order.
    The values are bit for bit those of `cross_entropy_grad`.

    `block` is a reused work buffer: it is valid only until the next iteration (copy it, or
    consume it, before asking for the next one). Each block is about `_BLOCK_BYTES` bytes
    (2 MiB); apart from a few such buffers only per-position vectors are allocated, and the input
    (which may be a read-only `np.memmap`, of any real dtype) is read block by block, never
    copied or widened as a whole.

    Every argument is validated here, before the iterator is returned: invalid input raises
    `ValueError` at the call, as `cross_entropy_grad` does. The normalisation of `mean` (a pass
    over the labels, and for weighted soft labels over the label array) is also done here.

    Example:
        >>> x = np.array([[0.0, 0.0], [0.0, 0.0]])
        >>> [(s, e, b.tolist()) for s, e, b in cross_entropy_grad_blocks(x, np.array([1, 0]))]
        [(0, 2, [[0.25, -0.25], [-0.25, 0.25]])]
    """
    input, label, weight, reduction, axis = call_defaults(
        conventions, input, label, weight, reduction, axis, soft_label)
    plan = _GradPlan(
        input, label, weight, ignore_index, reduction, soft_label, axis, use_softmax,
        label_smoothing, grad_output, conventions,
    )
    return _grad_blocks(plan)


def call_defaults(conventions, input, label, weight, reduction, axis, soft_label):
    """The arguments as an API's own defaults make them (`Conventions.class_axis`, `unreduced`,
    `float32_computation`); unchanged under the canonical conventions."""
    conv = resolve_conventions(conventions)
    if conv.class_axis == "dim-1":
        axis = 1 if np.ndim(input) > 1 else 0
    if conv.unreduced:
        reduction = "none"
    if conv.float32_computation:
        def f32(a):
            return None if a is None else np.asarray(a).astype(np.float32).astype(np.float64)

        input, weight = f32(input), f32(weight)
        if soft_label:
            label = f32(label)
    return input, label, weight, reduction, axis


class _GradPlan:
    """Everything the gradient's blocks need that spans all positions, validated and computed
    once: the problem, the work buffers, the per-position cotangent `g` (for `mean` the scale
    `grad_output / sum_j d_j`) and the per-position coefficients (elementwise, so the same bits
    as computed block by block), with the pieces some conventions need in advance."""

    def __init__(
        self, input, label, weight, ignore_index, reduction, soft_label, axis, use_softmax,
        label_smoothing, grad_output, conventions,
    ):
        p = self.p = _Problem(
            input, label, weight, ignore_index, reduction, soft_label, axis, use_softmax,
            label_smoothing, conventions,
        )
        ws = self.ws = _Workspace(p)
        g_position = p.output_cotangent(grad_output)
        n = p.n_positions
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            wq = None
            if p.needs_soft_weight_sum:
                wq = (np.empty(n), np.empty(n))
                for s, e in _ranges(n, ws.rows):
                    _put(wq, slice(s, e), p.soft_weight_sum(p.block_terms(s, e, ws)[0][1], ws))
            count = None
            if p.needs_label_count:
                count = np.empty(n)
                for s, e in _ranges(n, ws.rows):
                    count[s:e] = p.label_count(s, e)
            c1, c2, d, scale = p.coefficients(0, n, wq, count)
            if p.reduction == "mean":
                denominator = acc.accurate_sum(np.concatenate(np.broadcast_arrays(*d)))
                mean_scale = p.mean((np.float64(g_position), np.float64(0.0)), denominator)
                g_position = np.broadcast_to(np.float64(mean_scale), (n,))
            else:
                g_position = np.broadcast_to(np.asarray(g_position, dtype=np.float64), (n,))
            # the coefficients' high parts, per position (c1, c2 of the terms in use)
            self.coefs = [np.broadcast_to(c[0], (n,)) for c in (c1, c2)][: len(p.terms)]
            self.assumed = None  # grad-assumes-normalised-labels: R := the position's weight
            if p.use_softmax and p.conv.grad_assumes_normalised_labels:
                self.assumed = np.broadcast_to(scale[0] + scale[1], (n,))
            # ignored or zero-weight positions: gradient 0 whatever the logits
            self.zero = np.all([c == 0.0 for c in self.coefs], axis=0)
            self.any_zero = bool(self.zero.any())
        self.g = g_position
        self.g_is_one = bool(np.all(g_position == 1.0))  # times 1.0 changes no bit: skipped

    def block(self, s: int, e: int, out: np.ndarray) -> None:
        """The gradient of positions [s, e) into `out` (e - s, C), float64, C-contiguous."""
        p, ws = self.p, self.ws
        x = ws.load(p.input_rows, s, e)
        terms = p.block_terms(s, e, ws)
        coefs = [c[s:e] for c in self.coefs]
        g = None if self.g_is_one else self.g[s:e]
        if p.use_softmax:
            assumed = None if self.assumed is None else self.assumed[s:e]
            _softmax_grad_block(x, terms, coefs, ws, out, p.rules.shift_floor, assumed, g)
        else:
            _log_prob_grad_block(x, terms, coefs, p, ws, out)
            if g is not None:
                np.multiply(out, g[:, None], out=out)
        if self.any_zero:
            out[self.zero[s:e]] = 0.0


def _grad_blocks(plan: _GradPlan, dest: np.ndarray | None = None):
    """Generator of `(s, e, block)` over the positions of `plan`, in order.

    With `dest` (an (n_positions, C) float64 C-contiguous array: the flat rows of the result)
    each block is built in `dest[s:e]` and that view is yielded; without it the block is the
    workspace's reused `out` buffer. numpy's error state is set around each block only, never
    across a `yield` (the caller's own state is left alone while it holds a block).
    """
    p, ws = plan.p, plan.ws
    for s, e in _ranges(p.n_positions, ws.rows):
        out = dest[s:e] if dest is not None else ws.out[: e - s]
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            plan.block(s, e, out)
        yield s, e, out


# --------------------------------------------------------------------------- the problem


class _Problem:
    """Validated, normalised arguments: the class axis, positions, targets and coefficients."""

    def __init__(
        self, input, label, weight, ignore_index, reduction, soft_label, axis, use_softmax,
        label_smoothing, conventions,
    ):
        if not isinstance(reduction, str) or reduction not in _REDUCTIONS:
            raise ValueError(f"reduction: expected one of {_REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction
        self.conv: Conventions = resolve_conventions(conventions)
        self.use_softmax = _flag("use_softmax", use_softmax)
        self.soft = _flag("soft_label", soft_label)

        x = _real_array("input", input)
        if x.ndim == 0:
            raise ValueError("input: expected an array of rank >= 1 (the class axis), got a scalar")
        if not isinstance(axis, numbers.Integral) or isinstance(axis, bool):
            raise ValueError(f"axis: expected an integer, got {axis!r}")
        if not -x.ndim <= axis < x.ndim:
            raise ValueError(
                f"axis: expected an axis of the rank-{x.ndim} input, in [{-x.ndim}, {x.ndim}), "
                f"got {axis}"
            )
        self.axis = int(axis) % x.ndim
        self.C = x.shape[self.axis]
        if self.C == 0:
            raise ValueError(f"input: the class axis {self.axis} has size 0 (shape {x.shape})")
        self.input_shape = x.shape
        self.input_rows = _Rows(x, self.axis)
        self.outer_shape = self.input_rows.outer_shape
        self.n_positions = int(np.prod(self.outer_shape, dtype=np.int64))

        e = label_smoothing
        if (
            not isinstance(e, numbers.Real)
            or isinstance(e, bool)
            or not 0.0 <= float(e) <= 1.0
        ):
            raise ValueError(f"label_smoothing: expected a number in [0, 1], got {e!r}")
        self.smoothing = float(e)

        self.weight = None
        if weight is not None:
            w = _real_array("weight", weight).astype(np.float64)
            if w.shape != (self.C,):
                raise ValueError(
                    f"weight: expected shape ({self.C},), one weight per class, got {w.shape}"
                )
            self.weight = w
            self.weight_sum = acc.accurate_sum(w)
            self.weight_nonneg = bool(np.all(w >= 0))

        if not isinstance(ignore_index, numbers.Integral) or isinstance(ignore_index, bool):
            raise ValueError(f"ignore_index: expected an integer, got {ignore_index!r}")
        self.ignore_index = int(ignore_index)
        if self.soft:
            self._init_soft_label(label)
        else:
            self._init_hard_label(label)
        self._init_smoothing()
        self._init_value_rules()
        self._init_terms()
        self.none_shape = self.outer_shape
        if self.conv.none_keeps_class_axis and (
            self.soft or self.smoothing > 0.0 or self.label_has_class_axis
        ):
            shape = self.input_shape
            self.none_shape = shape[: self.axis] + (1,) + shape[self.axis + 1 :]

    def _init_smoothing(self) -> None:
        # smoothing-classes-from-last-axis: e / input.shape[-1] whatever the class axis
        cs = self.input_shape[-1] if self.conv.smoothing_classes == "last-axis" else self.C
        self.one_minus_e, self.e_over_c, self.q_hot, self.q_cold = _smoothing_coefficients(
            self.smoothing, cs, self.conv.smoothing_precision == "float32", self.soft)

    def _init_value_rules(self) -> None:
        """Conventions that change the log-probabilities themselves (not the coefficients)."""
        conv = self.conv
        self.rules = _ValueRules.of(conv, self.use_softmax)
        dense_target = self.soft or self.smoothing > 0.0
        self.needs_nan_check = conv.zero_times_inf == "nan" and dense_target
        self.needs_label_count = (
            conv.mean_counts_label_elements and self.reduction == "mean"
            and self.ignore_index >= 0 and dense_target
        )
        # dense targets: the gradient -r/p without the 0 at r == 0 (log-zero-1e20, literally)
        self.literal_probs_grad = self.rules.log_cap is not None and dense_target

    def _init_hard_label(self, label) -> None:
        # smoothing-skips-ignore: with label smoothing nothing is ignored (hard labels are one-hot
        # encoded first)
        skips = self.conv.smoothing_skips_ignore and self.smoothing > 0.0
        self.y, self.ignored, self.label_has_class_axis = _hard_labels(
            label, self.input_shape, self.outer_shape, self.axis, self.C, self.ignore_index, skips)

    def _init_soft_label(self, label) -> None:
        self.soft_rows = _soft_labels(label, self.input_shape, self.axis, self.ignore_index)
        self.ignored = None
        self.label_has_class_axis = False

    def _init_terms(self) -> None:
        # The target term v1 and the smoothing term v2 (see the module docstring).
        weighted = self.weight is not None
        smoothing = self.smoothing > 0.0
        if self.soft:
            per_class = weighted and self.conv.soft_weight == "per-class"
            self.terms = ["soft-weighted" if per_class else "soft"]
            self.needs_soft_weight_sum = weighted and not per_class
            if smoothing:
                self.terms.append("weight" if per_class else "ones")
        else:
            separate_smoothing = (weighted and smoothing
                                  and self.conv.smoothing_weight == "separate-terms")
            self.terms = ["index"]
            self.needs_soft_weight_sum = False
            if smoothing:
                self.terms.append("weight" if separate_smoothing else "ones")
        self.separate_smoothing = not self.soft and "weight" in self.terms

    def block_terms(self, s: int, e: int, ws: _Workspace) -> list:
        """The terms' vectors for positions [s, e): (kind, data) pairs for the kernels."""
        terms = []
        for kind in self.terms:
            if kind == "index":
                terms.append(("index", self.y[s:e]))
            elif kind == "soft":
                terms.append(("dense", self.soft_rows.block(s, e)))
            elif kind == "soft-weighted":
                v = ws.v[: e - s]
                np.multiply(self.soft_rows.block(s, e), self.weight, out=v)
                terms.append(("dense", v))
            elif kind == "weight":
                terms.append(("dense", self.weight, self.weight_nonneg, self.weight_sum))
            else:
                terms.append(("ones",))
        return terms

    def soft_weight_sum(self, q: np.ndarray, ws: _Workspace):
        """`W_j = sum_c w_c q_jc` for a block of soft labels, as double-doubles."""
        n = q.shape[0]
        z = ws.z[:n]
        np.multiply(q, self.weight, out=z)
        return acc.row_sums(z, ws.scratch[:n], same_sign=False)

    def coefficients(self, a: int, b: int, wq, count=None):
        """Per-position double-doubles `c1`, `c2`, mean weight `d` and scale `s` for [a, b).

        `s` is the position's weight before the mean conventions (`sw_j`, 1 without weights, 0
        where ignored): the factor of the target in `r = s q'` (grad-assumes-normalised-labels).
        `count` (label elements, mean-counts-label-elements) multiplies `d`.
        """
        c1, c2, d, s = self._coefficients(a, b, wq)
        if count is not None:
            d = acc.dd_mul(*d, np.asarray(count, dtype=np.float64), 0.0)
        return c1, c2, d, s

    def label_count(self, s: int, e: int) -> np.ndarray:
        """`#{c : q'_jc != ignore_index}` for positions [s, e) (mean-counts-label-elements)."""
        ii = self.ignore_index
        if not self.soft:  # smoothed one-hot rows: the same count everywhere
            n = (self.C - 1) * int(self.q_cold != ii) + int(self.q_hot != ii)
            return np.full(e - s, float(n))
        q = np.asarray(self.soft_rows.block(s, e), dtype=np.float64)
        if self.smoothing > 0.0:
            q = self.one_minus_e[0] * q + self.e_over_c[0]
        return np.count_nonzero(q != ii, axis=1).astype(np.float64)

    def nan_positions(self, x: np.ndarray, s: int, e: int) -> np.ndarray:
        """zero-q-neg-inf-nan: positions [s, e) with a zero target where `lp` is not finite."""
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            lp = self.rules.log_probs(x)
            if self.soft:
                q = np.asarray(self.soft_rows.block(s, e), dtype=np.float64)
                if self.smoothing > 0.0:
                    q = self.one_minus_e[0] * q + self.e_over_c[0]
            else:
                q = np.full(x.shape, self.q_cold)
                q[np.arange(e - s), self.y[s:e]] = self.q_hot
            flag = np.any((q == 0.0) & ~np.isfinite(lp), axis=1)
        if self.ignored is not None:
            flag &= ~self.ignored[s:e]
        return flag

    def _coefficients(self, a: int, b: int, wq):
        n = b - a
        one, zero = np.ones(n), np.zeros(n)
        ome, eoc = self.one_minus_e, self.e_over_c
        w = self.weight
        count_mean = self.conv.weighted_mean == "count"
        if self.soft:
            if w is None or self.conv.soft_weight == "per-class":
                return (ome, eoc, (one, zero), (one, zero))
            sw = acc.dd_add(*acc.dd_mul(*ome, *wq), *acc.dd_mul(*eoc, *self.weight_sum))
            d = (one, zero) if count_mean else sw
            return acc.dd_mul(*sw, *ome), acc.dd_mul(*sw, *eoc), d, sw
        ignored = self.ignored[a:b]
        if w is None:
            c1 = (np.broadcast_to(ome[0], (n,)), np.broadcast_to(ome[1], (n,)))
            c2 = (np.broadcast_to(eoc[0], (n,)), np.broadcast_to(eoc[1], (n,)))
            d = (one, zero)
        else:
            wy = w[self.y[a:b]]
            if self.smoothing == 0.0:
                c1, c2, d = (wy, zero), (zero, zero), (wy, zero)
            elif self.separate_smoothing:
                c1, c2, d = acc.dd_mul(*ome, wy, 0.0), eoc, (wy, zero)
            else:
                sw = acc.dd_add(*acc.dd_mul(*ome, wy, 0.0), *acc.dd_mul(*eoc, *self.weight_sum))
                c1, c2, d = acc.dd_mul(*sw, *ome), acc.dd_mul(*sw, *eoc), sw
        keep = ~ignored
        c1 = tuple(np.where(keep, part, 0.0) for part in c1)
        c2 = tuple(np.where(keep, part, 0.0) for part in c2)
        scale = tuple(np.where(keep, part, 0.0) for part in d)
        if count_mean:
            d = (one, zero)
        if not (self.conv.mean_counts_ignored and w is None and self.ignore_index < 0):
            d = tuple(np.where(keep, part, 0.0) for part in d)
        return c1, c2, d, scale

    def mean(self, total, denominator):
        """`total / denominator` (double-doubles), with the empty-mean convention."""
        dh, dl = denominator
        if dh == 0.0 and dl == 0.0 and self.conv.empty_mean == "zero":
            dh = np.float64(1.0)
        return acc.dd_div(*total, dh, dl)[0]

    def output_cotangent(self, grad_output):
        """Validated `grad_output`: shape of the `none` output, or a scalar for sum/mean."""
        if grad_output is None:
            return np.float64(1.0) if self.reduction != "none" else np.ones(self.n_positions)
        g = _real_array("grad_output", grad_output).astype(np.float64)
        if self.reduction != "none":
            if g.size != 1:
                raise ValueError(
                    f"grad_output: expected a scalar for reduction={self.reduction!r}, "
                    f"got shape {g.shape}"
                )
            return np.float64(g.reshape(()))
        if g.shape == self.none_shape:  # none-keeps-class-axis: the output's own shape
            return g.reshape(-1)
        try:
            return np.broadcast_to(g, self.outer_shape).reshape(-1)
        except ValueError:
            raise ValueError(
                f"grad_output: expected the shape of the 'none' output {self.none_shape}, "
                f"got {g.shape}"
            ) from None


def _smoothing_coefficients(e: float, cs: int, float32: bool, soft: bool):
    """`(one_minus_e, e_over_c, q_hot, q_cold)`: the double-doubles of `q' = one_minus_e * q +
    e_over_c` for smoothing `e` over `cs` classes, and the smoothed one-hot row's values in
    float64 (hot: the label's class), for comparisons. `float32`: smoothing-coefficients-float32."""
    zero = np.float64(0.0)
    if float32 and e > 0.0:
        # float32 smoothing: epsilon as a float32, `(1 - epsilon) * label + epsilon / label_dim`
        # in the label's type; hard labels are float32 one-hot rows.
        e32 = np.float32(e)
        a = np.float32(1.0) - e32
        b = e32 / np.float32(cs)
        q_hot = np.float64(np.float32(a + b))
        if soft:
            one_minus_e = (np.float64(a), zero)
        else:  # q_y = f32(a * 1 + b), q_c = b: coefficient of the one-hot q_y - b, exactly
            one_minus_e = acc.two_sum(q_hot, -np.float64(b))
        e_over_c = (np.float64(b), zero)
    else:
        one_minus_e = acc.two_sum(1.0, -e)
        # e / C as a double-double: hi = fl(e / C), lo = (e - hi * C) / C.
        eh = np.float64(e) / cs
        ph, pl = acc.two_prod(eh, np.float64(cs))
        e_over_c = acc.fast_two_sum(eh, ((e - ph) - pl) / cs)
        q_hot = np.float64(acc.dd_add(*one_minus_e, *e_over_c)[0])
    return one_minus_e, e_over_c, q_hot, np.float64(e_over_c[0])


@dataclass(frozen=True)
class _ValueRules:
    """The conventions that change the log-probabilities themselves: the probability clip and
    renormalisation (use_softmax=False), the softmax shift floor, the cap on log 0."""

    use_softmax: bool
    clip_eps: float
    renormalise: str  # "none", "before-clip", "after-clip"
    shift_floor: float | None
    log_cap: float | None
    # with softmax, log p = -inf only at a -inf logit, and never once the shift is clipped
    softmax_log_cap: float | None

    @classmethod
    def of(cls, conv: Conventions, use_softmax: bool) -> "_ValueRules":
        clip_eps = 0.0 if use_softmax else float(conv.probs_clip_eps)
        renormalise = "none" if use_softmax else conv.probs_renormalise
        if renormalise != "none" and not clip_eps:
            clip_eps = DEFAULT_CLIP_EPS
        floor = float(conv.softmax_shift_floor)
        shift_floor = floor if use_softmax and floor > -np.inf else None
        cap = float(conv.log_inf_value)
        log_cap = cap if cap < np.inf else None
        return cls(use_softmax, clip_eps, renormalise, shift_floor, log_cap,
                   log_cap if shift_floor is None else None)

    def log_probs(self, x: np.ndarray) -> np.ndarray:
        """The log-probabilities of a (positions, C) block under these rules, plainly evaluated.

        For which of them are finite only: the loss itself is computed accurately elsewhere.
        """
        if self.use_softmax:
            t = x - np.max(x, axis=1, keepdims=True)
            if self.shift_floor is not None:
                t = np.where(t < self.shift_floor, self.shift_floor, t)
            lp = t - np.log(np.sum(np.exp(t), axis=1, keepdims=True))
        else:
            p, eps = x, self.clip_eps
            if self.renormalise == "before-clip":
                p = p / np.sum(p, axis=1, keepdims=True)
            if eps:
                p = np.clip(p, eps, 1.0 - eps)
            lp = np.log(p)
            if self.renormalise == "after-clip":
                lp = lp - np.log(np.sum(p, axis=1, keepdims=True))
        if self.log_cap is not None:
            lp = np.where(np.isinf(lp), np.copysign(self.log_cap, lp), lp)
        return lp


def _hard_labels(label, input_shape, outer_shape, axis: int, C: int, ignore_index: int,
                 skips: bool):
    """Validated hard labels: `(y, ignored, label_has_class_axis)`, `y` the flat int64 class of
    each position (0 where ignored: a valid index to gather with; its coefficient is 0).
    `skips`: smoothing-skips-ignore (nothing is ignored)."""
    y = np.asarray(label)
    if y.dtype.kind not in "iu":
        raise ValueError(
            "label: hard labels (soft_label=False) must be integer class indices, got dtype "
            f"{y.dtype}; pass soft_label=True for per-class probabilities"
        )
    with_axis = input_shape[:axis] + (1,) + input_shape[axis + 1 :]
    has_class_axis = y.shape == with_axis and y.shape != outer_shape
    if has_class_axis:
        y = np.squeeze(y, axis=axis)
    elif y.shape != outer_shape:
        raise ValueError(
            f"label: shape {y.shape} fits neither hard-label rule for input shape "
            f"{input_shape} with axis={axis}: expected {outer_shape} "
            f"(class axis removed) or {with_axis} (class axis of size 1)"
        )
    if y.dtype.kind == "u" and y.size and y.max() > np.iinfo(np.int64).max:
        # the int64 cast below would wrap such a label (2**64 - 100 -> -100 == ignore_index)
        raise ValueError(f"label: {int(y.max())} is out of range for {C} classes")
    y = np.ascontiguousarray(y).reshape(-1).astype(np.int64, copy=False)
    ignored = np.zeros(y.shape, dtype=bool) if skips else y == ignore_index
    bad = ~ignored & ((y < 0) | (y >= C))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        where = np.unravel_index(first, outer_shape) if outer_shape else ()
        why = (
            " (smoothing-skips-ignore: with label smoothing ignore_index is not applied)"
            if skips and np.any(y[bad] == ignore_index) else ""
        )
        raise ValueError(
            f"label: {int(bad.sum())} value(s) outside [0, {C}) and not equal to "
            f"ignore_index={ignore_index}; first: {int(y[first])} at position "
            f"{tuple(int(i) for i in where)}{why}"
        )
    return np.where(ignored, 0, y), ignored, has_class_axis


def _soft_labels(label, input_shape, axis: int, ignore_index: int) -> "_Rows":
    """Validated soft labels, as (positions, C) rows."""
    q = _real_array("label", label)
    if q.shape != input_shape:
        raise ValueError(
            f"label: soft labels must have the input's shape {input_shape}, got {q.shape}"
        )
    if ignore_index > 0:
        raise ValueError(
            f"ignore_index: must not be > 0 with soft labels (the contract forbids it), got "
            f"{ignore_index}; soft labels never ignore a position"
        )
    return _Rows(q, axis)


def _flag(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}: expected a bool, got {value!r}")
    return bool(value)


def _real_array(name: str, value) -> np.ndarray:
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as e:  # ragged nested lists, objects numpy cannot hold
        raise ValueError(f"{name}: cannot be read as an array ({e})") from None
    if array.dtype.kind in "fiu":
        return array
    if array.dtype.kind not in "bcmMOSUa":
        try:  # extension float types (e.g. ml_dtypes.bfloat16) that widen to float64
            np.zeros(1, dtype=array.dtype).astype(np.float64)
            return array
        except (TypeError, ValueError):
            pass
    raise ValueError(f"{name}: expected a real numeric array, got dtype {array.dtype}")


# --------------------------------------------------------------------------- layout and blocks


def _ranges(n: int, step: int, start: int = 0):
    stop = start + n
    return ((a, min(a + step, stop)) for a in range(start, stop, step))


class _Rows:
    """An array seen as (positions, C) rows, class axis last, without copying it."""

    def __init__(self, array: np.ndarray, axis: int):
        moved = np.moveaxis(array, axis, -1)
        self.outer_shape = moved.shape[:-1]
        self.moved = moved
        self.flat = _flat_view(moved)

    def block(self, s: int, e: int) -> np.ndarray:
        if self.flat is not None:
            return self.flat[s:e]
        return self.moved[np.unravel_index(np.arange(s, e), self.outer_shape)]

    def store(self, s: int, e: int, values: np.ndarray) -> None:
        if self.flat is not None:
            self.flat[s:e] = values
        else:
            self.moved[np.unravel_index(np.arange(s, e), self.outer_shape)] = values


def _flat_view(moved: np.ndarray):
    shape = (-1, moved.shape[-1])
    try:
        return np.reshape(moved, shape, copy=False)
    except ValueError:
        return None
    except TypeError:  # numpy < 2.1 has no copy= on reshape
        view = moved.view()
        try:
            view.shape = shape
        except AttributeError:
            return None
        return view


class _Workspace:
    """Reused float64 block buffers, allocated on first use; a block is `rows` positions."""

    def __init__(self, p: _Problem):
        self.rows = max(1, min(_BLOCK_BYTES // (8 * p.C), max(p.n_positions, 1)))
        self.shape = (self.rows, p.C)
        self.t, self.lo, self.z = (np.empty(self.shape) for _ in range(3))
        self._extra: dict[str, np.ndarray] = {}

    def _buffer(self, name: str) -> np.ndarray:
        if name not in self._extra:
            self._extra[name] = np.empty(self.shape)
        return self._extra[name]

    scratch = property(lambda self: self._buffer("scratch"))
    out = property(lambda self: self._buffer("out"))
    v = property(lambda self: self._buffer("v"))

    def load(self, rows: _Rows, s: int, e: int) -> np.ndarray:
        """The input rows [s, e) as C-contiguous float64, copied only if they are not already."""
        block = rows.block(s, e)
        if block.dtype == np.float64 and block.flags.c_contiguous:
            return block
        x = self._buffer("x")[: e - s]
        np.copyto(x, block, casting="unsafe")
        return x


class _Pieces:
    """Raw per-position sums of one group, turned into double-doubles once per group.

    Softmax: `m` (row max), `tail` + `tail_corr` (T = sum_{c != argmax} exp(x_c - m)), and per
    term `main` + `corr` (sum_c v_c t_c and sum_c v_c lo_c, with t + lo = x - m exactly; for a
    hard label `main` holds x_y) and `vsum` (sum_c v_c of a soft label block).
    Probabilities: per term `main` = sum_c v_c (-log p_c) (for a hard label -log p_y), and
    with probs-clipped-renormalised `tail` = `sum_c cp_c - 1` (the log of the row sum is added).
    Pairs are double-doubles (hi, lo).
    """

    def __init__(self, n: int, n_terms: int):
        def pair():
            return (np.zeros(n), np.zeros(n))

        self.m, self.tail_corr = np.zeros(n), np.zeros(n)
        self.tail, self.wq = pair(), pair()
        self.count = np.ones(n)  # label elements (mean-counts-label-elements)
        self.nan = np.zeros(n, dtype=bool)  # zero-q-neg-inf-nan
        self.main = [pair() for _ in range(n_terms)]
        self.corr = [np.zeros(n) for _ in range(n_terms)]
        self.vsum = [pair() for _ in range(n_terms)]


def _put(pair, rows, values) -> None:
    pair[0][rows], pair[1][rows] = values


def _combine(p: _Problem, pieces: _Pieces, coefficients):
    """`l = sum_i c_i (A_i + V_i log S)` in double-double; a term with coefficient 0 adds 0."""
    n = len(pieces.m)
    zero = np.zeros(n)
    if p.use_softmax:
        L = acc.log1p_dd(*acc.dd_add(*pieces.tail, pieces.tail_corr, zero))
    elif p.rules.renormalise == "after-clip":
        L = acc.log1p_dd(*pieces.tail)  # log sum_c cp_c
    else:
        L = (zero, zero)
    lh, ll = zero, zero
    for i, kind in enumerate(p.terms):
        (mh, ml), corr = pieces.main[i], pieces.corr[i]
        if not p.use_softmax:
            A = (mh, ml)
        elif kind == "index":
            A = acc.two_sum(pieces.m, -mh)
            if p.rules.shift_floor is not None:  # -s_y = min(m - x_y, -floor)
                top = -p.rules.shift_floor
                over = (A[0] > top) | ((A[0] == top) & (A[1] > 0.0))
                A = (np.where(over, top, A[0]), np.where(over, 0.0, A[1]))
            elif p.rules.softmax_log_cap is not None:  # a -inf logit: -lp_y = cap
                capped = acc.dd_add(p.rules.softmax_log_cap, 0.0, -L[0], -L[1])
                inf = A[0] == np.inf
                A = (np.where(inf, capped[0], A[0]), np.where(inf, capped[1], A[1]))
        else:
            A = acc.dd_add(-mh, -ml, -corr, zero)
        if kind == "index":
            V = (np.ones(n), zero)
        elif kind == "ones":
            V = (np.full(n, float(p.C)), zero)
        elif kind == "weight":
            V = p.weight_sum
        else:
            V = pieces.vsum[i]
        ch, cl = coefficients[i]
        VL = acc.dd_mul(*V, *L)
        VL = tuple(np.where(np.asarray(V[0]) == 0.0, 0.0, part) for part in VL)  # 0 * NaN = 0
        term = acc.dd_mul(ch, cl, *acc.dd_add(*A, *VL))
        active = np.asarray(ch) != 0.0
        lh, ll = acc.dd_add(lh, ll, *(np.where(active, part, 0.0) for part in term))
    return lh, ll


# --------------------------------------------------------------------------- kernels: softmax

# Rows whose tail sum T is at least this get numpy's pairwise sum alone: log1p damps its error
# (a relative error d in T moves log(1 + T) by at most d / 4 here). Smaller T: exact extraction.
_PAIRWISE_TAIL = 64.0


def _clip_shift(t, lo, floor: float) -> None:
    """softmax-shift-clipped-64: `t + lo = max(x - m, floor)`, in place (-inf logits included)."""
    below = (t < floor) | ((t == floor) & (lo < 0.0))
    t[below] = floor
    lo[below] = 0.0


def _softmax_sums(x, terms, ws, pieces: _Pieces, rows: slice, floor=None, cap=None) -> None:
    """Raw sums of a block of logit rows `x` (n, C) into `pieces[rows]`.

    `floor`: clip the shifted logits there (softmax-shift-clipped-64); `cap`: a -inf logit's
    `-lp` is `cap` (log-zero-1e20).
    """
    n = x.shape[0]
    t, lo, z = ws.t[:n], ws.lo[:n], ws.z[:n]
    if floor is None and all(term[0] == "index" for term in terms):
        # Hard labels alone: A = m - x_y needs no shift error, and the tail needs it only in rows
        # where it can move the loss by 2**-54 relative (mostly confident rows).
        k, m = acc.row_max(x)
        xy = x[np.arange(n), terms[0][1]]
        for i in range(len(terms)):
            pieces.main[i][0][rows] = xy
        tail, tail_corr = acc.lazy_tail_sums(x, k, m, t, z, offset=m - xy)
        e = z
    else:
        k, m = acc.subtract_row_max(x, t, lo, z)
        if floor is not None:
            _clip_shift(t, lo, floor)
        _dense_term_sums(x, terms, t, lo, z, ws.scratch[:n], pieces, rows)
        tail, tail_corr = acc.exp_tail_sums(t, lo, k)
        e = t
    pieces.m[rows] = m
    tail_lo = np.zeros(n)
    small = np.flatnonzero(tail < _PAIRWISE_TAIL)
    if small.size:
        e_small = e if small.size == n else e[small]
        scratch = ws.scratch[: small.size]
        tail[small], tail_lo[small] = acc.row_sums(e_small, scratch, rough=tail[small])
    _put(pieces.tail, rows, (tail, tail_lo))
    pieces.tail_corr[rows] = tail_corr
    for j in np.flatnonzero(np.isnan(tail_corr) & (np.isfinite(m) | (m == -np.inf))):
        row_terms = [_term_row(term, j) for term in terms]
        _neg_inf_row(x[j], m[j], k[j], row_terms, pieces, rows.start + j, cap)


def _dense_term_sums(x, terms, t, lo, z, scratch, pieces: _Pieces, rows: slice) -> None:
    """`sum_c v_c t_c` (double-double) and `sum_c v_c lo_c` of each term (x_y for a hard label)."""
    for i, term in enumerate(terms):
        kind = term[0]
        if kind == "index":
            pieces.main[i][0][rows] = x[np.arange(x.shape[0]), term[1]]
        elif kind == "ones":
            _put(pieces.main[i], rows, acc.row_sums(t, scratch))
            pieces.corr[i][rows] = lo.sum(axis=1)
        elif kind == "dense":
            v = term[1]
            nonneg = term[2] if v.ndim == 1 else bool(np.all(v >= 0))
            np.multiply(t, v, out=z)
            _put(pieces.main[i], rows, acc.row_sums(z, scratch, same_sign=nonneg))
            if v.ndim == 1:
                pieces.corr[i][rows] = lo @ v
            else:
                pieces.corr[i][rows] = np.einsum("ij,ij->i", lo, v)
                _put(pieces.vsum[i], rows, acc.row_sums(v, scratch, same_sign=nonneg))


def _term_row(term, j):
    if term[0] == "dense" and term[1].ndim == 2:
        return ("dense", np.asarray(term[1][j], dtype=np.float64))
    return term


def _neg_inf_row(x_row, m, k, terms, pieces: _Pieces, i: int, cap=None) -> None:
    """Recompute one row that has -inf logits: exp gives 0 there and a zero coefficient adds 0.

    With `cap` (log-zero-1e20) a -inf logit has `-lp = cap` instead of `inf`.
    """
    C = x_row.size
    if m == -np.inf:  # every logit -inf: the softmax is undefined, only zero coefficients add 0
        for n_term, term in enumerate(terms):
            if term[0] != "index":
                defined = term[0] == "dense" and not np.any(term[1])
                _put(pieces.main[n_term], i, (0.0 if defined else np.nan, 0.0))
                pieces.corr[n_term][i] = 0.0
        _put(pieces.tail, i, (np.nan, 0.0))
        return
    scratch = np.empty((1, C))
    t = (x_row - m)[None, :]
    lo = np.asarray(acc.two_sum(x_row, -m)[1])  # 0 where x is -inf
    e = np.exp(t)
    e[0, k] = 0.0
    hi, lo_sum = acc.row_sums(e, scratch)
    if cap is not None:  # -lp_c = (m - x_c) + log S = cap: put log S - cap in place of x_c - m
        t = np.where(x_row == -np.inf, np.log1p(hi[0]) - cap, t)
    for n_term, term in enumerate(terms):
        if term[0] == "ones":
            if cap is None:
                _put(pieces.main[n_term], i, (-np.inf, 0.0))
                pieces.corr[n_term][i] = 0.0
            else:
                sums = acc.row_sums(t, scratch)
                _put(pieces.main[n_term], i, (sums[0][0], sums[1][0]))
                pieces.corr[n_term][i] = np.sum(lo)
        elif term[0] == "dense":
            v = term[1]
            vt = np.where(v == 0.0, 0.0, v * t)
            sums = acc.row_sums(vt, scratch, same_sign=bool(np.all(v >= 0)))
            _put(pieces.main[n_term], i, (sums[0][0], sums[1][0]))
            pieces.corr[n_term][i] = np.sum(v * lo)
    _put(pieces.tail, i, (hi[0], lo_sum[0]))
    pieces.tail_corr[i] = e[0] @ lo


def _softmax_grad_block(x, terms, coefs, ws, out, floor=None, assumed=None, g=None) -> None:
    """`out = (p R - r) g` per row: p = softmax(x), r = c1 v1 + c2 v2, R = sum_c r_c.

    `floor`: p is the softmax of the clipped shift (used as is, not differentiated through the clip);
    `assumed`: R replaced by these values (grad-assumes-normalised-labels); `g`: the rows'
    cotangents (None: 1). `out` (n, C) float64 C-contiguous may be the result's own rows.
    """
    n, C = x.shape
    rows = np.arange(n)
    t, lo, z = ws.t[:n], ws.lo[:n], ws.z[:n]
    k, m = acc.subtract_row_max(x, t, lo, z)
    if floor is not None:
        _clip_shift(t, lo, floor)
    tail, tail_corr = acc.exp_tail_sums(t, lo, k)
    for i in np.flatnonzero(np.isnan(tail_corr) & np.isfinite(m)):
        # -inf logits: exp gave 0 there but the shift's error term is NaN; it is 0 there.
        lo[i][~np.isfinite(lo[i])] = 0.0
        tail_corr[i] = t[i] @ lo[i]
    Th, Tl = acc.two_sum(tail, tail_corr)
    Sh, Sl = acc.dd_add(1.0, 0.0, Th, Tl)
    inv_s = acc.dd_div(1.0, 0.0, Sh, Sl)[0]
    # Hard labels, smoothed or not with the ones term: r is a per-row constant plus one element.
    label_only = terms[0][0] == "index" and all(term[0] == "ones" for term in terms[1:])
    p = out if label_only else z
    np.multiply(t, lo, out=p)  # p = exp(t) (1 + lo) / S, except at k
    np.add(p, t, out=p)
    np.multiply(p, inv_s[:, None], out=p)
    if label_only:
        _label_grad(out, terms[0][1], coefs, k, Th, inv_s, assumed, g)
        return

    r = out  # r = c1 v1 + c2 v2, built in `out`
    R = np.zeros(n)  # sum_c r_c
    R_rest = np.zeros(n)  # sum_{c != k} r_c, without cancellation
    r.fill(0.0)
    for term, c in zip(terms, coefs):
        kind = term[0]
        if kind == "index":
            y = term[1]
            r[rows, y] += c
            R += c
            R_rest += np.where(y == k, 0.0, c)
        elif kind == "ones":
            r += c[:, None]
            R += c * C
            R_rest += c * (C - 1)
        else:
            v = term[1]
            scratch = ws.scratch[:n]
            np.multiply(v, c[:, None], out=scratch)
            r += scratch
            if v.ndim == 1:
                total = term[3]
                R += c * total[0]
                rest = acc.dd_add(*total, -v[k], 0.0)[0]
            else:
                np.copyto(scratch, v)
                R += c * scratch.sum(axis=1)
                scratch[rows, k] = 0.0
                rest = scratch.sum(axis=1)
            R_rest += c * rest
    if assumed is not None:
        R_rest = R_rest + (assumed - R)
        R = np.array(assumed, dtype=np.float64)
    r_k = r[rows, k].copy()
    dead = np.flatnonzero(R == 0.0)  # r == 0 everywhere: gradient 0, whatever the logits
    dead = dead[~np.any(r[dead] != 0.0, axis=1)]
    # out = p R - r
    np.multiply(z, R[:, None], out=z)
    np.subtract(z, r, out=out)
    # At the argmax, p_k R - r_k = (R - r_k - r_k T) / S = (R_rest - r_k T) / S, no cancellation.
    out[rows, k] = (R_rest - r_k * Th) * inv_s
    out[dead] = 0.0
    if g is not None:
        np.multiply(out, g[:, None], out=out)


def _label_grad(out, y, coefs, k, Th, inv_s, assumed=None, g=None) -> None:
    """`_softmax_grad_block` for a hard label, alone or with the ones term, `out` holding p.

    The same roundings as the dense path, without building r: there `r` is 0 (or `c2`) off the
    label, so `fl(p R - r_c)` is `fl(p R)` (or `fl(p R - c2)`), and `r_y = fl(fl(0 + c1) + c2)`
    is applied at the n label elements only; a multiplication by 1 (R of every live row, or g)
    is skipped, a row with R == 0 and r == 0 is overwritten with 0 (times g) as before.
    """
    n, C = out.shape
    rows = np.arange(n)
    c1 = coefs[0]
    c2 = coefs[1] if len(coefs) > 1 else None
    R = np.zeros(n)  # sum_c r_c, summed in the dense path's order
    R += c1
    R_rest = np.zeros(n)  # sum_{c != k} r_c
    R_rest += np.where(y == k, 0.0, c1)
    r_y = np.zeros(n) + c1  # r[rows, y] += c1 on zeros
    r_c = None  # r off the label
    if c2 is not None:
        r_c = np.zeros(n) + c2
        r_y = r_y + c2
        R += c2 * C
        R_rest += c2 * (C - 1)
    if assumed is not None:
        R_rest = R_rest + (assumed - R)
        R = np.array(assumed, dtype=np.float64)
    r_k = np.where(y == k, r_y, 0.0 if r_c is None else r_c)
    any_r = r_y != 0.0
    if r_c is not None and C > 1:
        any_r |= r_c != 0.0
    dead = (R == 0.0) & ~any_r  # r == 0 everywhere: gradient 0, whatever the logits
    p_y = out[rows, y]
    if not np.all((R == 1.0) | dead):
        np.multiply(out, R[:, None], out=out)
    if r_c is not None:
        np.subtract(out, r_c[:, None], out=out)
    if g is not None:
        np.multiply(out, g[:, None], out=out)
    v_y = p_y * R - r_y
    # At the argmax, p_k R - r_k = (R - r_k - r_k T) / S = (R_rest - r_k T) / S, no cancellation.
    v_k = (R_rest - r_k * Th) * inv_s
    if g is not None:
        v_y, v_k = v_y * g, v_k * g
    out[rows, y] = v_y
    out[rows, k] = v_k
    dead = np.flatnonzero(dead)
    if dead.size:
        out[dead] = 0.0 if g is None else 0.0 * g[dead, None]


# --------------------------------------------------------------------------- kernels: probabilities


def _cap_infinities(a: np.ndarray, cap) -> np.ndarray:
    """log-zero-1e20: `+-inf` becomes `+-cap` (in place for arrays)."""
    if cap is not None:
        a[np.isinf(a)] = np.copysign(cap, a[np.isinf(a)])
    return a


def _log_prob_sums(p_block, terms, p: _Problem, ws, pieces: _Pieces, rows: slice) -> None:
    """Each term's `sum_c v_c (-log p_c)` for a block of probability rows into `pieces[rows]`."""
    n, C = p_block.shape
    eps, cap = p.rules.clip_eps, p.rules.log_cap
    nlp = None
    if p.rules.renormalise != "none":
        nlp = ws.t[:n]
        _renormalised_neg_log(p_block, p, ws, nlp, pieces, rows)
    for i, term in enumerate(terms):
        kind = term[0]
        if kind == "index":
            if nlp is not None:
                pieces.main[i][0][rows] = nlp[np.arange(n), term[1]]
                continue
            py = p_block[np.arange(n), term[1]]
            if eps:
                py = np.clip(py, eps, 1.0 - eps)
            pieces.main[i][0][rows] = _cap_infinities(np.atleast_1d(-np.log(py)), cap)
            continue
        if nlp is None:
            nlp = ws.t[:n]
            if eps:
                np.clip(p_block, eps, 1.0 - eps, out=nlp)
                np.log(nlp, out=nlp)
            else:
                np.log(p_block, out=nlp)
            np.negative(nlp, out=nlp)
            _cap_infinities(nlp, cap)
        if kind == "ones":
            # -log p >= 0 for p <= 1; probabilities above 1 make the row mixed-sign
            _put(pieces.main[i], rows, acc.row_sums(nlp, ws.scratch[:n], same_sign=False))
            continue
        v = term[1]
        z = ws.z[:n]
        np.multiply(nlp, v, out=z)
        bad = np.isnan(z.sum(axis=1))
        for j in np.flatnonzero(bad):  # 0 * log(0): a zero coefficient adds 0
            vj = v if v.ndim == 1 else v[j]
            z[j] = np.where(vj == 0.0, 0.0, z[j])
        _put(pieces.main[i], rows, acc.row_sums(z, ws.scratch[:n], same_sign=False))
        if v.ndim == 2:
            nonneg = bool(np.all(v >= 0))
            _put(pieces.vsum[i], rows, acc.row_sums(v, ws.scratch[:n], same_sign=nonneg))


def _renormalised_neg_log(p_block, p: _Problem, ws, nlp, pieces: _Pieces, rows: slice) -> None:
    """The clip rules: `nlp = -log` of the clipped (after-clip) or renormalised-then-clipped
    (before-clip) probabilities; after-clip also stores `sum_c cp_c - 1` in `pieces.tail`."""
    n = p_block.shape[0]
    eps = p.rules.clip_eps
    scratch = ws.scratch[:n]
    if p.rules.renormalise == "after-clip":
        np.clip(p_block, eps, 1.0 - eps, out=nlp)
        sh, sl = acc.row_sums(nlp, scratch)
        _put(pieces.tail, rows, acc.dd_add(sh, sl, -1.0, 0.0))
        np.log(nlp, out=nlp)
        np.negative(nlp, out=nlp)
        return
    # before-clip: u = p / S as u_hi + u_lo, S the row sum as a double-double
    sh, sl = acc.row_sums(p_block, scratch, same_sign=False)
    sh, sl = sh[:, None], sl[:, None]
    u_lo = ws.z[:n]
    np.divide(p_block, sh, out=nlp)
    ph, pl = acc.two_prod(nlp, sh)
    np.copyto(u_lo, ((p_block - ph) - pl - nlp * sl) / sh)
    clipped = (nlp < eps) | (nlp > 1.0 - eps)
    np.clip(nlp, eps, 1.0 - eps, out=nlp)
    u_lo[clipped] = 0.0
    near_one = nlp > 0.5  # log1p of (u - 1), exact by Sterbenz, keeps log(u) accurate near 1
    nlp[...] = np.where(near_one, -np.log1p((nlp - 1.0) + u_lo), -(np.log(nlp) + u_lo / nlp))


def _log_prob_grad_block(p_block, terms, coefs, p: _Problem, ws, out) -> None:
    """`out = -r / p` (0 where r == 0, and where the clip is active); the
    renormalising rules and the literal `-q / p` (log-zero-1e20) as the conventions say."""
    n, C = p_block.shape
    eps = p.rules.clip_eps
    r = out if p.rules.renormalise == "none" else np.empty((n, C))
    r.fill(0.0)
    for term, c in zip(terms, coefs):
        if term[0] == "index":
            r[np.arange(n), term[1]] += c
        elif term[0] == "ones":
            r += c[:, None]
        else:
            r += c[:, None] * term[1]
    pv = ws.t[:n]
    np.copyto(pv, p_block)
    if p.rules.renormalise == "after-clip":
        # l = -sum_c r_c (log cp_c - log sum_k cp_k): dl/dp_c = [inside] (R / sum cp - r_c / p_c)
        inside = (pv >= eps) & (pv <= 1.0 - eps)
        cp_sum = np.clip(pv, eps, 1.0 - eps).sum(axis=1, keepdims=True)
        g = r.sum(axis=1, keepdims=True) / cp_sum - r / pv
        np.copyto(out, np.where(inside, g, 0.0))
        return
    if p.rules.renormalise == "before-clip":
        # l = -sum_c r_c log clip(p_c / S): dl/dp_c = -[inside_c] r_c / p_c + sum_inside r / S
        s = pv.sum(axis=1, keepdims=True)
        inside = ((pv / s) >= eps) & ((pv / s) <= 1.0 - eps)
        r_in = np.where(inside, r, 0.0)
        np.copyto(out, np.where(inside, -r / pv, 0.0) + r_in.sum(axis=1, keepdims=True) / s)
        return
    zero = (r == 0.0) if not p.literal_probs_grad else np.zeros((n, C), dtype=bool)
    if eps:
        zero |= (pv < eps) | (pv > 1.0 - eps)
    np.divide(r, pv, out=out)
    np.negative(out, out=out)
    out[zero] = 0.0
