"""Section `speed`: each framework's forward and forward+backward time on a few benchmark shapes,
as a ratio to the fastest.

Reuses the adapters through `harness.pool.Worker`: one long-lived worker process per framework
(so tensorflow and paddle never share a process), each with the harness's thread settings (one
thread: `pool.THREAD_ENV`), all started before timing and then asked in turn, rotating the order
every round, to run the same item; only one computes at a time. The time is the worker's own
measurement around the adapter's call (`seconds` in its answer), so it excludes the pipe, and
includes what the adapter does around the framework call (numpy -> tensor and back, dtype
conversion). Forward is the `forward` check (no autograd); forward+backward is the `grad` check
(the adapter's `gradient`: loss, then its gradient with respect to the logits). The first call of
each (framework, shape, check) is a warm-up (JIT compilation, tracing) and is not counted.
"""

from __future__ import annotations

import time

import numpy as np

FULL_SHAPES = [([256, 1000], "float32"), ([256, 1000], "float64"), ([2048, 32000], "float32")]
QUICK_SHAPES = [([16, 10], "float32")]


def _item(shape, dtype, check):
    from harness.cases import DEFAULTS
    from harness.inputs import generate_inputs
    from harness.pool import WorkItem

    params = {**DEFAULTS, "shape": list(shape), "dtype": dtype, "label": "hard",
              "reduction": "mean", "checks": ["forward", "grad"]}
    cid = f"bench-speed-{dtype}-{'x'.join(map(str, shape))}"
    d = generate_inputs(params, cid)
    return WorkItem({**d.worker_params, "case_id": cid}, d.arrays(), [check])


def run(quick: bool = False, frameworks: str = "", reps: int | None = None, log=print) -> dict:
    from harness.adapters import load_class
    from harness.cli import _default_frameworks
    from harness.pool import Worker, WorkerStartError
    from harness.runner import adapter_specs

    names = [n for n in frameworks.split(",") if n] or (["numpy"] if quick else
                                                         _default_frameworks())
    specs = adapter_specs(names)
    workers, info = {}, {}
    t0 = time.perf_counter()
    for s in specs:
        if load_class(s.ref).installed() is None:
            w = Worker(s.name, s.ref, timeout=600)
            w.launch()
            workers[s.name] = w
    for name, w in list(workers.items()):
        try:
            info[name] = w.await_ready().get("version")
        except WorkerStartError as e:
            info[name] = f"did not start: {e}"
            del workers[name]
    started = time.perf_counter() - t0
    shapes = QUICK_SHAPES if quick else FULL_SHAPES
    out = {"versions": info, "start_s": started, "shapes": []}
    try:
        for shape, dtype in shapes:
            big = int(np.prod(shape)) > 10**7
            n = reps or (2 if quick else (3 if big else 7))
            entry = {"shape": shape, "dtype": dtype, "reps": n, "checks": {}}
            for check in ("forward", "grad"):
                log(f"  speed: {dtype} {shape[0]}x{shape[1]} {check} ({n} rounds)")
                item = _item(shape, dtype, check)
                times: dict[str, list] = {k: [] for k in workers}
                status: dict[str, str] = {}
                order = list(workers)
                for r in range(n + 1):  # round 0 is the warm-up
                    rot = order[r % len(order):] + order[:r % len(order)]
                    for name in rot:
                        if name in status:
                            continue
                        res = workers[name].run([item])[0].checks.get(check, {})
                        if res.get("status") != "ok":
                            status[name] = (f"{res.get('status')}: "
                                            f"{res.get('reason') or res.get('message') or ''}")[:160]
                            continue
                        if r:
                            times[name].append(res["seconds"])
                best = {k: min(v) for k, v in times.items() if v}
                fastest = min(best.values()) if best else float("nan")
                entry["checks"][check] = {
                    "times_s": {k: [round(t, 6) for t in v] for k, v in times.items() if v},
                    "best_s": best, "vs_fastest": {k: v / fastest for k, v in best.items()},
                    "not_run": status}
            out["shapes"].append(entry)
    finally:
        for w in workers.values():
            w.close()
    return out


def render(res: dict) -> str:
    from benchmarks.lib import table

    lines = [__doc__.split("\n\n", 1)[1].strip().replace("\n", " "), "",
             f"Workers started in {res['start_s']:.1f} s (all at once). Cells: best time in ms, "
             "then the ratio to the fastest framework of that column in bold.", ""]
    fws = sorted(res["versions"])
    cols, data = [], {}
    for e in res["shapes"]:
        for check, c in e["checks"].items():
            col = f"{e['dtype']} {e['shape'][0]}x{e['shape'][1]} {'fwd' if check == 'forward' else 'fwd+bwd'}"
            cols.append(col)
            for fw in fws:
                if fw in c["best_s"]:
                    data[(fw, col)] = f"{1e3 * c['best_s'][fw]:.3g} (**{c['vs_fastest'][fw]:.1f}x**)"
                else:
                    data[(fw, col)] = c["not_run"].get(fw, "-").split(":")[0]
    rows = [[f"{fw} {res['versions'].get(fw, '')}"] + [data.get((fw, col), "-") for col in cols]
            for fw in fws]
    lines += [table(["framework"] + cols, rows), ""]
    notes = {}
    for e in res["shapes"]:
        for check, c in e["checks"].items():
            for fw, why in c["not_run"].items():
                notes.setdefault(f"{fw}: {why}", []).append(f"{e['dtype']} {check}")
    if notes:
        lines += ["Not run: " + "; ".join(f"{k} ({', '.join(v)})" for k, v in notes.items()), ""]
    return "\n".join(lines)
