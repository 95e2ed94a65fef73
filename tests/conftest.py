"""Suite-wide settings: one compute thread per test process.

The suite runs on two xdist workers on a 2-core machine; torch's default of one intra-op thread
per core would oversubscribe it (and OpenMP spin-waiting under contention slows small models by
an order of magnitude). Subprocesses inherit the environment variables.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
