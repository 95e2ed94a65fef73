"""``train_sch`` on the smallest histories a user tries first (real git repositories, real runs).

A history of a few changes trains (with the summary's 'mostly noise' warning); one too small to
hold a change out and fit on two says so in one line naming the keys to change, exit 2.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from gitrepos import small_history

from proctools import child_env

pytestmark = [pytest.mark.integration]


def _train(config: Path) -> subprocess.CompletedProcess[str]:
    cmd = ["pipeline", "--config", str(config), "--to", "train_sch"]
    return subprocess.run(
        [sys.executable, "-m", "standard_coder", *cmd],
        capture_output=True,
        text=True,
        env=child_env(COLUMNS="120"),
        timeout=600,
    )


@pytest.mark.parametrize("n", [3, 6])
def test_a_history_of_a_few_changes_trains_with_the_noise_warning(tmp_path: Path, n: int) -> None:
    """No validation change in a fit (auto's earlier period has none): it trained on without
    early stopping; it raised ``cannot reshape array of size 0``."""
    proc = _train(small_history(tmp_path, n))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "changes to train on (fewer than 200)" in proc.stdout + proc.stderr
    assert (tmp_path / "out" / "models" / "auto" / "model.pt").is_file()


def test_a_history_too_small_to_hold_one_change_out_is_one_line_exit_2(tmp_path: Path) -> None:
    proc = _train(small_history(tmp_path, 2))
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and "reshape" not in proc.stderr
    said = next(ln for ln in proc.stderr.splitlines() if "too few changes" in ln)
    assert "(2; need at least 3" in said and "repos.max_commits_per_repo" in said, said
