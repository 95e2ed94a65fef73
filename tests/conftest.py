"""Suite-wide test settings.

- One compute thread per test process: the suite runs on two xdist workers on a 2-core machine;
  torch's default of one intra-op thread per core would oversubscribe it (and OpenMP
  spin-waiting under contention slows small models by an order of magnitude). Subprocesses
  inherit the environment variables.
- Modules that launch multi-process torch.distributed jobs (``LAUNCHES_DISTRIBUTED_JOBS = True``)
  run one at a time across the xdist workers: two gloo jobs started side by side on one host
  once took each other's rendezvous (a rank aborted in CI).
- Property tests run on cores shared with other jobs: Hypothesis's wall-clock checks
  (per-example deadline, "input generation is slow") would fail them for load, not for a bug.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

settings.register_profile(
    "shared-cores", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("shared-cores")


@pytest.fixture(scope="module", autouse=True)
def _one_distributed_job_at_a_time(request: pytest.FixtureRequest) -> Iterator[None]:
    if not getattr(request.module, "LAUNCHES_DISTRIBUTED_JOBS", False):
        yield
        return
    with open(Path(tempfile.gettempdir()) / "standard-coder-tests-distributed.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
