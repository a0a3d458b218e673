"""Framing for the parent <-> worker pipe: a JSON header followed by raw array bytes.

Nothing is pickled: arrays travel as raw C-order bytes described by (dtype, shape) in the JSON
header, and only plain numeric dtypes are accepted, so a message can carry data and nothing else.
Frame: 8-byte little-endian header length, UTF-8 JSON header, then each array's bytes in the order
of header["arrays"].

Large arrays (language-model vocabularies: 8192 x 128000 logits are 4 GiB in float32) do not go
through the pipe: with a `spill` directory, an array of at least `SPILL_BYTES` travels as a file in
that directory (an array that is already a memory map of a file there is not written again), and
the reader maps it copy-on-write instead of reading it. The pages are the page cache's, shared by
the parent and every worker, and reclaimable; no process holds its own copy. A reader accepts a
file only inside the directory it was given; a message that names any other path is refused.
"""

from __future__ import annotations

import itertools
import json
import os
import struct
from typing import BinaryIO

import numpy as np

_LEN = struct.Struct("<Q")
ALLOWED_DTYPES = frozenset(
    np.dtype(t).str for t in ("float16", "float32", "float64", "int8", "int16", "int32", "int64",
                              "uint8", "uint16", "uint32", "uint64", "bool")
)
MAX_HEADER = 64 << 20
SPILL_BYTES = 64 << 20  # arrays from this size travel as files when a spill directory is given
_spill_names = itertools.count()


class ProtocolError(RuntimeError):
    """The other side sent something that is not a well-formed frame."""


def write_message(stream: BinaryIO, header: dict, arrays: dict[str, np.ndarray] | None = None,
                  spill: str | None = None) -> None:
    arrays = arrays or {}
    specs, blobs = [], []
    for name, a in arrays.items():
        file_ref = _spilled(a, spill) if spill else None
        if file_ref is not None:
            specs.append([name, np.asarray(a).dtype.str, list(np.shape(a)), file_ref])
            continue
        a = np.asarray(a, order="C")  # not ascontiguousarray: it turns 0-d into 1-d
        if not a.flags.c_contiguous:
            a = a.copy(order="C")
        if a.dtype.str not in ALLOWED_DTYPES:
            raise ProtocolError(f"array {name!r} has dtype {a.dtype}, which cannot be sent")
        specs.append([name, a.dtype.str, list(a.shape)])
        blobs.append(a.tobytes() if a.ndim == 0 else (memoryview(a).cast("B") if a.size else b""))
    head = json.dumps({**header, "arrays": specs}, allow_nan=True).encode()
    stream.write(_LEN.pack(len(head)))
    stream.write(head)
    for b in blobs:
        stream.write(b)
    stream.flush()


def mapped_file(a) -> str | None:
    """The file an array maps from its first byte to its last, in C order, or None."""
    base = a
    while base is not None and not isinstance(base, np.memmap):
        base = getattr(base, "base", None)
    if base is None or getattr(base, "filename", None) is None or not a.flags.c_contiguous:
        return None
    if getattr(base, "offset", 0) or a.nbytes != base.nbytes or a.ctypes.data != base.ctypes.data:
        return None
    return os.fspath(base.filename)


def spill_array(spill: str, dtype, shape, values=None) -> np.memmap:
    """A new array backed by a new file in the spill directory (shared with whoever maps it), set
    to `values` when given. The only place that creates spill files: scratch data of one run, in a
    directory private to it and removed with it (runner.Engine.close), never a result file."""
    import tempfile

    fd, path = tempfile.mkstemp(prefix=f"{os.getpid()}-{next(_spill_names)}-", suffix=".bin",
                                dir=spill)
    try:
        size = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        if size and hasattr(os, "posix_fallocate"):
            # reserve the blocks now: a full disk is an OSError here, not a SIGBUS on a later
            # write through the map (which would kill the process without a word)
            os.posix_fallocate(fd, 0, size)
    except OSError:
        os.close(fd)
        os.unlink(path)
        raise
    os.close(fd)
    m = np.memmap(path, dtype=dtype, mode="r+" if size else "w+", shape=tuple(shape))
    if values is not None:
        m[...] = values  # shared mapping: other processes see it without a flush
    return m


def _spilled(a, spill: str) -> str | None:
    """Write `a` as a file in `spill` (unless it maps one there already) and return the file's
    name relative to `spill`; None for an array small enough for the pipe."""
    a = np.asarray(a) if not isinstance(a, np.ndarray) else a
    if a.nbytes < SPILL_BYTES or a.dtype.str not in ALLOWED_DTYPES or not a.size:
        return None
    path = mapped_file(a)
    if path is None or os.path.dirname(os.path.realpath(path)) != os.path.realpath(spill):
        path = spill_array(spill, a.dtype, a.shape, a).filename
    return os.path.basename(path)


def _read_exact(stream: BinaryIO, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        b = stream.read(n - got)
        if not b:
            raise EOFError(f"pipe closed after {got} of {n} bytes")
        chunks.append(b)
        got += len(b)
    return b"".join(chunks)


def read_message(stream: BinaryIO, spill: str | None = None) -> tuple[dict, dict[str, np.ndarray]]:
    """One frame. Arrays sent as files are mapped copy-on-write (mode "c") from `spill`; the
    caller may delete the file once it is mapped (see `spill_files`)."""
    (n,) = _LEN.unpack(_read_exact(stream, _LEN.size))
    if n > MAX_HEADER:
        raise ProtocolError(f"header of {n} bytes is larger than the {MAX_HEADER} limit")
    try:
        header = json.loads(_read_exact(stream, n))
    except ValueError as e:
        raise ProtocolError(f"header is not JSON: {e}") from None
    arrays = {}
    for spec in header.pop("arrays", []):
        name, dstr, shape = spec[:3]
        if dstr not in ALLOWED_DTYPES:
            raise ProtocolError(f"array {name!r} has disallowed dtype {dstr!r}")
        dt = np.dtype(dstr)
        count = int(np.prod(shape, dtype=np.int64))
        if len(spec) > 3:
            arrays[name] = _map(spec[3], dt, shape, spill)
            continue
        buf = _read_exact(stream, count * dt.itemsize)
        arrays[name] = np.frombuffer(buf, dtype=dt).reshape(shape).copy() if count else np.zeros(shape, dt)
    return header, arrays


def _map(fname, dt, shape, spill):
    if (not spill or not isinstance(fname, str) or os.path.basename(fname) != fname
            or fname in ("", ".", "..") or "\0" in fname):
        raise ProtocolError(f"array file {fname!r} is not a plain name in the spill directory")
    path = os.path.join(spill, fname)
    size = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
    try:
        if os.path.getsize(path) != size:
            raise ProtocolError(f"array file {fname!r} has {os.path.getsize(path)} bytes, "
                                f"expected {size}")
        return np.memmap(path, dtype=dt, mode="c", shape=tuple(shape))
    except (OSError, ValueError) as e:  # ValueError: numpy refuses to map an empty array
        raise ProtocolError(f"cannot map array file {fname!r}: {e}") from None


def spill_files(arrays: dict, spill: str | None) -> list[str]:
    """The files in `spill` that `arrays` map (to delete once they are no longer needed)."""
    out = []
    for a in arrays.values():
        path = mapped_file(a) if isinstance(a, np.ndarray) else None
        if spill and path and os.path.dirname(os.path.realpath(path)) == os.path.realpath(spill):
            out.append(path)
    return out
