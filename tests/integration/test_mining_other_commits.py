"""Commits that touch no file of an enabled language (documentation, CI, configuration) are their
author's work: with ``[repos] other_commit_times = true`` (opt-in) the mine keeps their author
times (``mining.merges.other_commit_times``), work inference starts the author's next interval at
them, and none of them ever becomes a change. Off (the default) nothing is read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from gitrepos import BASE_TS, commit, init
from rich.console import Console
from test_mining_merge_times import (
    _gap_labels,
    _merge,
    failing_listing_then_retried,
    table_ids,
    table_rows,
    upgraded_and_refilled,
)
from test_mining_repos import options

from standard_coder.pipelines.sch_train import load_histories
from standard_coder.sch.mining import mine_repositories
from standard_coder.sch.mining.canonical import canonical_dump
from standard_coder.sch.mining.filters import AuthorRule
from standard_coder.sch.mining.integrity import check_database
from standard_coder.sch.mining.merges import load_other_times, other_commit_times
from standard_coder.sch.mining.mine import summary_table
from standard_coder.sch.mining.options import MineOptions
from standard_coder.sch.work_inference.base import NORMAL

ALICE = ("Alice", "Alice@Example.com")
BOB = ("Bob", "bob@example.com")
BOT = ("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com")
H = 3600


def switched_on(tmp: Path, **repos: Any) -> MineOptions:
    """The mine's options with other commits' times read (``[repos] other_commit_times``)."""
    return options(tmp, repos={"other_commit_times": True, **repos})


def _history(root: Path) -> dict[str, str]:
    """alice commits code, writes documentation 5 h later (her only act in between), commits
    code again an hour after it; bob edits the CI file; a bot bumps a requirements file."""
    repo = init(root / "r")
    ids = {"c1": commit(repo, {"a.py": "x = 1\n"}, "start", author=ALICE, ts=BASE_TS)}
    ids["ci"] = commit(repo, {"ci.yml": "on: push\n"}, "ci", author=BOB, ts=BASE_TS + H)
    commit(repo, {"req.txt": "x==2\n"}, "bump", author=BOT, ts=BASE_TS + 2 * H)
    ids["docs"] = commit(repo, {"README.md": "# docs\n", "docs/guide.rst": "Guide\n"},
                         "Document the guide", author=ALICE, ts=BASE_TS + 5 * H)  # fmt: skip
    ids["c3"] = commit(repo, {"a.py": "x = 3\n"}, "after the docs", author=ALICE,
                       ts=BASE_TS + 6 * H)  # fmt: skip
    return ids


def _rows(db: Path) -> list[tuple[str, int, int, str]]:
    return table_rows(db, "other_commits")


def test_a_documentation_commit_is_stored_with_its_author_and_starts_the_next_interval(
    tmp_path: Path,
) -> None:
    ids = _history(tmp_path)
    db = tmp_path / "out" / "mined.sqlite"
    summary = mine_repositories([tmp_path / "r"], db, switched_on(tmp_path))
    assert summary.totals()["other_commits"] == 2
    console = Console(width=200, record=True)
    console.print(summary_table(summary))
    assert "other" in console.export_text()
    # both skipped commits of people are kept with their mailmapped, lower-cased author id; the
    # bot's is not mined at all
    assert _rows(db) == [
        (ids["ci"], BASE_TS + H, 0, "bob@example.com"),
        (ids["docs"], BASE_TS + 5 * H, 0, "alice@example.com"),
    ]
    assert "other_commits\t" in canonical_dump(db)
    assert sorted(load_other_times(db)) == ["alice@example.com", "bob@example.com"]
    assert check_database(db) is None

    histories = load_histories(db)
    # bob has no mined commit: an event alone labels nothing and makes no timeline
    assert set(histories) == {"alice@example.com"}
    keys = [k[1] for k in histories["alice@example.com"].keys]
    assert keys == [ids["c1"], f"{ids['docs']}~other", ids["c3"]]
    labels = _gap_labels(db, tmp_path / "wi")
    # the documentation labels nothing; c3's interval runs from it, not from c1 six hours earlier
    assert set(labels) == {ids["c1"], ids["c3"]}
    assert labels[ids["c3"]] == (60.0, NORMAL)


def test_off_by_default_nothing_is_read_and_switching_either_way_remines(
    tmp_path: Path,
) -> None:
    ids = _history(tmp_path)
    db = tmp_path / "out" / "mined.sqlite"
    summary = mine_repositories([tmp_path / "r"], db, options(tmp_path))
    assert summary.totals()["other_commits"] == 0
    assert _rows(db) == []
    # the interval of alice's next change runs across her documentation from her previous one
    assert [k[1] for k in load_histories(db)["alice@example.com"].keys] == [ids["c1"], ids["c3"]]
    assert _gap_labels(db, tmp_path / "wi")[ids["c3"]][0] == 360.0
    summary = mine_repositories([tmp_path / "r"], db, switched_on(tmp_path))
    assert [r.status for r in summary.repos] == ["mined"]  # the option is part of the key
    assert len(_rows(db)) == 2
    summary = mine_repositories([tmp_path / "r"], db, options(tmp_path))
    assert [r.status for r in summary.repos] == ["mined"]
    assert _rows(db) == []


def test_a_merge_and_a_documentation_commit_in_one_interval_both_count(tmp_path: Path) -> None:
    from gitrepos import git

    repo = init(tmp_path / "r")
    c1 = commit(repo, {"a.py": "x = 1\n"}, "start", author=ALICE, ts=BASE_TS)
    git(repo, "checkout", "-q", "-b", "feat")
    commit(repo, {"b.py": "y = 1\n"}, "feature", author=BOB, ts=BASE_TS + H)
    git(repo, "checkout", "-q", "main")
    docs = commit(repo, {"README.md": "# a\n"}, "docs", author=ALICE, ts=BASE_TS + 3 * H)
    merge = _merge(repo, "feat", ALICE, BASE_TS + 5 * H)
    c3 = commit(repo, {"a.py": "x = 3\n"}, "after", author=ALICE, ts=BASE_TS + 5 * H + 1800)
    db = tmp_path / "out" / "mined.sqlite"
    mine_repositories([repo], db, switched_on(tmp_path))
    keys = [k[1] for k in load_histories(db)["alice@example.com"].keys]
    assert sorted(keys) == sorted([c1, f"{docs}~other", f"{merge}~merge", c3])
    assert _gap_labels(db, tmp_path / "wi")[c3] == (30.0, NORMAL)


def test_the_author_filter_and_a_window_apply_to_them(tmp_path: Path) -> None:
    ids = _history(tmp_path)
    repo = tmp_path / "r"
    everyone = AuthorRule(exclude_bots=False)
    got = other_commit_times(repo, [ids["docs"], ids["ci"]], everyone)
    assert [r[0] for r in got] == [ids["ci"], ids["docs"]]  # oldest first
    assert other_commit_times(repo, [ids["docs"]], AuthorRule(exclude=["alice"])) == []
    assert other_commit_times(repo, [], everyone) == []
    # a window of the newest commit leaves the documentation commit outside the mined history
    db = tmp_path / "out" / "mined.sqlite"
    mine_repositories([repo], db, switched_on(tmp_path, max_commits_per_repo=1))
    assert _rows(db) == []


def test_a_database_mined_before_the_table_is_upgraded_and_filled(tmp_path: Path) -> None:
    ids = _history(tmp_path)
    db = tmp_path / "out" / "mined.sqlite"
    got = upgraded_and_refilled(tmp_path / "r", db, "other_commits", load_other_times,
                                switched_on(tmp_path))  # fmt: skip
    assert got == [ids["ci"], ids["docs"]]


def test_reading_their_times_failing_fails_the_repo_and_a_rerun_retries_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Off (the default), the failing listing is never run: the same git mines the repo."""
    ids = _history(tmp_path)
    db = tmp_path / "out" / "mined.sqlite"

    def off_needs_no_listing() -> None:
        summary = mine_repositories([tmp_path / "r"], db, options(tmp_path))
        assert [r.status for r in summary.repos] == ["mined"] and _rows(db) == []

    failing_listing_then_retried(
        tmp_path / "r", db, monkeypatch, '*" log --no-walk=unsorted --stdin -z "*',
        "reading other commits' times failed: ", switched_on(tmp_path), off_needs_no_listing,
    )  # fmt: skip
    assert table_ids(db, "other_commits") == [ids["ci"], ids["docs"]]


def test_the_label_quality_benchmark_counts_them_apart_from_merges(tmp_path: Path) -> None:
    from tests.benchmodule import load_benchmark

    _history(tmp_path)
    db = tmp_path / "out" / "mined.sqlite"
    mine_repositories([tmp_path / "r"], db, switched_on(tmp_path))
    bench = load_benchmark("label_quality")
    out = bench.run_repo(db, tmp_path / "work", seed=0, workers=1, variants=("gap",))
    # alice's two changes; her documentation is one event (bob's CI commit makes no timeline)
    assert out["n_commits"] == 2
    assert out["n_other_events"] == 1 and out["n_merge_events"] == 0
