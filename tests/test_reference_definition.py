"""reference/definition.py, the readable definition, equals the accurate implementation on random
cases (within float64 rounding: the definition is plain numpy, the implementation accurate to a
few ULPs)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reference
from reference import definition

pytestmark = pytest.mark.fast


@st.composite
def cases(draw):
    rank = draw(st.integers(1, 3))
    shape = [draw(st.integers(1, 5)) for _ in range(rank)]
    axis = draw(st.integers(-rank, rank - 1))
    C = shape[axis]
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    use_softmax = draw(st.booleans())
    soft = draw(st.booleans())
    x = rng.standard_normal(shape) * draw(st.sampled_from([0.5, 3.0]))
    if not use_softmax:
        x = np.moveaxis(rng.dirichlet(np.ones(C), size=tuple(np.delete(shape, axis % rank))),
                        -1, axis)
    pos = tuple(np.delete(shape, axis % rank))
    if soft:
        label = np.moveaxis(rng.dirichlet(np.ones(C), size=pos), -1, axis)
        ignore_index = -100
    else:
        label = rng.integers(0, C, size=pos)
        ignore_index = draw(st.sampled_from([-100, -1, 0]))
        if draw(st.booleans()) and label.size:
            label.reshape(-1)[0] = ignore_index
        if draw(st.booleans()):
            label = np.expand_dims(label, axis)
    weight = rng.uniform(0.5, 2.0, C) if draw(st.booleans()) else None
    kw = dict(ignore_index=ignore_index, reduction=draw(st.sampled_from(["none", "sum", "mean"])),
              soft_label=soft, axis=axis, use_softmax=use_softmax,
              label_smoothing=draw(st.sampled_from([0.0, 0.1])))
    return x, label, weight, kw


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(cases())
def test_the_definition_equals_the_implementation(case):
    x, label, weight, kw = case
    np.testing.assert_allclose(definition.cross_entropy(x, label, weight, **kw),
                               reference.cross_entropy(x, label, weight, **kw),
                               rtol=1e-12, atol=1e-14, equal_nan=True)
    np.testing.assert_allclose(definition.cross_entropy_grad(x, label, weight, **kw),
                               reference.cross_entropy_grad(x, label, weight, **kw),
                               rtol=1e-11, atol=1e-14, equal_nan=True)


def test_the_definition_is_short_and_plain():
    import inspect

    src = inspect.getsource(definition)
    assert len(src.splitlines()) <= 120
    assert "import harness" not in src and "conventions" not in src.split('"""', 2)[2]
