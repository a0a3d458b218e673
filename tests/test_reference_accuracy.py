"""The float64 reference against an arbitrary-precision model (mpmath, 60 digits).

The model below restates docs/semantics.md directly in mpmath, on the very float64 values the
reference receives, without any of the reference's numerics: per position the coefficients
`r_jc` and mean weight `d_j` of the chosen conventions, then `l_j = sum_c r_jc (lse_j - x_jc)`
(with `lse - x = (m - x) + log1p(T)`, so tiny losses keep their digits) or `-sum_c r_jc log p_jc`.

Claims checked, on hypothesis-drawn cases and on explicit extreme examples:
- every per-position loss is within 4 ULPs of the model (the ULP of the exact value);
- `sum` and `mean` are within 4 ULPs, apart from the underflow of per-position losses below
  2**-1074 (at most one subnormal spacing per position, divided by the total weight for `mean`);
- every gradient element is within 8 ULPs of the model, or within 8 ULPs of the largest gradient
  element of its position, or within 8 ULPs of the larger of its two terms `p_c R` and `r_c`
  (where a prediction matches its soft target the difference cancels, and float64 `exp` is only
  correct to ~0.7 ULP, so no float64 evaluation can be relatively accurate there).
"""

from __future__ import annotations

import dataclasses

import mpmath as mp
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from reference import Conventions, cross_entropy, cross_entropy_grad

mp.mp.dps = 60
LOSS_ULPS = 4.0
GRAD_ULPS = 8.0

# --------------------------------------------------------------------------- the model


def _mpf(v) -> mp.mpf:
    return mp.mpf(float(v))


def model_coefficients(target, w, hard, ignored, y, e, C, ignore_index, conv: Conventions):
    """(r, d) of one position: loss coefficients per class and the position's mean weight."""
    if ignored:
        counts = conv.mean_counts_ignored and w is None and ignore_index < 0
        return [mp.mpf(0)] * C, mp.mpf(1 if counts else 0)
    e = _mpf(e)
    q = [(1 - e) * t + e / C for t in target]
    if w is None:
        return q, mp.mpf(1)
    if hard and e > 0 and conv.smoothing_weight == "separate-terms":
        r = [e / C * wc for wc in w]
        r[y] += (1 - e) * w[y]
        return r, w[y]
    if not hard and conv.soft_weight == "per-class":
        return [wc * qc for wc, qc in zip(w, q)], mp.mpf(1)
    sw = mp.fsum(wc * qc for wc, qc in zip(w, q))
    return [sw * qc for qc in q], sw


def model_row(x_row, r, use_softmax: bool, eps: float):
    """(loss, gradient) of one position with coefficients r."""
    xs = [_mpf(v) for v in x_row]
    if all(rc == 0 for rc in r):
        return mp.mpf(0), [mp.mpf(0)] * len(xs), [mp.mpf(0)] * len(xs)
    if use_softmax:
        k = int(np.argmax(x_row))
        m = xs[k]
        T = mp.fsum(mp.exp(v - m) for i, v in enumerate(xs) if i != k)
        lse_minus = [(m - v) + mp.log1p(T) for v in xs]  # lse - x_c, exact in structure
        loss = mp.fsum(rc * d for rc, d in zip(r, lse_minus) if rc != 0)
        # p_k R - r_k cancels down to about T: carry enough digits to resolve it
        digits = mp.mp.dps + (int(-mp.log10(T)) if 0 < T < 1 else 0) + 10
        with mp.workdps(digits):
            R = mp.fsum(r)
            grad = [+(mp.exp(v - m) / (1 + T) * R - rc) for v, rc in zip(xs, r)]
            # the two terms of p_c R - r_c: the float64 error is relative to the larger one
            scale = [max(abs(mp.exp(v - m) / (1 + T) * R), abs(rc)) for v, rc in zip(xs, r)]
        return loss, grad, scale
    lo, hi = _mpf(eps), _mpf(1.0 - eps)  # the clip bounds are float64 values
    terms, grad = [], []
    for rc, v in zip(r, xs):
        clipped = eps > 0 and (v < lo or v > hi)
        p = min(max(v, lo), hi) if eps > 0 else v
        if rc == 0:
            grad.append(mp.mpf(0))
            continue
        terms.append(-rc * mp.log(p) if p > 0 else mp.inf * mp.sign(rc))
        grad.append(mp.mpf(0) if clipped else (-rc / p if p != 0 else -mp.inf * mp.sign(rc)))
    return mp.fsum(terms), grad, [abs(v) if mp.isfinite(v) else mp.mpf(0) for v in grad]


@dataclasses.dataclass
class Case:
    x: np.ndarray
    label: np.ndarray
    weight: np.ndarray | None = None
    ignore_index: int = -100
    soft_label: bool = False
    axis: int = -1
    use_softmax: bool = True
    label_smoothing: float = 0.0
    conventions: Conventions = Conventions()

    def kwargs(self, **extra):
        return dict(
            weight=self.weight, ignore_index=self.ignore_index, soft_label=self.soft_label,
            axis=self.axis, use_softmax=self.use_softmax, label_smoothing=self.label_smoothing,
            conventions=self.conventions, **extra,
        )

    def model(self):
        """Per position: loss, mean weight, gradient and the gradient's term scale.

        Class axis last, positions flat in C order (the order of the `none` output).
        """
        x = np.asarray(self.x, dtype=np.float64)
        axis = self.axis % x.ndim
        C = x.shape[axis]
        rows = np.moveaxis(x, axis, -1).reshape(-1, C)
        w = None if self.weight is None else [_mpf(v) for v in self.weight]
        if self.soft_label:
            targets = np.moveaxis(np.asarray(self.label, dtype=np.float64), axis, -1).reshape(-1, C)
        else:
            ys = np.asarray(self.label).reshape(-1)
        out = []
        for j, x_row in enumerate(rows):
            if self.soft_label:
                y, ignored, target = None, False, [_mpf(v) for v in targets[j]]
            else:
                y = int(ys[j])
                ignored = y == self.ignore_index
                target = [mp.mpf(int(c == y)) for c in range(C)]
            r, d = model_coefficients(
                target, w, not self.soft_label, ignored, y, self.label_smoothing, C,
                self.ignore_index, self.conventions,
            )
            loss, grad, scale = model_row(x_row, r, self.use_softmax, self.conventions.probs_clip_eps)
            out.append((loss, d, grad, scale))
        return out


TINIEST = 2.0**-1074  # the spacing of float64 at 0 (subnormal)


def ulp_error(got: float, exact: mp.mpf, underflow: float = 0.0) -> float:
    """|got - exact| in ULPs of the exact value (float64 spacing at float(exact)).

    `underflow` is an absolute error excused first: a sum of per-position losses that underflowed
    (each rounds to a multiple of 2**-1074) cannot be more accurate than that, and `mean` divides
    it by the total weight.
    """
    got = float(got)
    if mp.isnan(exact) or mp.isinf(exact) or np.isnan(got) or np.isinf(got):
        same = (np.isnan(got) and mp.isnan(exact)) or got == float(exact)
        return 0.0 if same else np.inf
    err = max(abs(mp.mpf(got) - exact) - mp.mpf(underflow), 0)
    return float(err / np.spacing(abs(float(exact))))


# --------------------------------------------------------------------------- strategies


@st.composite
def cases(draw) -> Case:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    C = draw(st.integers(1, 40))
    N = draw(st.integers(1, 3))
    soft = draw(st.booleans())
    use_softmax = draw(st.integers(0, 3)) > 0
    if use_softmax:
        scale = draw(st.sampled_from([1e-3, 0.3, 1.0, 5.0, 40.0, 1e3, 1e4]))
        x = rng.standard_normal((N, C)) * scale + draw(st.sampled_from([0.0, -1.0, 1.0])) * scale
        margin = draw(st.sampled_from([0.0, 0.0, 5.0, 30.0, 200.0, 700.0]))
        x[np.arange(N), rng.integers(0, C, N)] += margin  # confident predictions
        if draw(st.integers(0, 9)) == 0:
            x.flat[rng.integers(0, x.size)] = -np.inf  # a class of probability exactly 0
        if draw(st.booleans()):
            x = x.astype(np.float32).astype(np.float64)  # like a float32 case, widened
    else:
        x = rng.dirichlet(np.full(C, draw(st.sampled_from([0.05, 1.0, 10.0]))), N)
        if draw(st.integers(0, 3)) == 0:
            x[0, rng.integers(0, C)] = 0.0
    if soft:
        label = rng.dirichlet(np.full(C, draw(st.sampled_from([0.1, 1.0]))), N)
        if draw(st.booleans()):
            label[:, rng.integers(0, C)] = 0.0
        ignore_index = -100
    else:
        label = rng.integers(0, C, N)
        ignore_index = draw(st.sampled_from([-100, 0, C + 2]))
        if draw(st.booleans()):
            label[rng.integers(0, N)] = ignore_index
    weight = rng.uniform(0.05, 4.0, C) if draw(st.booleans()) else None
    smoothing = draw(st.sampled_from([0.0, 0.0, 0.1, 0.5, 1.0]))
    conv = Conventions(
        soft_weight=draw(st.sampled_from(["sample", "per-class"])),
        mean_counts_ignored=draw(st.booleans()),
        empty_mean=draw(st.sampled_from(["nan", "zero"])),
        smoothing_weight=draw(st.sampled_from(["soft", "separate-terms"])),
        probs_clip_eps=draw(st.sampled_from([0.0, 1e-7])),
    )
    axis = -1
    if N > 1 and draw(st.booleans()):  # class axis first: a strided layout
        x, label, axis = x.T, (label.T if soft else label), 0
    return Case(x, label, weight, ignore_index, soft, axis, use_softmax, smoothing, conv)


def _rows(*rows):
    return np.array(rows, dtype=np.float64)


# Losses as small as 1e-300: exp(-690.7755) ~ 1e-300; the shift x - m is inexact in some rows.
TINY = Case(
    _rows(
        [0.0, -690.7755278982137, -800.0],
        [0.1, -700.3, -690.2],
        [20.0, -25.3, -30.1],
        [5.3, 5.3 - 691.4, -691.1],
    ),
    np.array([0, 0, 0, 0]),
)
TINY_SOFT = Case(TINY.x[:3, :2], np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]]), soft_label=True)
SCALED = Case(
    np.random.default_rng(11).standard_normal((3, 12)) * 1e4, np.array([3, 7, 0]),
    weight=np.random.default_rng(12).uniform(0.1, 3.0, 12), label_smoothing=0.1,
)
SCALED_NEGATIVE = Case(
    np.random.default_rng(13).standard_normal((3, 12)) * 1e4 - 5e4, np.array([3, 7, 0])
)
WIDE = Case(  # one row of C = 32000
    np.random.default_rng(14).standard_normal((1, 32000)) * 3.0, np.array([12345]),
    weight=np.random.default_rng(15).uniform(0.1, 3.0, 32000), label_smoothing=0.1,
)
WIDE_CONFIDENT = Case(
    np.concatenate([[[40.0]], np.random.default_rng(16).standard_normal((1, 31999))], axis=1),
    np.array([0]),
)
PROBS = Case(_rows([1.0 - 2.0**-52, 2.0**-52, 0.0], [1e-300, 0.5, 0.5 - 1e-300]),
             np.array([[1.0, 0.0, 0.0], [0.3, 0.3, 0.4]]), soft_label=True, use_softmax=False)
SOFT_SPREAD = Case(
    np.random.default_rng(17).standard_normal((2, 30)) * 7.0,
    np.random.default_rng(18).dirichlet(np.ones(30), 2), soft_label=True,
    weight=np.random.default_rng(19).uniform(0.1, 3.0, 30), label_smoothing=0.3,
)
EXAMPLES = [TINY, TINY_SOFT, SCALED, SCALED_NEGATIVE, WIDE, WIDE_CONFIDENT, PROBS, SOFT_SPREAD]


def with_examples(test):
    for case in EXAMPLES:
        test = example(case=case)(test)
    return test


SETTINGS = dict(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

# --------------------------------------------------------------------------- properties


@settings(max_examples=150, **SETTINGS)
@with_examples
@given(case=cases())
def test_loss_per_position_within_4_ulps(case: Case):
    got = cross_entropy(case.x, case.label, reduction="none", **case.kwargs()).reshape(-1, order="C")
    model = case.model()
    # the model's positions follow the input with its class axis moved last, as does `none`
    for j, (loss, *_) in enumerate(model):
        err = ulp_error(got[j], loss)
        message = f"position {j}: got {got[j]!r}, exact {mp.nstr(loss, 20)}, {err:.2f} ULPs"
        assert err <= LOSS_ULPS, message


@settings(max_examples=80, **SETTINGS)
@with_examples
@given(case=cases())
def test_sum_and_mean_within_4_ulps(case: Case):
    model = case.model()
    total = mp.fsum(m[0] for m in model)
    den = mp.fsum(m[1] for m in model)
    if den == 0:
        mean = total if case.conventions.empty_mean == "zero" else mp.nan
    else:
        mean = total / den
    floor = len(model) * TINIEST
    for reduction, exact, underflow in (("sum", total, floor), ("mean", mean, floor / abs(den or 1))):
        got = cross_entropy(case.x, case.label, reduction=reduction, **case.kwargs())
        err = ulp_error(got, exact, float(underflow))
        message = f"{reduction}: got {float(got)!r}, exact {mp.nstr(exact, 20)}, {err:.2f} ULPs"
        assert err <= LOSS_ULPS, message


@settings(max_examples=80, **SETTINGS)
@with_examples
@given(case=cases())
def test_gradient_within_8_ulps(case: Case):
    model = case.model()
    outer = np.moveaxis(np.asarray(case.x), case.axis, -1).shape[:-1]
    g_out = np.random.default_rng(len(model)).uniform(0.5, 2.0, outer)
    got = cross_entropy_grad(case.x, case.label, reduction="none", grad_output=g_out, **case.kwargs())
    got = np.moveaxis(got, case.axis, -1).reshape(len(model), -1)
    for j, (_, _, grad, scale) in enumerate(model):
        g = _mpf(g_out.reshape(-1)[j])
        exact = [g * v for v in grad]
        finite = [abs(v) for v in exact if mp.isfinite(v)]
        largest = float(max(finite)) if finite else 0.0
        for c, want in enumerate(exact):
            if not mp.isfinite(want):
                same = got[j, c] == float(want) or (np.isnan(got[j, c]) and mp.isnan(want))
                assert same, f"position {j} class {c}: {got[j, c]!r} vs {want}"
                continue
            err = abs(mp.mpf(float(got[j, c])) - want)
            term = float(abs(g) * scale[c])
            bound = GRAD_ULPS * max(np.spacing(abs(float(want))), np.spacing(largest), np.spacing(term))
            assert err <= bound, (
                f"position {j} class {c}: got {got[j, c]!r}, exact {mp.nstr(want, 20)}, "
                f"{float(err / np.spacing(max(largest, term) or 1.0)):.1f} ULPs of the bound's scale"
            )


@pytest.mark.parametrize("case", EXAMPLES[:2], ids=["tiny-hard", "tiny-soft"])
def test_tiny_losses_are_not_flushed(case: Case):
    got = cross_entropy(case.x, case.label, reduction="none", **case.kwargs()).reshape(-1)
    assert np.all(got > 0) and np.all(got < 1e-8)
    assert got.min() < 1e-290
