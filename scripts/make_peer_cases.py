#!/usr/bin/env python
"""Convert two peer test suites into literal case files for the harness.

  * torch's OpInfo samples of nn.functional.cross_entropy and ModuleInfo samples of
    torch.nn.CrossEntropyLoss (float32 and float64)  -> cases/peers/torch_opinfo.yaml (+ .npz)
  * onnx's backend node test cases of SoftmaxCrossEntropyLoss -> cases/peers/onnx_backend.yaml (+ .npz)

Run from the repository root:  .venv/bin/python scripts/make_peer_cases.py

Deterministic and idempotent: the RNGs are seeded before each block of samples, the output
directories' .npz files are rewritten (stale ones removed), and each .npz is written with
np.savez and then re-packed with fixed zip timestamps, so a rerun gives byte-identical files.
Samples the literal-case format cannot express are left out and listed, with the reason, at
the top of the YAML and in the printed summary. The script ends by re-reading what it wrote
and checking it (shapes, dtypes, allowed arrays).
"""
from __future__ import annotations

import io
import random
import sys
import types
import unittest
import warnings
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "cases" / "peers"
ID_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.=+-")
ALLOWED_ARRAYS = {"logits", "label", "weight"}
FLOAT_DTYPES = {"float32", "float64"}
REDUCTIONS = ("none", "sum", "mean")
CHECKS = "[forward, grad]"


# --------------------------------------------------------------------------- helpers

def seed_all(seed: int = 0) -> None:
    import torch
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """np.savez, then re-pack with a fixed timestamp so reruns are byte-identical."""
    for name, a in arrays.items():
        assert name in ALLOWED_ARRAYS and isinstance(a, np.ndarray) and a.dtype != object, name
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    buf.seek(0)
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for info in sorted(src.infolist(), key=lambda i: i.filename):
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_STORED
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, src.read(info.filename))
    path.write_bytes(out.getvalue())


def clean_dir(d: Path) -> None:
    d.mkdir(parents=True, exist_ok=True)
    for p in d.glob("*.npz"):
        p.unlink()


def dtype_tag(dtype: str) -> str:
    return {"float32": "f32", "float64": "f64"}[dtype]


def convert(logits, label, *, weight=None, reduction="mean", ignore_index=None,
            label_smoothing=0.0, extra=None):
    """Check one sample against what the format can express.

    logits, label, weight: numpy arrays (or None for weight). extra: names of arguments other
    than weight/ignore_index/reduction/label_smoothing. Returns (fields, arrays, notes) or a
    string: the reason it is left out.
    """
    if extra:
        return f"unsupported argument(s): {', '.join(sorted(extra))}"
    if not isinstance(logits, np.ndarray) or str(logits.dtype) not in FLOAT_DTYPES:
        return f"logits dtype {getattr(logits, 'dtype', type(logits).__name__)} is not float32/float64"
    if logits.ndim < 1:
        return "0-d logits"
    if reduction not in REDUCTIONS:
        return f"reduction={reduction!r}"
    axis = 1 if logits.ndim >= 2 else 0
    C = logits.shape[axis]
    class_free = logits.shape[:axis] + logits.shape[axis + 1:]
    if not isinstance(label, np.ndarray):
        return f"target of type {type(label).__name__}"
    if np.issubdtype(label.dtype, np.integer):
        kind = "hard"
        if label.shape != class_free:
            return f"hard target shape {list(label.shape)} for logits {list(logits.shape)}"
        label = label.astype(np.int64, copy=False)
    elif np.issubdtype(label.dtype, np.floating):
        kind = "soft"
        if label.shape != logits.shape:
            return f"soft target shape {list(label.shape)} for logits {list(logits.shape)}"
        if label.dtype != logits.dtype:
            return f"soft target dtype {label.dtype} differs from logits {logits.dtype}"
    else:
        return f"target dtype {label.dtype}"
    if weight is not None:
        if weight.dtype != logits.dtype:
            return f"weight dtype {weight.dtype} differs from logits {logits.dtype}"
        if weight.shape != (C,):
            return f"weight shape {list(weight.shape)} for C={C}"
    if ignore_index is not None and not isinstance(ignore_index, (int, np.integer)):
        return f"ignore_index={ignore_index!r} is not an integer"
    if not isinstance(label_smoothing, (int, float)) or not 0.0 <= label_smoothing <= 1.0:
        return f"label_smoothing={label_smoothing!r}"

    fields = {"axis": axis, "dtype": str(logits.dtype), "label": kind, "reduction": reduction}
    if ignore_index is not None:
        fields["ignore_index"] = int(ignore_index)
    if label_smoothing > 0:
        fields["smoothing"] = float(label_smoothing)
    arrays = {"logits": np.array(logits, order="C"), "label": np.array(label, order="C")}
    if weight is not None:
        arrays["weight"] = np.array(weight, order="C")

    # things worth knowing, not reasons to leave a case out
    notes = []
    if kind == "hard":
        ii = -100 if ignore_index is None else int(ignore_index)
        bad = (label != ii) & ((label < 0) | (label >= C))
        if bad.any():
            notes.append(f"{int(bad.sum())} label(s) out of [0, {C}) and not ignore_index: "
                         f"{sorted(set(label[bad].tolist()))}")
        if (label == ii).any():
            kept = label[label != ii]
            if kept.size == 0:
                notes.append("every label equals ignore_index")
            elif (reduction == "mean" and weight is not None and not bad.any()
                  and float(weight[kept].sum()) == 0.0):
                notes.append("weights of the kept labels sum to 0")
    else:
        sums = label.sum(axis=axis)
        if not np.allclose(sums, 1.0, atol=1e-5):
            notes.append(f"soft targets do not sum to 1 over the class axis "
                         f"(sums in [{sums.min():.3g}, {sums.max():.3g}])")
        if (label < 0).any():
            notes.append("negative soft targets")
    if weight is not None and (weight < 0).any():
        notes.append(f"{int((weight < 0).sum())} negative class weight(s)")
    if (weight is not None and reduction == "mean" and kind == "hard" and ignore_index is None
            and not bad.any()):
        if float(weight[label.reshape(-1)].sum()) == 0.0:
            notes.append("weights of the labels sum to 0")
    return fields, arrays, notes


def to_np(t):
    import torch
    if isinstance(t, torch.Tensor):
        return t.detach().cpu().numpy()
    return t


# --------------------------------------------------------------------------- torch

def import_torch_testing():
    # torch.testing._internal.common_utils imports `expecttest` only to subclass its TestCase
    # (for test-file "accept" output). Sample generation does not use it; when the package is
    # absent, a stand-in with unittest.TestCase lets the module import.
    try:
        import expecttest  # noqa: F401
    except ImportError:
        stub = types.ModuleType("expecttest")
        stub.TestCase = unittest.TestCase
        stub.ACCEPT = False
        sys.modules["expecttest"] = stub
    import torch
    from torch.testing._internal.common_methods_invocations import op_db
    from torch.testing._internal.common_modules import module_db
    return torch, op_db, module_db


def torch_blocks():
    torch, op_db, module_db = import_torch_testing()
    ops = [o for o in op_db if o.name == "nn.functional.cross_entropy" and o.variant_test_name == ""]
    mods = [m for m in module_db if m.module_cls is torch.nn.CrossEntropyLoss]
    assert len(ops) == 1 and len(mods) == 1, (ops, mods)
    op, mod = ops[0], mods[0]
    known = {"weight", "ignore_index", "reduction", "label_smoothing"}
    blocks, left_out, stats = [], [], Counter()

    for dtype in (torch.float32, torch.float64):
        tag = dtype_tag(str(dtype).replace("torch.", ""))
        seed_all(0)
        cases = []
        for i, s in enumerate(op.sample_inputs("cpu", dtype, requires_grad=False)):
            stats["opinfo"] += 1
            cid = f"torch-opinfo-{i:04d}-{tag}"
            kw = dict(s.kwargs)
            extra = set(kw) - known
            if len(s.args) != 1:
                extra.add(f"{len(s.args)} positional args")
            r = convert(to_np(s.input), to_np(s.args[0]) if s.args else None,
                        weight=to_np(kw.get("weight")), reduction=kw.get("reduction", "mean"),
                        ignore_index=kw.get("ignore_index"),
                        label_smoothing=kw.get("label_smoothing", 0.0), extra=extra)
            if isinstance(r, str):
                left_out.append((cid, "", r))
                continue
            cases.append((cid, "", r, None))
        blocks.append((f"OpInfo nn.functional.cross_entropy {dtype_tag_name(tag)}", cases))

    for dtype in (torch.float32, torch.float64):
        tag = dtype_tag(str(dtype).replace("torch.", ""))
        seed_all(0)
        cases = []
        inputs = mod.module_inputs_func(mod, device="cpu", dtype=dtype, requires_grad=False,
                                        training=True)
        for i, mi in enumerate(inputs):
            stats["moduleinfo"] += 1
            cid = f"torch-moduleinfo-{i:04d}-{tag}"
            ckw = dict(mi.constructor_input.kwargs)
            extra = set(ckw) - known
            if mi.constructor_input.args:
                extra.add(f"{len(mi.constructor_input.args)} positional constructor args")
            fargs = mi.forward_input.args
            if mi.forward_input.kwargs:
                extra |= {f"forward {k}" for k in mi.forward_input.kwargs}
            if len(fargs) != 2:
                extra.add(f"{len(fargs)} forward args")
            r = convert(to_np(fargs[0]) if fargs else None,
                        to_np(fargs[1]) if len(fargs) > 1 else None,
                        weight=to_np(ckw.get("weight")), reduction=ckw.get("reduction", "mean"),
                        ignore_index=ckw.get("ignore_index"),
                        label_smoothing=ckw.get("label_smoothing", 0.0), extra=extra)
            if isinstance(r, str):
                left_out.append((cid, mi.desc, r))
                continue
            cases.append((cid, mi.desc, r, "module"))
        blocks.append((f"ModuleInfo torch.nn.CrossEntropyLoss {dtype_tag_name(tag)}", cases))

    source = (f"torch {torch.__version__}: OpInfo nn.functional.cross_entropy "
              f"(common_methods_invocations.op_db) and ModuleInfo torch.nn.CrossEntropyLoss "
              f"(common_modules.module_db)")
    return source, blocks, left_out, stats


def dtype_tag_name(tag: str) -> str:
    return {"f32": "float32", "f64": "float64"}[tag]


# --------------------------------------------------------------------------- onnx

def onnx_blocks():
    import onnx
    from onnx import helper
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings():  # importing every node test module warns about casts
        warnings.simplefilter("ignore")
        seed_all(0)
        tcs = collect_testcases("SoftmaxCrossEntropyLoss")
    cases, left_out, stats = [], [], Counter()
    for tc in sorted(tcs, key=lambda t: t.name):
        if tc.model is None:
            continue
        stats["collected"] += 1
        short = tc.name[len("test_"):] if tc.name.startswith("test_") else tc.name
        if "_expanded" in tc.name:
            stats["expanded"] += 1
            continue
        g = tc.model.graph
        if len(g.node) != 1 or g.node[0].op_type != "SoftmaxCrossEntropyLoss":
            left_out.append((f"onnx-{short}", "", "graph is not a single SoftmaxCrossEntropyLoss node"))
            continue
        node = g.node[0]
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        reduction = attrs.pop("reduction", b"mean")
        reduction = reduction.decode() if isinstance(reduction, bytes) else reduction
        ignore_index = attrs.pop("ignore_index", None)
        graph_inputs = [vi.name for vi in g.input]
        for k, (inputs, _outputs) in enumerate(tc.data_sets or []):
            cid = f"onnx-{short}" + (f"-ds{k}" if len(tc.data_sets) > 1 else "")
            stats["datasets"] += 1
            by_name = dict(zip(graph_inputs, inputs))
            names = list(node.input)
            extra = {f"attribute {a}" for a in attrs}
            if len(names) > 3 or len(names) < 2 or any(n not in by_name for n in names if n):
                extra.add("node inputs not all graph inputs")
                r = "node inputs not all graph inputs"
            else:
                w = by_name[names[2]] if len(names) == 3 and names[2] else None
                r = convert(by_name[names[0]], by_name[names[1]], weight=w, reduction=reduction,
                            ignore_index=ignore_index, extra=extra)
            if isinstance(r, str):
                left_out.append((cid, "", r))
                continue
            note = "has a second output (log_prob), not checked here" if len(node.output) > 1 else ""
            cases.append((cid, note, r, None))
    source = f"onnx {onnx.__version__}: backend node test cases of SoftmaxCrossEntropyLoss"
    return source, [("ONNX backend SoftmaxCrossEntropyLoss", cases)], left_out, stats


# --------------------------------------------------------------------------- writing

def write_suite(yaml_name: str, data_dir: str, source: str, description: str, blocks,
                left_out, extra_comments=()):
    clean_dir(OUT / data_dir)
    lines = [f"# generated by scripts/make_peer_cases.py from {source}; do not edit by hand"]
    for c in extra_comments:
        lines.append(f"# {c}")
    if left_out:
        lines.append(f"# left out ({len(left_out)}): samples the literal-case format cannot express")
        for cid, desc, why in left_out:
            lines.append(f"#   {cid}{f' ({desc})' if desc else ''}: {why}")
    else:
        lines.append("# left out: none")
    lines += ["xent-parity: 1", f"description: {description}", "blocks:"]
    notes_all = []
    for bname, cases in blocks:
        lines += [f"  - name: {bname}", "    cases:"]
        for cid, desc, (fields, arrays, notes), call in cases:
            assert set(cid) <= ID_CHARS, cid
            rel = f"{data_dir}/{cid}.npz"
            write_npz(OUT / rel, arrays)
            comment = f"   # {desc}" if desc else ""
            lines.append(f"      - id: {cid}{comment}")
            lines.append(f"        data: {rel}")
            for k in ("axis", "dtype", "label", "reduction", "ignore_index", "smoothing"):
                if k in fields:
                    lines.append(f"        {k}: {fields[k]}")
            if call:
                lines.append(f"        call: {call}")
            lines.append(f"        checks: {CHECKS}")
            for n in notes:
                notes_all.append((cid, n))
    (OUT / yaml_name).write_text("\n".join(lines) + "\n")
    return notes_all


def verify(yaml_name: str):
    path = OUT / yaml_name
    doc = yaml.safe_load(path.read_text())
    assert set(doc) == {"xent-parity", "description", "blocks"}, doc.keys()
    counts, ids, total = Counter(), set(), 0
    referenced = set()
    for block in doc["blocks"]:
        assert set(block) == {"name", "cases"}, block.keys()
        for c in block["cases"]:
            cid = c["id"]
            assert cid not in ids and set(cid) <= ID_CHARS, cid
            ids.add(cid)
            allowed = {"id", "data", "axis", "dtype", "label", "reduction", "ignore_index",
                       "smoothing", "call", "checks"}
            assert set(c) <= allowed, (cid, set(c) - allowed)
            assert c["dtype"] in FLOAT_DTYPES and c["label"] in ("hard", "soft")
            assert c["reduction"] in REDUCTIONS and c["checks"] == ["forward", "grad"]
            assert c.get("call", "module") == "module"
            f = (path.parent / c["data"]).resolve()
            assert f.is_file(), f
            referenced.add(f)
            total += f.stat().st_size
            with np.load(f, allow_pickle=False) as z:
                names = set(z.files)
                assert {"logits", "label"} <= names <= ALLOWED_ARRAYS, (cid, names)
                x, y = z["logits"], z["label"]
                w = z["weight"] if "weight" in names else None
            ax = c["axis"]
            assert ax == (1 if x.ndim >= 2 else 0), cid
            assert str(x.dtype) == c["dtype"], cid
            if c["label"] == "hard":
                assert y.dtype == np.int64 and y.shape == x.shape[:ax] + x.shape[ax + 1:], cid
            else:
                assert y.dtype == x.dtype and y.shape == x.shape, cid
            if w is not None:
                assert w.dtype == x.dtype and w.shape == (x.shape[ax],), cid
            counts[(c["dtype"], c["label"], c["reduction"], "w" if w is not None else "-",
                    c.get("call", "functional"))] += 1
    on_disk = {p.resolve() for p in path.parent.glob(f"{Path(yaml_name).stem}/*.npz")}
    assert on_disk == referenced, on_disk ^ referenced
    return len(ids), counts, total


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    summary = []

    t_source, t_blocks, t_left, t_stats = torch_blocks()
    t_notes = write_suite(
        "torch_opinfo.yaml", "torch_opinfo", t_source,
        "torch OpInfo and ModuleInfo samples of cross entropy (float32, float64), as literal cases",
        t_blocks, t_left,
        extra_comments=[f"seeded torch.manual_seed(0), numpy and random seed 0 before each block; "
                        f"{t_stats['opinfo']} OpInfo + {t_stats['moduleinfo']} ModuleInfo samples "
                        f"over both dtypes",
                        "case numbers are the sample's index in the suite's sample list for that "
                        "dtype; the comment after a ModuleInfo id is its ModuleInput desc"])
    o_source, o_blocks, o_left, o_stats = onnx_blocks()
    o_notes = write_suite(
        "onnx_backend.yaml", "onnx_backend", o_source,
        "ONNX backend node tests of SoftmaxCrossEntropyLoss (single-node graphs), as literal cases",
        o_blocks, o_left,
        extra_comments=[f"{o_stats['collected']} test cases collected; {o_stats['expanded']} "
                        f"'_expanded' variants skipped (the same data through the function body)",
                        "*_log_prob cases have the same inputs as their twins; the node's second "
                        "output (log_prob) is not checked by this format"])

    grand = 0
    for name, left, notes in (("torch_opinfo.yaml", t_left, t_notes),
                              ("onnx_backend.yaml", o_left, o_notes)):
        n, counts, total = verify(name)
        grand += total
        print(f"{name}: {n} cases, {total / 1024:.1f} KiB of npz, {len(left)} left out")
        for cid, desc, why in left:
            print(f"  left out {cid}{f' ({desc})' if desc else ''}: {why}")
        by = Counter()
        for (dt, lab, red, w, call), k in sorted(counts.items()):
            by[f"dtype={dt}"] += k
            by[f"label={lab}"] += k
            by[f"reduction={red}"] += k
            by[f"weight={'yes' if w == 'w' else 'no'}"] += k
            by[f"call={call}"] += k
        print("  " + ", ".join(f"{k}: {v}" for k, v in sorted(by.items())))
        for cid, note in notes:
            print(f"  note {cid}: {note}")
    print(f"torch: {t_stats['opinfo']} OpInfo samples, {t_stats['moduleinfo']} ModuleInfo samples "
          f"(both dtypes)")
    print(f"onnx: {o_stats['collected']} collected, {o_stats['expanded']} _expanded skipped, "
          f"{o_stats['datasets']} single-node data sets")
    print(f"total npz: {grand} bytes ({grand / 1024:.1f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
