"""Progress on stderr: a bar on a terminal, quiet lines in CI and pipes, never colour."""

import io
import re

import pytest

from harness import progress
from harness.cli import main


class _Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def clean_env(monkeypatch):
    for k in ("XENT_PARITY_PROGRESS", "CI", "NO_COLOR", "TERM"):
        monkeypatch.delenv(k, raising=False)
    return monkeypatch


def test_a_terminal_gets_a_bar_and_ci_or_a_pipe_gets_lines(clean_env):
    assert progress.mode(_Terminal()) == "bar"
    assert progress.mode(io.StringIO()) == "lines"  # a pipe, a file
    clean_env.setenv("CI", "true")
    assert progress.mode(_Terminal()) == "lines"
    clean_env.setenv("XENT_PARITY_PROGRESS", "bar")
    assert progress.mode(io.StringIO()) == "bar"
    clean_env.setenv("XENT_PARITY_PROGRESS", "none")
    assert progress.mode(_Terminal()) == "none"
    clean_env.delenv("CI")
    clean_env.delenv("XENT_PARITY_PROGRESS")
    clean_env.setenv("TERM", "dumb")
    assert progress.mode(_Terminal()) == "lines"


def test_the_bar_is_never_coloured_and_plain_ascii_under_no_color(clean_env):
    clean_env.setenv("NO_COLOR", "1")
    out = _Terminal()
    bar = progress.Progress(10, "cases", stream=out)
    for i in range(1, 11):
        bar.update(i, f"pass={i}")
    bar.write("a message")
    bar.close()
    text = out.getvalue()
    assert "10/10" in text and "a message" in text and "pass=10" in text
    assert not re.search(r"\x1b\[[0-9;]*m", text)  # no SGR (colour) sequence
    assert all(ord(ch) < 128 for ch in text)


def test_lines_mode_prints_at_most_every_ten_seconds_and_at_the_end(clean_env):
    out = io.StringIO()
    bar = progress.Progress(100, "cases", stream=out)
    for i in range(1, 101):
        bar.update(i, "pass=1")
    lines = out.getvalue().splitlines()
    assert lines == ["[100/100 cases] pass=1"]


def test_run_in_ci_logs_plain_lines(clean_env, tmp_path, capsys):
    clean_env.setenv("CI", "true")
    assert main(["run", "cases/smoke.yaml", "--frameworks", "numpy", "--out", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err and re.search(r"^\[29/29 cases\] ", err, re.M), err
