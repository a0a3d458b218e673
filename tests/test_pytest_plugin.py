"""Case files as pytest items, and the strict expectations."""

import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

GRID = """
xent-parity: 1
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
    project.syspathinsert()  # ghost.py importable as a module:Class adapter
    res = project.runpytest("cases/mini.yaml", "--frameworks", "ghost:Ghost", "-rs",
                            "--expectations", expectations(project, "[]"))
    res.assert_outcomes(skipped=5)
    res.stdout.fnmatch_lines(["*no_such_framework_xyz is not installed*"])


def test_case_files_are_found_by_their_marker_key_in_any_folder(project):
    """`xent-parity: 1` makes a YAML file a case file wherever it lies; `collect: when-named`
    leaves it to the command line; any other YAML file is left alone."""
    (project.path / "suites" / "deep").mkdir(parents=True)
    (project.path / "suites" / "deep" / "mine.yml").write_text(textwrap.dedent(GRID))
    heavy = "xent-parity: 1\ncollect: when-named\n" + textwrap.dedent(GRID).replace(
        "xent-parity: 1\n", "")
    (project.path / "suites" / "heavy.yaml").write_text(heavy)
    (project.path / "suites" / "other-tool.yaml").write_text("blocks: [1, 2]\nname: ci\n")
    (project.path / "suites" / "unmarked.yaml").write_text(
        textwrap.dedent(GRID).replace("xent-parity: 1\n", ""))
    exp = expectations(project, "[]")
    res = project.runpytest("--frameworks", "numpy", "--collect-only", "-q", "--expectations", exp)
    files = {ln.split("::")[0] for ln in res.outlines if "::" in ln}
    assert files == {"cases/mini.yaml", "suites/deep/mine.yml"}, res.outlines
    res = project.runpytest("suites/heavy.yaml", "suites/unmarked.yaml", "--frameworks", "numpy",
                            "--collect-only", "-q", "--expectations", exp)
    files = {ln.split("::")[0] for ln in res.outlines if "::" in ln}
    assert files == {"suites/heavy.yaml", "suites/unmarked.yaml"}  # named: collected
    res = project.runpytest("suites/other-tool.yaml", "--frameworks", "numpy", "--collect-only",
                            "-q", "--expectations", exp)
    assert not any("::" in ln for ln in res.outlines)  # no case file, named or not


def test_lf_and_ff_rerun_exactly_the_failed_item(project):
    exp = expectations(project, "[]")
    first = project.runpytest("cases/mini.yaml", "--frameworks", "numpy", "--expectations", exp)
    first.assert_outcomes(passed=2, skipped=2, failed=1)  # bf16: numpy has none; bad=: accepted
    res = project.runpytest("cases/mini.yaml", "--frameworks", "numpy", "--expectations", exp,
                            "--lf")
    res.assert_outcomes(failed=1, deselected=4)
    res.stdout.fnmatch_lines(["*bad=label-negative*numpy-forward*"])
    res = project.runpytest("cases/mini.yaml", "--frameworks", "numpy", "--expectations", exp,
                            "--ff", "-v")
    ran = [ln for ln in res.outlines if ln.startswith("cases/mini.yaml::") and "%]" in ln]
    assert "bad=label-negative" in ran[0] and len(ran) == 5, ran


def test_xfails_of_case_files_are_summarised_by_reason(project):
    exp = expectations(project, """
        - case: "hard-mean-w=none-ii=-100-ax=-1-f64-4x3-only=forward-bad=label-negative"
          framework: numpy
          verdict: bad-input-accepted
          reason: numpy's fancy indexing wraps -1
          link: https://example.invalid/1
        """)
    res = project.runpytest("cases/mini.yaml", "--frameworks", "numpy", "--expectations", exp,
                            "-ra")
    res.assert_outcomes(passed=2, skipped=2, xfailed=1)
    res.stdout.fnmatch_lines(["*xent-parity: 1 expected failures of case files, by reason*",
                              "    1 x numpy's fancy indexing wraps -1 (https://example.invalid/1)",
                              "        e.g. cases/mini.yaml::*bad=label-negative*"])
    res.stdout.no_fnmatch_line("XFAIL cases/mini.yaml::*")
    res = project.runpytest("cases/mini.yaml", "--frameworks", "numpy", "--expectations", exp,
                            "-ra", "--parity-xfail-lines")
    res.stdout.fnmatch_lines(["XFAIL cases/mini.yaml::*bad=label-negative*"])


def test_junit_xml_and_k_keep_working(project):
    exp = expectations(project, "[]")
    xml = project.path / "out.xml"
    res = project.runpytest("cases/mini.yaml", "--frameworks", "numpy", "--expectations", exp,
                            "-k", "f64 and not bad", f"--junitxml={xml}")
    res.assert_outcomes(passed=2, deselected=3)
    text = xml.read_text()
    assert text.count("<testcase ") == 2 and "hard-mean-w=none-ii=-100-ax=-1-f64-4x3" in text


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


def test_the_plugin_works_from_a_folder_outside_the_repository(tmp_path):
    """Registered by the package's pytest11 entry point: no conftest, no `cases/` folder, a
    case file of one's own, and `--frameworks` is a known option."""
    import subprocess
    import sys

    (tmp_path / "my_suite.yaml").write_text(textwrap.dedent("""\
        xent-parity: 1
        blocks:
          - cases:
              - {id: my-logits, data: {logits: [[2.0, -1.0, 0.5], [0.0, 0.0, 9.0]], label: [0, 2]},
                 dtype: float64, reduction: mean}
        """))
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "--frameworks", "numpy", "--expectations", str(ROOT / "cases" /
                                                                           "expectations.yaml")],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "2 passed" in res.stdout and "my_suite.yaml" not in res.stderr
    assert not (tmp_path / "conftest.py").exists()


def test_the_repository_expectations_used_for_ones_own_file_list_no_unmatched_entries(project):
    """With no --expectations and no expectations.yaml beside the case file, the repository's
    file explains the known divergences, but its entries are about other cases: none is listed
    as matching nothing. Named with --expectations, a file's unmatched entries are listed."""
    res = project.runpytest("cases/mini.yaml", "--frameworks", "numpy")
    res.stdout.no_fnmatch_line("*expectations that matched no collected result*")
    res = project.runpytest("cases/mini.yaml", "--frameworks", "numpy", "--expectations",
                            str(ROOT / "cases" / "expectations.yaml"))
    res.stdout.fnmatch_lines(["*expectations that matched no collected result*"])
    (project.path / "cases" / "expectations.yaml").write_text(textwrap.dedent("""
        - case: "nothing-*"
          framework: numpy
          verdict: mismatch
          reason: beside the case file, so about it
          link: https://example.invalid/
        """))
    res = project.runpytest("cases/mini.yaml", "--frameworks", "numpy")
    res.stdout.fnmatch_lines(["*expectations that matched no collected result*",
                              "numpy * nothing-*"])
