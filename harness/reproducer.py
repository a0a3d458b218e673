"""Reproducers: self-contained scripts that rebuild a case's exact inputs and call one framework.

The arrays are embedded (as literals when small, as base64 of zlib-compressed raw bytes when not),
so the script needs only numpy and the framework, and can be pasted into an upstream bug report.
Inputs above EMBED_LIMIT bytes (a 8192 x 128000 case is 4 GiB) are not embedded: when the case's
arrays come from one pass of numpy's generator (`inputs.streamable`), the script regenerates them
from the case seed with numpy alone, the same draws in the same order as `harness.inputs`
(tests/test_large.py runs these scripts and compares the arrays).
"""

from __future__ import annotations

import base64
import io
import math
import zipfile
import zlib
from dataclasses import dataclass

import numpy as np

from harness.adapters import load_class
from harness.inputs import GAPS, LARGE_SCALE, CaseData, case_seed, streamable

INLINE_LIMIT = 64
EMBED_LIMIT = 1 << 20

_BF16 = '''
def to_bfloat16(z):  # float64 -> bfloat16 values in float32, nearest-even
    with np.errstate(over="ignore", invalid="ignore"):
        mant, exp = np.frexp(z)
        exp = np.maximum(exp, -125)
        scale = np.ldexp(1.0, (8 - exp).astype(np.int64))
        out = np.where(np.isfinite(z), np.rint(z * scale) / scale, z).astype(np.float32)
    f32 = z.astype(np.float32)
    exact = f32.astype(np.float64) == z
    if np.any(exact):  # exact in float32: round its bits
        bits = f32.view(np.uint32).astype(np.uint64)
        near = ((bits + ((bits >> 16) & 1) + 0x7FFF) >> 16 << 16).astype(np.uint32).view(np.float32)
        out = np.where(exact & ~np.isnan(f32), near, out)
    return out
'''


def regeneration_source(params: dict, case_id: str) -> str:
    """numpy source that rebuilds `x`, `label`, `weight`, `g` of a streamable case from its seed."""
    shape, axis, dtype = tuple(params["shape"]), params["axis"] % len(params["shape"]), params["dtype"]
    C = shape[axis]
    pos_shape = shape[:axis] + shape[axis + 1:]
    rnd = ("to_bfloat16({})" if dtype == "bfloat16"
           else "np.asarray({}, dtype=np.float64).astype(np.%s)" % dtype)
    carrier = "float32" if dtype == "bfloat16" else dtype
    lines = [f"# inputs regenerated from the case seed (numpy {np.__version__} was used; the",
             "# generator's streams are stable across numpy versions)"]
    if dtype == "bfloat16":
        lines += _BF16.strip("\n").splitlines()
    lines += [f"rng = np.random.default_rng({case_seed(case_id)})",
              f"hard = rng.integers(0, {max(C, 1)}, size={pos_shape}, dtype=np.int64)"]
    n_ign = int(round(params["ignore_frac"] * int(np.prod(pos_shape, dtype=np.int64))))
    if n_ign:
        lines.append(f"hard.reshape(-1)[rng.permutation(hard.size)[:{n_ign}]] = "
                     f"{params['ignore_index']}")
    lines += [f"x = np.empty({shape}, dtype=np.{carrier})",
              f"rows, target = x.reshape(-1, {C}), np.clip(hard.reshape(-1), 0, {C - 1})",
              "for s in range(0, len(rows), 512):  # blocks of rows: the same stream as one draw",
              f"    z = rng.standard_normal((min(512, len(rows) - s), {C}))"]
    if params["dist"] == "large":
        lines.append(f"    z *= {LARGE_SCALE[dtype]!r}")
    elif params["dist"] == "gaps":
        lines.append(f"    z[np.arange(len(z)), target[s:s + len(z)]] += {GAPS[dtype]!r}")
    lines.append(f"    rows[s:s + len(z)] = {rnd.format('z')}")
    label = "hard" if params["label"] == "hard" else f"np.expand_dims(hard, {axis})"
    lines.append(f"label = {label}")
    if params["weight"] != "none":
        low, high = (-1.0, 1.0) if params["weight"] == "signed" else (0.5, 2.0)
        lines.append(f"w = rng.uniform({low}, {high}, size={C})")
        if params["weight"] == "zeros":
            lines += [f"w[rng.random({C}) < 0.34] = 0.0", "w[0] = 0.0"]
        lines.append(f"weight = {rnd.format('w')}")
    else:
        lines.append("weight = None")
    if params["reduction"] == "none" and "grad" in params["checks"]:
        lines.append(f"g = {rnd.format(f'rng.standard_normal({pos_shape})')}")
    else:
        lines.append("g = None")
    return "\n".join(lines)


def comment(text) -> str:
    """`text` safe inside a `#` comment: one line, no character Python could read as the end of
    the line (values read from results files are data and must stay in the comment)."""
    return "".join(ch if ch.isprintable() else " " for ch in str(text))


def array_literal(a: np.ndarray | None) -> str:
    if a is None:
        return "None"
    a = np.asarray(a)
    dt = a.dtype.name
    if a.size <= INLINE_LIMIT:
        body = np.array2string(a.astype(np.float64) if a.dtype.kind == "f" else a, separator=", ",
                               threshold=INLINE_LIMIT + 1, floatmode="unique", max_line_width=96)
        body = body.replace("inf", "np.inf").replace("nan", "np.nan")
        return f"np.array({body}, dtype=np.{dt}).reshape({tuple(a.shape)})"
    blob = base64.b64encode(zlib.compress(np.ascontiguousarray(a).tobytes(), 9)).decode()
    lines = "\n".join(f'    "{blob[i:i + 96]}"' for i in range(0, len(blob), 96))
    return (f"np.frombuffer(zlib.decompress(base64.b64decode(\n{lines}\n)), dtype=np.{dt})"
            f".reshape({tuple(a.shape)}).copy()")


def regenerates(params: dict) -> bool:
    """Whether a reproducer of `params` regenerates its inputs instead of embedding them."""
    return streamable(params) and 4 * math.prod(params["shape"]) >= EMBED_LIMIT


@dataclass
class Expected:
    """What the harness expected of one result, for the lines a reproducer prints after the
    call: the float64 reference `value` (None when the canonical answer is an error, `raises`,
    or when it is too large to carry, `missing` says why), and what it is."""

    value: np.ndarray | None = None
    what: str = "float64 reference, canonical: the documented formula"
    raises: str | None = None
    missing: str | None = None
    verdict: str = ""


# printed by every reproducer that knows its expected value: the framework's value, the expected
# value and the error at the worst element (NaN/inf where the other has none counts as infinite)
_SHOW = '''
def show(got, expected, dtype, what):
    """The framework's value, the expected value and the error at the worst element."""
    got = np.asarray(got)
    print(f"got: dtype {got.dtype}, shape {list(got.shape)}" + (f": {got!r}" if got.size <= 8 else ""))
    if expected is None:
        print(f"expected ({what})")
        return
    exp = np.asarray(expected, dtype=np.float64)
    print(f"expected ({what}): shape {list(exp.shape)}" + (f": {exp!r}" if exp.size <= 8 else ""))
    if got.shape != exp.shape:
        print("the shapes differ")
        return
    if exp.size == 0:
        print("both empty")
        return
    g = got.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.where((g == exp) | (np.isnan(g) & np.isnan(exp)), 0.0, np.abs(g - exp))
    err[np.isnan(err)] = np.inf  # NaN/inf on one side only
    i = np.unravel_index(int(np.argmax(err)), err.shape)
    e, want = float(err[i]), float(exp[i])
    if dtype == "bfloat16":  # 8 significant bits: the float32 spacing times 2**16
        ulp = float(np.spacing(np.float32(abs(want)))) * 65536.0
    else:
        ulp = float(np.spacing(np.dtype(dtype).type(abs(want))))
    rel = e / abs(want) if want else float("inf") if e else 0.0
    where = tuple(int(k) for k in i)
    print(f"worst element (largest error) {where}: got {float(g[i])!r}, expected {want!r}")
    ulps = np.abs(exp).astype(np.float32 if dtype == "bfloat16" else dtype)
    far = int(np.count_nonzero(err > np.spacing(ulps) * (65536.0 if dtype == "bfloat16" else 1)))
    print(f"error there: {e:.3g} abs, {rel:.3g} rel, {e / ulp if ulp else float('inf'):.3g} ULP "
          f"of {dtype}; {far}/{err.size} elements more than 1 ULP away")
'''


def _arrays_source(data: CaseData, sidecar: str | None) -> tuple[list[str], dict]:
    """The lines that define x, label, weight and g: embedded, or (`sidecar`, a file name) read
    from an .npz beside the script when embedding them would be large. Returns the lines and
    the arrays the sidecar must hold."""
    arrays = {"x": data.x, "label": data.label, "weight": data.weight, "g": data.grad_output}
    encoded = sum(a.nbytes for a in arrays.values() if a is not None)
    if sidecar is None or encoded <= SIDECAR_OVER:
        return [f"{k} = {array_literal(a)}" for k, a in arrays.items()], {}
    lines = [f"# the arrays are in {sidecar} beside this script (np.load, no pickle)",
             f"arrays = np.load(Path(__file__).with_name({sidecar!r}), allow_pickle=False)"]
    lines += [f"{k} = arrays[{k!r}]" if a is not None else f"{k} = None" for k, a in arrays.items()]
    return lines, {k: a for k, a in arrays.items() if a is not None}


SIDECAR_OVER = 16 << 10  # arrays above this many bytes go to the .npz beside the script


def reproducer(case_id: str, data: CaseData, adapter_ref: str, check: str, version: str = "",
               device: str = "cpu", expected_note: str = "", case_params: dict | None = None,
               expected: Expected | None = None) -> str:
    """The script for (case, framework, forward|grad). With the grid's `case_params` of a case
    that `regenerates`, `data` needs only its worker_params (`inputs.case_params`). With
    `expected`, the script also prints the expected value and the error at the worst element."""
    return reproducer_files(case_id, data, adapter_ref, check, version, device, expected_note,
                            case_params, expected)[0]


def reproducer_files(case_id: str, data: CaseData, adapter_ref: str, check: str,
                     version: str = "", device: str = "cpu", expected_note: str = "",
                     case_params: dict | None = None, expected: Expected | None = None,
                     sidecar: str | None = None) -> tuple[str, bytes | None]:
    """The script and, with `sidecar` (the .npz's file name), the bytes of the .npz it reads
    when its arrays are too large to embed (None when they are embedded)."""
    cls = load_class(adapter_ref)
    adapter = cls(device=device)
    params = data.worker_params
    bf16 = " (bfloat16 values carried exactly in float32)" if params["dtype"] == "bfloat16" else ""
    head = [f"# xent-parity reproducer: {comment(cls.name)} {comment(version)} on "
            f"{comment(device)}, {comment(check)}",
            f"# case {comment(case_id)}{bf16}",
            f"# API: {comment(cls.api)}"]
    if expected_note:
        head += [f"# {comment(line)}" for line in str(expected_note).splitlines()]
    stored: dict = {}
    if case_params is not None and regenerates(case_params):
        arrays = [regeneration_source(case_params, case_id)]
    else:
        arrays, stored = _arrays_source(data, sidecar)
    var = "grad" if check == "grad" else "loss"
    tail, before = [f"print({var})"], []
    if expected is not None:
        exp_value = expected.value
        if exp_value is not None and stored:
            stored["expected"] = np.asarray(exp_value, dtype=np.float64)
            exp_src = "arrays['expected']"
        elif exp_value is not None:
            exp_src = array_literal(np.asarray(exp_value, dtype=np.float64))
        else:
            exp_src = "None"
        what = expected.what
        if expected.raises is not None:
            what = f"an error: {expected.raises}"
        elif expected.missing:
            what = f"not carried here: {expected.missing}"
        if expected.verdict in ("error", "crash", "timeout"):
            before = [f"print({('expected: ' + what)[:300]!r})",
                      f"print('the call below fails on this valid input ({expected.verdict}):')"]
        tail = [*_SHOW.strip("\n").splitlines(), "",
                f"expected = {exp_src}",
                f"show({var}, expected, {params['dtype']!r}, {comment(what)[:300]!r})"]
    imports = ["import base64, zlib", "from pathlib import Path", "import numpy as np"]
    body = [*imports, "", *arrays, "", *before, adapter.snippet(params, check).rstrip(), "", *tail]
    blob = _npz(stored) if stored else None
    return "\n".join(head + body) + "\n", blob


def _npz(arrays: dict) -> bytes:
    """An .npz of `arrays`, byte for byte the same for the same arrays (no timestamps)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, a in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asarray(a, order="C"), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, member.getvalue())
    return buf.getvalue()


def file_stem(case_id: str, framework: str, check: str) -> str:
    """`<case>--<framework>--<check>`: a reproducer's file name without its suffix (characters a
    file name or a link cannot carry become `_`)."""
    raw = f"{case_id}--{framework}--{check}"
    return "".join(ch if ch.isalnum() or ch in "-_.=,@~+" else "_" for ch in raw)
