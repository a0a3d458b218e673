"""Parent side of the workers: start, feed, time out, restart.

Each adapter gets one long-lived `Worker` (a subprocess running `harness.worker`). A batch of items
is written to it at once; results stream back one message per item, so when the process dies or
hangs, the item in flight is known exactly: it gets `crash` or `timeout`, the worker is restarted,
and the rest of the batch is sent again. Nothing answered before is lost.

Several batches may be in flight: `send` returns at once (a writer thread feeds the pipe, so the
parent never blocks on a worker that is busy writing its previous answers) and `receive` reads the
oldest batch. The engine sends batch k+1 before it judges batch k, so no worker waits for the
parent. After a restart every unanswered item of every batch in flight is sent again, in order.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from harness.ipc import ProtocolError, read_message, write_message

REPO_ROOT = Path(__file__).resolve().parent.parent

# One thread per worker: several workers share the machine, and thread counts change reduction
# order. What a framework needs besides (its own thread, log and kernel variables) is its adapter's
# `environment` (harness.adapters.base.Adapter.worker_environment).
THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
              "CUDA_VISIBLE_DEVICES_KEEP": "1",
              # error messages that print a set in a stable order (str hashing)
              "PYTHONHASHSEED": "0"}


class WorkerStartError(RuntimeError):
    pass


class SendError(RuntimeError):
    """A batch could not be serialised (a harness bug, e.g. an array of a dtype the protocol does
    not carry); raised to the caller instead of being judged as the worker's crash."""


@dataclass
class WorkItem:
    params: dict
    arrays: dict[str, np.ndarray]  # x, label, weight?, grad_output?
    checks: list[str]


@dataclass
class ItemResult:
    """Per check: {"status": ok|error|unsupported|crash|timeout, ...}; arrays under check names."""

    checks: dict[str, dict]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)


class _FdReader:
    """Blocking reads on a pipe with a deadline (select), for read_message."""

    def __init__(self, fd: int):
        self.fd = fd
        self.deadline: float | None = None

    def read(self, n: int) -> bytes:
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                raise TimeoutError
        return os.read(self.fd, min(n, 1 << 24))


class Worker:
    """One adapter in one subprocess. `python` names the interpreter (another venv) to run it in."""

    def __init__(self, name: str, ref: str, device: str = "cpu", python: str | None = None,
                 timeout: float = 120.0, start_timeout: float = 180.0, spill: str | None = None):
        self.name, self.ref, self.device = name, ref, device
        self.python = python or sys.executable
        self.timeout, self.start_timeout = timeout, start_timeout
        self.proc: subprocess.Popen | None = None
        self.info: dict | None = None
        self.restarts = 0
        self.events: list[dict] = []  # crashes, timeouts and restarts, for the report
        self.start_seconds = 0.0
        self._dead: str | None = None
        self.spill = spill  # directory through which large arrays travel as files (harness.ipc)
        self._batches: deque[list[WorkItem]] = deque()  # sent, not yet fully answered
        self._writer: threading.Thread | None = None
        self._send_error: SendError | None = None  # raised by the next receive
        self._stderr = None  # the worker's stderr, a temporary file (read for the error tails)

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> dict:
        self.launch()
        return self.await_ready()

    def launch(self) -> None:
        """Spawn the process and ask for its hello; `await_ready` reads the answer. Split so that
        several workers import their frameworks at the same time."""
        env = {**os.environ, **THREAD_ENV, **_adapter_environment(self.ref)}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        if self.spill:
            env["XENT_PARITY_SPILL"] = self.spill
        self._release()  # a restart: the last process's pipes and stderr file
        self._stderr = tempfile.TemporaryFile()
        self._t_launch = time.perf_counter()
        self.proc = subprocess.Popen(
            [self.python, "-m", "harness.worker", self.ref, "--device", self.device],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, env=env,
            cwd=str(REPO_ROOT), start_new_session=True)
        self._reader = _FdReader(self.proc.stdout.fileno())
        try:
            write_message(self.proc.stdin, {"op": "hello"})
        except (BrokenPipeError, OSError):
            pass  # await_ready reports it

    def await_ready(self) -> dict:
        try:
            self._reader.deadline = time.monotonic() + self.start_timeout
            info, _ = read_message(self._reader)
        except TimeoutError:
            tail = self.stderr_tail()
            self.kill()
            raise WorkerStartError(
                f"{self.name} worker did not start within {self.start_timeout:g} s (importing "
                f"and setting up its framework; --startup-timeout): {tail}") from None
        except (EOFError, ProtocolError, BrokenPipeError) as e:
            tail = self.stderr_tail()
            self.kill()
            raise WorkerStartError(f"{self.name} worker did not start ({type(e).__name__}): {tail}") from None
        self.start_seconds += time.perf_counter() - self._t_launch
        if not info.get("ok"):
            self.kill()
            raise WorkerStartError(f"{self.name}: {info.get('error')}")
        self.info = info
        return info

    def stderr_tail(self, limit: int = 1500) -> str:
        try:
            self._stderr.seek(0, os.SEEK_END)
            size = self._stderr.tell()
            self._stderr.seek(max(0, size - limit))
            return self._stderr.read().decode(errors="replace").strip()
        except (AttributeError, OSError, ValueError):
            return ""

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.proc.kill()
            self.proc.wait()

    def request_exit(self) -> None:
        """Ask the worker to exit without waiting (`close` waits); lets several exit at once. A
        worker still being fed a batch (it may be blocked writing answers nobody reads, e.g. after
        an interrupt) cannot read the request: it is killed instead."""
        if self._writer is not None and self._writer.is_alive():
            self.kill()  # the pipe breaks and the writer thread ends
        self._join_writer()
        if self.proc and self.proc.poll() is None:
            try:
                write_message(self.proc.stdin, {"op": "exit"})
            except (BrokenPipeError, OSError, ValueError):
                pass

    def close(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.request_exit()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self._release()
        self.proc = None

    def _release(self) -> None:
        """Close what the last process left open: its pipes and the stderr file (otherwise they
        wait for the garbage collector, which warns about them)."""
        files = [self._stderr] + ([self.proc.stdin, self.proc.stdout] if self.proc else [])
        for f in files:
            if f is not None:
                try:
                    f.close()
                except OSError:
                    pass
        self._stderr = None

    def _death(self) -> str:
        code = self.proc.wait() if self.proc else None
        if code is not None and code < 0:
            sig = signal.Signals(-code).name
            why = f"killed by {sig}" + (" (possibly out of memory)" if sig == "SIGKILL" else "")
        else:
            why = f"exited with code {code}"
        tail = self.stderr_tail(600)
        return why + (f"; stderr: ...{tail[-600:]}" if tail else "")

    # -- work -------------------------------------------------------------------------------------
    def send(self, items: list[WorkItem]) -> None:
        """Queue a batch; `receive` collects the oldest batch queued. Returns before the worker
        has read it, so several workers (and the parent) compute at once."""
        self._batches.append(list(items))
        if not self._dead:
            self._write(self._batches[-1])

    def _write(self, items: list[WorkItem]) -> None:
        arrays = {}
        for i, it in enumerate(items):
            for k, a in it.arrays.items():
                if a is not None:
                    arrays[f"{i}.{k}"] = a
        header = {"op": "run", "items": [{"params": it.params, "checks": it.checks}
                                         for it in items]}
        self._join_writer()  # one frame at a time on the pipe
        stdin, spill = self.proc.stdin, self.spill

        def write():
            try:
                write_message(stdin, header, arrays, spill=spill)
            except (OSError, ValueError):  # the worker died: receive reads EOF and says how
                pass
            except Exception as e:  # noqa: BLE001 - e.g. an array that cannot be sent: re-raised
                self._send_error = SendError(f"cannot send a batch to {self.name}: "
                                             f"{type(e).__name__}: {e}")

        self._writer = threading.Thread(target=write, name=f"send-{self.name}", daemon=True)
        self._writer.start()

    def _join_writer(self) -> None:
        if self._writer is not None:
            self._writer.join()
            self._writer = None

    def _read(self) -> tuple[dict, dict]:
        """The next result message (a batch's closing "done" is skipped)."""
        err, self._send_error = self._send_error, None
        if err is not None:
            raise err  # a bug in what was sent, not a worker fault: not a crash of the case
        while True:
            self._reader.deadline = time.monotonic() + self.timeout
            header, arrays = read_message(self._reader, self.spill)
            if header.get("op") != "done":
                return header, arrays

    def receive(self) -> Iterator[ItemResult]:
        """Yield one ItemResult per item of the oldest batch sent, in order, surviving crashes
        and hangs."""
        if not self._batches:
            return
        pending = self._batches[0]
        while pending:
            if self._dead:
                item = pending.pop(0)
                yield ItemResult({c: {"status": "crash", "message": self._dead} for c in item.checks})
                continue
            try:
                header, arrays = self._read()
                if header.get("op") != "result":
                    raise ProtocolError(f"expected a result, got {header.get('op')!r}")
            except TimeoutError:
                item = pending.pop(0)
                self.kill()
                msg = f"no answer within {self.timeout:g} s; worker killed and restarted"
                self.events.append({"event": "timeout", "case": item.params.get("case_id"), "detail": msg})
                yield ItemResult({c: {"status": "timeout", "message": msg} for c in item.checks})
                self._restart()
                continue
            except (EOFError, ProtocolError) as e:
                item = pending.pop(0)
                detail = self._death() if isinstance(e, EOFError) else f"protocol error: {e}"
                self.kill()
                self.events.append({"event": "crash", "case": item.params.get("case_id"), "detail": detail})
                yield ItemResult({c: {"status": "crash", "message": detail} for c in item.checks})
                self._restart()
                continue
            pending.pop(0)
            yield ItemResult(header and {c: header[c] for c in header if c not in ("op", "index")}, arrays)
        self._batches.popleft()

    MAX_RESTARTS = 100

    def _restart(self) -> None:
        self._join_writer()  # it ends with a broken pipe once the process is gone
        self._send_error = None
        self.restarts += 1
        if self.restarts > self.MAX_RESTARTS:
            self._dead = f"gave up after {self.MAX_RESTARTS} restarts"
            return
        try:
            self.start()
        except WorkerStartError as e:
            self._dead = f"could not restart the worker: {e}"
            return
        self.events.append({"event": "restart", "detail": f"worker restarted ({self.restarts})"})
        unanswered = [it for batch in self._batches for it in batch]
        if unanswered:  # one frame for all of them; results come back in the same order
            self._write(unanswered)

    def run(self, items: list[WorkItem]) -> list[ItemResult]:
        self.send(items)
        return list(self.receive())


def _adapter_environment(ref: str) -> dict[str, str]:
    """The variables an adapter's worker starts with (its class is loaded here, in the parent: no
    framework is imported; a reference that cannot load gets none and fails in the worker)."""
    from harness.adapters import load_class

    try:
        cls = load_class(ref)
    except ValueError:
        return {}
    return cls.worker_environment(os.environ)
