"""A worker process: one adapter, long-lived, fed batches of cases over a pipe.

Started by `harness.pool.Worker` as `python -m harness.worker ADAPTER_REF --device DEV`. The protocol
runs on the original stdout; fd 1 is pointed at stderr before the framework is imported, so
anything a framework prints (even from C) cannot corrupt the protocol.

Requests: {"op": "hello"} -> adapter info; {"op": "run", "items": [...]} -> one {"op": "result"}
message per item, in order, then {"op": "done"}; {"op": "exit"}.
"""

from __future__ import annotations

import os
import sys
import time
import traceback


def _prefer_to_be_oom_killed() -> None:
    """Linux: if memory runs out, let the kernel kill this worker (recorded as a crash of the case
    in flight) rather than the parent that holds the run's results."""
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
    except OSError:
        pass


def _serve(adapter_ref: str, device: str) -> int:
    _prefer_to_be_oom_killed()
    proto_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # frameworks that print go to stderr
    sys.stdout = sys.stderr
    proto_in = sys.stdin.buffer

    import numpy as np

    from harness.adapters import load_class
    from harness.adapters.base import (LARGE_CALL_BYTES, Inputs, Output, Unsupported,
                                       available_memory)
    from harness.ipc import ALLOWED_DTYPES, read_message, write_message

    spill = os.environ.get("XENT_PARITY_SPILL") or None  # large arrays travel as files there
    adapter = None
    while True:
        try:
            header, arrays = read_message(proto_in, spill)
        except EOFError:
            return 0
        op = header.get("op")
        if op == "exit":  # every answer is written: leave without the interpreter's teardown
            _leave()
            return 0
        if op == "hello":
            t0 = time.perf_counter()
            try:
                cls = load_class(adapter_ref)
                adapter = cls(device=device)
                flags = adapter.setup()
                try:
                    dispatch = adapter.dispatch()
                except Exception as e:  # noqa: BLE001 - information only, never fatal
                    dispatch = {"error": f"{type(e).__name__}: {e}"}
                write_message(proto_out, {"op": "hello", "ok": True, **cls.describe(),
                                          "version": cls.version(), "device": device,
                                          "flags": flags, "dispatch": dispatch,
                                          "python": sys.version.split()[0],
                                          "setup_s": time.perf_counter() - t0})
            except Exception as e:  # an adapter that cannot start is reported, not fatal to the run
                write_message(proto_out, {"op": "hello", "ok": False,
                                          "error": f"{type(e).__name__}: {e}",
                                          "traceback": traceback.format_exc(limit=8)})
            continue
        if op != "run" or adapter is None:
            write_message(proto_out, {"op": "error", "error": f"unexpected op {op!r}"})
            continue
        for i, item in enumerate(header["items"]):
            p = f"{i}."
            inputs = Inputs(x=arrays[p + "x"], label=arrays[p + "label"],
                            weight=arrays.get(p + "weight"), grad_output=arrays.get(p + "grad_output"))
            params = item["params"]
            reply, out_arrays = {"op": "result", "index": i}, {}
            reason = adapter.unsupported_reason(params)
            for check in item["checks"]:
                why = reason or adapter.memory_reason(params, check)
                if why is not None:
                    reply[check] = {"status": "unsupported", "reason": why}
                    continue
                fn = adapter.forward if check == "forward" else adapter.gradient
                started = time.monotonic()  # system-wide clock: comparable with the parent's
                t0 = time.perf_counter()
                try:
                    out = fn(inputs, params)
                    if not isinstance(out, Output):
                        out = np.asarray(out)
                        out = Output(out, out.dtype.name)
                    values = np.asarray(out.values)
                    if values.dtype.kind not in "fiub":
                        raise TypeError(f"adapter returned non-numeric dtype {values.dtype}")
                    if values.dtype.str not in ALLOWED_DTYPES:
                        # the pipe carries native plain dtypes only (a longdouble or big-endian
                        # result would kill the worker): send native or float64 values; the
                        # reported dtype keeps the adapter's own name
                        native = values.dtype.newbyteorder("=")
                        values = values.astype(native if native.str in ALLOWED_DTYPES
                                               else np.float64)
                    reply[check] = {"status": "ok", "dtype": out.dtype,
                                    "seconds": time.perf_counter() - t0, "started": started}
                    out_arrays[check] = values
                except Unsupported as e:
                    reply[check] = {"status": "unsupported", "reason": str(e)}
                except MemoryError as e:
                    if adapter.memory_need(params, check) < LARGE_CALL_BYTES:
                        # a small case: the framework's own failure, judged as an error
                        reply[check] = {"status": "error", "type": "MemoryError",
                                        "message": _short(str(e)),
                                        "seconds": time.perf_counter() - t0}
                        continue
                    avail = available_memory()  # a large case that does not fit this machine
                    reply[check] = {"status": "unsupported", "reason": (
                        f"needs more memory than this machine has: MemoryError ({_short(str(e), 200)})"
                        + (f" with {avail / 2**30:.1f} GiB available" if avail else ""))}
                except Exception as e:  # noqa: BLE001 - any framework exception is a result
                    reply[check] = {"status": "error", "type": type(e).__name__,
                                    "message": _short(str(e)), "seconds": time.perf_counter() - t0}
            write_message(proto_out, reply, out_arrays, spill=spill)
            out_arrays = values = out = None  # a large result is freed before the next item
        arrays = inputs = None
        write_message(proto_out, {"op": "done"})


def _leave() -> None:
    """Exit at once: the frameworks' own teardown (atexit handlers, freeing every tensor and
    compiled function, thread pools) takes seconds per worker and serves nothing here, since the
    parent reads every answer before it asks a worker to exit. stdout and stderr are flushed
    first. Under coverage or a debugger (`XENT_PARITY_WORKER_TEARDOWN=1`) the normal exit is
    kept."""
    if os.environ.get("XENT_PARITY_WORKER_TEARDOWN"):
        return
    for f in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            f.flush()
        except (AttributeError, OSError, ValueError):
            pass
    os._exit(0)


def _short(msg: str, limit: int = 600) -> str:
    msg = msg.strip()
    return msg if len(msg) <= limit else msg[: limit - 20] + " ... [truncated]"


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m harness.worker")
    ap.add_argument("adapter_ref")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    return _serve(args.adapter_ref, args.device)


if __name__ == "__main__":
    raise SystemExit(main())
