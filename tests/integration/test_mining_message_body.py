"""Each commit message's body: the mine keeps per mined commit what its author wrote after the
subject (``commit_bodies``, ``mining.message_body``), readers hand it on as
``CommitRecord.body``, ``estimate`` reads it from git and from a mailed patch, and
``[training.features] commit_body`` makes its counts feature columns ``body|...`` (unknown: the
fitted changes' mean)."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from gitrepos import BASE_TS, commit, git, init
from test_mining_merge_times import upgraded_and_refilled
from test_mining_repos import options as mine_options_for

from standard_coder.sch.features.message_body import BODY_NAMES, body_counts
from standard_coder.sch.features.raw_change import RawChange, extract_raw
from standard_coder.sch.features.representation import ChangeRepresentation
from standard_coder.sch.mining import mine_repositories
from standard_coder.sch.mining.canonical import canonical_dump
from standard_coder.sch.mining.integrity import check_database
from standard_coder.sch.mining.message_body import commit_bodies
from standard_coder.sch.mining.options import MineOptions
from standard_coder.sch.mining.store import iter_commits

H = 3600
LONG = (
    "Parse the header once\n\n"
    "The reader parsed every header twice: once to find its length\n"
    "and once for its value.\n\n"
    "* keep the offsets\n"
    "* drop the second pass\n\n"
    "Co-authored-by: Bob <bob@example.com>\n"
    "Signed-off-by: Alice <alice@example.com>\n"
)


def options(tmp: Path) -> MineOptions:
    """The mine's options with every commit's body kept (``commit_body = true``)."""
    return replace(mine_options_for(tmp), commit_body=True)


def _history(root: Path) -> dict[str, str]:
    """A one-line message; a message with a body, bullets and trailers; a documentation-only
    commit (no change); a message whose body is a trailer alone."""
    repo = init(root / "r")
    ids = {"short": commit(repo, {"a.py": "x = 1\n"}, "start", ts=BASE_TS)}
    ids["long"] = commit(repo, {"a.py": "x = 2\ny = 3\n"}, LONG, ts=BASE_TS + H)
    ids["docs"] = commit(repo, {"README.md": "# a\n"}, "docs only\n\nmore words",
                         ts=BASE_TS + 2 * H)  # fmt: skip
    ids["signed"] = commit(repo, {"b.py": "b = 1\n"}, "b\n\nSigned-off-by: A <a@example.com>\n",
                           ts=BASE_TS + 3 * H)  # fmt: skip
    return ids


def _bodies(db: Path) -> dict[str, str]:
    """Mined commit id -> its body (an unknown one absent)."""
    return {r.commit_id: r.body for r in iter_commits(db, with_files=False) if r.body is not None}


def test_each_mined_commit_keeps_its_body_and_its_counts_leave_trailers_out(
    tmp_path: Path,
) -> None:
    ids = _history(tmp_path)
    db = tmp_path / "out" / "mined.sqlite"
    mine_repositories([tmp_path / "r"], db, options(tmp_path))
    got = _bodies(db)
    assert set(got) == {ids["short"], ids["long"], ids["signed"]}  # docs only: no change
    assert got[ids["short"]] == ""
    assert got[ids["long"]].startswith("The reader parsed every header twice")
    assert got[ids["long"]].endswith("Signed-off-by: Alice <alice@example.com>")
    named = {cid: dict(zip(BODY_NAMES, body_counts(b), strict=True)) for cid, b in got.items()}
    # 4 lines of prose and bullets (25 words, a bullet's mark one); trailers are not lines
    assert named[ids["long"]] == {"body|lines": 4, "body|words": 25, "body|co_authors": 1}
    assert named[ids["short"]] == {"body|lines": 0, "body|words": 0, "body|co_authors": 0}
    assert named[ids["signed"]] == {"body|lines": 0, "body|words": 0, "body|co_authors": 0}
    assert "commit_bodies\t" in canonical_dump(db)
    assert check_database(db) is None


def test_off_by_default_nothing_is_kept_and_switching_either_way_re_plans(tmp_path: Path) -> None:
    ids = _history(tmp_path)
    repo, db = tmp_path / "r", tmp_path / "out" / "mined.sqlite"
    mine_repositories([repo], db, mine_options_for(tmp_path))
    assert _bodies(db) == {}  # off: no git pass, every body unknown
    summary = mine_repositories([repo], db, options(tmp_path))
    assert [r.status for r in summary.repos] == ["mined"]  # the option is part of the key
    assert set(_bodies(db)) == {ids["short"], ids["long"], ids["signed"]}
    new = commit(repo, {"c.py": "c = 1\n"}, "c\n\nwhy c", ts=BASE_TS + 5 * H)
    mine_repositories([repo], db, options(tmp_path))
    assert _bodies(db)[new] == "why c"  # a later mine reads only the new commit's
    mine_repositories([repo], db, mine_options_for(tmp_path))
    assert _bodies(db) == {}  # off again: as a clean mine without it


def test_the_mine_stage_keeps_them_only_when_the_features_read_them(tmp_path: Path) -> None:
    from standard_coder.pipelines.sch import build

    _history(tmp_path)
    for on in (False, True):
        cfg = tmp_path / f"{on}.toml"
        cfg.write_text(f'[repos]\ninclude_paths = ["r"]\n[training.features]\n'
                       f"commit_body = {str(on).lower()}\n")  # fmt: skip
        (mine,) = [s for s in build(cfg, []).stages if s.name == "mine"]
        # off: the params (and so the mine's fingerprint) are what they were before the key
        assert ("commit_body" in mine.params) is on
    cfg = tmp_path / "loc.toml"  # the LOC baseline reads no body: none is kept
    cfg.write_text('[repos]\ninclude_paths = ["r"]\n[training.features]\nrepresentation = "loc"\n'
                   "commit_body = true\ncross_repo_prior = false\n")  # fmt: skip
    (mine,) = [s for s in build(cfg, []).stages if s.name == "mine"]
    assert "commit_body" not in mine.params


def test_estimate_reads_the_same_body_from_git_and_from_a_mailed_patch(tmp_path: Path) -> None:
    from standard_coder.sch.estimate import Languages, git_commit_records, patch_record

    ids = _history(tmp_path)
    repo = tmp_path / "r"
    (rec,) = git_commit_records(repo, [ids["long"]], Languages(), with_contents=False)
    ((_, mined),) = commit_bodies(repo, [ids["long"]])
    assert rec.body == mined
    patch = git(repo, "format-patch", "-1", "--stdout", ids["long"]).decode()
    mailed = patch_record(patch, Languages(), "p.patch").body
    assert mailed is not None
    assert body_counts(mailed).tolist() == body_counts(mined).tolist()
    plain = git(repo, "diff", ids["short"], ids["long"]).decode()
    assert patch_record(plain, Languages(), "d.diff").body is None  # a bare diff: unknown


def test_a_commit_git_cannot_read_is_unknown_and_the_others_are_read(tmp_path: Path) -> None:
    ids = _history(tmp_path)
    repo = tmp_path / "r"
    obj = ids["long"]
    os.unlink(repo / ".git" / "objects" / obj[:2] / obj[2:])
    got = commit_bodies(repo, sorted(ids.values()))
    assert {r[0] for r in got} == {ids["short"], ids["docs"], ids["signed"]}


def test_a_database_mined_before_the_table_is_upgraded_and_filled(tmp_path: Path) -> None:
    ids = _history(tmp_path)
    db = tmp_path / "out" / "mined.sqlite"
    upgraded_and_refilled(tmp_path / "r", db, "commit_bodies", _bodies, options(tmp_path))
    assert set(_bodies(db)) == {ids["short"], ids["long"], ids["signed"]}


def test_a_rewritten_history_drops_the_bodies_of_commits_gone(tmp_path: Path) -> None:
    ids = _history(tmp_path)
    repo, db = tmp_path / "r", tmp_path / "out" / "mined.sqlite"
    mine_repositories([repo], db, options(tmp_path))
    git(repo, "reset", "-q", "--hard", ids["long"])
    new = commit(repo, {"d.py": "d = 1\n"}, "d", ts=BASE_TS + 5 * H)
    mine_repositories([repo], db, options(tmp_path))
    assert set(_bodies(db)) == {ids["short"], ids["long"], new}
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT COUNT(*) FROM commit_bodies").fetchone()[0] == 3


def test_a_new_version_reads_every_body_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from standard_coder.sch.mining import message_body

    ids = _history(tmp_path)
    repo, db = tmp_path / "r", tmp_path / "out" / "mined.sqlite"
    mine_repositories([repo], db, options(tmp_path))
    with sqlite3.connect(db) as con:  # a marker a new read would overwrite
        con.execute("UPDATE commit_bodies SET body = 'stale' WHERE commit_id = ?", (ids["short"],))
    mine_repositories([repo], db, options(tmp_path))
    assert _bodies(db)[ids["short"]] == "stale"  # read before: not read again
    monkeypatch.setattr(message_body, "VERSION", message_body.VERSION + 1)
    summary = mine_repositories([repo], db, options(tmp_path))
    assert [r.status for r in summary.repos] == ["mined"]  # the version is in the refs key
    assert _bodies(db)[ids["short"]] == ""
    with sqlite3.connect(db) as con:
        versions = {r[0] for r in con.execute("SELECT DISTINCT read_by FROM commit_bodies")}
    assert versions == {message_body.VERSION}


def test_bodies_become_feature_columns_and_an_unknown_message_gets_the_mean(
    tmp_path: Path,
) -> None:
    ids = _history(tmp_path)
    db = tmp_path / "out" / "mined.sqlite"
    mine_repositories([tmp_path / "r"], db, options(tmp_path))
    records = list(iter_commits(db, with_files=True))
    raws = extract_raw(records, with_ast=False)
    rep = ChangeRepresentation(kind="tokens", commit_body=True).fit(raws)
    assert rep.body_known
    cols = [rep.feature_names_.index(n) for n in BODY_NAMES]
    counts = rep.raw_matrix(raws)
    by_id = {r.commit_id: counts[i] for i, r in enumerate(records)}
    assert by_id[ids["long"]][cols].tolist() == [4, 25, 1]
    unknown = RawChange()  # a working tree: no message
    X = rep.transform([*raws, unknown])
    assert np.allclose(X[-1, cols], 0.0, atol=1e-6)  # the fitted mean scales to 0
    off = ChangeRepresentation(kind="tokens").fit(raws)
    assert not any(n.startswith("body|") for n in off.feature_names_)
    assert off.vocabulary_checksum_ != rep.vocabulary_checksum_
    rep.save(tmp_path / "rep")
    again = ChangeRepresentation.load(tmp_path / "rep")
    assert again.commit_body and again.checksum_ == rep.checksum_
    assert np.array_equal(again.transform([*raws, unknown]), X)


def test_a_squashed_group_sums_its_known_bodies_and_round_trips() -> None:
    a = RawChange(body=np.array([2.0, 10, 0]))
    b = RawChange(body=np.array([1.0, 3, 1]))
    group = RawChange()
    for one in (a, b, RawChange()):  # the last: unknown, adds nothing
        group.add(one)
    assert group.body.tolist() == [3, 13, 1]
    assert RawChange.from_json(group.to_json()).body.tolist() == [3, 13, 1]
    # a raw saved before bodies were counted (six fields) reads as unknown
    assert np.isnan(RawChange.from_json(group.to_json()[:6]).body).all()
