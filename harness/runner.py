"""The engine: cases in batches through every adapter's worker, judged against the reference.

Inputs are generated once per case and shared by every adapter; the reference side of each case
(harness.case_reference) is computed in this (the parent) process while the workers compute,
and cached per case and convention set.

Two batches are in flight: batch k+1 is generated and sent to every worker before batch k is
judged, so the workers compute while the parent compares. A large case (`inputs.is_large`) runs
alone and on one worker at a time, its arrays travel as files in the run's spill directory
(harness.spill, harness.ipc), and its gradient is compared block by block.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

import reference
from harness import relations
from harness.adapters import load_class, resolve
from harness.adapters.base import in_scope
from harness.case_reference import CaseReference
from harness.cases import Case
from harness.cpu import cpu_info
from harness.inputs import generate_inputs, is_large
from harness import ipc
from harness.ipc import mapped_file, spill_array, spill_files
from harness.pool import Worker, WorkerStartError, WorkItem
from harness.spill import SpillDir
from harness.verdicts import CRASH, Verdict, judge


def unknown_declarations(info: dict) -> list[str]:
    """The names an adapter declares that the reference does not compute (an error: a name the
    reference does not know could never explain a result, and would hide nothing visibly)."""
    return [d["name"] for d in info.get("conventions", [])
            if d["name"] not in reference.CONVENTIONS and not d.get("raises")]


@dataclass
class AdapterSpec:
    name: str
    ref: str  # module:Class
    python: str | None = None  # interpreter to run the worker under (another venv)


def adapter_specs(names: Iterable[str], pythons: dict[str, str] | None = None) -> list[AdapterSpec]:
    out = []
    for spec in names:
        name, ref = resolve(spec)
        out.append(AdapterSpec(name, ref, (pythons or {}).get(name)))
    return out


@dataclass
class Timing:
    imports: float = 0.0
    generation: float = 0.0
    transfer_and_wait: float = 0.0
    reference: float = 0.0
    framework_calls: float = 0.0
    comparison: float = 0.0
    reporting: float = 0.0
    wall: float = 0.0

    def to_json(self):
        return {k: round(v, 4) for k, v in self.__dict__.items()}


@dataclass
class AdapterState:
    spec: AdapterSpec
    worker: Worker | None = None
    info: dict | None = None
    unavailable: str | None = None


class Engine:
    """Workers for a set of adapters, fed the same batches. Use as a context manager."""

    def __init__(self, specs: list[AdapterSpec], device: str = "cpu", timeout: float = 120.0,
                 batch_size: int = 24, start_timeout: float = 180.0):
        self.device, self.timeout, self.batch_size = device, timeout, batch_size
        self.start_timeout = start_timeout
        self.adapters = [AdapterState(s) for s in specs]
        self.timing = Timing()
        self._spill: SpillDir | None = None
        self.spill: str | None = None  # large arrays travel as files here (harness.ipc)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def start(self) -> None:
        """Start every worker; they import their frameworks concurrently."""
        t0 = time.perf_counter()
        self._closed = False
        if self._spill is None:
            self._spill = SpillDir()
            self.spill = self._spill.path
        for st in self.adapters:
            try:
                cls = load_class(st.spec.ref)
            except ValueError as e:  # an entry point whose module is broken: not run, say why
                st.unavailable = str(e)
                continue
            why = cls.installed() if st.spec.python is None else None
            if why:
                st.unavailable = why
                continue
            st.worker = Worker(st.spec.name, st.spec.ref, self.device, st.spec.python, self.timeout,
                               start_timeout=self.start_timeout, spill=self.spill)
            try:
                st.worker.launch()
            except OSError as e:  # e.g. --python names an interpreter that does not exist
                st.unavailable, st.worker = f"cannot start {st.spec.python or 'python'}: {e}", None
        for st in self.adapters:
            if st.worker is None:
                continue
            try:
                st.info = st.worker.await_ready()
            except WorkerStartError as e:
                st.unavailable, st.worker = str(e), None
                continue
            unknown = unknown_declarations(st.info)
            if unknown:  # a declaration error is the adapter's: it is not run
                st.unavailable = (f"{st.spec.name} declares {', '.join(map(repr, unknown))}, which "
                                  "the reference does not compute (known: reference.CONVENTIONS)")
                st.worker.request_exit()
                st.worker.close()
                st.info, st.worker = None, None
        self.timing.imports += time.perf_counter() - t0

    def close(self) -> None:
        """Ask every worker to exit, then wait for them (they exit concurrently). Idempotent."""
        if getattr(self, "_closed", False):
            return
        self._closed = True
        workers = [st.worker for st in self.adapters if st.worker]
        for w in workers:
            w.request_exit()
        for w in workers:
            w.close()
        if self._spill is not None:
            self._spill.close()
            self._spill = self.spill = None

    @property
    def running(self) -> list[AdapterState]:
        return [st for st in self.adapters if st.worker is not None]

    def run(self, cases: list[Case], on_verdict: Callable[[Verdict], None] | None = None,
            progress: Callable[[int, int], None] | None = None,
            on_batch: Callable[[list[Case], list[Verdict]], None] | None = None,
            keep_outputs: bool = False) -> list[Verdict]:
        """Judge every case on every running adapter. `on_batch` sees each finished batch (for
        checkpoints); `progress(done, total)` and `on_verdict` are for display."""
        verdicts: list[Verdict] = []
        t_start = time.perf_counter()
        batches, small = [], []
        for c in cases:  # cases in order; each large case is a batch of its own
            if is_large(c):
                if small:
                    batches.append((small, False))
                    small = []
                batches.append(([c], True))
            else:
                small.append(c)
                if len(small) == self.batch_size:
                    batches.append((small, False))
                    small = []
        if small:
            batches.append((small, False))
        done = 0
        current = None  # the small batch sent and warmed, judged next
        for i, (batch, large) in enumerate(batches):
            if large:
                out = self._run_large(batch[0], on_verdict, keep_outputs)
            else:
                if current is None:
                    current = self._launch(batch)
                    self._warm(current[1])
                ahead = None  # batch k+1 goes to the workers before batch k is judged
                if i + 1 < len(batches) and not batches[i + 1][1]:
                    ahead = self._launch(batches[i + 1][0])
                out = self._judge_batch(current, on_verdict, keep_outputs)
                current = ahead
                if current is not None:
                    self._warm(current[1])
            verdicts += out
            done += len(batch)
            if on_batch:
                on_batch(batch, out)
            if progress:
                progress(done, len(cases))
        self.timing.wall += time.perf_counter() - t_start
        return verdicts

    def _launch(self, batch: list[Case]):
        """Generate a batch's inputs and send them to every worker (returns at once)."""
        t0 = time.perf_counter()
        datas = [generate_inputs(c.params, c.id, self.spill) for c in batch]
        refs = [CaseReference(c, d) for c, d in zip(batch, datas)]
        shared: list[str] = []
        items = [WorkItem({**d.worker_params, "case_id": c.id}, self._share(d.arrays(), shared),
                          c.checks) for c, d in zip(batch, datas)]
        partners = []  # (index of the case in the batch, Partner): each a further item
        for i, (c, d) in enumerate(zip(batch, datas)):
            for name in c.params.get("relations") or ():
                p = relations.partner(name, c.params, d)
                partners.append((i, p))
                if p.why_not is None:
                    checks = [ch for ch in c.checks if ch in relations.RELATIONS[name][1]]
                    items.append(WorkItem({**p.worker_params, "case_id": f"{c.id}~{name}"},
                                          self._share(p.arrays, shared), checks))
        t1 = time.perf_counter()
        self.timing.generation += t1 - t0
        for st in self.running:
            st.worker.send(items)
        self.timing.transfer_and_wait += time.perf_counter() - t1
        return batch, refs, shared, partners

    def _share(self, arrays: dict, files: list[str]) -> dict:
        """Arrays large enough to travel as files are written to one file now, mapped by every
        worker, instead of one file per worker. The parent's files (those written here and the
        logits already generated into the spill directory) are added to `files`, removed once
        the case is judged."""
        out = {}
        for k, a in arrays.items():
            path = mapped_file(a)
            if path is None and self.spill and a.nbytes >= ipc.SPILL_BYTES and a.size:
                a = spill_array(self.spill, a.dtype, a.shape, a)
                path = os.fspath(a.filename)
            if path is not None and self.spill and path.startswith(self.spill):
                files.append(path)
            out[k] = a
        return out

    def _warm(self, refs: list[CaseReference]) -> None:
        t0 = time.perf_counter()
        for r in refs:
            r.warm()
        self.timing.reference += time.perf_counter() - t0

    def _judge_batch(self, launched, on_verdict, keep_outputs) -> list[Verdict]:
        batch, refs, shared, partners = launched
        out: list[Verdict] = []
        for st in self.running:
            tw = time.perf_counter()
            results = list(st.worker.receive())
            self.timing.transfer_and_wait += time.perf_counter() - tw
            tc = time.perf_counter()
            try:
                for case, ref, res in zip(batch, refs, results):
                    out += self._judge_result(st, case, ref, res, on_verdict, keep_outputs)
                out += self._judge_relations(st, batch, refs, results, partners, on_verdict)
            finally:
                for res in results:
                    self._remove_results(res, shared)
            self.timing.comparison += time.perf_counter() - tc
        self._remove(shared)
        return out

    def _judge_result(self, st, case, ref, res, on_verdict, keep_outputs) -> list[Verdict]:
        out = []
        for check in case.checks:
            answer = res.checks.get(check, {"status": CRASH, "message": "no answer"})
            self.timing.framework_calls += answer.get("seconds") or 0.0
            in_force = [d for d in st.info.get("conventions", [])
                        if in_scope(d, case.params, check)]
            declared = [d for d in in_force if d["name"] in reference.CONVENTIONS]
            refusals = tuple(d for d in in_force if d.get("raises"))
            v = judge(case.id, st.spec.name, check, case.invalid, answer, res.arrays.get(check),
                      lambda conv, ref=ref, check=check: ref.value(check, conv),
                      lambda conv, ref=ref, check=check: ref.bound(check, conv),
                      case.params["dtype"], tuple(d["name"] for d in declared),
                      st.info.get("version", ""), self.device,
                      kinds={d["name"]: d.get("kind", "convention") for d in declared},
                      dtype_of=lambda conv, ref=ref, check=check: ref.result_dtype(check, conv),
                      refusals=refusals)
            if keep_outputs:
                v.output = res.arrays.get(check)
            out.append(v)
            if on_verdict:
                on_verdict(v)
        return out

    def _judge_relations(self, st, batch, refs, results, partners, on_verdict) -> list[Verdict]:
        """The relation checks of a batch: each partner's result against its case's own."""
        out = []
        extra = iter(results[len(batch):])
        for i, p in partners:
            case, ref, main = batch[i], refs[i], results[i]
            other = next(extra) if p.why_not is None else None
            for ch in case.checks:
                if ch not in relations.RELATIONS[p.relation][1]:
                    continue
                no = {"status": CRASH, "message": "no answer"}
                a = (main.checks.get(ch, no), main.arrays.get(ch))
                b = ((other.checks.get(ch, no), other.arrays.get(ch)) if other is not None
                     else (no, None))
                try:
                    bound, value = ref.bound(ch), ref.value(ch)
                except Exception:  # noqa: BLE001 - no reference: the relation needs none
                    bound, value = np.inf, np.nan
                refusals = tuple(d for d in st.info.get("conventions", [])
                                 if d.get("raises") and in_scope(d, case.params, ch))
                v = relations.judge_relation(case, st.spec.name, f"{ch}~{p.relation}", a, b, p,
                                             bound, value, case.params["dtype"],
                                             st.info.get("version", ""), self.device,
                                             refusals=refusals)
                out.append(v)
                if on_verdict:
                    on_verdict(v)
        return out

    def _run_large(self, case: Case, on_verdict, keep_outputs) -> list[Verdict]:
        """One large case, one worker at a time (each framework's temporaries alone in memory);
        the forward reference is computed while the first worker computes."""
        t0 = time.perf_counter()
        data = generate_inputs(case.params, case.id, self.spill)
        ref = CaseReference(case, data)
        shared: list[str] = []
        item = WorkItem({**data.worker_params, "case_id": case.id},
                        self._share(data.arrays(), shared), case.checks)
        self.timing.generation += time.perf_counter() - t0
        out: list[Verdict] = []
        try:
            for k, st in enumerate(self.running):
                tw = time.perf_counter()
                st.worker.send([item])
                t_sent = time.perf_counter()
                if k == 0:
                    self._warm([ref])
                tr = time.perf_counter()
                (res,) = list(st.worker.receive())
                self.timing.transfer_and_wait += (t_sent - tw) + (time.perf_counter() - tr)
                tc = time.perf_counter()
                try:
                    out += self._judge_result(st, case, ref, res, on_verdict, keep_outputs)
                    for check in case.relation_checks:  # a second call of this size: not run
                        v = Verdict(case.id, st.spec.name, check, "unsupported",
                                    detail="relations are not run on large (streamed) cases",
                                    version=st.info.get("version", ""), device=self.device)
                        out.append(v)
                        if on_verdict:
                            on_verdict(v)
                finally:
                    self._remove_results(res, shared)
                    res = None  # unmapped before the next framework writes its result
                self.timing.comparison += time.perf_counter() - tc
        finally:
            self._remove(shared)
        return out

    def _remove_results(self, res, keep) -> None:
        """Delete the files a worker's answer came in (never the parent's own input files)."""
        keep = {os.path.realpath(p) for p in keep}
        self._remove([p for p in spill_files(res.arrays, self.spill)
                      if os.path.realpath(p) not in keep])

    @staticmethod
    def _remove(paths) -> None:
        for p in paths:
            try:
                os.unlink(p)
            except OSError:
                pass

    def environment(self) -> dict:
        fw = {}
        for st in self.adapters:
            if st.info:
                fw[st.spec.name] = {k: st.info.get(k) for k in
                                    ("api", "distribution", "version", "device", "flags", "dispatch",
                                     "python", "capabilities", "conventions")}
                if st.spec.python:
                    fw[st.spec.name]["interpreter"] = st.spec.python
            else:
                fw[st.spec.name] = {"unavailable": st.unavailable}
        return {"python": sys.version.split()[0], "platform": platform.platform(),
                "machine": platform.machine(), "numpy": np.__version__, "cpu": cpu_info(),
                "device": self.device,
                "frameworks": dict(sorted(fw.items()))}  # whatever order they were named in

    def events(self) -> list[dict]:
        out = []
        for st in self.adapters:
            if st.worker:
                out += [{"framework": st.spec.name, **e} for e in st.worker.events]
        return out


