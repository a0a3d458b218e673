"""Sections on the harness itself: `overhead` (Timing breakdown and wall time of the default grid
with every adapter), `profile` (where the parent spends its time, cProfile), `scale` (the default
grid against a 10x grid), `shard` (run --shard K/N + merge against an unsharded run) and `xdist`
(pytest -n 2 on the smoke grid against a serial pytest run).

Every run is a separate process (`benchmarks/grid_run.py`, or the CLI, or pytest), timed from
outside, with its processes' memory and CPU polled from /proc.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from benchmarks.lib import PY, ROOT, gib, run_monitored, table, wait_for_quiet

GRID_RUN = str(ROOT / "benchmarks" / "grid_run.py")


def grid_run(grid: str | list[str], out: Path, frameworks: str = "", shard: str | None = None,
             profile: Path | None = None, timeout_case: float = 120.0, wall_limit: float = 1800,
             extra: list[str] = (), **monitor_kw) -> dict:
    """One instrumented run of `grid` in a subprocess; its summary plus the outside view."""
    out.mkdir(parents=True, exist_ok=True)
    js = out / "summary.json"
    grids = [grid] if isinstance(grid, str) else list(grid)
    cmd = [PY, GRID_RUN, "--out", str(out), "--json", str(js), "--timeout", str(timeout_case)]
    for g in grids:
        cmd += ["--grid", g]
    if frameworks:
        cmd += ["--frameworks", frameworks]
    if shard:
        cmd += ["--shard", shard]
    if profile:
        cmd += ["--profile", str(profile)]
    cmd += list(extra)
    t0 = time.time()
    res = run_monitored(cmd, timeout=wall_limit, **monitor_kw)
    summary = json.loads(js.read_text()) if js.exists() else {}
    summary["outside_wall_s"] = res["wall_s"]
    summary["rc"] = res["rc"]
    summary["started"] = t0
    summary["outside_memory"] = res["memory"]
    if res["rc"] != 0 or not summary.get("complete", "refused" in summary):
        summary["output_tail"] = res["output"][-3000:]
    return summary


# -- overhead ---------------------------------------------------------------------------------------
PARENT_ONLY = ("imports", "generation", "comparison")


def overhead_figures(s: dict) -> dict:
    """The ratios of section 2 from a grid_run summary (see render_overhead for the definitions)."""
    b = s["breakdown"]
    wall_total = s["outside_wall_s"]
    reporting = s["finalize_s"]
    fw_sum = sum(s["busy_s"].values())
    n_workers = len(s["busy_s"])
    nproc = s.get("nproc") or os.cpu_count() or 1
    rest = wall_total - b["imports"] - b["wall"] - reporting  # interpreter, imports, plan, close
    parent_only = b["imports"] + b["generation"] + b["comparison"] + reporting + max(rest, 0.0)
    procs = s["memory"]["processes"]
    worker_cpu = sum(p["cpu_s"] for p in procs if p["name"] != "parent")
    parent_cpu = sum(p["cpu_s"] for p in procs if p["name"] == "parent")
    return {
        "wall_total_s": wall_total,
        "engine_run_s": b["wall"],
        "reporting_s": reporting,
        "other_s": rest,
        "framework_calls_sum_s": fw_sum,
        "framework_calls_stored_s": b["framework_calls"],
        "naive_ratio": (fw_sum + b["reference"]) / wall_total,
        "critical_path_ratio": (wall_total - parent_only) / wall_total,
        "engine_ratio": (b["wall"] - b["generation"] - b["comparison"]) / b["wall"],
        "busiest_worker_ratio": (max(s["busy_s"].values()) + b["reference"]) / wall_total
        if s["busy_s"] else 0.0,
        "utilisation": (worker_cpu + parent_cpu) / (wall_total * nproc),
        "barrier_path_s": s.get("barrier_path_s"),
        "barrier_free_path_s": s.get("barrier_free_path_s"),
        "union_ratio": s["busy_union_s"] / wall_total if s.get("busy_union_s") else None,
        "union_run_ratio": s["busy_union_s"] / b["wall"] if s.get("busy_union_s") else None,
        "worker_cpu_s": worker_cpu,
        "parent_cpu_s": parent_cpu,
        "n_workers": n_workers,
        "nproc": nproc,
    }


_IMPORT_ONE = ("import sys, time; t = time.perf_counter(); "
               "[__import__(m) for m in sys.argv[1:]]; print(time.perf_counter() - t)")


def imports_alone(frameworks: str = "", log=print) -> dict:
    """Each framework's import, timed alone in a fresh process of its own, one after the other
    (seconds inside the process: the interpreter's own start is left out): the modules an adapter
    imports (`Adapter.module` and `requires`), once per distinct set, numpy left out (the parent
    has it too). The denominator of the wall-time targets: what a run cannot avoid paying."""
    from harness.adapters import load_class
    from harness.cli import _default_frameworks
    from harness.runner import adapter_specs

    names = [n for n in frameworks.split(",") if n] or _default_frameworks()
    sets = {}
    for spec in adapter_specs(names):
        cls = load_class(spec.ref)
        mods = tuple(dict.fromkeys((*cls.requires, cls.module)))
        if mods != ("numpy",):
            sets.setdefault(mods, spec.name)
    out = {}
    for mods, name in sets.items():
        res = subprocess.run([PY, "-c", _IMPORT_ONE, *mods], capture_output=True, text=True,
                             timeout=600, cwd=ROOT)
        try:
            out["+".join(mods)] = float(res.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            out["+".join(mods)] = None
        log(f"  import {'+'.join(mods)} alone: {out['+'.join(mods)]} s")
    return {"seconds": out, "sum_s": sum(v for v in out.values() if v)}


def overhead(quick: bool = False, frameworks: str = "", tmp: Path | None = None, log=print,
             profile: bool = False) -> dict:
    """The default grid with every adapter, twice: with an empty jax compilation cache (a first
    run, what a fresh CI machine sees) and again with the cache the first run filled."""
    grid = "cases/smoke.yaml" if quick else "cases/default.yaml"
    frameworks = frameworks or ("numpy" if quick else "")
    cache = tmp / "jax-cache"
    shutil.rmtree(cache, ignore_errors=True)
    old = os.environ.get("XENT_PARITY_JAX_CACHE")
    os.environ["XENT_PARITY_JAX_CACHE"] = str(cache)
    try:
        res = {"grid": grid}
        if not quick and not profile:
            wait_for_quiet()
            res["imports_alone"] = imports_alone(frameworks, log)
        for label in (("cold",) if profile or quick else ("cold", "warm")):
            load = wait_for_quiet(quiet=quick)
            log(f"  overhead ({label} jax cache): {grid} with {frameworks or 'every adapter'}"
                f"{' (cProfile)' if profile else ''}")
            prof = (tmp / "profile.txt") if profile else None
            s = grid_run(grid, tmp / (("profile" if profile else "overhead") + "-" + label),
                         frameworks, profile=prof)
            run = {"load": load, "summary": _slim(s)}
            if s.get("breakdown"):
                run["figures"] = overhead_figures(s)
            if prof and prof.exists():
                run["profile_top"] = _profile_top(prof.read_text())
                shutil.copy(prof, ROOT / "benchmarks" / "profile-default-grid.txt")
            if label == "cold":  # the figures of record: a first run
                res.update(run)
            else:
                res["warm"] = run
    finally:
        if old is None:
            os.environ.pop("XENT_PARITY_JAX_CACHE", None)
        else:
            os.environ["XENT_PARITY_JAX_CACHE"] = old
    return res


def _slim(s: dict) -> dict:
    s = dict(s)
    evs = s.pop("events", [])
    s["n_events"] = len(evs)
    s["event_kinds"] = sorted({e.get("event", "") for e in evs})
    return s


def _profile_top(text: str, n: int = 25) -> list[str]:
    """The first `n` rows of the cumulative listing, paths shortened."""
    rows, on = [], False
    for line in text.splitlines():
        if line.strip().startswith("ncalls"):
            if on:
                break
            on = True
            continue
        if on and line.strip():
            rows.append(re.sub(r"\S*/(site-packages|harness|reference|benchmarks|lib/python3\.\d+)/",
                               r"\1/", line.rstrip()))
        if len(rows) >= n:
            break
    return rows


def overhead_targets(res: dict, quick: bool) -> list[dict]:
    f = res.get("figures")
    if not f:
        return [{"name": "harness overhead run", "value": "failed", "target": "completes",
                 "met": False}]
    q = None if quick else True
    out = [
        {"name": "(framework calls + reference) / wall: time in which at least one framework call "
                 "or the parent's reference runs (union of intervals) / wall, first run",
         "value": f.get("union_ratio"), "target": ">= 0.75",
         "met": (f.get("union_ratio") is not None and f["union_ratio"] >= 0.75) if q else None},
        {"name": "the same, parent-only work assumed never to overlap: (wall - parent-only work) "
                 "/ wall (a lower bound)",
         "value": f["critical_path_ratio"], "target": "(informative)", "met": None},
        {"name": "per-worker definition, (busiest worker's calls + reference) / wall",
         "value": f["busiest_worker_ratio"], "target": "(informative)", "met": None},
        {"name": "default grid, every adapter, forward and gradient: wall time (s), first run",
         "value": f["wall_total_s"], "target": "<= 120 s",
         "met": (f["wall_total_s"] <= 120) if q else None},
    ]
    imp = (res.get("imports_alone") or {}).get("sum_s")
    w = (res.get("warm") or {}).get("figures")
    if imp:
        out.append({"name": "default grid, first run (jax cache empty): process wall / the sum of "
                            "the framework imports timed alone in the same run "
                            f"({imp:.1f} s)",
                    "value": round(f["wall_total_s"] / imp, 2), "target": "<= 2",
                    "met": f["wall_total_s"] / imp <= 2 if q else None})
        if w:
            out.append({"name": "default grid, warm (jax cache filled): process wall / the same "
                                "sum of imports",
                        "value": round(w["wall_total_s"] / imp, 2), "target": "<= 1.2",
                        "met": w["wall_total_s"] / imp <= 1.2 if q else None})
            per = harness_ms_per_result(res["warm"], imp)
            if per is not None:
                out.append({"name": "harness work per result, warm run (ms): the parent's CPU "
                                    "seconds less its reference, / results",
                            "value": round(per, 2), "target": "<= 1 ms",
                            "met": per <= 1 if q else None})
    if w:
        out += [
            {"name": "the same run again, jax's compilation cache filled: wall time (s)",
             "value": w["wall_total_s"], "target": "<= 120 s",
             "met": (w["wall_total_s"] <= 120) if q else None},
            {"name": "the same run again: union of framework calls and reference / wall",
             "value": w.get("union_ratio"), "target": "(informative: frameworks got faster, the "
             "harness did not)", "met": None},
        ]
    return out


def harness_ms_per_result(run: dict, imports_s: float | None = None) -> float | None:
    """Milliseconds of harness work per result: the parent's CPU seconds (its start, the plan,
    generating inputs, sending and reading batches, judging, the checkpoint, the reports) less the
    reference it computes, per result. The workers' side is left out: their CPU seconds are mostly
    the framework calls, whose seconds are wall time (with eight workers on two cores they include
    waiting for a core), so a difference of the two would say nothing."""
    f, s = run.get("figures"), run.get("summary") or {}
    if not f or not s.get("results"):
        return None
    work = f["parent_cpu_s"] - s["breakdown"]["reference"]
    return 1000.0 * max(work, 0.0) / s["results"]


def render_overhead(res: dict) -> str:
    s, f = res["summary"], res.get("figures")
    if not f:
        return f"Run failed: rc {s.get('rc')}\n\n```\n{s.get('output_tail', '')}\n```\n"
    b = s["breakdown"]
    lines = [f"`harness.orchestrate.execute` on `{res['grid']}` with "
             f"{', '.join(s['frameworks'])} ({s['cases']} cases, {s['results']} results: "
             + ", ".join(f"{k} {v}" for k, v in sorted(s["verdicts"].items()))
             + f"), in its own process (`benchmarks/grid_run.py`); load average "
             f"{res['load']['load_before']} before.", ""]
    rows = [[k, f"{v:.2f}"] for k, v in b.items() if k != "reporting"]
    rows.append(["reporting (finalize: results.json, figures, report.md)", f"{f['reporting_s']:.2f}"])
    rows.append(["other (interpreter and harness imports, plan, closing the workers)",
                 f"{f['other_s']:.2f}"])
    rows.append(["**wall, whole process (outside view)**", f"**{f['wall_total_s']:.2f}**"])
    lines += [table(["Timing breakdown", "seconds"], rows), ""]
    lines += ["Notes: `imports` is the workers' start-up (frameworks imported concurrently); "
              "`transfer_and_wait` is the parent sending a batch and waiting for each worker's "
              "answers; `framework_calls` sums the seconds every worker spent in its adapter's "
              "calls, so with several workers at once it can exceed the wall time; `reporting` is "
              "measured around `finalize` (results.json records "
              f"{s['stored_breakdown'].get('reporting')} s: up to the figures, before report.md "
              "is rendered and the files written).", ""]
    rows = [[fw, f"{t:.2f}", s["calls"].get(fw, 0)] for fw, t in
            sorted(s["busy_s"].items(), key=lambda kv: -kv[1])]
    lines += [table(["adapter", "framework-call seconds", "calls"], rows), ""]
    mem = s["memory"]["processes"]
    rows = [[p["name"], p["cpu_s"], gib(p["peak_rss"])] for p in mem]
    lines += [table(["process", "CPU seconds", "peak RSS"], rows), ""]
    lines += [
        "Ratios (the target applies to the union):", "",
        table(["definition", "value"], [
            ["(sum of framework calls + reference) / wall, literally: overlapping workers "
             "make it exceed 1, so it says nothing about overhead",
             f"{f['naive_ratio']:.2f}"],
            ["**union**: the wall time in which at least one framework call (in any worker) or "
             "the parent's reference runs, from the calls' start times on the system-wide "
             "monotonic clock, / wall", "**" + (f"{f['union_ratio']:.2f}" if f.get("union_ratio")
                                                 else "n/a") + "**"],
            ["the same inside `Engine.run`: union / run", f"{f['union_run_ratio']:.2f}"
             if f.get("union_run_ratio") else "n/a"],
            ["(wall - parent-only work) / wall, parent-only work = worker start-up + generation "
             "+ comparison + reporting + other, as if none of it overlapped the workers (since "
             "batch k+1 is sent before batch k is judged, the comparison does): a lower bound",
             f"{f['critical_path_ratio']:.2f}"],
            ["the same inside `Engine.run` only: (run - generation - comparison) / run",
             f"{f['engine_ratio']:.2f}"],
            ["per worker: (busiest worker's framework calls + reference) / wall",
             f"{f['busiest_worker_ratio']:.2f}"],
            [f"machine utilisation: CPU seconds of all processes / (wall x {f['nproc']} cores)",
             f"{f['utilisation']:.2f}"],
        ]), ""]
    if f.get("barrier_path_s") is not None:
        lines += [f"Batches: two are in flight (batch k+1 is sent to every worker before batch k is "
                  f"judged). The sum over batches of the slowest worker's time in each is "
                  f"{f['barrier_path_s']:.1f} s; the busiest worker's total "
                  f"{f['barrier_free_path_s']:.1f} s.", ""]
    w = res.get("warm")
    if w and w.get("figures"):
        wf, ws = w["figures"], w["summary"]
        lines += [f"**The same run again**, with the jax compilation cache the first run filled "
                  f"(load average {w['load']['load_before']} before): wall "
                  f"**{wf['wall_total_s']:.1f} s**; union ratio "
                  + (f"{wf['union_ratio']:.2f}" if wf.get("union_ratio") else "n/a")
                  + "; framework-call seconds: " + ", ".join(
                      f"{fw} {t:.1f}" for fw, t in sorted(ws["busy_s"].items(),
                                                         key=lambda kv: -kv[1])) + ". "
                  "With optax no longer compiling, every framework takes a few seconds and the "
                  "harness's own work (start-up, comparison, reporting) is the larger share.", ""]
    if res.get("profile_top"):
        lines += ["Timed under cProfile: the parent's figures above are inflated by the profiler "
                  "(section 2-3 has the figures without it).", ""]
        lines += ["cProfile of the parent (cumulative, top rows; full listing in "
                  "`benchmarks/profile-default-grid.txt`):", "", "```"] + res["profile_top"] + [
                      "```", ""]
    return "\n".join(lines)


# -- scale: the default grid against the 10x grid -----------------------------------------------------
def scale(quick: bool = False, frameworks: str = "torch,paddle", tmp: Path | None = None,
          log=print) -> dict:
    from benchmarks import make_x10

    if not quick:
        make_x10.main([])  # regenerate cases/default-x10.yaml if default.yaml changed
    if quick:
        grids = ("cases/smoke.yaml", None)
        frameworks = "numpy"
    else:
        grids = ("cases/default.yaml", "cases/default-x10.yaml")
    out = {"frameworks": frameworks or "every adapter", "runs": {},
           "jax_cache": "empty at the start of each run (both grids compile every shape)"}
    old = os.environ.get("XENT_PARITY_JAX_CACHE")
    try:
        for g in grids:
            if g is None:
                continue
            cache = tmp / ("jax-cache-" + Path(g).stem)
            shutil.rmtree(cache, ignore_errors=True)
            os.environ["XENT_PARITY_JAX_CACHE"] = str(cache)
            wait_for_quiet(quiet=quick)
            log(f"  scale: {g} with {frameworks or 'every adapter'}")
            s = grid_run(g, tmp / ("scale-" + Path(g).stem), frameworks, wall_limit=3600)
            out["runs"][g] = _slim(s)
    finally:
        if old is None:
            os.environ.pop("XENT_PARITY_JAX_CACHE", None)
        else:
            os.environ["XENT_PARITY_JAX_CACHE"] = old
    runs = list(out["runs"].values())
    if len(runs) == 2 and all(r.get("breakdown") for r in runs):
        a, b = runs
        out["case_ratio"] = b["cases"] / a["cases"]
        out["wall_ratio"] = b["outside_wall_s"] / a["outside_wall_s"]
        fixed = [r["breakdown"]["imports"] + r["startup_s"] for r in runs]
        out["fixed_s"] = fixed
        out["variable_ratio"] = (b["outside_wall_s"] - fixed[1]) / (a["outside_wall_s"] - fixed[0])
        out["engine_ratio"] = b["breakdown"]["wall"] / a["breakdown"]["wall"]
    return out


def render_scale(res: dict) -> str:
    rows = []
    for g, r in res["runs"].items():
        if not r.get("breakdown"):
            rows.append([g, "failed", "", "", "", "", ""])
            continue
        b = r["breakdown"]
        rows.append([g, r["cases"], f"{r['outside_wall_s']:.1f}", f"{b['imports']:.1f}",
                     f"{b['wall']:.1f}", f"{r['finalize_s']:.1f}",
                     f"{b['generation']:.1f} / {b['reference']:.1f} / {b['comparison']:.1f} / "
                     f"{b['transfer_and_wait']:.1f}"])
    lines = [f"Both grids with `{res['frameworks']}`, one after the other, each in its own process.",
             "", table(["grid", "cases", "wall (s)", "worker start-up", "Engine.run",
                        "reporting", "generation / reference / comparison / transfer+wait"], rows), ""]
    if "wall_ratio" in res:
        lines += [f"Cases x{res['case_ratio']:.2f}; wall time x**{res['wall_ratio']:.2f}**; "
                  f"without the fixed start-up (worker start-up + interpreter: "
                  f"{res['fixed_s'][0]:.1f} s and {res['fixed_s'][1]:.1f} s) "
                  f"x{res['variable_ratio']:.2f}; `Engine.run` alone x{res['engine_ratio']:.2f}.",
                  ""]
    return "\n".join(lines)


# -- shard + merge -------------------------------------------------------------------------------------
def shard(quick: bool = False, frameworks: str = "torch,paddle", n: int = 2,
          tmp: Path | None = None, log=print) -> dict:
    grid = "cases/smoke.yaml" if quick else "cases/default.yaml"
    frameworks = "numpy" if quick else frameworks
    cli = [PY, "-m", "harness", "run", grid, "--frameworks", frameworks, "--expectations", ""]
    runs = {}
    wait_for_quiet(quiet=quick)
    for name, extra in [("unsharded", [])] + [(f"shard {k}/{n}", ["--shard", f"{k}/{n}"])
                                              for k in range(1, n + 1)]:
        d = tmp / ("shard-" + name.replace(" ", "").replace("/", "of"))
        shutil.rmtree(d, ignore_errors=True)
        log(f"  shard: {name}")
        r = run_monitored(cli + ["--out", str(d)] + extra, timeout=1800)
        runs[name] = {"dir": str(d), "rc": r["rc"], "wall_s": r["wall_s"],
                      "tail": r["output"][-800:]}
    merged = tmp / "shard-merged"
    shutil.rmtree(merged, ignore_errors=True)
    shards = [str(Path(runs[f"shard {k}/{n}"]["dir"]) / "results.json") for k in range(1, n + 1)]
    r = run_monitored([PY, "-m", "harness", "merge", *shards, "--out", str(merged)], timeout=600)
    runs["merge"] = {"dir": str(merged), "rc": r["rc"], "wall_s": r["wall_s"],
                     "tail": r["output"][-800:]}
    res = {"grid": grid, "frameworks": frameworks, "n": n, "runs": runs}
    try:
        res.update(_compare_runs(Path(runs["unsharded"]["dir"]), merged))
        res["shard_cases"] = [json.loads((Path(runs[f"shard {k}/{n}"]["dir"]) / "results.json")
                                         .read_text())["grid"].get("shard_cases")
                              for k in range(1, n + 1)]
    except (OSError, ValueError, KeyError) as e:
        res["compare_error"] = f"{type(e).__name__}: {e}"
    return res


def _compare_runs(a: Path, b: Path) -> dict:
    da, db = (json.loads((p / "results.json").read_text()) for p in (a, b))
    diff_keys = sorted(k for k in set(da) | set(db) if k != "timing" and da.get(k) != db.get(k))
    body = [(p / "report.md").read_text().split("\n## Run\n")[0] for p in (a, b)]
    return {"results_equal": da["results"] == db["results"], "differing_keys": diff_keys,
            "report_body_equal": body[0] == body[1], "n_results": len(da["results"])}


def render_shard(res: dict) -> str:
    rows = [[k, v["rc"], f"{v['wall_s']:.1f}"] for k, v in res["runs"].items()]
    lines = [f"`xent-parity run {res['grid']} --frameworks {res['frameworks']} --shard K/{res['n']}` "
             f"for each K, one after the other, then `xent-parity merge`, compared with an "
             "unsharded run of the same grid.", "", table(["run", "exit", "wall (s)"], rows), ""]
    if "compare_error" in res:
        lines.append(f"Comparison failed: {res['compare_error']}")
    else:
        lines.append(f"Shard sizes {res.get('shard_cases')}; merged results equal the unsharded "
                     f"run's: **{res['results_equal']}** ({res['n_results']} results); results.json "
                     f"keys that differ besides `timing`: {res['differing_keys'] or 'none'}; "
                     f"report.md body (before `## Run`) identical: **{res['report_body_equal']}**.")
        shards = [v["wall_s"] for k, v in res["runs"].items() if k.startswith("shard")]
        lines.append("")
        lines.append(f"Sum of the shards' wall times {sum(shards):.1f} s vs unsharded "
                     f"{res['runs']['unsharded']['wall_s']:.1f} s (each shard pays the worker "
                     f"start-up again); on {res['n']} machines the slowest shard, "
                     f"{max(shards):.1f} s, would be the wall time.")
    return "\n".join(lines) + "\n"


def shard_targets(res: dict) -> list[dict]:
    ok = res.get("results_equal") and res.get("report_body_equal") and all(
        v["rc"] == 0 for v in res["runs"].values())
    return [{"name": "--shard K/N + merge == unsharded run", "value": bool(ok),
             "target": "identical", "met": bool(ok)}]


# -- pytest -n 2 ------------------------------------------------------------------------------------------
def xdist(quick: bool = False, frameworks: str = "", log=print) -> dict:
    fw = ["--frameworks", frameworks or "numpy"] if (quick or frameworks) else []
    base = [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "cases/smoke.yaml", *fw]
    out = {"frameworks": frameworks or ("numpy" if quick else "every known adapter")}
    have = subprocess.run([PY, "-c", "import xdist"], capture_output=True).returncode == 0
    out["xdist_installed"] = have
    wait_for_quiet(quiet=quick)
    for name, extra in (("serial", []), ("-n 2", ["-n", "2"])):
        if extra and not have:
            continue
        log(f"  xdist: pytest {name}")
        r = run_monitored(base + extra, timeout=1800)
        tail = r["output"].strip().splitlines()
        out[name] = {"rc": r["rc"], "wall_s": r["wall_s"], "summary": tail[-1] if tail else "",
                     "counts": _pytest_counts(tail[-1] if tail else ""),
                     "peak_total_rss": r["memory"]["peak_total_rss"],
                     "tail": "\n".join(tail[-15:])}
    return out


def _pytest_counts(line: str) -> dict:
    return {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|skipped|xfailed|xpassed|"
                                             r"errors?|warnings?|deselected)", line)}


def xdist_targets(res: dict) -> list[dict]:
    s, p = res.get("serial"), res.get("-n 2")
    ok = bool(s and p and p["rc"] == s["rc"] and p["counts"] == s["counts"])
    return [{"name": "pytest -n 2 cases/smoke.yaml: same outcomes as serial", "value": ok,
             "target": "works", "met": ok}]


def render_xdist(res: dict) -> str:
    lines = [f"`pytest -q -p no:cacheprovider cases/smoke.yaml` with {res['frameworks']}, serial "
             f"and with `-n 2` (pytest-xdist installed: {res['xdist_installed']}).", ""]
    rows = []
    for name in ("serial", "-n 2"):
        if name in res:
            r = res[name]
            rows.append([name, r["rc"], f"{r['wall_s']:.1f}", gib(r["peak_total_rss"]),
                         r["summary"]])
    lines += [table(["run", "exit", "wall (s)", "peak RSS (all processes)", "pytest summary"],
                    rows), ""]
    return "\n".join(lines)


# -- make test: the README's test command, whole --------------------------------------------------
def make_test(log=print) -> dict:
    """`make test` as CI runs it (the venv already installed), timed from outside, with the wall
    time of each of its commands from make's own echo of them."""
    wait_for_quiet()
    log("  make test")
    t0 = time.perf_counter()
    res = run_monitored(["make", "test"], timeout=3600)
    wall = time.perf_counter() - t0
    out = res["output"]
    summaries = re.findall(r"^=*\s*(\d+ passed.*?) in ([0-9.]+)s", out, re.M)
    return {"wall_s": round(wall, 1), "rc": res["rc"],
            "pytest": [{"summary": a, "seconds": float(b)} for a, b in summaries],
            "tail": out[-1500:] if res["rc"] else ""}


def make_test_targets(res: dict) -> list[dict]:
    return [{"name": "`make test` (unit tests, then the parity run), whole, on this machine (s)",
             "value": res["wall_s"], "target": "<= 300 s",
             "met": res["rc"] == 0 and res["wall_s"] <= 300}]


def render_make_test(res: dict) -> str:
    rows = [[p["summary"], f"{p['seconds']:.1f}"] for p in res["pytest"]]
    lines = [f"`make test` with the virtualenv in place, timed from outside: **{res['wall_s']} s**, "
             f"exit {res['rc']}.", "", table(["pytest run", "seconds (pytest's own)"], rows), ""]
    if res.get("tail"):
        lines += ["```", res["tail"], "```", ""]
    return "\n".join(lines)
