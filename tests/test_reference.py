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
        "smoothing-weighted-torch", "probs-clipped",
    }
    fields = {f.name for f in dataclasses.fields(Conventions)}
    for name, c in CONVENTIONS.items():
        assert c.name == name and c.field in fields
        assert getattr(CANONICAL, c.field) != c.value
        assert c.framework in c.summary and "\n" not in c.summary
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
