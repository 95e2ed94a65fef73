"""The chaos benchmark at CI size: one storm of 5 SIGKILLs over the flagship pipeline, resumed
until done and compared with a clean run, plus a few fuzzed configs and sprint files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def test_chaos_storm_recovers_identically_with_no_orphans_nor_tracebacks() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "chaos.py"),
            "--kills", "5",
            "--storms", "1",
            "--no-extras",
            "--fuzz", "4",
            "--fuzz-runs", "0",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["storms"] == 1
    assert result["kills"] >= 1  # kills land while the run is still going
    assert result["recovered"] == result["storms"], result
    assert result["identical"] == result["storms"], result
    assert result["orphans"] == 0 and result["stuck"] == 0, result
    assert result["fuzz_cases"] >= 4
    # configs are validated by the runner's config layer: a case is a clean error or accepted
    assert result["tracebacks"] == 0, result
