"""Large cases: arrays that travel as files, logits generated in blocks, block-by-block bounds and
comparisons, and the engine's large-case path. Each streamed piece is checked against the
whole-array computation it replaces, on small inputs with the thresholds lowered."""

from __future__ import annotations

import io
import re
import os

import numpy as np
import pytest

from harness import bounds, inputs, ipc
from harness import spill as spill_dir
from harness.cases import load_cases
from harness.compare import compare, compare_blocks
from harness.runner import AdapterSpec, Engine

NUMPY = "harness.adapters.numpy_adapter:NumpyAdapter"


# -- ipc: arrays as files --------------------------------------------------------------------------
def test_large_array_travels_as_a_file_and_is_mapped(tmp_path, monkeypatch):
    monkeypatch.setattr(ipc, "SPILL_BYTES", 1024)
    big, small = np.arange(4096, dtype=np.float32).reshape(64, 64), np.arange(3)
    buf = io.BytesIO()
    ipc.write_message(buf, {"op": "t"}, {"big": big, "small": small}, spill=str(tmp_path))
    assert len(os.listdir(tmp_path)) == 1
    assert buf.tell() < big.nbytes  # the bytes did not go through the stream
    buf.seek(0)
    header, arrays = ipc.read_message(buf, spill=str(tmp_path))
    assert isinstance(arrays["big"], np.memmap) and np.array_equal(arrays["big"], big)
    assert np.array_equal(arrays["small"], small) and not isinstance(arrays["small"], np.memmap)
    arrays["big"][0, 0] = -1  # copy-on-write: the file (shared with other readers) is unchanged
    assert np.fromfile(os.path.join(tmp_path, os.listdir(tmp_path)[0]), np.float32)[0] == 0
    # an array that already maps a file there is sent by name, not written again
    ipc.write_message(io.BytesIO(), {"op": "t"}, {"big": arrays["big"]}, spill=str(tmp_path))
    assert len(os.listdir(tmp_path)) == 1
    assert ipc.spill_files(arrays, str(tmp_path)) == [os.path.join(tmp_path, os.listdir(tmp_path)[0])]


def test_without_a_spill_directory_large_arrays_go_through_the_pipe(monkeypatch):
    monkeypatch.setattr(ipc, "SPILL_BYTES", 16)
    buf = io.BytesIO()
    ipc.write_message(buf, {"op": "t"}, {"a": np.arange(100.0)})
    buf.seek(0)
    assert np.array_equal(ipc.read_message(buf)[1]["a"], np.arange(100.0))


@pytest.mark.parametrize("name", ["../etc/passwd", "/etc/passwd", "..", "sub/x.bin", ""])
def test_a_file_outside_the_spill_directory_is_refused(tmp_path, name):
    buf = io.BytesIO()
    head = ('{"op": "t", "arrays": [["a", "<f8", [2], %s]]}' % repr(name).replace("'", '"')).encode()
    buf.write(len(head).to_bytes(8, "little") + head)
    buf.seek(0)
    with pytest.raises(ipc.ProtocolError, match="spill directory|cannot map"):
        ipc.read_message(buf, spill=str(tmp_path))


def test_a_file_of_the_wrong_size_is_refused(tmp_path):
    (tmp_path / "a.bin").write_bytes(b"\0" * 12)
    buf = io.BytesIO()
    head = b'{"op": "t", "arrays": [["a", "<f8", [2], "a.bin"]]}'
    buf.write(len(head).to_bytes(8, "little") + head)
    buf.seek(0)
    with pytest.raises(ipc.ProtocolError, match="12 bytes, expected 16"):
        ipc.read_message(buf, spill=str(tmp_path))


# -- inputs in blocks ------------------------------------------------------------------------------
def _streamable_cases():
    return [c for c in load_cases(["cases/default.yaml"]) if inputs.streamable(c.params)]


def test_logits_generated_in_blocks_equal_the_whole_array_path(monkeypatch, tmp_path):
    cases = _streamable_cases()
    assert len(cases) > 50
    whole = {c.id: inputs.generate_inputs(c.params, c.id) for c in cases}
    monkeypatch.setattr(inputs, "STREAM_BYTES", 1)
    for c in cases:
        monkeypatch.setattr(inputs, "_STREAM_ROWS_BYTES", 8 * 3 * c.params["shape"][-1] + 1)
        d = inputs.generate_inputs(c.params, c.id, spill=str(tmp_path))
        assert isinstance(d.x, np.memmap) or d.x.size == 0  # a file in the spill directory
        for k, a in whole[c.id].arrays().items():
            b = d.arrays()[k]
            assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True), (c.id, k)
        assert d.worker_params == whole[c.id].worker_params


# -- bounds and comparisons in blocks --------------------------------------------------------------
def _blocks(a, axis, step):
    rows = np.moveaxis(a, axis, -1).reshape(-1, a.shape[axis])
    return [(s, min(s + step, len(rows)), rows[s:s + step]) for s in range(0, len(rows), step)]


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("kind", ["pass", "values", "nonfinite", "nan-bound"])
def test_compare_blocks_equals_compare(axis, kind):
    rng = np.random.default_rng(7)
    expected = rng.standard_normal((5, 7, 6))
    got = (expected + rng.standard_normal(expected.shape) * 1e-7).astype(np.float32)
    bound = np.full(expected.shape, 1e-6)
    if kind == "values":
        got.reshape(-1)[[17, 140]] += 1.0
    elif kind == "nonfinite":
        got.reshape(-1)[[33, 99]] = np.nan
    elif kind == "nan-bound":
        bound.reshape(-1)[50] = 0.0
        got.reshape(-1)[50] = expected.reshape(-1)[50]
    whole = compare(got, expected, bound, "float32", "float32")
    for step in (1, 4, 100):
        blocks = [(s, e, xe, xb[2]) for (s, e, xe), xb in
                  zip(_blocks(expected, axis, step), _blocks(bound, axis, step))]
        part = compare_blocks(got, iter(blocks), axis, "float32", "float32").to_json()
        want = whole.to_json()
        if kind == "nonfinite" and axis != -1:
            # the first bad element is first in the order of the blocks (class axis last)
            for k in ("worst_index", "worst_got", "worst_expected", "bound", "bound_ulp"):
                part.pop(k), want.pop(k)
        assert part == want, (step, part, want)


def test_grad_bound_blocks_are_the_whole_bound(monkeypatch):
    for c in _streamable_cases()[:40]:
        d = inputs.generate_inputs(c.params, c.id)
        kw, dt = d.ref_kwargs, c.params["dtype"]
        w = None if d.weight is None else d.weight.astype(np.float64)
        g = None if d.grad_output is None else d.grad_output.astype(np.float64)
        whole = np.moveaxis(bounds.grad_bound(d.x, d.label, w, kw, dt, g), kw["axis"], -1)
        rows = whole.reshape(-1, whole.shape[-1])
        monkeypatch.setattr(bounds, "_BLOCK_ELEMENTS", 2 * max(whole.shape[-1], 1))  # 2 rows
        end = 0
        for s, e, b in bounds.grad_bound_blocks(d.x, d.label, w, kw, dt, g):
            assert s == end and np.array_equal(rows[s:e], b), c.id
            end = e
        assert end == len(rows), c.id  # every row, once, in order


# -- the engine's large-case path ------------------------------------------------------------------
def _verdicts(cases, large: bool, monkeypatch):
    if large:  # every case is "large": alone, one worker at a time, arrays as files, streamed
        monkeypatch.setattr(inputs, "STREAM_BYTES", 1)
        monkeypatch.setattr(ipc, "SPILL_BYTES", 1)
    with Engine([AdapterSpec("numpy", NUMPY), AdapterSpec("numpy@2", NUMPY)]) as eng:
        eng.start()
        spill = eng.spill
        out = eng.run(cases)
        left = [f for f in os.listdir(spill) if f != spill_dir._LOCK]
    monkeypatch.undo()
    assert not os.path.exists(spill)  # removed on close
    return out, left


def test_large_path_gives_the_same_verdicts_and_figures(monkeypatch):
    cases = [c for c in load_cases(["cases/smoke.yaml"]) if not c.invalid][:12]
    normal, _ = _verdicts(cases, False, monkeypatch)
    large, left = _verdicts(cases, True, monkeypatch)
    assert left == []  # every input and result file was removed once judged
    assert len(normal) == len(large) == 2 * sum(len(c.checks) for c in cases)
    order = lambda v: (v.case_id, v.framework, v.check)  # noqa: E731
    for a, b in zip(sorted(normal, key=order), sorted(large, key=order)):
        assert (a.case_id, a.framework, a.check, a.verdict, a.convention) == (
            b.case_id, b.framework, b.check, b.verdict, b.convention)
        if a.comparison is not None:
            assert a.comparison.to_json() == b.comparison.to_json(), a.case_id
    assert any(v.check == "grad" and v.comparison is not None for v in large)


# -- reproducers of large cases regenerate their inputs ---------------------------------------------
def test_regenerated_inputs_equal_the_case_inputs(monkeypatch):
    from harness import reproducer

    monkeypatch.setattr(reproducer, "EMBED_LIMIT", 0)  # every streamable case regenerates
    cases = _streamable_cases()
    kinds = {(c.params["dtype"], c.params["dist"], c.params["weight"], c.params["reduction"])
             for c in cases}
    assert {"bfloat16", "float16", "float32", "float64"} <= {k[0] for k in kinds}
    for c in cases:
        assert reproducer.regenerates(c.params)
        want = inputs.generate_inputs(c.params, c.id)
        ns = {"np": np}
        exec(compile(reproducer.regeneration_source(c.params, c.id), c.id, "exec"), ns)  # noqa: S102
        for name, key in (("x", "x"), ("label", "label"), ("weight", "weight"), ("g", "grad_output")):
            a, b = getattr(want, key), ns[name]
            if a is None:
                assert b is None, (c.id, name)
            else:
                assert a.dtype == b.dtype and a.shape == b.shape, (c.id, name)
                assert np.array_equal(a, b, equal_nan=True), (c.id, name)


def test_a_large_case_reproducer_is_small_and_needs_no_harness(monkeypatch):
    from harness import reproducer
    from harness.cases import load_cases

    case = next(c for c in load_cases(["cases/large-vocab.yaml"])
                if c.params["shape"] == [8192, 128000] and c.params["dtype"] == "bfloat16")
    data = inputs.case_params(case.params, case.id)  # draws no logits
    assert data.x.strides == (0, 0)
    script = reproducer.reproducer(case.id, data, NUMPY, "grad", case_params=case.params)
    assert len(script) < 8000 and "harness" not in script.replace("# xent-parity", "")
    assert "rng = np.random.default_rng(" in script and "to_bfloat16" in script


def test_streamed_gradient_spans_many_blocks(monkeypatch):
    """A case wider than one reference block: the reference's blocks and the bound's rows align
    and the streamed comparison equals the whole one."""
    from harness.cases import Case
    from harness.case_reference import CaseReference, StreamedGrad

    params = {"shape": [37, 70000], "axis": -1, "dtype": "float32", "label": "hard",
              "input": "logits", "weight": "random", "ignore_index": -100, "ignore_frac": 0.2,
              "reduction": "mean", "smoothing": 0.1, "dist": "normal",
              "checks": ["forward", "grad"], "invalid": None}
    case = Case("wide", params, "test")
    d = inputs.generate_inputs(params, "wide")
    ref = CaseReference(case, d)
    import reference

    w = d.weight.astype(np.float64)
    full = reference.cross_entropy_grad(d.x, d.label, w, **d.ref_kwargs)
    got = (full * (1 + 1e-7)).astype(np.float32)
    whole = compare(got, full, bounds.grad_bound(d.x, d.label, w, d.ref_kwargs, "float32"),
                    "float32", "float32")
    streamed = StreamedGrad(ref, ()).compare(got, "float32")
    assert streamed.to_json() == whole.to_json()
    assert len(list(reference.cross_entropy_grad_blocks(d.x, d.label, w, **d.ref_kwargs))) > 3


def test_spill_directories_of_dead_runs_are_removed(tmp_path, monkeypatch):
    monkeypatch.setenv("XENT_PARITY_TMPDIR", str(tmp_path))
    live = Engine([AdapterSpec("numpy", NUMPY)])
    live.start()  # holds the lock of its directory
    stale = tmp_path / "xent-parity-123-abc"  # a killed run: its lock file, held by nobody
    unlocked = tmp_path / "xent-parity-124-def"  # no lock file: not known to be stale
    other = tmp_path / "xent-parity-notes"
    for d in (stale, unlocked, other):
        d.mkdir()
        (d / "x.bin").write_bytes(b"0" * 10)
    (stale / spill_dir._LOCK).write_bytes(b"")
    live_dir = live.spill
    try:
        with Engine([AdapterSpec("numpy", NUMPY)]) as eng:
            eng.start()
            assert os.path.dirname(eng.spill) == str(tmp_path)
        assert not stale.exists() and unlocked.exists() and other.exists()
        assert os.path.exists(live_dir)  # alive: kept
    finally:
        live.close()
    assert not os.path.exists(live_dir)  # removed by its own engine


def test_a_call_that_cannot_fit_is_unsupported_with_the_figures():
    from harness.cases import load_cases

    case = next(c for c in load_cases(["cases/smoke.yaml"])
                if c.id == "hard-mean-w=none-ii=-100-ax=-1-f64-6x5")
    specs = [AdapterSpec("large-memoryerror", "tests.fault_adapters:LargeMemoryErrorAdapter"),
             AdapterSpec("huge-need", "tests.fault_adapters:HugeNeedAdapter")]
    with Engine(specs) as eng:
        eng.start()
        out = {(v.framework, v.check): v for v in eng.run([case])}
    v = out[("large-memoryerror", "forward")]
    assert v.verdict == "unsupported" and "needs more memory than this machine has" in v.detail
    v = out[("huge-need", "forward")]
    assert v.verdict == "unsupported" and re.search(r"needs about [\d.]+ GiB for the forward", v.detail)


def test_the_memory_check_leaves_a_missing_gradient_to_the_adapter():
    from harness.adapters.onnxruntime_adapter import OnnxRuntimeAdapter
    from harness.adapters.torch_adapter import TorchAdapter

    params = {"shape": [8192, 128000], "dtype": "float32"}
    assert OnnxRuntimeAdapter().memory_reason(params, "grad", 1 << 30) is None
    assert "needs about" in OnnxRuntimeAdapter().memory_reason(params, "forward", 1 << 30)
    need = TorchAdapter.memory_factors["grad"] * 8192 * 128000 * 4
    assert (f"needs about {need / 2**30:.1f} GiB for the grad"
            in TorchAdapter().memory_reason(params, "grad", 1 << 30))
    assert TorchAdapter().memory_reason({"shape": [64, 1000], "dtype": "float32"}, "grad", 1) is None
