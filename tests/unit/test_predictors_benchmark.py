"""The training benchmark runs (--quick) and ends with its JSON line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_training_benchmark_quick() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "training.py"), "--quick",
                          "--threads", "1"], capture_output=True, text=True, timeout=300,
                         env=os.environ.copy(), check=True)  # fmt: skip
    last = json.loads(out.stdout.strip().splitlines()[-1])
    for k in ("samples_per_s", "dataloader_samples_per_s", "heldout_nll"):
        assert k in last
    assert last["samples_per_s"] > 0 and last["train_data_mb"] < last["dataloader_train_data_mb"]
