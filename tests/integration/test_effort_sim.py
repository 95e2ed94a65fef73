"""End to end on simulated git repositories: simulate -> mine -> features -> MDN -> evaluation.

Labels are samples around the simulator's true coding time (the work-inference stage is tested
on its own); the question here is whether the change representation and the MDN learn effort
better than lines of code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from standard_coder.config.training import TrainingSection
from standard_coder.sch.dataset import build_dataset
from standard_coder.sch.evaluation import evaluate
from standard_coder.sch.features.ast_edits import AstCache
from standard_coder.sch.features.raw_change import extract_raw
from standard_coder.sch.mining.mine import MineOptions, mine_repositories
from standard_coder.sch.mining.store import iter_commits
from standard_coder.sch.predictors.stage import fit_effort_model
from standard_coder.sch.teamsim.team import load_truth, simulate_small_team

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# the shipped defaults: [training.mdn], [training.optim] (= TrainOptions()), [training.features]
DEFAULTS = TrainingSection()
HEAD = DEFAULTS.mdn.model_dump()


def test_mdn_on_simulated_repos_beats_loc_and_is_calibrated(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    sim = simulate_small_team(tmp_path / "sim", n_authors=3, weeks=12, seed=0)
    db = tmp_path / "raw" / "mined_commits.sqlite"
    mine_repositories(list(sim.repos), db, MineOptions())
    commits = list(iter_commits(db, with_files=True, with_contents=True))
    truth = load_truth(sim.truth_path).by_commit_id()
    rng = np.random.default_rng(0)
    hours = np.array([truth[c.commit_id].coding_minutes / 60 for c in commits])
    # label uncertainty like the HMM's: a per-commit offset plus per-sample spread
    samples = hours[:, None] * np.exp(rng.normal(0, 0.4, (len(hours), 1)))
    samples = samples * np.exp(rng.normal(0, 0.4, (len(hours), 50)))
    samples = np.maximum(samples, 1 / 60).astype(np.float32)
    keys = [(c.repo, c.commit_id) for c in commits]

    feats = DEFAULTS.features
    ds, _rep = build_dataset(commits, (keys, samples), representation=feats.representation,
                             top_n_identifiers=feats.top_n_identifiers,
                             test_fraction=DEFAULTS.test_fraction,
                             validation_fraction=DEFAULTS.optim.validation_fraction)  # fmt: skip
    cache = AstCache()
    assert extract_raw(commits, cache=cache) and cache.parses < len(commits)  # chunked AST
    model = fit_effort_model(ds, "mdn", HEAD, seed=0, tb_dir=tmp_path / "tb")
    base = fit_effort_model(ds.loc_view(), "mdn", HEAD, seed=0)
    res = evaluate(model, ds, tmp_path / "reports", loc_baseline_model=base, plots=False)

    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
    assert res["heldout_nll"] < res["baseline_loc_heldout_nll"]
    assert res["crps"] < res["baseline_loc_crps"]
    assert 0.70 <= res["coverage_80"] <= 0.90
    assert res["spearman_sch"] > res["spearman_lines_added"]
    assert res["binned_calibration_r2"] > 0.8
