"""Progress of `run` and `gate` on stderr: a bar on a terminal, quiet lines elsewhere.

On a terminal (stderr is a TTY, `CI` is unset and `TERM` is not `dumb`) a tqdm bar with the counts
so far; anywhere else (CI logs, a pipe, a file) one plain line at most every 10 seconds and one at
the end, as a log should read. `XENT_PARITY_PROGRESS=bar|lines|none` chooses either way. Nothing
is ever coloured, so `NO_COLOR` holds by construction (and `NO_COLOR` or `TERM=dumb` also keep
the bar's Unicode blocks out: it is drawn in ASCII).
"""

from __future__ import annotations

import os
import sys
import time

MODES = ("bar", "lines", "none")
EVERY_S = 10.0


def mode(stream=None) -> str:
    """'bar', 'lines' or 'none' for `stream` (default stderr) in this environment."""
    chosen = os.environ.get("XENT_PARITY_PROGRESS", "").strip().lower()
    if chosen in MODES:
        return chosen
    stream = stream or sys.stderr
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    if tty and not os.environ.get("CI") and os.environ.get("TERM") != "dumb":
        return "bar"
    return "lines"


class Progress:
    """`update(done, counts)` as work finishes; `write(line)` for a message above the bar;
    `close()` at the end (idempotent). `quiet` shows nothing at all."""

    def __init__(self, total: int, desc: str, unit: str = "case", quiet: bool = False,
                 stream=None, done: int = 0):
        self.stream = stream or sys.stderr
        self.mode = "none" if quiet else mode(self.stream)
        self.total, self.desc, self.unit, self.done = total, desc, unit, done
        self._last = time.monotonic()
        self._bar = None
        if self.mode == "bar":
            from tqdm import tqdm

            plain = bool(os.environ.get("NO_COLOR")) or os.environ.get("TERM") == "dumb"
            self._bar = tqdm(total=total, initial=done, desc=desc, unit=unit, file=self.stream,
                             ascii=plain, dynamic_ncols=True, leave=True)

    def line(self, counts: str = "") -> str:
        """The plain progress line: `[done/total unit] counts`."""
        return f"[{self.done}/{self.total} {self.unit}s] {counts}".rstrip()

    def update(self, done: int, counts: str = "") -> None:
        done = min(done, self.total)
        if self.mode == "bar" and self._bar is not None:
            self._bar.update(done - self.done)
            self.done = done
            if counts:
                self._bar.set_postfix_str(counts, refresh=False)
            return
        self.done = done
        if self.mode == "lines" and (time.monotonic() - self._last > EVERY_S
                                     or done == self.total):
            self.write(self.line(counts))
            self._last = time.monotonic()

    def write(self, msg: str) -> None:
        if self.mode == "none":
            return
        if self._bar is not None:
            self._bar.write(msg, file=self.stream)
        else:
            print(msg, file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
