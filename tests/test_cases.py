"""The YAML loader, schema errors (file:line and key), grid expansion, case IDs and inputs."""

import textwrap

import numpy as np
import pytest

from harness.cases import CaseFileError, case_id, load_case_file, load_cases, select
from harness.dtypes import round_to_dtype
from harness.inputs import generate_inputs

pytestmark = pytest.mark.fast


def write(tmp_path, text, name="g.yaml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def test_grid_expands_to_the_cartesian_product_minus_exclusions(tmp_path):
    p = write(tmp_path, """
        defaults: {shape: [4, 3]}
        blocks:
          - grid:
              dtype: [float32, float64]
              reduction: [none, sum, mean]
            exclude:
              - {dtype: float64, reduction: sum}
        """)
    cases = load_case_file(p)
    assert len(cases) == 5
    assert [c.id for c in cases] == sorted(c.id for c in cases)
    assert "hard-mean-w=none-ii=-100-ax=-1-f32-4x3" in {c.id for c in cases}
    assert not any("sum" in c.id and "f64" in c.id for c in cases)


def test_case_id_is_derived_from_every_parameter_that_changes_the_case():
    base = {"shape": [8, 5], "axis": -1, "dtype": "float32", "label": "hard", "input": "logits",
            "weight": "random", "ignore_index": -100, "ignore_frac": 0.0, "reduction": "mean",
            "smoothing": 0.0, "dist": "normal", "checks": ["forward", "grad"], "invalid": None}
    assert case_id(base) == "hard-mean-w=random-ii=-100-ax=-1-f32-8x5"
    variants = [("ignore_frac", 0.25), ("smoothing", 0.1), ("dist", "gaps"), ("input", "probs"),
                ("invalid", "label-rank"), ("checks", ["forward"]), ("axis", 0), ("dtype", "bfloat16")]
    ids = {case_id({**base, k: v}) for k, v in variants}
    assert len(ids) == len(variants) and case_id(base) not in ids


@pytest.mark.parametrize("body, line, key", [
    ("blocks:\n  - grid:\n      dtype: [float8]\n", 3, "dtype"),
    ("blocks:\n  - grid:\n      colour: [red]\n", 3, "colour"),
    ("blocks:\n  - grid:\n      shape: [[4, -1]]\n", 3, "shape"),
    ("defaults:\n  smoothing: 2\nblocks:\n  - grid: {shape: [[2, 3]]}\n", 2, "smoothing"),
    ("blocks:\n  - cases:\n      - {shape: [2, 3]}\n      - {shape: [2, 3], axis: 5}\n", 4, "axis"),
    ("blocks:\n  - grid:\n      shape: [[2, 3]]\n    exclude:\n      - {flavour: x}\n", 5, "flavour"),
    ("blocks:\n  - grid:\n      shape: [[2, 3]]\n    extra: 1\n", 4, "extra"),
    ("blocks:\n  - grid:\n      reduction: []\n      shape: [[2, 3]]\n", 3, "reduction"),
])
def test_schema_errors_name_file_line_and_key(tmp_path, body, line, key):
    p = write(tmp_path, body)
    with pytest.raises(CaseFileError) as e:
        load_case_file(p)
    msg = str(e.value)
    assert msg.startswith(f"{p}:{line}:"), msg
    assert repr(key) in msg or key in msg


def test_yaml_syntax_error_names_the_line(tmp_path):
    p = write(tmp_path, "blocks:\n  - grid:\n      dtype: [float32\n  x: ]\n")
    with pytest.raises(CaseFileError, match=rf"^{p}:\d+: YAML syntax error"):
        load_case_file(p)


def test_loading_is_safe_no_python_objects(tmp_path):
    p = write(tmp_path, "blocks:\n  - grid: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(CaseFileError, match="YAML"):
        load_case_file(p)


def test_duplicate_ids_and_empty_grids_are_refused(tmp_path):
    p = write(tmp_path, """
        blocks:
          - cases:
              - {shape: [2, 3]}
          - cases:
              - {shape: [2, 3], reduction: mean}
        """)
    with pytest.raises(CaseFileError, match=r"duplicate case ID hard-mean.*first defined at .*:4"):
        load_case_file(p)
    p = write(tmp_path, """
        blocks:
          - grid: {shape: [[2, 3]], dtype: [float32]}
            exclude: [{dtype: float32}]
        """, "empty.yaml")
    with pytest.raises(CaseFileError, match="empty"):
        load_case_file(p)


def test_meaningless_combinations_are_skipped(tmp_path):
    p = write(tmp_path, """
        defaults: {shape: [4, 3]}
        blocks:
          - grid:
              label: [hard, soft]
              ignore_frac: [0.0, 0.5]
              input: [logits, probs]
              dist: [normal, gaps]
        """)
    ids = [c.id for c in load_case_file(p)]
    assert not any(i.startswith("soft") and "ig=" in i for i in ids)
    assert not any("probs" in i and "d=gaps" in i for i in ids)
    assert len(ids) == 3 * 3  # (hard x2 fractions + soft) x (logits normal, logits gaps, probs normal)


def test_shipped_grids_load_and_select_like_pytest():
    cases = load_cases(["cases/default.yaml"])
    assert len(load_cases(["cases/smoke.yaml"])) < len(cases) / 5
    ids = [c.id for c in cases]
    assert ids == sorted(set(ids))
    soft64 = select(cases, "soft and f64 and not probs")
    assert soft64 and all("soft" in c.id and "f64" in c.id and "probs" not in c.id for c in soft64)
    assert select(cases, patterns=["hard-mean-*-f16-*"])
    with pytest.raises(ValueError):
        select(cases, "soft and (")


def test_inputs_are_deterministic_per_id_and_rounded_to_the_dtype():
    cases = {c.id: c for c in load_case_file("cases/default.yaml")}
    cid = "soft-mean-w=random-ii=-100-ax=-1-bf16-16x10"
    a = generate_inputs(cases[cid].params, cid)
    b = generate_inputs(cases[cid].params, cid)
    for k in a.arrays():
        np.testing.assert_array_equal(a.arrays()[k], b.arrays()[k])
    for arr in (a.x, a.label, a.weight):
        np.testing.assert_array_equal(round_to_dtype(arr, "bfloat16"), arr)
    other = generate_inputs(cases[cid].params, cid.replace("bf16", "f32"))
    assert not np.array_equal(other.x, a.x)


def test_ignore_fraction_and_invalid_inputs_are_built_as_declared():
    cases = {c.id: c for c in load_case_file("cases/default.yaml")}
    all_ign = next(c for c in cases.values() if "ig=1" in c.id and "ii=3" in c.id)
    d = generate_inputs(all_ign.params, all_ign.id)
    assert np.all(d.label == 3) and d.worker_params["uses_ignore"]
    oor = next(c for c in cases.values() if c.invalid == "label-out-of-range")
    d = generate_inputs(oor.params, oor.id)
    assert d.label.max() >= d.x.shape[-1]
    ws = next(c for c in cases.values() if c.invalid == "weight-shape")
    d = generate_inputs(ws.params, ws.id)
    assert d.weight.shape == (d.x.shape[-1] + 1,)
