"""Fuzz of the documents the harness reads back: results files (the gate), shards (merge) and
checkpoints (--resume). Each generated document is either accepted or refused with a clean exit
2 naming the file: never a traceback, never a hang, never an import of what it names."""

import copy
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.cli import main
from harness.gate import main_gate

ROOT = Path(__file__).resolve().parent.parent
SMOKE = str(ROOT / "cases" / "smoke.yaml")
FUZZ = settings(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
              st.text(max_size=20), st.sampled_from(["inf", "nan", "1/1", "0/0", "2/1",
                                                     "evil_mod:Evil", "forward~x", "\n",
                                                     "pass", "divergent", "known-defect"])),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=6)




@st.composite
def mutation(draw):
    """(path into the document, action, value): replace, delete or insert somewhere."""
    where = draw(st.sampled_from(["top", "grid", "environment", "framework", "record", "timing",
                                  "events"]))
    key = draw(st.one_of(st.sampled_from(
        ["format", "grid", "environment", "results", "events", "timing", "complete", "hash",
         "files", "cases", "shard", "frameworks", "version", "unavailable", "case", "framework",
         "check", "verdict", "convention", "fitting", "max_ratio", "worst_ulp", "n_bad", "n",
         "detail", "params", "expectation", "started", "finished", "breakdown_s", "kind",
         "canonical", "departs", "inconsistency"]), st.text(max_size=6)))
    action = draw(st.sampled_from(["replace", "replace", "delete"]))
    return where, key, action, draw(VALUES), draw(st.integers(0, 10**6))


def apply(doc, m):
    where, key, action, value, pick = m
    target = {"top": doc, "grid": doc.get("grid"), "environment": doc.get("environment"),
              "timing": doc.get("timing")}.get(where)
    if where == "framework":
        fws = doc["environment"]["frameworks"]
        target = fws[sorted(fws)[pick % len(fws)]] if fws else None
    elif where == "record" and doc["results"]:
        target = doc["results"][pick % len(doc["results"])]
    elif where == "events":
        target = doc.get("events")
    if isinstance(target, dict):
        if action == "delete":
            target.pop(key, None)
        else:
            target[key] = value
    elif isinstance(target, list):
        if target and action == "delete":
            target.pop(pick % len(target))
        else:
            target.append(value)


def _no_traceback(capsys):
    cap = capsys.readouterr()
    assert "Traceback" not in cap.out + cap.err, (cap.out + cap.err)[-3000:]
    return cap


@settings(FUZZ, max_examples=300)
@given(ms=st.lists(mutation(), min_size=1, max_size=3), side=st.sampled_from(["base", "res"]))
def test_fuzz_gate_documents(shards, tmp_path_factory, capsys, ms, side):
    tmp = tmp_path_factory.mktemp("g")
    base, res = copy.deepcopy(shards[0]), copy.deepcopy(shards[0])
    for m in ms:
        apply(base if side == "base" else res, m)
    bp, rp = tmp / "b.json", tmp / "r.json"
    bp.write_text(json.dumps(base))
    rp.write_text(json.dumps(res))
    rc = main_gate(["--baseline", str(bp), "--results", str(rp)])
    cap = _no_traceback(capsys)
    assert rc in (0, 1, 2)
    if rc == 2:
        assert cap.err.startswith("xent-parity gate: ") and (str(bp) in cap.err
                                                             or str(rp) in cap.err)


@settings(FUZZ, max_examples=60)
@given(ms=st.lists(mutation(), min_size=1, max_size=2), which=st.integers(0, 1))
def test_fuzz_shards_for_merge(shards, tmp_path_factory, capsys, ms, which):
    tmp = tmp_path_factory.mktemp("m")
    docs = copy.deepcopy(shards)
    for m in ms:
        apply(docs[which], m)
    paths = []
    for k, d in enumerate(docs):
        p = tmp / f"s{k}.json"
        p.write_text(json.dumps(d))
        paths.append(str(p))
    rc = main(["merge", *paths, "--out", str(tmp / "merged")])
    cap = _no_traceback(capsys)
    assert rc in (0, 2)
    if rc == 2:
        assert cap.err.startswith("xent-parity: ")
    assert not (Path.cwd() / "pwned").exists()


@settings(FUZZ, max_examples=60)
@given(lines=st.lists(st.one_of(VALUES.map(json.dumps), st.text(max_size=30)), max_size=4))
def test_fuzz_checkpoints_for_resume(tmp_path_factory, capsys, lines):
    from harness.cases import load_cases
    from harness.orchestrate import PARTIAL, _fingerprint, make_plan
    from harness.runner import adapter_specs

    tmp = tmp_path_factory.mktemp("c")
    grid = tmp / "g.yaml"
    grid.write_text("blocks:\n  - cases: [{shape: [2, 3]}, {shape: [3, 2], dtype: float64}]\n")
    out = tmp / "out"
    out.mkdir()
    plan = make_plan([str(grid)], load_cases([grid]), None)
    head = json.dumps({"fingerprint": _fingerprint(plan, adapter_specs(["numpy"]), "cpu")})
    (out / PARTIAL).write_text("\n".join([head, *lines]) + "\n")
    rc = main(["run", str(grid), "--frameworks", "numpy", "--out", str(out), "--resume",
               "--expectations", ""])
    cap = _no_traceback(capsys)
    assert rc in (0, 2)
    if rc == 0:
        doc = json.loads((out / "results.json").read_text())
        assert {r["case"] for r in doc["results"]} == {c.id for c in plan.cases}
