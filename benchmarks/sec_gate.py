"""Section 7: the regression gate against a plain `json.load` of the same two files.

The gate reads two results documents (the baseline and a run of the default grid), checks what it
reads of them, diffs them record by record and renders the diff. The target: at most 10x a plain
`json.load` of the same two files, timed side by side in one run. The whole-schema validation
that the gate used to run first (jsonschema, Draft 2020-12) is timed beside them for scale.
"""

from __future__ import annotations

import contextlib
import io
import json
import statistics
import subprocess
import sys
from pathlib import Path

from benchmarks import lib

ROOT = lib.ROOT


def _documents(quick: bool, tmp: Path) -> tuple[Path, Path]:
    """The committed baseline and results; with --quick, a small run of the smoke grid, twice."""
    base, res = ROOT / "reports" / "baseline.json", ROOT / "reports" / "results.json"
    if not quick and base.exists() and res.exists():
        return base, res
    out = tmp / "gate-docs"
    subprocess.run([lib.PY, "-m", "harness", "run", "cases/smoke.yaml", "--frameworks", "numpy",
                    "--out", str(out)], cwd=ROOT, check=True, capture_output=True)
    return out / "results.json", out / "results.json"


def run(quick: bool = False, tmp: Path | None = None, log=print) -> dict:
    from harness.gate import main_gate, validate_results

    base, res = _documents(quick, Path(tmp or "/tmp"))
    sizes = [base.stat().st_size, res.stat().st_size]
    records = len(json.loads(res.read_text())["results"])

    def plain_load():
        for p in (base, res):
            with open(p, encoding="utf-8") as f:
                json.load(f)

    def gate():
        with contextlib.redirect_stdout(io.StringIO()):
            return main_gate(["--baseline", str(base), "--results", str(res)])

    reps = 3 if quick else 7
    log(f"  gate vs json.load: {records} records, {sum(sizes) / 2**20:.1f} MiB, {reps} rounds")
    times = lib.interleave({"json.load": plain_load, "gate": gate}, reps=reps)
    out = {"records": records, "bytes": sizes, "times": times,
           "gate_over_load": lib.ratio(times, "gate", "json.load")}
    # the whole schema, as the gate validated before: once each, it takes seconds
    docs = [json.loads(p.read_text()) for p in (base, res)]
    schema_times = lib.interleave({"schema": lambda: [validate_results(d) for d in docs],
                                   "json.load": plain_load}, reps=1 if quick else 2, warmup=0)
    out["schema_over_load"] = lib.ratio(schema_times, "schema", "json.load")
    # whole processes: `xent-parity gate` against a python that only loads the two files
    gate_cmd = [lib.PY, "-m", "harness", "gate", "--baseline", str(base), "--results", str(res)]
    load_cmd = [lib.PY, "-c", "import json, sys\nfor p in sys.argv[1:]: json.load(open(p))",
                str(base), str(res)]
    wall = {"gate": [], "load": []}
    for _ in range(2 if quick else 5):
        for name, cmd in (("gate", gate_cmd), ("load", load_cmd)):
            r = lib.run_monitored(cmd, timeout=120)
            wall[name].append(r["wall_s"])
    out["process"] = {k: statistics.median(v) for k, v in wall.items()}
    out["process_ratio"] = out["process"]["gate"] / out["process"]["load"]
    return out


def targets(res: dict, quick: bool = False) -> list[dict]:
    r = res["gate_over_load"]["median"]
    return [{"name": "gate / plain json.load of the same two files (in one process, median of "
                     "the per-round ratios)", "value": r, "target": "<= 10",
             "met": None if quick else r <= 10},
            {"name": "the same as whole processes (interpreter start and imports included)",
             "value": res["process_ratio"], "target": "(reported)", "met": None}]


def render(res: dict) -> str:
    t = res["times"]
    rows = [["json.load of both files", statistics.median(t["json.load"]), 1.0],
            ["gate: read, check, diff, render", statistics.median(t["gate"]),
             res["gate_over_load"]["median"]],
            ["whole JSON Schema (jsonschema), both files", None, res["schema_over_load"]["median"]]]
    text = [f"{res['records']} records per document, {sum(res['bytes']) / 2**20:.1f} MiB in all. "
            "Seconds are medians of the rounds of this run, to read beside each other; the "
            "ratio is the median of the per-round ratios.", "",
            lib.table(["step", "seconds", "x json.load"],
                      [[a, "-" if b is None else round(b, 3), c] for a, b, c in rows]), "",
            f"Whole processes (median wall): `xent-parity gate` {res['process']['gate']:.2f} s, a "
            f"python that only loads the two files {res['process']['load']:.2f} s "
            f"(x{res['process_ratio']:.2f})."]
    return "\n".join(text)
