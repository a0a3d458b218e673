"""Literal cases: a case whose arrays the user brings, from a `.npz` file or inline lists.

In a `cases:` block of a case file::

    - id: my-batch                 # required: a literal case's inputs do not derive from its ID
      data: my_batch.npz           # relative to the YAML file; or inline:
      # data: {logits: [[0.5, 1.0, -2.0]], label: [2]}
      axis: 1                      # the other keys as for any case; shape comes from the arrays

The arrays: `logits` (or `probs`, with `input: probs`), `label` (integers for hard labels, floats
for soft), and optionally `weight` ([C]) and `grad_output` (the cotangent of reduction "none";
drawn from the case ID when absent). Nothing else, and nothing that needs pickle: the file is
data (`np.load(allow_pickle=False)`), read only if it is a regular file inside the YAML file's
folder and no larger than MAX_DATA_BYTES. Values are taken as they are and rounded to the case
dtype once, as generated inputs are (a float32 array in a float32 case is unchanged).
"""

from __future__ import annotations

import hashlib
import os
import stat
import zipfile
from pathlib import Path

import numpy as np

ARRAYS = ("logits", "probs", "label", "weight", "grad_output")
MAX_DATA_BYTES = 256 << 20
MAX_INLINE_VALUES = 1 << 16
FLOAT_DTYPES = ("float16", "float32", "float64")


class LiteralError(ValueError):
    """A literal case's data that cannot be used; the message says what (the caller says where)."""


def data_ref(yaml_path: str | Path, value) -> dict:
    """The `data` value of a case as case parameters: a file's name, resolved path and digest, or
    the inline lists as they are (both JSON, so results and shards can carry them)."""
    if isinstance(value, dict):
        unknown = [k for k in value if k not in ARRAYS]
        if unknown:
            raise LiteralError(f"unknown array {unknown[0]!r} in inline data (known: "
                               f"{', '.join(ARRAYS)})")
        count = sum(np.size(np.asarray(v, dtype=object)) for v in value.values())
        if count > MAX_INLINE_VALUES:
            raise LiteralError(f"inline data holds {count} values, more than the "
                               f"{MAX_INLINE_VALUES} a case file may spell out; use a .npz file")
        return {"inline": {k: _plain(v) for k, v in value.items()}}
    if not isinstance(value, str) or not value:
        raise LiteralError("must be the name of a .npz file (relative to the case file) or a "
                           "mapping of arrays")
    base = Path(yaml_path).resolve().parent
    if os.path.isabs(value):
        raise LiteralError(f"{value!r} is an absolute path; name the file relative to the case "
                           "file")
    target = (base / value).resolve()
    if base != target and base not in target.parents:
        raise LiteralError(f"{value!r} leaves the case file's folder {base}; refused")
    return {"file": value, "path": str(target), "sha256": _digest(target)}


def _plain(v):
    """Inline YAML values as plain lists (the loader's list subclass carries line numbers)."""
    return [_plain(e) for e in v] if isinstance(v, list) else v


def _digest(path: Path) -> str:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        raise LiteralError(f"cannot read {path}: {e.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise LiteralError(f"{path} is not a regular file; refused")
        if st.st_size > MAX_DATA_BYTES:
            raise LiteralError(f"{path} is {st.st_size} bytes, more than the {MAX_DATA_BYTES} a "
                               "literal case may have")
        h = hashlib.sha256()
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_arrays(ref: dict) -> dict[str, np.ndarray]:
    """The arrays of a `data_ref`, checked against the digest taken when the case was loaded."""
    if "inline" in ref:
        out = {}
        for k, v in ref["inline"].items():
            try:
                a = np.asarray(v)
            except ValueError as e:
                raise LiteralError(f"inline array {k!r} is not rectangular ({e})") from None
            if a.dtype.kind not in "biuf":
                raise LiteralError(f"inline array {k!r} must hold numbers, got {a.dtype}")
            out[k] = a
        return out
    path = Path(ref["path"])
    if _digest(path) != ref["sha256"]:
        raise LiteralError(f"{path} changed since the case file was loaded")
    try:
        with np.load(path, allow_pickle=False) as z:
            names = list(z.files)
            unknown = [n for n in names if n not in ARRAYS]
            if unknown:
                raise LiteralError(f"{ref['file']}: unknown array {unknown[0]!r} (known: "
                                   f"{', '.join(ARRAYS)})")
            out = {n: z[n] for n in names}
    except LiteralError:
        raise
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
        raise LiteralError(f"{ref['file']}: not a readable .npz of plain arrays ({e})") from None
    for k, a in out.items():
        if a.dtype.kind not in "biuf":
            raise LiteralError(f"{ref['file']}: array {k!r} must hold numbers, got {a.dtype}")
    return out


def literal_params(ref: dict, p: dict, explicit: set) -> dict:
    """The case parameters that the arrays decide (shape, dtype when not given, weight), checked
    against those the case gives: raises LiteralError saying what disagrees."""
    arrays = load_arrays(ref)
    inputs = [k for k in ("logits", "probs") if k in arrays]
    if len(inputs) != 1:
        raise LiteralError("the data needs exactly one of 'logits' or 'probs'"
                           + (f", it has {' and '.join(inputs)}" if inputs else ""))
    name = inputs[0]
    want = "probs" if p["input"] == "probs" else "logits"
    if name != want:
        raise LiteralError(f"the data holds {name!r} but the case has input: {p['input']} "
                           f"(which reads {want!r})")
    if "label" not in arrays:
        raise LiteralError("the data has no 'label' array")
    x, label = arrays[name], arrays["label"]
    if x.ndim == 0:
        raise LiteralError(f"{name!r} is a scalar; it needs a class axis")
    shape = list(x.shape)
    if "shape" in explicit and list(p["shape"]) != shape:
        raise LiteralError(f"shape {list(p['shape'])} disagrees with the {name!r} array's "
                           f"shape {shape}")
    out = {"shape": shape}
    if "dtype" not in explicit:
        if x.dtype.name not in FLOAT_DTYPES:
            raise LiteralError(f"{name!r} is {x.dtype.name}; set dtype: to say which float "
                               "format the case is in")
        out["dtype"] = x.dtype.name
    axis = p["axis"]
    if not -len(shape) <= axis < len(shape):
        raise LiteralError(f"axis {axis} is out of range for the {name!r} shape {shape}")
    ax = axis % len(shape)
    C = shape[ax]
    positions = shape[:ax] + shape[ax + 1:]
    if p["label"] == "soft":
        if list(label.shape) != shape:
            raise LiteralError(f"soft labels have shape {list(label.shape)}, not the "
                               f"{name!r} shape {shape}")
        if label.dtype.kind != "f":
            raise LiteralError(f"soft labels must be floats, got {label.dtype.name}")
    else:
        keep = positions[:ax] + [1] + positions[ax:]
        expect = keep if p["label"] == "hard-keepdim" else positions
        if list(label.shape) != expect and p.get("invalid") != "label-rank":
            raise LiteralError(
                f"hard labels have shape {list(label.shape)}; with class axis {axis} of "
                f"{shape} they need {expect}" + (" (label: hard-keepdim keeps the class axis)"
                                                 if list(label.shape) == keep else ""))
        if label.dtype.kind == "f" and p.get("invalid") != "float-labels":
            raise LiteralError(f"hard labels must be integers, got {label.dtype.name} (soft "
                               "labels need label: soft)")
        if not p.get("invalid") and label.size and label.dtype.kind in "iu":
            ignored = label == p["ignore_index"]
            bad = (~ignored) & ((label < 0) | (label >= C))
            if np.any(bad):
                at = tuple(int(i) for i in np.argwhere(bad)[0])
                raise LiteralError(
                    f"label {int(label[at])} at {at} is outside [0, {C}) and is not "
                    f"ignore_index {p['ignore_index']}; a case that means it sets invalid: "
                    "label-out-of-range")
    if "weight" in arrays:
        w = arrays["weight"]
        if "weight" in explicit:
            raise LiteralError("the weight is given twice: by the data and by weight:")
        if w.shape != (C,) and p.get("invalid") != "weight-shape":
            raise LiteralError(f"weight has shape {list(w.shape)}, not [{C}] (C = "
                               f"shape[{axis}])")
        out["weight"] = "data"
    if "grad_output" in arrays and list(arrays["grad_output"].shape) != positions:
        raise LiteralError(f"grad_output has shape {list(arrays['grad_output'].shape)}, not the "
                           f"loss shape {positions}")
    return out
