"""Adapters that misbehave on purpose (float64 cases only), to test the harness's fault handling.

They wrap the numpy adapter, so every other case gives a normal result."""

import os
import sys
import time

import numpy as np

from harness.adapters.numpy_adapter import NumpyAdapter


class _Fault(NumpyAdapter):
    """Misbehaves (`fault`) on float64 cases only, forward and gradient; correct otherwise."""

    def forward(self, inputs, params):
        if params["dtype"] == "float64":
            return self.fault(inputs, params)
        return super().forward(inputs, params)

    def gradient(self, inputs, params):
        if params["dtype"] == "float64":
            return self.fault(inputs, params)
        return super().gradient(inputs, params)


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
        out = NumpyAdapter.forward(self, inputs, params).values
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


# -- added for tests/test_faults.py (append only) --------------------------------------------------
def _address_space_in_use() -> int:
    """Bytes of virtual address space this process maps now (Linux /proc)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise OSError("no VmSize in /proc/self/status")


class MemoryHogAdapter(_Fault):
    """Allocates until MemoryError, safely: it first caps its own address space (RLIMIT_AS) at
    what it maps now plus 256 MiB, so the allocation fails at once, without touching real memory;
    the limit is restored afterwards. Never allocates more than 1 GiB in any case."""

    name = "memhog"

    def fault(self, inputs, params):
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = _address_space_in_use() + (256 << 20)
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
        hog = []
        try:
            for _ in range(4):  # 4 x 256 MiB at most, even if the limit did not bite
                hog.append(np.ones((256 << 20) // 8))
        finally:
            hog.clear()
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        raise MemoryError("RLIMIT_AS did not stop a 1 GiB allocation (simulated out of memory)")


class OomKilledAdapter(_Fault):
    """Dies the way the kernel's out-of-memory killer kills: SIGKILL."""

    name = "oomkilled"

    def fault(self, inputs, params):
        os.kill(os.getpid(), 9)


class WrongDtypeAdapter(_Fault):
    """Answers float64 cases in float32 (a framework that silently downcasts)."""

    name = "wrongdtype"

    def forward(self, inputs, params):
        if params["dtype"] == "float64":
            return NumpyAdapter.forward(self, inputs, params).values.astype(np.float32)
        return NumpyAdapter.forward(self, inputs, params).values

    def gradient(self, inputs, params):
        if params["dtype"] == "float64":
            return NumpyAdapter.gradient(self, inputs, params).values.astype(np.float32)
        return NumpyAdapter.gradient(self, inputs, params).values


class LongDoubleAdapter(_Fault):
    """Answers float64 cases with the right values in extended precision (np.longdouble), a dtype
    the pipe protocol does not carry."""

    name = "longdouble"

    def forward(self, inputs, params):
        if params["dtype"] == "float64":
            return NumpyAdapter.forward(self, inputs, params).values.astype(np.longdouble)
        return NumpyAdapter.forward(self, inputs, params).values

    def gradient(self, inputs, params):
        if params["dtype"] == "float64":
            return NumpyAdapter.gradient(self, inputs, params).values.astype(np.longdouble)
        return NumpyAdapter.gradient(self, inputs, params).values


class SystemExitAdapter(_Fault):
    """Calls sys.exit() (a BaseException, not an Exception) in the middle of a case."""

    name = "sysexit"

    def fault(self, inputs, params):
        sys.exit(7)


# -- added for tests/test_large.py ------------------------------------------------------------------
class LargeMemoryErrorAdapter(NumpyAdapter):
    """Declares temporaries of about 0.5 GiB on a 6 x 5 float64 case (a "large" call, yet within
    any machine's memory) and raises MemoryError, as a framework that cannot allocate would."""

    name = "large-memoryerror"
    memory_factors = {"forward": 2e6, "grad": 2e6}

    def forward(self, inputs, params):
        raise MemoryError("simulated: cannot allocate")


class HugeNeedAdapter(NumpyAdapter):
    """Declares temporaries no machine has: the worker must not call it."""

    name = "huge-need"
    memory_factors = {"forward": 1e15, "grad": 1e15}

    def forward(self, inputs, params):
        raise AssertionError("called despite the memory check")


class BrokenSetupAdapter(NumpyAdapter):
    """Installed, but its framework fails to initialise: the worker cannot start."""

    name = "brokensetup"

    def setup(self):
        raise RuntimeError("deliberate: the framework cannot initialise")


class HangingSetupAdapter(NumpyAdapter):
    """Hangs while 'importing its framework': start-up must be bounded and say so."""

    name = "hangingsetup"

    def setup(self):
        time.sleep(3600)
