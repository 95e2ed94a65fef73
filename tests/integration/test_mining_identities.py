"""One person, one author: the addresses one name commits under are joined by the mine
(``mining.identities``), so the person's timeline holds all their commits and merges."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from gitrepos import BASE_TS, commit, git, init
from test_mining_merge_times import _gap_labels, _merge, table_rows
from test_mining_repos import options, rows

from standard_coder.pipelines.sch_train import load_histories
from standard_coder.sch.mining import mine_repositories
from standard_coder.sch.mining.people import name_joined_addresses
from standard_coder.sch.work_inference.base import FIRST, NORMAL

pytestmark = pytest.mark.integration

BY_NAME = {"authors": {"merge_by_name": True}}

WORK = ("Jane Roe", "jane.roe@corp.example")
HOME = ("Jane Roe", "Jane@Home.example")
GITHUB = ("Jane Roe", "4711+jroe@users.noreply.github.com")  # merges only, in GitHub's web page
BOB = ("Bob Stone", "bob@example.com")
H = 3600


def _history(root: Path) -> dict[str, str]:
    """Jane commits from work, from home an hour later, merges Bob's branch on GitHub (an
    address she never commits with), then commits from work again an hour after the merge."""
    repo = init(root / "r")
    ids = {"w1": commit(repo, {"a.py": "x = 1\n"}, "start", author=WORK, ts=BASE_TS)}
    git(repo, "checkout", "-q", "-b", "feat")
    ids["b1"] = commit(repo, {"b.py": "y = 1\n"}, "feature", author=BOB, ts=BASE_TS + H // 2)
    git(repo, "checkout", "-q", "main")
    ids["h1"] = commit(repo, {"a.py": "x = 2\n"}, "from home", author=HOME, ts=BASE_TS + H)
    ids["merge"] = _merge(repo, "feat", GITHUB, BASE_TS + 2 * H)
    ids["w2"] = commit(repo, {"a.py": "x = 3\n"}, "back at work", author=WORK, ts=BASE_TS + 3 * H)
    return ids


def test_one_name_under_two_addresses_is_one_author_with_one_timeline(tmp_path: Path) -> None:
    ids = _history(tmp_path)
    db = tmp_path / "out" / "mined.sqlite"
    summary = mine_repositories([tmp_path / "r"], db, options(tmp_path, filters=BY_NAME))
    assert summary.repos[0].authors == 2  # Jane and Bob
    authors = dict(rows(db, "SELECT commit_id, author_id FROM commits"))
    assert {authors[ids[k]] for k in ("w1", "h1", "w2")} == {"jane.roe@corp.example"}
    # what git wrote is kept as it was
    assert rows(db, "SELECT author_email FROM commits WHERE commit_id = ?", ids["h1"]) == [
        ("Jane@Home.example",)
    ]
    assert [r[3] for r in table_rows(db, "merge_commits")] == ["jane.roe@corp.example"]
    # what team output's people file lists as the mine's joins (the merge-only address is not
    # a commit author: merges are read apart)
    assert name_joined_addresses(db) == {"jane@home.example": "jane.roe@corp.example"}
    keys = [k[1] for k in load_histories(db)["jane.roe@corp.example"].keys]
    assert keys == [ids["w1"], ids["h1"], f"{ids['merge']}~merge", ids["w2"]]
    labels = _gap_labels(db, tmp_path / "wi")
    assert labels[ids["h1"]] == (60.0, NORMAL)  # from the work commit an hour before
    assert labels[ids["w2"]] == (60.0, NORMAL)  # from the merge


def test_switched_off_each_address_is_an_author_and_on_again_they_join(tmp_path: Path) -> None:
    ids = _history(tmp_path)
    db = tmp_path / "out" / "mined.sqlite"
    mine_repositories([tmp_path / "r"], db, options(tmp_path, filters=BY_NAME))
    summary = mine_repositories([tmp_path / "r"], db, options(tmp_path))  # off: the default
    assert [r.status for r in summary.repos] == ["mined"]  # the option is part of the key
    assert summary.repos[0].authors == 3
    assert summary.repos[0].mined_now == 0  # the stored commits were kept, their authors reset
    authors = dict(rows(db, "SELECT commit_id, author_id FROM commits"))
    assert authors[ids["h1"]] == "jane@home.example"
    assert name_joined_addresses(db) == {}  # switched off: the mine joined none
    labels = _gap_labels(db, tmp_path / "wi")
    assert labels[ids["h1"]][1] == FIRST  # the home address's first commit
    assert labels[ids["w2"]] == (180.0, NORMAL)  # back to the work commit three hours before
    summary = mine_repositories([tmp_path / "r"], db, options(tmp_path, filters=BY_NAME))
    assert summary.repos[0].authors == 2
    assert dict(rows(db, "SELECT commit_id, author_id FROM commits"))[ids["h1"]] == (
        "jane.roe@corp.example"
    )


def test_a_one_word_first_name_does_not_join_two_people(tmp_path: Path) -> None:
    repo = init(tmp_path / "r")
    commit(repo, {"a.py": "x = 1\n"}, "one", author=("Max", "max.a@a.example"), ts=BASE_TS)
    commit(repo, {"a.py": "x = 2\n"}, "two", author=("Max", "mtaran@b.example"), ts=BASE_TS + H)
    db = tmp_path / "db.sqlite"
    assert mine_repositories([repo], db, options(tmp_path, filters=BY_NAME)).repos[0].authors == 2


def test_people_who_commit_without_an_address_are_each_their_own_author(tmp_path: Path) -> None:
    """``Name <>`` commits (old and converted histories): keyed by the empty address, everyone
    without one was one author; known by name, each is their own, merges included."""
    niemeyer, other = ("niemeyer", ""), ("gl@clarisys.fr", "")
    repo = init(tmp_path / "r")
    ids = {"n1": commit(repo, {"a.py": "x = 1\n"}, "one", author=niemeyer, ts=BASE_TS)}
    git(repo, "checkout", "-q", "-b", "feat")
    ids["o1"] = commit(repo, {"b.py": "y = 1\n"}, "two", author=other, ts=BASE_TS + H)
    git(repo, "checkout", "-q", "main")
    ids["merge"] = _merge(repo, "feat", niemeyer, BASE_TS + 2 * H)
    ids["n2"] = commit(repo, {"a.py": "x = 2\n"}, "three", author=niemeyer, ts=BASE_TS + 3 * H)
    db = tmp_path / "out" / "mined.sqlite"
    summary = mine_repositories([repo], db, options(tmp_path))
    assert summary.repos[0].authors == 2
    authors = dict(rows(db, "SELECT commit_id, author_id FROM commits"))
    assert authors == {
        ids["n1"]: "niemeyer <>", ids["n2"]: "niemeyer <>", ids["o1"]: "gl@clarisys.fr <>"
    }  # fmt: skip
    assert [r[3] for r in table_rows(db, "merge_commits")] == ["niemeyer <>"]
    labels = _gap_labels(db, tmp_path / "wi")
    assert labels[ids["o1"]][1] == FIRST  # not niemeyer's interval
    assert labels[ids["n2"]] == (60.0, NORMAL)  # from niemeyer's own merge

    # a database mined when the empty address was the identity is mended by the next mine
    with closing(sqlite3.connect(db)) as con, con:
        con.execute("UPDATE commits SET author_id = ''")
        con.execute("UPDATE mine_state SET refs_key = 'before'")
    assert mine_repositories([repo], db, options(tmp_path)).repos[0].mined_now == 0
    assert dict(rows(db, "SELECT commit_id, author_id FROM commits")) == authors


def test_by_name_an_address_less_commit_joins_the_address_of_its_name(tmp_path: Path) -> None:
    repo = init(tmp_path / "r")
    commit(repo, {"a.py": "x = 1\n"}, "one", author=WORK, ts=BASE_TS)
    commit(repo, {"a.py": "x = 2\n"}, "two", author=WORK, ts=BASE_TS + H)
    bare = commit(repo, {"a.py": "x = 3\n"}, "three", author=("Jane Roe", ""), ts=BASE_TS + 2 * H)
    db = tmp_path / "db.sqlite"
    summary = mine_repositories([repo], db, options(tmp_path, filters=BY_NAME))
    assert summary.repos[0].authors == 1
    assert dict(rows(db, "SELECT commit_id, author_id FROM commits"))[bare] == WORK[1]
    assert name_joined_addresses(db) == {"jane roe <>": WORK[1]}
