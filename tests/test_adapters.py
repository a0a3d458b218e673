"""The adapter contract, once, for every registered adapter: `harness.testing.check_adapter`, the
same check a third-party adapter's author runs on their own class.

For each adapter, in its own worker process (no framework is imported into pytest's):
- the class is well formed, and every declaration has a demo case or a reason why none can show it;
- the worker starts and reports its version, flags and declarations;
- no result of the contract grid (cases/smoke.yaml) crashes the worker or times out;
- each declaration's demo case shows it: the reference explains the framework's numbers there by
  that name, with the declared kind;
- the reproducer of every result, run alone in a fresh process, gives the recorded array bit for
  bit, with the same dtype.
What each framework does on the default and smoke grids (plain cases pass, invalid input raises
or is accepted) is held by the parity run against cases/expectations.yaml (`make test`).
"""

from __future__ import annotations

import sys

import pytest

from harness.adapters import builtin_classes
from harness.adapters.paddle_adapter import PaddleAdapter
from harness.testing import check_adapter, declaration_problems
from tests.mutant_adapters import (PlantedErrorAdapter, UndemonstratedDeclarationAdapter,
                                   UnshownDeclarationAdapter)

ADAPTERS = builtin_classes()


@pytest.mark.fast
@pytest.mark.parametrize("cls", ADAPTERS, ids=lambda c: c.name)
def test_declared_well(cls):
    assert declaration_problems(cls) == []


@pytest.mark.parametrize("cls", ADAPTERS, ids=lambda c: c.name)
def test_contract(cls, tmp_path):
    why = cls.installed()
    if why:
        pytest.skip(why)
    done = check_adapter(cls, workdir=tmp_path)
    assert done["reproduced"] >= 15, done  # every adapter has values on most of the smoke grid
    assert done["demos"] == sum(bool(d.demo) for d in cls.conventions), done


def test_frameworks_stay_out_of_the_pytest_process():
    modules = {m for cls in ADAPTERS for m in (cls.requires or (cls.module,))} - {"numpy"}
    assert not modules & set(sys.modules), sorted(modules & set(sys.modules))


# -- the contract fails where it should (numpy only) ---------------------------------------------
@pytest.mark.fast
def test_a_declaration_without_evidence_is_a_problem():
    problems = declaration_problems(UndemonstratedDeclarationAdapter)
    assert any("'mean-counts-ignored' has no demo" in p for p in problems), problems


def test_a_declaration_its_demo_does_not_show_fails_the_contract(tmp_path):
    with pytest.raises(AssertionError, match="'mean-counts-ignored': its demo .* does not show it"):
        check_adapter(UnshownDeclarationAdapter, workdir=tmp_path)


def test_results_the_reproducer_does_not_give_fail_the_contract(tmp_path):
    """PlantedErrorAdapter changes float32 results after its program ran: the reproducer, which
    is the program, gives the true values, so the recorded ones are caught."""
    with pytest.raises(AssertionError, match="the reproducer gives other values"):
        check_adapter(PlantedErrorAdapter, workdir=tmp_path)


# -- facts of one adapter that no case of the CPU grids can show ---------------------------------
@pytest.mark.fast
def test_paddle_half_precision_is_unsupported_on_cpu_only():
    params = {"shape": [6, 5], "axis": -1, "dtype": "float16", "label_kind": "hard",
              "use_softmax": True, "has_weight": False, "ignore_index": -100,
              "uses_ignore": False, "reduction": "mean", "label_smoothing": 0.0, "invalid": None}
    for dt in ("float16", "bfloat16"):
        reason = PaddleAdapter("cpu").unsupported_reason({**params, "dtype": dt})
        assert reason and "CPU kernel" in reason
        assert PaddleAdapter("gpu").unsupported_reason({**params, "dtype": dt}) is None
    assert PaddleAdapter("cpu").unsupported_reason(params | {"dtype": "float64"}) is None
