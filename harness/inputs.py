"""Deterministic case inputs: generated once per case, from a seed derived from the case ID.

Adding or removing a case never changes another case's inputs. Values are rounded to the case
dtype here, once; the reference computes on exactly these rounded values widened to float64, and
every adapter receives the same arrays, so a comparison measures the framework's arithmetic.

>>> d = generate_inputs({"shape": [4, 3], "axis": -1, "dtype": "float32", "label": "hard",
...     "input": "logits", "weight": "none", "ignore_index": -100, "ignore_frac": 0.0,
...     "reduction": "mean", "smoothing": 0.0, "dist": "normal", "checks": ["forward"],
...     "invalid": None}, "demo")
>>> d.x.shape, d.label.dtype.name
((4, 3), 'int64')
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from harness.dtypes import fmt, round_to_dtype

# Gap added to the labelled logit for "gaps": confident predictions whose loss is near the smallest
# normal number of the dtype (exp(-gap)), where naive log(1 + tiny) loses everything.
GAPS = {"float16": 12.0, "bfloat16": 80.0, "float32": 80.0, "float64": 700.0}
LARGE_SCALE = {"float16": 300.0, "bfloat16": 1e4, "float32": 1e4, "float64": 1e4}


@dataclass
class CaseData:
    x: np.ndarray
    label: np.ndarray
    weight: np.ndarray | None
    grad_output: np.ndarray | None
    worker_params: dict  # plain parameters sent to the adapters
    ref_kwargs: dict  # keyword arguments of reference.cross_entropy (arrays excluded)

    def arrays(self) -> dict[str, np.ndarray]:
        out = {"x": self.x, "label": self.label}
        if self.weight is not None:
            out["weight"] = self.weight
        if self.grad_output is not None:
            out["grad_output"] = self.grad_output
        return out

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.arrays().values())


def case_seed(case_id: str) -> int:
    return int.from_bytes(hashlib.sha256(case_id.encode()).digest()[:8], "little")


def _softmax(z, axis):
    z = z - np.max(z, axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


# Logits of at least this many float64 bytes are generated in blocks of rows straight into their
# carrier (a file in the spill directory when one is given): an 8192 x 128000 case would otherwise
# need 8 GiB of float64 and another copy for the rounding.
STREAM_BYTES = 256 << 20
_STREAM_ROWS_BYTES = 32 << 20


def streamable(p: dict) -> bool:
    """Whether the logits of `p` can be generated in blocks of rows with the same values as whole:
    logits with the class axis last, from distributions drawn in one pass."""
    shape = tuple(p["shape"])
    return (len(shape) >= 1 and p["axis"] % len(shape) == len(shape) - 1
            and p["input"] == "logits" and p["dist"] in ("normal", "large", "gaps")
            and p["label"] != "soft" and p["invalid"] is None and not p.get("data")
            and not p.get("ignore_at") and not isinstance(p["weight"], list))


def _streamed_logits(rng, p, hard, spill: str | None) -> np.ndarray:
    """`round_to_dtype(x)` of the whole-array path, block by block: the generator's stream is the
    same whether it is drawn at once or in consecutive pieces (tests/test_large.py checks it)."""
    shape, dtype = tuple(p["shape"]), p["dtype"]
    C = shape[-1]
    carrier = np.dtype(fmt(dtype).carrier)
    if spill:
        from harness.ipc import spill_array

        x = spill_array(spill, carrier, shape)
    else:
        x = np.empty(shape, dtype=carrier)
    rows_x, flat_hard = x.reshape(-1, C), hard.reshape(-1)
    target = np.clip(flat_hard, 0, C - 1)
    step = max(1, _STREAM_ROWS_BYTES // (8 * max(C, 1)))
    for s in range(0, rows_x.shape[0], step):
        e = min(s + step, rows_x.shape[0])
        z = rng.standard_normal((e - s, C))
        if p["dist"] == "large":
            z *= LARGE_SCALE[dtype]
        elif p["dist"] == "gaps":
            z[np.arange(e - s), target[s:e]] += GAPS[dtype]
        rows_x[s:e] = round_to_dtype(z, dtype)
    return x


def case_params(p: dict, case_id: str) -> CaseData:
    """The case's `worker_params` and `ref_kwargs` without drawing its logits (for a reproducer
    of a large case, which regenerates the arrays from the seed): only those two fields and the
    labels are meaningful; x is a placeholder and weights/cotangent are not the case's."""
    return generate_inputs(p, case_id, logits=False)


def generate_inputs(p: dict, case_id: str, spill: str | None = None,
                    logits: bool = True) -> CaseData:
    """Build the arrays of one case (`p`: the case parameters from the grid). With `spill` (a
    directory), large logits are written to a file there and returned as a memory map of it."""
    rng = np.random.default_rng(case_seed(case_id))
    if p.get("data"):
        return _literal_inputs(rng, p)
    shape, axis, dtype, C, pos_shape, rows = _layout(p)

    # labels first: the logits distributions make the labelled class confident
    hard = rng.integers(0, max(C, 1), size=pos_shape, dtype=np.int64)
    n_ign = int(round(p["ignore_frac"] * rows))
    if n_ign and p["label"] != "soft":
        flat = hard.reshape(-1)
        flat[rng.permutation(rows)[:n_ign]] = p["ignore_index"]
    if p.get("ignore_at") and p["label"] != "soft":  # chosen positions, row-major
        hard.reshape(-1)[list(p["ignore_at"])] = p["ignore_index"]

    if not logits and streamable(p):
        x = np.broadcast_to(np.zeros((), fmt(dtype).carrier), shape)
        return _finish(rng, p, x, hard)
    if streamable(p) and C and rows and 8 * rows * C >= STREAM_BYTES:
        x = _streamed_logits(rng, p, hard, spill)
        return _finish(rng, p, x, hard)
    x = rng.standard_normal(shape)
    if p["dist"] == "large":
        x *= LARGE_SCALE[dtype]
    if C and rows:
        target = np.clip(hard, 0, C - 1)
        # == np.eye(C, dtype=bool)[target], without the C x C identity (1 GiB at C = 32000)
        onehot = np.moveaxis(target[..., None] == np.arange(C), -1, axis)
        if p["dist"] == "gaps":
            x = x + GAPS[dtype] * onehot
        elif p["dist"] == "neginf":
            x = np.where(~onehot & (rng.random(shape) < 0.3), -np.inf, x)
        if p["input"] == "probs":
            probs = _softmax(x, axis)
            if p["dist"] == "probs-zeros":
                probs = np.where(~onehot & (rng.random(shape) < 0.3), 0.0, probs)
                probs = probs / probs.sum(axis=axis, keepdims=True)
            elif p["dist"] == "probs-unnormalised":  # rows summing to 0.5 .. 2
                probs = probs * rng.uniform(0.5, 2.0, size=pos_shape)[..., None].swapaxes(-1, axis)
            elif p["dist"] == "probs-zero-rows":  # every third position all zeros
                zero = (np.arange(rows) % 3 == 1).reshape(pos_shape)
                probs = np.where(np.expand_dims(zero, axis), 0.0, probs)
            x = probs
    x = round_to_dtype(x, dtype)
    return _finish(rng, p, x, hard)


def _layout(p: dict):
    """(shape, class axis >= 0, dtype, C, shape of the positions, number of positions)."""
    shape, axis = tuple(p["shape"]), p["axis"] % len(p["shape"])
    pos_shape = shape[:axis] + shape[axis + 1:]
    return shape, axis, p["dtype"], shape[axis], pos_shape, int(np.prod(pos_shape, dtype=np.int64))


def _literal_inputs(rng, p) -> CaseData:
    """A literal case's arrays (harness.literal), rounded to the case dtype; what the data does
    not hold (weights by kind, the cotangent) is drawn as for a generated case."""
    from harness.literal import load_arrays

    arrays = load_arrays(p["data"])
    x = round_to_dtype(arrays["probs" if p["input"] == "probs" else "logits"], p["dtype"])
    label = arrays["label"]
    label = (round_to_dtype(label, p["dtype"]) if p["label"] == "soft" or label.dtype.kind == "f"
             else label.astype(np.int64))
    return _finish(rng, p, x, label, given=arrays)


def _finish(rng, p, x, hard, given: dict | None = None) -> CaseData:
    """Labels, weights and the cotangent, drawn after the logits (or taken from a literal
    case's arrays, `given`)."""
    shape, axis, dtype, C, pos_shape, rows = _layout(p)
    bad = p["invalid"]
    if given is not None:
        label = hard
    elif p["label"] == "soft" and p.get("soft_dist", "dirichlet") == "onehot":
        target = np.clip(hard, 0, max(C - 1, 0))
        label = round_to_dtype(np.moveaxis(target[..., None] == np.arange(C), -1, axis), dtype)
    elif p["label"] == "soft":
        # no position: no draw (and no C-long alpha; the generator state is the same either way)
        q = (rng.dirichlet(np.ones(C), size=pos_shape) if C and rows
             else np.zeros(pos_shape + (C,)))
        if p["dist"] == "neginf" and C and rows:
            # a masked vocabulary: every other row puts no mass on its -inf logits (finite loss,
            # and 0 * log 0 to get right); the other rows keep mass there (infinite loss)
            masked = np.moveaxis(np.isneginf(x), axis, -1)
            even = (np.arange(rows) % 2 == 0).reshape(pos_shape)[..., None]
            q = np.where(masked & even, 0.0, q)
            q = q / q.sum(axis=-1, keepdims=True)
        if p.get("soft_dist") == "unnormalised" and C and rows:  # rows summing to 0.5 .. 2
            q = q * rng.uniform(0.5, 2.0, size=pos_shape + (1,))
        label = round_to_dtype(np.moveaxis(q, -1, axis), dtype)
    else:
        label = hard.copy()
        if bad == "label-out-of-range" and label.size:
            label.reshape(-1)[rng.integers(label.size)] = C + 2
        elif bad == "label-negative" and label.size:
            label.reshape(-1)[rng.integers(label.size)] = -1 if p["ignore_index"] != -1 else -2
        if p["label"] == "hard-keepdim":
            label = np.expand_dims(label, axis)
        if bad == "float-labels":
            label = round_to_dtype(label.astype(np.float64), dtype)
    if bad == "label-rank" and given is None:
        label = np.stack([label, label], axis=-1)

    weight = None
    if given is not None and "weight" in given:
        weight = round_to_dtype(given["weight"], dtype)
    elif isinstance(p["weight"], list):  # a chosen vector
        weight = round_to_dtype(np.asarray(p["weight"], dtype=np.float64), dtype)
    elif p["weight"] != "none" or bad == "weight-shape":
        n = C + 1 if bad == "weight-shape" else C
        # signed: uniform in [-1, 1], as torch's own OpInfo samples draw signed weights (theirs in
        # [-9, 9]); a weighted mean's denominator can then nearly cancel (harness.bounds)
        w = rng.uniform(-1.0, 1.0, size=n) if p["weight"] == "signed" else rng.uniform(0.5, 2.0, size=n)
        if p["weight"] == "zeros" and n:
            w[rng.random(n) < 0.34] = 0.0
            w[0] = 0.0
        weight = round_to_dtype(w, dtype)

    grad_output = None
    if given is not None and "grad_output" in given:
        grad_output = round_to_dtype(given["grad_output"], dtype)
    elif p["reduction"] == "none" and "grad" in p["checks"]:
        grad_output = round_to_dtype(rng.standard_normal(pos_shape), dtype)

    reduction = "average" if bad == "bad-reduction" else p["reduction"]
    ignore_index = 1 if bad == "soft-ignore-positive" else p["ignore_index"]
    label_kind = p["label"]
    uses_ignore = label_kind != "soft" and bool(np.any(label == ignore_index))
    worker_params = {
        "shape": list(shape), "axis": p["axis"], "dtype": dtype, "label_kind": label_kind,
        # framework-probs: the API takes probabilities, made by the framework's softmax
        "use_softmax": p["input"] == "logits", "has_weight": weight is not None,
        "probs_from_logits": p["input"] == "framework-probs",
        "ignore_index": ignore_index, "uses_ignore": uses_ignore, "reduction": reduction,
        "label_smoothing": float(p["smoothing"]), "invalid": bad,
        # how the API is called (harness.adapters.base.CALL_STYLES)
        "call": p.get("call", "functional"), "mode": p.get("mode", "eager"),
        "defaults": bool(p.get("defaults")), "explicit": list(p.get("explicit", ())),
    }
    ref_kwargs = {"ignore_index": ignore_index, "reduction": reduction,
                  "soft_label": label_kind == "soft", "axis": p["axis"],
                  # the loss of softmax(x) is the cross entropy of the logits x
                  "use_softmax": p["input"] != "probs", "label_smoothing": float(p["smoothing"])}
    return CaseData(x, label, weight, grad_output, worker_params, ref_kwargs)


def is_large(case) -> bool:
    """Logits of STREAM_BYTES or more as float64: the case runs alone, one worker at a time, its
    arrays travel as files and its gradient is compared block by block."""
    return 8 * math.prod(case.params["shape"]) >= STREAM_BYTES


def size_problem(cases, n_frameworks: int, available: int | None) -> str | None:
    """Why a grid cannot run here (its largest case cannot fit in `available` bytes of memory, or
    a large case in the spill directory's free disk), with the estimate; None when it fits.

    A large case whose logits are generated in blocks (`is_large`, `streamable`) needs, in the
    parent, its logits in their carrier (a file in the spill directory, mapped)
    and block buffers; each framework runs it alone and its worker checks the framework's own
    need against the memory then available, so one that cannot fit is `unsupported` with the
    figures. The spill directory must hold the logits and one result. Any other case is held
    whole, widened, by the parent and by every worker at once: a rough upper estimate."""
    import shutil

    from harness import spill

    def elements(c):
        return math.prod(c.params["shape"])

    def need(c):
        n, C = elements(c), c.params["shape"][c.params["axis"]]
        carrier = np.dtype(fmt(c.params["dtype"]).carrier).itemsize
        if is_large(c) and streamable(c.params):
            positions = n // max(C, 1)
            return n * carrier + 64 * positions + (256 << 20), "in the harness (frameworks apart)"
        return (n + C) * carrier * (4 + 4 * n_frameworks), f"with {n_frameworks} frameworks"

    if not cases:
        return None
    worst = max(cases, key=lambda c: need(c)[0])
    bytes_needed, what = need(worst)
    avail = available
    if avail and bytes_needed > avail:
        return (f"case {worst.id} needs about {bytes_needed / 2**30:.1f} GiB {what}, more "
                f"than the {avail / 2**30:.1f} GiB available; refused before starting "
                "(run fewer frameworks or a smaller shape)")
    large = [c for c in cases if is_large(c)]
    if large:
        where = spill.root()

        def disk_need(c):  # the logits, and two results (float64 at most) while one is judged
            return elements(c) * (np.dtype(fmt(c.params["dtype"]).carrier).itemsize + 16)

        c = max(large, key=disk_need)
        disk = disk_need(c)
        try:
            free = shutil.disk_usage(where).free
        except OSError:
            free = None
        if free is not None and disk > free:
            return (f"case {c.id} needs about {disk / 2**30:.1f} GiB of disk in {where} "
                    f"(its logits and results travel as files), more than the "
                    f"{free / 2**30:.1f} GiB free; set {spill.TMPDIR_ENV} to a larger disk")
    return None
