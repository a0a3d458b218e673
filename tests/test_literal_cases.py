"""Literal cases (harness.literal): the user's own arrays, from a .npz file or inline lists."""

from pathlib import Path
import numpy as np
import pytest

from harness.cases import CaseFileError, load_case_file
from harness.inputs import generate_inputs

pytestmark = pytest.mark.fast

X = np.array([[[0.5, -1.25, 2.0], [1.5, 0.25, -0.75], [-2.0, 1.0, 0.125]]], dtype=np.float32)
LABEL = np.array([[2, 0, 1]])


def write(tmp_path, body, name="c.yaml"):
    path = tmp_path / name
    path.write_text(body)
    return path


def case_file(tmp_path, case_lines):
    return write(tmp_path, "blocks:\n  - cases:\n      - " + "\n        ".join(case_lines) + "\n")


def test_an_npz_case_takes_its_shape_dtype_and_arrays_from_the_file(tmp_path):
    np.savez(tmp_path / "a.npz", logits=X, label=LABEL)
    path = case_file(tmp_path, ["id: mine", "data: a.npz", "axis: 1", "reduction: sum"])
    (case,) = load_case_file(path)
    assert case.id == "mine" and case.source == f"{path}:3"
    assert case.params["shape"] == [1, 3, 3] and case.params["dtype"] == "float32"
    d = generate_inputs(case.params, case.id)
    assert np.array_equal(d.x, X) and d.x.dtype == np.float32
    assert np.array_equal(d.label, LABEL) and d.label.dtype == np.int64
    assert d.weight is None and d.ref_kwargs["axis"] == 1 and d.ref_kwargs["reduction"] == "sum"


def test_inline_data_and_a_weight_in_the_data(tmp_path):
    path = case_file(tmp_path, ["id: tiny", "data: {logits: [[0.5, 1.0, -2.0]], label: [2], "
                                "weight: [1.0, 2.0, 0.5]}", "dtype: float64"])
    (case,) = load_case_file(path)
    d = generate_inputs(case.params, case.id)
    assert d.x.dtype == np.float64 and d.x.tolist() == [[0.5, 1.0, -2.0]]
    assert d.weight.tolist() == [1.0, 2.0, 0.5] and case.params["weight"] == "data"


def test_the_reproducer_embeds_a_literal_cases_arrays(tmp_path):
    from harness.reproducer import reproducer

    np.savez(tmp_path / "a.npz", logits=X, label=LABEL)
    (case,) = load_case_file(case_file(tmp_path, ["id: mine", "data: a.npz", "axis: 1"]))
    script = reproducer(case.id, generate_inputs(case.params, case.id),
                        "harness.adapters.numpy_adapter:NumpyAdapter", "forward",
                        case_params=case.params)
    assert "x = np.array([[[ 0.5  , -1.25 ,  2.   ]," in script
    assert "label = np.array([[2, 0, 1]], dtype=np.int64)" in script


@pytest.mark.parametrize("lines, message", [
    (["data: a.npz"], "a literal case needs id:"),
    (["id: x", "data: nope.npz"], "cannot read"),
    (["id: x", "data: extra.npz"], "unknown array 'foo'"),
    (["id: x", "data: a.npz", "axis: 0"], "hard labels have shape [1, 3]; with class axis 0"),
    (["id: x", "data: a.npz", "axis: 1", "shape: [3, 3]"], "disagrees with the 'logits'"),
    (["id: x", "data: bad.npz"], "label 5 at (1,) is outside [0, 3)"),
    (["id: x", "data: ../a.npz"], "leaves the case file's folder"),
    (["id: x", "data: a.npz", "axis: 1", "input: probs"], "the case has input: probs"),
    (["id: x", "data: a.npz", "axis: 1", "ignore_frac: 0.5"], "key 'ignore_frac'"),
    (["id: x y", "data: a.npz"], "key 'id'"),
    (["id: x", "shape: [2, 3]"], "only a literal case"),
])
def test_errors_name_the_file_line_and_key(tmp_path, lines, message):
    np.savez(tmp_path / "a.npz", logits=X, label=LABEL)
    np.savez(tmp_path / "extra.npz", logits=X, label=LABEL, foo=np.zeros(2))
    np.savez(tmp_path / "bad.npz", logits=X[0], label=np.array([0, 5, 1]))
    path = case_file(tmp_path, lines)
    with pytest.raises(CaseFileError) as e:
        load_case_file(path)
    import re

    assert re.match(rf"{re.escape(str(path))}:[3-6]: key '", str(e.value)), str(e.value)
    assert message in str(e.value)


def test_a_label_outside_the_classes_is_allowed_when_the_case_says_invalid(tmp_path):
    np.savez(tmp_path / "bad.npz", logits=X[0], label=np.array([0, 5, 1]))
    (case,) = load_case_file(case_file(tmp_path, ["id: x", "data: bad.npz",
                                                  "invalid: label-out-of-range",
                                                  "checks: [forward]"]))
    assert generate_inputs(case.params, case.id).label.tolist() == [0, 5, 1]


def test_a_file_changed_after_loading_is_refused(tmp_path):
    from harness.literal import LiteralError

    np.savez(tmp_path / "a.npz", logits=X, label=LABEL)
    (case,) = load_case_file(case_file(tmp_path, ["id: x", "data: a.npz", "axis: 1"]))
    np.savez(tmp_path / "a.npz", logits=X + 1, label=LABEL)
    with pytest.raises(LiteralError, match="changed since"):
        generate_inputs(case.params, case.id)


def test_pickled_arrays_are_never_loaded(tmp_path):
    np.savez(tmp_path / "p.npz", logits=np.array([object()], dtype=object), label=LABEL)
    path = case_file(tmp_path, ["id: x", "data: p.npz"])
    with pytest.raises(CaseFileError, match="not a readable .npz of plain arrays"):
        load_case_file(path)


def test_the_peer_suites_load():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "cases" / "peers"
    counts = {p.name: len(load_case_file(p)) for p in sorted(root.glob("*.yaml"))}
    assert counts == {"onnx_backend.yaml": 34, "torch_opinfo.yaml": 252}


def test_the_grid_hash_of_a_literal_file_does_not_depend_on_where_the_checkout_lies(tmp_path):
    """A literal file is identified by its name and digest: the same case files in two folders
    are the same grid (shards, checkpoints and the gate compare the hash)."""
    import shutil

    from harness.cases import grid_hash, load_case_file

    src = Path(__file__).resolve().parent.parent / "cases" / "peers"
    a, b = tmp_path / "a", tmp_path / "elsewhere" / "b"
    for d in (a, b):
        shutil.copytree(src, d)
    ca = load_case_file(a / "onnx_backend.yaml")
    cb = load_case_file(b / "onnx_backend.yaml")
    assert ca[0].params["data"]["path"] != cb[0].params["data"]["path"]
    assert grid_hash(ca) == grid_hash(cb)
