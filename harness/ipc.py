"""Framing for the parent <-> worker pipe: a JSON header followed by raw array bytes.

Nothing is pickled: arrays travel as raw C-order bytes described by (dtype, shape) in the JSON
header, and only plain numeric dtypes are accepted, so a message can carry data and nothing else.
Frame: 8-byte little-endian header length, UTF-8 JSON header, then each array's bytes in the order
of header["arrays"].
"""

from __future__ import annotations

import json
import struct
from typing import BinaryIO

import numpy as np

_LEN = struct.Struct("<Q")
ALLOWED_DTYPES = frozenset(
    np.dtype(t).str for t in ("float16", "float32", "float64", "int8", "int16", "int32", "int64",
                              "uint8", "uint16", "uint32", "uint64", "bool")
)
MAX_HEADER = 64 << 20


class ProtocolError(RuntimeError):
    """The other side sent something that is not a well-formed frame."""


def write_message(stream: BinaryIO, header: dict, arrays: dict[str, np.ndarray] | None = None) -> None:
    arrays = arrays or {}
    specs, blobs = [], []
    for name, a in arrays.items():
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


def _read_exact(stream: BinaryIO, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        b = stream.read(n - got)
        if not b:
            raise EOFError(f"pipe closed after {got} of {n} bytes")
        chunks.append(b)
        got += len(b)
    return b"".join(chunks)


def read_message(stream: BinaryIO) -> tuple[dict, dict[str, np.ndarray]]:
    (n,) = _LEN.unpack(_read_exact(stream, _LEN.size))
    if n > MAX_HEADER:
        raise ProtocolError(f"header of {n} bytes is larger than the {MAX_HEADER} limit")
    try:
        header = json.loads(_read_exact(stream, n))
    except ValueError as e:
        raise ProtocolError(f"header is not JSON: {e}") from None
    arrays = {}
    for name, dstr, shape in header.pop("arrays", []):
        if dstr not in ALLOWED_DTYPES:
            raise ProtocolError(f"array {name!r} has disallowed dtype {dstr!r}")
        dt = np.dtype(dstr)
        count = int(np.prod(shape, dtype=np.int64))
        buf = _read_exact(stream, count * dt.itemsize)
        arrays[name] = np.frombuffer(buf, dtype=dt).reshape(shape).copy() if count else np.zeros(shape, dt)
    return header, arrays
