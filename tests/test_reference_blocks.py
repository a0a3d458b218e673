"""`reference.cross_entropy_grad_blocks`: the gradient block by block, never whole.

Claims checked:
- the blocks, concatenated, are `cross_entropy_grad` bit for bit (NaNs compared as NaN, the sign
  of zero compared), over hard and soft labels, weights, ignore_index, smoothing, class axis
  0/1/-1 of 3-D inputs, every reduction with and without grad_output, probabilities, named
  conventions, float32 input and a read-only memmap input; the blocks tile the positions in order;
- the generator never allocates the whole gradient (tracemalloc), nor a widened copy of the input;
- invalid input raises ValueError when the generator is created, before any iteration;
- on well-conditioned cases the gradient agrees with a straightforward numpy formula (float64,
  tight tolerance): the accuracy proper is test_reference_accuracy.py's;
- `_accurate.row_dot` gives the same bits as the batched matmul it replaces.
"""

from __future__ import annotations

import itertools
import sys
import tracemalloc
import warnings

import numpy as np
import pytest

from reference import CONVENTIONS, _accurate, cross_entropy_grad, cross_entropy_grad_blocks

pytestmark = pytest.mark.fast

MODULE = sys.modules["reference.cross_entropy"]


@pytest.fixture(autouse=True)
def no_warnings():
    # like the reference itself: no numpy warnings, not even for 0/0 or log(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of a few positions, so every case spans several blocks (and a short last one)."""
    monkeypatch.setattr(MODULE, "_BLOCK_BYTES", 8 * 7 * 3)


def bits(a) -> np.ndarray:
    """The float64 bits of `a`, every NaN made the same NaN (numpy keeps no NaN sign or payload);
    -0.0 and 0.0 stay different."""
    a = np.array(a, dtype=np.float64)
    a[np.isnan(a)] = np.nan
    return a.view(np.uint64)


def assert_same_bits(got, want):
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == want.dtype == np.float64
    diff = bits(got) != bits(want)
    assert not diff.any(), f"{int(diff.sum())} element(s) differ, first at {np.argwhere(diff)[0]}"


def collect(*args, **kwargs):
    """The blocks concatenated (copied: a block is valid until the next iteration), checking
    that they tile the positions in order with the documented shape and dtype."""
    x = np.asarray(args[0])
    axis = kwargs.get("axis", -1)
    C = x.shape[axis]
    outer = np.moveaxis(x, axis, -1).shape[:-1]
    n = int(np.prod(outer, dtype=np.int64))
    parts, expect = [], 0
    for s, e, block in cross_entropy_grad_blocks(*args, **kwargs):
        assert s == expect and e > s, (s, e, expect)
        assert block.shape == (e - s, C) and block.dtype == np.float64
        parts.append(block.copy())
        expect = e
    assert expect == n
    return np.concatenate(parts) if parts else np.zeros((0, C))


def assert_blocks_match(x, label, **kwargs):
    whole = cross_entropy_grad(x, label, **kwargs)
    axis = kwargs.get("axis", -1)
    flat = np.moveaxis(whole, axis, -1).reshape(-1, whole.shape[axis])
    assert_same_bits(collect(x, label, **kwargs), flat)
    return whole


# --------------------------------------------------------------------------- bit for bit

RNG = np.random.default_rng(20240611)
SHAPE = (3, 5, 4)  # axis 0: C = 3, axis 1: C = 5, axis -1: C = 4


def logits(shape, kind):
    x = RNG.standard_normal(shape) * 3
    if kind == "wide":
        x *= 300  # shifts of hundreds: the shift's rounding error matters
    elif kind == "special":
        flat = x.reshape(-1)
        flat[[1, 7]] = -np.inf
        flat[11] = np.inf
        flat[23] = np.nan
    return x


def labels(x, axis, soft):
    C = x.shape[axis]
    outer = np.moveaxis(x, axis, -1).shape[:-1]
    if soft:
        return np.moveaxis(RNG.dirichlet(np.ones(C), outer), -1, axis)
    y = RNG.integers(0, C, outer)
    y.reshape(-1)[::4] = -100  # ignored positions
    return y


GRID = list(itertools.product(
    [0, 1, -1],  # axis
    [False, True],  # soft_label
    [False, True],  # weight
    [0.0, 0.15],  # label_smoothing
    ["none", "sum", "mean"],
    [False, True],  # grad_output given
))


@pytest.mark.parametrize("kind", ["normal", "wide", "special"])
@pytest.mark.parametrize(
    "axis, soft, weighted, smoothing, reduction, with_g", GRID,
    ids=["ax{}-{}-{}-e{}-{}-{}".format(a, "soft" if s else "hard", "w" if w else "nw", e, r,
                                       "g" if g else "nog") for a, s, w, e, r, g in GRID],
)
def test_blocks_equal_the_gradient(small_blocks, kind, axis, soft, weighted, smoothing,
                                   reduction, with_g):
    x = logits(SHAPE, kind)
    C = x.shape[axis]
    label = labels(x, axis, soft)
    outer = np.moveaxis(x, axis, -1).shape[:-1]
    g = None
    if with_g:
        g = RNG.standard_normal(outer) if reduction == "none" else -1.75
    assert_blocks_match(
        x, label, weight=RNG.uniform(0.0, 2.0, C) if weighted else None, axis=axis,
        soft_label=soft, label_smoothing=smoothing, reduction=reduction, grad_output=g)


@pytest.mark.parametrize("name", sorted(CONVENTIONS))
@pytest.mark.parametrize("soft", [False, True])
def test_blocks_equal_the_gradient_under_each_convention(small_blocks, name, soft):
    x = logits((7, 6), "special" if soft else "normal")
    label = labels(x, -1, soft)
    if not soft:
        label[label == -100] = 2
    probs = "probs" in name
    if probs:
        x = RNG.dirichlet(np.ones(6), 7)
        x[0, 1] = 0.0
    for reduction, weighted, smoothing in itertools.product(
            ["none", "sum", "mean"], [False, True], [0.0, 0.1]):
        kw = dict(weight=RNG.uniform(0.5, 2.0, 6) if weighted else None, reduction=reduction,
                  soft_label=soft, label_smoothing=smoothing, use_softmax=not probs,
                  ignore_index=2 if not soft else -100, conventions=[name])
        assert_blocks_match(x, label, **kw)


def test_blocks_equal_the_gradient_for_framework_convention_sets(small_blocks):
    paddle = ["smoothing-skips-ignore", "mean-counts-label-elements",
              "smoothing-coefficients-float32", "grad-assumes-normalised-labels",
              "empty-mean-zero", "mean-counts-ignored", "softmax-shift-clipped-64",
              "log-zero-1e20", "none-keeps-class-axis", "smoothing-classes-from-last-axis"]
    tf = ["zero-q-neg-inf-nan", "grad-assumes-normalised-labels"]
    x = logits((4, 6, 5), "special")
    y = RNG.integers(0, 6, (4, 5))
    q = np.moveaxis(RNG.dirichlet(np.ones(6), (4, 5)), -1, 1) * 1.5
    w = RNG.uniform(0.5, 2.0, 6)
    for conv, reduction in itertools.product([paddle, tf], ["none", "sum", "mean"]):
        assert_blocks_match(x, y, weight=w, ignore_index=1, label_smoothing=0.1, axis=1,
                            reduction=reduction, conventions=conv)
        assert_blocks_match(x, q, weight=w, soft_label=True, axis=1, reduction=reduction,
                            conventions=conv)


@pytest.mark.parametrize("conventions", [(), ("probs-clipped",), ("probs-clipped-renormalised",),
                                         ("probs-renormalised-clipped",), ("log-zero-1e20",)])
@pytest.mark.parametrize("soft", [False, True])
def test_blocks_equal_the_gradient_for_probabilities(small_blocks, conventions, soft):
    p = np.moveaxis(RNG.dirichlet(np.ones(5), (3, 4)), -1, 1)
    p[0, :, 1] = [0.0, 0.2, 0.3, 0.1, 0.4]
    label = labels(p, 1, soft)
    for reduction in ("none", "sum", "mean"):
        assert_blocks_match(p, label, axis=1, use_softmax=False, soft_label=soft,
                            label_smoothing=0.1 if soft else 0.0, reduction=reduction,
                            conventions=conventions)


def test_blocks_of_float32_and_readonly_memmap_input(small_blocks, tmp_path):
    x64 = logits((6, 7, 5), "normal")
    # a bfloat16 value set carried in float32: the low 16 bits cleared
    x = (x64.astype(np.float32).view(np.uint32) & np.uint32(0xFFFF0000)).view(np.float32)
    path = tmp_path / "x.f32"
    x.tofile(path)
    mm = np.memmap(path, dtype=np.float32, mode="r", shape=x.shape)
    assert not mm.flags.writeable
    for axis in (0, 1, -1):
        label = labels(x, axis, False)
        for reduction in ("none", "mean"):
            whole = assert_blocks_match(mm, label, axis=axis, reduction=reduction,
                                        label_smoothing=0.1)
            # the same as the exactly widened input
            assert_same_bits(whole, cross_entropy_grad(x.astype(np.float64), label, axis=axis,
                                                       reduction=reduction, label_smoothing=0.1))
        q = labels(x, axis, True).astype(np.float32)
        assert_blocks_match(mm, q, axis=axis, soft_label=True,
                            weight=np.linspace(0.5, 1.5, x.shape[axis]))
    del mm


def test_default_block_size_and_empty_input():
    x = logits((300, 9000), "normal")  # several default-size blocks (2 MiB: 29 positions)
    y = RNG.integers(0, 9000, 300)
    assert_blocks_match(x, y)
    assert_blocks_match(x, y, reduction="none", grad_output=RNG.standard_normal(300))
    assert list(cross_entropy_grad_blocks(np.zeros((0, 4)), np.zeros(0, dtype=int))) == []


def test_ignored_positions_are_zero_whatever_the_cotangent(small_blocks):
    # 0 * inf would be NaN: ignored (or zero-weight) positions are set to 0 after the scaling
    x = logits((6, 7), "special")
    y = np.array([0, -100, 3, -100, 6, 2])
    g = np.array([1.0, np.inf, 2.0, np.nan, -1.0, 0.5])
    got = assert_blocks_match(x, y, reduction="none", grad_output=g)
    assert_same_bits(got[[1, 3]], np.zeros((2, 7)))
    all_ignored = np.full(6, -100)
    got = assert_blocks_match(x, all_ignored)  # mean over no position: the scale is 1 / 0
    assert_same_bits(got, np.zeros((6, 7)))
    w = np.ones(7)
    w[3] = 0.0
    got = assert_blocks_match(x, y, weight=w, reduction="none", grad_output=np.full(6, np.inf))
    assert_same_bits(got[2], np.zeros(7))


def test_caller_error_state_is_left_alone():
    # the generator sets numpy's error state around each block, never across a yield
    x, y = logits((40, 30), "special"), RNG.integers(0, 30, 40)
    before = np.geterr()
    with np.errstate(divide="raise", invalid="raise", over="raise"):
        inside = np.geterr()
        for _ in cross_entropy_grad_blocks(x, y):
            assert np.geterr() == inside
    assert np.geterr() == before


# --------------------------------------------------------------------------- memory


def peak_bytes(fn) -> int:
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def consume(*args, **kwargs):
    for _, _, block in cross_entropy_grad_blocks(*args, **kwargs):
        block.sum()


def test_blocks_never_allocate_the_whole_gradient(tmp_path):
    # 2048 x 4096 float64 (64 MiB): a few 2 MiB block buffers and per-position vectors only
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2048, 4096))
    y = rng.integers(0, 4096, 2048)
    q = rng.dirichlet(np.ones(4096), 2048)
    for args, kwargs in [((x, y), {}),
                         ((x, y), dict(weight=np.ones(4096), label_smoothing=0.1)),
                         ((x, y), dict(reduction="none", grad_output=np.ones(2048))),
                         ((x, q), dict(soft_label=True, weight=np.ones(4096)))]:
        peak = peak_bytes(lambda: consume(*args, **kwargs))
        assert peak < 0.25 * x.nbytes, f"{kwargs}: peak extra {peak / x.nbytes:.1%} of the input"
    # a read-only float32 memmap is read block by block, never widened (64 MiB) or copied whole
    path = tmp_path / "x.f32"
    x.astype(np.float32).tofile(path)
    mm = np.memmap(path, dtype=np.float32, mode="r", shape=x.shape)
    peak = peak_bytes(lambda: consume(mm, y))
    assert peak < 0.5 * mm.nbytes, f"memmap: peak extra {peak / mm.nbytes:.1%} of the input"
    del mm


# --------------------------------------------------------------------------- validation

INVALID = [
    dict(label=np.array([0, 3])),
    dict(reduction="avg"),
    dict(weight=np.ones(4)),
    dict(label=np.array([0.0, 1.0])),
    dict(label_smoothing=1.5),
    dict(axis=2),
    dict(input=np.zeros((2, 0)), label=np.array([0, 0])),
    dict(soft_label="yes"),
    dict(conventions=["soft-weights"]),
    dict(reduction="none", grad_output=np.ones(3)),
    dict(grad_output=np.ones(2)),
]


@pytest.mark.parametrize("kwargs", INVALID, ids=[",".join(k) for k in INVALID])
def test_invalid_input_raises_before_iteration(kwargs):
    args = {"input": np.zeros((2, 3)), "label": np.array([0, 1]), **kwargs}
    with pytest.raises(ValueError) as at_call:
        cross_entropy_grad_blocks(**args)  # not iterated
    with pytest.raises(ValueError) as whole:
        cross_entropy_grad(**args)
    assert str(at_call.value) == str(whole.value)


# --------------------------------------------------------------------------- against a formula


def straightforward_grad(x, label, weight=None, ignore_index=-100, reduction="mean",
                         soft_label=False, axis=-1, use_softmax=True, label_smoothing=0.0,
                         grad_output=None):
    """The canonical gradient (docs/semantics.md) in plain float64 numpy, whole-array."""
    xm = np.moveaxis(np.asarray(x, dtype=np.float64), axis, -1)
    C = xm.shape[-1]
    X = xm.reshape(-1, C)
    n = X.shape[0]
    if soft_label:
        q = np.moveaxis(np.asarray(label, dtype=np.float64), axis, -1).reshape(n, C)
        ignored = np.zeros(n, dtype=bool)
    else:
        y = np.asarray(label).reshape(-1)
        ignored = y == ignore_index
        q = (np.where(ignored, 0, y)[:, None] == np.arange(C)).astype(np.float64)
    q = (1.0 - label_smoothing) * q + label_smoothing / C
    sw = np.ones(n) if weight is None else q @ weight  # the position's weight
    r = sw[:, None] * q
    r[ignored], sw[ignored] = 0.0, 0.0
    if use_softmax:
        e = np.exp(X - X.max(axis=1, keepdims=True))
        G = e / e.sum(axis=1, keepdims=True) * r.sum(axis=1, keepdims=True) - r
    else:
        G = np.where(r == 0.0, 0.0, -r / X)
    if reduction == "none":
        g = np.ones(n) if grad_output is None else np.asarray(grad_output, np.float64).reshape(n)
    else:
        g = np.full(n, 1.0 if grad_output is None else float(grad_output))
        if reduction == "mean":
            g /= sw.sum()
    G *= g[:, None]
    return np.moveaxis(G.reshape(xm.shape), -1, axis)


FORMULA_CASES = list(itertools.product(
    [-1, 1], [False, True], [False, True], [0.0, 0.2], ["none", "sum", "mean"], [True, False]))


@pytest.mark.parametrize("axis, soft, weighted, smoothing, reduction, softmax", FORMULA_CASES)
def test_gradient_agrees_with_a_straightforward_formula(small_blocks, axis, soft, weighted,
                                                        smoothing, reduction, softmax):
    rng = np.random.default_rng(7)
    shape = (4, 6, 5)
    C = shape[axis]
    outer = np.moveaxis(np.empty(shape), axis, -1).shape[:-1]
    if softmax:
        x = rng.standard_normal(shape) * 2.0
    else:
        x = np.moveaxis(rng.dirichlet(np.ones(C) * 4.0, outer), -1, axis) * 0.9 + 0.1 / C
    label = labels(x, axis, soft)
    kw = dict(weight=rng.uniform(0.5, 2.0, C) if weighted else None, reduction=reduction,
              soft_label=soft, axis=axis, use_softmax=softmax, label_smoothing=smoothing,
              grad_output=rng.uniform(0.5, 2.0, outer) if reduction == "none" else 1.3)
    got = assert_blocks_match(x, label, **kw)
    want = straightforward_grad(x, label, **kw)
    scale = np.max(np.abs(want))
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15 * scale)


# --------------------------------------------------------------------------- row_dot


def test_row_dot_is_the_batched_matmul():
    rng = np.random.default_rng(3)
    for n, C in [(0, 5), (1, 1), (3, 7), (16, 10), (8, 4000), (5, 32000)]:
        a = rng.standard_normal((n, C)) * 100.0
        b = rng.standard_normal((n, C)) * 1e-14
        want = np.matmul(a[:, None, :], b[:, :, None]).reshape(n)
        assert_same_bits(_accurate.row_dot(a, b), want)
        assert_same_bits(_accurate.row_dot(a[::2], b[::2]), want[::2])
