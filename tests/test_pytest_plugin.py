"""Case files as pytest items, and the strict expectations."""

import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

GRID = """
defaults: {shape: [4, 3], dtype: float64}
blocks:
  - cases:
      - {reduction: mean}
      - {reduction: mean, dtype: bfloat16}
      - {reduction: mean, invalid: label-negative, checks: [forward]}
"""


@pytest.fixture
def project(pytester):
    (pytester.path / "cases").mkdir()
    (pytester.path / "cases" / "mini.yaml").write_text(textwrap.dedent(GRID))
    pytester.makeconftest('pytest_plugins = ["harness.pytest_plugin"]')
    return pytester


def expectations(pytester, text):
    p = pytester.path / "exp.yaml"
    p.write_text(textwrap.dedent(text))
    return str(p)


def test_one_item_per_case_framework_and_check(project):
    res = project.runpytest("cases/mini.yaml", "--frameworks", "numpy", "--collect-only", "-q",
                            "--expectations", expectations(project, "[]"))
    lines = [ln for ln in res.outlines if "::" in ln]
    assert len(lines) == 5
    assert "cases/mini.yaml::hard-mean-w=none-ii=-100-ax=-1-f64-4x3[numpy-forward]" in lines


def test_verdicts_map_to_outcomes_and_failures_render_the_engine_result(project):
    res = project.runpytest("cases/mini.yaml", "--frameworks", "numpy", "-rs",
                            "--expectations", expectations(project, "[]"))
    # pass x2, unsupported bf16 -> skip x2, label -1 accepted silently -> failure
    res.assert_outcomes(passed=2, skipped=2, failed=1)
    res.stdout.fnmatch_lines(["*bad-input-accepted*accepted silently*",
                              "*reproduce: python -m harness explain*"])


def test_expectations_are_strict_xfails_and_unmatched_entries_are_reported(project):
    exp = expectations(project, """
        - case: "*bad=label-negative"
          framework: numpy
          verdict: bad-input-accepted
          reason: fancy indexing wraps negative labels
          link: https://numpy.org/doc/stable/user/basics.indexing.html
        - case: "hard-mean-w=none-ii=-100-ax=-1-f64-4x3"
          framework: numpy
          check: forward
          verdict: divergent
          convention: empty-mean-zero
          reason: stale entry, numpy now passes
          link: https://example.invalid/
        - case: "nothing-*"
          framework: numpy
          verdict: mismatch
          reason: matches nothing
          link: https://example.invalid/
        """)
    res = project.runpytest("cases/mini.yaml", "--frameworks", "numpy", "--expectations", exp)
    res.assert_outcomes(passed=1, skipped=2, xfailed=1, failed=1)
    res.stdout.fnmatch_lines(["*no longer holds*pass*",
                              "*expectations that matched no collected result*",
                              "*nothing-*"])


def test_a_bad_case_file_is_a_collection_error_naming_file_and_line(project):
    (project.path / "cases" / "broken.yaml").write_text("blocks:\n  - grid:\n      dtype: [f8]\n")
    res = project.runpytest("cases/broken.yaml", "--frameworks", "numpy")
    res.stdout.fnmatch_lines(["*cases/broken.yaml:3: key 'dtype'*"])
    assert res.ret != 0


def test_missing_framework_is_a_skip_with_the_reason(project):
    project.makepyfile(ghost="""
        from harness.adapters.numpy_adapter import NumpyAdapter
        class Ghost(NumpyAdapter):
            name = "ghost"
            module = "no_such_framework_xyz"
        """)
    res = project.runpytest("cases/mini.yaml", "--frameworks", "ghost:Ghost", "-rs",
                            "--expectations", expectations(project, "[]"))
    res.assert_outcomes(skipped=5)
    res.stdout.fnmatch_lines(["*no_such_framework_xyz is not installed*"])


def test_heavy_grids_are_collected_only_when_named(project):
    (project.path / "cases" / "default.yaml").write_text(textwrap.dedent(GRID))
    exp = expectations(project, "[]")
    res = project.runpytest("cases", "--frameworks", "numpy", "--collect-only", "-q",
                            "--expectations", exp)
    lines = [ln for ln in res.outlines if "::" in ln]
    assert lines and all(ln.startswith("cases/default.yaml::") for ln in lines)
    res = project.runpytest("cases/mini.yaml", "--frameworks", "numpy", "--collect-only", "-q",
                            "--expectations", exp)
    assert any(ln.startswith("cases/mini.yaml::") for ln in res.outlines)


def test_a_literal_case_file_runs_as_pytest_items(project):
    import numpy as np

    np.savez(project.path / "cases" / "mine.npz",
             logits=np.array([[0.5, 1.0, -2.0], [1.0, 2.0, 3.0]]), label=np.array([2, 0]))
    (project.path / "cases" / "lit.yaml").write_text(textwrap.dedent("""\
        blocks:
          - cases:
              - {id: my-batch, data: mine.npz, reduction: sum}
              - {id: tiny, data: {logits: [[0.5, 1.0, -2.0]], label: [2]}, dtype: float64}
        """))
    res = project.runpytest("cases/lit.yaml", "--frameworks", "numpy", "-q")
    res.assert_outcomes(passed=4)
    res.stdout.fnmatch_lines(["*4 passed*"])


def test_unmatched_expectations_are_listed_only_for_what_the_run_selected(project):
    exp = expectations(project, """
        - case: "nothing-*"
          framework: numpy
          verdict: mismatch
          reason: matches nothing
          link: https://example.invalid/
        - case: "nothing-*"
          framework: torch
          verdict: mismatch
          reason: another framework's entry
          link: https://example.invalid/
        """)
    res = project.runpytest("cases/mini.yaml", "--frameworks", "numpy", "--expectations", exp)
    res.stdout.fnmatch_lines(["*expectations that matched no collected result*",
                              "numpy * nothing-*"])
    res.stdout.no_fnmatch_line("torch *nothing-*")
    res = project.runpytest("cases/mini.yaml", "--frameworks", "numpy", "--expectations", exp,
                            "-k", "soft")
    res.stdout.no_fnmatch_line("*expectations that matched no collected result*")


def test_a_failure_in_a_case_file_outside_the_rootdir_is_a_plain_failure(project, tmp_path_factory):
    outside = tmp_path_factory.mktemp("elsewhere") / "cases"
    outside.mkdir()
    (outside / "far.yaml").write_text(textwrap.dedent(GRID))
    exp = expectations(project, """
        - case: "hard-mean-w=none-ii=-100-ax=-1-f64-4x3"
          framework: numpy
          check: forward
          verdict: mismatch
          reason: planted, so that the passing result fails as no longer holding
          link: https://example.invalid/
        """)
    res = project.runpytest(str(outside / "far.yaml"), "--frameworks", "numpy",
                            "--expectations", exp, "--rootdir", str(project.path))
    assert res.ret == 1  # failures, not INTERNALERROR (3)
    res.stdout.fnmatch_lines([f"reproduce: python -m harness explain "
                              f"hard-mean-w=none-ii=-100-ax=-1-f64-4x3 {outside / 'far.yaml'} "
                              "--frameworks numpy --reproducer"])
