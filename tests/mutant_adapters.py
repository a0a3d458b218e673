"""Adapters with planted numerical bugs: the harness must catch each one. They wrap the numpy
adapter (the only framework tests of the harness may use), so every other path is the real one."""

import numpy as np

from harness.adapters.base import Output
from harness.adapters.numpy_adapter import NumpyAdapter


class PlantedErrorAdapter(NumpyAdapter):
    """Every float32 result off by 1e-5 relative (about 84 ULP): a real numeric regression."""

    name = "planted-error"

    @staticmethod
    def _plant(out, params):
        if params["dtype"] != "float32":
            return out
        values = out.values if isinstance(out, Output) else np.asarray(out)
        planted = (values * np.float32(1 + 1e-5)).astype(values.dtype)
        return Output(planted, out.dtype) if isinstance(out, Output) else planted

    def forward(self, inputs, params):
        return self._plant(super().forward(inputs, params), params)

    def gradient(self, inputs, params):
        return self._plant(super().gradient(inputs, params), params)
