"""Every file a commit touches, of any language: the mine keeps per mined commit the lines of the
files its token counts do not see (documentation, configuration, CI), the files touched and their
folders (``commit_files``, ``mining.file_stats``), readers hand them on as
``CommitRecord.file_stats``, and ``[training.features] commit_files`` makes them feature columns
``files|...`` (unknown: the fitted changes' mean)."""

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

from standard_coder.sch.features.change_files import FILE_NAMES
from standard_coder.sch.features.raw_change import RawChange, extract_raw
from standard_coder.sch.features.representation import ChangeRepresentation
from standard_coder.sch.mining import mine_repositories
from standard_coder.sch.mining.canonical import canonical_dump
from standard_coder.sch.mining.file_stats import commit_file_stats
from standard_coder.sch.mining.integrity import check_database
from standard_coder.sch.mining.options import MineOptions
from standard_coder.sch.mining.store import iter_commits
from standard_coder.sch.records import FILE_STAT_NAMES

H = 3600


def options(tmp: Path) -> MineOptions:
    """The mine's options with every commit's files counted (``[training.features]
    commit_files = true``)."""
    return replace(mine_options_for(tmp), commit_files=True)


def _history(root: Path) -> dict[str, str]:
    """Code alone; code with documentation, configuration and a binary file in three folders;
    documentation only (skipped: no change); a deletion of code and config."""
    repo = init(root / "r")
    ids = {"code": commit(repo, {"pkg/a.py": "x = 1\ny = 2\n"}, "start", ts=BASE_TS)}
    ids["mixed"] = commit(
        repo,
        {"pkg/a.py": "x = 1\ny = 3\nz = 4\n", "README.md": "# a\nb\nc\n",
         "docs/guide.rst": "Guide\n=====\n", "docs/conf.py": "project = 'a'\n",
         "pyproject.toml": "[project]\nname = 'a'\n", "docs/logo.png": b"\x89PNG\x00\x01\x02"},
        "feature with docs", ts=BASE_TS + H,
    )  # fmt: skip
    ids["docs"] = commit(repo, {"README.md": "# a\n"}, "docs only", ts=BASE_TS + 2 * H)
    ids["delete"] = commit(repo, {"pkg/a.py": None, "pyproject.toml": None}, "remove",
                           ts=BASE_TS + 3 * H)  # fmt: skip
    return ids


def _stats(db: Path) -> dict[str, tuple[int, ...]]:
    """Mined commit id -> its file counts (an unknown commit absent)."""
    return {
        r.commit_id: r.file_stats
        for r in iter_commits(db, with_files=False)
        if r.file_stats is not None
    }


def test_each_mined_commit_keeps_its_files_of_every_language(tmp_path: Path) -> None:
    ids = _history(tmp_path)
    db = tmp_path / "out" / "mined.sqlite"
    mine_repositories([tmp_path / "r"], db, options(tmp_path))
    got = _stats(db)
    # the documentation-only commit is no change: it has no row
    assert set(got) == {ids["code"], ids["mixed"], ids["delete"]}
    named = {cid: dict(zip(FILE_STAT_NAMES, v, strict=True)) for cid, v in got.items()}
    assert named[ids["code"]] == {"other_lines_added": 0, "other_lines_deleted": 0,
                                  "doc_lines_added": 0, "config_lines_added": 0, "files": 1,
                                  "folders": 1}  # fmt: skip
    # README 3 lines, guide.rst 2, pyproject 2, the png none; docs/conf.py is Python: counted
    # by the tokens, not here; 6 files in 3 folders (pkg, top, docs)
    assert named[ids["mixed"]] == {"other_lines_added": 7, "other_lines_deleted": 0,
                                   "doc_lines_added": 5, "config_lines_added": 2, "files": 6,
                                   "folders": 3}  # fmt: skip
    assert named[ids["delete"]]["other_lines_deleted"] == 2
    assert named[ids["delete"]]["files"] == 2
    assert "commit_files\t" in canonical_dump(db)
    assert check_database(db) is None


def test_off_by_default_nothing_is_counted_and_switching_either_way_re_plans(
    tmp_path: Path,
) -> None:
    ids = _history(tmp_path)
    repo, db = tmp_path / "r", tmp_path / "out" / "mined.sqlite"
    mine_repositories([repo], db, mine_options_for(tmp_path))
    assert _stats(db) == {}  # off: no git pass, every change's files unknown
    summary = mine_repositories([repo], db, options(tmp_path))
    assert [r.status for r in summary.repos] == ["mined"]  # the option is part of the key
    assert set(_stats(db)) == {ids["code"], ids["mixed"], ids["delete"]}
    mine_repositories([repo], db, mine_options_for(tmp_path))
    assert _stats(db) == {}  # off again: as a clean mine without it


def test_the_mine_stage_counts_them_only_when_the_features_read_them(tmp_path: Path) -> None:
    from standard_coder.pipelines.sch import build

    _history(tmp_path)
    for on in (False, True):
        cfg = tmp_path / f"{on}.toml"
        cfg.write_text(f'[repos]\ninclude_paths = ["r"]\n[training.features]\n'
                       f"commit_files = {str(on).lower()}\n")  # fmt: skip
        (mine,) = [s for s in build(cfg, []).stages if s.name == "mine"]
        # off: the params (and so the mine's fingerprint) are what they were before the key
        assert ("commit_files" in mine.params) is on


def test_the_same_counts_from_git_as_from_a_diff(tmp_path: Path) -> None:
    """``estimate`` counts a commit it reads from git (never mined) as the mine does."""
    from standard_coder.sch.estimate import Languages, git_commit_records, patch_record

    ids = _history(tmp_path)
    repo = tmp_path / "r"
    langs = Languages()
    (rec,) = git_commit_records(repo, [ids["mixed"]], langs, with_contents=False)
    (mined,) = commit_file_stats(repo, [ids["mixed"]], lambda p: langs.of(p) is not None)
    assert rec.file_stats == mined[1:]
    patch = git(repo, "format-patch", "-1", "--stdout", ids["mixed"]).decode()
    assert patch_record(patch, langs, "p.patch").file_stats == mined[1:]


def test_a_commit_git_cannot_diff_is_unknown_and_the_others_are_counted(tmp_path: Path) -> None:
    """A blob missing from the clone fails the one ``git log --numstat`` over every id: each
    commit is then read alone, and the one git cannot diff has no row (unknown, not zero)."""
    ids = _history(tmp_path)
    repo = tmp_path / "r"
    blob = git(repo, "rev-parse", f"{ids['mixed']}:docs/guide.rst").decode().strip()
    os.unlink(repo / ".git" / "objects" / blob[:2] / blob[2:])
    got = commit_file_stats(repo, sorted(ids.values()), lambda p: p.endswith(".py"))
    assert {r[0] for r in got} == {ids["code"], ids["docs"], ids["delete"]}


def test_a_database_mined_before_the_table_is_upgraded_and_filled(tmp_path: Path) -> None:
    ids = _history(tmp_path)
    db = tmp_path / "out" / "mined.sqlite"
    upgraded_and_refilled(tmp_path / "r", db, "commit_files", _stats, options(tmp_path))
    assert set(_stats(db)) == {ids["code"], ids["mixed"], ids["delete"]}


def test_a_rewritten_history_drops_the_rows_of_commits_gone(tmp_path: Path) -> None:
    ids = _history(tmp_path)
    repo, db = tmp_path / "r", tmp_path / "out" / "mined.sqlite"
    mine_repositories([repo], db, options(tmp_path))
    git(repo, "reset", "-q", "--hard", ids["mixed"])
    new = commit(repo, {"pkg/b.py": "b = 1\n", "CHANGES.md": "- b\n"}, "b", ts=BASE_TS + 5 * H)
    mine_repositories([repo], db, options(tmp_path))
    got = _stats(db)
    assert set(got) == {ids["code"], ids["mixed"], new}
    assert got[new][:2] == (1, 0)
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT COUNT(*) FROM commit_files").fetchone()[0] == 3


def test_a_mine_counts_only_what_it_has_not_and_a_new_version_counts_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from standard_coder.sch.mining import file_stats

    ids = _history(tmp_path)
    repo, db = tmp_path / "r", tmp_path / "out" / "mined.sqlite"
    mine_repositories([repo], db, options(tmp_path))
    with sqlite3.connect(db) as con:  # a marker a recount would overwrite
        con.execute("UPDATE commit_files SET folders = 99 WHERE commit_id = ?", (ids["code"],))
    new = commit(repo, {"pkg/c.py": "c = 1\n", "setup.cfg": "[x]\n"}, "c", ts=BASE_TS + 5 * H)
    mine_repositories([repo], db, options(tmp_path))
    got = _stats(db)
    assert got[ids["code"]][-1] == 99  # counted before: not read again
    assert got[new] == (1, 0, 0, 1, 2, 2)  # the new commit: counted
    monkeypatch.setattr(file_stats, "VERSION", file_stats.VERSION + 1)
    summary = mine_repositories([repo], db, options(tmp_path))
    assert [r.status for r in summary.repos] == ["mined"]  # the version is in the refs key
    assert _stats(db)[ids["code"]][-1] == 1  # counted again by the new version
    with sqlite3.connect(db) as con:
        versions = {r[0] for r in con.execute("SELECT DISTINCT counted_by FROM commit_files")}
    assert versions == {file_stats.VERSION}


def test_commit_files_become_feature_columns_and_an_unknown_change_gets_the_mean(
    tmp_path: Path,
) -> None:
    ids = _history(tmp_path)
    db = tmp_path / "out" / "mined.sqlite"
    mine_repositories([tmp_path / "r"], db, options(tmp_path))
    records = list(iter_commits(db, with_files=True))
    raws = extract_raw(records, with_ast=False)
    rep = ChangeRepresentation(kind="tokens", commit_files=True).fit(raws)
    assert rep.files_known
    cols = [rep.feature_names_.index(n) for n in FILE_NAMES]
    counts = rep.raw_matrix(raws)
    by_id = {r.commit_id: counts[i] for i, r in enumerate(records)}
    assert by_id[ids["mixed"]][cols].tolist() == [7, 0, 5, 2, 6, 3]
    unknown = RawChange()  # e.g. a database mined before the counts were kept
    X = rep.transform([*raws, unknown])
    # unknown: the fitted changes' mean, which scales to 0 in every column
    assert np.allclose(X[-1, cols], 0.0, atol=1e-6)
    # off: no such columns, and a representation saved before the option loads with it off
    off = ChangeRepresentation(kind="tokens").fit(raws)
    assert not any(n.startswith("files|") for n in off.feature_names_)
    assert off.vocabulary_checksum_ != rep.vocabulary_checksum_
    rep.save(tmp_path / "rep")
    again = ChangeRepresentation.load(tmp_path / "rep")
    assert again.commit_files and again.checksum_ == rep.checksum_
    assert np.array_equal(again.transform([*raws, unknown]), X)


def test_a_squashed_group_sums_its_commits_and_round_trips(tmp_path: Path) -> None:
    a = RawChange(file_stats=np.array([1.0, 2, 3, 4, 5, 6]))
    b = RawChange(file_stats=np.array([10.0, 0, 0, 0, 1, 1]))
    group = RawChange()
    group.add(a)
    group.add(b)
    assert group.file_stats.tolist() == [11, 2, 3, 4, 6, 7]
    assert RawChange.from_json(group.to_json()).file_stats.tolist() == group.file_stats.tolist()
    # a raw saved before the counts existed (five fields) reads as unknown
    assert np.isnan(RawChange.from_json(group.to_json()[:5]).file_stats).all()
