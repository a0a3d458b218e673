"""The reference's `may_differ`: where it says a convention leaves a case's value as it is, the
value computed under it is the canonical one, bit for bit (the harness then skips computing it).
Checked on every case of the smoke grid and every third case of the default grid, for every
registered convention alone, forward and gradient."""

import numpy as np
import pytest

import reference
from harness.case_reference import CaseReference
from harness.cases import load_cases
from harness.inputs import generate_inputs, is_large
from reference.conventions import CONVENTIONS, may_differ


def _cases():
    smoke = load_cases(["cases/smoke.yaml"])
    default = load_cases(["cases/default.yaml"])[::3]
    return [c for c in smoke + default if not c.invalid and not is_large(c)]


@pytest.mark.parametrize("name", sorted(CONVENTIONS))
def test_a_convention_said_not_to_differ_gives_the_canonical_value(name):
    conv = reference.resolve_conventions((name,))
    checked = 0
    for case in _cases():
        data = generate_inputs(case.params, case.id)
        kw = data.ref_kwargs
        for check in case.checks:
            if may_differ(conv, check=check, reduction=kw["reduction"],
                          soft_label=kw["soft_label"], use_softmax=kw["use_softmax"],
                          label_smoothing=kw["label_smoothing"],
                          ignore_index=kw["ignore_index"], axis=kw["axis"],
                          shape=tuple(data.x.shape), weighted=data.weight is not None):
                continue
            ref = CaseReference(case, data)
            canonical = ref.value(check)
            w = None if data.weight is None else data.weight.astype(np.float64)
            fn = reference.cross_entropy if check == "forward" else reference.cross_entropy_grad
            extra = {} if check == "forward" else {"grad_output": ref._cotangent()}
            try:
                value = fn(data.x, data.label, w, **kw, **extra, conventions=(name,))
            except ValueError:
                continue  # the convention rejects the case: judged as not applying either way
            assert np.shape(value) == np.shape(canonical), (case.id, check)
            assert np.array_equal(value, canonical, equal_nan=True), (case.id, check)
            checked += 1
    # each name leaves some case alone, but those whose effect depends on the data everywhere
    assert checked > 0 or CONVENTIONS[name].field in ("log_inf_value", "float32_computation")
