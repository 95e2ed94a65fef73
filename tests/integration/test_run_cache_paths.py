"""A run-cache entry whose recorded paths lead outside the stage's output folder: real CLI
subprocesses of a small Python pipeline with a folder output, a local cache folder, and an
entry edited by hand as a hostile or broken shared cache could hand it over.

Session 42: the restore trusted the entry's paths, so ``../escaped.txt`` was written beside
the output folder, an absolute path wherever it named, a file under a recorded link through
that link, and an object name with ``..`` read (and, failing its checksum, deleted) a file
outside the store. Every path is now checked before anything is fetched or replaced: the entry
is corrupt (deleted, one warning line, ``cache_corrupt``), and the stage runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from proctools import child_env

pytestmark = pytest.mark.integration

PIPELINE = """
from pathlib import Path
from standard_coder.runner.stage import Pipeline, Stage


def make(ctx):
    tree = ctx.base_dir / "out" / "tree"
    tree.mkdir(parents=True, exist_ok=True)
    (tree / "a.txt").write_text(f"{ctx.params['k']}\\n")
    with (ctx.base_dir.parent / "trace.log").open("a") as fh:
        fh.write("ran\\n")


def build(config_path, overrides):
    base = Path(config_path).parent / "state"
    return Pipeline(name="paths", base_dir=base, stages=[
        Stage(name="make", run=make, params={"k": 1}, outputs=(base / "out" / "tree",)),
    ])
"""


def _run(root: Path) -> subprocess.CompletedProcess[str]:
    (root / "paths.py").write_text(PIPELINE, encoding="utf-8")
    cfg = root / "pipeline.toml"
    cfg.write_text('[pipeline]\nentry = "paths.py:build"\n[cache]\ndir = "rc"\n', encoding="utf-8")
    cmd = [sys.executable, "-m", "standard_coder", "pipeline", "--config", str(cfg)]
    res = subprocess.run(cmd, cwd=root, env=child_env(), capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert "Traceback" not in res.stdout + res.stderr, res.stdout + res.stderr
    assert res.returncode == 0, res.stdout + res.stderr
    return res


def _status(root: Path) -> str:
    """``status``'s row for ``make`` (the pipeline file is the one :func:`_run` wrote)."""
    cfg = str(root / "pipeline.toml")
    cmd = [sys.executable, "-m", "standard_coder", "status", "--config", cfg]
    res = subprocess.run(cmd, cwd=root, env=child_env(), capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stdout + res.stderr
    (row,) = [line for line in res.stdout.splitlines() if line.startswith("make ")]
    return row


def _last_run(root: Path) -> list[dict[str, Any]]:
    lines = (root / "state" / "logs" / "events.jsonl").read_text().splitlines()
    evs = [json.loads(line) for line in lines]
    return [e for e in evs if e["run_id"] == evs[-1]["run_id"]]


def _ran(root: Path) -> int:
    return len((root / "trace.log").read_text().splitlines())


def _everything(top: Path) -> set[Path]:
    return {p for p in top.rglob("*") if "rc" not in p.relative_to(top).parts[:1]}


@pytest.mark.parametrize("how", ["dotdot", "absolute", "through_link", "object_name"])
def test_an_entry_whose_paths_leave_the_output_folder_is_corrupt(tmp_path: Path, how: str) -> None:
    root = tmp_path / "p"
    root.mkdir()
    _run(root)
    pushed = next(e for e in _last_run(root) if e["event"] == "cache_pushed")
    entry_path = root / "rc" / "entries" / f"{pushed['fingerprint']}.json"
    entry = json.loads(entry_path.read_text())
    files = entry["outputs"]["state/out/tree"]["files"]
    meta = files["a.txt"]  # a good object: only the path it is restored to is hostile
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    if how == "dotdot":
        files["../escaped.txt"] = meta
    elif how == "absolute":
        files[str(outside / "escaped.txt")] = meta
    elif how == "through_link":  # a link to a folder outside, then a file under the link
        entry["outputs"]["state/out/tree"]["links"] = {"lnk": str(outside)}
        files["lnk/escaped.txt"] = meta
    else:  # rc/objects/../../../victim.txt: a file outside the store, not a stored object
        files["b.txt"] = {"sha256": "../../victim.txt", "size": 8}
    entry_path.write_text(json.dumps(entry))
    tree = root / "state" / "out" / "tree"
    (tree / "a.txt").unlink()  # the output is gone: the cache is asked before the stage runs
    before = _everything(tmp_path)
    store = {p: p.read_bytes() for p in (root / "rc").rglob("*") if p.is_file()}

    # status reads the entry as a restore would, and says so without touching it (session
    # 42: "would restore from cache (local)" until a run deleted it)
    row = _status(root)
    assert "would run" in row and "cache entry corrupt (local: entry " in row, row
    assert "would restore" not in row, row
    assert {p for p in _everything(tmp_path) - before if root / "state" not in p.parents} == set()
    assert {p: p.read_bytes() for p in (root / "rc").rglob("*") if p.is_file()} == store

    res = _run(root)

    assert not (root / "state" / "out" / "escaped.txt").exists()
    assert list(outside.iterdir()) == []
    assert victim.read_text() == "keep me\n"
    # nothing appeared anywhere but the stage's own files (the run's records under state/)
    new = {p for p in _everything(tmp_path) - before if root / "state" not in p.parents}
    assert new == set(), new
    assert sorted(p.name for p in tree.iterdir()) == ["a.txt"]  # the stage's output, only
    warnings = [line for line in res.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "run cache" in warnings[0], res.stderr
    evs = _last_run(root)
    assert [e["stage"] for e in evs if e["event"] == "cache_corrupt"] == ["make"]
    assert [e["stage"] for e in evs if e["event"] == "stage_running"] == ["make"]
    assert _ran(root) == 2 and (tree / "a.txt").read_text() == "1\n"
    # the bad entry was replaced by the stage's own
    assert json.loads(entry_path.read_text())["outputs"]["state/out/tree"]["files"] == {
        "a.txt": meta
    }


def test_status_says_an_entry_whose_object_is_missing_would_not_restore(tmp_path: Path) -> None:
    """Session 42: ``status`` said "would restore from cache" for an entry whose stored object
    was gone (found only by a run, which then deleted the entry and ran the stage). It stats
    the objects now (no hashing), and deletes nothing: the run still does, as before."""
    root = tmp_path / "p"
    root.mkdir()
    _run(root)
    pushed = next(e for e in _last_run(root) if e["event"] == "cache_pushed")
    entry_path = root / "rc" / "entries" / f"{pushed['fingerprint']}.json"
    tree = root / "state" / "out" / "tree"
    (tree / "a.txt").unlink()
    assert "would restore from cache (local): outputs changed" in _status(root)

    (obj,) = (root / "rc" / "objects").rglob("*/*")
    obj.write_bytes(b"1\n\n")  # the wrong size: a restore would find it corrupt too
    row = _status(root)
    assert f"cache entry corrupt (local: object {obj.name[:12]} in " in row, row
    assert row.endswith("): outputs changed: state/out/tree"), row
    obj.unlink()
    row = _status(root)
    assert f"cache entry corrupt (local: object {obj.name[:12]} missing from " in row, row
    assert "would run" in row and entry_path.is_file()

    _run(root)  # the run finds it too: the stage runs, and stores its outputs again
    assert _ran(root) == 2 and (tree / "a.txt").read_text() == "1\n"
    assert obj.is_file() and "up to date" in _status(root)
