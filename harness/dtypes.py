"""Floating-point formats of the case dtypes: rounding, unit roundoff and ULPs, numpy only.

numpy has no bfloat16, so bfloat16 values travel as float32 arrays that hold exactly representable
bfloat16 values (rounded here, round-to-nearest-even), tagged with the name "bfloat16".

>>> float(round_to_dtype(np.array([1.00390625]), "bfloat16")[0])
1.0
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FloatFormat:
    name: str
    short: str
    digits: int  # significand bits, hidden bit included
    emin: int  # exponent of the smallest normal number
    emax: int
    carrier: str  # numpy dtype that carries its values

    @property
    def unit_roundoff(self) -> float:
        return 2.0 ** (-self.digits)

    @property
    def overflow(self) -> float:
        """The smallest magnitude that rounds to infinity (round to nearest even): the largest
        finite value plus half its ULP; inf for float64, whose reference cannot exceed it."""
        if self.digits >= 53:
            return float("inf")
        return (2.0 - 2.0 ** -self.digits) * 2.0 ** self.emax

    @property
    def tiny_ulp(self) -> float:
        """The spacing of subnormals: the smallest ULP of the format."""
        return 2.0 ** (self.emin - self.digits + 1)


FORMATS: dict[str, FloatFormat] = {
    "float16": FloatFormat("float16", "f16", 11, -14, 15, "float16"),
    "bfloat16": FloatFormat("bfloat16", "bf16", 8, -126, 127, "float32"),
    "float32": FloatFormat("float32", "f32", 24, -126, 127, "float32"),
    "float64": FloatFormat("float64", "f64", 53, -1022, 1023, "float64"),
}
DTYPES = tuple(FORMATS)


def fmt(dtype: str) -> FloatFormat:
    try:
        return FORMATS[dtype]
    except KeyError:
        raise ValueError(f"unknown dtype {dtype!r}; known: {', '.join(FORMATS)}") from None


def _round_bfloat16(x: np.ndarray) -> np.ndarray:
    """Round float values to bfloat16, nearest-even, returned as float32 (NaN and inf kept)."""
    f = np.asarray(x, dtype=np.float64).astype(np.float32)  # bf16 has f32's range
    bits = f.view(np.uint32).astype(np.uint64)
    rounding = ((bits >> 16) & 1) + 0x7FFF
    out = ((bits + rounding) >> 16 << 16).astype(np.uint32).view(np.float32)
    return np.where(np.isnan(f), f, out).astype(np.float32)


def round_to_dtype(x, dtype: str) -> np.ndarray:
    """Round `x` to `dtype`; the result's numpy dtype is the format's carrier."""
    if dtype == "bfloat16":
        # Rounding float64 -> float32 -> bfloat16 can double-round; go through float32 only when exact.
        x64 = np.asarray(x, dtype=np.float64)
        f32 = x64.astype(np.float32)
        exact = f32.astype(np.float64) == x64
        out = _round_bfloat16(f32)
        if not np.all(exact | ~np.isfinite(x64)):
            out = np.where(exact | ~np.isfinite(x64), out, _round_bfloat16_exact(x64))
        return out.astype(np.float32)
    return np.asarray(x, dtype=np.float64).astype(fmt(dtype).carrier)


def _round_bfloat16_exact(x64: np.ndarray) -> np.ndarray:
    """Correct nearest-even rounding of float64 to bfloat16 (no double rounding)."""
    with np.errstate(over="ignore", invalid="ignore"):
        f = fmt("bfloat16")
        mant, exp = np.frexp(x64)  # x = mant * 2**exp, 0.5 <= |mant| < 1
        exp = np.maximum(exp, f.emin + 1)  # subnormals share the smallest exponent
        scale = np.ldexp(1.0, (f.digits - exp).astype(np.int64))
        out = np.rint(x64 * scale) / scale  # np.rint rounds half to even
        return np.where(np.isfinite(x64), out, x64).astype(np.float32)


def ulp(x, dtype: str) -> np.ndarray:
    """The spacing of `dtype` numbers at |x| (float64 array); at 0 the subnormal spacing.

    >>> float(ulp(np.array(1.0), "float32"))
    1.1920928955078125e-07
    """
    f = fmt(dtype)
    a = np.abs(np.asarray(x, dtype=np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        _, e = np.frexp(a)  # a = m * 2**e with 0.5 <= m < 1, so floor(log2 a) = e - 1
    e = np.where(a == 0, f.emin, np.maximum(e - 1, f.emin))
    out = np.ldexp(1.0, (e - f.digits + 1).astype(np.int64))
    return np.where(np.isfinite(a), out, np.inf)


def ulp_distance(got, expected, dtype: str) -> np.ndarray:
    """|got - expected| in ULPs of `dtype` at `expected` (0 where both are the same non-finite)."""
    got = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        d = np.abs(got - expected) / ulp(expected, dtype)
    same = (got == expected) | (np.isnan(got) & np.isnan(expected))
    return np.where(same, 0.0, d)
