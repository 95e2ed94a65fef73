"""``[runner] executor`` / ``[runner.dask]`` / ``[cache]`` reading, and the run-cache stores."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from standard_coder.runner.errors import PipelineDefinitionError
from standard_coder.runner.runcache import CacheCorrupt, LocalStore, pack, unpack
from standard_coder.runner.scaleout import (
    apply_scale_out,
    executor_spec,
    read_cache,
    read_executor,
)
from standard_coder.runner.stage import Pipeline


def test_executor_settings() -> None:
    assert read_executor({}, "f.toml") is None
    assert read_executor({"runner": {"executor": "local"}}, "f.toml") is None
    data = {"runner": {"executor": "dask", "dask": {"address": "tcp://10.0.0.5:8786"}}}
    assert read_executor(data, "f.toml") == "dask://10.0.0.5:8786"
    with pytest.raises(PipelineDefinitionError, match=r"^f\.toml: runner\.dask\.address: "):
        read_executor({"runner": {"executor": "dask"}}, "f.toml")
    with pytest.raises(PipelineDefinitionError, match=r"runner\.executor: expected"):
        read_executor({"runner": {"executor": "ray"}}, "f.toml")
    assert executor_spec("dask://h:1", "--executor") == "dask://h:1"
    assert executor_spec("local", "--executor") is None
    for bad in ("dask://h", "http://h:1", "h:1"):
        with pytest.raises(PipelineDefinitionError, match=r"^--executor: expected"):
            executor_spec(bad, "--executor")


def test_cache_settings(tmp_path: Path) -> None:
    cfg = tmp_path / "p.toml"
    base = tmp_path / "out"
    assert read_cache({}, cfg, base) is None  # off unless asked for
    default = read_cache({"cache": {"enable": True}}, cfg, base)
    assert default is not None and default.dir == base / "run-cache" and default.remote is None
    assert read_cache({"cache": {"enable": False, "dir": "x"}}, cfg, base) is None
    got = read_cache({"cache": {"dir": "rc", "remote": "shared"}}, cfg, base)
    assert got is not None and got.dir == tmp_path / "rc"
    assert got.remote == (tmp_path / "shared").as_uri()  # a plain path is a local folder
    s3 = read_cache({"cache": {"remote": "s3://b/x", "remote_options": {"anon": True}}}, cfg, base)
    assert s3 is not None and s3.remote == "s3://b/x" and s3.remote_options == {"anon": True}
    for bad, key in (({"enable": 1}, "enable"), ({"dir": ""}, "dir"), ({"nope": 1}, "nope")):
        with pytest.raises(PipelineDefinitionError, match=rf"p\.toml: cache\.{key}"):
            read_cache({"cache": bad}, cfg, base)


def test_apply_keeps_a_python_pipelines_own_settings(tmp_path: Path) -> None:
    pipe = Pipeline(name="x", stages=[], base_dir=tmp_path, executor="dask://a:1")
    out = apply_scale_out(pipe, {"cache": {"enable": True}}, tmp_path / "p.toml")
    assert out.executor == "dask://a:1" and out.run_cache is not None
    out = apply_scale_out(pipe, {}, tmp_path / "p.toml", executor="local")
    assert out.executor is None


def test_pack_and_unpack_a_folder_and_a_file(tmp_path: Path) -> None:
    folder, file = tmp_path / "out" / "d", tmp_path / "out" / "f.txt"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.bin").write_bytes(b"\x00" * 100)
    (folder / "sub" / "b.txt").write_text("same")
    file.write_text("same")  # same content as sub/b.txt: stored once
    store = LocalStore(tmp_path / "rc")
    outs = [("d", folder), ("f.txt", file)]
    entry = pack(store, stage="s", fingerprint="fp1", outputs=outs, checksums={}, summary={"n": 1},
                 duration_s=1.0)  # fmt: skip
    assert entry is not None and entry["summary"] == {"n": 1}
    assert len(list((tmp_path / "rc" / "objects").rglob("*"))) == 4  # 2 fan-out dirs + 2 objects
    assert pack(store, stage="s", fingerprint="fp1", outputs=outs, checksums={}, summary={},
                duration_s=None) is None  # fmt: skip
    (folder / "a.bin").write_bytes(b"changed")
    (folder / "extra").write_text("x")
    file.unlink()
    unpack(store, store.read_entry("fp1") or {}, outs)
    assert (folder / "a.bin").read_bytes() == b"\x00" * 100 and not (folder / "extra").exists()
    assert file.read_text() == "same"
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]


def test_a_damaged_object_or_entry_is_detected(tmp_path: Path) -> None:
    file = tmp_path / "f.txt"
    file.write_text("content")
    store = LocalStore(tmp_path / "rc")
    entry = pack(store, stage="s", fingerprint="fp", outputs=[("f.txt", file)], checksums={},
                 summary={}, duration_s=None)  # fmt: skip
    assert entry is not None
    sha = entry["outputs"]["f.txt"]["files"][""]["sha256"]
    store.object_path(sha).write_text("tampered")
    with pytest.raises(CacheCorrupt, match="failed its checksum"):
        unpack(store, entry, [("f.txt", file)])
    assert not store.object_path(sha).exists()  # the bad copy is gone
    assert file.read_text() == "content"  # nothing was replaced
    store.entry_path("fp").write_text(json.dumps({"format": 1}))
    with pytest.raises(CacheCorrupt, match="not a run-cache entry"):
        store.read_entry("fp")


def test_links_the_checksum_does_not_follow_are_stored_and_made_again(tmp_path: Path) -> None:
    """Session 42: only regular files were stored, so a folder output holding a link that
    leads nowhere or back to its folder never restored as it was. Such links are kept under
    ``links`` (their target paths) and made again; a link that resolves is stored as the
    bytes it leads to, as its checksum hashes it; an entry without ``links`` reads as before."""
    from standard_coder.runner.hashcache import DictHashCache, scan_path

    folder = tmp_path / "out" / "d"
    (folder / "runs").mkdir(parents=True)
    (folder / "runs" / "m.txt").write_text("m\n")
    (folder / "latest").symlink_to("run-2")  # leads nowhere
    (folder / "current").symlink_to(".")  # back to its folder
    (folder / "runs" / "up").symlink_to("..")
    (folder / "model").symlink_to("runs/m.txt")  # resolves: its bytes
    before = scan_path(folder, DictHashCache()).checksum
    store = LocalStore(tmp_path / "rc")
    outs = [("d", folder)]
    entry = pack(store, stage="s", fingerprint="fp", outputs=outs, checksums={}, summary={},
                 duration_s=None)  # fmt: skip
    assert entry is not None
    assert entry["outputs"]["d"]["links"] == {"current": ".", "latest": "run-2", "runs/up": ".."}
    assert sorted(entry["outputs"]["d"]["files"]) == ["model", "runs/m.txt"]
    for link in ("latest", "current", "runs/up"):
        (folder / link).unlink()
    unpack(store, store.read_entry("fp") or {}, outs)
    assert os.readlink(folder / "latest") == "run-2" and os.readlink(folder / "current") == "."
    assert os.readlink(folder / "runs" / "up") == ".."
    assert (folder / "model").read_text() == "m\n" and not (folder / "model").is_symlink()
    assert scan_path(folder, DictHashCache()).checksum == before

    old = {
        **entry,
        "outputs": {"d": {k: v for k, v in entry["outputs"]["d"].items() if k != "links"}},
    }
    unpack(store, old, outs)  # an entry of before session 42: its files, no links
    assert sorted(p.name for p in folder.iterdir()) == ["model", "runs"]
    for bad in ({"../x": "y"}, {"/abs": "y"}, {"x": 3}, ["x"]):
        entry["outputs"]["d"]["links"] = bad
        with pytest.raises(CacheCorrupt, match="bad links"):
            unpack(store, entry, outs)
    assert sorted(p.name for p in folder.iterdir()) == ["model", "runs"]  # nothing replaced


def test_a_remote_entry_with_a_path_outside_its_folder_is_refused_before_any_fetch(
    tmp_path: Path,
) -> None:
    """Session 42: an entry's recorded paths are checked as it is read (local or pulled), so a
    hostile shared remote gets nothing fetched, stored or written; a name with a backslash is
    an ordinary POSIX name and still restores."""
    from standard_coder.runner.runcache import RemoteStore, check_entry

    folder = tmp_path / "out" / "d"
    folder.mkdir(parents=True)
    (folder / "a\\b.txt").write_text("a\n")
    origin = LocalStore(tmp_path / "origin")
    entry = pack(origin, stage="s", fingerprint="fp", outputs=[("d", folder)], checksums={},
                 summary={}, duration_s=None)  # fmt: skip
    assert entry is not None
    remote = RemoteStore((tmp_path / "remote").as_uri())
    remote.push(origin, entry)
    meta = entry["outputs"]["d"]["files"]["a\\b.txt"]
    hostile = [
        {"../x": meta},
        {"/abs/x": meta},
        {"a/./b": meta},
        {"a//b": meta},
        {"a": meta, "a/b": meta},
        {"x": {"sha256": "../../x", "size": 1}},
    ]
    for files in hostile:
        bad = {**entry, "outputs": {"d": {"kind": "dir", "files": files}}}
        with pytest.raises(CacheCorrupt):
            check_entry(bad, "fp")
        (tmp_path / "remote" / "entries" / "fp.json").write_text(json.dumps(bad))
        local = LocalStore(tmp_path / "local")
        with pytest.raises(CacheCorrupt):
            remote.pull(local, "fp")
        assert not (tmp_path / "local").exists()  # nothing fetched, nothing stored
    (tmp_path / "remote" / "entries" / "fp.json").write_text(json.dumps(entry))
    pulled = remote.pull(LocalStore(tmp_path / "local"), "fp")
    assert pulled is not None
    (folder / "a\\b.txt").unlink()
    unpack(LocalStore(tmp_path / "local"), pulled, [("d", folder)])
    assert (folder / "a\\b.txt").read_text() == "a\n"
