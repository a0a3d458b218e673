"""xent-parity harness: adapters, worker processes, case grids, comparison engine, reports.

Importing this package imports no framework: each framework is imported lazily inside its adapter,
which only ever runs in a worker process of its own.
"""

__version__ = "0.1.0"
