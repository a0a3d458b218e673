"""The contract every adapter meets, as checks an adapter's author can run on their own adapter.

    from harness.testing import check_adapter
    check_adapter("mypackage.adapter:MyAdapter")  # raises AssertionError listing what failed

The checks run the adapter the way the harness does, in its own worker process (so its framework
is never imported into the caller's process), on `CONTRACT_GRID` (cases/smoke.yaml: one case of
each kind of thing):
- the class is well formed: a name, an API, capabilities over known features and dtypes, a
  program whose entry point and arguments can be rendered (`declaration_problems`);
- its worker starts and reports its version, flags and declarations;
- no result crashes its worker or times out;
- every declaration has a demo case, and the reference explains the framework's numbers on it by
  that declaration (`demo_problems`);
- the reproducer of every result, run on its own in a fresh process, gives the very array the run
  recorded, bit for bit, and the same dtype (`reproducer_mismatches`): the bug-report script is
  the code that ran.
The repository runs the same checks over every registered adapter (tests/test_adapters.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterable

import numpy as np

from harness.adapters import load_class, resolve
from harness.adapters.base import FEATURES, Adapter, literal
from harness.cases import Case, load_case_file
from harness.verdicts import EXPLAINED, SETTLED

REPO_ROOT = Path(__file__).resolve().parent.parent
CONTRACT_GRID = REPO_ROOT / "cases" / "smoke.yaml"
KNOWN_DTYPES = ("float16", "bfloat16", "float32", "float64")

_DRIVER = r'''
import contextlib, io, json, sys
import numpy as np
jobs = json.load(open(sys.argv[1]))
for job in jobs:
    ns = {"__name__": "__reproducer__"}
    source = open(job["script"]).read()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(source, job["script"], "exec"), ns)
        np.save(job["out"], np.asarray(ns[job["var"]]))
        job["dtype"] = str(ns.get("dtype"))
    except Exception as e:
        job["error"] = f"{type(e).__name__}: {e}"
json.dump(jobs, open(sys.argv[2], "w"))
'''


def _adapter_ref(adapter: str | type[Adapter]) -> tuple[str, str]:
    if isinstance(adapter, type):
        ref = f"{adapter.__module__}:{adapter.__qualname__}"
        return adapter.name, ref
    return resolve(adapter)


def declaration_problems(cls: type[Adapter]) -> list[str]:
    """What is wrong with the class itself (no framework import)."""
    out = []
    for attr in ("name", "module", "distribution", "api", "capabilities"):
        if not getattr(cls, attr, None):
            out.append(f"{cls.__name__}.{attr} is not set")
    caps = getattr(cls, "capabilities", None)
    if caps is not None:
        out += [f"capabilities name an unknown feature {f!r}" for f in caps.features
                if f not in FEATURES]
        out += [f"capabilities name an unknown dtype {d!r}" for d in caps.dtypes
                if d not in KNOWN_DTYPES]
    for d in getattr(cls, "conventions", ()):
        if not d.demo and not d.no_demo:
            out.append(f"declaration {d.name!r} has no demo (the case parameters that show it) "
                       "and no no_demo reason")
    if not cls.program:
        out.append(f"{cls.__name__}.program is empty: the adapter calls its framework through "
                   "plain functions that the reproducer renders (harness.adapters.base)")
    return out


def contract_cases(path: str | Path = CONTRACT_GRID) -> list[Case]:
    return load_case_file(path)


DEMO_DEFAULTS = {"shape": [6, 5], "dtype": "float64", "checks": ["forward", "grad"]}


def demo_cases(cls: type[Adapter], workdir: str | Path) -> dict[int, Case]:
    """The demo case of each declaration (by its index in `cls.conventions`), loaded through the
    case language from files written in `workdir`. A demo's "checks" name the checks that must
    show it; the case runs forward and grad where both exist."""
    out = {}
    for i, d in enumerate(cls.conventions):
        if not d.demo:
            continue
        params = {k: v for k, v in d.demo.items() if k != "checks"}
        path = Path(workdir) / f"demo-{cls.name}-{i}.yaml"
        path.write_text(f"defaults: {json.dumps(DEMO_DEFAULTS)}\n"
                        f"blocks:\n  - cases:\n      - {json.dumps(params)}\n")
        (out[i],) = load_case_file(path)
    return out


def demo_problems(cls: type[Adapter], demos: dict[int, Case], verdicts) -> list[str]:
    """Each demo case must show its declaration: on the demo's "checks" each check, otherwise at
    least one check, is explained as declared with the name among the fitting conventions, and
    every other check passes or is explained by the adapter's declarations."""
    by = {(v.case_id, v.check): v for v in verdicts}
    out = []
    for i, case in demos.items():
        d = cls.conventions[i]
        vs = [by[(case.id, c)] for c in case.checks if (case.id, c) in by]
        if not vs:
            out.append(f"declaration {d.name!r}: its demo {case.id} gave no result")
        # the engine names a verdict divergent or known-defect only under the adapter's own
        # declarations, with the kind they declare (harness.verdicts)
        shown = [v for v in vs if v.verdict in EXPLAINED and d.name in
                 {n for s in [v.convention, *v.fitting] if s for n in s.split("+")}]
        required = d.demo.get("checks")
        if required:
            bad = [v for v in vs if v.check in required and v not in shown]
        elif not shown:
            bad = vs
        else:
            bad = [v for v in vs if v.verdict not in SETTLED]
        out += [f"declaration {d.name!r}: its demo {case.id} {v.check} does not show it: "
                f"{v.explain()}" for v in bad]
    return out


def run_adapter(adapter: str | type[Adapter], cases: Iterable[Case], timeout: float = 300.0):
    """(verdicts with outputs kept, the worker's info, why it is unavailable or None)."""
    from harness.runner import AdapterSpec, Engine

    name, ref = _adapter_ref(adapter)
    with Engine([AdapterSpec(name, ref)], timeout=timeout) as eng:
        eng.start()
        st = eng.adapters[0]
        if st.worker is None:
            return [], None, st.unavailable
        return eng.run(list(cases), keep_outputs=True), st.info, None


def reproducer_mismatches(adapter: str | type[Adapter], verdicts, cases: Iterable[Case],
                          workdir: str | Path | None = None, python: str = sys.executable,
                          timeout: float = 900.0) -> list[str]:
    """Every result whose reproducer, run in a fresh process (with the worker's environment),
    does not give the recorded array and dtype exactly; [] when all agree. Results without an
    output (errors, unsupported) have nothing to reproduce."""
    from harness.inputs import generate_inputs
    from harness.pool import THREAD_ENV, _adapter_environment
    from harness.reproducer import reproducer

    name, ref = _adapter_ref(adapter)
    by_id = {c.id: c for c in cases}
    work = Path(workdir or tempfile.mkdtemp(prefix="xent-parity-contract-"))
    jobs, recorded = [], []
    for v in verdicts:
        if v.output is None or v.case_id not in by_id:
            continue
        case = by_id[v.case_id]
        data = generate_inputs(case.params, case.id)
        script = work / f"repro{len(jobs)}.py"
        script.write_text(reproducer(case.id, data, ref, v.check, v.version, v.device,
                                     case_params=case.params))
        jobs.append({"script": str(script), "out": str(work / f"out{len(jobs)}.npy"),
                     "var": "grad" if v.check == "grad" else "loss"})
        recorded.append(v)
    if not jobs:
        return []
    (work / "jobs.json").write_text(json.dumps(jobs))
    (work / "driver.py").write_text(_DRIVER)
    env = {**os.environ, **THREAD_ENV, **_adapter_environment(ref)}
    proc = subprocess.run([python, str(work / "driver.py"), str(work / "jobs.json"),
                           str(work / "done.json")], env=env, cwd=str(work), timeout=timeout,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return [f"the reproducers' process failed ({proc.returncode}): {proc.stderr[-2000:]}"]
    done = json.loads((work / "done.json").read_text())
    out = []
    for job, v in zip(done, recorded):
        where = f"{name} {v.check} {v.case_id} ({job['script']})"
        if "error" in job:
            out.append(f"{where}: the reproducer raised {job['error']}")
            continue
        got = np.load(job["out"], allow_pickle=False)
        want = np.asarray(v.output)
        dtype_got = v.comparison.dtype_got if v.comparison is not None else None
        if got.shape != want.shape or not np.array_equal(got, want, equal_nan=True):
            out.append(f"{where}: the reproducer gives other values than the run recorded "
                       f"(shape {list(got.shape)} vs {list(want.shape)})")
        elif dtype_got is not None and job["dtype"] != dtype_got:
            out.append(f"{where}: the reproducer's dtype {job['dtype']} is not the run's "
                       f"{dtype_got}")
    return out


def check_adapter(adapter: str | type[Adapter], cases: Iterable[Case] | None = None,
                  workdir: str | Path | None = None) -> dict:
    """Run the whole contract on one adapter; raise AssertionError naming every failure. Returns
    what was checked (counts), for a report."""
    name, ref = _adapter_ref(adapter)
    cls = load_class(ref)
    problems = declaration_problems(cls)
    if problems:
        raise AssertionError(f"{name}: " + "; ".join(problems))
    cases = list(cases) if cases is not None else contract_cases()
    work = Path(workdir or tempfile.mkdtemp(prefix="xent-parity-contract-"))
    own_work = workdir is None  # removed on success; kept on failure, for the scripts it names
    demos = demo_cases(cls, work)
    known = {c.id for c in cases}
    extra = list({c.id: c for c in demos.values() if c.id not in known}.values())
    verdicts, info, unavailable = run_adapter(ref, cases + extra)
    if unavailable:
        raise AssertionError(f"{name}: the worker did not start: {unavailable}")
    for key in ("version", "flags", "capabilities", "conventions"):
        if key not in info:
            raise AssertionError(f"{name}: the worker's hello has no {key!r}")
    failures = [f"{v.check} {v.case_id}: {v.verdict}: {v.detail}" for v in verdicts
                if v.verdict in ("crash", "timeout")]
    failures += reproducer_mismatches(ref, verdicts, cases + extra, work)
    failures += demo_problems(cls, demos, verdicts)
    if failures:
        raise AssertionError(f"{name}: {len(failures)} contract failures:\n  " +
                             "\n  ".join(failures[:40]))
    if own_work:
        shutil.rmtree(work, ignore_errors=True)
    return {"adapter": name, "results": len(verdicts), "demos": len(demos),
            "reproduced": sum(v.output is not None for v in verdicts)}


__all__ = ["CONTRACT_GRID", "check_adapter", "contract_cases", "declaration_problems",
           "demo_cases", "demo_problems", "reproducer_mismatches", "run_adapter", "literal"]
