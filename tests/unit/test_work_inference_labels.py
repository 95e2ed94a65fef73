"""infer_labels orchestration: items, pooled authors, persistence, keys, ledger, stopping."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from standard_coder.runner.ledger import SqliteLedger
from standard_coder.sch.teamsim.team import TeamSpec, load_truth, simulate_team
from standard_coder.sch.work_inference import (
    AuthorHistory,
    HMMOptions,
    WorkInferenceOptions,
    WorkInferenceStopped,
    accuracy_by_interval_length,
    accuracy_vs_truth,
    histories_from_truth,
    infer_labels,
    pearson_vs_truth,
)
from standard_coder.sch.work_inference.truth import normal_keys


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, AuthorHistory]]:
    out = tmp_path_factory.mktemp("sim")
    res = simulate_team(out, TeamSpec(n_authors=4, weeks=2, n_repos=2), seed=4)
    hs = histories_from_truth(load_truth(res.truth_path))
    a0 = sorted(hs)[0]
    h = hs[a0]
    hs[a0] = AuthorHistory(a0, h.times[:20], h.tz_offsets[:20], h.keys[:20])  # a small author
    return res.truth_path, hs


OPTS = WorkInferenceOptions(
    label_samples_per_commit=16, min_commits_per_author=30, hmm=HMMOptions(epochs=15)
)


def test_labels_cover_every_commit_with_pooled_small_author(
    sim: tuple[Path, dict[str, AuthorHistory]], tmp_path: Path
) -> None:
    truth_path, hs = sim
    ls = infer_labels(hs, OPTS, kind="hmm", out_dir=tmp_path, seed=1)
    n = sum(len(h) for h in hs.values())
    assert len(ls) == n and ls.samples_hours.shape == (n, 16)
    assert ls.samples_hours.dtype == np.float32
    assert set(ls.keys) == {k for h in hs.values() for k in h.keys}
    small = sorted(hs)[0]
    assert all(p == (a == small) for a, p in zip(ls.authors, ls.pooled, strict=True))
    assert "pooled" in ls.fitted_items and len(ls.fitted_items) == 4
    # hours vs minutes, and sample means near the exact expectation
    assert np.all(ls.samples_hours * 60 <= np.nan_to_num(ls.interval_minutes, nan=1e9)[:, None] + 1)
    assert np.corrcoef(ls.samples_hours.mean(1) * 60, ls.expected_minutes)[0, 1] > 0.95
    # rows of one author are in time order and aligned with the history
    for a, h in hs.items():
        rows = [k for k, au in zip(ls.keys, ls.authors, strict=True) if au == a]
        assert rows == list(h.keys)
    r = pearson_vs_truth(ls, truth_path)
    assert 0.3 < r <= 1.0
    acc = accuracy_vs_truth(ls, truth_path)
    assert acc["pearson"] == r and set(acc["pearson_per_author"]) == set(hs)
    assert acc["n_intervals"] == int((ls.interval_kind == 0).sum())
    files = sorted(p.suffix for p in (tmp_path / "hmm").iterdir())
    assert files == [".json"] * 4 + [".npz"] * 4


def test_rerun_reuses_and_key_changes_refit(
    sim: tuple[Path, dict[str, AuthorHistory]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _, hs = sim
    led = SqliteLedger(tmp_path / "ledger.sqlite")
    first = infer_labels(hs, OPTS, kind="gap", out_dir=tmp_path, seed=1, ledger=led)
    assert len(led) == 4 and len(first.fitted_items) == 4
    again = infer_labels(hs, OPTS, kind="gap", out_dir=tmp_path, seed=1, ledger=led)
    assert again.fitted_items == ()
    assert np.array_equal(first.samples_hours, again.samples_hours)
    # one author gains a commit: only that author's item is refitted
    a = sorted(hs)[-1]
    h = hs[a]
    grown = dict(hs)
    grown[a] = AuthorHistory(a, h.times[:-1], h.tz_offsets[:-1], h.keys[:-1])
    part = infer_labels(grown, OPTS, kind="gap", out_dir=tmp_path, seed=1, ledger=led)
    assert part.fitted_items == (f"author:{a}",)
    # other options: everything refitted
    other = WorkInferenceOptions(label_samples_per_commit=8, min_commits_per_author=30)
    assert len(infer_labels(hs, other, kind="gap", out_dir=tmp_path, seed=1).fitted_items) == 4
    # a torn result file is refitted, not trusted: said at info (nothing for the user to do),
    # never a console warning
    npz = sorted((tmp_path / "gap").glob("*.npz"))[0]
    npz.write_bytes(npz.read_bytes()[:100])
    with caplog.at_level(logging.INFO, logger="standard_coder"):
        fixed = infer_labels(hs, other, kind="gap", out_dir=tmp_path, seed=1)
    assert len(fixed.fitted_items) == 1
    said = [r for r in caplog.records if "unreadable" in r.getMessage()]
    assert [r.levelno for r in said] == [logging.INFO] and str(npz) in said[0].getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    led.close()


def test_changed_inference_code_refits_every_author(
    sim: tuple[Path, dict[str, AuthorHistory]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fit made by other work-inference code is never reused (the item key holds the code)."""
    from standard_coder.sch.work_inference import options as options_mod

    _, hs = sim
    assert len(infer_labels(hs, OPTS, kind="gap", out_dir=tmp_path, seed=1).fitted_items) == 4
    assert infer_labels(hs, OPTS, kind="gap", out_dir=tmp_path, seed=1).fitted_items == ()
    monkeypatch.setattr(options_mod, "code_digest", lambda: "edited gap.py")
    assert len(infer_labels(hs, OPTS, kind="gap", out_dir=tmp_path, seed=1).fitted_items) == 4


def test_should_stop_raises_then_resumes(
    sim: tuple[Path, dict[str, AuthorHistory]], tmp_path: Path
) -> None:
    _, hs = sim
    calls: list[Any] = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(WorkInferenceStopped):
        infer_labels(hs, OPTS, kind="gap", out_dir=tmp_path, seed=1, should_stop=stop)
    done = len(list((tmp_path / "gap").glob("*.npz")))
    assert 0 < done < 4
    rest = infer_labels(hs, OPTS, kind="gap", out_dir=tmp_path, seed=1)
    assert len(rest.fitted_items) == 4 - done


def test_a_stop_during_an_hmm_fit_ends_it_and_nothing_is_kept(
    sim: tuple[Path, dict[str, AuthorHistory]], tmp_path: Path
) -> None:
    """The HMM polls the stop flag every epoch: a stop mid-fit ends the fit at once (in
    process here; in a worker via the pool's event), the author is not recorded, a rerun fits
    it."""
    _, hs = sim
    polls: list[int] = []

    def stop() -> bool:  # true from the 5th poll on: inside the first author's fit
        polls.append(1)
        return len(polls) >= 5

    opts = WorkInferenceOptions(
        label_samples_per_commit=8, min_commits_per_author=30, hmm=HMMOptions(epochs=50)
    )
    with pytest.raises(WorkInferenceStopped):
        infer_labels(hs, opts, kind="hmm", out_dir=tmp_path, seed=1, should_stop=stop)
    assert len(polls) < 50  # ended within the first fit's epochs, not after all of them
    assert not list((tmp_path / "hmm").glob("*.npz"))
    assert len(infer_labels(hs, opts, kind="hmm", out_dir=tmp_path, seed=1).fitted_items) == 4


def test_custom_map_fn_and_bad_kind(
    sim: tuple[Path, dict[str, AuthorHistory]], tmp_path: Path
) -> None:
    _, hs = sim
    seen: list[str] = []

    def map_fn(fn: Any, items: Any, done: int = 0) -> Any:
        for it in reversed(list(items)):
            seen.append(it.item_id)
            yield it, fn(it)

    a = infer_labels(hs, OPTS, kind="gap", out_dir=tmp_path / "a", seed=2, map_fn=map_fn)
    b = infer_labels(hs, OPTS, kind="gap", out_dir=tmp_path / "b", seed=2)
    assert len(seen) == 4 and a.keys == b.keys
    assert np.array_equal(a.samples_hours, b.samples_hours)
    with pytest.raises(ValueError, match="Unknown work-inference kind"):
        infer_labels(hs, OPTS, kind="foo", out_dir=tmp_path, seed=2)


def test_author_history_from_mining_tuple_sorts_and_validates() -> None:
    times = np.array([300, 100, 200])
    tz = np.array([60, 0, 30])
    keys = [("r", "c"), ("r", "a"), ("q", "b")]
    h = AuthorHistory.from_tuple("x@e", (times, tz, keys))
    assert h.times.tolist() == [100, 200, 300] and h.tz_offsets.tolist() == [0, 30, 60]
    assert h.keys == (("r", "a"), ("q", "b"), ("r", "c"))
    assert (
        h.digest() == AuthorHistory.from_tuple("x@e", (times[::-1], tz[::-1], keys[::-1])).digest()
    )
    with pytest.raises(ValueError, match="differ in length"):
        AuthorHistory.from_tuple("x@e", (times, tz, keys[:2]))


def test_pooled_authors_are_split_by_minutes_budget(tmp_path: Path) -> None:
    """Small authors share pooled items bounded in minutes, so no single fit grows without end."""
    from standard_coder.sch.work_inference.labels import (
        AuthorHistory,
        GapOptions,
        HMMOptions,
        WorkInferenceOptions,
        active_minutes,
        infer_labels,
        pooled_groups,
    )

    rng = np.random.default_rng(0)
    histories = {}
    for i in range(5):
        times = 1_700_000_000 + np.sort(rng.integers(0, 20 * 86400, size=12)).astype(np.int64)
        keys = [("r", f"{i}-{j}") for j in range(12)]
        histories[f"a{i}"] = AuthorHistory.from_tuple(
            f"a{i}", (times, np.zeros(12, dtype=np.int64), keys)
        )

    def opts_with(budget: int) -> WorkInferenceOptions:
        return WorkInferenceOptions(
            label_samples_per_commit=5,
            min_commits_per_author=50,
            hmm=HMMOptions(epochs=2, pooled_max_minutes=budget),
            gap=GapOptions(),
        )

    names = sorted(histories)
    per_author = [active_minutes(histories[a], opts_with(1)) for a in names]
    assert all(0 < m <= 20 * 1440 for m in per_author)  # 12 commits within 20 days
    one_each = pooled_groups(histories, opts_with(1))
    assert one_each == [(f"pooled:{i}", (a,)) for i, a in enumerate(names)]
    two_first = pooled_groups(histories, opts_with(per_author[0] + per_author[1]))
    assert two_first[0] == ("pooled:0", (names[0], names[1]))
    assert pooled_groups(histories, opts_with(1)) == one_each  # deterministic
    assert pooled_groups(histories, opts_with(10**9)) == [("pooled", tuple(names))]
    opts = opts_with(1)

    labels = infer_labels(histories, opts, kind="gap", out_dir=tmp_path, seed=1)
    assert labels.pooled.all() and len(labels) == 60


def test_label_kinds_come_from_commit_times_alone_and_match_across_models(
    sim: tuple[Path, dict[str, AuthorHistory]], tmp_path: Path
) -> None:
    truth_path, hs = sim
    a = sorted(hs)[-1]
    h = hs[a]
    later = h.times.copy()
    later[10:] += 40 * 86400  # a 40-day break before the 11th commit: after a long gap
    hs = {**hs, a: AuthorHistory(a, later, h.tz_offsets, h.keys)}
    gap = infer_labels(hs, OPTS, kind="gap", out_dir=tmp_path, seed=1)
    hmm = infer_labels(hs, OPTS, kind="hmm", out_dir=tmp_path, seed=1)
    assert gap.keys == hmm.keys
    np.testing.assert_array_equal(gap.interval_kind, hmm.interval_kind)
    rows = [i for i, au in enumerate(gap.authors) if au == a]
    assert gap.interval_kind[rows].tolist() == [1] + [0] * 9 + [2] + [0] * (len(rows) - 11)
    assert normal_keys(gap) == normal_keys(hmm)
    # scored on given commits only
    some = set(sorted(normal_keys(gap))[: len(normal_keys(gap)) // 2])
    x_all = pearson_vs_truth(gap, truth_path)
    x_some = pearson_vs_truth(gap, truth_path, keys=some)
    assert x_some != x_all
    with pytest.raises(ValueError, match="only 0 labelled commits"):
        pearson_vs_truth(gap, truth_path, keys=set())


def test_short_interval_ratio_reads_normal_intervals_of_5_to_60_minutes() -> None:
    from standard_coder.sch.work_inference.labels import short_interval_ratio

    interval = np.array([np.nan, 2.0, 10.0, 20.0, 30.0, 40.0, 50.0, 300.0, 20.0])
    kinds = np.array([1, 0, 0, 0, 0, 0, 0, 0, 2])
    burst = np.array([1.0, 2.0, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 20.0])  # ~1.5 min whatever the gap
    assert short_interval_ratio(burst, interval, kinds, 60) == pytest.approx(1.5 / 30)
    assert short_interval_ratio(interval * 0.9, interval, kinds, 60) == pytest.approx(0.9)
    assert short_interval_ratio(burst, interval, kinds, 25) is None  # too few to judge


def test_an_hmm_fit_failing_the_short_interval_check_is_labelled_by_the_gap_heuristic(
    sim: tuple[Path, dict[str, AuthorHistory]], tmp_path: Path
) -> None:
    import dataclasses
    import json

    _, hs = sim
    strict = dataclasses.replace(OPTS, min_short_ratio=2.0)  # no fit can pass: all fall back
    lax = dataclasses.replace(OPTS, min_short_ratio=0.0)  # every fit passes
    gap = infer_labels(hs, strict, kind="gap", out_dir=tmp_path / "g", seed=1)
    fell = infer_labels(hs, strict, kind="hmm", out_dir=tmp_path / "s", seed=1)
    kept = infer_labels(hs, lax, kind="hmm", out_dir=tmp_path / "l", seed=1)
    np.testing.assert_allclose(fell.expected_minutes, gap.expected_minutes)
    np.testing.assert_allclose(fell.samples_hours, gap.samples_hours)
    assert not np.allclose(kept.expected_minutes, gap.expected_minutes)
    summaries = [json.loads(p.read_text()) for p in (tmp_path / "s" / "hmm").glob("*.json")]
    assert {s["label_source"] for s in summaries} == {"gap"}
    assert all(0 < s["short_interval_ratio"] < 2.0 for s in summaries)
    summaries = [json.loads(p.read_text()) for p in (tmp_path / "l" / "hmm").glob("*.json")]
    assert {s["label_source"] for s in summaries} == {"hmm"}


def test_a_fit_of_an_earlier_folder_is_copied_not_refitted(
    sim: tuple[Path, dict[str, AuthorHistory]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A staged run writes elsewhere than the last completed one: the items that run fitted
    under the same key are copied (results and summaries), the others fitted. The log says
    so (a forced stage would otherwise look as if it skipped the fits)."""
    _, hs = sim
    done = infer_labels(hs, OPTS, kind="gap", out_dir=tmp_path / "done", seed=1)
    staged = tmp_path / "staged"
    with caplog.at_level(logging.INFO):
        again = infer_labels(hs, OPTS, kind="gap", out_dir=staged, seed=1,
                             reuse_dir=tmp_path / "done")  # fmt: skip
    assert again.fitted_items == ()
    said = [r.getMessage() for r in caplog.records if "copied from the last" in r.getMessage()]
    assert said == [
        f"work inference gap: 4 of 4 items copied from the last completed run (the same history, "
        f"options, seed and code give the same bytes; delete {tmp_path / 'done' / 'gap'} to "
        "refit them)"
    ]
    assert np.array_equal(done.samples_hours, again.samples_hours)
    for f in sorted((tmp_path / "done" / "gap").iterdir()):
        assert (staged / "gap" / f.name).read_bytes() == f.read_bytes()
    other = WorkInferenceOptions(label_samples_per_commit=8, min_commits_per_author=30)
    fresh = infer_labels(hs, other, kind="gap", out_dir=tmp_path / "s2", seed=1,
                         reuse_dir=tmp_path / "done")  # fmt: skip
    assert len(fresh.fitted_items) == 4  # other options: other keys, nothing reused


def test_accuracy_by_interval_length_splits_the_team_wide_r(
    sim: tuple[Path, dict[str, AuthorHistory]], tmp_path: Path
) -> None:
    """Normal intervals under 12 h and from 12 h on, each with its r and mean error, plus the
    reference r (exact under 12 h, the true mean beyond): recomputed here from the truth."""
    truth_path, hs = sim
    truth = load_truth(truth_path)
    ls = infer_labels(hs, OPTS, kind="gap", out_dir=tmp_path, seed=1)
    parts = accuracy_by_interval_length(ls, truth)
    by_id = {c.commit_id: float(c.coding_minutes) for c in truth.commits}
    normal = np.flatnonzero(ls.interval_kind == 0)
    x = np.array([by_id[ls.keys[i][1]] for i in normal])
    y, gap = ls.expected_minutes[normal], ls.interval_minutes[normal]
    short = gap < 720
    assert parts["split_minutes"] == 720.0
    assert parts["short"]["n"] == short.sum() > 10 and parts["long"]["n"] == (~short).sum() > 0
    r_short = np.corrcoef(x[short], y[short])[0, 1]
    assert parts["short"]["pearson"] == round(float(r_short), 4)
    assert parts["short"]["mean_error_minutes"] == round(float(np.mean(y - x, where=short)), 2)
    # git-hours credits every interval of 12 h or more the same: no r there
    assert np.all(y[~short] == y[~short][0]) and parts["long"]["pearson"] is None
    ideal = np.where(short, x, x[~short].mean())
    assert parts["reference"] == round(float(np.corrcoef(x, ideal)[0, 1]), 4)
    # the reference depends on the commits scored, not on the labels' values
    hmm = infer_labels(hs, OPTS, kind="hmm", out_dir=tmp_path, seed=1)
    same = normal_keys(hmm) & normal_keys(ls)
    assert (
        accuracy_by_interval_length(hmm, truth, keys=same)["reference"]
        == accuracy_by_interval_length(ls, truth, keys=same)["reference"]
    )
    with pytest.raises(ValueError, match="split_minutes"):
        accuracy_by_interval_length(ls, truth, split_minutes=0)
