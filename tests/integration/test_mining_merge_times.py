"""Merge commits are their author's presence: the mine keeps their author times
(``mining.merges``), work inference starts the author's next interval at them, and no merge
ever becomes a change of its own."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from gitrepos import BASE_TS, commit, failing_git, git, init
from rich.console import Console
from test_mining_pull_times import as_left_by_an_older_version
from test_mining_repos import options

from standard_coder.config.training import TrainingSection
from standard_coder.pipelines.sch_train import label_commits, load_histories, squash_groups
from standard_coder.sch.mining import mine_repositories
from standard_coder.sch.mining.filters import AuthorRule
from standard_coder.sch.mining.integrity import check_database
from standard_coder.sch.mining.merges import load_merge_times, merge_times
from standard_coder.sch.mining.mine import MiningError, summary_table
from standard_coder.sch.mining.store import canonical_dump, connect
from standard_coder.sch.work_inference.base import NORMAL

ALICE = ("Alice", "Alice@Example.com")
BOB = ("Bob", "bob@example.com")
BOT = ("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com")
H = 3600


def _merge(repo: Path, branch: str, author: tuple[str, str], ts: int, tz: str = "+0000") -> str:
    env = {
        "GIT_AUTHOR_NAME": author[0],
        "GIT_AUTHOR_EMAIL": author[1],
        "GIT_AUTHOR_DATE": f"{ts} {tz}",
        "GIT_COMMITTER_DATE": f"{ts} +0000",
    }
    git(repo, "merge", "-q", "--no-ff", "--no-edit", branch, env=env)
    return git(repo, "rev-parse", "HEAD").decode().strip()


def _history(root: Path) -> dict[str, str]:
    """alice commits, merges bob's branch 5 h later (her only act in between), commits again an
    hour after the merge; a bot merges a branch too."""
    repo = init(root / "r")
    ids = {"c1": commit(repo, {"a.py": "x = 1\n"}, "start", author=ALICE, ts=BASE_TS)}
    git(repo, "checkout", "-q", "-b", "feat")
    ids["f1"] = commit(repo, {"b.py": "y = 1\n"}, "feature", author=BOB, ts=BASE_TS + H)
    git(repo, "checkout", "-q", "-b", "deps", "main")
    commit(repo, {"req.txt": "x==2\n"}, "bump", author=BOT, ts=BASE_TS + 2 * H)
    git(repo, "checkout", "-q", "main")
    ids["merge"] = _merge(repo, "feat", ALICE, BASE_TS + 5 * H, tz="+0100")
    ids["c3"] = commit(repo, {"a.py": "x = 3\n"}, "after the merge", author=ALICE,
                       ts=BASE_TS + 6 * H)  # fmt: skip
    ids["bot_merge"] = _merge(repo, "deps", BOT, BASE_TS + 7 * H)
    return ids


def _rows(db: Path) -> list[tuple[str, int, int, str]]:
    with sqlite3.connect(db) as con:
        return con.execute(
            "SELECT commit_id, authored_at, author_tz_offset_min, author_id FROM merge_commits"
        ).fetchall()


def _gap_labels(db: Path, out: Path) -> dict[str, tuple[float, int]]:
    """commit id -> (interval minutes, kind) of git-hours labels over the mined timelines."""
    t = TrainingSection.model_validate({"work_inference": "gap", "label_samples_per_commit": 4})
    labels = label_commits(load_histories(db), t, "gap", out_dir=out, seed=0)
    assert labels is not None
    return {
        str(k[1]): (float(m), int(kind))
        for k, m, kind in zip(
            labels.keys, labels.interval_minutes, labels.interval_kind, strict=True
        )
    }


def test_a_merge_is_stored_with_its_author_and_starts_the_next_interval(tmp_path: Path) -> None:
    ids = _history(tmp_path)
    db = tmp_path / "out" / "mined.sqlite"
    summary = mine_repositories([tmp_path / "r"], db, options(tmp_path))
    assert summary.totals()["merges"] == 1
    console = Console(width=200, record=True)
    console.print(summary_table(summary))
    assert "merge/" in console.export_text()
    # the bot's merge is filtered as its commits are; the author id is the mined commits' one
    assert _rows(db) == [(ids["merge"], BASE_TS + 5 * H, 60, "alice@example.com")]
    assert "merge_commits\t" in canonical_dump(db)
    assert [a for a, _ in load_merge_times(db).items()] == ["alice@example.com"]

    histories = load_histories(db)
    alice = histories["alice@example.com"]
    keys = [k[1] for k in alice.keys]
    assert keys == [ids["c1"], f"{ids['merge']}~merge", ids["c3"]]
    assert squash_groups(histories, 2) == []
    labels = _gap_labels(db, tmp_path / "wi")
    # merges label nothing; c3's interval runs from the merge, not from c1 six hours earlier
    assert set(labels) == {ids["c1"], ids["f1"], ids["c3"]}
    assert labels[ids["c3"]] == (60.0, NORMAL)


def test_switched_off_the_rows_go_and_the_interval_runs_from_the_previous_commit(
    tmp_path: Path,
) -> None:
    ids = _history(tmp_path)
    db = tmp_path / "out" / "mined.sqlite"
    mine_repositories([tmp_path / "r"], db, options(tmp_path))
    summary = mine_repositories(
        [tmp_path / "r"], db, options(tmp_path, repos={"merge_times": False})
    )
    assert [r.status for r in summary.repos] == ["mined"]  # the option is part of the key
    assert _rows(db) == []
    assert [k[1] for k in load_histories(db)["alice@example.com"].keys] == [ids["c1"], ids["c3"]]
    assert _gap_labels(db, tmp_path / "wi")[ids["c3"]][0] == 360.0


def test_merges_older_than_the_oldest_mined_commit_are_left_out(tmp_path: Path) -> None:
    ids = _history(tmp_path)
    repo = tmp_path / "r"
    everyone = AuthorRule(exclude_bots=False)
    assert [m[0] for m in merge_times(repo, everyone, None)] == [ids["merge"], ids["bot_merge"]]
    assert [m[0] for m in merge_times(repo, AuthorRule(), None)] == [ids["merge"]]
    assert merge_times(repo, everyone, BASE_TS + 5 * H + 1) == [
        (ids["bot_merge"], BASE_TS + 7 * H, 0, BOT[1].lower())
    ]
    # with the window cut to alice's last commit, her merge before it is not in the table
    db = tmp_path / "out" / "mined.sqlite"
    mine_repositories([repo], db, options(tmp_path, repos={"max_commits_per_repo": 1}))
    assert _rows(db) == []


def test_a_database_mined_before_the_table_is_upgraded_and_filled(tmp_path: Path) -> None:
    ids = _history(tmp_path)
    db = tmp_path / "out" / "mined.sqlite"
    mine_repositories([tmp_path / "r"], db, options(tmp_path))
    as_left_by_an_older_version(db, "merge_commits")
    assert load_merge_times(db) == {}  # readers take an old file as it is
    connect(db).close()
    assert check_database(db) is None
    summary = mine_repositories([tmp_path / "r"], db, options(tmp_path))
    assert [r.status for r in summary.repos] == ["mined"]
    assert [r[0] for r in _rows(db)] == [ids["merge"]]
    assert check_database(db) is None


def test_listing_the_merges_failing_fails_the_repo_and_a_rerun_retries_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real git process failing ``git log --merges`` (a `git` earlier on PATH): the repo is
    reported as failed with git's message, not marked mined, and the next run mines it."""
    import os

    ids = _history(tmp_path)
    path = os.environ["PATH"]
    bin_dir = tmp_path / "bin"
    failing_git(bin_dir, '*" log "*--merges*', "bad object (simulated)")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{path}")
    db = tmp_path / "out" / "mined.sqlite"
    summary = mine_repositories([tmp_path / "r"], db, options(tmp_path), raise_on_error=False)
    (rs,) = summary.repos
    assert rs.status == "error" and rs.error is not None
    assert rs.error.startswith("reading merge commit times failed: ")
    assert "bad object (simulated)" in rs.error
    with pytest.raises(MiningError):
        mine_repositories([tmp_path / "r"], db, options(tmp_path))
    monkeypatch.setenv("PATH", path)
    summary = mine_repositories([tmp_path / "r"], db, options(tmp_path))
    assert [r.status for r in summary.repos] == ["mined"]
    assert [r[0] for r in _rows(db)] == [ids["merge"]]


def test_the_label_quality_benchmark_counts_merges_apart_from_pull_request_events(
    tmp_path: Path,
) -> None:
    from tests.benchmodule import load_benchmark

    _history(tmp_path)
    db = tmp_path / "out" / "mined.sqlite"
    mine_repositories([tmp_path / "r"], db, options(tmp_path))
    bench = load_benchmark("label_quality")
    out = bench.run_repo(db, tmp_path / "work", seed=0, workers=1, variants=("gap",))
    assert out["n_commits"] == 3  # c1, f1, c3: the merges are no changes
    assert out["n_merge_events"] == 1 and out["n_pull_request_events"] == 0
