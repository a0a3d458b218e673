"""Command line: `xent-parity run | list | explain | compare | merge | gate | expectations`.

    xent-parity run                      # cases/default.yaml, every installed adapter, into reports/
    xent-parity run cases/smoke.yaml --frameworks numpy,torch -k "soft and not f16"
    xent-parity list --cases 'hard-*f64*'
    xent-parity explain CASE_ID --frameworks torch
    xent-parity compare A B                  # the porting question, from reports/results.json
    xent-parity run --shard 2/4 --out shard2 && xent-parity merge shard*/results.json --out reports
    xent-parity run --resume                 # after an interruption: continue where it stopped
    xent-parity gate --baseline reports/baseline.json --results reports/results.json

Exit status: 0 when the run completed, whatever the verdicts; 1 when an adapter could not start or
load (the others run, and the reports say which failed and why; `list` too, after listing the
others) and when the gate finds a regression; 2 for usage errors, bad case files
and a missing expectations file; 130 when interrupted (partial results are written and the resume
command is printed).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from harness.adapters.base import available_memory as _available_memory
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


def _positive_seconds(s: str) -> float:
    try:
        f = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {s!r}") from None
    if not (math.isfinite(f) and f > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds > 0, got {s!r}")
    return f


def default_expectations(grids: list[str]) -> str | None:
    """The reviewed expectations for these case files: `expectations.yaml` beside the first case
    file that has one, else the repository's `cases/expectations.yaml`; None where neither
    exists. Never relative to the current directory."""
    for g in grids:
        candidate = Path(g).resolve().parent / "expectations.yaml"
        if candidate.is_file():
            return str(candidate)
    repo = Path(__file__).resolve().parent.parent / "cases" / "expectations.yaml"
    return str(repo) if repo.is_file() else None


def _expectations(args, grids: list[str]) -> str | None:
    """--expectations: '' for none; a path that must exist; by default `default_expectations`."""
    if args.expectations is None:
        return default_expectations(grids)
    if args.expectations == "":
        return None
    if not Path(args.expectations).is_file():
        raise UsageError(f"--expectations {args.expectations}: no such file (give '' for none)")
    return args.expectations


def cmd_run(args) -> int:
    from harness import orchestrate
    from harness.expectations import covers

    grids, cases = _load(args)
    if not cases:
        raise UsageError("no case matches the filters")
    try:
        plan = orchestrate.make_plan(grids, cases, orchestrate.parse_shard(args.shard))
    except ValueError as e:
        raise UsageError(str(e)) from None
    specs = _specs(args)
    if not specs:
        raise UsageError("no adapter is installed, so nothing can be judged (pip install "
                         "'xent-parity[all]', or name adapters with --frameworks)")
    expectations = _expectations(args, grids)
    _check_size(plan.cases, len(specs))
    from harness.case_reference import unbuildable

    bad = unbuildable(plan.cases)
    if bad:
        lines = "\n".join(f"  {c.source}: case {c.id}: {why}" for c, why in bad[:10])
        more = f"\n  ... and {len(bad) - 10} more" if len(bad) > 10 else ""
        raise CaseFileError(f"{len(bad)} case{'s' * (len(bad) != 1)} the harness cannot "
                            f"judge (a contradiction of the case file, not of a framework):\n"
                            f"{lines}{more}")
    import shlex

    argv = [a for a in sys.argv[1:] if a != "--resume"] if sys.argv[1:2] == ["run"] else ["run"]
    hint = shlex.join(["xent-parity", *argv])  # pasted into a shell as it is printed
    try:
        doc, complete = orchestrate.execute(
            plan, specs, Path(args.out), device=args.device, timeout=args.timeout,
            batch_size=args.batch_size, top=args.top, resume=args.resume,
            expectations=expectations, argv_hint=hint, start_timeout=args.startup_timeout,
            list_unmatched=args.expectations is not None or covers(expectations, grids))
    except ValueError as e:  # a checkpoint from another run
        raise UsageError(str(e)) from None
    if not complete:
        return 130
    failed = {name: fw["unavailable"] for name, fw in doc["environment"]["frameworks"].items()
              if "unavailable" in fw}
    for name, why in sorted(failed.items()):
        print(f"xent-parity: adapter {name} could not start: {why}", file=sys.stderr)
    if failed:
        ran = len(doc["environment"]["frameworks"]) - len(failed)
        print(f"xent-parity: {len(failed)} adapter{'s' * (len(failed) != 1)} not run "
              f"({', '.join(sorted(failed))}), {ran} run; their cases were not judged: exit 1",
              file=sys.stderr)
        return 1
    return 0


def _check_size(cases, n_frameworks: int) -> None:
    """Refuse, before any work, a grid whose largest case cannot fit (harness.inputs.size_problem)."""
    from harness.inputs import size_problem

    problem = size_problem(cases, n_frameworks, _available_memory())
    if problem:
        raise UsageError(problem)


def cmd_merge(args) -> int:
    from harness import orchestrate

    from harness.gate import GateError, read_document
    from harness.cases import grid_hash

    try:  # each shard checked as the gate checks a results file: data, validated first
        docs = [read_document(p, "shard")[0] for p in args.shards]
    except GateError as e:
        raise UsageError(str(e)) from None
    grids = docs[0]["grid"]["files"] or [DEFAULT_GRID]
    cases = load_cases(grids)
    want = docs[0]["grid"]["hash"]
    if grid_hash(cases) != want:
        raise UsageError(f"the case files {', '.join(grids)} are not the grid the shards ran "
                         f"(hash {grid_hash(cases)}, the shards' {want}): were they edited? "
                         "Merge with the files as they were when the shards ran")
    try:
        lock = orchestrate.OutLock(Path(args.out))
        try:
            doc = orchestrate.merge([Path(p) for p in args.shards], Path(args.out), cases,
                                    args.top)
        finally:
            lock.release()
    except ValueError as e:
        raise UsageError(str(e)) from None
    print(f"merged {len(args.shards)} shards: {len(doc['results'])} results into "
          f"{Path(args.out) / 'results.json'} and report.md", file=sys.stderr)
    return 0


def cmd_list(args) -> int:
    from harness.adapters import known_adapters, load_class

    names = _split(args.frameworks) or sorted(known_adapters())
    known = known_adapters()
    print("adapters:")
    unloadable = 0
    for name in names:
        ref = known.get(name, name)
        try:
            cls = load_class(ref)
        except ValueError as e:
            print(f"  {name}: {e}")
            unloadable += 1
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
    return 1 if unloadable else 0  # an adapter that cannot load is a failure, as for run


def cmd_explain(args) -> int:
    from harness.inputs import generate_inputs
    from harness.reproducer import reproducer
    from harness.case_reference import CaseReference, is_streamed
    from harness.runner import Engine

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
    specs = _specs(args)
    _check_size([case], len(specs))
    with Engine(specs, device=args.device, timeout=args.timeout,
                start_timeout=args.startup_timeout) as eng:
        eng.start()
        data = generate_inputs(case.params, case.id, eng.spill)  # a large case: a mapped file
        ref = CaseReference(case, data)
        for check in case.checks:
            try:
                value = ref.value(check)
                print(f"reference {check}: " + (
                    f"shape {list(value.shape)}, computed block by block when compared"
                    if is_streamed(value) else _short(value)))
            except ValueError as e:
                print(f"reference {check}: raises ValueError: {e}")
        for v in eng.run([case], keep_outputs=True):
            print(v.explain())
            if v.output is not None:
                print(f"  {v.framework} {v.check} output: {_short(v.output)}")
            st = next(s for s in eng.adapters if s.spec.name == v.framework)
            if args.reproducer:
                print(reproducer(case.id, data, st.spec.ref, v.check, v.version, v.device,
                                 case_params=case.params))
    return 0


def _short(a) -> str:
    import numpy as np

    a = np.asarray(a)
    return np.array2string(a, precision=17, threshold=12) if a.size else f"empty {list(a.shape)}"


def cmd_expectations(args) -> int:
    """Regenerate the reviewed expectations from a run: 0 when the file is (now) current, 1 when
    it is not (without --update) or when results no entry covers remain, 2 for unusable files."""
    from harness import expectations as ex
    from harness.report import atomic_write

    path = args.file or default_expectations([DEFAULT_GRID])
    if not path:
        raise UsageError("no expectations file found; give --file")
    from harness import consistency

    records: dict = {}
    for results in args.results or ["reports/results.json"]:
        try:
            doc = json.loads(Path(results).read_text(encoding="utf-8"))
            for r in doc["results"]:  # grids that share cases: one record per key
                records[(r["case"], r["framework"], r["check"])] = r
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise UsageError(f"--results {results}: not a results document ({e})") from None
    records = list(records.values())
    consistency.apply(records)  # over every run together, as pytest judges them
    plan = ex.plan_update(ex.load_expectations(path), records)
    text = ex.render(plan.entries)
    current = Path(path).read_text(encoding="utf-8") == text
    for what, items in (("dropped", plan.dropped), ("changed", plan.changed),
                        ("unreviewed (write an entry with a reason and a link)", plan.unreviewed)):
        if items:
            print(f"{what} ({len(items)}):")
            print("\n".join(f"  {i}" for i in items[:50]))
            if len(items) > 50:
                print(f"  ... and {len(items) - 50} more")
    if args.update and not current:
        atomic_write(path, text)
        print(f"wrote {path}: {len(plan.entries)} entries")
    elif current:
        print(f"{path} is current: {len(plan.entries)} entries")
    else:
        print(f"{path} is not current; --update writes it")
    return 1 if plan.unreviewed or not (current or args.update) else 0


def cmd_compare(args) -> int:
    """Framework A against framework B on a run's results: where they differ, by how much and
    why, in both directions (harness.findings.pairwise)."""
    from harness import findings
    from harness.gate import GateError, read_document

    try:
        doc = read_document(args.results, "results")[0]
    except GateError as e:
        raise UsageError(str(e)) from None
    recs = doc["results"]
    present = sorted({r["framework"] for r in recs})
    for name in (args.a, args.b):
        if name not in present:
            raise UsageError(f"{name!r} is not in {args.results} (it has: {', '.join(present)})")
    if args.a == args.b:
        raise UsageError("compare needs two different frameworks")
    diffs, counts = findings.pairwise(recs, args.a, args.b)
    fws = doc["environment"].get("frameworks", {})
    va, vb = (fws.get(n, {}).get("version", "?") for n in (args.a, args.b))
    grid = doc.get("grid", {})
    print(f"{args.a} {va} against {args.b} {vb} on {', '.join(grid.get('files') or ['?'])} "
          f"({grid.get('cases')} cases): {counts['compared']} results compared, "
          f"{counts['agree']} agree, {counts['differ']} differ; {counts['only one ran']} "
          "run by one of them only.")
    print("Both are judged against the same float64 reference: 'canonical' is within the error "
          "bound of the documented formula; a size is each side's departure from it.")
    if not diffs:
        return 0
    print(f"\nby cause ({args.a} / {args.b}), most frequent first:")
    for (ea, eb), n, d in findings.pair_causes(diffs):
        print(f"  {n:5d}  {ea} / {eb}")
        print(f"         largest: {d.case} {d.check}")
    shown = diffs if args.limit <= 0 else diffs[:args.limit]
    print(f"\ndifferences, largest first ({len(shown)} of {len(diffs)}):")
    for d in shown:
        print(f"  {d.case} {d.check}: {d.why}")
        print(f"    {args.a}: {findings.describe(d.a)}")
        print(f"    {args.b}: {findings.describe(d.b)}")
    if len(shown) < len(diffs):
        print(f"  ... and {len(diffs) - len(shown)} more (--limit 0 shows every one)")
    return 0


def _version() -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version("xent-parity")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout that is not installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="xent-parity", description="Cross-entropy conformance harness")
    ap.add_argument("--version", action="version", version=f"xent-parity {_version()}")
    sub = ap.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a grid through the adapters and write reports")
    _add_common(run)
    run.add_argument("--out", default="reports", help="output folder (default reports/)")
    run.add_argument("--timeout", type=_positive_seconds, default=120.0,
                     help="seconds per case before a worker is declared hung (default 120)")
    run.add_argument("--startup-timeout", type=_positive_seconds, default=180.0,
                     help="seconds a worker may take to import and set up its framework before "
                          "it is declared unable to start (default 180)")
    run.add_argument("--batch-size", type=int, default=24)
    run.add_argument("--top", type=int, default=200, help="results needing a review listed in "
                     "report.md, each with a reproducer under reproducers/ (default 200)")
    run.add_argument("--shard", metavar="K/N", help="run only shard K of N (a stable split by case ID)")
    run.add_argument("--resume", action="store_true", help="continue an interrupted run in --out "
                     "without recomputing finished cases")
    run.add_argument("--expectations", default=None,
                     help="reviewed known divergences (default: expectations.yaml beside the case "
                          "file, else the repository's cases/expectations.yaml; '' for none)")
    run.set_defaults(func=cmd_run)
    ls = sub.add_parser("list", help="adapters with versions, capabilities, conventions; cases")
    _add_common(ls)
    ls.set_defaults(func=cmd_list)
    ex = sub.add_parser("explain", help="one case: parameters, reference, each framework's verdict")
    ex.add_argument("case_id")
    _add_common(ex)
    ex.add_argument("--timeout", type=_positive_seconds, default=120.0)
    ex.add_argument("--startup-timeout", type=_positive_seconds, default=180.0)
    ex.add_argument("--reproducer", action="store_true", help="print each framework's reproducer")
    ex.set_defaults(func=cmd_explain)
    mg = sub.add_parser("merge", help="combine shard results into one results.json and report.md")
    mg.add_argument("shards", nargs="+", help="the shards' results.json files")
    mg.add_argument("--out", default="reports")
    mg.add_argument("--top", type=int, default=200)
    mg.set_defaults(func=cmd_merge)
    xp = sub.add_parser("expectations", help="regenerate cases/expectations.yaml from a run")
    xp.add_argument("--results", action="append", default=None,
                    help="a run to regenerate from (repeatable: the smoke and default grids "
                         "together, as pytest runs them; default reports/results.json)")
    xp.add_argument("--file", default=None,
                    help="the expectations file (default: the repository's)")
    xp.add_argument("--update", action="store_true", help="write the regenerated file")
    xp.set_defaults(func=cmd_expectations)
    cp = sub.add_parser("compare", help="one framework against another on a run's results: "
                        "where they differ, by how much, and why")
    cp.add_argument("a", help="a framework (adapter name) in the results")
    cp.add_argument("b", help="another one")
    cp.add_argument("--results", default="reports/results.json",
                    help="the run to read (default reports/results.json)")
    cp.add_argument("--limit", type=int, default=30,
                    help="differences listed one by one (default 30; 0 for all)")
    cp.set_defaults(func=cmd_compare)
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
    except OSError as e:  # an output folder that cannot be written, a full disk
        where = f" {e.filename}" if getattr(e, "filename", None) else ""
        print(f"xent-parity: cannot write{where}: {e.strerror or e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("xent-parity: interrupted", file=sys.stderr)
        return 130
