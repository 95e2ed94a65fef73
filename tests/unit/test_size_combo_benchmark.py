"""benchmarks/size_combo.py: the fitted directions are monotone (weights >= 0, unit sum) and
the per-repository fit keeps its prior unless validation beats it by a standard error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from tests.benchmodule import load_benchmark

ROOT = Path(__file__).resolve().parents[2]
bench = load_benchmark("size_combo")


def test_pooled_and_shrunk_directions_are_non_negative_and_follow_the_signal() -> None:
    rng = np.random.default_rng(0)
    S = rng.normal(size=(400, 6))
    t = 0.8 * S[:, 1] - 0.5 * S[:, 2] + rng.normal(0, 0.3, 400)  # column 2 runs against time
    w = bench.nnls_dir(S, t)
    assert w.shape == (10,) and (w >= 0).all() and abs(w.sum() - 1) < 1e-9
    assert w[1] > 0.9 and w[2] == 0  # a negative relation gets weight 0, not a negative one
    t2 = 0.8 * S[:, 1] + 0.4 * S[:, 3] + rng.normal(0, 0.3, 400)
    prior = np.eye(6)[1]
    strong = bench.shrunk_dir(S, t2, prior, lam=1e6)  # strong shrinkage: the prior
    assert np.allclose(strong, prior, atol=1e-2)
    weak = bench.shrunk_dir(S, t2, prior, lam=1e-6)  # none: the data's own fit
    assert 0.25 < weak[3] < 0.4 and (weak >= 0).all() and abs(weak.sum() - 1) < 1e-9


def test_missing_pipeline_output_is_a_usage_error(tmp_path: Path) -> None:
    cmd = [sys.executable, str(ROOT / "benchmarks/size_combo.py"), str(tmp_path)]
    env = {"PYTHONPATH": str(ROOT / "src")}
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "run the pipeline first" in r.stderr and not r.stdout


def test_one_usable_folder_is_a_usage_error_not_a_traceback() -> None:
    dirs = [Path("a"), Path("b")]
    many, few = {"fit": np.arange(50)}, {"fit": np.arange(3)}
    assert bench.too_few(dirs, [many, many]) is None
    msg = bench.too_few(dirs, [many, few])
    assert msg is not None and "at least two folders" in msg and msg.endswith("usable: a")
    assert bench.too_few(dirs[:1], [many]) is not None
