"""Portability check: a verdict must not depend on the CPU it ran on.

    python -m harness.portability                 # make portability: the default grid
    python -m harness.portability cases/smoke.yaml --frameworks numpy,torch --out /tmp/p

Runs a grid as a lesser machine of this machine's kind would dispatch (`harness.cpu.
lower_dispatch_env`: on a CPU with AVX-512, numpy's AVX-512 kernels off and torch, oneDNN and XLA
capped at AVX2; on one without, down to the baseline ISA), in a fresh process (numpy reads its
dispatch variables when it is imported), then gates the results against a baseline made as the
machine is (by default the committed `reports/baseline.json`). Exit status: the gate's (0 when
nothing regressed, 1 when something did, 2 for an unusable file), or the run's when it failed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from harness.cpu import lower_dispatch_env

REPO = Path(__file__).resolve().parent.parent


def run_lowered(run_args: list[str], env: dict | None = None) -> subprocess.CompletedProcess:
    """`xent-parity run RUN_ARGS` in a new process under the lesser dispatch (or `env`)."""
    full = {**os.environ, **(env if env is not None else lower_dispatch_env())}
    return subprocess.run([sys.executable, "-m", "harness", "run", *run_args], env=full,
                          cwd=REPO)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness.portability", description=__doc__.split(
        "\n\n")[0])
    ap.add_argument("grids", nargs="*", default=["cases/default.yaml"])
    ap.add_argument("--frameworks", "-f", default=None)
    ap.add_argument("--out", default="reports/portability")
    ap.add_argument("--baseline", default="reports/baseline.json")
    args = ap.parse_args(argv)
    env = lower_dispatch_env()
    print("xent-parity portability: running as a lesser machine of this kind: "
          + " ".join(f"{k}={v!r}" for k, v in sorted(env.items())), file=sys.stderr, flush=True)
    run_args = [*args.grids, "--out", args.out]
    if args.frameworks:
        run_args += ["--frameworks", args.frameworks]
    rc = run_lowered(run_args, env).returncode
    if rc != 0:
        print(f"xent-parity portability: the run exited {rc}", file=sys.stderr)
        return rc
    from harness.gate import main_gate

    return main_gate(["--baseline", args.baseline,
                      "--results", str(Path(args.out) / "results.json")])


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
