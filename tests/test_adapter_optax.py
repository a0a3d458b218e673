"""The optax adapters (`optax`, `optax.safe`) end to end: real workers, a small grid, verdicts.

jax and optax are imported only in the worker subprocesses, never here.
"""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import reference
from harness.adapters.optax_adapter import OptaxAdapter, OptaxSafeAdapter
from harness.cases import load_case_file
from harness.inputs import generate_inputs
from harness.pool import Worker, WorkItem
from harness.reproducer import reproducer
from harness.runner import AdapterSpec, Engine

_why = OptaxAdapter.installed()
pytestmark = pytest.mark.skipif(_why is not None, reason=_why or "")

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent
REF = "harness.adapters.optax_adapter:OptaxAdapter"
SAFE_REF = "harness.adapters.optax_adapter:OptaxSafeAdapter"

GRID = """
description: optax adapter tests
defaults: {shape: [6, 5], dtype: float64}
blocks:
  - name: plain
    grid:
      label: [hard, soft]
      weight: [none, random]
      reduction: [none, sum, mean]
  - name: more plain
    cases:
      - {label: hard-keepdim, shape: [3, 5, 4], axis: 1, weight: random, ignore_frac: 0.25,
         reduction: mean}
      - {label: soft, shape: [3, 5, 4], axis: 1, weight: random, reduction: none}
      - {label: hard, shape: [7], axis: 0, reduction: none}
      - {ignore_frac: 0.5, ignore_index: 2, weight: random, reduction: mean}
      - {ignore_frac: 0.25, smoothing: 0.1, weight: random, reduction: mean}
      - {label: soft, smoothing: 0.2, weight: random, reduction: sum}
      - {smoothing: 0.1, shape: [3, 5, 4], axis: 1, reduction: none}
      - {dtype: float32, reduction: mean}
      - {dtype: float16, label: soft, reduction: mean}
      - {dtype: bfloat16, weight: random, reduction: sum}
  - name: nothing left for the mean (canonical NaN, not paddle's 0)
    cases:
      - {ignore_frac: 1.0, reduction: mean}
      - {weight: zeros, shape: [3, 4], reduction: mean}
      - {shape: [0, 5], label: soft, reduction: mean}
  - name: unsupported
    cases:
      - {input: probs, reduction: mean}
  - name: invalid
    grid:
      label: [hard]
      invalid: [label-out-of-range, label-negative, bad-reduction, weight-shape, label-rank,
                float-labels]
      checks: [[forward]]
  - name: invalid soft
    cases:
      - {label: soft, invalid: soft-ignore-positive, checks: [forward]}
"""

# A case built to show each convention the adapters declare. zero-q-neg-inf-nan needs a target
# q_c = 0 exactly where the logit is -inf: Dirichlet soft labels underflow to 0 only in float16
# and only with many classes (C = 32000 gives about 70 zeros, 20 of them at a -inf logit).
CONVENTION_CASES = {
    "zero-q-neg-inf-nan": "{label: soft, dist: neginf, shape: [2, 32000], dtype: float16, "
                          "reduction: none, checks: [forward]}",
}


def _grid_text():
    extra = "\n".join(f"      - {c}" for c in CONVENTION_CASES.values())
    return GRID + "  - name: conventions\n    cases:\n" + extra + "\n"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    path = tmp_path_factory.mktemp("optax") / "grid.yaml"
    path.write_text(_grid_text())
    cases = load_case_file(path)
    with Engine([AdapterSpec("optax", REF), AdapterSpec("optax.safe", SAFE_REF)]) as eng:
        eng.start()
        for st in eng.adapters:
            assert st.unavailable is None, st.unavailable
        verdicts = eng.run(cases)
        info = {st.spec.name: st.info for st in eng.adapters}
    by = {(v.framework, v.case_id, v.check): v for v in verdicts}
    return cases, by, info


def _case(cases, **match):
    found = [c for c in cases if all(c.params[k] == v for k, v in match.items())]
    assert found, match
    return found


def test_setup_flags_and_capabilities(run):
    _, _, info = run
    flags = info["optax"]["flags"]
    assert flags["jax_enable_x64"] is True and flags["jax_default_matmul_precision"] == "highest"
    assert flags["jax"] and flags["optax"] == info["optax"]["version"]
    assert info["optax"]["capabilities"]["gradient"] is True
    feats = info["optax"]["capabilities"]["features"]
    assert feats["use_softmax"].startswith("unsupported: ")
    assert feats["weight"] == feats["ignore_index"] == feats["label_smoothing"] == "composed"


def test_plain_cases_pass_forward_and_grad(run):
    cases, by, _ = run
    valid = [c for c in cases if not c.invalid and c.params["input"] == "logits"
             and c.params["dist"] == "normal"]
    assert len(valid) > 20
    for c in valid:
        for check in c.checks:
            v = by[("optax", c.id, check)]
            assert v.verdict == "pass", v.explain()
            s = by[("optax.safe", c.id, check)]
            dense = c.params["label"] == "soft" or c.params["smoothing"] > 0
            if dense:
                assert s.verdict == "pass", s.explain()
            else:
                assert s.verdict == "unsupported" and "integer_labels" in s.detail, s.explain()


def test_empty_mean_is_nan_not_zero(run):
    cases, by, _ = run
    nothing_left = _case(cases, ignore_frac=1.0) + _case(cases, shape=[0, 5])
    for c in nothing_left + _case(cases, weight="zeros"):
        for check in c.checks:
            v = by[("optax", c.id, check)]
            assert v.verdict == "pass" and v.convention is None, v.explain()
    for c in nothing_left:
        d = generate_inputs(c.params, c.id)
        assert np.isnan(reference.cross_entropy(d.x, d.label, d.weight, **d.ref_kwargs))


def test_probability_input_is_unsupported(run):
    cases, by, _ = run
    (c,) = _case(cases, input="probs")
    for check in c.checks:
        v = by[("optax", c.id, check)]
        assert v.verdict == "unsupported" and "logits only" in v.detail


@pytest.mark.parametrize("name", [c.name for c in OptaxAdapter.conventions])
def test_declared_convention_is_seen(run, name):
    assert name in CONVENTION_CASES, f"no case built to show {name}"
    cases, by, _ = run
    cid = [c.id for c in cases if "2x32000" in c.id][0]
    v = by[("optax", cid, "forward")]
    s = by[("optax.safe", cid, "forward")]
    assert s.verdict == "pass", s.explain()  # safe_softmax_cross_entropy: 0 * log 0 = 0
    if name in reference.CONVENTIONS:
        kind = next(c.kind for c in OptaxAdapter.conventions if c.name == name)
        want = "known-defect" if kind == "defect" else "divergent"
        assert v.verdict == want and v.convention == name and v.kind == kind, v.explain()
    else:  # the harness skips unknown names: the behaviour shows as a plain mismatch for now
        assert v.verdict == "mismatch" and "got nan, expected inf" in v.detail, v.explain()


def test_convention_links():
    for cls in (OptaxAdapter, OptaxSafeAdapter):
        for c in cls.conventions:
            assert c.link.startswith("https://optax.readthedocs.io/"), c
            assert c.upstream.startswith("https://github.com/google-deepmind/optax/")


@pytest.mark.parametrize("invalid, verdict, needle", [
    ("label-out-of-range", "bad-input-accepted", "nan"),  # silent NaN (optax#1185)
    ("label-negative", "bad-input-accepted", "returned"),  # -1 wraps to class C-1
    ("float-labels", "pass", "TypeError"),
    ("label-rank", "pass", "raised"),
    ("bad-reduction", "unsupported", "no reduction argument"),
    ("weight-shape", "unsupported", "no class weights"),
    ("soft-ignore-positive", "unsupported", "no ignore_index"),
])
def test_invalid_input(run, invalid, verdict, needle):
    cases, by, _ = run
    (c,) = _case(cases, invalid=invalid)
    v = by[("optax", c.id, "forward")]
    assert v.verdict == verdict and needle in v.detail, v.explain()


def _worker_output(ref, case, check):
    data = generate_inputs(case.params, case.id)
    w = Worker("optax", ref, timeout=60.0)
    w.start()
    try:
        (res,) = w.run([WorkItem({**data.worker_params, "case_id": case.id}, data.arrays(),
                                 [check])])
    finally:
        w.close()
    assert res.checks[check]["status"] == "ok", res.checks
    return data, res.arrays[check]


@pytest.mark.parametrize("ref, spec, check", [
    (REF, "{label: hard-keepdim, shape: [3, 5, 4], axis: 1, weight: random, ignore_frac: 0.25, "
          "smoothing: 0.1, reduction: none, dtype: bfloat16}", "grad"),
    (SAFE_REF, "{label: soft, shape: [4, 6], weight: random, reduction: mean, dtype: float32}",
     "forward"),
])
def test_snippet_reproduces_the_worker(tmp_path, ref, spec, check):
    path = tmp_path / "one.yaml"
    path.write_text(f"blocks:\n  - cases:\n      - {spec}\n")
    (case,) = load_case_file(path)
    data, got = _worker_output(ref, case, check)
    script = reproducer(case.id, data, ref, check)
    out = tmp_path / "out.npy"
    script += textwrap.dedent(f"""
        np.save({str(out)!r}, {'grad' if check == 'grad' else 'loss'})
    """)
    (tmp_path / "repro.py").write_text(script)
    r = subprocess.run([sys.executable, str(tmp_path / "repro.py")], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    np.testing.assert_array_equal(np.load(out), got)


BUCKET_SCRIPT = """
import sys
import numpy as np
from harness.adapters.base import Inputs, Unsupported
from harness.adapters.optax_adapter import OptaxAdapter, OptaxSafeAdapter
from harness.cases import load_cases
from harness.inputs import generate_inputs

cases = [c for c in load_cases(["cases/default.yaml"])
         if c.params["reduction"] == "none" and not c.invalid]
compared = bucketed = 0
for cls in (OptaxAdapter, OptaxSafeAdapter):
    on, off = cls(), cls()
    off.bucketing = False
    on.setup(); off.setup()
    for c in cases:
        d = generate_inputs(c.params, c.id)
        p = {**d.worker_params, "case_id": c.id}
        if on.unsupported_reason(p):
            continue
        if on._bucket(p) is None:
            continue  # not padded: the same call either way
        inp = Inputs(d.x, d.label, d.weight, d.grad_output)
        bucketed += 1
        for check in c.checks:
            fn = "forward" if check == "forward" else "gradient"
            try:
                a = getattr(on, fn)(inp, p)
            except Unsupported:
                continue
            b = getattr(off, fn)(inp, p)
            assert a.dtype == b.dtype and a.values.shape == b.values.shape, (c.id, check)
            assert np.array_equal(a.values, b.values, equal_nan=True), (cls.name, c.id, check)
            compared += 1
print("compared", compared, "bucketed", bucketed)
"""


def test_shape_buckets_leave_every_value_unchanged():
    """reduction "none" calls are padded to a power-of-two number of positions (fewer jit
    compilations); on every such case of the default grid, both adapters give the same bits as
    without padding, forward and gradient."""
    import os

    from harness.pool import THREAD_ENV

    out = subprocess.run([sys.executable, "-c", BUCKET_SCRIPT], capture_output=True, text=True,
                         timeout=900, cwd=str(ROOT), env={**os.environ, **THREAD_ENV,
                                                          "XENT_PARITY_JAX_CACHE": "0"})
    assert out.returncode == 0, out.stderr[-3000:]
    compared, bucketed = (int(w) for w in out.stdout.split()[1::2])
    assert compared > 60 and bucketed > 30, out.stdout
