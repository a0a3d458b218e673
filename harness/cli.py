"""Command line: `xent-parity run | list | explain`.

    xent-parity run                      # cases/default.yaml, every installed adapter, into reports/
    xent-parity run cases/smoke.yaml --frameworks numpy,torch -k "soft and not f16"
    xent-parity list --cases 'hard-*f64*'
    xent-parity explain CASE_ID --frameworks torch

Exit status: 0 when the run completed, whatever the verdicts; 2 for usage errors and bad case files.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import sys
import time
from collections import Counter
from pathlib import Path

from harness.cases import CaseFileError, load_cases, select

DEFAULT_GRID = "cases/default.yaml"


class UsageError(Exception):
    """Bad arguments: unknown adapter, bad filter expression; exit status 2."""


def _split(s: str | None) -> list[str]:
    return [p.strip() for p in (s or "").split(",") if p.strip()]


def _add_common(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("grids", nargs="*", help=f"case files (default {DEFAULT_GRID})")
    ap.add_argument("--frameworks", "-f", help="comma-separated adapter names or module:Class "
                    "(default: every installed adapter)")
    ap.add_argument("-k", dest="keyword", help="pytest-style expression over case IDs, e.g. "
                    "'soft and not f16'")
    ap.add_argument("--cases", action="append", help="glob pattern or substring of case IDs "
                    "(repeatable)")
    ap.add_argument("--device", default="cpu", help="cpu (default), cuda or gpu")
    ap.add_argument("--python", action="append", default=[], metavar="NAME=PATH",
                    help="run adapter NAME's worker under interpreter PATH (another virtualenv)")


def _pythons(items: list[str]) -> dict[str, str]:
    out = {}
    for it in items:
        name, sep, path = it.partition("=")
        if not sep or not name or not path:
            raise UsageError(f"--python expects NAME=PATH, got {it!r}")
        out[name] = path
    return out


def _default_frameworks() -> list[str]:
    from harness.adapters import known_adapters, load_class

    names = []
    for name, ref in known_adapters().items():
        try:
            if load_class(ref).installed() is None:
                names.append(name)
        except ValueError:
            continue
    return sorted(names)


def _load(args):
    grids = args.grids or [DEFAULT_GRID]
    try:
        cases = select(load_cases(grids), args.keyword, args.cases)
    except CaseFileError:
        raise
    except ValueError as e:  # a bad -k expression
        raise UsageError(str(e)) from None
    return grids, cases


def _specs(args):
    from harness.runner import adapter_specs

    try:
        return adapter_specs(_split(args.frameworks) or _default_frameworks(), _pythons(args.python))
    except ValueError as e:  # unknown adapter
        raise UsageError(str(e)) from None


def cmd_run(args) -> int:
    from harness import report
    from harness.inputs import generate_inputs
    from harness.reproducer import reproducer
    from harness.runner import Engine, grid_hash

    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    grids, cases = _load(args)
    if not cases:
        print("xent-parity: no case matches the filters", file=sys.stderr)
        return 2
    specs = _specs(args)
    out = Path(args.out)
    tty = sys.stderr.isatty()
    counts: Counter = Counter()
    last = [0.0]

    def progress(done, total):
        now = time.monotonic()
        line = f"[{done}/{total} cases] " + " ".join(f"{k}={v}" for k, v in sorted(counts.items()))
        if tty:
            print("\r" + line, end="", file=sys.stderr, flush=True)
        elif now - last[0] > 10 or done == total:
            print(line, file=sys.stderr, flush=True)
            last[0] = now

    with Engine(specs, device=args.device, timeout=args.timeout, batch_size=args.batch_size) as eng:
        eng.start()
        for st in eng.adapters:
            state = (f"{st.info['version']}" if st.info else f"not run: {st.unavailable}")
            print(f"{st.spec.name}: {state}", file=sys.stderr)
        verdicts = eng.run(cases, on_verdict=lambda v: counts.update([v.verdict]), progress=progress)
        if tty:
            print(file=sys.stderr)
        t0 = time.perf_counter()
        by_id = {c.id: c for c in cases}
        records = [report.record(v, by_id[v.case_id].params) for v in verdicts]
        grid = {"files": [str(g) for g in grids], "hash": grid_hash(cases), "cases": len(cases)}
        timing = {"started": started,
                  "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                  "breakdown_s": eng.timing.to_json()}
        doc = report.results_document(records, eng.environment(), grid, eng.events(), timing,
                                      {"conventions": _convention_catalogue(),
                                       "expectations": _apply_expectations(args, records)})
        refs = {st.spec.name: st.spec.ref for st in eng.adapters}
        repro = {}
        worst = [r for r in doc["results"] if r["verdict"] not in ("pass", "unsupported", "divergent")]
        worst.sort(key=lambda r: (report.SEVERITY.get(r["verdict"], 9), -report._ratio(r)))
        for r in worst[:args.top]:
            data = generate_inputs(by_id[r["case"]].params, r["case"])
            repro[(r["case"], r["framework"], r["check"])] = reproducer(
                r["case"], data, refs[r["framework"]], r["check"], r["version"], r["device"],
                f"verdict: {r['verdict']}: {r['detail']}")
        report.write_results(out / "results.json", doc)
        try:
            figures = report.render_figures(doc, out / "figures")
        except Exception as e:  # noqa: BLE001 - a figure is never worth losing the report
            print(f"xent-parity: figures skipped: {type(e).__name__}: {e}", file=sys.stderr)
            figures = {}
        report.atomic_write(out / "report.md", report.render_markdown(doc, repro, top=args.top,
                                                                      figures=figures))
        eng.timing.reporting += time.perf_counter() - t0
    summary = " ".join(f"{k}={v}" for k, v in sorted(counts.items()))
    print(f"{len(cases)} cases x {len(eng.running)} frameworks: {summary}", file=sys.stderr)
    print(f"wrote {out / 'results.json'} and {out / 'report.md'}", file=sys.stderr)
    return 0


def _apply_expectations(args, records: list[dict]) -> dict:
    """Mark each record with the reviewed expectation that covers it; summarise the file."""
    from harness.expectations import find, load_expectations

    exps = load_expectations(args.expectations) if args.expectations else []
    unexpected = 0
    for r in records:
        e = find(exps, r["case"], r["framework"], r["check"])
        if e is None:
            if r["verdict"] not in ("pass", "unsupported"):
                unexpected += 1
            continue
        e.matched += 1
        r["expectation"] = {"verdict": e.verdict, "convention": e.convention, "reason": e.reason,
                            "link": e.link, "holds": e.accepts(r["verdict"], r["convention"])}
    frameworks = {r["framework"] for r in records}
    return {"file": args.expectations, "entries": len(exps),
            "unmatched": [e.describe() for e in exps if not e.matched and e.framework in frameworks],
            "broken": sum(1 for r in records if r.get("expectation", {}).get("holds") is False),
            "unexplained": unexpected}


def _convention_catalogue() -> dict:
    from reference import CONVENTIONS

    return {n: {"summary": c.summary, "formula": c.formula, "canonical_formula": c.canonical_formula,
                "framework": c.framework} for n, c in sorted(CONVENTIONS.items())}


def cmd_list(args) -> int:
    from harness.adapters import known_adapters, load_class

    names = _split(args.frameworks) or sorted(known_adapters())
    known = known_adapters()
    print("adapters:")
    for name in names:
        ref = known.get(name, name)
        try:
            cls = load_class(ref)
        except ValueError as e:
            print(f"  {name}: {e}")
            continue
        why = cls.installed()
        state = f"{cls.version()}" if why is None else f"not installed ({why})"
        caps = cls.capabilities
        print(f"  {name} [{state}] {cls.api}")
        print(f"    dtypes: {', '.join(caps.dtypes)}; gradient: {caps.gradient}; "
              f"devices: {', '.join(caps.devices)}")
        print("    features: " + ", ".join(f"{k}={v}" for k, v in caps.features.items()))
        for c in cls.conventions:
            print(f"    convention {c.name}: {c.link}")
    if args.grids or args.keyword or args.cases:
        grids, cases = _load(args)
        print(f"cases ({len(cases)}):")
        for c in cases:
            print(f"  {c.id}")
    return 0


def cmd_explain(args) -> int:
    from harness.inputs import generate_inputs
    from harness.reproducer import reproducer
    from harness.runner import CaseReference, Engine

    grids = args.grids or [DEFAULT_GRID]
    cases = {c.id: c for c in load_cases(grids)}
    if args.case_id not in cases:
        close = [c for c in cases if args.case_id in c][:10]
        print(f"xent-parity: no case {args.case_id!r} in {', '.join(grids)}"
              + (f"; did you mean: {', '.join(close)}" if close else ""), file=sys.stderr)
        return 2
    case = cases[args.case_id]
    print(f"case {case.id} ({case.source})")
    for k, v in case.params.items():
        print(f"  {k}: {v}")
    data = generate_inputs(case.params, case.id)
    ref = CaseReference(case, data)
    for check in case.checks:
        try:
            print(f"reference {check}: {_short(ref.value(check))}")
        except ValueError as e:
            print(f"reference {check}: raises ValueError: {e}")
    specs = _specs(args)
    with Engine(specs, device=args.device, timeout=args.timeout) as eng:
        eng.start()
        for v in eng.run([case]):
            print(v.explain())
            st = next(s for s in eng.adapters if s.spec.name == v.framework)
            if args.reproducer:
                print(reproducer(case.id, data, st.spec.ref, v.check, v.version, v.device))
    return 0


def _short(a) -> str:
    import numpy as np

    a = np.asarray(a)
    return np.array2string(a, precision=17, threshold=12) if a.size else f"empty {list(a.shape)}"


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="xent-parity", description="Cross-entropy conformance harness")
    sub = ap.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a grid through the adapters and write reports")
    _add_common(run)
    run.add_argument("--out", default="reports", help="output folder (default reports/)")
    run.add_argument("--timeout", type=float, default=120.0, help="seconds per case before a worker "
                     "is declared hung (default 120)")
    run.add_argument("--batch-size", type=int, default=24)
    run.add_argument("--top", type=int, default=15, help="discrepancies shown with reproducers")
    run.add_argument("--expectations", default="cases/expectations.yaml",
                     help="reviewed known divergences (default cases/expectations.yaml; '' for none)")
    run.set_defaults(func=cmd_run)
    ls = sub.add_parser("list", help="adapters with versions, capabilities, conventions; cases")
    _add_common(ls)
    ls.set_defaults(func=cmd_list)
    ex = sub.add_parser("explain", help="one case: parameters, reference, each framework's verdict")
    ex.add_argument("case_id")
    _add_common(ex)
    ex.add_argument("--timeout", type=float, default=120.0)
    ex.add_argument("--reproducer", action="store_true", help="print each framework's reproducer")
    ex.set_defaults(func=cmd_explain)
    from harness.gate import add_gate_parser

    add_gate_parser(sub)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CaseFileError as e:
        print(f"xent-parity: {e}", file=sys.stderr)
        return 2
    except UsageError as e:
        print(f"xent-parity: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("xent-parity: interrupted", file=sys.stderr)
        return 130
