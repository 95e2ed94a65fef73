"""Big folders' snapshots (cache/folders/*.snap): the same checksums as a fresh scan, only
changed files re-read, and any doubt about a snapshot falls back to the rows (real files,
real SQLite)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from standard_coder.runner import hashcache
from standard_coder.runner.hashcache import (
    DictHashCache,
    SqliteHashCache,
    read_snapshot,
    save_snapshot,
    scan_path,
    stat_lines,
)


def _folder(root: Path, n: int = 120) -> Path:
    data = root / "data"
    for i in range(n):
        sub = data / f"d{i % 3}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"f{i:04d}.txt").write_text(f"file {i}\n")
    return data


def _truth(path: Path) -> str:
    """The checksum a scan with no cache at all gives."""
    return scan_path(path, DictHashCache()).checksum


def _snaps(db: Path) -> list[Path]:
    return sorted((db.parent / hashcache.SNAPSHOT_DIR).glob("*.snap"))


def _rescan(db: Path, data: Path, token: str) -> hashcache.PathState:
    cache = SqliteHashCache(db)
    try:
        return scan_path(data, cache, known_token=token)
    finally:
        cache.close()


def test_a_changed_file_is_the_only_one_read_and_the_checksum_is_a_fresh_scans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _folder(tmp_path)
    db = tmp_path / "cache" / "hashcache.sqlite"
    first = _rescan(db, data, "")
    assert first.rehashed == 120 and len(_snaps(db)) == 1
    target = data / "d1" / "f0004.txt"
    target.write_text("changed!\n")
    os.utime(target, ns=(1, 10**18))

    def no_rows(self: SqliteHashCache, folder: str) -> None:
        raise AssertionError("the snapshot, not the rows, answers")

    monkeypatch.setattr(SqliteHashCache, "digests_by_line", no_rows)
    again = _rescan(db, data, first.token)
    assert again.rehashed == 1 and again.checksum == _truth(data) != first.checksum
    assert again.files["d1/f0004.txt"] != first.files["d1/f0004.txt"]
    # the snapshot now holds the new line: a third pass re-reads nothing
    third = _rescan(db, data, first.token)
    assert third.rehashed == 0 and third.checksum == again.checksum


@pytest.mark.parametrize("change", ["added", "removed", "renamed"])
def test_files_added_removed_or_renamed_give_a_fresh_scans_checksum(
    tmp_path: Path, change: str
) -> None:
    data = _folder(tmp_path)
    db = tmp_path / "cache" / "hashcache.sqlite"
    first = _rescan(db, data, "")
    victim = data / "d2" / "f0005.txt"
    if change == "added":
        (data / "d0" / "new.txt").write_text("new\n")
    elif change == "removed":
        victim.unlink()
    else:
        victim.rename(data / "d0" / "moved.txt")
    again = _rescan(db, data, first.token)
    assert again.checksum == _truth(data) != first.checksum
    assert again.rehashed == (0 if change == "removed" else 1)  # a new name is a new line
    # the snapshot was rewritten with exactly the present lines
    known = read_snapshot(db.parent / hashcache.SNAPSHOT_DIR, str(data))
    assert known is not None and sorted(known) == sorted(stat_lines(data))


@pytest.mark.parametrize(
    "damage",
    ["garbage", "truncated", "flipped digest", "another folder", "empty"],
)
def test_a_damaged_or_foreign_snapshot_falls_back_to_the_rows(tmp_path: Path, damage: str) -> None:
    data = _folder(tmp_path)
    db = tmp_path / "cache" / "hashcache.sqlite"
    first = _rescan(db, data, "")
    (snap,) = _snaps(db)
    raw = snap.read_bytes()
    if damage == "garbage":
        snap.write_bytes(os.urandom(len(raw)))
    elif damage == "truncated":
        snap.write_bytes(raw[: len(raw) // 2])
    elif damage == "flipped digest":  # one digest byte changed: the body checksum fails
        snap.write_bytes(raw[:-3] + (b"0" if raw[-3:-2] != b"0" else b"1") + raw[-2:])
    elif damage == "another folder":  # a valid snapshot of another folder under this key
        other = tmp_path / "other"
        save_snapshot(tmp_path / "x", str(other), stat_lines(data), list(first.files.values()))
        (foreign,) = (tmp_path / "x").glob("*.snap")
        snap.write_bytes(foreign.read_bytes())
    else:
        snap.write_bytes(b"")
    assert read_snapshot(db.parent / hashcache.SNAPSHOT_DIR, str(data)) is None
    target = data / "d0" / "f0003.txt"
    target.write_text("different\n")
    again = _rescan(db, data, first.token)
    assert again.rehashed == 1 and again.checksum == _truth(data)
    assert read_snapshot(db.parent / hashcache.SNAPSHOT_DIR, str(data)) is not None  # rewritten


def test_odd_names_round_trip(tmp_path: Path) -> None:
    data = _folder(tmp_path, 70)
    odd = [b"new\nline", b"tab\tand \xff\xfe bytes", b"nul-free \x01\x02"]
    for name in odd:
        (data / "d0" / os.fsdecode(name)).write_bytes(name)
    lines = stat_lines(data)
    shas = [f"{i:064x}" for i in range(len(lines))]
    save_snapshot(tmp_path / "snaps", str(data), lines, shas)
    assert read_snapshot(tmp_path / "snaps", str(data)) == dict(zip(lines, shas, strict=True))
    # through a scan: a name that is not UTF-8 cannot be a SQLite TEXT row; it is hashed
    # again each run (kept in memory) instead of raising UnicodeEncodeError
    db = tmp_path / "cache" / "hashcache.sqlite"
    first = _rescan(db, data, "")
    assert first.checksum == _truth(data)
    (data / "d0" / os.fsdecode(odd[0])).write_bytes(b"changed")
    again = _rescan(db, data, first.token)
    assert again.rehashed <= 2 and again.checksum == _truth(data)


def test_a_name_that_is_not_utf8_is_hashed_without_a_row(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "plain.txt").write_text("plain")
    (data / os.fsdecode(b"caf\xe9.txt")).write_bytes(b"latin-1 name")
    db = tmp_path / "cache" / "hashcache.sqlite"
    cache = SqliteHashCache(db)
    try:
        state = scan_path(data, cache)
        assert state.checksum == _truth(data)
        again = scan_path(data, cache)  # same cache object: the odd row is in its memory
        assert again.checksum == state.checksum
    finally:
        cache.close()
    assert _rescan(db, data, "").checksum == state.checksum  # a new run: hashed again


def test_a_readonly_cache_reads_snapshots_but_writes_none(tmp_path: Path) -> None:
    data = _folder(tmp_path)
    db = tmp_path / "cache" / "hashcache.sqlite"
    first = _rescan(db, data, "")
    (snap,) = _snaps(db)
    before = snap.read_bytes()
    (data / "d1" / "f0001.txt").write_text("other\n")
    cache = SqliteHashCache(db, readonly=True)
    try:
        state = scan_path(data, cache, known_token=first.token)
    finally:
        cache.close()
    assert state.rehashed == 1 and state.checksum == _truth(data)
    assert snap.read_bytes() == before and len(_snaps(db)) == 1
