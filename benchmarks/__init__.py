"""Benchmarks of xent-parity: `python benchmarks/run.py` (see run.py)."""
