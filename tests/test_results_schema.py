"""The results JSON Schema: a real results.json validates, mutated documents do not."""

import copy
import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.gate import check_document, load_schema, validate_results
from harness.verdicts import ORDER, RANK, VERDICTS

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def real_doc(tmp_path_factory):
    out = tmp_path_factory.mktemp("schema-run")
    rc = main(["run", str(ROOT / "cases" / "smoke.yaml"), "--frameworks", "numpy",
               "--out", str(out)])
    assert rc == 0
    return json.loads((out / "results.json").read_text())


@pytest.fixture(params=["jsonschema", "gate"])
def validator(request):
    """validate_results (the whole schema, jsonschema) and the gate's check of what it reads."""
    return validate_results if request.param == "jsonschema" else check_document


def _numeric(doc):
    return next(r for r in doc["results"] if "max_ulp" in r)


def test_schema_is_a_valid_draft_2020_12_schema_and_matches_the_harness(real_doc):
    jsonschema = pytest.importorskip("jsonschema")
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(real_doc)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$defs"]["verdict"]["enum"] == list(ORDER) == list(VERDICTS) == list(RANK)
    assert schema["additionalProperties"] is True  # later sections may be added
    rec = schema["$defs"]["record"]
    from harness.report import BASE_KEYS, COMPARISON_KEYS

    assert set(BASE_KEYS) | set(COMPARISON_KEYS) | {"expectation", "inconsistency"} == set(
        rec["properties"])


def test_real_results_validate(real_doc, validator):
    assert validator(real_doc) == []


def test_nonfinite_strings_extra_keys_and_sections_are_allowed(real_doc, validator):
    doc = copy.deepcopy(real_doc)
    r = _numeric(doc)
    r.update(max_ulp="inf", max_abs="nan", max_rel="-inf", worst_got=None, worst_index=None)
    r["extra_key"] = {"anything": 1}
    doc["expectations"] = {"unmatched": ["some entry"]}
    doc["something_later"] = [1, 2]
    assert validator(doc) == []


MUTATIONS = {
    "bad verdict": (lambda d: d["results"][0].update(verdict="passed"), "results[0].verdict"),
    "bad check": (lambda d: d["results"][0].update(check="backward"), "results[0].check"),
    "missing record key": (lambda d: d["results"][0].pop("verdict"), "results[0]"),
    "missing top-level key": (lambda d: d.pop("grid"), "(document)"),
    "missing environment key": (lambda d: d["environment"].pop("frameworks"), "environment"),
    "wrong type: results": (lambda d: d.update(results={"a": 1}), "results"),
    "wrong type: max_ulp": (lambda d: _numeric(d).update(max_ulp="12"), ".max_ulp"),
    "wrong type: max_ratio": (lambda d: _numeric(d).update(max_ratio="12"), ".max_ratio"),
    "wrong type: fitting": (lambda d: _numeric(d).update(fitting="probs-clipped"), ".fitting"),
    "wrong float spelling": (lambda d: _numeric(d).update(max_abs="Infinity"), ".max_abs"),
    "wrong type: n": (lambda d: _numeric(d).update(n="3"), ".n"),
    "negative count": (lambda d: _numeric(d).update(n_bad=-1), ".n_bad"),
    "wrong type: grid hash": (lambda d: d["grid"].update(hash=123), "grid.hash"),
    "wrong format": (lambda d: d.update(format="something-else/1"), "format"),
    "bad reason": (lambda d: _numeric(d).update(reason="because"), ".reason"),
    "bad error behaviour": (lambda d: d["results"][0].update(error_behaviour="explodes"),
                            "results[0].error_behaviour"),
    "comparison figures incomplete": (lambda d: _numeric(d).pop("bound"), "results["),
    "divergent without convention": (lambda d: d["results"][0].update(verdict="divergent",
                                                                       convention=None),
                                     "results[0].convention"),
    "framework entry without version": (lambda d: d["environment"]["frameworks"]["numpy"].pop(
        "version"), "environment.frameworks.numpy"),
    "unavailable not a string": (lambda d: d["environment"]["frameworks"].update(
        torch={"unavailable": 3}), "environment.frameworks.torch.unavailable"),
    "duplicate record": (lambda d: d["results"].append(copy.deepcopy(d["results"][0])),
                         "duplicate record"),
}


# what the gate does not read, and so does not check (the whole schema does)
NOT_READ_BY_THE_GATE = {"wrong type: max_ulp", "wrong float spelling", "bad reason",
                        "comparison figures incomplete"}


def _problems(check, real_doc, name):
    mutate, where = MUTATIONS[name]
    doc = copy.deepcopy(real_doc)
    mutate(doc)
    errors = check(doc)
    assert errors, name
    assert any(where in e for e in errors), errors


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_mutated_documents_do_not_validate(real_doc, name):
    _problems(validate_results, real_doc, name)


@pytest.mark.parametrize("name", sorted(set(MUTATIONS) - NOT_READ_BY_THE_GATE))
def test_the_gate_refuses_mutations_of_what_it_reads(real_doc, name):
    _problems(check_document, real_doc, name)


@pytest.mark.parametrize("name", sorted(NOT_READ_BY_THE_GATE))
def test_the_gate_ignores_what_it_does_not_read(real_doc, name):
    doc = copy.deepcopy(real_doc)
    MUTATIONS[name][0](doc)
    assert check_document(doc) == []


def test_not_an_object_does_not_validate(validator):
    assert validator([]) and validator("results") and validator(None)


@pytest.mark.parametrize("name", ["reports/results.json", "reports/baseline.json",
                                  "reports/upgrade-paddle/results.json",
                                  "reports/upgrade-tensorflow/results.json"])
def test_committed_results_validate(name, validator):
    path = Path(__file__).resolve().parent.parent / name
    if not path.exists():
        pytest.fail(f"{name} is not committed (make report; xent-parity gate --update)")
    doc = json.loads(path.read_text())
    assert validator(doc) == []
    assert doc.get("complete", True) is True


def test_the_gate_checks_with_jsonschema_over_a_part_of_the_one_schema(real_doc):
    """No second schema: the gate's validator is the results schema with records cut down to the
    keys the gate reads, and it finds what the whole schema finds in those keys."""
    from harness.gate import GATE_RECORD_KEYS, _gate_validator, _inline_refs

    gate_schema = _gate_validator().schema
    full = load_schema()
    defs, rec = full["$defs"], gate_schema["$defs"]["record"]
    assert set(rec["properties"]) == set(GATE_RECORD_KEYS) <= set(defs["record"]["properties"])
    for k in rec["properties"]:  # the full schema's own, its references written out
        assert rec["properties"][k] == _inline_refs(defs["record"]["properties"][k], defs), k
    assert rec["allOf"] == _inline_refs(defs["record"]["allOf"], defs)
    doc = copy.deepcopy(real_doc)
    doc["results"][0]["params"] = "not read by the gate"
    assert check_document(doc) == [] and validate_results(doc) != []
