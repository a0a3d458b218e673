"""Call styles as case axes (call, mode, defaults), new input kinds, refusals and the API-default
conventions of the reference."""

import numpy as np
import pytest

import reference
from harness.adapters.base import DocumentedConvention, in_scope, passed
from harness.cases import load_case_file
from harness.inputs import generate_inputs
from harness.verdicts import judge

pytestmark = pytest.mark.fast


def load(tmp_path, body):
    path = tmp_path / "c.yaml"
    path.write_text(body)
    return {c.id: c for c in load_case_file(path)}


def test_call_styles_are_in_the_id_only_when_not_the_plain_call(tmp_path):
    cases = load(tmp_path, "defaults: {shape: [4, 3]}\nblocks:\n  - grid:\n"
                           "      call: [functional, module]\n      mode: [eager, compiled]\n")
    assert sorted(cases) == ["hard-mean-w=none-ii=-100-ax=-1-f32-4x3",
                             "hard-mean-w=none-ii=-100-ax=-1-f32-4x3-compiled",
                             "hard-mean-w=none-ii=-100-ax=-1-f32-4x3-module",
                             "hard-mean-w=none-ii=-100-ax=-1-f32-4x3-module-compiled"]
    wp = generate_inputs(cases["hard-mean-w=none-ii=-100-ax=-1-f32-4x3-module"].params, "x"
                         ).worker_params
    assert (wp["call"], wp["mode"], wp["defaults"]) == ("module", "eager", False)


def test_defaults_pass_only_what_the_case_itself_sets(tmp_path):
    cases = load(tmp_path, "defaults: {shape: [4, 3], axis: -1}\nblocks:\n  - grid:\n"
                           "      defaults: [true]\n      reduction: [sum]\n")
    (case,) = cases.values()
    assert case.params["explicit"] == ["reduction"]  # not the file's axis
    wp = generate_inputs(case.params, case.id).worker_params
    names = {"axis": "dim", "reduction": "reduction", "weight": "weight"}
    assert passed(wp, names) == ("reduction",)
    assert passed({**wp, "defaults": False}, names) is None
    leaves_axis = {"scope": {"leaves": ["axis"]}}
    assert in_scope(leaves_axis, wp, "forward")
    assert not in_scope({"scope": {"leaves": ["reduction"]}}, wp, "forward")
    assert not in_scope(leaves_axis, {**wp, "defaults": False}, "forward")


def test_new_input_kinds(tmp_path):
    cases = load(tmp_path, "defaults: {shape: [6, 4], dtype: float64}\nblocks:\n"
                           "  - grid:\n      label: [soft]\n      soft_dist: [onehot, unnormalised]\n"
                           "  - grid:\n      input: [probs]\n      dist: [probs-unnormalised, "
                           "probs-zero-rows]\n"
                           "  - cases:\n      - {weight: [0.0, 1.0, 2.0, 0.5], ignore_at: [1, 4], "
                           "ignore_index: 2}\n")
    d = {k: generate_inputs(c.params, k) for k, c in cases.items()}
    onehot = d["soft-mean-w=none-ii=-100-sd=onehot-ax=-1-f64-6x4"].label
    assert set(np.unique(onehot)) <= {0.0, 1.0} and np.all(onehot.sum(-1) == 1)
    sums = d["soft-mean-w=none-ii=-100-sd=unnormalised-ax=-1-f64-6x4"].label.sum(-1)
    assert np.all((sums > 0.5) & (sums < 2)) and not np.allclose(sums, 1)
    p = d["hard-probs-mean-w=none-ii=-100-ax=-1-f64-6x4-d=probs-unnormalised"].x.sum(-1)
    assert not np.allclose(p, 1)
    z = d["hard-probs-mean-w=none-ii=-100-ax=-1-f64-6x4-d=probs-zero-rows"].x.sum(-1)
    assert list(z == 0) == [False, True, False, False, True, False]
    chosen = d["hard-mean-w=0,1,2,0.5-ii=2-at=1+4-ax=-1-f64-6x4"]
    assert chosen.weight.tolist() == [0.0, 1.0, 2.0, 0.5]
    assert chosen.label[1] == 2 and chosen.label[4] == 2


def test_the_api_default_conventions_of_the_reference():
    x = np.array([[[0.5, -1.25, 2.0], [1.5, 0.25, -0.75], [-2.0, 1.0, 0.125]]])
    y = np.array([[2, 0, 1]])
    assert np.array_equal(reference.cross_entropy(x, y, axis=-1,
                                                  conventions=("class-axis-1-by-default",)),
                          reference.cross_entropy(x, y, axis=1))
    assert reference.cross_entropy(x, y, conventions=("unreduced-by-default",)).shape == (1, 3)
    x64 = np.array([[0.1, 0.2, 0.7]])
    f32 = reference.cross_entropy(x64, np.array([2]), conventions=("float32-by-default",))
    assert f32 == reference.cross_entropy(x64.astype(np.float32).astype(np.float64),
                                          np.array([2]))
    assert f32 != reference.cross_entropy(x64, np.array([2]))


def test_a_declared_refusal_turns_a_documented_error_into_the_declared_behaviour():
    d = DocumentedConvention("labels-without-class-axis", "https://x", "note", quote="q" * 40,
                             raises=r"0D or 1D target tensor expected").to_json()
    answer = {"status": "error", "type": "RuntimeError",
              "message": "0D or 1D target tensor expected, multi-target not supported"}

    def never(conv):
        raise AssertionError("a refusal compares no value")

    v = judge("c", "fw", "forward", None, answer, None, never, never, "float32", (),
              refusals=(d,))
    assert (v.verdict, v.convention, v.error_behaviour) == (
        "divergent", "labels-without-class-axis", "raises")
    other = {**answer, "message": "something else"}
    assert judge("c", "fw", "forward", None, other, None, never, never, "float32", (),
                 refusals=(d,)).verdict == "error"
    defect = {**d, "kind": "defect"}
    assert judge("c", "fw", "forward", None, answer, None, never, never, "float32", (),
                 refusals=(defect,)).verdict == "known-defect"


def test_a_refusal_pattern_that_does_not_compile_fails_at_declaration():
    import re

    with pytest.raises(re.error):
        DocumentedConvention("x", "https://x", "n", quote="q" * 40, raises="(unclosed")


def test_a_relation_whose_partner_call_is_a_declared_refusal_is_unsupported_not_an_error():
    from types import SimpleNamespace

    from harness.relations import Partner, judge_relation

    case = SimpleNamespace(id="c")
    ok = ({"status": "ok", "dtype": "float64"}, np.float64(1.0))
    refused = ({"status": "error", "type": "ValueError",
                "message": "Only axis=-1 is currently supported. Received: axis=0"}, None)
    p = Partner("moved-axis", expected=lambda check, v: v)
    d = {"name": "sparse-axis-last-only", "raises": r"Only axis=-1 is currently supported"}
    v = judge_relation(case, "fw", "forward~moved-axis", ok, refused, p, 1e-9, 1.0, "float64",
                       "", "cpu", refusals=(d,))
    assert v.verdict == "unsupported" and "sparse-axis-last-only" in v.detail
    v = judge_relation(case, "fw", "forward~moved-axis", ok, refused, p, 1e-9, 1.0, "float64",
                       "", "cpu")
    assert v.verdict == "error"
