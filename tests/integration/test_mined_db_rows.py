"""Bytes garbled inside a row of a finished mined database (issue 15's open finding).

SQLite's ``quick_check`` reads every page's structure, not the bytes of a row's payload (a diff,
a blob, free space in a page). A finished mine stamps the file's checksum in its header; the
check verifies it while the file is as that mine left it, so such a file is set aside and mined
again instead of becoming the resume base (before, the mine found nothing to do and recorded
the garbled file: ``benchmarks/mined_db_sweep.py`` measured 30 of 30 such garbles ending with
other bytes). A database left partial by an interrupted mine is not flagged, and still resumes.
Real git repositories and real SQLite files; seconds.
"""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from gitrepos import BASE_TS, commit, init, py_lines

from standard_coder.config.mining import FiltersSection, ReposSection
from standard_coder.pipelines.sch_options import mine_options
from standard_coder.runner.quarantine import quarantine
from standard_coder.sch.mining import MineOptions, mine_repositories
from standard_coder.sch.mining.canonical import canonical_dump
from standard_coder.sch.mining.integrity import check_database, set_aside_if_corrupt

pytestmark = [pytest.mark.integration]


def options(tmp: Path) -> MineOptions:
    r, f = ReposSection.model_validate({}), FiltersSection.model_validate({})
    return mine_options(r, f, base_dir=tmp, config_dir=tmp, chunk_size=3)


def make_repo(path: Path, n: int, start: int = 0) -> Path:
    if not path.exists():
        init(path)
    for i in range(start, start + n):
        files: dict[str | bytes, str | bytes | None] = {
            f"m{i % 4}.py": py_lines(40 + 7 * i, f"v{i}"),
            f"big{i % 2}.py": py_lines(300),
        }
        commit(path, files, f"c{i}", author=("Alice", "alice@example.com"), ts=BASE_TS + 60 * i)
    return path


def quick_check_passes(db: Path) -> bool:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as con:
        try:
            return con.execute("PRAGMA quick_check").fetchall() == [("ok",)]
        except sqlite3.DatabaseError:
            return False


def garble_a_row(db: Path, clean: bytes) -> int:
    """16 bytes in the middle of the first page (after the schema page) where quick_check sees
    nothing wrong; returns the offset."""
    page = int.from_bytes(clean[16:18], "big")
    for off in range(page + page // 2, len(clean), page):
        data = bytearray(clean)
        data[off : off + 16] = bytes(b ^ 0xA5 for b in data[off : off + 16])
        db.write_bytes(bytes(data))
        if quick_check_passes(db):
            return off
    raise AssertionError("no page where a garble inside a row passes quick_check")


def stage_steps(repo: Path, db: Path, opts: MineOptions) -> tuple[str, Path] | None:
    """The mine stage's own steps: check (set aside when corrupt), mine until done."""
    found = set_aside_if_corrupt(db, lambda p: quarantine(p, db.parent / "quarantine"))
    mine_repositories([repo], db, opts)
    assert check_database(db) is None  # the check before recording
    return found


@pytest.fixture
def finished(tmp_path: Path) -> tuple[Path, Path, MineOptions, bytes]:
    repo = make_repo(tmp_path / "repo", 8)
    db = tmp_path / "out" / "mined_commits.sqlite"
    opts = options(tmp_path)
    mine_repositories([repo], db, opts)
    return repo, db, opts, db.read_bytes()


def test_a_garble_inside_a_row_is_set_aside_and_mined_again(
    finished: tuple[Path, Path, MineOptions, bytes],
) -> None:
    repo, db, opts, clean = finished
    garble_a_row(db, clean)
    reason = check_database(db)
    assert reason is not None and "checksum" in reason
    found = stage_steps(repo, db, opts)
    assert found is not None and found[1].parent == db.parent / "quarantine"
    assert db.read_bytes() == clean  # mined again, not resumed on the garbled rows


def test_the_set_aside_takes_the_wal_and_shm_along(
    finished: tuple[Path, Path, MineOptions, bytes], tmp_path: Path
) -> None:
    """A WAL with frames left next to a corrupt file moves with it (the evidence stays
    together), and the fresh mine ends with the clean bytes: nothing of the old WAL reaches the
    new file (SQLite also discards a WAL found next to an empty database file)."""
    repo, db, opts, clean = finished
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA wal_autocheckpoint=0")
    con.execute("UPDATE repos SET head = 'f' || head")  # frames in the WAL, none in the file
    for suffix in ("", "-wal", "-shm"):  # as a crash leaves them
        shutil.copy(f"{db}{suffix}", crashed / f"{db.name}{suffix}")
    con.close()
    copy = crashed / db.name
    with copy.open("r+b") as fh:
        fh.write(b"garbled header")
    stage_steps(repo, copy, opts)
    moved = sorted(p.name for p in (crashed / "quarantine").iterdir())
    assert [n.rsplit("-", 1)[-1] for n in moved if "-" in n.rsplit(".", 1)[-1]] == ["shm", "wal"]
    assert copy.read_bytes() == clean


def test_a_partial_db_of_an_interrupted_mine_is_not_flagged_and_resumes(
    finished: tuple[Path, Path, MineOptions, bytes], tmp_path: Path
) -> None:
    """After new commits, a mine stopped after its first chunk leaves a DB that differs from
    the stamped one on purpose (its layout mark is gone): it is the resume base, not corrupt."""
    repo, db, opts, _ = finished
    make_repo(repo, 7, start=8)
    calls = {"n": 0}

    def stop() -> bool:
        calls["n"] += 1
        return calls["n"] > 1

    def one_by_one(fn, items):  # type: ignore[no-untyped-def]
        for item in items:
            yield item, fn(item)

    s = mine_repositories([repo], db, opts, map_fn=one_by_one, should_stop=stop)
    assert s.interrupted
    assert check_database(db) is None
    assert stage_steps(repo, db, opts) is None
    fresh = tmp_path / "fresh.sqlite"
    mine_repositories([repo], fresh, opts)
    # the same rows as a mine from scratch (the chunk counters of mine_state differ: an
    # incremental mine counts its own chunks)
    assert canonical_dump(db) == canonical_dump(fresh)
    assert not (db.parent / "quarantine").exists()
