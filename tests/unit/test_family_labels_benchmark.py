"""benchmarks/family_labels.py: the same commits matched across a combined run and a single
one, their label figures on the single run's split, and a clear error for a missing file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from tests.benchmodule import load_benchmark

from standard_coder.sch.features.tokens import SURFACE_NAMES

ROOT = Path(__file__).resolve().parents[2]
bench = load_benchmark("family_labels")


def _dataset(path: Path, repo: str, ids: list[str], hours: np.ndarray, split: list[int]) -> None:
    n = len(ids)
    surface = np.zeros((n, len(SURFACE_NAMES)))
    surface[:, SURFACE_NAMES.index("lines_added")] = np.arange(n)  # lines added rank = position
    np.savez(path, Y=np.repeat(hours[:, None], 4, axis=1).astype(np.float32),
             repo=np.array([repo] * n), commit_id=np.array(ids), split=np.array(split, np.int8),
             surface=surface, label_kind=np.zeros(n, np.int8))  # fmt: skip


def test_shared_commits_are_compared_on_the_single_runs_split(tmp_path: Path, capsys) -> None:
    ids = [f"c{i}" for i in range(8)]
    split = [0, 0, 0, 0, 2, 2, 2, 2]
    # alone: labels fall with size in the held-out half; together: they rise with it
    _dataset(
        tmp_path / "one.npz", "r-1", ids, np.array([0.2, 0.3, 0.4, 0.5, 0.9, 0.8, 0.7, 0.6]), split
    )
    other = ["x0", *ids[::-1]]  # another repository's commit, and a different order
    hours = np.array(
        [0.1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2]
    )  # c7 .9 ... c0 .2: rise with size
    np.savez(tmp_path / "all.npz", Y=np.repeat(hours[:, None], 4, axis=1).astype(np.float32),
             repo=np.array(["q-2"] + ["r-1"] * 8), commit_id=np.array(other),
             split=np.zeros(9, np.int8), surface=np.zeros((9, len(SURFACE_NAMES))),
             label_kind=np.zeros(9, np.int8))  # fmt: skip
    bench.main([str(tmp_path / "all.npz"), str(tmp_path / "one.npz")])
    (row,) = json.loads(capsys.readouterr().out.splitlines()[-1])["repositories"]
    assert row["repo"] == "r-1" and row["shared"] == 8 and row["of"] == 8
    alone, together = row["single"], row["combined"]
    assert alone["n_test_normal"] == together["n_test_normal"] == 4  # the single run's split
    assert alone["spearman_lines_added_test"] == -1.0
    assert together["spearman_lines_added_test"] == 1.0
    assert alone["actual_fitted"] == 0.35 and alone["actual_test"] == 0.75
    assert together["actual_fitted"] == 0.35 and together["actual_test"] == 0.75


def test_a_missing_dataset_is_a_usage_error_not_a_traceback(tmp_path: Path) -> None:
    cmd = [sys.executable, str(ROOT / "benchmarks/family_labels.py"),
           str(tmp_path / "none.npz"), str(tmp_path / "none2.npz")]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, env={"PYTHONPATH": str(ROOT / "src")})
    assert r.returncode == 2 and "none.npz: not a readable dataset" in r.stderr
    assert "Traceback" not in r.stderr and not r.stdout
