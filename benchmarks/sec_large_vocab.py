"""Section `large-vocab`: cases/large-vocab.yaml (LM-head sized class counts) through the harness.

1. What the CLI's size check (`harness.cli._check_size`) estimates for each case, for 1 and 2
   frameworks, against the memory available now: accepted or refused.
2. The cases it accepts, run a few adapters at a time (`benchmarks/grid_run.py`, one process per
   run, --timeout large), one case size per run so that the peak memory of each process (parent
   and each adapter's worker, polled from /proc) belongs to one size; wall time per run.
   The machine is shared: a watchdog (`lib.ProcMonitor`) SIGKILLs a worker whose RSS passes
   `WORKER_CAP`, as the kernel's OOM killer would, and the biggest process if MemAvailable falls
   under `FLOOR`; what the harness then records (`crash`) is reported.
3. From the measured peaks, per byte of input, what the refused cases would need.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from benchmarks.lib import gib, meminfo, table, wait_for_quiet
from benchmarks.sec_harness import grid_run

GRID = "cases/large-vocab.yaml"
WORKER_CAP = 8 << 30
FLOOR = 3 << 30
QUICK_GRID_TEXT = """description: toy large-vocab grid for the smoke test
defaults: {axis: -1, label: hard, checks: [forward, grad]}
blocks:
  - grid: {shape: [[8, 3000]], dtype: [float32], reduction: [mean]}
"""


def _case_bytes(c) -> int:
    import numpy as np

    from harness.dtypes import fmt

    n = 1
    for d in c.params["shape"]:
        n *= d
    return n * np.dtype(fmt(c.params["dtype"]).carrier).itemsize


def estimates(grid: str) -> list[dict]:
    from harness.cases import load_cases
    from harness.cli import UsageError, _available_memory, _check_size

    out = []
    avail = _available_memory() or 0
    for c in load_cases([grid]):
        row = {"case": c.id, "shape": c.params["shape"], "dtype": c.params["dtype"],
               "input_bytes": _case_bytes(c), "available": avail}
        for n in (1, 2):
            try:
                _check_size([c], n)
                row[f"check_{n}"] = "accepted"
            except UsageError as e:
                row[f"check_{n}"] = "refused"
                row[f"message_{n}"] = str(e)
            row[f"estimate_{n}"] = _case_bytes(c) * (4 + 4 * n)
        out.append(row)
    return out


DEFAULT_SIZES = ("1024x50257",)  # 2048x50257 needs ~16 GiB in the parent alone


def run(quick: bool = False, groups: list[str] | None = None, tmp: Path | None = None,
        log=print, sizes: list[str] | None = None, top: int = 0) -> dict:
    """`sizes`: which shapes (NxC) to run (default DEFAULT_SIZES; "all" for every one the CLI
    accepts); `top`: reproducers in report.md (0: they embed the whole inputs, see render)."""
    grid = GRID
    if quick:
        grid = str(tmp / "large-vocab-toy.yaml")
        Path(grid).write_text(QUICK_GRID_TEXT)
    groups = groups or (["numpy"] if quick else ["torch,numpy"])
    est = estimates(grid)
    res = {"grid": grid, "estimates": est, "runs": [], "worker_cap": WORKER_CAP, "floor": FLOOR,
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
        n = len(group.split(","))
        for size in sizes + [s for s in every if s not in sizes and all(
                e[f"check_{n}"] == "refused" for e in est if "x".join(map(str, e["shape"])) == s)]:
            ids = [e["case"] for e in est if "x".join(map(str, e["shape"])) == size]
            ok = [e for e in est if e["case"] in ids and e[f"check_{n}"] == "accepted"]
            if not ok:
                res["runs"].append({"frameworks": group, "size": size, "refused": True,
                                    "cases": ids})
                continue
            wait_for_quiet(quiet=quick)
            log(f"  large-vocab: {size} ({len(ok)} cases) with {group}")
            out = tmp / f"lv-{group.replace(',', '-')}-{size}"
            s = grid_run(grid, out, group, timeout_case=1800, wall_limit=3600,
                         extra=sum((["--cases", e["case"]] for e in ok), []) + ["--top", str(top)],
                         interval=0.1, per_process_limit=WORKER_CAP, floor_bytes=FLOOR)
            r = {"frameworks": group, "size": size, "cases": [e["case"] for e in ok],
                 "input_bytes": max(e["input_bytes"] for e in ok),
                 "wall_s": s.get("outside_wall_s"), "rc": s.get("rc"),
                 "breakdown": s.get("breakdown"), "finalize_s": s.get("finalize_s"),
                 "memory": s.get("outside_memory"), "verdicts": {}, "events": s.get("events", []),
                 "busy_s": s.get("busy_s"), "tail": s.get("output_tail", "")}
            rj = out / "results.json"
            if rj.exists():
                for rec in json.loads(rj.read_text())["results"]:
                    r["verdicts"][f"{rec['framework']} {rec['check']} {rec['case']}"] = (
                        rec["verdict"] + (f": {rec['detail'][:200]}" if rec["verdict"] in
                                          ("crash", "timeout", "error", "unsupported") else ""))
            res["runs"].append(r)
    res["model"] = _model(res)
    return res


def _model(res: dict) -> dict:
    """Peak RSS per byte of input, per role (parent, each adapter), from the largest run of each."""
    per = {}
    for r in res["runs"]:
        if r.get("refused") or not r.get("memory"):
            continue
        killed = {k["pid"] for k in r["memory"].get("kills", [])}
        for p in r["memory"]["processes"]:
            if p["pid"] in killed:
                continue
            role = p["name"]
            f = p["peak_rss"] / r["input_bytes"]
            if r["input_bytes"] >= per.get(role, {}).get("input_bytes", 0):
                per[role] = {"bytes_per_input_byte": f, "input_bytes": r["input_bytes"],
                             "size": r["size"], "peak_rss": p["peak_rss"]}
    return per


def targets(res: dict, quick: bool) -> list[dict]:
    big = [e for e in res["estimates"] if e["input_bytes"] >= 4 << 30]
    out = []
    for e in big:
        out.append({"name": f"{e['case']} runs (torch)", "value": e["check_1"],
                    "target": "runs within 24 GiB", "met": None if quick else
                    e["check_1"] == "accepted"})
    return out


def render(res: dict) -> str:
    avail = res["estimates"][0]["available"] if res["estimates"] else 0
    lines = [f"Grid `{res['grid']}`; {gib(res['mem_total'])} RAM, {gib(avail)} available at the "
             f"start. `_check_size` estimates input bytes x (4 + 4 x frameworks), input bytes in "
             "the dtype's carrier (bfloat16 travels as float32).", ""]
    rows = []
    for e in res["estimates"]:
        rows.append([e["case"], gib(e["input_bytes"]), gib(e["estimate_1"]), e["check_1"],
                     gib(e["estimate_2"]), e["check_2"]])
    lines += [table(["case", "input", "estimate, 1 fw", "CLI", "estimate, 2 fw", "CLI"], rows), ""]
    for e in res["estimates"]:
        if e.get("message_1"):
            lines += [f"Refusal message: `{e['message_1']}`", ""]
            break
    lines += [f"Runs of the sizes {', '.join(res.get('sizes', []))} (others: `benchmarks/run.py "
              "--only large-vocab --large-vocab-sizes all`), with `top="
              f"{res.get('top')}` reproducers (the CLI's default 15 embeds each reproducer's whole "
              "inputs in report.md, zlib+base64: gigabytes at these sizes). Watchdog: a worker "
              f"above {gib(res['worker_cap'])} RSS is SIGKILLed, like an OOM kill; the biggest "
              f"process if MemAvailable < {gib(res['floor'])}.", ""]
    rows = []
    for r in res["runs"]:
        if r.get("refused"):
            rows.append([r["frameworks"], r["size"], "refused by the CLI", "", "", ""])
            continue
        mem = r.get("memory") or {"processes": [], "kills": [], "peak_total_rss": 0}
        peaks = ", ".join(f"{p['name']} {gib(p['peak_rss'])}" for p in mem["processes"]
                          if p["peak_rss"] > 50 << 20)
        kills = "; ".join(f"{k['cmd'].split()[-3] if 'worker' in k['cmd'] else 'pid ' + str(k['pid'])}"
                          f": {k['why']}" for k in mem["kills"])
        vc = {}
        for v in r["verdicts"].values():
            vc[v.split(":")[0]] = vc.get(v.split(":")[0], 0) + 1
        rows.append([r["frameworks"], r["size"], f"{r['wall_s']:.1f}" if r.get("wall_s") else "-",
                     peaks + f"; total {gib(mem['peak_total_rss'])}",
                     ", ".join(f"{k} {n}" for k, n in sorted(vc.items())), kills or "none"])
    lines += [table(["adapters", "size", "wall (s)", "peak RSS per process", "verdicts",
                     "watchdog kills"], rows), ""]
    odd = {k: v for r in res["runs"] for k, v in r.get("verdicts", {}).items()
           if not v.startswith(("pass", "divergent", "mismatch"))}
    if odd:
        lines += ["Results other than pass/divergent/mismatch:", ""]
        lines += [f"- {k}: {v}" for k, v in sorted(odd.items())] + [""]
    for r in res["runs"]:
        b = r.get("breakdown")
        if b:
            lines.append(f"- {r['frameworks']} {r['size']}: " + ", ".join(
                f"{k} {v:.1f}" for k, v in b.items() if k != "reporting")
                + f", reporting {r['finalize_s']:.1f} s; framework calls: " + ", ".join(
                f"{k} {v:.1f}" for k, v in (r.get("busy_s") or {}).items()))
    lines.append("")
    if res.get("model"):
        lines += ["Measured peak RSS per byte of input (largest run of each process):", ""]
        lines += [table(["process", "peak / input bytes", "measured at", "peak"],
                        [[k, f"{v['bytes_per_input_byte']:.1f}", v["size"], gib(v["peak_rss"])]
                         for k, v in sorted(res["model"].items())]), ""]
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(estimates(GRID), indent=1))
    print(os.getpid())
