"""A GitHub squash merge is timed by its pull request's commits (``refs/pull/<n>/head``), read
from the clone or from its origin on this machine, and labelled over them by work inference."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from gitrepos import BASE_TS, commit, failing_git, git, init
from rich.console import Console
from test_mining_repos import options

from standard_coder.config.training import TrainingSection
from standard_coder.pipelines.sch_train import (
    label_commits,
    label_info,
    load_histories,
    merge_stamped,
    squash_groups,
)
from standard_coder.sch.dataset import MERGE_STAMPED
from standard_coder.sch.mining import mine_repositories
from standard_coder.sch.mining.canonical import canonical_dump
from standard_coder.sch.mining.integrity import check_database, stamp_digest
from standard_coder.sch.mining.mine import summary_table
from standard_coder.sch.mining.store import connect, load_pull_times
from standard_coder.sch.work_inference.base import NORMAL

GITHUB = ("GitHub", "noreply@github.com")
BOB = ("Bob", "bob@example.com")
H = 3600


def _history(root: Path) -> dict[str, str]:
    """main: bob's own commit, then two GitHub squash merges; PR #7's branch has two commits
    (the second one after the merge: pushed later, left out), PR #8 has no ref."""
    repo = init(root / "r")
    ids = {"own": commit(repo, {"a.py": "x = 1\n"}, "start", author=BOB, ts=BASE_TS)}
    git(repo, "checkout", "-q", "-b", "pr7")
    ids["pr_a"] = commit(repo, {"b.py": "y = 1\n"}, "draft", author=BOB, ts=BASE_TS + H, tz="+0200")
    ids["pr_b"] = commit(repo, {"b.py": "y = 2\n"}, "finish", author=BOB, ts=BASE_TS + 2 * H)
    late = commit(repo, {"b.py": "y = 3\n"}, "after merge", author=BOB, ts=BASE_TS + 9 * H)
    git(repo, "update-ref", "refs/pull/7/head", late)
    git(repo, "checkout", "-q", "main")
    ids["squash7"] = commit(
        repo, {"b.py": "y = 2\n"}, "Add b (#7)", author=BOB, ts=BASE_TS + 5 * H, committer=GITHUB
    )
    ids["squash8"] = commit(
        repo, {"c.py": "z = 1\n"}, "Add c (#8)", author=BOB, ts=BASE_TS + 6 * H, committer=GITHUB
    )
    return ids


def _pull_rows(db: Path) -> list[tuple[str, str, int, int]]:
    with sqlite3.connect(db) as con:
        return con.execute(
            "SELECT commit_id, pr_commit_id, authored_at, author_tz_offset_min FROM pull_commits"
            " ORDER BY authored_at"
        ).fetchall()


def test_pull_request_commits_are_mined_beside_their_squash_merge(tmp_path: Path) -> None:
    ids = _history(tmp_path)
    # an edit made in GitHub's browser: stamped like a squash merge, but no pull request
    edit = commit(tmp_path / "r", {"d.py": "w = 1\n"}, "Update d.py", author=BOB,
           ts=BASE_TS + 7 * H, committer=GITHUB)  # fmt: skip
    db = tmp_path / "out" / "mined.sqlite"
    summary = mine_repositories([tmp_path / "r"], db, options(tmp_path))
    assert summary.totals()["squash_merges"] == 2 and summary.totals()["squash_merges_timed"] == 1
    console = Console(width=200, record=True)
    console.print(summary_table(summary))
    text = console.export_text()
    assert "squash" in text and "timed" in text and "1/2" in text  # a two-line header
    assert _pull_rows(db) == [
        (ids["squash7"], ids["pr_a"], BASE_TS + H, 120),
        (ids["squash7"], ids["pr_b"], BASE_TS + 2 * H, 0),
    ]
    (key,) = load_pull_times(db)
    assert key[1] == ids["squash7"]
    # the squash with its pull request's times is no longer merge-stamped; the one without is
    assert {c for _, c in merge_stamped(db)} == {ids["squash8"], edit}  # untimed: stamped
    assert "pull_commits\t" in canonical_dump(db)


def test_an_origin_git_cannot_read_is_named_and_the_mine_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ids = _history(tmp_path)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(tmp_path / "r"), str(clone))
    broken = tmp_path / "not-a-repo"
    broken.mkdir()
    git(clone, "remote", "set-url", "origin", str(broken))
    with caplog.at_level(logging.WARNING, logger="standard_coder.sch.mining.pulls"):
        summary = mine_repositories([clone], tmp_path / "out" / "m.sqlite", options(tmp_path))
    assert [r.status for r in summary.repos] == ["mined"]
    assert summary.totals()["squash_merges_timed"] == 0
    assert any(str(broken) in r.getMessage() and "could not be read" in r.getMessage()
               for r in caplog.records)  # fmt: skip
    assert ids["squash7"]


def test_the_mine_stage_says_an_unreadable_origin_in_one_warn_line(tmp_path: Path) -> None:
    """In a pipeline run the unreadable origin is a ``[warn] mine:`` line (event
    ``stage_warning``), said once though the refs are looked up twice, not a raw log line."""
    import json
    import subprocess
    import sys

    from proctools import child_env

    _history(tmp_path)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(tmp_path / "r"), str(clone))
    broken = tmp_path / "not-a-repo"
    broken.mkdir()
    git(clone, "remote", "set-url", "origin", str(broken))
    cfg = tmp_path / "pipeline_config.toml"
    cfg.write_text(f"[repos]\ninclude_paths = [{json.dumps(str(clone))}]\n[runner]\nworkers = 1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "standard_coder", "pipeline", "--config", str(cfg),
         "--stages", "mine"],
        capture_output=True, text=True, env=child_env(COLUMNS="200"), timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (line,) = [x for x in proc.stderr.splitlines() if "could not be read" in x]
    assert line.startswith(f"[warn] mine: {clone}: its origin {broken} could not be read for "
                           "pull request refs ("), line  # fmt: skip
    assert line.endswith("squash merges stay timed by their merge") and "WARNING" not in proc.stderr
    logs = tmp_path / "sc-output" / "logs"
    events = [json.loads(e) for e in (logs / "events.jsonl").read_text().splitlines()]
    assert [e["stage"] for e in events if e["event"] == "stage_warning"] == ["mine"]


def test_a_clone_reads_them_from_its_origin_and_a_new_ref_is_picked_up(tmp_path: Path) -> None:
    ids = _history(tmp_path)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(tmp_path / "r"), str(clone))
    assert not git(clone, "for-each-ref", "refs/pull/")  # a plain clone has no pull refs
    db = tmp_path / "out" / "mined.sqlite"
    summary = mine_repositories([clone], db, options(tmp_path))
    assert [r.status for r in summary.repos] == ["mined"]
    assert {r[1] for r in _pull_rows(db)} == {ids["pr_a"], ids["pr_b"]}
    # a new pull request ref in the origin: the clone's refs are the same, the mine is not
    origin = tmp_path / "r"
    tree = git(origin, "rev-parse", "main^{tree}").decode().strip()
    pr8 = git(origin, "commit-tree", tree, "-p", ids["own"], "-m", "c").decode().strip()
    git(origin, "update-ref", "refs/pull/8/head", pr8)
    summary = mine_repositories([clone], db, options(tmp_path))
    assert [r.status for r in summary.repos] == ["mined"]
    assert {r[0] for r in _pull_rows(db)} == {ids["squash7"], ids["squash8"]}
    summary = mine_repositories([clone], db, options(tmp_path))
    assert [r.status for r in summary.repos] == ["unchanged"]
    # GitHub moves a pull request's /merge ref with its base branch: not part of the key
    git(origin, "update-ref", "refs/pull/7/merge", pr8)
    summary = mine_repositories([clone], db, options(tmp_path))
    assert [r.status for r in summary.repos] == ["unchanged"]
    # switched off: no rows, and the squash merges are merge-stamped again
    mine_repositories([clone], db, options(tmp_path, repos={"pull_request_times": False}))
    assert _pull_rows(db) == []
    assert len(merge_stamped(db)) == 2


def test_the_squash_merge_is_labelled_over_its_pull_requests_intervals(tmp_path: Path) -> None:
    ids = _history(tmp_path)
    db = tmp_path / "out" / "mined.sqlite"
    mine_repositories([tmp_path / "r"], db, options(tmp_path))
    histories = load_histories(db)
    (h,) = histories.values()
    # the squash sits at its last pull request commit; the first one is an event of its own
    by_key = dict(zip(h.keys, h.times.tolist(), strict=True))
    repo = next(iter(by_key))[0]
    assert by_key[(repo, ids["squash7"])] == BASE_TS + 2 * H
    assert by_key[(repo, f"{ids['squash7']}~pr0")] == BASE_TS + H
    assert squash_groups(histories, 2) == []
    t = TrainingSection.model_validate({"work_inference": "gap", "label_samples_per_commit": 4})
    labels = label_commits(histories, t, "gap", out_dir=tmp_path / "wi", seed=0)
    assert labels is not None
    assert [k[1] for k in labels.keys] == [ids["own"], ids["squash7"], ids["squash8"]]
    row = labels.keys.index((repo, ids["squash7"]))
    # git-hours over the pull request: 60 min gaps (own -> pr_a -> pr_b), each under the cap
    assert labels.expected_minutes[row] == 120.0
    assert labels.interval_minutes[row] == 120.0
    assert np.allclose(labels.samples_hours[row], 2.0)
    kinds, _ = label_info(labels, merge_stamped(db))
    assert kinds[(repo, ids["squash7"])] == NORMAL
    assert kinds[(repo, ids["squash8"])] == MERGE_STAMPED


def test_a_stacked_pull_requests_commits_belong_to_the_squash_that_landed_them(
    tmp_path: Path,
) -> None:
    """#11 branched off #10; #10 was squashed first and #11's ref still holds #10's commit."""
    repo = init(tmp_path / "r")
    commit(repo, {"a.py": "x = 1\n"}, "start", author=BOB, ts=BASE_TS)
    git(repo, "checkout", "-q", "-b", "pr10")
    first = commit(repo, {"b.py": "y = 1\n"}, "part one", author=BOB, ts=BASE_TS + H)
    git(repo, "update-ref", "refs/pull/10/head", first)
    second = commit(repo, {"c.py": "z = 1\n"}, "part two", author=BOB, ts=BASE_TS + 2 * H)
    git(repo, "update-ref", "refs/pull/11/head", second)
    git(repo, "checkout", "-q", "main")
    sq10 = commit(repo, {"b.py": "y = 1\n"}, "One (#10)", author=BOB, ts=BASE_TS + 3 * H,
                  committer=GITHUB)  # fmt: skip
    sq11 = commit(repo, {"c.py": "z = 1\n"}, "Two (#11)", author=BOB, ts=BASE_TS + 4 * H,
                  committer=GITHUB)  # fmt: skip
    db = tmp_path / "out" / "mined.sqlite"
    mine_repositories([repo], db, options(tmp_path))
    assert [(r[0], r[1]) for r in _pull_rows(db)] == [(sq10, first), (sq11, second)]


def as_left_by_an_older_version(db: Path, table: str) -> None:
    """Make ``db`` a finished mine of a version that had no ``table``: dropped, vacuumed and
    stamped with its checksum, so the integrity check passes it."""
    with sqlite3.connect(db) as con:
        con.execute(f"DROP TABLE {table}")
    with sqlite3.connect(db) as con:
        con.execute("VACUUM")
    stamp_digest(db)
    assert check_database(db) is None


def test_a_database_mined_before_the_table_is_upgraded_not_called_corrupt(tmp_path: Path) -> None:
    _history(tmp_path)
    db = tmp_path / "out" / "mined.sqlite"
    mine_repositories([tmp_path / "r"], db, options(tmp_path))
    as_left_by_an_older_version(db, "pull_commits")
    connect(db).close()  # the next run's connection adds the table: no longer the stamped file
    assert check_database(db) is None
    mine_repositories([tmp_path / "r"], db, options(tmp_path))
    assert check_database(db) is None and len(_pull_rows(db)) == 2


@pytest.mark.parametrize(
    ("fail_from", "prefix"),
    [(1, "git for-each-ref"), (3, "reading pull request commit times failed: ")],
    ids=["when-planned", "when-read-after-the-chunks"],
)
def test_reading_the_pull_refs_failing_fails_the_repo_and_a_rerun_retries_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_from: int, prefix: str
) -> None:
    """git itself failing on the pull refs (a broken install, a ref store damaged while the
    mine runs): the repo is reported as failed with git's message, not marked mined, and the
    next run mines it whole. The refs are read when the repo is planned (twice: its key, which
    reads HEAD and the pull refs, and the pull requests) and again after its chunks (the rows);
    the failure is a real git process's: a `git` earlier on PATH that fails that command from
    its ``fail_from``-th call on."""
    import os

    from standard_coder.sch.mining.mine import MiningError

    ids = _history(tmp_path)
    path = os.environ["PATH"]
    bin_dir = tmp_path / "bin"
    failing_git(bin_dir, "*for-each-ref*refs/pull/*", "unable to read refs/pull (simulated)",
                fail_from=fail_from)  # fmt: skip
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{path}")
    db = tmp_path / "out" / "mined.sqlite"
    events: list[tuple[str, dict]] = []
    summary = mine_repositories([tmp_path / "r"], db, options(tmp_path), raise_on_error=False,
                                on_event=lambda e, f: events.append((e, f)))  # fmt: skip
    (rs,) = summary.repos
    assert rs.status == "error" and rs.error is not None
    assert rs.error.startswith(prefix) and "unable to read refs/pull (simulated)" in rs.error
    assert any(e == "mine_repo_failed" and f["error"] == rs.error for e, f in events)
    with pytest.raises(MiningError):  # the stage's default: the failure fails the stage
        mine_repositories([tmp_path / "r"], db, options(tmp_path))
    monkeypatch.setenv("PATH", path)  # git works again: the repo was not marked done
    summary = mine_repositories([tmp_path / "r"], db, options(tmp_path))
    assert [r.status for r in summary.repos] == ["mined"]
    assert {r[0] for r in _pull_rows(db)} == {ids["squash7"]}
