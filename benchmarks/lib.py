"""Shared helpers of the benchmarks: interleaved timing, memory, process monitoring, the machine.

Every figure the benchmarks report is a ratio of things timed side by side in the same process
and the same run: `interleave` runs the contenders in turn, rotating the order each repetition, so
that a burst of load from elsewhere hits all of them alike; the best (minimum) time of each is the
least disturbed estimate, and the median of the per-repetition ratios is given beside it.
"""

from __future__ import annotations

import datetime as _dt
import gc
import os
import platform
import signal
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


# -- timing -------------------------------------------------------------------------------------------
def interleave(fns: dict[str, Callable[[], object]], reps: int, warmup: int = 1,
               cpu: dict | None = None) -> dict[str, list]:
    """Wall times of each function over `reps` rounds, run in turn (order rotated every round).
    With `cpu` (a dict), the process CPU times of the same calls go there: on a shared machine
    they move far less than wall times when other processes compete for the cores (measure with
    one BLAS/OpenMP thread so that CPU time is single-core time)."""
    names = list(fns)
    for _ in range(warmup):
        for n in names:
            fns[n]()
    times: dict[str, list] = {n: [] for n in names}
    cpus: dict[str, list] = {n: [] for n in names}
    for r in range(reps):
        order = names[r % len(names):] + names[:r % len(names)]
        for n in order:
            gc.collect()
            c0, t0 = time.process_time(), time.perf_counter()
            out = fns[n]()
            t1, c1 = time.perf_counter(), time.process_time()
            del out  # freeing the result is not part of the call
            times[n].append(t1 - t0)
            cpus[n].append(c1 - c0)
    if cpu is not None:
        cpu.update(cpus)
    return times


def ratio(times: dict[str, list], num: str, den: str) -> dict:
    """`num / den`: ratio of the best times, and the median of the per-round ratios."""
    a, b = times[num], times[den]
    return {"best": min(a) / min(b),
            "median": statistics.median(x / y for x, y in zip(a, b) if y > 0) if any(b) else
            float("nan")}


def peak_extra_bytes(fn: Callable[[], object]) -> tuple[int, object]:
    """Peak memory allocated while `fn` runs, above what was allocated before (tracemalloc sees
    numpy's array buffers), and fn's result."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        out = fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak - base, out


# -- the machine --------------------------------------------------------------------------------------
def meminfo() -> dict[str, int]:
    out = {}
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                k, v = line.split(":", 1)
                out[k] = int(v.split()[0]) * 1024
    except OSError:
        pass
    return out


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for dist in ("numpy", "torch", "paddlepaddle", "tensorflow-cpu", "keras", "jax", "jaxlib",
                 "optax", "onnxruntime", "pytest", "pytest-xdist"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def git_state() -> dict:
    def git(*args):
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                                  timeout=20).stdout
        except (OSError, subprocess.SubprocessError):
            return ""
    return {"commit": git("rev-parse", "--short", "HEAD").strip(),
            "modified": [ln[3:] for ln in git("status", "--porcelain").splitlines()
                         if ln[:2].strip() and not ln.startswith("??")]}


def machine() -> dict:
    return {"date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "nproc": os.cpu_count(), "cpu": cpu_model(),
            "mem_total_gib": round(meminfo().get("MemTotal", 0) / 2**30, 1),
            "mem_available_gib": round(meminfo().get("MemAvailable", 0) / 2**30, 1),
            "platform": platform.platform(), "versions": versions(), "git": git_state(),
            "loadavg": [round(x, 2) for x in os.getloadavg()]}


MAX_WAIT = 90.0  # run.py sets 0 for --quick


def wait_for_quiet(max_load: float | None = None, max_wait: float | None = None,
                   quiet=False) -> dict:
    """Wait (up to max_wait s, default MAX_WAIT) until the 1-minute load average is at most
    `max_load` (default 0.75 x nproc); returns the load before and after and the seconds waited."""
    if max_wait is None:
        max_wait = MAX_WAIT
    if max_load is None:
        max_load = 0.75 * (os.cpu_count() or 1)
    before = os.getloadavg()[0]
    t0 = time.monotonic()
    while os.getloadavg()[0] > max_load and time.monotonic() - t0 < max_wait:
        if not quiet:
            print(f"  load {os.getloadavg()[0]:.2f} > {max_load:.2f}: waiting", file=sys.stderr,
                  flush=True)
        time.sleep(15)
    return {"load_before": round(before, 2), "load_after": round(os.getloadavg()[0], 2),
            "waited_s": round(time.monotonic() - t0, 1)}


# -- processes ----------------------------------------------------------------------------------------
_CLK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _stat(pid: int):
    """(ppid, cpu seconds, rss bytes) of a process, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rfind(")") + 2:].split()
    # fields after the name: state ppid ... utime(12) stime(13) ... rss(22)
    return int(rest[1]), (int(rest[11]) + int(rest[12])) / _CLK, int(rest[21]) * _PAGE


def _status(pid: int) -> dict[str, int]:
    """The kB fields of /proc/PID/status, in bytes (VmHWM: peak RSS, file pages included;
    RssAnon: the process's own memory now, without the shared file pages it maps)."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if v.strip().endswith("kB"):
                    out[k] = int(v.split()[0]) * 1024
    except OSError:
        pass
    return out


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = _stat(int(d))
            if st:
                children.setdefault(st[0], []).append(int(d))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


class ProcMonitor:
    """Polls a process tree: per process peak RSS (VmHWM) and CPU seconds, and the peak of the
    tree's total RSS. With `limit_bytes` (total RSS) or `floor_bytes` (MemAvailable), it kills the
    offending process with SIGKILL, as the kernel's OOM killer would, before the shared machine
    runs out of memory: the biggest process of the tree, or the whole tree if `kill_tree`."""

    def __init__(self, root: int, interval: float = 0.1, limit_bytes: int | None = None,
                 floor_bytes: int | None = None, kill_tree: bool = False,
                 per_process_limit: int | None = None):
        self.root, self.interval = root, interval
        self.limit, self.floor, self.kill_tree = limit_bytes, floor_bytes, kill_tree
        self.per_process_limit = per_process_limit
        self.procs: dict[int, dict] = {}
        self.peak_total = 0
        self.available_start = meminfo().get("MemAvailable", 0)
        self.available_min = self.available_start
        self.kills: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        self._stop.set()
        self._thread.join()
        self.sample()

    def _loop(self):
        n = 0
        while not self._stop.is_set():
            # rescanning /proc costs ~ms; do it every 5th poll, sample known pids in between
            self.sample(rescan=n % 5 == 0)
            n += 1
            self._stop.wait(self.interval)

    def sample(self, rescan: bool = True):
        pids = descendants(self.root) if rescan else [p for p, d in self.procs.items()
                                                      if d.get("alive", True)]
        total = 0
        for pid in pids:
            st = _stat(pid)
            if st is None:
                if pid in self.procs:
                    self.procs[pid]["alive"] = False
                continue
            d = self.procs.setdefault(pid, {"cmd": _cmdline(pid), "peak_rss": 0, "cpu_s": 0.0,
                                            "peak_anon": 0, "first_seen": time.monotonic(),
                                            "alive": True})
            if rescan and pid != self.root:  # a fresh fork shows its parent's command line
                d["cmd"] = _cmdline(pid) or d["cmd"]
            d["cpu_s"] = st[1]
            status = _status(pid)
            d["peak_rss"] = max(d["peak_rss"], st[2], status.get("VmHWM", 0))
            d["peak_anon"] = max(d["peak_anon"], status.get("RssAnon", 0))
            d["last_seen"] = time.monotonic()
            total += st[2]
            if self.per_process_limit and st[2] > self.per_process_limit and pid != self.root:
                self._kill([pid], f"process RSS {st[2] / 2**30:.1f} GiB > per-process cap "
                                  f"{self.per_process_limit / 2**30:.1f} GiB")
        self.peak_total = max(self.peak_total, total)
        available = meminfo().get("MemAvailable", 1 << 62)
        self.available_min = min(self.available_min, available)
        if self.limit and total > self.limit:
            self._kill_biggest(f"tree RSS {total / 2**30:.1f} GiB > cap {self.limit / 2**30:.1f} GiB")
        elif self.floor and available < self.floor:
            self._kill_biggest(f"MemAvailable below {self.floor / 2**30:.1f} GiB")

    def _kill_biggest(self, why: str):
        alive = [p for p, d in self.procs.items() if d.get("alive")]
        if not alive:
            return
        if self.kill_tree:
            self._kill(alive, why)
            return
        sizes = {p: (_stat(p) or (0, 0, 0))[2] for p in alive}
        self._kill([max(sizes, key=sizes.get)], why)

    def _kill(self, pids: list[int], why: str):
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
                self.kills.append({"pid": p, "cmd": self.procs.get(p, {}).get("cmd", ""),
                                   "why": why})
            except (ProcessLookupError, PermissionError):
                pass

    def summary(self, label: Callable[[str], str] | None = None) -> dict:
        out = {"peak_total_rss": self.peak_total, "processes": [], "kills": self.kills,
               "available_start": self.available_start, "available_min": self.available_min,
               # what the run took from the machine at its worst (page cache it filled is
               # reclaimable and not counted; its own memory is)
               "peak_machine_use": self.available_start - self.available_min}
        for pid, d in sorted(self.procs.items()):
            out["processes"].append({"pid": pid, "name": (label or (lambda c: c))(d["cmd"]),
                                     "peak_rss": d["peak_rss"], "peak_anon": d["peak_anon"],
                                     "cpu_s": round(d["cpu_s"], 2)})
        return out


def worker_label(cmd: str) -> str:
    """A process's role from its command line: the adapter of a harness worker, else 'parent'."""
    if "harness.worker" in cmd:
        ref = cmd.split("harness.worker", 1)[1].split()[0]
        from harness.adapters import BUILTIN

        for name, r in BUILTIN.items():
            if r == ref:
                return name
        return ref
    return "parent"


def run_monitored(cmd: list[str], timeout: float, env: dict | None = None, cwd=ROOT,
                  **monitor_kw) -> dict:
    """Run a command in its own session under a ProcMonitor; returns rc, wall, output, memory."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=str(cwd), env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, start_new_session=True)
    with ProcMonitor(p.pid, **monitor_kw) as mon:
        try:
            out, _ = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            out, _ = p.communicate()
            out += f"\n[benchmark: killed after {timeout:.0f} s]"
    return {"rc": p.returncode, "wall_s": time.perf_counter() - t0, "output": out,
            "memory": mon.summary(worker_label)}


# -- formatting -----------------------------------------------------------------------------------------
def gib(b) -> str:
    return f"{b / 2**30:.2f} GiB"


def mib(b) -> str:
    return f"{b / 2**20:.0f} MiB"


def table(header: list[str], rows: list[list]) -> str:
    def cell(v):
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
        return str(v).replace("|", "\\|")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def met(ok: bool | None) -> str:
    return {True: "**met**", False: "**not met**", None: "n/a"}[ok]
