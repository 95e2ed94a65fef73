"""benchmarks/label_quality.py reads the pipeline's timelines: a squash merge timed by its pull
request's commits is a normal change (its pull request commits are events, not changes), an
untimed one stays merge-stamped."""

from __future__ import annotations

from pathlib import Path

from test_mining_pull_times import _history
from test_mining_repos import options
from tests.benchmodule import load_benchmark

from standard_coder.sch.mining import mine_repositories

bench = load_benchmark("label_quality")


def test_pull_request_events_are_in_the_timeline_and_not_counted_as_changes(
    tmp_path: Path,
) -> None:
    ids = _history(tmp_path)
    db = tmp_path / "out" / "mined.sqlite"
    mine_repositories([tmp_path / "r"], db, options(tmp_path))
    out = bench.run_repo(db, tmp_path / "work", seed=0, workers=1, variants=("gap",))
    # own, squash7 (timed by pr_a and pr_b: pr_a an event, squash7 sits at pr_b's time), squash8
    assert out["n_commits"] == 3 and out["n_pull_request_events"] == 1
    assert out["n_stamped"] == 1  # squash8 only: squash7 is timed by its pull request
    from standard_coder.pipelines.sch_train import load_histories

    (h,) = load_histories(db).values()  # the timeline the benchmark labelled
    assert [k[1] for k in h.keys] == [ids["own"], f"{ids['squash7']}~pr0", ids["squash7"],
                                      ids["squash8"]]  # fmt: skip
    # changes: own (its author's first commit), squash7 (normal: pr_a is an hour after own),
    # squash8 (merge-stamped); the time split holds squash8 out: squash7 is the one scored
    assert out["gap"]["train"]["n"] == 1 and out["gap"]["test"]["n"] == 0
