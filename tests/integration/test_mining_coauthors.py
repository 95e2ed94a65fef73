"""Commits an AI coding agent helped write: the mine keeps every mined commit's
``Co-authored-by:`` trailers (``commit_coauthors``, ``mining.coauthors``), the store names the
commits an agent co-wrote (``agent_assisted_commits``), and their labels are of their own kind
(``agent_assisted``), which the effort model neither fits nor is scored on."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from gitrepos import BASE_TS, commit, init
from test_mining_merge_times import upgraded_and_refilled
from test_mining_repos import options

from standard_coder.sch.mining import mine_repositories
from standard_coder.sch.mining.canonical import canonical_dump
from standard_coder.sch.mining.coauthors import commit_coauthors
from standard_coder.sch.mining.integrity import check_database
from standard_coder.sch.mining.store import agent_assisted_commits

H = 3600
CLAUDE = (
    "Split the reader in two\n\n"
    "🤖 Generated with [Claude Code](https://claude.com/claude-code)\n\n"
    "Co-Authored-By: Claude Opus 4.8 <noreply@anthropic.com>\n"
)
PERSON = "Pair on the parser\n\nCo-authored-by: Bob <bob@example.com>\n"
BOTH = (
    "Apply the review\n\n"
    "Co-authored-by: Bob <bob@example.com>\n"
    "Co-authored-by: Copilot <175728472+Copilot@users.noreply.github.com>\n"
)


def _history(root: Path) -> dict[str, str]:
    """A plain commit, one a person co-wrote, one Claude Code co-wrote, one with a person and
    Copilot, a documentation-only one Claude co-wrote (no change: not mined)."""
    repo = init(root / "r")
    ids = {"plain": commit(repo, {"a.py": "x = 1\n"}, "start", ts=BASE_TS)}
    ids["person"] = commit(repo, {"a.py": "x = 2\n"}, PERSON, ts=BASE_TS + H)
    ids["claude"] = commit(repo, {"b.py": "b = 1\n" * 40}, CLAUDE, ts=BASE_TS + 2 * H)
    ids["both"] = commit(repo, {"b.py": "b = 2\n" * 40}, BOTH, ts=BASE_TS + 3 * H)
    ids["docs"] = commit(repo, {"README.md": "# r\n"}, CLAUDE, ts=BASE_TS + 4 * H)
    return ids


def _coauthors(db: Path) -> dict[str, str]:
    with sqlite3.connect(db) as con:
        return dict(con.execute("SELECT commit_id, coauthors FROM commit_coauthors").fetchall())


def test_trailers_are_kept_and_the_commits_an_agent_co_wrote_are_named(tmp_path: Path) -> None:
    ids = _history(tmp_path)
    db = tmp_path / "out" / "mined.sqlite"
    mine_repositories([tmp_path / "r"], db, options(tmp_path))  # always: no option to set
    got = _coauthors(db)
    assert set(got) == {ids["plain"], ids["person"], ids["claude"], ids["both"]}
    assert got[ids["plain"]] == "" and got[ids["person"]] == "Bob <bob@example.com>"
    assert got[ids["claude"]] == "Claude Opus 4.8 <noreply@anthropic.com>"  # any key casing
    assert got[ids["both"]].split("\n") == [
        "Bob <bob@example.com>",
        "Copilot <175728472+Copilot@users.noreply.github.com>",
    ]
    rid = next(iter(agent_assisted_commits(db)))[0]
    assert agent_assisted_commits(db) == {(rid, ids["claude"]), (rid, ids["both"])}
    assert "commit_coauthors\t" in canonical_dump(db) and check_database(db) is None
    again = mine_repositories([tmp_path / "r"], db, options(tmp_path))
    assert [r.status for r in again.repos] == ["unchanged"]


def test_a_commit_git_cannot_read_is_unknown_and_the_others_are_read(tmp_path: Path) -> None:
    ids = _history(tmp_path)
    repo = tmp_path / "r"
    obj = ids["claude"]
    os.unlink(repo / ".git" / "objects" / obj[:2] / obj[2:])
    got = commit_coauthors(repo, sorted(ids.values()))
    assert {r[0] for r in got} == set(ids.values()) - {ids["claude"]}


def test_a_database_mined_before_the_table_is_upgraded_and_filled(tmp_path: Path) -> None:
    ids = _history(tmp_path)
    db = tmp_path / "out" / "mined.sqlite"
    upgraded_and_refilled(tmp_path / "r", db, "commit_coauthors", _known, options(tmp_path))
    assert {c for _, c in agent_assisted_commits(db)} == {ids["claude"], ids["both"]}


def _known(db: Path) -> dict[str, str]:
    """What readers make of a file without the table: no commit is known to be assisted."""
    return {c: "agent" for _, c in agent_assisted_commits(db)}


def test_an_agents_own_commits_are_kept_only_when_asked_and_never_fitted(tmp_path: Path) -> None:
    from standard_coder.sch.team_output import is_bot

    claude = ("Claude", "noreply@anthropic.com")
    dependabot = ("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com")
    repo = init(tmp_path / "r")
    human = commit(repo, {"a.py": "x = 1\n"}, "start", ts=BASE_TS)
    agent = commit(repo, {"a.py": "x = 2\n"}, "Refactor", author=claude, ts=BASE_TS + H)
    bot = commit(repo, {"a.py": "x = 3\n"}, "Bump", author=dependabot, ts=BASE_TS + 2 * H)
    db = tmp_path / "out" / "mined.sqlite"

    def stored() -> set[str]:
        with sqlite3.connect(db) as con:
            return {c for (c,) in con.execute("SELECT commit_id FROM commits")}

    mine_repositories([repo], db, options(tmp_path))
    assert stored() == {human}
    keep = options(tmp_path, filters={"authors": {"exclude_agents": False}})
    assert [r.status for r in mine_repositories([repo], db, keep).repos] == ["mined"]
    assert stored() == {human, agent}  # the bot is still left out
    assert {c for _, c in agent_assisted_commits(db)} == {agent}  # a label of its own kind
    assert not is_bot("noreply@anthropic.com", "Claude")  # team output prices it
    assert is_bot(dependabot[1], dependabot[0])
    assert bot not in stored()
