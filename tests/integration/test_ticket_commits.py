"""A forecast ticket's commits are resolved once: the input check and the pricing share one
lookup (``pipelines.sch_effort.TicketCommits``), so a commit the mine did not read (a feature
branch) is looked up in git once, not once per use.

Real repositories, a real mine, and a real ``git`` behind a wrapper that counts its calls.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from gitrepos import commit, counting_git, git, init, py_lines

from standard_coder.config.mining import FiltersSection, ReposSection
from standard_coder.pipelines.sch_effort import FoundCommit, TicketCommits, commit_lookup
from standard_coder.pipelines.sch_options import mine_options
from standard_coder.sch.estimate import Languages, git_commit_records
from standard_coder.sch.mining import mine_repositories

pytestmark = pytest.mark.integration


@pytest.fixture()
def mined(tmp_path: Path) -> tuple[Path, Path, Path, str, str]:
    """(db, other repository, repository, a mined commit, a commit only on ``feature``)."""
    other = init(tmp_path / "other")
    commit(other, {"o.py": py_lines(3, "o")}, "other")
    repo = init(tmp_path / "repo")
    commit(repo, {"a.py": py_lines(5)}, "first")
    on_main = commit(repo, {"a.py": py_lines(9)}, "second")
    git(repo, "checkout", "-q", "-b", "feature")
    on_branch = commit(repo, {"b.py": py_lines(7, "b")}, "feature work")
    git(repo, "checkout", "-q", "main")
    db = tmp_path / "out" / "raw" / "mined_commits.sqlite"
    opts = mine_options(
        ReposSection.model_validate({}), FiltersSection.model_validate({}),
        base_dir=tmp_path / "out", config_dir=tmp_path,
    )  # fmt: skip
    assert mine_repositories([repo], db, opts).repos[0].status == "mined"  # main only
    return db, other, repo, on_main, on_branch


def lookups(log: Path, rev: str) -> list[str]:
    """The git calls that asked where ``rev`` is (``sch.estimate.commit_in``'s rev-parse)."""
    return [line for line in log.read_text().splitlines() if f"{rev}^{{commit}}" in line]


def test_the_check_and_the_pricing_resolve_each_commit_once(
    mined: tuple[Path, Path, Path, str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db, other, repo, on_main, on_branch = mined
    log = counting_git(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    commits = commit_lookup(db, [other, repo])
    assert isinstance(commits, TicketCommits)
    ids = [on_main[:10], on_branch[:12], "f" * 12]
    # the input check: where each id is (the unknown one is left out)
    assert commits(ids) == {
        on_main[:10]: FoundCommit(on_main),
        on_branch[:12]: FoundCommit(on_branch, repo),
    }
    # asked in each repository in turn until found; a mined id never reaches git
    assert len(lookups(log, on_branch[:12])) == 2 and not lookups(log, on_main[:10])
    assert len(lookups(log, "f" * 12)) == 2
    # the pricing: reads the changes where the check found them, and asks git nothing again
    before = len(log.read_text().splitlines())
    changes = commits.changes(ids, langs=Languages())
    asked = log.read_text().splitlines()[before:]
    assert not [line for line in asked if "rev-parse --verify" in line or "--parents" in line]
    assert len(lookups(log, on_branch[:12])) == 2 and len(lookups(log, "f" * 12)) == 2
    assert set(changes) == {on_main[:10], on_branch[:12]}
    assert changes[on_main[:10]].commit_id == on_main and changes[on_main[:10]].files
    # the unmined commit as estimate reads it from git
    (want,) = git_commit_records(repo, [on_branch], Languages(), with_contents=False)
    assert changes[on_branch[:12]] == want
    assert commits.changes([on_branch[:12]]) == {on_branch[:12]: want}
    assert len(lookups(log, on_branch[:12])) == 2  # still one resolution per repository


def test_a_merge_is_refused_and_no_lookup_without_a_database_or_repositories(
    mined: tuple[Path, Path, Path, str, str], tmp_path: Path
) -> None:
    db, _, repo, on_main, on_branch = mined
    git(repo, "merge", "-q", "--no-ff", "-m", "merge feature", "feature")
    merge = git(repo, "rev-parse", "HEAD").decode().strip()
    with pytest.raises(ValueError, match=f"commit {merge[:9]} is a merge commit"):
        TicketCommits(db, [repo])([merge[:9]])
    assert commit_lookup(tmp_path / "none.sqlite") is None
    # before the first mine, repositories alone answer
    alone = commit_lookup(tmp_path / "none.sqlite", [repo])
    assert alone is not None and alone([on_branch, on_main]) == {
        on_branch: FoundCommit(on_branch, repo),
        on_main: FoundCommit(on_main, repo),
    }
