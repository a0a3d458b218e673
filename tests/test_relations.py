"""Metamorphic relations: each partner call, mapped back, equals the case's own value under the
canonical definition (checked with the reference itself), holds for the numpy adapter, and a
mutant that treats two ignore values differently violates one."""

import json

import numpy as np
import pytest

import reference
from harness.cases import load_case_file
from harness.cli import main
from harness.inputs import generate_inputs
from harness.relations import RELATIONS, partner, relation_checks, split

pytestmark = pytest.mark.fast

GRID = """\
defaults: {dtype: float64, checks: [forward, grad]}
blocks:
  - grid:
      shape: [[12, 7], [3, 4, 5]]
      label: [hard, hard-keepdim, soft]
      ignore_frac: [0.0, 0.25]
      reduction: [none, sum, mean]
      relations: [[weight-ones, permute, onehot, ignore-relabel, moved-axis, sum-of-none]]
"""


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    p = tmp_path_factory.mktemp("relations") / "rel.yaml"
    p.write_text(GRID)
    return p


def _reference(arrays, wp, check):
    kw = {"ignore_index": wp["ignore_index"], "reduction": wp["reduction"],
          "soft_label": wp["label_kind"] == "soft", "axis": wp["axis"],
          "use_softmax": wp["use_softmax"], "label_smoothing": wp["label_smoothing"]}
    w = arrays.get("weight")
    w = None if w is None else w.astype(np.float64)
    if check == "forward":
        return reference.cross_entropy(arrays["x"], arrays["label"], w, **kw)
    g = arrays.get("grad_output")
    return reference.cross_entropy_grad(arrays["x"], arrays["label"], w, **kw,
                                        grad_output=None if g is None else g.astype(np.float64))


def test_every_partner_agrees_with_its_case_under_the_canonical_definition(grid):
    from harness.relations import partner_value

    tried = set()
    for case in load_case_file(grid):
        data = generate_inputs(case.params, case.id)
        for name in case.params["relations"]:
            p = partner(name, case.params, data)
            if p.why_not:
                continue
            for check in case.checks:
                if check not in RELATIONS[name][1]:
                    continue
                mine = _reference(data.arrays(), data.worker_params, check)
                theirs = partner_value(name, check, _reference(p.arrays, p.worker_params, check))
                np.testing.assert_allclose(theirs, p.expected(check, mine), rtol=1e-12,
                                           atol=1e-15, err_msg=f"{case.id} {name} {check}")
                tried.add(name)
    assert tried == set(RELATIONS)


def test_relation_checks_and_ids():
    params = {"checks": ["forward", "grad"], "relations": ["permute", "sum-of-none"]}
    assert relation_checks(params) == ["forward~permute", "grad~permute", "forward~sum-of-none"]
    assert split("grad~permute") == ("grad", "permute") and split("forward") == ("forward", None)


def test_the_numpy_adapter_keeps_every_relation(grid, tmp_path):
    assert main(["run", str(grid), "--frameworks", "numpy", "--expectations", "",
                 "--out", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "results.json").read_text())
    rel = [r for r in doc["results"] if "~" in r["check"]]
    assert {r["verdict"] for r in rel} == {"pass", "unsupported"}
    assert {r["check"].split("~")[1] for r in rel if r["verdict"] == "pass"} == set(RELATIONS)
    md = (tmp_path / "report.md").read_text()
    assert "## Metamorphic relations" in md


def test_a_framework_that_treats_two_ignore_values_apart_violates_ignore_relabel(grid, tmp_path):
    assert main(["run", str(grid), "--frameworks", "tests.mutant_adapters:MeanOverAllAt100",
                 "--expectations", "", "--out", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "results.json").read_text())
    bad = [r for r in doc["results"] if r["check"] == "forward~ignore-relabel"
           and r["verdict"] == "mismatch"]
    assert bad and all("ig=0.25" in r["case"] and "-mean-" in r["case"] for r in bad)
    assert "the case's call gives" in bad[0]["detail"] and "the partner call" in bad[0]["detail"]
    assert "the reference" in bad[0]["detail"]
