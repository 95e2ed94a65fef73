"""The content-addressed stage cache ("run-cache"): stage outputs stored by fingerprint.

A stage's fingerprint covers its inputs' content, its params, its code version and the runner
version, so two runs with the same fingerprint produce interchangeable outputs. After a stage
completes, its output files are stored once per content (sha256) and an *entry* names them:

```text
<store>/objects/<sha[:2]>/<sha>      one file's bytes
<store>/entries/<fingerprint>.json   {"outputs": {name: {"kind", "files": {rel: {sha256, size}},
                                                         "links": {rel: target}}},
                                      "checksums": the runner's output checksums, "summary", ...}
```

A folder output is stored as its checksum sees it
(:func:`~standard_coder.runner.statwalk.walk_lines`): its files, links that resolve followed
(stored as the bytes they lead to), and, under
``links`` (absent when there is none; an entry without it reads as before), each link that
leads nowhere or back to a folder above it by its target path, made again on restore.

Before a stage runs, an entry for its fingerprint restores the outputs instead (the local store
first, then ``[cache] remote``): switching a parameter back restores the earlier outputs, and a
second machine with the same inputs, params and code pulls them.

Integrity and visibility: every object is checked against its sha256 as it is read, and the
restored outputs against the checksums the producing run recorded; a bad object is deleted
and the stage runs. Objects are written under a temporary name and renamed; the entry is
written last, the same way, so a reader never sees an entry whose objects are not all there,
and never a half-written object under its final name (on object stores, one ``put`` is atomic).

Paths: an entry read from a store (a shared remote above all) is not trusted. Every path it
records is checked before any object is fetched or anything on disk is replaced
(:func:`check_entry`): an absolute path, a ``..``, a path inside another recorded file or link,
or an object name that is not a sha256 makes the entry corrupt (deleted locally, a warning, the
stage runs). A folder output is written only into a fresh staging folder, never through a link,
and swapped in whole.

The remote is any fsspec URL (``file://``, ``sftp://``, ``s3://``, ...); fsspec is imported only
when a remote is configured.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from standard_coder.runner.atomic import atomic_write_text
from standard_coder.runner.hashcache import sha256_file
from standard_coder.runner.statwalk import walk_lines

log = logging.getLogger("standard_coder.runner")

__all__ = ["CacheCorrupt", "LocalStore", "RemoteStore", "Restored", "pack", "unpack"]

FORMAT = 1


class CacheCorrupt(Exception):
    """An object or entry failed its check (the message says which)."""


def _files_of(path: Path) -> tuple[str, dict[str, Path], dict[str, str]]:
    """``("file", {"": path}, {})`` or ``("dir", {relative path: file}, {relative path: link
    target})``: what the output's checksum covers (:func:`walk_lines`), a file by its bytes (a
    link that resolves, followed), a link that leads nowhere or back to a folder above it
    (``latest -> run-2``, ``current -> .``) by its target path.

    Raises:
        OSError: an entry cannot be read (removed since the walk, no permission).
    """
    if path.is_file():
        return "file", {"": path}, {}
    files: dict[str, Path] = {}
    links: dict[str, str] = {}
    for line in walk_lines(path):
        rel = line[: line.index("\0")]
        full = path / rel
        if full.is_file():
            files[rel] = full
        else:  # the walk listed a link that it did not follow
            links[rel] = os.readlink(full)
    return "dir", files, links


def _safe_rel(rel: object) -> bool:
    """``rel`` names a place strictly inside a folder: a non-empty relative POSIX path with no
    ``..``, ``.`` or empty part and no NUL (what :func:`walk_lines` records; a backslash is a
    name's character on POSIX, as the walk sees it)."""
    if not isinstance(rel, str) or not rel or "\0" in rel:
        return False
    if rel.startswith("/") or os.path.isabs(rel):
        return False
    return all(part not in ("", ".", "..") for part in rel.split("/"))


def _is_sha(value: object) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in _HEX for c in value)


_HEX = frozenset("0123456789abcdef")


def _links_of(desc: Mapping[str, Any], fingerprint: str) -> dict[str, str]:
    """The ``links`` of one output's description (``{}`` in an entry without them).

    Raises:
        CacheCorrupt: they are not ``{relative path: target}`` strings within the folder.
    """
    links = desc.get("links", {})
    if isinstance(links, dict) and all(
        _safe_rel(rel) and isinstance(target, str) and target and "\0" not in target
        for rel, target in links.items()
    ):
        return links
    raise CacheCorrupt(f"entry {fingerprint[:12]} has bad links")


def check_entry(entry: Mapping[str, Any], fingerprint: str) -> None:
    """Check every path and object name an entry records before anything is read or written
    by them: an entry from a shared remote is not trusted to stay inside the output folder
    (or the store).

    A file output records one file, named ``""``, and no links; a folder output records its
    files and links by :func:`_safe_rel` paths, none of them twice, and none inside another
    (a file or a link is never a folder of the entry: a link ``a`` and a file ``a/b`` would
    write through the link). Every object is a 64-digit lowercase sha256 with an integer size.

    Raises:
        CacheCorrupt: naming the entry and the first bad path.
    """
    where = f"entry {fingerprint[:12]}"
    for name, desc in entry["outputs"].items():
        if not isinstance(desc, dict) or desc.get("kind") not in ("file", "dir"):
            raise CacheCorrupt(f"{where}: output {name!r} is not described")
        files = desc.get("files", {})
        if not isinstance(files, dict):
            raise CacheCorrupt(f"{where}: output {name!r} has bad files")
        for rel, meta in files.items():
            if not (
                isinstance(meta, dict)
                and _is_sha(meta.get("sha256"))
                and isinstance(meta.get("size", -1), int)
            ):
                raise CacheCorrupt(f"{where}: output {name!r}: {rel!r} has a bad object name")
        if desc["kind"] == "file":
            if list(files) != [""] or desc.get("links"):
                raise CacheCorrupt(f"{where}: file output {name!r} must be one file")
            continue
        links = _links_of(desc, fingerprint)
        for rel in files:
            if not _safe_rel(rel):
                raise CacheCorrupt(f"{where}: output {name!r}: path {rel!r} escapes its folder")
        paths = set(files)
        if paths & set(links):
            raise CacheCorrupt(f"{where}: output {name!r} names a path twice")
        paths |= set(links)
        for rel in paths:
            parts = rel.split("/")
            for i in range(1, len(parts)):
                if "/".join(parts[:i]) in paths:
                    raise CacheCorrupt(
                        f"{where}: output {name!r}: path {rel!r} lies inside another entry"
                    )


class Restored:
    """What a pull restored: the entry and where it came from (``local`` or ``remote``)."""

    def __init__(self, entry: Mapping[str, Any], source: str) -> None:
        self.entry = entry
        self.source = source

    @property
    def summary(self) -> dict[str, Any]:
        value = self.entry.get("summary")
        return dict(value) if isinstance(value, Mapping) else {}

    @property
    def checksums(self) -> dict[str, str]:
        value = self.entry.get("checksums")
        return dict(value) if isinstance(value, Mapping) else {}


class LocalStore:
    """The store under ``[cache] dir`` (a folder on this machine)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def object_path(self, sha: str) -> Path:
        """Where object ``sha`` lives.

        Raises:
            CacheCorrupt: ``sha`` is not a sha256 (it would name a path outside the store).
        """
        if not _is_sha(sha):
            raise CacheCorrupt(f"bad object name {str(sha)[:80]!r} in {self.root}")
        return self.root / "objects" / sha[:2] / sha

    def entry_path(self, fingerprint: str) -> Path:
        return self.root / "entries" / f"{fingerprint}.json"

    def has_entry(self, fingerprint: str) -> bool:
        return self.entry_path(fingerprint).is_file()

    def read_entry(self, fingerprint: str) -> dict[str, Any] | None:
        """The entry, or None when absent; an unreadable one raises :class:`CacheCorrupt`."""
        path = self.entry_path(fingerprint)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        return _parse_entry(data, fingerprint, str(path))

    def put_file(self, src: Path, sha: str) -> None:
        """Store ``src`` as object ``sha`` (no-op when a good copy is already there)."""
        target = self.object_path(sha)
        if target.is_file() and target.stat().st_size == src.stat().st_size:
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{sha}.{uuid.uuid4().hex}.tmp")
        try:
            shutil.copyfile(src, tmp)
            if sha256_file(tmp) != sha:
                raise CacheCorrupt(f"{src} changed while it was being stored")
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)

    def write_entry(self, fingerprint: str, entry: Mapping[str, Any]) -> None:
        atomic_write_text(self.entry_path(fingerprint), json.dumps(entry, indent=1) + "\n")

    def check_object(self, sha: str) -> Path:
        """The object's path after verifying its content.

        Raises:
            CacheCorrupt: missing, or its content is not ``sha`` (the bad copy is deleted).
        """
        path = self.object_path(sha)
        if not path.is_file():
            raise CacheCorrupt(f"object {sha[:12]} missing from {self.root}")
        if sha256_file(path) != sha:
            path.unlink(missing_ok=True)
            raise CacheCorrupt(f"object {sha[:12]} in {self.root} failed its checksum (deleted)")
        return path


def inspect_entry(
    entry: Mapping[str, Any], names: Sequence[str], store: LocalStore | None = None
) -> None:
    """What ``status`` can tell of a parsed entry without reading an object's bytes, or writing
    or deleting anything: it describes the outputs ``names`` and, with ``store`` (the local
    store the objects are read from), each object is there with its recorded size.

    Raises:
        CacheCorrupt: the first fault, as a restore would find it.
    """
    fingerprint = str(entry.get("fingerprint"))
    if sorted(entry["outputs"]) != sorted(names):
        raise CacheCorrupt(
            f"entry {fingerprint[:12]} names other outputs ({', '.join(sorted(entry['outputs']))})"
        )
    if store is None:
        return
    for sha, size in _objects(entry).items():
        path = store.object_path(sha)
        try:
            have = path.stat().st_size
        except FileNotFoundError:
            raise CacheCorrupt(f"object {sha[:12]} missing from {store.root}") from None
        if size >= 0 and have != size:
            raise CacheCorrupt(f"object {sha[:12]} in {store.root} is {have} bytes, not {size}")


def _parse_entry(data: bytes, fingerprint: str, where: str) -> dict[str, Any]:
    try:
        entry = json.loads(data)
    except ValueError:
        raise CacheCorrupt(f"entry {where} is not valid JSON") from None
    if (
        not isinstance(entry, dict)
        or entry.get("format") != FORMAT
        or entry.get("fingerprint") != fingerprint
        or not isinstance(entry.get("outputs"), dict)
    ):
        raise CacheCorrupt(f"entry {where} is not a run-cache entry for {fingerprint[:12]}")
    check_entry(entry, fingerprint)
    return entry


def pack(
    store: LocalStore,
    *,
    stage: str,
    fingerprint: str,
    outputs: Sequence[tuple[str, Path]],
    checksums: Mapping[str, str],
    summary: Mapping[str, Any],
    duration_s: float | None,
) -> dict[str, Any] | None:
    """Store a completed stage's outputs (objects first, the entry last); the entry, or None
    when the store already had one for this fingerprint."""
    if store.has_entry(fingerprint):
        return None
    described: dict[str, Any] = {}
    for name, path in outputs:
        kind, files, links = _files_of(path)
        listing: dict[str, Any] = {}
        for rel, file in files.items():
            sha = sha256_file(file)
            store.put_file(file, sha)
            listing[rel] = {"sha256": sha, "size": file.stat().st_size}
        described[name] = {"kind": kind, "files": listing}
        if links:
            described[name]["links"] = links
    entry = {
        "format": FORMAT,
        "stage": stage,
        "fingerprint": fingerprint,
        "outputs": described,
        "checksums": dict(checksums),
        "summary": json.loads(json.dumps(dict(summary), default=str)),
        "duration_s": duration_s,
    }
    store.write_entry(fingerprint, entry)
    return entry


def _objects(entry: Mapping[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for desc in entry["outputs"].values():
        for meta in desc.get("files", {}).values():
            out[str(meta["sha256"])] = int(meta.get("size", -1))
    return out


def unpack(
    store: LocalStore, entry: Mapping[str, Any], outputs: Sequence[tuple[str, Path]]
) -> None:
    """Put the entry's outputs in place (each file atomically; a folder output is rebuilt in a
    fresh staging folder beside the old one and swapped in). Every recorded path is checked
    (:func:`check_entry`) and every object verified before anything on disk is replaced.

    Raises:
        CacheCorrupt: the entry does not describe these outputs, a recorded path would lead
            outside its output folder, or an object is bad.
    """
    described = entry["outputs"]
    if sorted(described) != sorted(name for name, _ in outputs):
        raise CacheCorrupt(
            f"entry {str(entry.get('fingerprint'))[:12]} names other outputs "
            f"({', '.join(sorted(described))})"
        )
    fingerprint = str(entry.get("fingerprint"))
    check_entry(entry, fingerprint)
    for sha in _objects(entry):
        store.check_object(sha)  # all good before anything is replaced
    for name, path in outputs:
        desc = described[name]
        files = desc.get("files", {})
        path.parent.mkdir(parents=True, exist_ok=True)
        if desc["kind"] == "file":
            _copy_in(store.object_path(files[""]["sha256"]), path)
            continue
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.restore")
        tmp.mkdir()
        try:
            _fill(store, tmp, files, _links_of(desc, fingerprint))
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        old = path.with_name(f".{path.name}.{uuid.uuid4().hex}.old")
        if path.is_dir() and not path.is_symlink():
            os.replace(path, old)
        elif os.path.lexists(path):  # a file, or a link (replaced, never followed)
            path.unlink()
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)


def _fill(
    store: LocalStore, staging: Path, files: Mapping[str, Any], links: Mapping[str, str]
) -> None:
    """Write a folder output's files and links into the fresh ``staging`` folder, each only
    after checking that its folder resolves inside ``staging`` (so nothing is written through
    a link, even one the entry made itself)."""
    top = os.path.realpath(staging)
    for rel, meta in [*files.items(), *links.items()]:
        target = staging / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        parent = os.path.realpath(target.parent)
        if parent != top and not parent.startswith(top + os.sep):
            raise CacheCorrupt(f"restoring {rel!r} would write outside {staging}")
        if os.path.lexists(target):
            raise CacheCorrupt(f"restoring {rel!r} twice")
        if isinstance(meta, str):
            os.symlink(meta, target)
        else:
            shutil.copyfile(store.object_path(meta["sha256"]), target)


def _copy_in(src: Path, target: Path) -> None:
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.restore")
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


OBJECT_STORES = {"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"}
"""fsspec protocols whose uploads are atomic by themselves (and whose rename is a copy)."""


TRANSPORT_LOGGERS = ("paramiko", "asyncssh", "botocore", "urllib3")
"""Loggers of the libraries fsspec reaches a remote through: their errors come back to the
runner as exceptions, which it says in one warning line; logged as well, they printed
tracebacks on the console (paramiko: a dozen for three stages against a port with no SSH)."""


def _quiet_transports() -> None:
    """Keep the :data:`TRANSPORT_LOGGERS`' own records off the console (they still reach a
    handler a user adds to them)."""
    for name in TRANSPORT_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
            logger.addHandler(logging.NullHandler())


class RemoteStore:
    """The same layout at an fsspec URL (``[cache] remote``), read and written through fsspec.

    Args:
        url: ``file:///...``, ``sftp://user@host:port/path``, ``s3://bucket/prefix``, ...
        options: fsspec storage options (``[cache] remote_options``: a key file, an endpoint).
    """

    def __init__(self, url: str, options: Mapping[str, Any] | None = None) -> None:
        from fsspec.core import url_to_fs

        _quiet_transports()
        self.url = url
        self.fs, self.root = url_to_fs(url, **dict(options or {}))
        self.root = self.root.rstrip("/")

    def _object(self, sha: str) -> str:
        if not _is_sha(sha):
            raise CacheCorrupt(f"bad object name {str(sha)[:80]!r} at {self.url}")
        return f"{self.root}/objects/{sha[:2]}/{sha}"

    def _entry(self, fingerprint: str) -> str:
        return f"{self.root}/entries/{fingerprint}.json"

    def has_entry(self, fingerprint: str) -> bool:
        return bool(self.fs.exists(self._entry(fingerprint)))

    def read_entry(self, fingerprint: str) -> dict[str, Any] | None:
        """The remote's entry (one small read, nothing else fetched), or None when absent.

        Raises:
            CacheCorrupt: it is not a run-cache entry for ``fingerprint``, or a path it
                records is bad (:func:`check_entry`).
        """
        try:
            data = self.fs.cat_file(self._entry(fingerprint))
        except FileNotFoundError:
            return None
        return _parse_entry(data, fingerprint, self._entry(fingerprint))

    def _put_atomic(self, local: Path, final: str) -> None:
        protocols = self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        if set(protocols) & OBJECT_STORES:  # one PUT (or multipart upload): the object becomes
            self.fs.put_file(str(local), final)  # visible only once complete; no rename there
            return
        parent = final.rsplit("/", 1)[0]
        self.fs.makedirs(parent, exist_ok=True)
        tmp = f"{parent}/.tmp-{uuid.uuid4().hex}"
        self.fs.put_file(str(local), tmp)
        try:
            self.fs.mv(tmp, final)
        except Exception:
            self.fs.rm(tmp)
            raise

    def push(self, store: LocalStore, entry: Mapping[str, Any]) -> int:
        """Upload the entry's objects that are missing (or of the wrong size), then the entry;
        the number of objects uploaded."""
        sent = 0
        for sha, size in _objects(entry).items():
            remote = self._object(sha)
            try:
                have = int(self.fs.size(remote))
            except (FileNotFoundError, OSError):
                have = -1
            if have == size:
                continue
            self._put_atomic(store.check_object(sha), remote)
            sent += 1
        fp = str(entry["fingerprint"])
        self._put_atomic(store.entry_path(fp), self._entry(fp))
        return sent

    def pull(self, store: LocalStore, fingerprint: str) -> dict[str, Any] | None:
        """Download the entry and its objects into the local store (each verified); the entry,
        or None when the remote has none.

        Raises:
            CacheCorrupt: a remote object or the entry failed its check (a bad object is
                deleted from the remote, so the next push replaces it).
        """
        entry = self.read_entry(fingerprint)
        if entry is None:
            return None
        for sha in _objects(entry):
            target = store.object_path(sha)
            if target.is_file() and sha256_file(target) == sha:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{sha}.{uuid.uuid4().hex}.tmp")
            try:
                self.fs.get_file(self._object(sha), str(tmp))
                if sha256_file(tmp) != sha:
                    with contextlib.suppress(Exception):
                        self.fs.rm(self._object(sha))
                    raise CacheCorrupt(
                        f"remote object {sha[:12]} at {self.url} failed its checksum (deleted)"
                    )
                os.replace(tmp, target)
            except FileNotFoundError:
                raise CacheCorrupt(f"remote object {sha[:12]} missing at {self.url}") from None
            finally:
                tmp.unlink(missing_ok=True)
        store.write_entry(fingerprint, entry)
        return entry
