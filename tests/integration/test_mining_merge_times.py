"""Merge commits are their author's presence: the mine keeps their author times
(``mining.merges``), work inference starts the author's next interval at them, and no merge
ever becomes a change of its own."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from gitrepos import BASE_TS, commit, failing_git, git, init
from rich.console import Console
from test_mining_pull_times import as_left_by_an_older_version
from test_mining_repos import options

from standard_coder.config.training import TrainingSection
from standard_coder.pipelines.sch_train import label_commits, load_histories, squash_groups
from standard_coder.sch.mining import mine_repositories
from standard_coder.sch.mining.canonical import canonical_dump
from standard_coder.sch.mining.filters import AuthorRule, author_identity
from standard_coder.sch.mining.integrity import check_database
from standard_coder.sch.mining.merges import load_merge_times, merge_times
from standard_coder.sch.mining.mine import MiningError, summary_table
from standard_coder.sch.mining.options import MineOptions
from standard_coder.sch.mining.store import connect
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


def table_rows(db: Path, table: str) -> list[tuple[str, int, int, str]]:
    """``merge_commits`` or ``other_commits``: (id, author time, offset, author), oldest first."""
    with sqlite3.connect(db) as con:
        return con.execute(
            "SELECT commit_id, authored_at, author_tz_offset_min, author_id"
            f" FROM {table} ORDER BY authored_at"
        ).fetchall()


def _rows(db: Path) -> list[tuple[str, int, int, str]]:
    return table_rows(db, "merge_commits")


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
        (ids["bot_merge"], BASE_TS + 7 * H, 0, author_identity(BOT[1], BOT[0]))
    ]
    # with the window cut to alice's last commit, her merge before it is not in the table
    db = tmp_path / "out" / "mined.sqlite"
    mine_repositories([repo], db, options(tmp_path, repos={"max_commits_per_repo": 1}))
    assert _rows(db) == []


def upgraded_and_refilled(
    repo: Path, db: Path, table: str, load: Callable[[Path], object], opts: MineOptions
) -> list[str]:
    """Mine, drop ``table`` as an older version's file lacks it, check readers and the integrity
    check take that file, open it (the upgrade) and mine again: the repository is planned again.
    Returns the commit ids the table then holds, oldest first."""
    mine_repositories([repo], db, opts)
    as_left_by_an_older_version(db, table)
    assert load(db) == {}  # readers take an old file as it is
    connect(db).close()
    assert check_database(db) is None
    summary = mine_repositories([repo], db, opts)
    assert [r.status for r in summary.repos] == ["mined"]
    assert check_database(db) is None
    return table_ids(db, table)


def failing_listing_then_retried(
    repo: Path,
    db: Path,
    monkeypatch: pytest.MonkeyPatch,
    listing: str,
    error: str,
    opts: MineOptions,
    while_failing: Callable[[], None] = lambda: None,
) -> None:
    """A real git process failing the command matching ``listing`` (a `git` earlier on PATH):
    the repo is reported as failed with ``error`` and git's message, not marked mined, a run
    that raises raises ``MiningError``, ``while_failing`` runs, and with git whole again the
    next run mines it."""
    import os

    path = os.environ["PATH"]
    bin_dir = db.parent.parent / "bin"
    failing_git(bin_dir, listing, "bad object (simulated)")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{path}")
    summary = mine_repositories([repo], db, opts, raise_on_error=False)
    (rs,) = summary.repos
    assert rs.status == "error" and rs.error is not None
    assert rs.error.startswith(error)
    assert "bad object (simulated)" in rs.error
    with pytest.raises(MiningError):
        mine_repositories([repo], db, opts)
    while_failing()
    monkeypatch.setenv("PATH", path)
    summary = mine_repositories([repo], db, opts)
    assert [r.status for r in summary.repos] == ["mined"]


def table_ids(db: Path, table: str) -> list[str]:
    """The commit ids of ``merge_commits`` or ``other_commits``, oldest first (of another table
    with a ``commit_id`` column, such as ``commit_files``: sorted)."""
    with sqlite3.connect(db) as con:
        cols = {r[1] for r in con.execute(f"PRAGMA table_info({table})")}
    if "authored_at" not in cols:
        with sqlite3.connect(db) as con:
            return [r[0] for r in con.execute(f"SELECT commit_id FROM {table} ORDER BY commit_id")]
    return [r[0] for r in table_rows(db, table)]


def test_a_database_mined_before_the_table_is_upgraded_and_filled(tmp_path: Path) -> None:
    ids = _history(tmp_path)
    db = tmp_path / "out" / "mined.sqlite"
    got = upgraded_and_refilled(tmp_path / "r", db, "merge_commits", load_merge_times,
                                options(tmp_path))  # fmt: skip
    assert got == [ids["merge"]]


def test_listing_the_merges_failing_fails_the_repo_and_a_rerun_retries_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _history(tmp_path)
    db = tmp_path / "out" / "mined.sqlite"
    failing_listing_then_retried(
        tmp_path / "r",
        db,
        monkeypatch,
        '*" log "*--merges*',
        "reading merge commit times failed: ",
        options(tmp_path),
    )
    assert table_ids(db, "merge_commits") == [ids["merge"]]


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
