"""One contract, both hash-cache backends: ``DictHashCache`` and ``SqliteHashCache`` must
answer ``get``/``put_many`` the same way and give ``scan_path`` the same results."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from standard_coder.runner.hashcache import (
    DictHashCache,
    HashCache,
    SqliteHashCache,
    scan_path,
    sha256_file,
)

Factory = Callable[[Path], HashCache]
BACKENDS: dict[str, Factory] = {
    "dict": lambda tmp: DictHashCache(),
    "sqlite": lambda tmp: SqliteHashCache(tmp / "cache" / "hashcache.sqlite"),
}


@pytest.fixture(params=sorted(BACKENDS))
def cache(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HashCache]:
    backend = BACKENDS[request.param](tmp_path)
    yield backend
    backend.close()


def _tree(root: Path, n: int = 70) -> None:
    (root / "sub").mkdir(parents=True)
    for i in range(n):  # > 64 files: the SQLite backend preloads the folder's rows
        (root / f"f{i:03d}.txt").write_text(f"file {i}\n")
    (root / "sub" / "deep.bin").write_bytes(os.urandom(5000))


def test_get_misses_until_put(cache: HashCache) -> None:
    assert cache.get("/x/a", 1, 2, 3) is None
    cache.put_many([("/x/a", 1, 2, 3, "ab" * 32)])
    assert cache.get("/x/a", 1, 2, 3) == "ab" * 32


@pytest.mark.parametrize("stat", [(9, 2, 3), (1, 9, 3), (1, 2, 9)])
def test_any_stat_change_misses(cache: HashCache, stat: tuple[int, int, int]) -> None:
    cache.put_many([("/x/a", 1, 2, 3, "ab" * 32)])
    assert cache.get("/x/a", *stat) is None


def test_put_replaces_the_row_of_a_path(cache: HashCache) -> None:
    cache.put_many([("/x/a", 1, 2, 3, "ab" * 32)])
    cache.put_many([("/x/a", 1, 2, 4, "cd" * 32)])
    assert cache.get("/x/a", 1, 2, 3) is None and cache.get("/x/a", 1, 2, 4) == "cd" * 32


def test_put_many_takes_a_generator(cache: HashCache) -> None:
    cache.put_many((f"/x/{i}", i, i, i, f"{i:064x}") for i in range(5))
    assert [cache.get(f"/x/{i}", i, i, i) for i in range(5)] == [f"{i:064x}" for i in range(5)]


def test_scan_hashes_once_then_reads_nothing(cache: HashCache, tmp_path: Path) -> None:
    _tree(tmp_path / "d")
    first = scan_path(tmp_path / "d", cache)
    assert first.rehashed == 71
    assert first.files["sub/deep.bin"] == sha256_file(tmp_path / "d" / "sub" / "deep.bin")
    again = scan_path(tmp_path / "d", cache)
    assert again.rehashed == 0 and again.checksum == first.checksum and again.files == first.files


def test_scan_rehashes_only_what_changed(cache: HashCache, tmp_path: Path) -> None:
    _tree(tmp_path / "d")
    first = scan_path(tmp_path / "d", cache)
    (tmp_path / "d" / "f005.txt").write_text("edited\n")
    os.utime(tmp_path / "d" / "f006.txt", ns=(1, 10**18))
    second = scan_path(tmp_path / "d", cache, known_token=first.token)
    assert second.rehashed == 2 and second.checksum != first.checksum
    assert {k for k in first.files if first.files[k] != second.files[k]} == {"f005.txt"}


def test_backends_agree_on_checksums(cache: HashCache, tmp_path: Path) -> None:
    _tree(tmp_path / "d")
    reference = scan_path(tmp_path / "d", DictHashCache())
    got = scan_path(tmp_path / "d", cache)
    assert (got.checksum, got.token, got.files) == (
        reference.checksum,
        reference.token,
        reference.files,
    )


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_close_is_idempotent_and_keeps_what_was_put(backend: str, tmp_path: Path) -> None:
    cache = BACKENDS[backend](tmp_path)
    cache.put_many([("a.txt", 1, 2, 3, "d" * 64)])
    cache.close()
    cache.close()  # a second close (engine teardown after an error path) must not raise
    if backend == "sqlite":  # the persistent backend answers after a reopen
        again = BACKENDS[backend](tmp_path)
        try:
            assert again.get("a.txt", 1, 2, 3) == "d" * 64
        finally:
            again.close()
