"""One instrumented harness run, in its own process: `harness.orchestrate.execute` on a grid, with
the Engine's Timing breakdown plus what the breakdown does not show.

    python benchmarks/grid_run.py --grid cases/default.yaml --out DIR --json SUMMARY.json
        [--frameworks a,b] [--shard K/N] [--timeout S] [--profile PROFILE.txt]

Added to the Timing breakdown (without changing the harness): the interpreter's start-up and
imports before the run, the whole time of `finalize` (results.json records `reporting` up to the
figures, before report.md is rendered and the files are written), the framework-call seconds per
adapter (read from each answer as the engine judges it), each worker's
CPU seconds and peak RSS and the parent's (from /proc), and optionally a cProfile of the parent.
"""

from __future__ import annotations

import time

T_START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--grid", action="append", required=True)
    ap.add_argument("--frameworks", default="")
    ap.add_argument("--out", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--shard")
    ap.add_argument("--cases", action="append", help="glob or substring of case IDs (repeatable)")
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--batch-size", type=int, default=24)
    ap.add_argument("--profile")
    ap.add_argument("--top", type=int, default=15,
                    help="reproducers in report.md (the CLI's default 15; they embed the inputs)")
    ap.add_argument("--no-check-size", action="store_true",
                    help="skip the CLI's memory estimate (the benchmark's watchdog guards memory)")
    args = ap.parse_args(argv)

    from benchmarks.lib import ProcMonitor, worker_label
    from harness import orchestrate, runner
    from harness.cases import load_cases, select
    from harness.cli import UsageError, _check_size, _default_frameworks
    from harness.runner import adapter_specs

    t_imported = time.perf_counter()
    cases = select(load_cases(args.grid), None, args.cases)
    plan = orchestrate.make_plan(args.grid, cases, orchestrate.parse_shard(args.shard))
    names = [n for n in args.frameworks.split(",") if n] or _default_frameworks()
    specs = adapter_specs(names)
    summary = {"grid": args.grid, "frameworks": names, "cases": len(plan.cases),
               "shard": args.shard}
    if not args.no_check_size:
        try:
            _check_size(plan.cases, len(specs))
        except UsageError as e:
            summary["refused"] = str(e)
            Path(args.json).write_text(json.dumps(summary, indent=1))
            return 0
    t_planned = time.perf_counter()

    # framework-call seconds per adapter and check, read off each answer as it is judged
    busy: dict = defaultdict(float)
    calls: Counter = Counter()
    real_judge = runner.judge

    per_case: dict = defaultdict(float)  # (framework, case) -> seconds

    intervals: list = []  # (start, end) on the monotonic clock: framework calls and the reference

    def judge(case_id, framework, check, invalid, answer, *a, **kw):
        if answer.get("started") is not None and answer.get("seconds"):
            intervals.append((answer["started"], answer["started"] + answer["seconds"]))
        busy[framework] += answer.get("seconds") or 0.0
        per_case[(framework, case_id)] += answer.get("seconds") or 0.0
        calls[framework] += 1
        return real_judge(case_id, framework, check, invalid, answer, *a, **kw)

    runner.judge = judge
    real_warm = runner.Engine._warm

    def warm(self, launched):
        t = time.monotonic()
        try:
            return real_warm(self, launched)
        finally:
            intervals.append((t, time.monotonic()))

    runner.Engine._warm = warm

    # finalize = reporting; the stored breakdown misses it
    fin = {"s": 0.0}
    real_finalize = orchestrate.finalize

    def finalize(*a, **kw):
        t0 = time.perf_counter()
        try:
            return real_finalize(*a, **kw)
        finally:
            fin["s"] += time.perf_counter() - t0

    orchestrate.finalize = finalize
    engine_timing = {}
    real_close = runner.Engine.close

    def close(self):
        engine_timing.update(self.timing.to_json())
        real_close(self)

    runner.Engine.close = close

    prof = None
    if args.profile:
        import cProfile

        prof = cProfile.Profile()
    mon = ProcMonitor(os.getpid(), interval=0.2)
    mon.__enter__()
    t0 = time.perf_counter()
    if prof:
        prof.enable()
    doc, complete = orchestrate.execute(plan, specs, Path(args.out), timeout=args.timeout,
                                        batch_size=args.batch_size, top=args.top, expectations=None,
                                        quiet=True)
    if prof:
        prof.disable()
    t_end = time.perf_counter()
    mon.stop()
    if prof:
        import io
        import pstats

        s = io.StringIO()
        st = pstats.Stats(prof, stream=s)
        st.sort_stats("cumulative").print_stats(60)
        s.write("\n\n==== by internal time ====\n")
        st.sort_stats("tottime").print_stats(40)
        Path(args.profile).write_text(s.getvalue())

    mem = mon.summary(worker_label)
    # The engine waits for every worker at the end of each batch (a barrier). The framework time
    # on that path is the sum over batches of the slowest worker's time in the batch; with no
    # barrier (each worker fed at its own pace) it would be the busiest worker's total.
    order = [c.id for c in plan.cases]
    barrier = 0.0
    for lo in range(0, len(order), args.batch_size):
        ids = order[lo:lo + args.batch_size]
        barrier += max((sum(per_case.get((fw, c), 0.0) for c in ids) for fw in busy), default=0.0)
    barrier_free = max(busy.values(), default=0.0)
    # the time in which at least one framework call or the parent's reference was running
    union, end = 0.0, float("-inf")
    for a, b in sorted(intervals):
        if b > end:
            union += b - max(a, end)
            end = b
    counts = Counter(r["verdict"] for r in doc["results"])
    summary.update({
        "complete": complete,
        "breakdown": engine_timing,
        "stored_breakdown": doc["timing"]["breakdown_s"],
        "finalize_s": fin["s"],
        "startup_s": t_imported - T_START,  # interpreter + harness imports (after exec)
        "plan_s": t_planned - t_imported,
        "execute_s": t_end - t0,
        "process_s": t_end - T_START,
        "busy_s": dict(busy),
        "barrier_path_s": barrier,
        "barrier_free_path_s": barrier_free,
        "busy_union_s": union,
        "calls": dict(calls),
        "verdicts": dict(counts),
        "results": len(doc["results"]),
        "events": doc.get("events", []),
        "memory": mem,
        "nproc": os.cpu_count(),
    })
    Path(args.json).write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
