"""Section `reference`: the float64 reference's speed and memory on a large hard-label case.

Speed is a ratio to a bare `np.exp` pass over the same array, timed in the same rounds
(`lib.interleave`): both with a fresh result array (`np.exp(x)`, which pays for the allocation and
its page faults like anything that returns a new array) and into a reused buffer
(`np.exp(x, out=buf)`, the floor of one transcendental pass). A straightforward whole-array numpy
implementation (max-shift, exp, sum, log, gather, in float64) is timed beside it for comparison.
Memory is the peak of what a call allocates above what existed before (tracemalloc), as a fraction
of the input's size; the gradient's own result (a float64 array of the input's shape) is
subtracted, since any gradient must return it.
"""

from __future__ import annotations

import numpy as np

from benchmarks.lib import interleave, peak_extra_bytes, ratio

FULL = (4096, 32000)
QUICK = (64, 1000)


def naive_forward(x, y):
    """The whole-array textbook version, in float64."""
    x = np.asarray(x, dtype=np.float64)
    shifted = x - x.max(axis=1, keepdims=True)
    lse = np.log(np.exp(shifted).sum(axis=1))
    return np.mean(lse - shifted[np.arange(len(y)), y])


def naive_grad(x, y):
    x = np.asarray(x, dtype=np.float64)
    shifted = x - x.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    p = e / e.sum(axis=1, keepdims=True)
    p[np.arange(len(y)), y] -= 1.0
    p /= len(y)
    return p


SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def run(quick: bool = False, reps: int | None = None, log=print) -> dict:
    """Measure in a fresh process with one BLAS/OpenMP thread (np.exp is single-threaded, and
    process CPU time is then single-core time); see `measure`."""
    import json
    import os
    import subprocess
    import sys
    import tempfile

    from benchmarks.lib import ROOT

    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "ref.json")
        cmd = [sys.executable, "-m", "benchmarks.sec_reference", "--json", out]
        cmd += ["--quick"] if quick else []
        cmd += ["--reps", str(reps)] if reps else []
        env = {**os.environ, **SINGLE_THREAD,
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        p = subprocess.run(cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
        for line in p.stderr.splitlines():
            log(line)
        if p.returncode:
            raise RuntimeError(f"reference benchmark failed (exit {p.returncode}): "
                               f"{p.stderr[-2000:]}")
        with open(out) as f:
            return json.load(f)


def measure(quick: bool = False, reps: int | None = None, log=print) -> dict:
    import reference

    shape = QUICK if quick else FULL
    reps = reps or (2 if quick else 7)
    rng = np.random.default_rng(0)
    x64 = rng.standard_normal(shape)
    y = rng.integers(0, shape[1], size=shape[0])
    out = {"shape": list(shape), "reps": reps, "dtypes": {},
           "threads": SINGLE_THREAD["OPENBLAS_NUM_THREADS"]}
    for dtype in ("float64", "float32"):
        x = x64 if dtype == "float64" else x64.astype(np.float32)
        buf = np.empty_like(x)
        fns = {
            "exp": lambda: np.exp(x),
            "exp_out": lambda: np.exp(x, out=buf),
            "reference": lambda: reference.cross_entropy(x, y),
            "straightforward": lambda: naive_forward(x, y),
            "reference_grad": lambda: reference.cross_entropy_grad(x, y),
            "straightforward_grad": lambda: naive_grad(x, y),
        }
        if dtype == "float32":  # the same exp pass over the array widened to float64
            x_up = x.astype(np.float64)
            buf64 = np.empty_like(x_up)
            fns["exp64_out"] = lambda: np.exp(x_up, out=buf64)
        log(f"  reference {dtype} {shape[0]}x{shape[1]}: timing {reps} interleaved rounds")
        cpu: dict = {}
        times = interleave(fns, reps=reps, warmup=1, cpu=cpu)
        d = {"input_bytes": x.nbytes,
             "times_s": {k: [round(t, 5) for t in v] for k, v in times.items()},
             "cpu_s": {k: [round(t, 5) for t in v] for k, v in cpu.items()}}
        pairs = [(a, b) for a in ("reference", "straightforward", "reference_grad",
                                  "straightforward_grad") for b in ("exp", "exp_out")]
        if dtype == "float32":
            pairs.append(("reference", "exp64_out"))
        d["ratios"] = {f"{a}/{b}": ratio(times, a, b) for a, b in pairs}
        d["cpu_ratios"] = {f"{a}/{b}": ratio(cpu, a, b) for a, b in pairs}
        if dtype == "float32":
            del x_up, buf64, fns["exp64_out"]
        log(f"  reference {dtype}: memory (tracemalloc)")
        grad_bytes = x.size * 8
        mem = {}
        for name, fn, minus in (("reference", fns["reference"], 0),
                                ("straightforward", fns["straightforward"], 0),
                                ("reference_grad", fns["reference_grad"], grad_bytes),
                                ("straightforward_grad", fns["straightforward_grad"], grad_bytes)):
            peak, res = peak_extra_bytes(fn)
            del res
            mem[name] = {"peak_bytes": peak, "extra_bytes": peak - minus,
                         "fraction": (peak - minus) / x.nbytes}
        d["memory"] = mem
        # the two agree (a sanity check that the comparison is of like with like)
        d["agree"] = bool(np.isclose(float(reference.cross_entropy(x, y)),
                                     float(naive_forward(x, y)), rtol=1e-12))
        out["dtypes"][dtype] = d
        del buf
    return out


def targets(res: dict) -> list[dict]:
    """On process CPU time (robust to other processes on the shared cores); wall beside it.

    The speed target (1.5x a bare exp pass) is the float64 forward's against np.exp(x, out=buf), a
    pass that allocates nothing inside the timed call (the honest denominator); against an
    allocating np.exp(x) the figure is reported beside it. For float32 input and for the gradient
    the same figures are reported without a target."""
    out = []
    for dt, d in res["dtypes"].items():
        r = d["cpu_ratios"]
        f64 = dt == "float64"
        # the honest denominator: a pass that allocates nothing inside the timed call
        out.append({"name": f"reference forward {dt} / np.exp(x, out=buf)",
                    "value": r["reference/exp_out"]["best"],
                    "target": "<= 1.5" if f64 else "(reported)",
                    "met": r["reference/exp_out"]["best"] <= 1.5 if f64 else None})
        out.append({"name": f"reference forward {dt} / np.exp(x) (allocating)",
                    "value": r["reference/exp"]["best"], "target": "(reported)", "met": None})
        f = d["memory"]["reference"]["fraction"]
        out.append({"name": f"reference forward {dt}: peak extra memory / input", "value": f,
                    "target": "< 5%", "met": f < 0.05, "pct": True})
        out.append({"name": f"reference gradient {dt} / np.exp(x) (the gradient allocates its "
                            "result too)", "value": r["reference_grad/exp"]["best"],
                    "target": "(reported)", "met": None})
        g = d["memory"]["reference_grad"]["fraction"]
        out.append({"name": f"reference gradient {dt}: peak extra memory (besides the result) / input",
                    "value": g, "target": "< 5%", "met": g < 0.05, "pct": True})
    return out


def render(res: dict) -> str:
    from benchmarks.lib import mib, table

    n, c = res["shape"]
    lines = [f"Hard labels, reduction `mean`, {n} x {c} logits (standard normal), "
             f"{res['reps']} interleaved rounds after a warm-up, in a process of its own with "
             f"{res.get('threads', 1)} BLAS/OpenMP thread. **CPU** ratios use the process CPU time "
             "of each call (what other processes on the shared cores disturb least); **wall** "
             "ratios use perf_counter. `best`: ratio of the best times; `median`: median of the "
             "per-round ratios. `exp`: `np.exp(x)` (allocates its result); `exp_out`: "
             "`np.exp(x, out=buf)`; `straightforward`: whole-array float64 numpy "
             "(`benchmarks/sec_reference.py: naive_forward, naive_grad`).", ""]
    for dt, d in res["dtypes"].items():
        lines.append(f"**{dt} input** ({mib(d['input_bytes'])}; reference and straightforward "
                     f"agree: {d.get('agree')}):")
        lines.append("")
        rows = []
        for k, v in d["ratios"].items():
            cv = d.get("cpu_ratios", {}).get(k, {"best": float("nan"), "median": float("nan")})
            rows.append([k, round(cv["best"], 2), round(cv["median"], 2), round(v["best"], 2),
                         round(v["median"], 2)])
        lines.append(table(["ratio", "CPU best", "CPU median", "wall best", "wall median"], rows))
        lines.append("")
        rows = []
        for k, v in d["times_s"].items():
            cv = d.get("cpu_s", {}).get(k, [float("nan")])
            rows.append([k, f"{min(cv):.3f}", f"{min(v):.3f}", ", ".join(f"{t:.3f}" for t in v)])
        lines.append(table(["raw times (s)", "CPU best", "wall best", "wall, all rounds"], rows))
        lines.append("")
        rows = [[k, mib(m["peak_bytes"]), mib(m["extra_bytes"]), f"{100 * m['fraction']:.1f}%"]
                for k, m in d["memory"].items()]
        lines.append(table(["memory (tracemalloc)", "peak allocated", "extra (result excluded)",
                            "extra / input"], rows))
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    import argparse
    import json
    import sys

    ap = argparse.ArgumentParser()
    ap.add_argument("--json", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--reps", type=int)
    a = ap.parse_args(argv)
    res = measure(quick=a.quick, reps=a.reps, log=lambda m: print(m, file=sys.stderr, flush=True))
    with open(a.json, "w") as f:
        json.dump(res, f)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
