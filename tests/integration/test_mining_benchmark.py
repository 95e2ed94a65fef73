"""The mining benchmark runs end to end in quick mode (PyDriller left out: no network here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def test_benchmark_quick(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "mining.py"),
            "--quick",
            "--skip-pydriller",
            "--work",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    last = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in ("ours_cps", "git_floor_cps", "ours_peak_rss_mb_small", "ours_peak_rss_mb_large"):
        assert last[key] > 0, key
    assert last["commits_small"] == 300
