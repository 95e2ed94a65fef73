"""The work-inference benchmark runs (quick mode) and ends with the JSON the issue names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_benchmark_quick_last_line_json() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "work_inference.py"), "--quick"],
        check=True,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    for key in (
        "fit_seconds",
        "fit_cpu_seconds",
        "load_avg",
        "threads",
        "epochs",
        "n_minutes",
        "pearson_vs_truth",
        "gap_pearson_vs_truth",
    ):
        assert key in doc
    assert doc["n_minutes"] > 40_000 and doc["threads"] <= 2


def test_benchmark_pools_family_authors_below_the_threshold_it_is_given() -> None:
    """``--min-commits-per-author`` sets the family teams' pooling threshold and the JSON says
    which was used (the default: the pipeline's); a threshold under 1 is one line, exit 2."""
    cmd = [sys.executable, str(ROOT / "benchmarks" / "work_inference.py"), "--quick"]
    out = subprocess.run(
        [*cmd, "--families", "bursty_oss", "--min-commits-per-author", "7"],
        check=True,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    assert doc["min_commits_per_author"] == 7 and "bursty_oss" in doc["families"]
    bad = subprocess.run(
        [*cmd, "--min-commits-per-author", "0"], capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 2 and "--min-commits-per-author" in bad.stderr
    assert "Traceback" not in bad.stderr
