"""Hash cache and folder checksums: real files, real SQLite."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from standard_coder.runner.errors import CorruptStateError, InputMissing
from standard_coder.runner.hashcache import (
    DictHashCache,
    SqliteHashCache,
    folder_checksum,
    scan_path,
    sha256_file,
)


def _tree(root: Path, n: int = 5) -> None:
    (root / "sub").mkdir(parents=True)
    for i in range(n):
        (root / f"f{i}.txt").write_text(f"file {i}\n")
    (root / "sub" / "deep.bin").write_bytes(os.urandom(3000))


def test_sha256_file_matches_hashlib_across_chunks(tmp_path: Path) -> None:
    blob = os.urandom((1 << 20) * 2 + 17)
    (tmp_path / "big").write_bytes(blob)
    assert sha256_file(tmp_path / "big") == hashlib.sha256(blob).hexdigest()


def test_second_scan_reads_nothing_and_touch_rehashes_once(tmp_path: Path) -> None:
    _tree(tmp_path / "d")
    cache = DictHashCache()
    first = scan_path(tmp_path / "d", cache)
    assert first.rehashed == 6
    again = scan_path(tmp_path / "d", cache)
    assert again.rehashed == 0 and again.checksum == first.checksum
    os.utime(tmp_path / "d" / "f3.txt", ns=(1, 10**18))
    touched = scan_path(tmp_path / "d", cache, known_token=first.token)
    assert touched.rehashed == 1 and touched.checksum == first.checksum
    assert touched.token != first.token


def test_known_token_short_circuits(tmp_path: Path) -> None:
    _tree(tmp_path / "d")
    cache = DictHashCache()
    first = scan_path(tmp_path / "d", cache)
    quick = scan_path(tmp_path / "d", DictHashCache(), known_token=first.token)
    assert quick.checksum == "" and quick.token == first.token


def test_checksum_depends_on_relative_names_not_location(tmp_path: Path) -> None:
    _tree(tmp_path / "a")
    _tree(tmp_path / "b")
    for name in ("f0.txt", "f1.txt", "f2.txt", "f3.txt", "f4.txt"):
        (tmp_path / "b" / name).write_bytes((tmp_path / "a" / name).read_bytes())
    (tmp_path / "b" / "sub" / "deep.bin").write_bytes((tmp_path / "a/sub/deep.bin").read_bytes())
    a = scan_path(tmp_path / "a", DictHashCache()).checksum
    assert a == scan_path(tmp_path / "b", DictHashCache()).checksum
    os.rename(tmp_path / "b" / "f0.txt", tmp_path / "b" / "g0.txt")
    assert a != scan_path(tmp_path / "b", DictHashCache()).checksum


def test_folder_checksum_is_order_independent() -> None:
    assert folder_checksum({"a": "1", "b": "2"}) == folder_checksum({"b": "2", "a": "1"})
    assert folder_checksum({"": "abc"}) == "abc"


def test_missing_path_names_it(tmp_path: Path) -> None:
    with pytest.raises(InputMissing, match="nope"):
        scan_path(tmp_path / "nope", DictHashCache())


def test_sqlite_cache_persists_between_opens(tmp_path: Path) -> None:
    _tree(tmp_path / "d")
    db = tmp_path / "cache.sqlite"
    cache = SqliteHashCache(db)
    assert scan_path(tmp_path / "d", cache).rehashed == 6
    cache.close()
    cache = SqliteHashCache(db)
    assert scan_path(tmp_path / "d", cache).rehashed == 0
    cache.close()


def test_readonly_cache_writes_nothing(tmp_path: Path) -> None:
    _tree(tmp_path / "d")
    db = tmp_path / "cache.sqlite"
    cache = SqliteHashCache(db, readonly=True)
    scan_path(tmp_path / "d", cache)
    cache.close()
    assert not db.exists()


def test_a_readonly_reader_leaves_the_folder_as_it_found_it(tmp_path: Path) -> None:
    """``status`` and ``--dry-run`` read the cache: SQLite's read-only mode would leave a
    ``-wal`` and a ``-shm`` beside a WAL database it opened; the reader removes them on close,
    changes no row, sees a running writer's rows, and reads a read-only folder's cache."""
    _tree(tmp_path / "d")
    db = tmp_path / "c" / "cache.sqlite"
    cache = SqliteHashCache(db)
    first = scan_path(tmp_path / "d", cache)
    cache.close()
    assert sorted(p.name for p in db.parent.iterdir()) == ["cache.sqlite"]
    before = db.read_bytes()
    reader = SqliteHashCache(db, readonly=True)
    (tmp_path / "d" / "f0.txt").write_text("changed\n")
    again = scan_path(tmp_path / "d", reader)
    assert again.rehashed == 1 and again.checksum != first.checksum
    reader.close()
    assert sorted(p.name for p in db.parent.iterdir()) == ["cache.sqlite"]
    assert db.read_bytes() == before
    writer = SqliteHashCache(db)
    scan_path(tmp_path / "d", writer)  # the changed file's row, in the writer's log
    reader = SqliteHashCache(db, readonly=True)
    assert scan_path(tmp_path / "d", reader).rehashed == 0
    reader.close()
    writer.close()
    assert sorted(p.name for p in db.parent.iterdir()) == ["cache.sqlite"]
    os.chmod(db.parent, 0o555)
    try:
        reader = SqliteHashCache(db, readonly=True)
        assert scan_path(tmp_path / "d", reader).rehashed == 0
        reader.close()
    finally:
        os.chmod(db.parent, 0o755)


@pytest.mark.parametrize("garbage", [b"not a database at all" * 100, b"SQLite format 3\x00trunc"])
def test_corrupt_cache_file_raises_corrupt_state(tmp_path: Path, garbage: bytes) -> None:
    db = tmp_path / "cache.sqlite"
    db.write_bytes(garbage)
    with pytest.raises(CorruptStateError, match="hash cache"):
        SqliteHashCache(db)


def test_big_folder_preloads_rows_and_rehashes_only_the_touched_file(tmp_path: Path) -> None:
    data = tmp_path / "d"
    data.mkdir()
    for i in range(100):
        (data / f"f{i:03d}").write_text(str(i))
    sibling = tmp_path / "d0"  # sorts right after "d/": must not leak into the preload
    sibling.mkdir()
    (sibling / "x").write_text("x")
    db = tmp_path / "cache.sqlite"
    cache = SqliteHashCache(db)
    first = scan_path(data, cache)
    scan_path(sibling, cache)
    cache.close()
    os.utime(data / "f050", ns=(1, 10**18))
    cache = SqliteHashCache(db)
    again = scan_path(data, cache, known_token=first.token)
    assert again.rehashed == 1 and again.checksum == first.checksum
    assert all(not p.startswith(str(sibling)) for p in cache._preloaded)
    cache.close()


def _link_sha(target: str) -> str:
    return hashlib.sha256(b"symlink\0" + target.encode()).hexdigest()


@pytest.mark.parametrize("big", [False, True], ids=["rows", "snapshot"])
def test_a_link_that_leads_nowhere_is_hashed_by_its_target_path(tmp_path: Path, big: bool) -> None:
    """Session 42: the walk followed every link and one that led nowhere raised, so a stage
    whose folder output held one failed as it completed. It is now an entry of its own (its
    ``lstat``), hashed by its target path; a link that resolves is followed, as before."""
    data = tmp_path / "d"
    _tree(data, n=100 if big else 5)
    (data / "latest").symlink_to("run-9")  # leads nowhere
    (data / "sub" / "loop").symlink_to("loop")  # leads to itself
    (data / "up").symlink_to("f1.txt")  # resolves: the file's bytes
    db = tmp_path / "cache" / "hashcache.sqlite"
    cache = SqliteHashCache(db)
    try:
        first = scan_path(data, cache)
        assert first.files["latest"] == _link_sha("run-9")
        assert first.files["sub/loop"] == _link_sha("loop")
        assert first.files["up"] == first.files["f1.txt"] == sha256_file(data / "f1.txt")
        assert first.checksum == scan_path(data, DictHashCache()).checksum
        again = scan_path(data, cache)
        assert again.rehashed == 0 and again.checksum == first.checksum
        (data / "latest").unlink()
        (data / "latest").symlink_to("run-8")  # re-pointed, nowhere still
        moved = scan_path(data, cache, known_token=first.token)
        assert moved.files["latest"] == _link_sha("run-8") and moved.checksum != first.checksum
        assert moved.rehashed == 1
        (data / "latest").unlink()
        (data / "latest").symlink_to("run-9")  # back: the same checksum
        assert scan_path(data, cache, known_token=moved.token).checksum == first.checksum
        (data / "run-9").write_text("found\n")  # the link now resolves: its target's bytes
        found = scan_path(data, cache, known_token=first.token)
        assert found.files["latest"] == hashlib.sha256(b"found\n").hexdigest()
    finally:
        cache.close()


def test_a_link_that_gains_a_target_after_the_walk_is_hashed_as_the_walk_saw_it(
    tmp_path: Path,
) -> None:
    """The walk's line of a link that leads nowhere is the link's own ``lstat``: should its
    target appear before the content pass, the digest is still the link's (a row of the
    target's bytes under the link's stat would be served once the target is gone again)."""
    from standard_coder.runner.hashcache import entry_digest

    link = tmp_path / "latest"
    link.symlink_to("run-9")
    inode = link.lstat().st_ino
    assert entry_digest(str(link), inode) == _link_sha("run-9")
    (tmp_path / "run-9").write_text("found\n")
    assert entry_digest(str(link), inode) == _link_sha("run-9")
    target = (tmp_path / "run-9").stat().st_ino  # the walk now follows it: the file's bytes
    assert entry_digest(str(link), target) == hashlib.sha256(b"found\n").hexdigest()
    (tmp_path / "run-9").unlink()
    link.unlink()
    with pytest.raises(FileNotFoundError):  # gone since the walk: the walk's error
        entry_digest(str(link), inode)
