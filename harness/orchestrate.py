"""A whole run: plan (grid, filters, shard), execute with checkpoints, finalize reports; resume and
merge.

Checkpoints: after each batch every record of that batch is appended to `OUT/.partial.jsonl`
(flushed and fsynced), headed by a line that identifies the run (grid hash, frameworks, device).
An interrupted run (SIGINT or SIGTERM) writes valid partial `results.json` and `report.md`
atomically, marked `"complete": false`, and prints how to resume; `--resume` skips every case the
checkpoint holds and produces the same final files as an uninterrupted run (timing aside).

Shards: `--shard K/N` keeps the cases whose ID hashes to K-1 modulo N, a split that is stable as
the grid grows; `merge` combines shard results into files identical to an unsharded run's.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness import consistency, findings, report
from harness.cases import Case, grid_hash
from harness.inputs import case_seed
from harness.progress import Progress
from harness.runner import AdapterSpec, Engine

TOP = 200  # results that need a review listed by ID in report.md, each with its reproducer

PARTIAL = ".partial.jsonl"


class Interrupted(BaseException):
    """SIGTERM, raised like KeyboardInterrupt so that the run can save what it has."""


@dataclass
class Plan:
    grids: list[str]
    cases: list[Case]  # the cases this run executes (after filters and shard)
    grid: dict  # files, hash and count of the filtered grid (before sharding), shard if any


def parse_shard(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    k, sep, n = text.partition("/")
    try:
        k, n = int(k), int(n)
    except ValueError:
        k = n = 0
    if not sep or n < 1 or not 1 <= k <= n:
        raise ValueError(f"--shard expects K/N with 1 <= K <= N, got {text!r}")
    return k, n


def shard_of(case_id: str, n: int) -> int:
    return case_seed(case_id) % n  # the same 64-bit hash of the ID that seeds its inputs


def make_plan(grids: list[str], cases: list[Case], shard: tuple[int, int] | None) -> Plan:
    grid = {"files": [str(g) for g in grids], "hash": grid_hash(cases), "cases": len(cases)}
    if shard:
        k, n = shard
        cases = [c for c in cases if shard_of(c.id, n) == k - 1]
        grid["shard"] = f"{k}/{n}"
        grid["shard_cases"] = len(cases)
    return Plan(grids, cases, grid)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _fingerprint(plan: Plan, specs: list[AdapterSpec], device: str) -> dict:
    return {"grid": plan.grid, "frameworks": [[s.name, s.ref, s.python] for s in specs],
            "device": device}


def load_checkpoint(out: Path, fingerprint: dict) -> tuple[list[dict], list[dict]]:
    """(records, events) of a previous interrupted run of the same plan (empty if none)."""
    path = out / PARTIAL
    if not path.exists():
        return [], []
    from harness.cases import CaseFileError, read_text_file
    from harness.gate import check_document

    records, events = [], []
    try:  # a checkpoint is data like any other file: bounded, a regular file
        lines = read_text_file(path, limit=1 << 30).splitlines()
    except CaseFileError as e:
        raise ValueError(f"cannot resume: {e}; run without --resume to start over") from None
    if not lines:
        return [], []
    try:
        head = json.loads(lines[0])
    except ValueError:
        return [], []
    if not isinstance(head, dict) or head.get("fingerprint") != fingerprint:
        raise ValueError(f"{path} belongs to another run (grid, frameworks or device differ); "
                         "run without --resume to start over")
    batch: list = []
    for n, line in enumerate(lines[1:], start=2):
        try:
            item = json.loads(line)
        except ValueError:
            break  # a torn last line from a hard kill: that batch is simply run again
        kind = item.get("kind") if isinstance(item, dict) else None
        if kind == "end-of-batch":
            for k, obj in batch:
                (events if k == "event" else records).append(obj)
            batch = []
        elif kind in ("record", "event") and isinstance(item.get("data"), dict):
            batch.append((kind, item["data"]))
        else:
            raise ValueError(f"{path}:{n}: not a checkpoint line (kind 'record', 'event' or "
                             "'end-of-batch' with its data); run without --resume to start over")
    problems = check_document({"format": "xent-parity-results/1",
                               "grid": {"files": [], "hash": "x", "cases": 0},
                               "environment": {"frameworks": {}}, "results": records})
    if problems:
        raise ValueError(f"{path}: the checkpoint's records are not valid ({problems[0]}); run "
                         "without --resume to start over")
    if any(not isinstance(e.get("framework"), str) or not isinstance(e.get("event"), str)
           for e in events):
        raise ValueError(f"{path}: an event without its framework and name; run without "
                         "--resume to start over")
    return records, events


class Checkpoint:
    """Append-only batch log: a batch counts only once its end-of-batch line is written."""

    def __init__(self, out: Path, fingerprint: dict, records: list[dict], events: list[dict]):
        out.mkdir(parents=True, exist_ok=True)
        self.path = out / PARTIAL
        tmp = out / (PARTIAL + ".tmp")
        with tmp.open("w", encoding="utf-8") as f:
            f.write(json.dumps({"fingerprint": fingerprint}) + "\n")
            self.f = f
            self.add(records, events, sync=False)
        os.replace(tmp, self.path)
        self.f = self.path.open("a", encoding="utf-8")

    def add(self, records: list[dict], events: list[dict], sync: bool = True) -> None:
        for kind, items in (("record", records), ("event", events)):
            for it in items:
                self.f.write(json.dumps({"kind": kind, "data": it}, allow_nan=False) + "\n")
        self.f.write('{"kind": "end-of-batch"}\n')
        self.f.flush()
        if sync:
            os.fsync(self.f.fileno())

    def close(self, remove: bool) -> None:
        self.f.close()
        if remove:
            self.path.unlink(missing_ok=True)


LOCK = ".lock"


class OutLock:
    """An exclusive lock on an output folder, held for a whole run (or merge): a second run on
    the same folder is refused with the first one's description, instead of deleting its
    checkpoint when it completes. The lock dies with its process (flock), however it ends."""

    def __init__(self, out: Path):
        import fcntl

        out.mkdir(parents=True, exist_ok=True)
        self.path = out / LOCK
        self.fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            other = os.read(self.fd, 4096).decode("utf-8", "replace").strip() or "unknown"
            os.close(self.fd)
            raise ValueError(f"{out} is in use by another xent-parity run ({other}); wait for it "
                             "to finish, or give another --out") from None
        os.ftruncate(self.fd, 0)
        import shlex

        os.write(self.fd, f"pid {os.getpid()}, started {_now()}: "
                          f"{shlex.join(['xent-parity', *sys.argv[1:]])}\n".encode())

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class _Deferred:
    """The run's SIGINT and SIGTERM handler: it interrupts the run (KeyboardInterrupt,
    Interrupted) until `holding` is set, then only remembers the signal, so that the reports are
    finished and the workers closed before the interrupt is honoured."""

    def __init__(self):
        self.signal = None
        self.holding = False

    def handler(self, signum, frame):
        if self.holding:
            self.signal = self.signal or signum
            return
        if signum == signal.SIGTERM:
            raise Interrupted()
        raise KeyboardInterrupt


def execute(plan: Plan, specs: list[AdapterSpec], out: Path, *, device="cpu", timeout=120.0,
            batch_size=24, top=TOP, resume=False, expectations: str | None = None,
            argv_hint: str = "xent-parity run", quiet=False,
            start_timeout: float = 180.0, list_unmatched: bool = True) -> tuple[dict, bool]:
    """Run the plan and write results.json and report.md; returns (document, complete). The
    output folder is locked for the whole run; an interrupt at any moment (the writing of the
    reports included) leaves valid reports, no worker and no spill directory behind."""
    lock = OutLock(out)
    try:
        return _execute(plan, specs, out, device=device, timeout=timeout, batch_size=batch_size,
                        top=top, resume=resume, expectations=expectations, argv_hint=argv_hint,
                        quiet=quiet, start_timeout=start_timeout, list_unmatched=list_unmatched)
    finally:
        lock.release()


def _execute(plan, specs, out, *, device, timeout, batch_size, top, resume, expectations,
             argv_hint, quiet, start_timeout, list_unmatched) -> tuple[dict, bool]:
    started = _now()
    fingerprint = _fingerprint(plan, specs, device)
    previous, prev_events = load_checkpoint(out, fingerprint) if resume else ([], [])
    by_id = {c.id: c for c in plan.cases}
    for r in previous:  # a checkpoint's parameters are the plan's own, never the file's
        if r["case"] not in by_id:
            raise ValueError(f"{out / PARTIAL}: case {r['case']!r} is not in this run's plan; "
                             "run without --resume to start over")
        r["params"] = by_id[r["case"]].params
    done = {r["case"] for r in previous}
    todo = [c for c in plan.cases if c.id not in done]
    counts: Counter = Counter(r["verdict"] for r in previous)
    bar = Progress(len(plan.cases), "cases", quiet=quiet, done=len(done))

    def say(msg):
        bar.write(msg)

    def progress(n, total):
        bar.update(n + len(done), " ".join(f"{k}={v}" for k, v in sorted(counts.items())))

    if previous:
        say(f"resuming: {len(done)} cases done before, {len(todo)} to run")
    records = list(previous)
    ckpt = Checkpoint(out, fingerprint, previous, prev_events)
    # one handler for the whole run: it interrupts while cases run and holds the signal once the
    # reports are being written, so that no moment is left without one (SIG_DFL would kill the
    # process outright, leaving a worker and its spill directory). Ctrl-C interrupts even when the
    # shell started the run with SIGINT ignored (a background job of a non-interactive shell
    # inherits SIG_IGN, and Python then installs no handler)
    held = _Deferred()
    old = {s: signal.signal(s, held.handler) for s in (signal.SIGINT, signal.SIGTERM)}
    complete = False
    eng = Engine(specs, device=device, timeout=timeout, batch_size=batch_size,
                 start_timeout=start_timeout)
    try:
        try:
            eng.start()
            for st in eng.adapters:
                say(f"{st.spec.name}: "
                    f"{st.info['version'] if st.info else 'not run: ' + st.unavailable}")

            n_events = [0]

            def on_batch(batch, verdicts):
                recs = [report.record(v, by_id[v.case_id].params) for v in verdicts]
                events = eng.events()
                records.extend(recs)  # first: an interrupt during the write still reports it
                ckpt.add(recs, events[n_events[0]:])
                n_events[0] = len(events)

            eng.run(todo, on_verdict=lambda v: counts.update([v.verdict]), progress=progress,
                    on_batch=on_batch)
            held.holding = True  # from here on an interrupt waits for the reports
            complete = True
        except (KeyboardInterrupt, Interrupted):
            held.holding = True
            bar.close()
            say(f"xent-parity: interrupted after {len({r['case'] for r in records})} of "
                f"{len(plan.cases)} cases; partial results kept.")
        finally:
            held.holding = True
            ckpt.close(remove=False)
            bar.close()
        try:
            doc = finalize(plan, records, eng, out, started, complete, top=top,
                           expectations=expectations, resumed=bool(previous),
                           list_unmatched=list_unmatched,
                           prev_events=prev_events)
        finally:
            eng.close()
        if complete:
            ckpt.close(remove=True)
            say(f"{len(plan.cases)} cases x {len(eng.running)} frameworks: "
                + " ".join(f"{k}={v}" for k, v in sorted(counts.items())))
            say(f"wrote {out / 'results.json'}, {out / 'report.md'} and its reproducers in "
                f"{out / REPRODUCERS}")
        else:
            say(f"resume with: {argv_hint} --resume")
    finally:
        eng.close()  # whatever happened: no worker outlives the run
        for s, h in old.items():
            signal.signal(s, h)
    if held.signal is not None:
        say(f"xent-parity: {signal.Signals(held.signal).name} while the reports were written: "
            f"they are {'complete' if complete else 'partial'}")
        if complete:
            raise KeyboardInterrupt  # exit 130; nothing is left to resume
    return doc, complete



def finalize(plan: Plan, records: list[dict], eng: Engine, out: Path, started: str, complete: bool,
             *, top=TOP, expectations=None, resumed=False, prev_events=(),
             list_unmatched: bool = True) -> dict:
    t0 = time.perf_counter()
    timing = {"started": started, "finished": _now(), "resumed": resumed,
              "breakdown_s": eng.timing.to_json()}
    inconsistencies = consistency.apply(records)  # before the expectations: verdicts may change
    extra = {"conventions": convention_catalogue(eng.environment()),
             "inconsistencies": inconsistencies,
             "expectations": apply_expectations(expectations, records, list_unmatched)}
    if not complete:
        extra["complete"] = False
    doc = report.results_document(records, eng.environment(), plan.grid,
                                  list(prev_events) + eng.events(), timing, extra)
    write_reports(doc, out, {c.id: c for c in plan.cases}, top, reporting_since=t0,
                  refs={st.spec.name: st.spec.ref for st in eng.adapters})
    eng.timing.reporting += time.perf_counter() - t0
    return doc


def write_reports(doc: dict, out: Path, cases: dict[str, Case], top: int,
                  reporting_since: float | None = None, refs: dict | None = None) -> None:
    """results.json, figures, report.md and its reproducer files. With `reporting_since` (a
    perf_counter time), the seconds spent since then on the document, reproducers and figures are
    recorded as the breakdown's `reporting` (the rendering of report.md and the writes themselves
    come after and are not counted)."""
    drawing = _FiguresProcess(doc, out / "figures")  # on the other core, while the rest runs
    repro, files = reproducer_files(doc, cases, top, refs)
    figures = drawing.result()
    breakdown = doc.get("timing", {}).get("breakdown_s")
    if reporting_since is not None and isinstance(breakdown, dict):
        breakdown["reporting"] = round(time.perf_counter() - reporting_since, 4)
    report.write_results(out / "results.json", doc)
    folder = out / REPRODUCERS
    for name, content in files.items():
        report.atomic_write(folder / name, content)
    if folder.is_dir():  # the files of an earlier run that this one did not write
        for old in folder.iterdir():
            if old.suffix in (".py", ".npz") and old.name not in files and old.is_file():
                old.unlink()
    report.atomic_write(out / "report.md", report.render_markdown(doc, repro, top=top,
                                                                  figures=figures))
    from harness.html_report import render_html

    report.atomic_write(out / "report.html", render_html(doc, repro, figures))


REPRODUCERS = "reproducers"


class _FiguresProcess:
    """`report.render_figures` in a forked child (matplotlib's import and drawing take seconds of
    one core while the parent writes the reproducers on the other); `result()` waits for it and
    gives {title: path}, {} when the child failed (it says why on stderr; a figure is never worth
    losing the report). Where fork is not available, drawn in this process."""

    FORK = True  # False: draw in this process (a test that watches the writes of this process)

    def __init__(self, doc: dict, folder: Path):
        import multiprocessing as mp

        self.doc, self.folder, self.proc = doc, folder, None
        if not self.FORK:
            return
        try:
            ctx = mp.get_context("fork")
        except ValueError:
            return
        self.queue = ctx.SimpleQueue()
        self.proc = ctx.Process(target=self._draw, args=(doc, folder, self.queue), daemon=True)
        self.proc.start()

    @staticmethod
    def _draw(doc, folder, queue):
        try:
            queue.put(report.render_figures(doc, folder))
        except Exception as e:  # noqa: BLE001
            print(f"xent-parity: figures skipped: {type(e).__name__}: {e}", file=sys.stderr)
            queue.put({})

    def result(self) -> dict[str, str]:
        if self.proc is None:
            try:
                return report.render_figures(self.doc, self.folder)
            except Exception as e:  # noqa: BLE001
                print(f"xent-parity: figures skipped: {type(e).__name__}: {e}", file=sys.stderr)
                return {}
        self.proc.join(timeout=600)  # the answer is a few bytes: the child never blocks on it
        if self.proc.is_alive():  # stuck (a lock another thread held at the fork): draw here
            self.proc.kill()
            self.proc.join()
            self.proc = None
            return self.result()
        out = self.queue.get() if not self.queue.empty() else {}
        return out if self.proc.exitcode == 0 else {}


def reproducer_files(doc: dict, cases: dict[str, Case], top: int, refs: dict | None = None
                     ) -> tuple["report.Reproducers", dict[str, str | bytes]]:
    """The reproducers of a report: one for every result that needs a review (the first `top`)
    and for the worst case of each root cause (harness.findings), as {file name: content} (a
    script, and an .npz beside it when its arrays are large), with the reason where a result has
    none.

    Reproducers come from the adapters that ran in this process (`refs`: name -> module:Class,
    the ones the user named) or from the registry; a framework name read from a document (a
    merged shard) is looked up, never imported."""
    from harness.adapters import registered
    from harness.case_reference import CaseReference
    from harness.inputs import case_params, generate_inputs
    from harness.reproducer import file_stem, regenerates, reproducer_files as files_of

    wanted = {}
    for r in findings.needs_review(doc["results"])[:top]:
        wanted[(r["case"], r["framework"], r["check"])] = r
    for gs in findings.groups(doc["results"]).values():
        for g in gs:
            w = g.worst
            wanted.setdefault((w["case"], w["framework"], w["check"]), w)
    repro, files = report.Reproducers(), {}
    data_of: dict = {}
    for key, r in sorted(wanted.items()):
        case_id, framework, check = key
        if "~" in check:
            repro.why_not[key] = "a relation: its two calls and values are in its detail"
            continue
        ref = (refs or {}).get(framework) or registered(framework)
        if ref is None:
            repro.why_not[key] = (f"{framework} is not a built-in adapter and did not run in "
                                  "this process (a merged document); `xent-parity explain "
                                  "--frameworks module:Class --reproducer` prints it")
            continue
        if case_id not in cases:
            repro.why_not[key] = "the case is not in the grid's case files"
            continue
        case = cases[case_id]
        if case_id not in data_of:  # the keys are sorted: a case's results come together
            data_of.clear()  # one case's arrays (and reference) at a time
            large = regenerates(case.params)
            data = (case_params if large else generate_inputs)(case.params, case_id)
            data_of[case_id] = (data, None if large else CaseReference(case, data))
        data, ref_values = data_of[case_id]
        stem = file_stem(case_id, framework, check)
        try:
            script, blob = files_of(
                case_id, data, ref, check, r["version"], r["device"],
                f"verdict: {r['verdict']}: {r['detail']}", case_params=case.params,
                expected=_expected(ref_values, check, r["verdict"]), sidecar=f"{stem}.npz")
        except NotImplementedError:
            repro.why_not[key] = (f"the {framework} adapter declares no program to render "
                                  "(Adapter.program), so there is no script to give")
            continue
        files[f"{stem}.py"] = script
        if blob is not None:
            files[f"{stem}.npz"] = blob
        repro.files[key] = f"{stem}.py"
    return repro, files


def _expected(ref_values, check: str, verdict: str):
    """What a reproducer prints as expected: the canonical float64 reference of the check, from
    the case's CaseReference (None: a case too large to carry it)."""
    from harness.case_reference import StreamedGrad
    from harness.reproducer import Expected

    if ref_values is None:
        return Expected(missing="the case is too large to carry its expected value; "
                                "`xent-parity explain` compares it", verdict=verdict)
    try:
        value = ref_values.value(check)
    except Exception as e:  # noqa: BLE001 - the canonical answer is an error
        return Expected(raises=f"{type(e).__name__}: {e}", verdict=verdict)
    if isinstance(value, StreamedGrad):
        return Expected(missing="the gradient is computed block by block; `xent-parity explain` "
                                "compares it", verdict=verdict)
    return Expected(value=np.asarray(value), verdict=verdict)


def apply_expectations(path: str | None, records: list[dict], list_unmatched: bool = True) -> dict:
    """Mark each record with the reviewed expectation that covers it; summarise the file. The
    entries that matched nothing are listed (for the frameworks that ran) when `list_unmatched`:
    the file is about the case files run (harness.expectations.covers) or was named."""
    from harness.expectations import load_expectations, match
    from harness.verdicts import SETTLED

    exps = load_expectations(path) if path else []
    unexplained = 0
    for r in records:
        r.pop("expectation", None)
        e, holds = match(exps, r["case"], r["framework"], r["check"], r["verdict"],
                         r["convention"], r.get("fitting"))
        if e is None:
            if r["verdict"] not in SETTLED:
                unexplained += 1  # neither a declaration nor a reviewed entry explains it
            continue
        r["expectation"] = {"verdict": e.verdict, "convention": e.convention, "reason": e.reason,
                            "link": e.link, "holds": holds}
    frameworks = {r["framework"] for r in records}
    # the path as the report shows it (relative to the current folder where it lies below it),
    # so that results.json does not carry the checkout's location
    return {"file": report.shown_path(path) if path else path, "entries": len(exps),
            "unmatched": [e.describe() for e in exps if not e.matched
                          and e.framework in frameworks] if list_unmatched else [],
            "broken": sum(1 for r in records if r.get("expectation", {}).get("holds") is False),
            "unexplained": unexplained}


def convention_catalogue(environment: dict | None = None) -> dict:
    """Every name the reference computes, with its formulas, and who declares it: each
    framework of `environment` that does, with the kind it declares (the declarations are the
    one home of that fact; the reference knows no framework)."""
    from reference import CONVENTIONS

    declared: dict = {}
    for fw, info in sorted(((environment or {}).get("frameworks") or {}).items()):
        for d in info.get("conventions") or []:
            declared.setdefault(d["name"], {})[fw] = d.get("kind", "convention")
    return {n: {"summary": c.summary, "formula": c.formula, "canonical_formula": c.canonical_formula,
                "declared_by": declared.get(n, {})} for n, c in sorted(CONVENTIONS.items())}


def _comparable(env: dict) -> dict:
    """An environment without what may differ between machines of one kind: the CPU, its
    dispatch, the kernel's platform string. Shards of one run agree on everything else."""
    out = {k: v for k, v in env.items() if k not in ("cpu", "platform", "shard_cpus")}
    out["frameworks"] = {n: {k: v for k, v in fw.items() if k != "dispatch"}
                         for n, fw in env.get("frameworks", {}).items()}
    return out


def merge(paths: list[Path], out: Path, cases: list[Case], top: int = TOP) -> dict:
    """Combine shard results (same grid, same versions) into one run's files."""
    from harness.gate import GateError, read_document, validate_results

    docs = []
    for p in paths:
        try:
            doc = read_document(p, "shard")[0]  # validated as data before any use
        except GateError as e:
            raise ValueError(str(e)) from None
        problems = validate_results(doc)  # the whole schema: merge reads more than the gate
        if problems:
            shown = "\n".join(f"  {x}" for x in problems[:5])
            raise ValueError(f"shard {p}: not a valid xent-parity results document:\n{shown}")
        docs.append(doc)
    by_id = {c.id: c for c in cases}
    for p, d in zip(paths, docs):
        for i, r in enumerate(d["results"]):
            case = by_id.get(r["case"])
            if case is None:
                raise ValueError(f"shard {p}: results[{i}].case {r['case']!r} is not a case of "
                                 "the grid (were the case files edited?)")
            r["params"] = case.params  # the grid's own, never the document's
    base = docs[0]
    grid = {k: v for k, v in base["grid"].items() if k not in ("shard", "shard_cases")}
    shards = set()
    for p, d in zip(paths, docs):
        g = {k: v for k, v in d["grid"].items() if k not in ("shard", "shard_cases")}
        if g != grid:
            raise ValueError(f"{p}: grid {g.get('hash')} differs from {grid.get('hash')}")
        if _comparable(d["environment"]) != _comparable(base["environment"]):
            raise ValueError(f"{p}: environment (versions, flags) differs from {paths[0]}")
        if d.get("complete") is False:
            raise ValueError(f"{p}: is a partial run; resume it first")
        s = d["grid"].get("shard")
        if s is not None:
            try:
                parse_shard(s if isinstance(s, str) else "")
            except ValueError:
                raise ValueError(f"{p}: grid.shard {s!r} is not K/N with 1 <= K <= N") from None
        shards.add(s)
    ns = {int(s.split("/")[1]) for s in shards if s}
    if None in shards or len(ns) != 1 or len(shards) != next(iter(ns)):
        raise ValueError(f"shards {sorted(map(str, shards))} do not make one complete set")
    records, seen = [], set()
    for d in docs:
        for r in d["results"]:
            key = (r["case"], r["framework"], r["check"])
            if key in seen:
                raise ValueError(f"result {key} appears in two shards")
            seen.add(key)
            records.append(r)
    timing = {"started": min(d["timing"]["started"] for d in docs),
              "finished": max(d["timing"]["finished"] for d in docs), "resumed": False,
              "breakdown_s": {k: round(sum(d["timing"].get("breakdown_s", {}).get(k, 0)
                                           for d in docs), 4)
                              for k in base["timing"].get("breakdown_s", {})},
              "merged_from": [str(p) for p in paths]}
    env = dict(base["environment"])
    cpus = [d["environment"].get("cpu") for d in docs]
    if any(c != cpus[0] for c in cpus):  # shards from machines of several CPUs: say which
        env["shard_cpus"] = {str(p): c for p, c in zip(paths, cpus)}
    extra = {k: base[k] for k in ("conventions",) if k in base}
    extra["inconsistencies"] = consistency.apply(records)  # across the shards: checked again
    exp_file = base.get("expectations", {}).get("file")
    if exp_file and not Path(exp_file).is_file():  # written on another machine: this one's own
        from harness.cli import default_expectations

        exp_file = default_expectations(grid.get("files") or [])
    from harness.expectations import covers

    extra["expectations"] = apply_expectations(exp_file, records,
                                               covers(exp_file, grid.get("files") or []))
    doc = report.results_document(records, env, grid,
                                  [e for d in docs for e in d.get("events", [])], timing, extra)
    write_reports(doc, out, {c.id: c for c in cases}, top)
    return doc
