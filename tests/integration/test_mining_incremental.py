"""Incremental, resumable, exact: the database always equals a clean mine of the current config."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from gitrepos import BASE_TS, commit, git, init, py_lines

from proctools import child_env
from standard_coder.config.mining import FiltersSection, ReposSection
from standard_coder.pipelines.sch_options import mine_options
from standard_coder.sch.mining import MineOptions, canonical_dump, mine_repositories

pytestmark = pytest.mark.integration


def options(
    tmp: Path,
    repos: dict[str, Any] | None = None,
    filters: dict[str, Any] | None = None,
    chunk_size: int = 2,
) -> MineOptions:
    r = ReposSection.model_validate(repos or {})
    f = FiltersSection.model_validate(filters or {})
    return mine_options(r, f, base_dir=tmp, config_dir=tmp, chunk_size=chunk_size)


def clean_dump(repos: list[Path], opts: MineOptions, tmp: Path) -> str:
    db = tmp / f"clean-{time.monotonic_ns()}.sqlite"
    mine_repositories(repos, db, opts)
    return canonical_dump(db)


def clean_bytes(repos: list[Path], opts: MineOptions, tmp: Path) -> bytes:
    """The bytes of a clean, uninterrupted mine (two-thread default map)."""
    db = tmp / f"clean-{time.monotonic_ns()}.sqlite"
    mine_repositories(repos, db, opts)
    return db.read_bytes()


def make_repo(path: Path, n: int, start: int = 0) -> Path:
    if not path.exists():
        init(path)
    authors = [("Alice", "alice@example.com"), ("Bob", "bob@example.com")]
    for i in range(start, start + n):
        commit(
            path,
            {f"m{i % 3}.py": py_lines(i + 2, f"v{i}"), "notes.txt": f"{i}\n"},
            f"c{i}",
            author=authors[i % 2],
            ts=BASE_TS + 60 * i,
            tz="+0200",
        )
    return path


def count(db: Path, sql: str) -> int:
    con = sqlite3.connect(db)
    try:
        return int(con.execute(sql).fetchone()[0])
    finally:
        con.close()


def test_new_commits_mine_only_those(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", 5)
    db = tmp_path / "db.sqlite"
    opts = options(tmp_path)
    s1 = mine_repositories([repo], db, opts)
    assert (s1.chunks_mined, s1.commits_mined) == (3, 5)
    s2 = mine_repositories([repo], db, opts)
    assert (s2.chunks_mined, s2.repos[0].status) == (0, "unchanged")
    make_repo(repo, 3, start=5)
    s3 = mine_repositories([repo], db, opts)
    assert (s3.chunks_mined, s3.commits_mined) == (2, 3)
    assert count(db, "SELECT COUNT(*) FROM commits") == 8
    assert canonical_dump(db) == clean_dump([repo], opts, tmp_path)


def test_a_new_branch_or_tag_leaves_the_database_as_it_was(tmp_path: Path) -> None:
    """Every ref was in the mine's key: ``git branch`` made the mine re-plan and rewrite its
    state row, the database's bytes changed, and the training reran on the same commits."""
    repo = make_repo(tmp_path / "r", 5)
    db = tmp_path / "db.sqlite"
    opts = options(tmp_path)
    mine_repositories([repo], db, opts)
    before = db.read_bytes()
    git(repo, "branch", "elsewhere", "HEAD~2")
    git(repo, "tag", "v1.0")
    again = mine_repositories([repo], db, opts)
    assert again.repos[0].status == "unchanged"
    assert db.read_bytes() == before
    assert before == clean_bytes([repo], opts, tmp_path)  # what a clean mine writes now
    # git replace rewrites the history git log walks: that is no "unchanged"
    git(repo, "replace", "--graft", "HEAD", "HEAD~3")
    assert mine_repositories([repo], db, opts).repos[0].status != "unchanged"


def test_filter_and_mailmap_changes_update_rows(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", 6)
    db = tmp_path / "db.sqlite"
    base = options(tmp_path)
    mine_repositories([repo], db, base)
    assert count(db, "SELECT COUNT(*) FROM commits WHERE author_id='bob@example.com'") == 3
    # newly excluded author: rows (and their now-unused blobs) disappear, nothing is remined
    no_bob = options(tmp_path, filters={"authors": {"exclude": ["BOB"]}})
    s = mine_repositories([repo], db, no_bob)
    assert s.chunks_mined == 0 and s.repos[0].skipped_by_filter == 3
    assert count(db, "SELECT COUNT(*) FROM commits WHERE author_id='bob@example.com'") == 0
    assert canonical_dump(db) == clean_dump([repo], no_bob, tmp_path)
    # included again: only Bob's commits are mined
    s = mine_repositories([repo], db, base)
    assert s.commits_mined == 3
    assert canonical_dump(db) == clean_dump([repo], base, tmp_path)
    # a regex include rule
    only_alice = options(tmp_path, filters={"authors": {"include": ["re:^alice@"]}})
    mine_repositories([repo], db, only_alice)
    assert canonical_dump(db) == clean_dump([repo], only_alice, tmp_path)
    mine_repositories([repo], db, base)
    # .mailmap change (working tree, no commit): identities are rewritten in place
    (repo / ".mailmap").write_text("Robert <robert@example.com> <bob@example.com>\n")
    s = mine_repositories([repo], db, base)
    assert s.chunks_mined == 0
    assert count(db, "SELECT COUNT(*) FROM commits WHERE author_id='robert@example.com'") == 3
    assert canonical_dump(db) == clean_dump([repo], base, tmp_path)


def test_rewritten_history_removed_repo_and_options(tmp_path: Path) -> None:
    a = make_repo(tmp_path / "a", 5)
    b = make_repo(tmp_path / "b", 3)
    db = tmp_path / "db.sqlite"
    opts = options(tmp_path)
    mine_repositories([a, b], db, opts)
    git(a, "reset", "-q", "--hard", "HEAD~2")
    commit(a, {"new.py": "n = 1\n"}, "rewritten", ts=BASE_TS + 9999)
    s = mine_repositories([a, b], db, opts)
    assert s.commits_mined == 1
    assert canonical_dump(db) == clean_dump([a, b], opts, tmp_path)
    # repo b removed from the config: its rows go
    mine_repositories([a], db, opts)
    assert canonical_dump(db) == clean_dump([a], opts, tmp_path)
    # most recent N commits only; a new commit pushes the oldest out
    last3 = options(tmp_path, repos={"max_commits_per_repo": 3})
    mine_repositories([a], db, last3)
    assert count(db, "SELECT COUNT(*) FROM commits") == 3
    commit(a, {"newer.py": "n = 2\n"}, "newer", ts=BASE_TS + 10999)
    s = mine_repositories([a], db, last3)
    assert s.commits_mined == 1
    assert canonical_dump(db) == clean_dump([a], last3, tmp_path)
    # extraction options changed (languages): the repo is remined
    txt = options(
        tmp_path,
        filters={
            "languages": {
                "enabled": ["python", "text"],
                "extensions": {"python": [".py"], "text": [".txt"]},
            }
        },
    )
    mine_repositories([a], db, txt)
    assert count(db, "SELECT COUNT(*) FROM file_changes WHERE language='text'") > 0
    assert canonical_dump(db) == clean_dump([a], txt, tmp_path)


def test_a_changed_diff_parser_remines_unchanged_repos(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows made by other parsing code are never kept (the extract key holds the code)."""
    from standard_coder.sch.mining import options as options_mod

    a = make_repo(tmp_path / "a", 4)
    db = tmp_path / "db.sqlite"
    opts = options(tmp_path)
    mine_repositories([a], db, opts)
    assert mine_repositories([a], db, opts).commits_mined == 0
    monkeypatch.setattr(options_mod, "_source_digest", lambda *names: "edited gitlog.py")
    assert mine_repositories([a], db, opts).commits_mined == 4


KILL_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from standard_coder.config.mining import FiltersSection, ReposSection
    from standard_coder.pipelines.sch_options import mine_options
    from standard_coder.sch.mining import mine_repositories

    def slow_map(fn, items):
        for item in items:
            res = fn(item)
            yield item, res
            time.sleep(0.15)

    opts = mine_options(ReposSection(), FiltersSection(), base_dir=Path("."),
                                     chunk_size=1)
    mine_repositories([Path(p) for p in sys.argv[2:]], Path(sys.argv[1]), opts, map_fn=slow_map)
    """
)


def test_sigkill_mid_mine_then_rerun_equals_clean_mine(tmp_path: Path) -> None:
    a = make_repo(tmp_path / "a", 8)
    b = make_repo(tmp_path / "b", 6)
    db = tmp_path / "db.sqlite"
    script = tmp_path / "mine_slowly.py"
    script.write_text(KILL_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), str(db), str(a), str(b)], env=child_env())
    deadline = time.monotonic() + 60
    done = 0
    while time.monotonic() < deadline and proc.poll() is None:
        if db.exists():
            try:
                done = count(db, "SELECT COALESCE(SUM(chunks_done), 0) FROM mine_state")
            except sqlite3.OperationalError:
                done = 0
            if done >= 4:
                break
        time.sleep(0.02)
    assert proc.poll() is None, "the miner finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    committed = count(db, "SELECT COUNT(*) FROM commits") + count(
        db, "SELECT COUNT(*) FROM skipped_commits"
    )
    assert 4 <= committed < 14
    opts = mine_options(ReposSection(), FiltersSection(), base_dir=tmp_path, chunk_size=1)
    s = mine_repositories([a, b], db, opts)
    assert s.commits_mined == 14 - committed  # nothing committed is mined again
    assert canonical_dump(db) == clean_dump([a, b], opts, tmp_path)
    # byte for byte too: the finished database is rewritten in canonical order
    assert db.read_bytes() == clean_bytes([a, b], opts, tmp_path)
    assert not list(tmp_path.glob("*.canonical.tmp"))


def test_process_pool_map_gives_the_same_database(tmp_path: Path) -> None:
    """Chunks are picklable and a process-pool ``map_fn`` (like the runner's) gives equal rows."""
    from concurrent.futures import ProcessPoolExecutor

    a = make_repo(tmp_path / "a", 5)
    b = make_repo(tmp_path / "b", 4)
    opts = options(tmp_path)
    db = tmp_path / "pool.sqlite"
    with ProcessPoolExecutor(2) as pool:

        def pool_map(fn: Any, items: Any) -> Any:
            items = list(items)
            return zip(items, pool.map(fn, items), strict=True)

        s = mine_repositories([a, b], db, opts, map_fn=pool_map)
    assert s.chunks_mined == 3 + 2
    assert canonical_dump(db) == clean_dump([a, b], opts, tmp_path)
    assert db.read_bytes() == clean_bytes([a, b], opts, tmp_path)


def test_chunks_finishing_in_any_order_give_the_same_bytes(tmp_path: Path) -> None:
    """Rows are written as chunks finish; the finished file depends on the history only."""
    a = make_repo(tmp_path / "a", 7)
    b = make_repo(tmp_path / "b", 5)
    opts = options(tmp_path)

    def reversed_map(fn: Any, items: Any) -> Any:
        for item in reversed(list(items)):
            yield item, fn(item)

    dbs = []
    for name, map_fn in (("forward", None), ("reversed", reversed_map)):
        db = tmp_path / f"{name}.sqlite"
        mine_repositories([a, b], db, opts, map_fn=map_fn)
        dbs.append(db)
    assert canonical_dump(dbs[0]) == canonical_dump(dbs[1])
    assert dbs[0].read_bytes() == dbs[1].read_bytes()
    # a rerun with nothing new leaves the bytes alone (no rewrite, no journal-mode switch)
    before = dbs[1].read_bytes()
    mine_repositories([a, b], dbs[1], opts)
    assert dbs[1].read_bytes() == before
    # rows written by a run killed before its rewrite (same rows, another order): the next
    # run rewrites the file although it has nothing to mine
    from standard_coder.sch.mining import store

    con = store.connect(dbs[1])
    with store.transaction(con):
        row = con.execute("SELECT * FROM commits ORDER BY commit_id LIMIT 1").fetchone()
        con.execute("DELETE FROM commits WHERE repo = ? AND commit_id = ?", row[:2])
        con.execute(f"INSERT INTO commits VALUES ({','.join('?' * len(row))})", row)
    con.close()
    assert canonical_dump(dbs[1]) == canonical_dump(dbs[0])
    assert dbs[1].read_bytes() != before
    s = mine_repositories([a, b], dbs[1], opts)
    assert s.commits_mined == 0
    assert dbs[1].read_bytes() == before


def test_stop_request_interrupts_then_resumes(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", 7)
    db = tmp_path / "db.sqlite"
    opts = options(tmp_path)
    progress: list[tuple[str, int, int | None]] = []
    events: list[str] = []
    chunks_seen = []

    def stop() -> bool:
        return len(chunks_seen) >= 1

    def one_by_one(fn: Any, items: Any) -> Any:
        for item in items:
            chunks_seen.append(item)
            yield item, fn(item)

    s = mine_repositories(
        [repo],
        db,
        opts,
        map_fn=one_by_one,
        should_stop=stop,
        on_event=lambda n, f: events.append(n),
        on_progress=lambda r, d, t: progress.append((r, d, t)),
    )
    assert s.interrupted and s.repos[0].status == "interrupted"
    assert s.chunks_mined == 1 and "mine_repo_done" not in events
    assert progress[0][1:] == (0, 7) and progress[-1][1:] == (2, 7)
    resumed: list[tuple[str, int, int | None]] = []
    s2 = mine_repositories([repo], db, opts, on_progress=lambda r, d, t: resumed.append((r, d, t)))
    assert not s2.interrupted and s2.commits_mined == 5
    # the resumed mine counts on from what is stored (it said 0/5 before, the [resume] line 2)
    assert resumed[0][1:] == (2, 7) and resumed[-1][1:] == (7, 7)
    assert canonical_dump(db) == clean_dump([repo], opts, tmp_path)
    assert db.read_bytes() == clean_bytes([repo], opts, tmp_path)


def test_discover_applies_repo_filter(tmp_path: Path) -> None:
    from standard_coder.sch.mining import discover

    for name in ("keep", "drop-me"):
        make_repo(tmp_path / "code" / name, 1)
    o = mine_options(
        ReposSection(include_paths=["code/*"]),
        FiltersSection.model_validate({"repos": {"exclude": ["drop"]}}),
        base_dir=tmp_path,
        config_dir=tmp_path,
    )
    assert [p.name for p in discover(o).repos] == ["keep"]


def test_the_rewrite_empties_another_connections_wal_first_and_never_skips(
    tmp_path: Path,
) -> None:
    """An idle connection with frames in the WAL (a reader or writer not yet closed) no longer
    makes the rewrite leave the file as it was (its bytes then followed the order chunks
    finished in): the frames are checkpointed, the WAL emptied, the file rewritten, and the
    stale -wal/-shm removed so nothing of the old file is replayed onto the new one."""
    from standard_coder.sch.mining import canonical, store

    repo = make_repo(tmp_path / "r", 3)
    db = tmp_path / "db.sqlite"
    opts = options(tmp_path)
    mine_repositories([repo], db, opts)
    clean = db.read_bytes()
    other = store.connect(db)
    other.execute("PRAGMA wal_autocheckpoint=0")
    with store.transaction(other):
        other.execute("UPDATE repos SET head = head")
    assert (tmp_path / "db.sqlite-wal").stat().st_size > 0
    assert not canonical.is_canonical(other)
    assert canonical.rewrite_canonical(db) is True
    assert not list(tmp_path.glob("*.canonical.tmp"))
    assert db.read_bytes() == clean
    assert not (tmp_path / "db.sqlite-wal").exists()
    other.close()
    assert db.read_bytes() == clean  # closing the old connection touches the new file not
    with closing(store.connect(db)) as fresh:
        assert canonical.is_canonical(fresh)
    assert db.read_bytes() == clean


def test_the_rewrite_fails_loudly_when_a_read_holds_the_wal(tmp_path: Path) -> None:
    """A reader in the middle of a read keeps frames in the WAL: the rewrite waits, then fails
    with a line naming the file (never a silent skip), and leaves the file as it was."""
    from standard_coder.sch.mining import canonical, store

    repo = make_repo(tmp_path / "r", 3)
    db = tmp_path / "db.sqlite"
    mine_repositories([repo], db, options(tmp_path))
    writer = store.connect(db)
    writer.execute("PRAGMA wal_autocheckpoint=0")
    with store.transaction(writer):
        writer.execute("UPDATE repos SET head = head")
    reader = store.connect(db)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM commits").fetchone()  # holds a snapshot
    with store.transaction(writer):  # a frame the reader's snapshot does not include
        writer.execute("UPDATE repos SET head = 'x'")
    inode = db.stat().st_ino
    with pytest.raises(canonical.CanonicalRewriteError, match=str(db)):
        canonical.rewrite_canonical(db, wait_s=0.3)
    assert db.stat().st_ino == inode and not list(tmp_path.glob("*.canonical.tmp"))
    reader.execute("COMMIT")
    reader.close()
    writer.close()


def _mine_cli(tmp_path: Path, repo: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """The CLI on a config that mines ``repo`` alone (one worker)."""
    cfg = tmp_path / "pipeline_config.toml"
    cfg.write_text(f'[repos]\ninclude_paths = ["{repo}"]\n[runner]\nworkers = 1\n')
    env = child_env(COLUMNS="200")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "standard_coder", *args, "--config", str(cfg)]
        return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)

    return cli


def test_a_mailmap_edit_reruns_the_mine_stage_and_joins_the_authors(tmp_path: Path) -> None:
    """The runner's up-to-date check covers the working tree's .mailmap: no --force needed."""
    repo = make_repo(tmp_path / "r", 4)
    cli = _mine_cli(tmp_path, repo)
    assert cli("pipeline", "--stages", "mine").returncode == 0
    db = tmp_path / "sc-output" / "raw" / "mined_commits.sqlite"
    assert count(db, "SELECT COUNT(*) FROM commits WHERE author_id='bob@example.com'") == 2
    (repo / ".mailmap").write_text("Robert <robert@example.com> <bob@example.com>\n")
    rows = json.loads(cli("status", "--json").stdout)["stages"]
    assert rows[0]["stage"] == "mine" and rows[0]["reason"].startswith("input changed: git:")
    rerun = cli("pipeline", "--stages", "mine")
    assert rerun.returncode == 0 and "[run] mine: input changed" in rerun.stderr, rerun.stderr
    assert count(db, "SELECT COUNT(*) FROM commits WHERE author_id='robert@example.com'") == 2


def test_a_mailmap_file_setting_edit_reruns_the_mine_stage_and_joins_the_authors(
    tmp_path: Path,
) -> None:
    """`git config mailmap.file X`: an edit of X reruns mine (status says so) and the rerun
    joins the authors (the mining's refs key covers the setting too, not only the runner's)."""
    repo = make_repo(tmp_path / "r", 4)
    people = tmp_path / "people.map"
    people.write_text("Bob <bob@example.com> <bob@example.com>\n")
    git(repo, "config", "mailmap.file", str(people))
    cli = _mine_cli(tmp_path, repo)
    assert cli("pipeline", "--stages", "mine").returncode == 0
    db = tmp_path / "sc-output" / "raw" / "mined_commits.sqlite"
    assert count(db, "SELECT COUNT(*) FROM commits WHERE author_id='bob@example.com'") == 2
    people.write_text("Robert <robert@example.com> <bob@example.com>\n")
    rows = json.loads(cli("status", "--json").stdout)["stages"]
    assert rows[0]["stage"] == "mine" and rows[0]["reason"].startswith("input changed: git:")
    rerun = cli("pipeline", "--stages", "mine")
    assert rerun.returncode == 0 and "[run] mine: input changed" in rerun.stderr, rerun.stderr
    assert count(db, "SELECT COUNT(*) FROM commits WHERE author_id='robert@example.com'") == 2
