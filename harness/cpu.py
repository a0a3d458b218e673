"""The CPU a run had and the SIMD kernels it dispatched to, recorded in every results document.

Two machines of one kind can differ in their last bits: numpy's float64 `exp` and `log` take
AVX-512 kernels where the CPU has AVX-512 and libm elsewhere, torch picks its kernels by its CPU
capability, oneDNN and XLA by the ISA they find. A verdict never depends on it (harness.verdicts,
harness.gate), but the environment records it, so that a difference in the last bits between two
runs can be traced to the machine: the gate prints what differs, as information.

    >>> sorted(cpu_info())
    ['dispatch_env', 'model', 'numpy', 'simd']
"""

from __future__ import annotations

import os
import platform

# The /proc/cpuinfo flags that decide which kernels run (x86 and Arm); the other flags say little
SIMD_FLAGS = frozenset({
    "sse4_1", "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512cd", "avx512bw",
    "avx512dq", "avx512vl", "avx512ifma", "avx512vbmi", "avx512_vnni", "avx512_bf16",
    "avx512_fp16", "avx_vnni", "amx_tile", "amx_bf16", "asimd", "asimdhp", "sve", "sve2", "bf16",
})
# Environment variables that change which kernels numpy and its BLAS dispatch to; each adapter
# names its framework's own (`Adapter.dispatch_variables`, gathered by `dispatch_variables`)
NUMPY_DISPATCH_ENV = ("NPY_DISABLE_CPU_FEATURES", "NPY_ENABLE_CPU_FEATURES", "OPENBLAS_CORETYPE")


def dispatch_variables() -> tuple[str, ...]:
    """numpy's dispatch variables, then those the built-in adapters declare (in their order)."""
    from harness.adapters import builtin_classes

    out = list(NUMPY_DISPATCH_ENV)
    for cls in builtin_classes():
        out += [k for k in cls.dispatch_variables if k not in out]
    return tuple(out)


def cpu_info() -> dict:
    """The CPU model, its SIMD flags, numpy's dispatched features and the dispatch variables set."""
    model, flags = "", set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("model name", "Model Name", "cpu model") and not model:
                    model = value.strip()
                elif key in ("flags", "Features") and not flags:
                    flags = set(value.split())
                if model and flags:
                    break
    except OSError:
        pass
    return {"model": model or platform.processor() or platform.machine(),
            "simd": sorted(flags & SIMD_FLAGS), "numpy": numpy_dispatch(),
            "dispatch_env": dispatch_env()}


def numpy_dispatch() -> dict:
    """numpy's baseline CPU features and those of its dispatch targets that this CPU runs."""
    try:
        from numpy._core import _multiarray_umath as m  # numpy 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import _multiarray_umath as m
    features = getattr(m, "__cpu_features__", {})
    return {"baseline": list(getattr(m, "__cpu_baseline__", [])),
            "dispatched": [f for f in getattr(m, "__cpu_dispatch__", []) if features.get(f)]}


def dispatch_env() -> dict:
    """The dispatch variables (`dispatch_variables`) set in this process's environment."""
    return {k: os.environ[k] for k in dispatch_variables() if k in os.environ}


def lower_dispatch_env(info: dict | None = None) -> dict:
    """Environment variables that make this machine dispatch as a lesser one of its kind: where
    AVX-512 kernels are in effect, as a CPU with AVX2 only (numpy's X86_V4 and AVX-512 targets
    off, each framework as its adapter's `lower_dispatch` says); where they are not (a CPU
    without them, or one already run as such), down to the baseline (no AVX2 kernels). What the portability
    check runs the grid under (`make portability`, tests/test_portability.py)."""
    from harness.adapters import builtin_classes

    info = info or cpu_info()
    dispatched = info["numpy"]["dispatched"]  # what is in effect (NPY_DISABLE_CPU_FEATURES too)
    if "avx512f" in info["simd"] and any(f.startswith(("X86_V4", "AVX512")) for f in dispatched):
        npy = [f for f in dispatched if f.startswith(("X86_V4", "AVX512"))]
        level = "avx2"
    else:
        npy, level = list(dispatched), "baseline"
    env: dict = {}
    for cls in builtin_classes():
        env.update(cls.lower_dispatch(level))
    if npy:
        env["NPY_DISABLE_CPU_FEATURES"] = " ".join(npy)
    return env
