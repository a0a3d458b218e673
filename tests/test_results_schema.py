"""The results JSON Schema: a real results.json validates, mutated documents do not."""

import copy
import json
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.gate import RANK, load_schema, validate_results
from harness.verdicts import VERDICTS

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def real_doc(tmp_path_factory):
    out = tmp_path_factory.mktemp("schema-run")
    rc = main(["run", str(ROOT / "cases" / "smoke.yaml"), "--frameworks", "numpy",
               "--out", str(out)])
    assert rc == 0
    return json.loads((out / "results.json").read_text())


@pytest.fixture(params=["jsonschema", "builtin"])
def validator(request, monkeypatch):
    """validate_results with jsonschema, and with the built-in fallback (jsonschema hidden)."""
    if request.param == "builtin":
        monkeypatch.setitem(sys.modules, "jsonschema", None)  # `import jsonschema` -> ImportError
    return validate_results


def _numeric(doc):
    return next(r for r in doc["results"] if "max_ulp" in r)


def test_schema_is_a_valid_draft_2020_12_schema_and_matches_the_harness(real_doc):
    jsonschema = pytest.importorskip("jsonschema")
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(real_doc)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(schema["$defs"]["verdict"]["enum"]) == set(VERDICTS) == set(RANK)
    assert schema["additionalProperties"] is True  # later sections may be added
    rec = schema["$defs"]["record"]
    from harness.report import BASE_KEYS, COMPARISON_KEYS

    assert set(BASE_KEYS) | set(COMPARISON_KEYS) | {"expectation"} == set(rec["properties"])


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


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_mutated_documents_do_not_validate(real_doc, validator, name):
    mutate, where = MUTATIONS[name]
    doc = copy.deepcopy(real_doc)
    mutate(doc)
    errors = validator(doc)
    assert errors, name
    assert any(where in e for e in errors), errors


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
