"""Section `large-vocab`: cases/large-vocab.yaml (LM-head sized class counts) through the harness.

1. What the CLI's size check (`harness.cli._check_size`) says for each case against the memory
   available now: for a streamed case it counts what the harness itself holds (the logits in
   their carrier, as a file it maps, plus blocks); each framework's own need is checked in its
   worker before the call (`Adapter.memory_reason`), so one that cannot fit is `unsupported`.
2. The requested sizes (default 8192 x 128000, float32 and bfloat16, `none` and `mean`, forward
   and gradient), run with a group of adapters (`benchmarks/grid_run.py`, one process per run).
   Memory is measured from /proc every 0.1 s: each process's peak RSS (VmHWM: it includes the
   pages of the mapped input and result files, shared between processes and reclaimable) and
   peak RssAnon (its own memory), and the machine's MemAvailable at the start and at its lowest:
   their difference is what the run took from the machine at its worst. A watchdog
   (`lib.ProcMonitor`) SIGKILLs the biggest process if MemAvailable falls under `FLOOR`, as the
   kernel's OOM killer would; the harness then records `crash`.
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.lib import gib, meminfo, table, wait_for_quiet
from benchmarks.sec_harness import grid_run

GRID = "cases/large-vocab.yaml"
FLOOR = 1 << 30
QUICK_GRID_TEXT = """description: toy large-vocab grid for the smoke test
defaults: {axis: -1, label: hard, checks: [forward, grad]}
blocks:
  - grid: {shape: [[8, 3000]], dtype: [float32], reduction: [mean]}
"""


def _case_bytes(c) -> int:  # the logits in their carrier (bfloat16 travels as float32)
    import numpy as np

    from harness.dtypes import fmt

    n = 1
    for d in c.params["shape"]:
        n *= d
    return n * np.dtype(fmt(c.params["dtype"]).carrier).itemsize


def estimates(grid: str) -> list[dict]:
    from harness.cli import UsageError, _available_memory, _check_size
    from harness.cases import load_cases

    out = []
    avail = _available_memory() or 0
    for c in load_cases([grid]):
        row = {"case": c.id, "shape": c.params["shape"], "dtype": c.params["dtype"],
               "reduction": c.params["reduction"], "input_bytes": _case_bytes(c),
               "available": avail}
        try:
            _check_size([c], 1)
            row["check"] = "accepted"
        except UsageError as e:
            row["check"], row["message"] = "refused", str(e)
        out.append(row)
    return out


DEFAULT_SIZES = ("8192x128000",)
ALL_GROUPS = ("torch,numpy", "paddle", "optax", "tf.nn", "keras", "onnxruntime")


def run(quick: bool = False, groups: list[str] | None = None, tmp: Path | None = None,
        log=print, sizes: list[str] | None = None, top: int = 15) -> dict:
    """`sizes`: which shapes (NxC) to run (default DEFAULT_SIZES; "all" for every one);
    `groups`: adapter groups, one run each (default torch with numpy)."""
    grid = GRID
    if quick:
        grid = str(tmp / "large-vocab-toy.yaml")
        Path(grid).write_text(QUICK_GRID_TEXT)
    groups = groups or (["numpy"] if quick else ["torch,numpy"])
    est = estimates(grid)
    res = {"grid": grid, "estimates": est, "runs": [], "floor": FLOOR,
           "mem_total": meminfo().get("MemTotal", 0)}
    every = []
    for e in est:
        key = "x".join(map(str, e["shape"]))
        if key not in every:
            every.append(key)
    if quick or sizes == ["all"]:
        sizes = every
    else:
        sizes = [s for s in (sizes or DEFAULT_SIZES) if s in every]
    res["sizes"], res["top"] = sizes, top
    for group in groups:
        for size in sizes:
            ok = [e for e in est if "x".join(map(str, e["shape"])) == size
                  and e["check"] == "accepted"]
            if not ok:
                res["runs"].append({"frameworks": group, "size": size, "refused": True})
                continue
            wait_for_quiet(quiet=quick)
            log(f"  large-vocab: {size} ({len(ok)} cases) with {group}")
            out = tmp / f"lv-{group.replace(',', '-')}-{size}"
            s = grid_run(grid, out, group, timeout_case=3600, wall_limit=7200,
                         extra=sum((["--cases", e["case"]] for e in ok), []) + ["--top", str(top)],
                         interval=0.1, floor_bytes=FLOOR)
            r = {"frameworks": group, "size": size, "cases": [e["case"] for e in ok],
                 "input_bytes": max(e["input_bytes"] for e in ok),
                 "wall_s": s.get("outside_wall_s"), "rc": s.get("rc"),
                 "breakdown": s.get("breakdown"), "finalize_s": s.get("finalize_s"),
                 "memory": s.get("outside_memory"), "verdicts": {}, "events": s.get("events", []),
                 "busy_s": s.get("busy_s"), "tail": s.get("output_tail", "")}
            rj, rm = out / "results.json", out / "report.md"
            if rj.exists():
                for rec in json.loads(rj.read_text())["results"]:
                    r["verdicts"][f"{rec['framework']} {rec['check']} {rec['case']}"] = (
                        rec["verdict"] + (f": {rec['detail'][:300]}" if rec["verdict"] != "pass"
                                          else f" ({rec['max_ulp']:.3g} ULP, bound "
                                               f"{rec['bound_ulp']:.3g})"))
            if rm.exists():
                r["report_md_bytes"] = rm.stat().st_size
            res["runs"].append(r)
    return res


def targets(res: dict, quick: bool) -> list[dict]:
    out = []
    total = res.get("mem_total", 0)
    for r in res["runs"]:
        if r.get("refused") or "torch" not in r["frameworks"].split(","):
            continue
        mem = r.get("memory") or {}
        use = mem.get("peak_machine_use", 0)
        for case in r["cases"]:
            if "8192x128000" not in case:
                continue
            vs = [v for k, v in r["verdicts"].items() if k.startswith("torch ") and case in k]
            ran = len(vs) == 2 and all(v.startswith(("pass", "divergent", "mismatch")) for v in vs)
            out.append({"name": f"{case}: torch forward and gradient judged, without a kill",
                        "value": "; ".join(v.split(":")[0] for v in vs) or "not run",
                        "target": f"runs within {total / 2**30:.0f} GiB",
                        "met": None if quick else (ran and not mem.get("kills"))})
        out.append({"name": f"{r['size']} with {r['frameworks']}: memory taken from the machine "
                            "at the worst moment (MemAvailable at start - lowest)",
                    "value": f"{use / 2**30:.1f} GiB", "target": "< 24 GiB",
                    "met": None if quick else use < (24 << 30)})
        unsup = [k for k, v in r["verdicts"].items() if v.startswith("unsupported")
                 and "needs about" in v]
        if unsup:
            out.append({"name": f"{r['size']}: frameworks that cannot fit are recorded "
                                "`unsupported` with the figures", "value": len(unsup),
                        "target": "unsupported, not crash", "met": None if quick else not any(
                            v.startswith("crash") for v in r["verdicts"].values())})
    return out


def render(res: dict) -> str:
    avail = res["estimates"][0]["available"] if res["estimates"] else 0
    lines = [f"Grid `{res['grid']}`; {gib(res['mem_total'])} RAM, {gib(avail)} available at the "
             "start. The CLI's size check (`harness.cli._check_size`) for each case:", ""]
    rows = [[e["case"], gib(e["input_bytes"]), e["check"]] for e in res["estimates"]]
    lines += [table(["case", "input (carrier)", "CLI"], rows), ""]
    lines += [f"Runs of {', '.join(res.get('sizes', []))} ({res.get('top')} reproducers in "
              "report.md: a large case's reproducer regenerates its inputs from the seed instead "
              f"of embedding them). Watchdog: the biggest process is SIGKILLed if MemAvailable < "
              f"{gib(res['floor'])}. Memory: peak RssAnon (own memory) and peak VmHWM (with the "
              "mapped files) per process; machine = MemAvailable at start - lowest MemAvailable.",
              ""]
    rows = []
    for r in res["runs"]:
        if r.get("refused"):
            rows.append([r["frameworks"], r["size"], "refused by the CLI", "", "", "", ""])
            continue
        mem = r.get("memory") or {"processes": [], "kills": []}
        peaks = ", ".join(f"{p['name']} {gib(p.get('peak_anon', 0))} ({gib(p['peak_rss'])})"
                          for p in mem["processes"] if p["peak_rss"] > 50 << 20)
        kills = "; ".join(f"pid {k['pid']}: {k['why']}" for k in mem.get("kills", []))
        vc = {}
        for v in r["verdicts"].values():
            vc[v.split(":")[0].split(" (")[0]] = vc.get(v.split(":")[0].split(" (")[0], 0) + 1
        rows.append([r["frameworks"], r["size"], f"{r['wall_s']:.0f}" if r.get("wall_s") else "-",
                     peaks, gib(mem.get("peak_machine_use", 0)),
                     ", ".join(f"{k} {n}" for k, n in sorted(vc.items())), kills or "none"])
    lines += [table(["adapters", "size", "wall (s)", "peak RssAnon (VmHWM) per process",
                     "machine", "verdicts", "watchdog kills"], rows), ""]
    for r in res["runs"]:
        if r.get("refused"):
            continue
        lines += [f"{r['frameworks']}, {r['size']}:", ""]
        lines += [f"- {k}: {v}" for k, v in sorted(r["verdicts"].items())]
        b = r.get("breakdown")
        if b:
            lines.append("- seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in b.items()
                                                   if k != "reporting")
                         + f", reporting {r['finalize_s']:.1f}; framework calls: " + ", ".join(
                             f"{k} {v:.1f}" for k, v in (r.get("busy_s") or {}).items())
                         + (f"; report.md {r['report_md_bytes'] / 1024:.0f} KiB"
                            if r.get("report_md_bytes") else ""))
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(estimates(GRID), indent=1))
