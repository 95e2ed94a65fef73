"""The forecast benchmark runs (--quick) and ends with its JSON line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_benchmark_quick_prints_json_last() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "forecast.py"), "--quick"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    last = json.loads(proc.stdout.strip().splitlines()[-1])
    assert last["n_sims"] == 5_000 and last["seconds"] > 0 and last["quick"] is True
