"""``runner.statwalk.walk_folder``: the runner's one walker of folders, in its two modes (real
files, links, a FIFO, a path too long to read)."""

from __future__ import annotations

import errno
import hashlib
import os
import sys
from pathlib import Path

import pytest

from standard_coder.runner.statwalk import walk_folder, walk_lines


def _tree(root: Path) -> Path:
    """``a/x.txt``, ``b.txt``, ``c/`` (holds ``d.txt``), and beside them a link to a file, a
    link to a folder, a link that leads nowhere, one that leads to itself, and a FIFO."""
    (root / "a").mkdir(parents=True)
    (root / "a" / "x.txt").write_text("x\n")
    (root / "b.txt").write_text("b\n")
    (root / "c").mkdir()
    (root / "c" / "d.txt").write_text("d\n")
    (root / "to-file").symlink_to("b.txt")
    (root / "to-folder").symlink_to("c")
    (root / "latest").symlink_to("run-9")
    (root / "loop").symlink_to("loop")
    os.mkfifo(root / "pipe")
    return root


def _names(lines: list[str]) -> list[str]:
    return [line.split("\0", 1)[0] for line in lines]


def _inode(line: str) -> int:
    return int(line.split("\0")[1])


def test_following_links_lists_what_the_files_hold(tmp_path: Path) -> None:
    """The checksum's mode: links that resolve are followed (a folder link is walked into), a
    link that leads nowhere is listed by its own ``lstat``, a FIFO holds no bytes to hash."""
    root = _tree(tmp_path / "t")
    out: list[str] = []
    newest = walk_folder(str(root), out, follow_links=True)
    assert _names(out) == [
        "a/x.txt", "b.txt", "c/d.txt", "latest", "loop", "to-file", "to-folder/d.txt",
    ]  # fmt: skip
    by_name = dict(zip(_names(out), out, strict=True))
    assert _inode(by_name["to-file"]) == (root / "b.txt").stat().st_ino
    assert _inode(by_name["latest"]) == (root / "latest").lstat().st_ino
    assert _inode(by_name["loop"]) == (root / "loop").lstat().st_ino
    assert newest == max(int(line[:-1].rsplit("\0", 1)[1]) for line in out)
    assert walk_lines(root) == out


def test_looking_at_links_lists_every_entry_and_follows_none(tmp_path: Path) -> None:
    """The partial-work mode: every entry but a folder, links by their own ``lstat`` (a folder
    link is not walked into), the FIFO too."""
    root = _tree(tmp_path / "t")
    out: list[str] = []
    walk_folder(str(root), out, follow_links=False)
    assert _names(out) == [
        "a/x.txt", "b.txt", "c/d.txt", "latest", "loop", "pipe", "to-file", "to-folder",
    ]  # fmt: skip
    for line in out:
        assert _inode(line) == (root / line.split("\0", 1)[0]).lstat().st_ino


def test_a_part_that_cannot_be_read_is_noted_or_raised(tmp_path: Path) -> None:
    """With a ``note`` what cannot be read is told and the walk goes on (a file beside it is
    still listed); without one its error is raised."""
    root = tmp_path / "t"
    (root / "a").mkdir(parents=True)
    (root / "z.txt").write_text("z\n")
    fd = os.open(root / "a", os.O_RDONLY)
    for _ in range(20):  # a path longer than the system allows, made through descriptors
        os.mkdir("d" * 250, dir_fd=fd)
        deeper = os.open("d" * 250, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = deeper
    os.close(fd)
    told: list[tuple[str, str]] = []
    out: list[str] = []
    for follow in (True, False):
        told.clear()
        out.clear()
        walk_folder(str(root), out, follow_links=follow, note=lambda r, p, e: told.append((r, e)))
        assert _names(out) == ["z.txt"]
        ((rel, exc),) = told
        assert rel.startswith("a/" + "d" * 250 + "/")
        assert isinstance(exc, OSError) and "File name too long" in str(exc)
        with pytest.raises(OSError, match="File name too long"):
            walk_folder(str(root), [], follow_links=follow)


def test_a_deep_folder_is_walked_without_recursion(tmp_path: Path) -> None:
    """A folder deeper than the recursion limit allows (the limit lowered to 100 frames above
    this one, the folder 300 deep): the walk keeps its own stack, in the same order as a
    depth-first recursion."""
    root = tmp_path / "t"
    deep = root.joinpath(*["d"] * 300)
    deep.mkdir(parents=True)
    (deep / "leaf.txt").write_text("leaf\n")
    (root / "e.txt").write_text("e\n")
    depth, frame = 0, sys._getframe()
    while frame.f_back is not None:
        depth, frame = depth + 1, frame.f_back
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + 100)
    try:
        for follow in (True, False):
            out: list[str] = []
            walk_folder(str(root), out, follow_links=follow)
            assert _names(out) == ["d/" * 300 + "leaf.txt", "e.txt"]
    finally:
        sys.setrecursionlimit(limit)


@pytest.mark.timeout(30)
def test_links_back_to_a_folder_the_walk_is_in_are_listed_as_links_not_walked(
    tmp_path: Path,
) -> None:
    """Session 42: a followed link back to its own folder was walked into until the system
    refused the path (40 links, ``ELOOP``, then taken for a link that leads nowhere): one such
    link nested the tree 41 times, two (``current -> .``, ``latest -> .``) made 2**40 paths
    and the walk never ended. A link to a folder the walk is inside is now a cycle, listed by
    its own ``lstat`` (its content its target path, as a link that leads nowhere), not walked;
    the checksum is the same on every scan."""
    from standard_coder.runner.hashcache import DictHashCache, scan_path

    root = tmp_path / "t"
    (root / "sub").mkdir(parents=True)
    (root / "f").write_text("x\n")
    (root / "sub" / "g").write_text("g\n")
    (root / "current").symlink_to(".")
    (root / "latest").symlink_to(".")
    (root / "sub" / "up").symlink_to("..")
    (root / "sub" / "here").symlink_to(str(root / "sub"))  # a cycle by an absolute path
    (root / "to-sub").symlink_to("sub")  # resolves, no cycle: walked, its links cycles in turn
    out: list[str] = []
    walk_folder(str(root), out, follow_links=True)
    assert _names(out) == [
        "current", "f", "latest", "sub/g", "sub/here", "sub/up",
        "to-sub/g", "to-sub/here", "to-sub/up",
    ]  # fmt: skip
    by_name = dict(zip(_names(out), out, strict=True))
    for name in ("current", "latest", "sub/up", "sub/here"):
        assert _inode(by_name[name]) == (root / name).lstat().st_ino
    assert _inode(by_name["to-sub/up"]) == (root / "sub" / "up").lstat().st_ino
    assert walk_lines(root) == out
    first = scan_path(root, DictHashCache())
    link_sha = hashlib.sha256(b"symlink\0.").hexdigest()
    assert first.files["current"] == first.files["latest"] == link_sha
    assert first.files["sub/up"] == hashlib.sha256(b"symlink\0..").hexdigest()
    assert first.files["to-sub/g"] == first.files["sub/g"]
    assert scan_path(root, DictHashCache()).checksum == first.checksum
    (root / "latest").unlink()
    (root / "latest").symlink_to("sub")  # no longer a cycle: walked
    moved = scan_path(root, DictHashCache())
    assert moved.checksum != first.checksum and "latest/g" in moved.files
    assert "latest/up" in moved.files and "latest" not in moved.files


def test_a_path_of_more_links_than_the_system_follows_is_no_loop(tmp_path: Path) -> None:
    """``ELOOP`` counts as a link that leads nowhere only when the link loops: a path through
    more links than one lookup may follow (41 linked folders) is not taken for a dangling link
    (listed as one, its files went unhashed); it cannot be read, as any such path."""
    root = tmp_path / "t"
    for i in range(42):
        (root / f"d{i}").mkdir(parents=True)
        (root / f"d{i}" / "n").symlink_to(f"../d{i + 1}")
    (root / "d42").mkdir()
    (root / "d42" / "end.txt").write_text("end\n")
    told: list[tuple[str, OSError]] = []
    out: list[str] = []
    walk_folder(str(root), out, follow_links=True, note=lambda r, p, e: told.append((r, e)))
    assert told and all(e.errno == errno.ELOOP for _, e in told)
    assert ("d0/" + "n/" * 40 + "n") in [r.rstrip("/") for r, _ in told]
    assert not any(line.startswith("d0/" + "n/" * 40 + "n\0") for line in out)
    with pytest.raises(OSError, match="Too many levels of symbolic links"):
        walk_folder(str(root), [], follow_links=True)
