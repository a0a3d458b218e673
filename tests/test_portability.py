"""Verdicts do not depend on the CPU: a grid run as this machine dispatches, and again as a lesser
machine of its kind would (harness.cpu.lower_dispatch_env: AVX-512 off where the CPU has it, down
to the baseline ISA where it has not), gives results whose last bits differ and whose verdicts,
conventions and gate do not. `make portability` does the same on the whole default grid against
the committed baseline."""

import json
from pathlib import Path

import pytest

from harness.adapters import known_adapters, load_class
from harness.cli import main
from harness.cpu import cpu_info, lower_dispatch_env
from harness.gate import main_gate
from harness.portability import run_lowered

ROOT = Path(__file__).resolve().parent.parent
# what moves the last bits here: numpy's float64 exp/log in the parent (every reference value and
# bound), torch's kernels (ATEN_CPU_CAPABILITY), and keras's probability rows that two conventions
# explain; float64 and the 32000-class cases show them best
FRAMEWORKS = ("numpy", "torch", "keras")
SELECT = ["cases/default.yaml", "-k", "probs-zeros or x32000 or (f64 and hard-mean) or signed"]


def _frameworks():
    names = [n for n in FRAMEWORKS if load_class(known_adapters()[n]).installed() is None]
    if "numpy" not in names:
        pytest.skip("numpy adapter unavailable")
    return ",".join(names)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("portability")
    fws = _frameworks()
    args = [*SELECT, "--frameworks", fws]
    assert main(["run", *args, "--out", str(tmp / "here")]) == 0
    assert run_lowered([*args, "--out", str(tmp / "lower")]).returncode == 0
    docs = [json.loads((tmp / d / "results.json").read_text()) for d in ("here", "lower")]
    return tmp, docs


def _by_key(doc):
    return {(r["case"], r["framework"], r["check"]): r for r in doc["results"]}


def test_the_lesser_dispatch_really_changes_the_last_bits(two_runs):
    _, (here, lower) = two_runs
    assert lower["environment"]["cpu"]["dispatch_env"] == lower_dispatch_env(cpu_info())
    assert here["environment"]["cpu"]["numpy"] != lower["environment"]["cpu"]["numpy"]
    a, b = _by_key(here), _by_key(lower)
    assert a.keys() == b.keys()
    moved = [k for k in a if any(a[k].get(f) != b[k].get(f)
                                 for f in ("max_ratio", "bound", "worst_got", "worst_expected"))]
    assert len(moved) >= 10, "the two dispatches agree bit for bit: the check proves nothing"
    if "torch" in here["environment"]["frameworks"]:
        assert (here["environment"]["frameworks"]["torch"]["dispatch"]["cpu_capability"]
                != lower["environment"]["frameworks"]["torch"]["dispatch"]["cpu_capability"])


def test_verdicts_and_conventions_are_the_same_outcome(two_runs):
    from harness.verdicts import same_outcome

    _, (here, lower) = two_runs
    a, b = _by_key(here), _by_key(lower)
    differ = [k for k in a if not same_outcome(
        a[k]["verdict"], [a[k]["convention"], *a[k].get("fitting", [])],
        b[k]["verdict"], [b[k]["convention"], *b[k].get("fitting", [])])]
    assert not differ, differ[:5]


def test_the_gate_passes_between_the_two_and_no_expectation_breaks(two_runs, capsys):
    tmp, (here, lower) = two_runs
    rc = main_gate(["--baseline", str(tmp / "here" / "results.json"),
                    "--results", str(tmp / "lower" / "results.json")])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "cpu numpy: " in out or "dispatch" in out  # the difference is shown, as information
    for doc in (here, lower):
        assert doc["expectations"]["broken"] == 0
