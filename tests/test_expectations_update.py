"""`xent-parity expectations --update`: each result goes to the entry that names it."""

import pytest

from harness.expectations import load_expectations, plan_update

pytestmark = pytest.mark.fast

TWO = """\
- framework: keras
  check: forward
  verdict: bad-input-accepted
  reason: float labels are truncated
  link: https://example.org/a
  case: [case-float]
- framework: keras
  check: forward
  verdict: bad-input-accepted
  reason: XLA returns NaN for bad labels
  link: https://example.org/b
  case: [case-compiled]
"""


def record(case, verdict="bad-input-accepted"):
    return {"case": case, "framework": "keras", "check": "forward", "verdict": verdict,
            "convention": None}


def test_a_result_stays_with_the_entry_that_names_it(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text(TWO)
    up = plan_update(load_expectations(path), [record("case-float"), record("case-compiled"),
                                               record("case-new")])
    assert [e["case"] for e in up.entries] == [["case-float", "case-new"], ["case-compiled"]]
    assert not up.unreviewed and not up.dropped
