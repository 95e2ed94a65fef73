"""Mining real fixture repositories: exact rows and robustness (hooks, binary, non-UTF-8, ...)."""

from __future__ import annotations

import dataclasses
import io
import itertools
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from gitrepos import (
    BASE_TS,
    build_main_repo,
    clone_shallow,
    commit,
    delete_loose_object,
    git,
    init,
    py_lines,
    traps_fired,
)

from standard_coder.config.mining import FiltersSection, ReposSection
from standard_coder.pipelines.sch_options import mine_options
from standard_coder.runner.console import PIPE_WIDTH, make_console
from standard_coder.sch.mining import (
    MineOptions,
    MiningError,
    iter_commits,
    load_commit_times,
    mine_repositories,
    repo_id,
    summary_table,
)
from standard_coder.sch.mining.store import AmbiguousCommitId, commits_by_id

pytestmark = pytest.mark.integration


def options(
    tmp: Path,
    repos: dict[str, Any] | None = None,
    filters: dict[str, Any] | None = None,
    chunk_size: int = 500,
) -> MineOptions:
    r = ReposSection.model_validate({"max_files_per_commit": 10, **(repos or {})})
    f = FiltersSection.model_validate(filters or {})
    return mine_options(r, f, base_dir=tmp / "out", config_dir=tmp, chunk_size=chunk_size)


def rows(db: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def mined(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("repos")
    ids = build_main_repo(root)
    db = root / "out" / "raw" / "mined_commits.sqlite"
    events: list[str] = []
    summary = mine_repositories(
        [root / "main"], db, options(root), on_event=lambda n, f: events.append(n)
    )
    assert summary.repos[0].status == "mined"
    assert "mine_repo_done" in events
    return root, db, ids


def test_commit_rows_are_exact(mined: tuple[Path, Path, dict[str, str]]) -> None:
    _root, db, ids = mined
    got = {
        r[0]: r[1:]
        for r in rows(
            db,
            "SELECT commit_id, author_name, author_email, author_id,"
            " authored_at, author_tz_offset_min, committed_at, subject,"
            " n_files, lines_added, lines_deleted, truncated FROM commits",
        )
    }
    # the merge, the docs-only commit, the mailmap commit (no .py) and the bot are not stored
    for name in ("merge", "docs", "mailmap", "bot"):
        assert ids[name] not in got, name
    assert got[ids["c1"]] == (
        "Alice",
        "alice@example.com",
        "alice@example.com",
        BASE_TS,
        330,
        BASE_TS,
        "Add core",
        1,
        5,
        0,
        0,
    )
    assert got[ids["c2"]] == (
        "Bob",
        "bob@example.com",
        "bob@example.com",
        BASE_TS + 3600,
        -300,
        BASE_TS + 3600,
        "Add util",
        1,
        3,
        0,
        0,
    )
    # .mailmap merges the old address into Alice
    assert got[ids["c3"]][:3] == ("Alice", "alice@example.com", "alice@example.com")
    assert got[ids["c3"]][6:10] == ("Extend core", 1, 1, 0)
    assert got[ids["latin1"]][:3] == ("Jos\ufffd", "jose@example.com", "jose@example.com")
    assert got[ids["latin1"]][6] == "Caf\ufffd fran\ufffdais"
    assert got[ids["huge"]][7:] == (25, 750, 0, 1)  # 25 files counted, 10 stored, truncated
    assert len(got) == 10
    parents = rows(db, "SELECT parents FROM commits WHERE commit_id=?", ids["c2"])[0][0]
    assert parents == ids["c1"]


def test_file_rows_are_exact(mined: tuple[Path, Path, dict[str, str]]) -> None:
    _root, db, ids = mined
    (ren,) = rows(
        db,
        "SELECT path, old_path, change_type, lines_added, lines_deleted, is_binary"
        " FROM file_changes WHERE commit_id=?",
        ids["rename"],
    )
    assert ren == ("app/helpers.py", "app/util.py", "R", 1, 0, 0)
    (binary,) = rows(
        db,
        "SELECT path, is_binary, lines_added, diff FROM file_changes WHERE commit_id=?",
        ids["binary"],
    )
    assert binary == ("app/blob.py", 1, 0, None)
    (latin,) = rows(db, "SELECT path, language FROM file_changes WHERE commit_id=?", ids["latin1"])
    assert latin == ("app/caf\ufffd.py", "python")
    assert rows(db, "SELECT COUNT(*) FROM file_changes WHERE commit_id=?", ids["huge"]) == [(10,)]
    # submodule gitlink and .gitmodules are not file changes
    assert rows(db, "SELECT path FROM file_changes WHERE commit_id=?", ids["submodule"]) == [
        ("app/with_sub.py",)
    ]
    skipped = dict(rows(db, "SELECT commit_id, reason FROM skipped_commits"))
    assert skipped == {ids["docs"]: "no_language_files", ids["mailmap"]: "no_language_files"}


def test_no_hook_or_diff_driver_ran(mined: tuple[Path, Path, dict[str, str]]) -> None:
    root, db, ids = mined
    assert traps_fired(root) == []
    # the stored diff is git's own, not the textconv/external driver's
    rec = next(c for c in iter_commits(db) if c.commit_id == ids["c3"])
    assert rec.files[0].diff == "@@ -3,3 +3,4 @@ x_1 = 1\n x_2 = 2\n x_3 = 3\n x_4 = 4\n+x_5 = 5\n"


def test_readers(mined: tuple[Path, Path, dict[str, str]]) -> None:
    root, db, ids = mined
    recs = list(iter_commits(db, with_contents=True))
    keys = [(r.author_id, r.authored_at) for r in recs]
    assert keys == sorted(keys)
    c3 = next(r for r in recs if r.commit_id == ids["c3"])
    f = c3.files[0]
    assert (f.before, f.after) == (py_lines(5), py_lines(6))
    assert f.diff.startswith("@@ ") and "+x_5 = 5\n" in f.diff
    assert c3.lines_added == 1
    bare = next(iter(iter_commits(db, with_files=False)))
    assert bare.files == ()
    times = load_commit_times(db)
    assert set(times) == {
        "alice@example.com",
        "bob@example.com",
        "carol@example.com",
        "jose@example.com",
    }
    t, tz, refs = times["alice@example.com"]
    assert list(t) == [BASE_TS, BASE_TS + 7200, BASE_TS + 12500]
    assert list(tz) == [330, 330, 330]
    assert refs[0] == (repo_id(root / "main"), ids["c1"])


def test_readers_select_commits_by_id_prefix(mined: tuple[Path, Path, dict[str, str]]) -> None:
    """Tickets name commits by full or abbreviated id; only those commits are read."""
    _root, db, ids = mined
    wanted = {ids["c3"][:7], ids["c1"]}
    got = {r.commit_id for r in iter_commits(db, id_prefixes=wanted)}
    assert got == {ids["c1"], ids["c3"]}
    assert list(iter_commits(db, id_prefixes=[])) == []
    assert list(iter_commits(db, id_prefixes=["zz'; DROP TABLE commits; --"])) == []
    assert len(list(iter_commits(db, with_files=False))) > 2  # table intact, others exist


def test_commits_by_id_full_abbreviated_missing_and_ambiguous(
    mined: tuple[Path, Path, dict[str, str]],
) -> None:
    _root, db, ids = mined
    found = commits_by_id(db, [ids["c1"], ids["c3"][:8], "0" * 40], with_contents=True)
    assert {k: r.commit_id for k, r in found.items()} == {
        ids["c1"]: ids["c1"], ids["c3"][:8]: ids["c3"]}  # fmt: skip
    assert found[ids["c3"][:8]].files[0].after is not None  # contents when asked
    assert commits_by_id(db, []) == {}
    # the longest prefix two stored commits share names neither of them
    stored = sorted(r.commit_id for r in iter_commits(db, with_files=False))

    def common(a: str, b: str) -> str:
        n = next((i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y), len(a))
        return a[:n]

    shared = max((common(a, b) for a, b in itertools.pairwise(stored)), key=len)
    with pytest.raises(AmbiguousCommitId, match=r"ambiguous.*give more digits"):
        commits_by_id(db, [shared])


def test_summary_table_renders(
    mined: tuple[Path, Path, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rich.console import Console

    root, db, _ids = mined
    s = mine_repositories([root / "main"], db, options(root))
    assert s.repos[0].status == "unchanged" and s.chunks_mined == 0
    assert s.repos[0].commits_stored == 10 and s.repos[0].truncated == 1
    assert s.repos[0].skipped_by_filter == 3  # docs, mailmap, bot
    console = Console(record=True, width=200)
    console.print(summary_table(s))
    assert "unchanged" in console.export_text(clear=False)
    # typeguard's first mine: stored 422 + filtered 267 = 689 commits, "new" 644: the 45 of a
    # bot are filtered without being read, and the table now says so under it
    assert s.repos[0].author_filtered == 1
    said = " ".join(console.export_text().split())
    assert (
        'filtered: 2 touching no enabled language (read, so counted in "new") and 1 by excluded '
        'authors (bots, AI agents, [filters.authors]): never read, so not counted in "new"'
    ) in said
    # on 80 columns the line breaks at spaces outside the parentheses (it broke after "AI
    # agents,"), and no line is wider than the terminal
    narrow = Console(record=True, width=80)
    narrow.print(summary_table(s))
    note = narrow.export_text().split("filtered: ", 1)[1].splitlines()
    assert len(note) > 1 and all(len(line) <= 80 for line in note), note
    assert all(line.count("(") == line.count(")") for line in note), note
    # in a log or CI (not a terminal) the table is laid out legibly, never folded into ellipses,
    # even when something (readline, a parent shell) exported COLUMNS=80
    monkeypatch.setenv("COLUMNS", "80")
    out = io.StringIO()
    make_console(file=out).print(summary_table(s))
    text = out.getvalue()
    assert s.repos[0].repo in text and "…" not in text and "error" not in text
    assert max(len(line) for line in text.splitlines()) <= PIPE_WIDTH


def test_summary_table_folds_a_long_name_and_keeps_status_and_numbers_whole() -> None:
    from standard_coder.sch.mining.summary import MineSummary, RepoSummary

    r = RepoSummary(repo="PythonDataScienceHandbook-92b475e1", path="/x", status="mined",
                    commits_stored=5861, authors=260, skipped_by_filter=1211, truncated=6,
                    mined_now=7072, squash_merges=7, squash_timed=6, merges=1559,
                    seconds=13.2)  # fmt: skip
    out = io.StringIO()
    make_console(file=out).print(summary_table(MineSummary(repos=[r])))
    text = out.getvalue()
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= PIPE_WIDTH
    assert "excluded authors" not in text  # no author filtered: what "filtered" counts
    assert "filtered: 1,211 touching no enabled language" in text
    cells = [c.strip() for line in text.splitlines() for c in line.split("│")]
    assert {"mined", "5,861", "260", "1,211", "6/7", "1,559/0", "7,072", "536"} <= set(cells)
    first = [line.split("│")[1].strip() for line in text.splitlines() if line.startswith("│")]
    assert "".join(first).startswith("PythonDataScienceHandbook-92b475e1")  # folded, not cut
    from rich.console import Console

    for width in (100, 80):  # session 40: the columns that matter, the others' totals under it
        narrow = Console(width=width, file=io.StringIO(), record=True)
        narrow.print(summary_table(MineSummary(repos=[r], seconds=13.2)))
        lines = narrow.export_text().splitlines()
        assert max(len(line) for line in lines) <= width and "…" not in "".join(lines)
        cells = [c.strip() for line in lines for c in line.split("│")]
        assert {"mined", "5,861", "260", "1,211", "7,072"} <= set(cells), lines
        assert "0" not in cells  # "missing", zero in every row, is left out
        under = " ".join(lines[next(i for i, x in enumerate(lines) if x.startswith("└")) :])
        assert under.startswith("└"), lines
        for header, value in (("capped", "6"), ("squash timed", "6/7"), ("merge/other", "1,559/0")):
            assert value in cells or f"{header} {value}" in under, lines  # in the row or under
        assert "536" in cells or "536 commits/s" in under, lines
    assert under.endswith(  # at 80: capped stays
        "also: squash timed 6/7, 536 commits/s filtered: 1,211 touching no enabled language"
    )
    for width in (60, 40):  # narrower still: a block per repository, a line per figure
        narrow = Console(width=width, file=io.StringIO(), record=True)
        narrow.print(summary_table(MineSummary(repos=[r])))
        lines = narrow.export_text().splitlines()
        assert max(len(line) for line in lines) <= width and "…" not in "".join(lines)
        pairs = [[c.strip() for c in line.split("│")[1:3]] for line in lines if "│" in line]
        assert ["status", "mined"] in pairs and ["squash timed", "6/7"] in pairs
        assert ["merge/other", "1,559/0"] in pairs and ["commits/s", "536"] in pairs
        name = "".join(v for k, v in pairs if k in ("repo", ""))
        assert name.startswith("PythonDataScienceHandbook-92b475e1")  # whole, if folded


def test_summary_table_shows_a_name_or_error_in_brackets_as_written() -> None:
    from rich.console import Console

    from standard_coder.sch.mining.summary import MineSummary, RepoSummary

    bad = RepoSummary(repo="[wip]proj-1a2b3c4d", path="/x", status="error",
                      error="cannot read [pack] objects")  # fmt: skip
    for width in (200, 80, 40):  # the wide table, 80 columns' error line, the narrow blocks
        con = Console(width=width, file=io.StringIO(), record=True)
        con.print(summary_table(MineSummary(repos=[bad])))
        if width == 80:  # session 40: a row, and the error under it rather than a block
            said = con.export_text(clear=False).splitlines()
            assert "error: [wip]proj-1a2b3c4d: cannot read [pack] objects" in said, said
            assert any(x.startswith("│[wip]proj-1a2b3c4d") and "error" in x for x in said)
        text = "".join(con.export_text().replace("│", " ").split())  # folded cells rejoined
        assert (
            "[wip]proj-1a2b3c4d" in text and "cannot read [pack] objects".replace(" ", "") in text
        )


def test_empty_repo_and_not_a_repo(tmp_path: Path) -> None:
    empty = init(tmp_path / "empty")
    good = init(tmp_path / "good")
    commit(good, {"a.py": "a = 1\n"})
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "x.py").write_text("x\n")
    broken = tmp_path / "broken"
    (broken / ".git").mkdir(parents=True)
    (broken / ".git" / "HEAD").write_text("garbage\n")
    db = tmp_path / "db.sqlite"
    with pytest.raises(MiningError) as ei:
        mine_repositories([empty, plain, good, broken, tmp_path / "nope"], db, options(tmp_path))
    s = ei.value.summary
    assert set(ei.value.failed) == {str(plain), str(broken), str(tmp_path / "nope")}
    assert str(plain) in str(ei.value)
    status = {r.repo: r.status for r in s.repos}
    assert status[repo_id(empty)] == "mined" and status[repo_id(good)] == "mined"
    assert rows(db, "SELECT COUNT(*) FROM commits") == [(1,)]
    assert rows(db, "SELECT repo, head FROM repos WHERE repo=?", repo_id(empty)) == [
        (repo_id(empty), None)
    ]
    # a subfolder of a repository is not a repository root
    (good / "sub").mkdir()
    with pytest.raises(MiningError, match="not a git repository"):
        mine_repositories([good / "sub"], tmp_path / "db2.sqlite", options(tmp_path))


def test_shallow_clone_is_flagged(tmp_path: Path) -> None:
    src = init(tmp_path / "src")
    for i in range(4):
        commit(src, {"m.py": py_lines(i + 1)}, f"c{i}", ts=BASE_TS + i)
    shallow = clone_shallow(src, tmp_path / "shallow", depth=2)
    db = tmp_path / "db.sqlite"
    s = mine_repositories([shallow], db, options(tmp_path))
    assert s.repos[0].is_shallow
    assert rows(db, "SELECT is_shallow FROM repos") == [(1,)]
    assert rows(db, "SELECT reason FROM skipped_commits") == [("shallow_boundary",)]
    assert rows(db, "SELECT subject, lines_added, lines_deleted FROM commits") == [("c3", 1, 0)]


def test_missing_object_is_recorded(tmp_path: Path) -> None:
    repo = init(tmp_path / "damaged")
    commit(repo, {"a.py": "a = 1\n", "b.py": "b = 1\n"}, "one", ts=BASE_TS)
    commit(repo, {"a.py": "a = 2\n", "b.py": "b = 2\n"}, "two", ts=BASE_TS + 1)
    commit(repo, {"a.py": "a = 3\n"}, "three", ts=BASE_TS + 2)
    lost = git(repo, "rev-parse", "HEAD~1:b.py").decode().strip()
    delete_loose_object(repo, lost)
    db = tmp_path / "db.sqlite"
    s = mine_repositories([repo], db, options(tmp_path))
    assert s.repos[0].status == "mined" and s.repos[0].missing_objects >= 1
    got = rows(
        db,
        "SELECT c.subject, f.path, f.missing_object, f.lines_added FROM commits c"
        " JOIN file_changes f USING (repo, commit_id) ORDER BY c.authored_at, f.path",
    )
    assert ("three", "a.py", 0, 1) in got and ("two", "a.py", 0, 1) in got
    assert ("two", "b.py", 1, 0) in got
    assert len({g[0] for g in got}) == 3  # every commit still stored


def test_line_cap_and_giant_patch_are_truncated_not_fatal(tmp_path: Path) -> None:
    repo = init(tmp_path / "big")
    commit(repo, {f"f{i}.py": py_lines(30, f"v{i}") for i in range(5)}, "five files")
    commit(repo, {"giant.py": py_lines(5000)}, "giant", ts=BASE_TS + 1)
    commit(repo, {"small.py": "s = 1\n"}, "small", ts=BASE_TS + 2)
    opts = options(tmp_path, repos={"max_lines_per_commit": 100})
    opts = dataclasses.replace(
        opts, extract=dataclasses.replace(opts.extract, max_record_bytes=4096)
    )
    db = tmp_path / "db.sqlite"
    mine_repositories([repo], db, opts)
    got = dict(rows(db, "SELECT subject, truncated FROM commits"))
    assert got == {"five files": 1, "giant": 1, "small": 0}
    with_diff = rows(
        db,
        "SELECT COUNT(*) FROM file_changes f JOIN commits c USING (repo,"
        " commit_id) WHERE c.subject='five files' AND f.diff IS NOT NULL",
    )
    assert with_diff == [(3,)]  # 3 x 30 lines fit in the 100-line budget
    (giant,) = rows(
        db,
        "SELECT f.lines_added, f.diff IS NULL FROM file_changes f JOIN commits c"
        " USING (repo, commit_id) WHERE c.subject='giant'",
    )
    assert giant[0] < 5000 and giant[1] == 1  # patch cut at 4 KiB: partial count, no diff


def test_compressor_does_not_change_the_dump(
    mined: tuple[Path, Path, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mine with the stdlib zlib compressor equals one with the default (ISA-L if installed)."""
    from standard_coder.sch.mining import extract
    from standard_coder.sch.mining.canonical import canonical_dump

    root, db, _ = mined
    monkeypatch.setattr(extract, "zcompress", extract.zlib_compress)
    other = tmp_path / "zlib.sqlite"
    summary = mine_repositories([root / "main"], other, options(root))
    assert summary.repos[0].status == "mined"
    assert canonical_dump(other) == canonical_dump(db)


def test_a_github_account_under_both_private_addresses_is_one_author(tmp_path: Path) -> None:
    repo = init(tmp_path / "gh")
    old = ("Jane", "jane@users.noreply.github.com")
    new = ("Jane", "4711+Jane@users.noreply.github.com")  # GitHub's address since 2017
    commit(repo, {"a.py": "a = 1\n"}, "one", author=old, ts=BASE_TS)
    commit(repo, {"a.py": "a = 2\n"}, "two", author=new, ts=BASE_TS + 600)
    db = tmp_path / "db.sqlite"
    s = mine_repositories([repo], db, options(tmp_path))
    assert s.repos[0].authors == 1
    got = rows(db, "SELECT DISTINCT author_id FROM commits")
    assert got == [("jane@users.noreply.github.com",)]
    # what git wrote is kept as it was
    assert len(rows(db, "SELECT DISTINCT author_email FROM commits")) == 2


def test_on_an_80_column_terminal_the_mine_table_keeps_a_row_per_repository(
    mined: tuple[Path, Path, dict[str, str]], tmp_path: Path
) -> None:
    """Session 40: on an 80-column terminal the table turned into a block per repository (a
    line per figure), even on an unchanged rerun: it now keeps a row per repository with the
    columns that matter, and gives the totals of those it left out in a line under it."""
    import json

    from proctools import in_terminal

    root, _db, _ids = mined
    cfg = tmp_path / "pipeline_config.toml"
    cfg.write_text(f"[repos]\ninclude_paths = {json.dumps([str(root / 'main')])}\n"
                   "max_files_per_commit = 10\n[runner]\nworkers = 1\n")  # fmt: skip
    for status, extra in (("mined", ()), ("unchanged", ("--force",))):
        code, text = in_terminal("pipeline", "--config", str(cfg), "--stages", "mine", *extra,
                                 columns=80, cwd=tmp_path)  # fmt: skip
        assert code == 0, text
        lines = [line.rstrip() for line in text.splitlines()]
        top = next(i for i, x in enumerate(lines) if x.endswith("mine: repositories"))
        end = next(i for i in range(top, len(lines)) if lines[i].startswith("└"))
        table = lines[top + 1 : end + 1]  # the title shares its line with a progress bar's
        assert max(len(line) for line in table) <= 80, "\n".join(table)
        header = [c.strip() for line in table[:4] for c in line.split("┃")]
        assert {"repo", "status", "stored", "authors", "filtered", "new"} <= set(header), table
        row = [c.strip() for c in next(x for x in table if x.startswith("│main-")).split("│")]
        assert status in row and "10" in row, table  # a row per repository, not a block
        assert not any(x.startswith(("│status", "│stored")) for x in lines), "\n".join(table)
        # "missing" and "squash timed" are zero or empty in every row: left out, not moved
        assert "missing" not in " ".join(header) and "squash" not in text
        assert all(len(x) <= 80 for x in lines[end + 1 :] if x.startswith(("also: ", "filtered")))


def test_one_history_through_a_clone_and_a_worktree_counts_each_commit_once(
    tmp_path: Path,
) -> None:
    """``~/code/*`` often holds a repository, a clone or fork of it and its worktrees: each is
    mined (its own rows, so the database stays a clean mine of the config), and every reader
    counts a commit once, under the repository whose path sorts first. Before, every shared
    commit was a second change: team output counted its hours twice, and training summed its
    features with its copy's (one squashed group, committed in the same minute)."""
    from standard_coder.sch.mining.copies import shared_histories
    from standard_coder.sch.mining.merges import load_merge_times
    from standard_coder.sch.mining.store import open_readonly

    up = init(tmp_path / "a_up")
    for i in range(3):
        commit(up, {"m.py": py_lines(i + 1)}, f"c{i}", ts=BASE_TS + 3600 * i)
    git(up, "checkout", "-q", "-b", "side")
    commit(up, {"s.py": py_lines(2)}, "side", ts=BASE_TS + 3600 * 3)
    git(up, "checkout", "-q", "main")
    git(up, "merge", "-q", "--no-ff", "-m", "merge side", "side",
        env={"GIT_AUTHOR_DATE": f"{BASE_TS + 3600 * 4} +0000",
             "GIT_COMMITTER_DATE": f"{BASE_TS + 3600 * 4} +0000"})  # fmt: skip
    git(tmp_path, "clone", "-q", str(up), "b_clone")
    git(up, "worktree", "add", "-q", "-b", "feature", str(tmp_path / "c_wt"))
    extra = commit(tmp_path / "c_wt", {"f.py": py_lines(3)}, "feature", ts=BASE_TS + 3600 * 5)
    db = tmp_path / "db.sqlite"
    summary = mine_repositories(
        [up, tmp_path / "b_clone", tmp_path / "c_wt"], db, options(tmp_path)
    )
    a, b, c = sorted(r.repo for r in summary.repos)
    assert [r.commits_stored for r in sorted(summary.repos, key=lambda r: r.repo)] == [4, 4, 5]
    seen = [(r.repo, r.subject) for r in iter_commits(db, with_files=False)]
    assert sorted(seen) == [(a, "c0"), (a, "c1"), (a, "c2"), (a, "side"), (c, "feature")]
    ((_, _, keys),) = load_commit_times(db).values()
    assert sorted(keys) == sorted((r.repo, r.commit_id) for r in iter_commits(db))
    assert (c, extra) in keys
    ((merges),) = load_merge_times(db).values()
    assert [m[2][0] for m in merges] == [a]  # the merge once, under the first repository
    with closing(open_readonly(db)) as con:
        assert shared_histories(con) == [(b, a, 4), (c, a, 4)]
