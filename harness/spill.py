"""The spill directory: where a run's large arrays travel between processes as files.

One place decides where it lives (`root`: $XENT_PARITY_TMPDIR, else the system's temporary
directory), makes it (`SpillDir`: a fresh directory per run, locked while the run lives) and
cleans up after runs that were killed (`remove_stale`: a directory whose lock nobody holds).
How the arrays are written and mapped there is harness.ipc's; how much room a grid needs in it
is planned with the inputs (harness.inputs.check_size).
"""

from __future__ import annotations

import os
import shutil
import tempfile

TMPDIR_ENV = "XENT_PARITY_TMPDIR"


def root() -> str:
    """Where spill directories are made: $XENT_PARITY_TMPDIR, else the temporary directory."""
    return os.environ.get(TMPDIR_ENV) or tempfile.gettempdir()


class SpillDir:
    """A run's own spill directory under `root()`, made (after removing stale ones) when opened
    and removed when closed; its lock file is held in between."""

    def __init__(self, parent: str | None = None):
        parent = parent or root()
        remove_stale(parent)
        self.path = tempfile.mkdtemp(prefix=f"xent-parity-{os.getpid()}-", dir=parent)
        self._lock = _hold_lock(self.path)

    def close(self) -> None:
        """Remove the directory and release its lock. Idempotent."""
        if self.path:
            shutil.rmtree(self.path, ignore_errors=True)
            self.path = None
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None


_LOCK = ".in-use"


def _hold_lock(spill: str) -> int | None:
    """An exclusive lock on a file in the spill directory, held until the engine closes (the
    file descriptor is returned); a directory whose lock can be taken belongs to no live run."""
    import fcntl

    try:
        fd = os.open(os.path.join(spill, _LOCK), os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return fd
    except OSError:
        return None


def remove_stale(parent: str) -> None:
    """Spill directories of runs that were killed: a SIGKILLed run of a large case would otherwise
    leave gigabytes behind. A directory is stale when nobody holds its lock (which, unlike a
    process ID, also holds across PID namespaces sharing the directory)."""
    import fcntl

    try:
        names = os.listdir(parent)
    except OSError:
        return
    for name in names:
        parts = name.split("-")
        if len(parts) < 4 or parts[:2] != ["xent", "parity"] or not parts[2].isdigit():
            continue
        path = os.path.join(parent, name)
        try:
            fd = os.open(os.path.join(path, _LOCK), os.O_RDWR)
        except OSError:
            continue  # no lock file: being created, or not ours
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # held: a live run
        finally:
            os.close(fd)
        shutil.rmtree(path, ignore_errors=True)
