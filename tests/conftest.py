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
- Child processes keep their temporary files in a folder of this test process's own
  (``TMPDIR``), removed when the session ends: ``torchrun`` leaves a ``torchelastic_*`` log
  folder behind on every launch, and a child killed on purpose (SIGKILL) leaves its
  multiprocessing ``pymp-*`` folder (the runner's own ``os._exit`` paths remove theirs); CI runs
  left 72 and 42 of them in ``/tmp``. This process's own temporary files (pytest's ``tmp_path``,
  the lock below) stay in the shared temporary folder.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

# the shared temporary folder, as the first test process of the run found it (an xdist worker
# inherits the controller's TMPDIR below, not the machine's)
SHARED_TMP = os.environ.get("SC_TESTS_SHARED_TMPDIR") or tempfile.gettempdir()
os.environ["SC_TESTS_SHARED_TMPDIR"] = SHARED_TMP
tempfile.tempdir = SHARED_TMP
CHILD_TMP = tempfile.mkdtemp(prefix="sc-tests-")  # short: AF_UNIX socket paths live in it
os.environ["TMPDIR"] = CHILD_TMP


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(CHILD_TMP, ignore_errors=True)


settings.register_profile(
    "shared-cores", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("shared-cores")


@pytest.fixture(scope="module", autouse=True)
def _one_distributed_job_at_a_time(request: pytest.FixtureRequest) -> Iterator[None]:
    if not getattr(request.module, "LAUNCHES_DISTRIBUTED_JOBS", False):
        yield
        return
    with open(Path(SHARED_TMP) / "standard-coder-tests-distributed.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
