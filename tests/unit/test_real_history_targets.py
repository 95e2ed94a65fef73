"""``benchmarks/real_history.py`` says which of issue 12's targets each repository meets."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.benchmodule import load_benchmark

bench = load_benchmark("real_history")


def test_targets_and_their_count() -> None:
    ev = {"spearman_sch": 0.42, "spearman_lines_added": 0.37, "heldout_nll": 1.09,
          "baseline_loc_heldout_nll": 1.15, "coverage_80": 0.803,
          "binned_calibration_r2": 0.64}  # fmt: skip
    row = bench.table_row("click", ev)
    assert row["targets"] == {"sch_above_lines_added": True, "nll_below_loc": True,
                              "coverage_80_in_0_70_0_90": True,
                              "calibration_r2_positive": True}  # fmt: skip
    assert bench._met(row) == "4/4"
    ev.update(spearman_sch=None, spearman_lines_added=None, coverage_80=0.901,
              binned_calibration_r2=-0.07)  # fmt: skip
    row = bench.table_row("typer", ev)
    assert row["targets"]["sch_above_lines_added"] is None  # undefined: not counted
    assert row["targets"]["coverage_80_in_0_70_0_90"] is False
    assert bench._met(row) == "1/3"
    # a miss whose bootstrap interval straddles the target is marked; counts per target
    ev["target_intervals"] = {"n": 40, "coverage_80_in_0_70_0_90": {"verdict": "undecided"},
                              "calibration_r2_positive": {"verdict": "missed"}}  # fmt: skip
    row = bench.table_row("typer", ev)
    assert bench._met(row) == "1/3?"
    assert row["target_verdicts"]["calibration_r2_positive"] == "missed"
    counts = bench.verdict_counts([row, bench.table_row("click", {**ev, "coverage_80": 0.8})])
    assert counts["coverage_80_in_0_70_0_90"] == {"met": 1, "met_within_noise": 1, "missed": 1,
                                                  "missed_clearly": 0,
                                                  "missed_within_noise": 1}  # fmt: skip
    # a target met whose interval straddles it is marked too: the summary's "within noise"
    assert bench._met(bench.table_row("click", {**ev, "coverage_80": 0.8})) == "2/3~"
    assert counts["calibration_r2_positive"]["missed_clearly"] == 2
    assert counts["sch_above_lines_added"]["met"] == 0  # undefined: neither met nor missed
    assert row["heldout_nll_unpooled"] is None  # no pooled distribution in the report
    ev["distribution_pool"] = {"weight": 0.5, "unpooled_heldout_nll": 1.1234,
                               "size_mdn_heldout_nll": 1.2}  # fmt: skip
    row = bench.table_row("typer", ev)
    assert (row["heldout_nll_unpooled"], row["heldout_nll_size_mdn"]) == (1.123, 1.2)


def test_the_a_b_flags_switch_pull_request_and_merge_times_off_in_a_valid_config(
    tmp_path: Path,
) -> None:
    from standard_coder.config.schema import load_config

    for on in (True, False):
        path = tmp_path / f"{on}.toml"
        path.write_text(bench.config_text(tmp_path, quick=True, max_commits=None, workers=1,
                                          pull_times=on, merge_times=not on))  # fmt: skip
        repos = load_config(path).repos
        assert repos.pull_request_times is on and repos.merge_times is (not on)
        # other commits' times are opt-in: --other-times writes them on, else the default (off)
        path.write_text(bench.config_text(tmp_path, quick=True, max_commits=None, workers=1,
                                          other_times=on))  # fmt: skip
        assert load_config(path).repos.other_commit_times is on
    for pool, quick in ((False, True), (False, False), (True, True)):
        path = tmp_path / f"pool-{pool}-{quick}.toml"
        path.write_text(bench.config_text(tmp_path, quick=quick, max_commits=None, workers=1,
                                          pool=pool))  # fmt: skip
        assert load_config(path).training.pool_size_mdn == (0.25 if pool else 0.0)
    prior_file = tmp_path / "mine.npz"
    cases = ((False, None, True), (True, None, False), (False, prior_file, False),
             (True, prior_file, True))  # fmt: skip
    for prior, prior_path, pool in cases:
        path = tmp_path / f"prior-{prior}-{prior_path is None}-{pool}.toml"
        text = bench.config_text(tmp_path, quick=True, max_commits=None, workers=1, pool=pool,
                                 prior=prior, prior_path=prior_path)  # fmt: skip
        path.write_text(text)
        features = load_config(path).training.features
        assert features.cross_repo_prior is (prior or prior_path is not None)
        assert features.cross_repo_prior_path == prior_path
        for on in (True, False):  # --(no-)commit-files, --(no-)commit-body: the same section
            path.write_text(bench.config_text(tmp_path, quick=True, max_commits=None, workers=1,
                                              prior=prior, prior_path=prior_path,
                                              commit_files=on, commit_body=not on))  # fmt: skip
            both = load_config(path).training.features
            assert both.commit_files is on and both.commit_body is (not on)
            assert both.cross_repo_prior_path == prior_path
    for seed in (None, 7):  # --seed: the run seed, else the pipeline's
        path = tmp_path / f"seed-{seed}.toml"
        path.write_text(bench.config_text(tmp_path, quick=True, max_commits=None, workers=1,
                                          seed=seed))  # fmt: skip
        assert load_config(path).runner.seed == (42 if seed is None else seed)
    for quick, state in ((True, False), (False, False), (True, True), (False, True)):
        # --no-break-state: the two-state chain, beside --quick's epochs in the same section
        path = tmp_path / f"break-{quick}-{state}.toml"
        path.write_text(bench.config_text(tmp_path, quick=quick, max_commits=None, workers=1,
                                          break_state=state))  # fmt: skip
        hmm = load_config(path).training.hmm
        assert hmm.break_state is state and hmm.epochs == (60 if quick else 400)
        assert hmm.break_by_clock is False  # the pipeline's default: learned break rates
        assert hmm.break_by_hour is True  # one per hour of the day
    for quick in (True, False):  # --break-by-clock: the per-minute break table, in the section
        path = tmp_path / f"clock-{quick}.toml"
        path.write_text(bench.config_text(tmp_path, quick=quick, max_commits=None, workers=1,
                                          break_by_clock=True))  # fmt: skip
        hmm = load_config(path).training.hmm
        assert hmm.break_by_clock is True and hmm.break_state is True
        assert hmm.epochs == (60 if quick else 400)
    for quick in (True, False):  # --no-break-by-hour: one break rate for the whole week
        path = tmp_path / f"hour-{quick}.toml"
        path.write_text(bench.config_text(tmp_path, quick=quick, max_commits=None, workers=1,
                                          break_by_hour=False))  # fmt: skip
        hmm = load_config(path).training.hmm
        assert hmm.break_by_hour is False and hmm.break_by_clock is False
        assert hmm.break_state is True and hmm.epochs == (60 if quick else 400)
    for quick in (True, False):  # --no-start-phase: memoryless sessions
        path = tmp_path / f"phase-{quick}.toml"
        path.write_text(bench.config_text(tmp_path, quick=quick, max_commits=None, workers=1,
                                          start_phase=False))  # fmt: skip
        hmm = load_config(path).training.hmm
        assert hmm.start_phase is False and hmm.break_state is True
        assert hmm.epochs == (60 if quick else 400)
        default = tmp_path / "default.toml"
        default.write_text(bench.config_text(tmp_path, quick=quick, max_commits=None, workers=1))
        assert load_config(default).training.hmm.start_phase is True
    assert bench.own_prior(tmp_path, "mine") is None  # no file yet
    prior_file.write_bytes(b"")
    assert bench.own_prior(tmp_path, "mine") == prior_file.resolve()
    assert bench.own_prior(tmp_path, "other") is None and bench.own_prior(None, "mine") is None


def _git(repo: Path, *args: str, when: int | None = None, email: str = "a@x") -> str:
    import os
    import subprocess

    env = {**os.environ, "GIT_AUTHOR_NAME": email, "GIT_AUTHOR_EMAIL": email,
           "GIT_COMMITTER_NAME": email, "GIT_COMMITTER_EMAIL": email}  # fmt: skip
    if when is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = f"@{when} +0000"
    out = subprocess.run(["git", "-C", str(repo), *args], env=env, check=True,
                         capture_output=True, text=True).stdout  # fmt: skip
    return out.strip()


def test_commit_pace_counts_the_window_before_the_previous_commit_and_explains_a_pace_drift(
    tmp_path: Path,
) -> None:
    """A real history whose author commits daily, then every tenth day; labels that grow as the
    author commits less often: size alone leaves the held-out labels above the fit, the pace
    explains them (and the window ends at the author's previous commit)."""
    import numpy as np

    from standard_coder.sch.dataset import TEST, TRAIN, Dataset
    from standard_coder.sch.features.tokens import SURFACE_NAMES

    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    day = 86400
    times = [1_600_000_000 + i * day for i in range(60)]  # daily
    times += [times[-1] + 10 * day * (i + 1) for i in range(20)]  # then every tenth day
    ids, other = [], []
    for i, t in enumerate(times):
        _git(repo, "commit", "-q", "--allow-empty", "-m", f"c{i}", when=t)
        ids.append(_git(repo, "rev-parse", "HEAD"))
        if i % 3 == 0:  # another author at a steady pace (the repository's pace moves less)
            _git(repo, "commit", "-q", "--allow-empty", "-m", f"o{i}", when=t + 3600, email="b@x")
            other.append(_git(repo, "rev-parse", "HEAD"))
    prev = [times[max(i - 1, 0)] for i in range(len(times))]
    pace = np.array([sum(p - 30 * day < s <= p for s in times) for p in prev], float)
    rng = np.random.default_rng(0)
    la = rng.integers(1, 200, len(ids)).astype(float)
    hours = np.exp(0.4 * np.log1p(la) - 0.6 * np.log1p(pace))
    n = len(ids)
    surface = np.zeros((n, len(SURFACE_NAMES)))
    surface[:, SURFACE_NAMES.index("lines_added")] = la
    split = np.where(np.arange(n) < 60, TRAIN, TEST).astype(np.int8)
    ds = Dataset(X=np.zeros((n, 2)), X_loc=np.zeros((n, 2)),
                 Y=np.repeat(hours[:, None], 4, axis=1).astype(np.float32), surface=surface,
                 repo=np.full(n, "r"), commit_id=np.array(ids), n_squashed=np.ones(n, np.int32),
                 time=np.array(times), split=split, feature_names=["f0", "f1"],
                 meta={"kind": "loc", "checksum": "x"})  # fmt: skip
    base = tmp_path / "sc-output"
    (base / "labels" / "datasets").mkdir(parents=True)
    ds.save(base / "labels" / "datasets" / "coding_train.npz")
    got = bench.commit_pace(repo, base)
    assert got["n_fitted"] == 60 and got["n_heldout"] == 20
    assert got["median_author_pace_fitted"] == float(np.median(pace[:60]))
    assert got["median_author_pace_heldout"] == float(np.median(pace[60:]))
    assert got["heldout_bias_size_only"] > 0.3  # sparser held out: labels above the size fit
    assert abs(got["heldout_bias_with_pace"]) < 0.05
    assert got["coef_author_pace"] < 0 and got["rho_author_pace_heldout"] < 0
    assert bench._in_window(np.array([1, 2, 3, 4]), 3, 2) == 2  # (1, 3]


def test_the_table_keeps_its_columns_in_line_for_a_long_repository_name(
    capsys: pytest.CaptureFixture[str],
) -> None:
    ev = {"spearman_sch": 0.088, "spearman_lines_added": -0.18, "heldout_nll": 0.38,
          "baseline_loc_heldout_nll": 0.441, "coverage_80": 0.843,
          "binned_calibration_r2": 0.14}  # fmt: skip
    bench.print_table(
        [bench.table_row("flask-login", ev), bench.table_row("pydantic-settings", ev)]
    )
    lines = capsys.readouterr().out.splitlines()
    header, first, second = lines[1], lines[2], lines[3]
    assert header.index("|") == first.index("|") == second.index("|")
    assert [i for i, c in enumerate(first) if c == "|"] == [
        i for i, c in enumerate(header) if c == "|"
    ]
