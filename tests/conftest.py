"""Suite-wide test settings.

- One compute thread per test process: the suite runs on two xdist workers on a 2-core machine;
  torch's default of one intra-op thread per core would oversubscribe it (and OpenMP
  spin-waiting under contention slows small models by an order of magnitude). Subprocesses
  inherit the environment variables.
- Property tests run on cores shared with other jobs: Hypothesis's wall-clock checks
  (per-example deadline, "input generation is slow") would fail them for load, not for a bug.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

settings.register_profile(
    "shared-cores", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("shared-cores")
