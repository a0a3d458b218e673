"""Benchmarks of xent-parity; writes benchmarks/RESULTS.md (and the raw figures, results.json).

    .venv/bin/python benchmarks/run.py                       # every section (make bench)
    .venv/bin/python benchmarks/run.py --only reference,speed
    .venv/bin/python benchmarks/run.py --quick --out /tmp/b  # toy sizes: checks the machinery only

Sections: reference (the float64 reference against a bare np.exp pass), overhead (Timing
breakdown and wall time of the default grid with every adapter), scale (default grid vs the 10x
grid), shard (--shard K/N + merge), xdist (pytest -n 2), large-vocab (cases/large-vocab.yaml), speed
(each framework's forward and forward+backward time), gate (the regression gate against a plain
json.load of the same two files). Opt-in, run only when named: `profile`
(cProfile of the parent on the default grid), `scale-all` (the 10x grid with every adapter, ~20
minutes), `large-vocab-all` (8192 x 128000 with every adapter, one group at a time: an hour). A section that is not
run keeps its previous figures in results.json, and RESULTS.md is rendered from all of them, each
with its date.

The machine is small and shared, so every figure is a ratio of two things timed side by side in
the same run, never an absolute time compared with a fixed threshold; each section waits (up to
90 s) for the load average to fall below 0.75 x nproc before it starts, and records the load.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import lib  # noqa: E402

SECTIONS = ("reference", "overhead", "scale", "shard", "xdist", "large-vocab", "speed", "gate",
            "profile", "scale-all", "large-vocab-all", "make-test")
OPT_IN = ("profile", "scale-all", "large-vocab-all", "make-test")  # minutes each, or ~20 GiB
DEFAULT = tuple(s for s in SECTIONS if s not in OPT_IN)
ORDER = ("reference", "overhead", "profile", "make-test", "scale", "scale-all", "shard", "xdist",
         "large-vocab", "large-vocab-all", "speed", "gate")  # in RESULTS.md
TITLES = {
    "reference": "1. Reference: speed against a bare exp pass, and memory",
    "overhead": "2-3. Harness overhead and wall time: default grid, every adapter",
    "make-test": "2c. `make test`, whole",
    "profile": "2b. Where the parent spends its time (cProfile)",
    "scale": "3b. Default grid vs a 10x grid",
    "scale-all": "3c. Default grid vs the 10x grid, every adapter",
    "shard": "4a. Scale out: --shard K/N + merge",
    "xdist": "4b. Scale out: pytest -n 2",
    "large-vocab": "5. Large vocabularies",
    "large-vocab-all": "5b. Large vocabularies, every adapter",
    "speed": "6. Framework speed table (a by-product)",
    "gate": "7. The regression gate against a plain json.load",
}


def run_section(name: str, args, tmp: Path, log) -> dict:
    from benchmarks import sec_gate, sec_harness, sec_large_vocab, sec_reference, sec_speed

    q = args.quick
    if name == "gate":
        lib.wait_for_quiet(quiet=q)
        res = sec_gate.run(quick=q, tmp=tmp, log=log)
        return {"result": res, "targets": sec_gate.targets(res, q)}
    if name == "reference":
        lib.wait_for_quiet(quiet=q)
        res = sec_reference.run(quick=q, log=log)
        tg = sec_reference.targets(res)
        if q:
            for t in tg:
                t["met"] = None
        return {"result": res, "targets": tg}
    if name in ("overhead", "profile"):
        res = sec_harness.overhead(quick=q, frameworks=args.frameworks, tmp=tmp, log=log,
                                   profile=name == "profile")
        return {"result": res, "targets": sec_harness.overhead_targets(res, q)
                if name == "overhead" else []}
    if name in ("scale", "scale-all"):
        fw = "" if name == "scale-all" else args.scale_frameworks
        res = sec_harness.scale(quick=q, frameworks=fw, tmp=tmp, log=log)
        return {"result": res, "targets": []}
    if name == "shard":
        res = sec_harness.shard(quick=q, frameworks=args.scale_frameworks, tmp=tmp, log=log)
        return {"result": res, "targets": sec_harness.shard_targets(res)}
    if name == "xdist":
        res = sec_harness.xdist(quick=q, frameworks=args.frameworks, log=log)
        return {"result": res, "targets": sec_harness.xdist_targets(res)}
    if name in ("large-vocab", "large-vocab-all"):
        groups = [g for g in args.large_vocab_groups.split(";") if g] if args.large_vocab_groups \
            else None
        sizes = [x for x in args.large_vocab_sizes.split(",") if x] or None
        if name == "large-vocab-all":
            groups = groups or list(sec_large_vocab.ALL_GROUPS)
        res = sec_large_vocab.run(quick=q, groups=groups, tmp=tmp, log=log, sizes=sizes)
        return {"result": res, "targets": sec_large_vocab.targets(res, q)}
    if name == "make-test":
        res = sec_harness.make_test(log=log)
        return {"result": res, "targets": sec_harness.make_test_targets(res)}
    if name == "speed":
        lib.wait_for_quiet(quiet=q)
        res = sec_speed.run(quick=q, frameworks=args.frameworks, log=log)
        return {"result": res, "targets": []}
    raise ValueError(name)


def render_section(name: str, entry: dict) -> str:
    from benchmarks import sec_gate, sec_harness, sec_large_vocab, sec_reference, sec_speed

    if "error" in entry:
        return f"Section failed: `{entry['error']}`\n\n```\n{entry.get('traceback', '')}\n```\n"
    res = entry["result"]
    fn = {"reference": sec_reference.render, "overhead": sec_harness.render_overhead,
          "profile": sec_harness.render_overhead, "scale": sec_harness.render_scale,
          "scale-all": sec_harness.render_scale,
          "shard": sec_harness.render_shard, "xdist": sec_harness.render_xdist,
          "large-vocab": sec_large_vocab.render, "large-vocab-all": sec_large_vocab.render,
          "speed": sec_speed.render, "gate": sec_gate.render,
          "make-test": sec_harness.render_make_test}[name]
    return fn(res)


def _targets(name: str, entry: dict) -> list[dict]:
    """The targets of a section, recomputed from its stored figures where possible."""
    if "error" in entry:
        return [{"name": "section", "value": entry["error"], "target": "runs", "met": False}]
    if name == "reference" and not entry.get("quick"):
        from benchmarks import sec_reference

        return sec_reference.targets(entry["result"])
    if name == "overhead":
        from benchmarks import sec_harness

        return sec_harness.overhead_targets(entry["result"], entry.get("quick", False))
    if name == "gate":
        from benchmarks import sec_gate

        return sec_gate.targets(entry["result"], entry.get("quick", False))
    if name in ("scale", "scale-all") and not entry.get("quick"):
        res = entry["result"]
        if "engine_ratio" not in res:
            return []
        who = res.get("frameworks")
        return [{"name": f"10x grid / default grid ({who}): `Engine.run` time, for "
                         f"{res['case_ratio']:g}x the cases", "value": res["engine_ratio"],
                 "target": "about 10x (8-12)", "met": 8 <= res["engine_ratio"] <= 12},
                {"name": "the same, whole process (fixed start-up and reporting included)",
                 "value": res["wall_ratio"], "target": "(reported)", "met": None}]
    return entry.get("targets", [])


def _fmt(v) -> str:
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return str(v)
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def render(doc: dict, notes: str = "") -> str:
    m = doc.get("machine", {})
    v = m.get("versions", {})
    lines = ["# xent-parity benchmarks", "",
             "Generated by `benchmarks/run.py` (`make bench`); do not edit by hand. Raw figures: "
             "`benchmarks/results.json`.", "",
             "## Machine", "",
             f"- {m.get('nproc')} CPUs ({m.get('cpu')}), {m.get('mem_total_gib')} GiB RAM; "
             f"{m.get('platform')}",
             f"- shared with other work: load average {m.get('loadavg')} at the start; every figure "
             "below is a ratio of things timed side by side in the same run",
             "- versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
             f"- commit {m.get('git', {}).get('commit')}"
             + (f", with uncommitted changes in {', '.join(m['git']['modified'])}"
                if m.get("git", {}).get("modified") else ""),
             f"- last run {m.get('date')}" + (" (**--quick: toy sizes, figures not meaningful**)"
                                               if doc.get("quick") else ""), ""]
    lines += ["## Targets", "", lib.table(["section", "figure", "value", "target", "status"], [
        [s, t["name"], f"{100 * t['value']:.1f}%" if t.get("pct") else _fmt(t["value"]),
         t["target"], lib.met(t["met"])]
        for s in ORDER if s in doc["sections"]
        for t in _targets(s, doc["sections"][s])]), ""]
    for s in ORDER:
        if s not in doc["sections"]:
            continue
        e = doc["sections"][s]
        lines += [f"## {TITLES[s]}", "",
                  f"_Run {e.get('date')}, {e.get('seconds', 0):.0f} s"
                  + (", --quick" if e.get("quick") else "") + "._", ""]
        lines += [render_section(s, e), ""]
    if notes:
        lines += [notes.strip(), ""]
    return "\n".join(lines).rstrip() + "\n"


def _findings(out: Path) -> str:
    """The hand-written analysis (benchmarks/FINDINGS.md), appended to RESULTS.md of a real run."""
    f = ROOT / "benchmarks" / "FINDINGS.md"
    if out.resolve() != (ROOT / "benchmarks").resolve() or not f.exists():
        return ""
    return f.read_text(encoding="utf-8")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", help="comma-separated sections: " + ", ".join(SECTIONS))
    ap.add_argument("--skip", default="", help="comma-separated sections to leave out")
    ap.add_argument("--quick", action="store_true", help="toy sizes (for the smoke test)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks"),
                    help="folder for RESULTS.md and results.json (default benchmarks/)")
    ap.add_argument("--frameworks", default="", help="adapters for overhead, xdist and speed "
                    "(default: every installed adapter)")
    ap.add_argument("--scale-frameworks", default="torch,paddle",
                    help="adapters for scale and shard (default torch,paddle: cheap, so that the "
                    "10x grid takes minutes, not half an hour)")
    ap.add_argument("--large-vocab-groups", default="",
                    help="';'-separated adapter groups for large-vocab (default 'torch,numpy')")
    ap.add_argument("--large-vocab-sizes", default="",
                    help="NxC shapes of cases/large-vocab.yaml to run (default 8192x128000; 'all')")
    ap.add_argument("--render", action="store_true",
                    help="run nothing: render RESULTS.md again from results.json (and FINDINGS.md)")
    ap.add_argument("--keep", action="store_true", help="keep the runs' output folders")
    args = ap.parse_args(argv)
    names = [s.strip() for s in args.only.split(",")] if args.only else list(DEFAULT)
    if args.render:
        names = []
    names = [s for s in names if s and s not in args.skip.split(",")]
    bad = [s for s in names if s not in SECTIONS]
    if bad:
        ap.error(f"unknown section(s) {', '.join(bad)}; known: {', '.join(SECTIONS)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    store = out / "results.json"
    doc = json.loads(store.read_text()) if store.exists() else {}
    if args.render:
        (out / "RESULTS.md").write_text(render(doc, _findings(out)))
        print(f"wrote {out / 'RESULTS.md'}", file=sys.stderr)
        return 0
    if doc.get("quick") != args.quick:
        doc = {}  # never mix toy figures with real ones
    doc.setdefault("sections", {})
    doc["quick"] = args.quick
    if args.quick:
        lib.MAX_WAIT = 0.0
    doc["machine"] = lib.machine()

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    tmpdir = tempfile.mkdtemp(prefix="xent-bench-")
    tmp = Path(tmpdir)
    failed = 0
    for name in names:
        log(f"[{name}]")
        t0 = time.perf_counter()
        try:
            entry = run_section(name, args, tmp, log)
        except Exception as e:  # noqa: BLE001 - one section's failure is reported, not fatal
            failed += 1
            entry = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}
            log(entry["traceback"])
        entry.update({"date": lib.machine()["date"], "seconds": time.perf_counter() - t0,
                      "quick": args.quick})
        doc["sections"][name] = entry
        store.write_text(json.dumps(doc, indent=1, default=str))
        (out / "RESULTS.md").write_text(render(doc, _findings(out)))
        log(f"[{name}] {entry['seconds']:.0f} s")
    if not args.keep:
        import shutil

        shutil.rmtree(tmpdir, ignore_errors=True)
    else:
        log(f"run outputs kept in {tmpdir}")
    log(f"wrote {out / 'RESULTS.md'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
