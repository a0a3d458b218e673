"""The float64 reference against hand-computed values: every clause of docs/semantics.md.

Most cases use the logits `log([1, 2, 3])`, whose softmax is `[1/6, 2/6, 3/6]`, so every loss
is a sum of logarithms of small integers. Gradients are checked against central differences.
numpy only (plus pytest); the arbitrary-precision checks live in test_reference_accuracy.py.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import tracemalloc
import warnings

import numpy as np
import pytest

from reference import (
    CANONICAL,
    CONVENTIONS,
    Conventions,
    cross_entropy,
    cross_entropy_grad,
    resolve_conventions,
)

pytestmark = pytest.mark.fast

LOG = math.log
X3 = np.log([1.0, 2.0, 3.0])  # softmax = [1/6, 1/3, 1/2]
NLL3 = [LOG(6.0), LOG(3.0), LOG(2.0)]  # -log softmax(X3)
SUM_NLL3 = LOG(36.0)  # sum over the classes of -log softmax(X3)


def close(got, want, rtol=1e-14):
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64), want, rtol=rtol, atol=0.0)


@pytest.fixture(autouse=True)
def no_warnings():
    # The reference never prints numpy warnings, not even for 0/0 or log(0).
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# --------------------------------------------------------------------------- hard labels


def test_hard_labels_none_sum_mean():
    x = np.stack([X3, X3 + 5.0, np.zeros(3)])  # the softmax ignores a shift
    y = np.array([0, 1, 2])
    want = [LOG(6.0), LOG(3.0), LOG(3.0)]
    none = cross_entropy(x, y, reduction="none")
    assert none.dtype == np.float64 and none.shape == (3,)
    close(none, want)
    close(cross_entropy(x, y, reduction="sum"), sum(want))
    mean = cross_entropy(x, y)  # "mean" is the default
    assert mean.shape == () and mean.dtype == np.float64
    close(mean, sum(want) / 3)


def test_label_with_size_one_class_axis():
    x = np.stack([X3, X3[::-1]])
    y = np.array([2, 2])
    close(cross_entropy(x, y[:, None], reduction="none"), [LOG(2.0), LOG(6.0)])
    x3 = np.moveaxis(np.stack([x, x[::-1]]), -1, 1)  # (2, C=3, 2), class axis 1
    y3 = np.array([[[2, 0]], [[0, 1]]])  # (2, 1, 2)
    got = cross_entropy(x3, y3, axis=1, reduction="none")
    assert got.shape == (2, 2)
    close(got, [[LOG(2.0), LOG(2.0)], [LOG(2.0), LOG(3.0)]])


@pytest.mark.parametrize("rank", [1, 2, 3, 4])
def test_any_rank_and_class_axis(rank):
    rng = np.random.default_rng(rank)
    outer = (2, 3, 2)[: rank - 1]
    n = int(np.prod(outer, dtype=int))
    order = np.array([rng.permutation(3) for _ in range(n)])  # each row a permutation of X3
    rows = X3[order]
    y = rng.integers(0, 3, n)
    want = np.log(6.0 / (order[np.arange(n), y] + 1.0)).reshape(outer)
    for axis in sorted({0, rank // 2, rank - 1, -1}):
        x = np.moveaxis(rows.reshape(outer + (3,)), -1, axis)
        got = cross_entropy(x, y.reshape(outer), axis=axis, reduction="none")
        assert got.shape == outer
        close(got, want)
        close(cross_entropy(x, y.reshape(outer), axis=axis, reduction="sum"), want.sum())


def test_rank_one_input_gives_0d_none_output():
    got = cross_entropy(X3, np.array(1), reduction="none")
    assert got.shape == ()
    close(got, LOG(3.0))
    close(cross_entropy(X3, np.array([1]), reduction="none"), LOG(3.0))


def test_class_weights():
    x = np.stack([X3, X3, X3])
    y = np.array([0, 2, 1])
    w = np.array([2.0, 0.5, 3.0])
    want = [2.0 * LOG(6.0), 3.0 * LOG(2.0), 0.5 * LOG(3.0)]
    close(cross_entropy(x, y, w, reduction="none"), want)
    close(cross_entropy(x, y, w, reduction="sum"), sum(want))
    close(cross_entropy(x, y, w), sum(want) / 5.5)


@pytest.mark.parametrize("ignore_index", [-100, -1, 0, 1, 7])
def test_ignore_index(ignore_index):
    x = np.stack([X3] * 4)
    y = np.array([0, 1, 2, ignore_index])
    want = np.array([NLL3[c] if c != ignore_index else 0.0 for c in y])
    close(cross_entropy(x, y, ignore_index=ignore_index, reduction="none"), want)
    kept = int(np.sum(y != ignore_index))
    close(cross_entropy(x, y, ignore_index=ignore_index), want.sum() / kept)
    w = np.array([1.0, 2.0, 4.0])
    ww = np.array([w[c] if c != ignore_index else 0.0 for c in y])
    close(cross_entropy(x, y, w, ignore_index), np.sum(ww * want) / ww.sum())


def test_ignored_position_is_zero_even_with_nonfinite_logits():
    x = np.array([X3, [np.nan, np.inf, 0.0]])
    y = np.array([0, -100])
    close(cross_entropy(x, y, reduction="none"), [LOG(6.0), 0.0])
    g = cross_entropy_grad(x, y, reduction="sum")
    assert np.all(g[1] == 0.0)


def test_all_ignored_mean_is_nan_sum_is_zero():
    x = np.stack([X3, X3])
    y = np.array([-100, -100])
    assert np.isnan(cross_entropy(x, y))
    assert cross_entropy(x, y, reduction="sum") == 0.0
    assert np.all(cross_entropy(x, y, reduction="none") == 0.0)
    assert np.isnan(cross_entropy(x, np.array([0, 0]), weight=np.array([0.0, 1.0, 1.0])))


def test_label_smoothing_hard():
    e = 0.3
    x = np.stack([X3, X3])
    y = np.array([0, 2])
    want = [(1 - e) * NLL3[c] + e / 3 * SUM_NLL3 for c in y]
    close(cross_entropy(x, y, label_smoothing=e, reduction="none"), want)
    close(cross_entropy(x, y, label_smoothing=1.0, reduction="none"), [SUM_NLL3 / 3] * 2)


def test_label_smoothing_with_weights_is_soft_weighting():
    e, w = 0.3, np.array([2.0, 0.5, 3.0])
    x, y = X3[None, :], np.array([1])
    q = (1 - e) * np.eye(3)[1] + e / 3
    sw = float(w @ q)
    want = sw * float(q @ NLL3)
    close(cross_entropy(x, y, w, label_smoothing=e, reduction="none"), [want])
    close(cross_entropy(x, y, w, label_smoothing=e), want / sw)


# --------------------------------------------------------------------------- soft labels


def test_soft_labels():
    q = np.array([[0.5, 0.25, 0.25], [0.0, 0.0, 1.0]])
    x = np.stack([X3, X3])
    want = [0.5 * NLL3[0] + 0.25 * NLL3[1] + 0.25 * NLL3[2], LOG(2.0)]
    close(cross_entropy(x, q, soft_label=True, reduction="none"), want)
    close(cross_entropy(x, q, soft_label=True), sum(want) / 2)
    e = 0.2
    qs = (1 - e) * q + e / 3
    close(cross_entropy(x, q, soft_label=True, label_smoothing=e, reduction="none"), qs @ NLL3)


def test_soft_labels_with_weights_use_sample_weights():
    q = np.array([[0.5, 0.25, 0.25], [0.0, 0.0, 1.0]])
    w = np.array([2.0, 0.5, 3.0])
    x = np.stack([X3, X3])
    sw = q @ w  # [1.875, 3.0]
    l = sw * (q @ NLL3)
    close(cross_entropy(x, q, w, soft_label=True, reduction="none"), l)
    close(cross_entropy(x, q, w, soft_label=True), l.sum() / sw.sum())


def test_soft_labels_never_ignore():
    q = np.array([[1.0, 0.0, 0.0]])
    got = cross_entropy(X3[None], q, soft_label=True, ignore_index=0, reduction="none")
    close(got, [LOG(6.0)])


def test_soft_labels_accept_float32():
    q = np.array([[0.5, 0.25, 0.25]], dtype=np.float32)
    got = cross_entropy(X3[None], q, soft_label=True, reduction="none")
    close(got, [0.5 * NLL3[0] + 0.25 * NLL3[1] + 0.25 * NLL3[2]])


# --------------------------------------------------------------------------- -inf, 0, probabilities


def test_zero_coefficient_never_makes_nan():
    x = np.array([[0.0, -np.inf, LOG(3.0)]])  # softmax [1/4, 0, 3/4]
    close(cross_entropy(x, np.array([2]), reduction="none"), [LOG(4.0 / 3.0)])
    q = np.array([[0.5, 0.0, 0.5]])
    want = 0.5 * LOG(4.0) + 0.5 * LOG(4 / 3)
    close(cross_entropy(x, q, soft_label=True, reduction="none"), [want])
    assert cross_entropy(x, np.array([1]), reduction="none")[0] == np.inf
    assert cross_entropy(x, np.array([0]), label_smoothing=0.1, reduction="none")[0] == np.inf
    w = np.array([1.0, 0.0, 1.0])  # weight 0 on the -inf class: its term is 0, not 0 * inf
    assert cross_entropy(x, np.array([1]), w, reduction="none")[0] == 0.0


def test_neg_inf_logits_gradient():
    x = np.array([[0.0, -np.inf, LOG(3.0)], [1.0, 2.0, 3.0]])
    g = cross_entropy_grad(x, np.array([2, 0]), reduction="sum")
    close(g[0], [0.25, 0.0, -0.25])
    assert np.all(np.isfinite(g))


def test_nonfinite_logits_propagate_nan():
    x = np.array([[0.0, np.nan, 1.0], [np.inf, 0.0, 1.0]])
    got = cross_entropy(x, np.array([0, 1]), reduction="none")
    assert np.all(np.isnan(got))
    assert np.isnan(cross_entropy(np.full((1, 3), -np.inf), np.array([0]), reduction="none")[0])


def test_probability_input():
    p = np.array([[0.2, 0.3, 0.5], [0.0, 0.5, 0.5]])
    y = np.array([2, 0])
    got = cross_entropy(p, y, use_softmax=False, reduction="none")
    close(got[:1], [LOG(2.0)])
    assert got[1] == np.inf
    q = np.array([[0.0, 0.5, 0.5], [0.0, 0.5, 0.5]])
    close(cross_entropy(p, q, soft_label=True, use_softmax=False, reduction="none"),
          [-0.5 * LOG(0.3) - 0.5 * LOG(0.5), LOG(2.0)])
    e = 0.3
    want = (1 - e) * -LOG(0.5) + e / 3 * -(LOG(0.2) + LOG(0.3) + LOG(0.5))
    close(cross_entropy(p[:1], y[:1], use_softmax=False, label_smoothing=e), want)


def test_empty_input():
    empty = [
        (np.zeros((0, 3)), np.zeros(0, dtype=int)),
        (np.zeros((2, 0, 3)), np.zeros((2, 0), dtype=int)),
    ]
    for x, y in empty:
        none = cross_entropy(x, y, reduction="none")
        assert none.shape == x.shape[:-1]
        assert cross_entropy(x, y, reduction="sum") == 0.0
        assert np.isnan(cross_entropy(x, y))
        assert cross_entropy_grad(x, y).shape == x.shape
    q = np.zeros((0, 3))
    assert np.isnan(cross_entropy(q, q, soft_label=True))


def test_input_dtypes_are_widened_exactly():
    rng = np.random.default_rng(0)
    x64 = rng.standard_normal((5, 7)) * 4
    y = rng.integers(0, 7, 5)
    for dtype in (np.float16, np.float32):
        xd = x64.astype(dtype)
        got = cross_entropy(xd, y, reduction="none")
        assert got.dtype == np.float64
        assert np.array_equal(got, cross_entropy(xd.astype(np.float64), y, reduction="none"))
        g = cross_entropy_grad(xd, y)
        assert g.dtype == np.float64
        assert np.array_equal(g, cross_entropy_grad(xd.astype(np.float64), y))
    assert np.array_equal(cross_entropy(x64.tolist(), y.tolist(), reduction="none"),
                          cross_entropy(x64, y, reduction="none"))


def test_layout_and_blocking_do_not_change_bits(monkeypatch):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 9, 6)) * 30  # class axis 1, strided
    y = rng.integers(0, 9, (4, 6))
    q = rng.dirichlet(np.ones(9), (4, 6)).transpose(0, 2, 1)
    w = rng.uniform(0.5, 2.0, 9)
    kw = dict(axis=1, reduction="none", label_smoothing=0.1)
    base = cross_entropy(x, y, w, **kw), cross_entropy(x, q, w, soft_label=True, **kw)
    gbase = cross_entropy_grad(x, q, w, soft_label=True, axis=1)
    xc = np.ascontiguousarray(x)
    module = sys.modules["reference.cross_entropy"]
    monkeypatch.setattr(module, "_BLOCK_BYTES", 8 * 9 * 5)  # 5 positions per block
    monkeypatch.setattr(module, "_GROUP_ROWS", 7)
    assert np.array_equal(cross_entropy(xc, y, w, **kw), base[0])
    qc = np.ascontiguousarray(q)
    assert np.array_equal(cross_entropy(xc, qc, w, soft_label=True, **kw), base[1])
    assert np.array_equal(cross_entropy_grad(x, q, w, soft_label=True, axis=1), gbase)
    xt = np.moveaxis(np.moveaxis(x, 1, -1).copy(), -1, 1)  # same values, class axis contiguous
    assert np.array_equal(cross_entropy(xt, y, w, **kw), base[0])


# --------------------------------------------------------------------------- conventions


def test_registry_is_complete_and_documented():
    assert set(CONVENTIONS) >= {
        "soft-weight-per-class", "mean-counts-ignored", "empty-mean-zero",
        "smoothing-weighted-torch", "probs-clipped", "probs-clipped-renormalised",
        "probs-renormalised-clipped", "zero-q-neg-inf-nan", "softmax-shift-clipped-64",
        "log-zero-1e20", "mean-counts-label-elements", "smoothing-skips-ignore",
        "smoothing-coefficients-float32", "smoothing-classes-from-last-axis",
        "none-keeps-class-axis", "weighted-mean-by-count", "empty-unreduced",
        "grad-assumes-normalised-labels",
    }
    fields = {f.name for f in dataclasses.fields(Conventions)}
    for name, c in CONVENTIONS.items():
        assert c.name == name and c.field in fields
        assert getattr(CANONICAL, c.field) != c.value
        assert c.summary and "\n" not in c.summary
        assert not hasattr(c, "framework")  # who follows it is the adapters' to declare
        assert c.formula and c.canonical_formula
        assert resolve_conventions([name]).names() == (name,)


def test_resolve_conventions():
    assert resolve_conventions(()) == CANONICAL
    assert resolve_conventions(None) == CANONICAL
    conv = Conventions(empty_mean="zero")
    assert resolve_conventions(conv) is conv
    assert resolve_conventions("empty-mean-zero") == conv
    both = resolve_conventions(["empty-mean-zero", "mean-counts-ignored"])
    assert both.names() == ("empty-mean-zero", "mean-counts-ignored")
    assert resolve_conventions(["probs-clipped", "probs-clipped"]).probs_clip_eps == 1e-7
    with pytest.raises(ValueError, match=r"unknown convention 'nope'; known: .*probs-clipped"):
        resolve_conventions(["nope"])
    with pytest.raises(ValueError, match="Conventions.soft_weight"):
        Conventions(soft_weight="bogus")


def test_resolve_conventions_refuses_two_names_for_one_field():
    extra = dataclasses.replace(CONVENTIONS["probs-clipped"], name="probs-clipped-1e-3", value=1e-3)
    CONVENTIONS[extra.name] = extra
    try:
        with pytest.raises(ValueError, match="both set Conventions.probs_clip_eps"):
            resolve_conventions(["probs-clipped", "probs-clipped-1e-3"])
    finally:
        del CONVENTIONS[extra.name]


def test_soft_weight_per_class():
    q = np.array([[0.5, 0.25, 0.25], [0.0, 0.0, 1.0]])
    w = np.array([2.0, 0.5, 3.0])
    x = np.stack([X3, X3])
    conv = ["soft-weight-per-class"]
    per_class = (q * w) @ NLL3
    close(cross_entropy(x, q, w, soft_label=True, reduction="none", conventions=conv), per_class)
    close(cross_entropy(x, q, w, soft_label=True, conventions=conv), per_class.sum() / 2)
    assert not np.allclose(cross_entropy(x, q, w, soft_label=True, conventions=conv),
                           cross_entropy(x, q, w, soft_label=True))
    e = 0.2  # smoothing: l = -sum_c w_c q~_c lp_c
    qs = (1 - e) * q + e / 3
    got = cross_entropy(x, q, w, soft_label=True, label_smoothing=e, reduction="none", conventions=conv)
    close(got, (qs * w) @ NLL3)
    # not applicable: no weights, or hard labels
    for kwargs in [dict(label=q, soft_label=True), dict(label=np.array([0, 2]), weight=w)]:
        base = cross_entropy(x, reduction="none", **kwargs)
        assert np.array_equal(cross_entropy(x, reduction="none", conventions=conv, **kwargs), base)


def test_mean_counts_ignored():
    x = np.stack([X3] * 4)
    y = np.array([0, -100, 2, -100])
    conv = ["mean-counts-ignored"]
    close(cross_entropy(x, y, conventions=conv), (LOG(6.0) + LOG(2.0)) / 4)
    close(cross_entropy(x, y), (LOG(6.0) + LOG(2.0)) / 2)
    w = np.array([1.0, 2.0, 3.0])
    for kwargs in [dict(weight=w), dict(ignore_index=2, label=np.array([0, 1, 2, 2]))]:
        kw = {"label": y, **kwargs}
        assert cross_entropy(x, conventions=conv, **kw) == cross_entropy(x, **kw)
    for red in ("none", "sum"):
        assert np.array_equal(cross_entropy(x, y, reduction=red, conventions=conv),
                              cross_entropy(x, y, reduction=red))
    g = cross_entropy_grad(x, y, conventions=conv)
    close(g, cross_entropy_grad(x, y) * 2 / 4)


def test_empty_mean_zero():
    x = np.stack([X3, X3])
    conv = ["empty-mean-zero"]
    assert cross_entropy(x, np.array([-100, -100]), conventions=conv) == 0.0
    assert cross_entropy(np.zeros((0, 3)), np.zeros(0, dtype=int), conventions=conv) == 0.0
    zero_w = np.array([0.0, 1.0, 1.0])
    assert cross_entropy(x, np.array([0, 0]), zero_w, conventions=conv) == 0.0
    y = np.array([0, -100])
    assert cross_entropy(x, y, conventions=conv) == cross_entropy(x, y)
    assert np.all(cross_entropy_grad(x, np.array([-100, -100]), conventions=conv) == 0.0)


def test_smoothing_weighted_torch():
    e, w = 0.3, np.array([2.0, 0.5, 3.0])
    x = np.stack([X3, X3, X3])
    y = np.array([1, 2, -100])
    conv = ["smoothing-weighted-torch"]
    want = [(1 - e) * w[c] * NLL3[c] + e / 3 * float(w @ NLL3) for c in y[:2]] + [0.0]
    close(cross_entropy(x, y, w, label_smoothing=e, reduction="none", conventions=conv), want)
    close(cross_entropy(x, y, w, label_smoothing=e, conventions=conv), sum(want) / (w[1] + w[2]))
    assert not np.allclose(cross_entropy(x, y, w, label_smoothing=e, conventions=conv),
                           cross_entropy(x, y, w, label_smoothing=e))
    for kwargs in [dict(label_smoothing=e), dict(weight=w)]:  # no weights, or no smoothing
        assert cross_entropy(x, y, conventions=conv, **kwargs) == cross_entropy(x, y, **kwargs)


def test_probs_clipped():
    p = np.array([[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])
    y = np.array([0, 0])
    conv = ["probs-clipped"]
    got = cross_entropy(p, y, use_softmax=False, reduction="none", conventions=conv)
    close(got, [-LOG(1e-7), -math.log1p(-1e-7)], rtol=1e-9)
    assert cross_entropy(p, y, use_softmax=False, reduction="none")[0] == np.inf
    g = cross_entropy_grad(p, y, use_softmax=False, reduction="sum", conventions=conv)
    assert np.all(g == 0.0)  # the clip is active at every target
    x = np.stack([X3, X3])
    assert cross_entropy(x, y, conventions=conv) == cross_entropy(x, y)  # softmax: not applicable


def test_new_convention_fields_are_validated():
    for kwargs in [dict(probs_renormalise="both"), dict(zero_times_inf="inf"),
                   dict(softmax_shift_floor=64.0), dict(softmax_shift_floor=float("nan")),
                   dict(log_inf_value=-1e20), dict(smoothing_precision="float16"),
                   dict(smoothing_classes="first-axis"), dict(weighted_mean="positions"),
                   dict(none_keeps_class_axis=1), dict(empty_unreduced="yes"),
                   dict(grad_assumes_normalised_labels=None), dict(probs_clip_eps=True)]:
        with pytest.raises(ValueError, match=f"Conventions.{next(iter(kwargs))}"):
            Conventions(**kwargs)
    with pytest.raises(ValueError, match="both set Conventions.probs_renormalise"):
        resolve_conventions(["probs-clipped-renormalised", "probs-renormalised-clipped"])


def lsm(x):
    """Plain log-softmax along the last axis (the cases below are tame)."""
    m = np.max(x, axis=-1, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True))


RNG = np.random.default_rng(20260101)
XR = RNG.standard_normal((5, 4)) * 2
QR = RNG.dirichlet(np.ones(4), 5)
YR = np.array([0, 1, 2, 3, 1])
WR = RNG.uniform(0.5, 1.5, 4)


def same(a, b):
    return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)


def test_softmax_shift_clipped_64():
    conv = ["softmax-shift-clipped-64"]
    x = XR.copy()
    x[0, 0] -= 100.0  # the label's logit 100 below the max: paddle caps the loss near 64
    x[3, 1] = -np.inf  # a -inf logit counts as -64
    s = np.maximum(x - x.max(axis=1, keepdims=True), -64.0)
    lp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
    got = cross_entropy(x, YR, reduction="none", conventions=conv)
    close(got, -lp[np.arange(5), YR])
    assert 64.0 < got[0] < 64.0 + LOG(4.0) and cross_entropy(x, YR, reduction="none")[0] > 90.0
    close(cross_entropy(x, QR, soft_label=True, reduction="none", conventions=conv),
          -(QR * lp).sum(axis=1))
    # the gradient is paddle's kernel: the clipped softmax minus the target
    g = cross_entropy_grad(x, YR, WR, reduction="sum", conventions=conv)
    close(g, WR[YR][:, None] * (np.exp(lp) - np.eye(4)[YR]), rtol=1e-12)
    # not applicable: logits within 64 of the max, probabilities
    for kw in [dict(label=YR), dict(label=QR, soft_label=True)]:
        assert same(cross_entropy(XR, reduction="none", conventions=conv, **kw),
                    cross_entropy(XR, reduction="none", **kw))
        assert same(cross_entropy_grad(XR, reduction="none", conventions=conv, **kw),
                    cross_entropy_grad(XR, reduction="none", **kw))
    p = np.full((2, 3), 1 / 3)
    assert cross_entropy(p, YR[:2], use_softmax=False, conventions=conv) == LOG(3.0)


def test_zero_q_neg_inf_nan():
    conv = ["zero-q-neg-inf-nan"]
    x = XR.copy()
    x[1, 0] = -np.inf
    q = QR.copy()
    q[1] = [0.0, 0.5, 0.5, 0.0]
    got = cross_entropy(x, q, soft_label=True, reduction="none", conventions=conv)
    base = cross_entropy(x, q, soft_label=True, reduction="none")
    assert np.isnan(got[1]) and np.isfinite(base[1])
    assert same(np.delete(got, 1), np.delete(base, 1))
    assert np.isnan(cross_entropy(x, q, soft_label=True, conventions=conv))
    # the gradient stays canonical (autodiff through log_softmax is finite: tf, optax, torch)
    assert same(cross_entropy_grad(x, q, soft_label=True, reduction="sum", conventions=conv),
                cross_entropy_grad(x, q, soft_label=True, reduction="sum"))
    # probabilities: 0 * log 0
    p = np.array([[0.0, 0.5, 0.5]])
    qp = np.array([[0.0, 0.5, 0.5]])
    assert np.isnan(cross_entropy(p, qp, soft_label=True, use_softmax=False, conventions=conv))
    # not applicable: q > 0 where lp = -inf (inf either way), hard labels (gathered), smoothing
    # (q' > 0 everywhere), finite logits
    for kw in [dict(label=QR, soft_label=True), dict(label=YR), dict(label=q, soft_label=True,
               label_smoothing=0.1), dict(label=np.array([1, 1, 2, 3, 1]))]:
        assert same(cross_entropy(x, reduction="none", conventions=conv, **kw),
                    cross_entropy(x, reduction="none", **kw))


def test_log_zero_1e20():
    conv = ["log-zero-1e20"]
    p = RNG.dirichlet(np.ones(4), 5)
    p[0, 0] = 0.0
    p[1] = [0.0, 0.5, 0.5, 0.0]
    q = QR.copy()
    q[1] = [0.0, 0.5, 0.5, 0.0]
    kw = dict(use_softmax=False, reduction="none", conventions=conv)
    got = cross_entropy(p, YR, **kw)
    assert got[0] == 1e20 and cross_entropy(p, YR, use_softmax=False, reduction="none")[0] == np.inf
    assert same(got[1:], cross_entropy(p, YR, use_softmax=False, reduction="none")[1:])
    soft = cross_entropy(p, q, soft_label=True, **kw)
    close(soft[0], q[0, 0] * 1e20 - q[0, 1:] @ np.log(p[0, 1:]))
    close(soft[1], -0.5 * LOG(0.25))  # q = 0 where p = 0: the term is 0 * -1e20 = 0
    # gradient: paddle's kernel, -q/p literally for dense targets (NaN at p = q = 0) ...
    g = cross_entropy_grad(p, q, soft_label=True, use_softmax=False, reduction="sum",
                           conventions=conv)
    assert np.isnan(g[1, 0]) and np.isnan(g[1, 3]) and g[0, 0] == -np.inf
    base = cross_entropy_grad(p, q, soft_label=True, use_softmax=False, reduction="sum")
    assert base[1, 0] == 0.0 and same(np.delete(g, 1, axis=0), np.delete(base, 1, axis=0))
    # ... and canonical for hard labels (paddle's hard-label kernel touches the label only)
    assert same(cross_entropy_grad(p, YR, use_softmax=False, conventions=conv),
                cross_entropy_grad(p, YR, use_softmax=False))
    # with softmax: a -inf logit at the target costs 1e20 (paddle's clip-64 comes first there)
    x = XR.copy()
    x[1, 1] = -np.inf
    assert cross_entropy(x, YR, reduction="none", conventions=conv)[1] == 1e20
    close(cross_entropy(x, YR, label_smoothing=0.1, reduction="none", conventions=conv)[1],
          (0.9 + 0.1 / 4) * 1e20)
    close(cross_entropy(x, np.array([0, 0, 2, 3, 1]), label_smoothing=0.1, reduction="none",
                        conventions=conv)[1], 0.1 / 4 * 1e20, rtol=1e-12)
    # not applicable: no zero probability, finite logits
    assert same(cross_entropy(QR, YR, **kw), cross_entropy(QR, YR, use_softmax=False,
                                                          reduction="none"))
    assert same(cross_entropy(XR, QR, soft_label=True, conventions=conv),
                cross_entropy(XR, QR, soft_label=True))


def test_mean_counts_label_elements():
    conv = ["mean-counts-label-elements"]
    q = QR.copy()
    q[2] = [0.0, 0.5, 0.0, 0.5]  # two elements equal to ignore_index=0 are not counted
    sum_ = cross_entropy(XR, q, soft_label=True, reduction="sum")
    close(cross_entropy(XR, q, soft_label=True, ignore_index=0, conventions=conv), sum_ / 18)
    sw = q @ WR
    wsum = cross_entropy(XR, q, WR, soft_label=True, reduction="sum")
    counts = (q != 0).sum(axis=1)
    close(cross_entropy(XR, q, WR, soft_label=True, ignore_index=0, conventions=conv),
          wsum / (sw @ counts))
    # hard labels with smoothing: C elements per non-ignored position (none equals 2)
    e = 0.1
    close(cross_entropy(XR, YR, ignore_index=2, label_smoothing=e, conventions=conv),
          cross_entropy(XR, YR, ignore_index=2, label_smoothing=e, reduction="sum") / (4 * 4))
    g = cross_entropy_grad(XR, q, soft_label=True, ignore_index=0, conventions=conv)
    close(g, cross_entropy_grad(XR, q, soft_label=True, reduction="sum") / 18)
    # not applicable: ignore_index < 0, hard labels without smoothing, none/sum
    for kw in [dict(label=q, soft_label=True), dict(label=YR, ignore_index=2),
               dict(label=q, soft_label=True, ignore_index=0, reduction="sum"),
               dict(label=YR, label_smoothing=e)]:
        assert same(cross_entropy(XR, conventions=conv, **kw), cross_entropy(XR, **kw))


def test_smoothing_skips_ignore():
    conv = ["smoothing-skips-ignore"]
    y = np.array([0, 2, 2, 3, 1])
    e = 0.1
    got = cross_entropy(XR, y, ignore_index=2, label_smoothing=e, reduction="none",
                        conventions=conv)
    qs = (1 - e) * np.eye(4)[y] + e / 4
    close(got, -(qs * lsm(XR)).sum(axis=1), rtol=1e-13)
    base = cross_entropy(XR, y, ignore_index=2, label_smoothing=e, reduction="none")
    assert base[1] == base[2] == 0.0 and got[1] > 0.0 and got[2] > 0.0
    close(cross_entropy(XR, y, ignore_index=2, label_smoothing=e, conventions=conv),
          got.sum() / 5)
    with pytest.raises(ValueError, match="smoothing-skips-ignore"):
        cross_entropy(XR, np.array([0, -100, 1, 1, 1]), label_smoothing=e, conventions=conv)
    # not applicable: no smoothing, soft labels
    for kw in [dict(label=y, ignore_index=2), dict(label=QR, soft_label=True, label_smoothing=e)]:
        assert same(cross_entropy(XR, reduction="none", conventions=conv, **kw),
                    cross_entropy(XR, reduction="none", **kw))


def test_smoothing_coefficients_float32():
    conv = ["smoothing-coefficients-float32"]
    e = 0.1
    a = np.float32(1.0) - np.float32(e)
    b = np.float32(e) / np.float32(4)
    qs = np.where(np.eye(4)[YR] > 0, np.float64(np.float32(a + b)), np.float64(b))
    assert qs.sum(axis=1)[0] != 1.0  # float32 rounding: the row does not sum to 1
    got = cross_entropy(XR, YR, label_smoothing=e, reduction="none", conventions=conv)
    close(got, -(qs * lsm(XR)).sum(axis=1), rtol=1e-13)
    base = cross_entropy(XR, YR, label_smoothing=e, reduction="none")
    assert not np.allclose(got, base, rtol=1e-10, atol=0) and np.allclose(got, base, rtol=1e-6)
    qsoft = np.float64(a) * QR + np.float64(b)
    close(cross_entropy(XR, QR, soft_label=True, label_smoothing=e, reduction="none",
                        conventions=conv), -(qsoft * lsm(XR)).sum(axis=1), rtol=1e-13)
    # not applicable: no smoothing
    assert same(cross_entropy(XR, YR, conventions=conv), cross_entropy(XR, YR))


def test_smoothing_classes_from_last_axis():
    conv = ["smoothing-classes-from-last-axis"]
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 5, 4))
    q = np.moveaxis(rng.dirichlet(np.ones(5), (3, 4)), -1, 1)
    e = 0.2
    kw = dict(soft_label=True, axis=1, reduction="none")
    got = cross_entropy(x, q, label_smoothing=e, conventions=conv, **kw)
    close(got, cross_entropy(x, (1 - e) * q + e / 4, **kw), rtol=1e-13)  # e / shape[-1]
    assert not np.allclose(got, cross_entropy(x, q, label_smoothing=e, **kw))
    # not applicable: class axis last, no smoothing
    assert same(cross_entropy(XR, QR, soft_label=True, label_smoothing=e, conventions=conv),
                cross_entropy(XR, QR, soft_label=True, label_smoothing=e))
    assert same(cross_entropy(x, q, conventions=conv, **kw), cross_entropy(x, q, **kw))


def test_none_keeps_class_axis():
    conv = ["none-keeps-class-axis"]
    x3 = np.random.default_rng(6).standard_normal((3, 5, 4))
    y3 = np.random.default_rng(7).integers(0, 5, (3, 4))
    for kw, shape in [
        (dict(input=XR, label=QR, soft_label=True), (5, 1)),
        (dict(input=XR, label=YR, label_smoothing=0.1), (5, 1)),
        (dict(input=XR, label=YR[:, None]), (5, 1)),
        (dict(input=x3, label=y3[:, None, :], axis=1), (3, 1, 4)),
        (dict(input=XR, label=YR), (5,)),  # not applicable: hard labels without the axis
        (dict(input=x3, label=y3, axis=1), (3, 4)),
    ]:
        got = cross_entropy(reduction="none", conventions=conv, **kw)
        base = cross_entropy(reduction="none", **kw)
        assert got.shape == shape and same(got.reshape(base.shape), base)
        g = np.arange(base.size, dtype=np.float64).reshape(base.shape)
        want = cross_entropy_grad(reduction="none", grad_output=g, **kw)
        for g_out in (g, g.reshape(shape)):  # either shape of the cotangent
            assert same(cross_entropy_grad(reduction="none", grad_output=g_out, conventions=conv,
                                           **kw), want)
        assert same(cross_entropy(conventions=conv, **kw), cross_entropy(**kw))  # mean: a scalar


def test_weighted_mean_by_count():
    conv = ["weighted-mean-by-count"]
    y = np.array([0, -100, 2, 3, -100])
    close(cross_entropy(XR, y, WR, conventions=conv),
          cross_entropy(XR, y, WR, reduction="sum") / 3)
    assert not np.isclose(cross_entropy(XR, y, WR, conventions=conv), cross_entropy(XR, y, WR))
    close(cross_entropy(XR, QR, WR, soft_label=True, conventions=conv),
          cross_entropy(XR, QR, WR, soft_label=True, reduction="sum") / 5)
    close(cross_entropy_grad(XR, y, WR, conventions=conv),
          cross_entropy_grad(XR, y, WR, reduction="sum") / 3)
    # not applicable: no weights, none/sum
    for kw in [dict(label=y), dict(label=y, weight=WR, reduction="sum")]:
        assert same(cross_entropy(XR, conventions=conv, **kw), cross_entropy(XR, **kw))


def test_empty_unreduced():
    conv = ["empty-unreduced"]
    for red in ("sum", "mean"):
        got = cross_entropy(np.zeros((0, 4)), np.zeros(0, dtype=int), reduction=red,
                            conventions=conv)
        assert got.shape == (0,) and got.dtype == np.float64
        soft = cross_entropy(np.zeros((0, 4)), np.zeros((0, 4)), soft_label=True, reduction=red,
                             conventions=conv)
        assert soft.shape == (0,)
        # not applicable: other empty shapes reduce; non-empty input
        other = cross_entropy(np.zeros((2, 0, 4)), np.zeros((2, 0), dtype=int), reduction=red,
                              conventions=conv)
        assert other.shape == () and same(other, cross_entropy(
            np.zeros((2, 0, 4)), np.zeros((2, 0), dtype=int), reduction=red))
        assert same(cross_entropy(XR, YR, reduction=red, conventions=conv),
                    cross_entropy(XR, YR, reduction=red))
    assert cross_entropy_grad(np.zeros((0, 4)), np.zeros(0, dtype=int),
                              conventions=conv).shape == (0, 4)


def test_grad_assumes_normalised_labels():
    conv = ["grad-assumes-normalised-labels"]
    q2 = 2.0 * QR  # rows summing to 2
    p = np.exp(lsm(XR))
    g = cross_entropy_grad(XR, q2, soft_label=True, reduction="sum", conventions=conv)
    close(g, p - q2, rtol=1e-12)
    close(cross_entropy_grad(XR, q2, soft_label=True, reduction="sum"), 2 * p - q2, rtol=1e-12)
    sw = q2 @ WR
    close(cross_entropy_grad(XR, q2, WR, soft_label=True, reduction="sum", conventions=conv),
          sw[:, None] * (p - q2), rtol=1e-12)
    # the loss is unchanged
    assert same(cross_entropy(XR, q2, soft_label=True, conventions=conv),
                cross_entropy(XR, q2, soft_label=True))
    # not applicable: hard labels, exact smoothing (q' sums to 1), probabilities
    for kw in [dict(label=YR, weight=WR), dict(label=QR, soft_label=True)]:
        np.testing.assert_allclose(cross_entropy_grad(XR, conventions=conv, **kw),
                                   cross_entropy_grad(XR, **kw), rtol=1e-13, atol=1e-16)
    P = QR
    assert same(cross_entropy_grad(P, q2, soft_label=True, use_softmax=False, conventions=conv),
                cross_entropy_grad(P, q2, soft_label=True, use_softmax=False))


def test_probs_clipped_renormalised():
    conv = ["probs-clipped-renormalised"]
    eps = 1e-7
    p = RNG.dirichlet(np.ones(4), 5)
    p[0, 0] = 0.0
    p[1] = [0.0, 1.0, 0.0, 0.0]
    p[2] *= 2.0  # unnormalised
    cp = np.clip(p, eps, 1 - eps)
    lp = np.log(cp) - np.log(cp.sum(axis=1, keepdims=True))
    kw = dict(use_softmax=False, reduction="none")
    got = cross_entropy(p, YR, conventions=conv, **kw)
    close(got, -lp[np.arange(5), YR], rtol=1e-9)
    assert got[0] < 20.0 and cross_entropy(p, YR, **kw)[0] == np.inf
    close(cross_entropy(p, QR, soft_label=True, conventions=conv, **kw), -(QR * lp).sum(axis=1),
          rtol=1e-12)
    g = cross_entropy_grad(p, YR, use_softmax=False, reduction="sum", conventions=conv)
    inside = (p >= eps) & (p <= 1 - eps)
    want = inside * (1 / cp.sum(axis=1, keepdims=True) - np.eye(4)[YR] / cp)
    close(g, want, rtol=1e-12)
    # not applicable: softmax
    assert same(cross_entropy(XR, YR, conventions=conv), cross_entropy(XR, YR))


def test_probs_renormalised_clipped():
    conv = ["probs-renormalised-clipped"]
    eps = 1e-7
    p = RNG.dirichlet(np.ones(4), 5)
    p[0, 0] = 0.0
    p[1] = [0.0, 1.0, 0.0, 0.0]
    p[2] *= 2.0
    u = p / p.sum(axis=1, keepdims=True)
    lp = np.log(np.clip(u, eps, 1 - eps))
    kw = dict(use_softmax=False, soft_label=True, reduction="none")
    close(cross_entropy(p, QR, conventions=conv, **kw), -(QR * lp).sum(axis=1), rtol=1e-12)
    close(cross_entropy(p, YR, use_softmax=False, reduction="none", conventions=conv),
          -lp[np.arange(5), YR], rtol=1e-9)
    g = cross_entropy_grad(p, QR, use_softmax=False, soft_label=True, reduction="sum",
                           conventions=conv)
    inside = (u >= eps) & (u <= 1 - eps)
    s = p.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        want = np.where(inside, -QR / p, 0.0) + (QR * inside).sum(axis=1, keepdims=True) / s
    close(g, want, rtol=1e-12)
    # not applicable: softmax
    assert same(cross_entropy(XR, QR, soft_label=True, conventions=conv),
                cross_entropy(XR, QR, soft_label=True))


def test_conventions_compose_as_frameworks_combine_them():
    # paddle: smoothing with ignore_index >= 0 takes five of its names at once
    paddle = ["smoothing-skips-ignore", "mean-counts-label-elements",
              "smoothing-coefficients-float32", "grad-assumes-normalised-labels",
              "empty-mean-zero", "mean-counts-ignored", "softmax-shift-clipped-64",
              "log-zero-1e20", "none-keeps-class-axis", "smoothing-classes-from-last-axis"]
    y = np.array([0, 2, 2, 3, 1])
    e = 0.1
    a = np.float32(1.0) - np.float32(e)
    b = np.float32(e) / np.float32(4)
    qs = np.where(np.eye(4)[y] > 0, np.float64(np.float32(a + b)), np.float64(b))
    sw = qs @ WR
    losses = sw * -(qs * lsm(XR)).sum(axis=1)
    close(cross_entropy(XR, y, WR, ignore_index=2, label_smoothing=e, conventions=paddle),
          losses.sum() / (4 * sw.sum()), rtol=1e-13)
    g = cross_entropy_grad(XR, y, WR, ignore_index=2, label_smoothing=e, conventions=paddle)
    close(g, sw[:, None] * (np.exp(lsm(XR)) - qs) / (4 * sw.sum()), rtol=1e-12)
    # paddle: all ignored with ignore_index < 0 -> 0 (mean-counts-ignored + empty-mean-zero)
    assert cross_entropy(XR, np.full(5, -100), conventions=paddle) == 0.0
    # keras: class weights as sample_weight + the categorical probability loss
    keras = ["weighted-mean-by-count", "probs-renormalised-clipped", "empty-mean-zero"]
    p = RNG.dirichlet(np.ones(4), 5) * 1.5
    lp = np.log(np.clip(p / p.sum(axis=1, keepdims=True), 1e-7, 1 - 1e-7))
    close(cross_entropy(p, QR, WR, soft_label=True, use_softmax=False, conventions=keras),
          ((QR @ WR) * -(QR * lp).sum(axis=1)).sum() / 5, rtol=1e-12)
    # tf.nn: the dense op's NaN and its fused gradient
    tf = ["zero-q-neg-inf-nan", "grad-assumes-normalised-labels"]
    x = XR.copy()
    x[1, 0] = -np.inf
    q = 2.0 * QR
    q[1] = [0.0, 1.0, 1.0, 0.0]
    assert np.isnan(cross_entropy(x, q, soft_label=True, reduction="none", conventions=tf)[1])
    close(cross_entropy_grad(x, q, soft_label=True, reduction="sum", conventions=tf),
          np.exp(lsm(x)) - q, rtol=1e-12)


# --------------------------------------------------------------------------- invalid input


INVALID = [
    (dict(label=np.array([0, 3])),
     r"label: 1 value\(s\) outside \[0, 3\) and not equal to ignore_index=-100; first: 3"),
    (dict(label=np.array([0, -1])), r"label: .*outside \[0, 3\).*first: -1 at position \(1,\)"),
    (dict(reduction="avg"), r"reduction: expected one of \('none', 'sum', 'mean'\), got 'avg'"),
    (dict(weight=np.ones(4)), r"weight: expected shape \(3,\), one weight per class, got \(4,\)"),
    (dict(weight=np.ones((1, 3))), r"weight: expected shape \(3,\)"),
    (dict(label=np.array([[0, 1]])),
     r"label: shape \(1, 2\) fits neither hard-label rule .* expected \(2,\) .* or \(2, 1\)"),
    (dict(label=np.array([0.0, 1.0])),
     r"label: hard labels \(soft_label=False\) must be integer class indices, got dtype float64"),
    (dict(label=np.full((2, 3), 1 / 3), soft_label=True, ignore_index=1),
     r"ignore_index: must not be > 0 with soft labels"),
    (dict(label_smoothing=1.5), r"label_smoothing: expected a number in \[0, 1\], got 1.5"),
    (dict(label_smoothing=-0.1), r"label_smoothing: expected a number in \[0, 1\]"),
    (dict(label=np.full((2, 4), 0.25), soft_label=True),
     r"label: soft labels must have the input's shape \(2, 3\), got \(2, 4\)"),
    (dict(axis=2), r"axis: expected an axis of the rank-2 input, in \[-2, 2\), got 2"),
    (dict(axis=-3), r"axis: .*got -3"),
    (dict(input=np.zeros((2, 0)), label=np.array([0, 0])), r"input: the class axis 1 has size 0"),
    (dict(input=np.float64(1.0), label=np.array(0)), r"input: expected an array of rank >= 1"),
    (dict(input=np.zeros((2, 3), dtype=complex)),
     r"input: expected a real numeric array, got dtype complex128"),
    (dict(ignore_index=1.5), r"ignore_index: expected an integer, got 1.5"),
    (dict(soft_label="yes"), r"soft_label: expected a bool"),
    (dict(conventions=["soft-weights"]), r"conventions: unknown convention 'soft-weights'"),
]


@pytest.mark.parametrize("kwargs, message", INVALID, ids=[",".join(k) for k, _ in INVALID])
def test_invalid_input_raises_value_error(kwargs, message):
    args = {"input": np.stack([X3, X3]), "label": np.array([0, 1]), **kwargs}
    with pytest.raises(ValueError, match=message):
        cross_entropy(**args)
    with pytest.raises(ValueError, match=message):
        cross_entropy_grad(**args)


def test_invalid_grad_output():
    x, y = np.stack([X3, X3]), np.array([0, 1])
    message = r"grad_output: expected the shape of the 'none' output \(2,\), got \(3,\)"
    with pytest.raises(ValueError, match=message):
        cross_entropy_grad(x, y, reduction="none", grad_output=np.ones(3))
    with pytest.raises(ValueError, match=r"grad_output: expected a scalar for reduction='mean'"):
        cross_entropy_grad(x, y, grad_output=np.ones(2))


# --------------------------------------------------------------------------- gradients


def central_difference(f, x, h):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = h * max(1.0, abs(x[i]))
        xp, xm = x.copy(), x.copy()
        xp[i] += step
        xm[i] -= step
        g[i] = (f(xp) - f(xm)) / (2 * step)
    return g


GRAD_CASES = {
    "hard": dict(),
    "hard-weight-ignore": dict(weight=True, ignore=True),
    "hard-smooth-weight": dict(weight=True, smoothing=0.2),
    "hard-smooth-weight-torch": dict(
        weight=True, smoothing=0.2, conventions=["smoothing-weighted-torch"]
    ),
    "soft": dict(soft=True),
    "soft-weight-smooth": dict(soft=True, weight=True, smoothing=0.1),
    "soft-weight-per-class": dict(soft=True, weight=True, conventions=["soft-weight-per-class"]),
    "mean-counts-ignored": dict(ignore=True, conventions=["mean-counts-ignored"]),
    "probs": dict(probs=True),
    "probs-soft-smooth-weight": dict(probs=True, soft=True, smoothing=0.1, weight=True),
    # conventions whose gradient is the derivative of their loss
    "probs-clipped-renormalised": dict(probs=True, weight=True,
                                       conventions=["probs-clipped-renormalised"]),
    "probs-renormalised-clipped": dict(probs=True, soft=True, smoothing=0.1,
                                       conventions=["probs-renormalised-clipped"]),
    "smoothing-float32-last-axis": dict(
        soft=True, weight=True, smoothing=0.2,
        conventions=["smoothing-coefficients-float32", "smoothing-classes-from-last-axis"]),
    "label-elements-weighted-count": dict(
        soft=True, weight=True, smoothing=0.1, ignore_index=0,
        conventions=["mean-counts-label-elements", "weighted-mean-by-count"]),
}


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("name", list(GRAD_CASES))
def test_gradient_matches_central_differences(name, reduction):
    case = GRAD_CASES[name]
    rng = np.random.default_rng(abs(hash((name, reduction))) % 2**32)
    shape, axis = (3, 4, 2), 1
    C = shape[axis]
    if case.get("probs"):
        x = np.moveaxis(rng.dirichlet(np.ones(C), (3, 2)), -1, axis) * 0.9 + 0.025
    else:
        x = rng.standard_normal(shape) * 2
    if case.get("soft"):
        label = np.moveaxis(rng.dirichlet(np.ones(C), (3, 2)), -1, axis)
    else:
        label = rng.integers(0, C, (3, 2))
        if case.get("ignore"):
            label[0, 1] = -100
    kw = dict(
        weight=rng.uniform(0.5, 2.0, C) if case.get("weight") else None,
        reduction=reduction, soft_label=bool(case.get("soft")), axis=axis,
        use_softmax=not case.get("probs"), label_smoothing=case.get("smoothing", 0.0),
        conventions=case.get("conventions", ()),
    )
    if "ignore_index" in case:
        kw["ignore_index"] = case["ignore_index"]
    g_out = rng.standard_normal((3, 2)) if reduction == "none" else 0.7

    def f(xx):
        loss = cross_entropy(xx, label, **kw)
        return float(np.sum(g_out * loss))

    want = central_difference(f, x, 1e-6)
    got = cross_entropy_grad(x, label, grad_output=g_out, **kw)
    assert got.shape == x.shape and got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def test_gradient_closed_forms():
    x = np.stack([X3, X3])
    y = np.array([2, -100])
    g = cross_entropy_grad(x, y, reduction="none", grad_output=np.array([2.0, 5.0]))
    close(g, [[2 / 6, 4 / 6, -1.0], [0.0, 0.0, 0.0]])
    close(cross_entropy_grad(x, y), [[1 / 6, 2 / 6, -0.5], [0.0, 0.0, 0.0]])  # mean over 1 position
    p = np.array([[0.2, 0.3, 0.5]])
    close(cross_entropy_grad(p, np.array([1]), use_softmax=False), [[0.0, -1 / 0.3, 0.0]])
    p0 = np.array([[0.0, 0.5, 0.5]])
    close(cross_entropy_grad(p0, np.array([1]), use_softmax=False), [[0.0, -2.0, 0.0]])
    assert cross_entropy_grad(p0, np.array([0]), use_softmax=False)[0, 0] == -np.inf


# --------------------------------------------------------------------------- memory


def test_forward_memory_stays_small():
    # 1024 x 32000 float64 (262 MB): the forward allocates block buffers and per-position vectors
    # only, about 3% of the input here (tracemalloc sees numpy's allocations).
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1024, 32000))
    y = rng.integers(0, 32000, 1024)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        cross_entropy(x, y)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert peak < 0.05 * x.nbytes, f"peak extra {peak / x.nbytes:.1%} of the input"
