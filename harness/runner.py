"""The run: cases in batches through every adapter's worker, judged against the reference.

Inputs are generated once per case and shared by every adapter; the reference runs in this (the
parent) process while the workers compute, and is cached per case and convention set.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

import reference
from harness import bounds
from harness.adapters import load_class, resolve
from harness.cases import Case
from harness.inputs import CaseData, generate_inputs
from harness.pool import Worker, WorkerStartError, WorkItem
from harness.verdicts import CRASH, Verdict, judge


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


class CaseReference:
    """Reference values and bounds of one case, computed lazily and cached."""

    def __init__(self, case: Case, data: CaseData):
        self.case, self.data = case, data
        self._cache: dict = {}

    def _args(self):
        d = self.data
        w = None if d.weight is None else d.weight.astype(np.float64)
        return d.x.astype(np.float64), d.label, w

    def value(self, check: str, conventions: tuple[str, ...] = ()) -> np.ndarray:
        key = (check, conventions)
        if key not in self._cache:
            x, label, w = self._args()
            try:
                if check in ("forward", "none"):  # "none": per-position losses, for the bounds
                    kw = dict(self.data.ref_kwargs)
                    if check == "none":
                        kw["reduction"] = "none"
                    out = reference.cross_entropy(x, label, w, **kw, conventions=conventions)
                else:
                    g = None if self.data.grad_output is None else self.data.grad_output.astype(
                        np.float64)
                    out = reference.cross_entropy_grad(x, label, w, **self.data.ref_kwargs,
                                                       grad_output=g, conventions=conventions)
            except Exception as e:  # noqa: BLE001 - judged per result, never fatal to the run
                out = e
            self._cache[key] = out
        out = self._cache[key]
        if isinstance(out, Exception):
            raise out
        return out

    def bound(self, check: str, conventions: tuple[str, ...] = ()) -> np.ndarray:
        """The error bound of `value(check, conventions)` (see harness.bounds)."""
        key = ("bound", check, conventions)
        if key not in self._cache:
            x, label, w = self._args()
            kw, dtype = self.data.ref_kwargs, self.case.params["dtype"]
            if check == "forward":
                per_pos = self.value("none", conventions)
                canonical = np.shape(self.value("none"))
                if np.shape(per_pos) != canonical and np.size(per_pos) == int(np.prod(canonical)):
                    per_pos = np.reshape(per_pos, canonical)
                b = bounds.forward_bound(x, label, w, kw, dtype, per_pos)
            else:
                g = None if self.data.grad_output is None else self.data.grad_output.astype(np.float64)
                b = bounds.grad_bound(x, label, w, kw, dtype, g)
                if conventions:
                    b = bounds.convention_grad_bound(b, self.value(check, conventions),
                                                     kw["axis"], dtype)
            target = np.shape(self.value(check, conventions))
            if np.shape(b) != target and np.size(b) == int(np.prod(target)):
                b = np.reshape(b, target)  # a convention that keeps or drops a size-1 axis
            self._cache[key] = b
        return self._cache[key]

    def warm(self) -> None:
        """Compute the canonical values and bounds now (overlaps with the workers)."""
        if self.case.invalid:
            return
        for check in self.case.checks:
            try:
                self.value(check)
                self.bound(check)
            except Exception:  # noqa: BLE001 - cached; judge() reports it on each result
                pass


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
                 batch_size: int = 24):
        self.device, self.timeout, self.batch_size = device, timeout, batch_size
        self.adapters = [AdapterState(s) for s in specs]
        self.timing = Timing()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def start(self) -> None:
        """Start every worker; they import their frameworks concurrently."""
        t0 = time.perf_counter()
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
            st.worker = Worker(st.spec.name, st.spec.ref, self.device, st.spec.python, self.timeout)
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
        self.timing.imports += time.perf_counter() - t0

    def close(self) -> None:
        for st in self.adapters:
            if st.worker:
                st.worker.close()

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
        for lo in range(0, len(cases), self.batch_size):
            batch = cases[lo:lo + self.batch_size]
            n_before = len(verdicts)
            t0 = time.perf_counter()
            datas = [generate_inputs(c.params, c.id) for c in batch]
            refs = [CaseReference(c, d) for c, d in zip(batch, datas)]
            items = [WorkItem({**d.worker_params, "case_id": c.id}, d.arrays(), c.checks) for c, d in zip(batch, datas)]
            t1 = time.perf_counter()
            self.timing.generation += t1 - t0
            for st in self.running:
                st.worker.send(items)
            t2 = time.perf_counter()
            for r in refs:
                r.warm()
            t3 = time.perf_counter()
            self.timing.reference += t3 - t2
            self.timing.transfer_and_wait += t2 - t1
            for st in self.running:
                tw = time.perf_counter()
                results = list(st.worker.receive())
                self.timing.transfer_and_wait += time.perf_counter() - tw
                tc = time.perf_counter()
                for case, ref, res in zip(batch, refs, results):
                    for check in case.checks:
                        answer = res.checks.get(check, {"status": CRASH, "message": "no answer"})
                        self.timing.framework_calls += answer.get("seconds") or 0.0
                        v = judge(case.id, st.spec.name, check, case.invalid, answer,
                                  res.arrays.get(check),
                                  lambda conv, ref=ref, check=check: ref.value(check, conv),
                                  lambda conv, ref=ref, check=check: ref.bound(check, conv),
                                  case.params["dtype"],
                                  tuple(c["name"] for c in st.info.get("conventions", [])),
                                  st.info.get("version", ""), self.device)
                        if keep_outputs:
                            v.output = res.arrays.get(check)
                        verdicts.append(v)
                        if on_verdict:
                            on_verdict(v)
                self.timing.comparison += time.perf_counter() - tc
            if on_batch:
                on_batch(batch, verdicts[n_before:])
            if progress:
                progress(min(lo + self.batch_size, len(cases)), len(cases))
        self.timing.wall += time.perf_counter() - t_start
        return verdicts

    def environment(self) -> dict:
        import platform

        fw = {}
        for st in self.adapters:
            if st.info:
                fw[st.spec.name] = {k: st.info.get(k) for k in
                                    ("api", "distribution", "version", "device", "flags", "python",
                                     "capabilities", "conventions")}
                if st.spec.python:
                    fw[st.spec.name]["interpreter"] = st.spec.python
            else:
                fw[st.spec.name] = {"unavailable": st.unavailable}
        return {"python": sys.version.split()[0], "platform": platform.platform(),
                "machine": platform.machine(), "numpy": np.__version__, "device": self.device,
                "frameworks": dict(sorted(fw.items()))}  # whatever order they were named in

    def events(self) -> list[dict]:
        out = []
        for st in self.adapters:
            if st.worker:
                out += [{"framework": st.spec.name, **e} for e in st.worker.events]
        return out


def grid_hash(cases: list[Case]) -> str:
    h = hashlib.sha256()
    for c in cases:
        h.update(json.dumps([c.id, c.params], sort_keys=True).encode())
    return h.hexdigest()[:16]
