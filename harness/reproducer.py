"""Reproducers: self-contained scripts that rebuild a case's exact inputs and call one framework.

The arrays are embedded (as literals when small, as base64 of zlib-compressed raw bytes when not),
so the script needs only numpy and the framework, and can be pasted into an upstream bug report.
"""

from __future__ import annotations

import base64
import zlib

import numpy as np

from harness.adapters import load_class
from harness.inputs import CaseData

INLINE_LIMIT = 64


def array_literal(a: np.ndarray | None) -> str:
    if a is None:
        return "None"
    a = np.asarray(a)
    dt = a.dtype.name
    if a.size <= INLINE_LIMIT:
        body = np.array2string(a.astype(np.float64) if a.dtype.kind == "f" else a, separator=", ",
                               threshold=INLINE_LIMIT + 1, floatmode="unique", max_line_width=96)
        body = body.replace("inf", "np.inf").replace("nan", "np.nan")
        return f"np.array({body}, dtype=np.{dt}).reshape({tuple(a.shape)})"
    blob = base64.b64encode(zlib.compress(np.ascontiguousarray(a).tobytes(), 9)).decode()
    lines = "\n".join(f'    "{blob[i:i + 96]}"' for i in range(0, len(blob), 96))
    return (f"np.frombuffer(zlib.decompress(base64.b64decode(\n{lines}\n)), dtype=np.{dt})"
            f".reshape({tuple(a.shape)}).copy()")


def reproducer(case_id: str, data: CaseData, adapter_ref: str, check: str, version: str = "",
               device: str = "cpu", expected_note: str = "") -> str:
    """The script for (case, framework, forward|grad)."""
    cls = load_class(adapter_ref)
    adapter = cls(device=device)
    params = data.worker_params
    bf16 = " (bfloat16 values carried exactly in float32)" if params["dtype"] == "bfloat16" else ""
    head = [f"# xent-parity reproducer: {cls.name} {version} on {device}, {check}",
            f"# case {case_id}{bf16}",
            f"# API: {cls.api}"]
    if expected_note:
        head += [f"# {line}" for line in expected_note.splitlines()]
    body = ["import base64, zlib", "import numpy as np", "",
            f"x = {array_literal(data.x)}",
            f"label = {array_literal(data.label)}",
            f"weight = {array_literal(data.weight)}",
            f"g = {array_literal(data.grad_output)}", "",
            adapter.snippet(params, check).rstrip(),
            f"print({'grad' if check == 'grad' else 'loss'})"]
    return "\n".join(head + body) + "\n"
