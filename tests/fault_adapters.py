"""Adapters that misbehave on purpose (float64 cases only), to test the harness's fault handling.

They wrap the numpy adapter, so every other case gives a normal result."""

import os
import sys
import time

import numpy as np

from harness.adapters.numpy_adapter import NumpyAdapter


class _Fault(NumpyAdapter):
    def forward(self, inputs, params):
        if params["dtype"] == "float64":
            return self.fault(inputs, params)
        return super().forward(inputs, params)

    gradient = forward


class SegfaultAdapter(_Fault):
    name = "segfault"

    def fault(self, inputs, params):
        os.kill(os.getpid(), 11)


class AbortAdapter(_Fault):
    name = "abort"

    def fault(self, inputs, params):
        os._exit(3)


class HangAdapter(_Fault):
    name = "hang"

    def fault(self, inputs, params):
        time.sleep(3600)


class RaiseAdapter(_Fault):
    name = "raise"

    def fault(self, inputs, params):
        raise RuntimeError("deliberate failure")


class WrongShapeAdapter(_Fault):
    name = "wrongshape"

    def fault(self, inputs, params):
        return np.zeros((3, 3, 3))


class NanAdapter(_Fault):
    name = "nan"

    def fault(self, inputs, params):
        out = NumpyAdapter.forward(self, inputs, params)
        return np.full_like(out, np.nan)


class GarbageAdapter(NumpyAdapter):
    """Prints to stdout and stderr from Python and from C on every call, then answers correctly."""

    name = "garbage"

    def forward(self, inputs, params):
        print("garbage on stdout \x00\xff" * 50)
        sys.stderr.write("garbage on stderr\n")
        os.write(1, b"\x00\x01raw fd-1 garbage" * 100)
        return super().forward(inputs, params)

    def gradient(self, inputs, params):
        os.write(1, b"\x00 more" * 1000)
        return super().gradient(inputs, params)


class SlowAdapter(NumpyAdapter):
    """Correct, but slow enough that a run can be interrupted in the middle."""

    name = "slow"

    def forward(self, inputs, params):
        time.sleep(0.05)
        return super().forward(inputs, params)
