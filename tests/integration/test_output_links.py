"""Links inside a folder output, as a stage completes and as the next runs decide: real CLI
subprocesses of a small Python pipeline, real links on disk.

``keep`` writes ``tree/run-3/model.txt`` and leaves ``tree/latest`` pointing at ``run-2``, a
run it pruned: a link that leads nowhere, as users' stages legitimately leave them. With
``--set stage=cycles`` the stage leaves links back to its own folder instead (``current -> .``,
``latest -> .``, ``runs/up -> ..``).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from proctools import child_env

pytestmark = pytest.mark.integration

PIPELINE = """
import os
from pathlib import Path
from standard_coder.runner.stage import Pipeline, Stage


def keep(ctx):
    tree = ctx.base_dir / "out" / "tree"
    (tree / "run-3").mkdir(parents=True, exist_ok=True)
    (tree / "run-3" / "model.txt").write_text(f"{ctx.params['k']}\\n")
    if not os.path.lexists(tree / "latest"):
        os.symlink("run-2", tree / "latest")  # run-2 was pruned: the link leads nowhere
    with (ctx.base_dir.parent / "trace.log").open("a") as fh:
        fh.write("ran\\n")


def cycles(ctx):
    tree = ctx.base_dir / "out" / "tree"
    (tree / "runs").mkdir(parents=True, exist_ok=True)
    (tree / "runs" / "model.txt").write_text(f"{ctx.params['k']}\\n")
    for name in ("current", "latest"):
        if not os.path.lexists(tree / name):
            os.symlink(".", tree / name)  # back to its own folder: a cycle
    if not os.path.lexists(tree / "runs" / "up"):
        os.symlink("..", tree / "runs" / "up")
    with (ctx.base_dir.parent / "trace.log").open("a") as fh:
        fh.write("ran\\n")


def build(config_path, overrides):
    sets = dict(o.split("=", 1) for o in overrides)
    base = Path(config_path).parent / "state"
    params = {"k": int(sets.get("k", "1"))}
    STAGES = {"keep": keep, "cycles": cycles}
    return Pipeline(name="links", base_dir=base, stages=[
        Stage(name="keep", run=STAGES[sets.get("stage", "keep")], params=params,
              outputs=(base / "out" / "tree",)),
    ])
"""


def _run(root: Path, *args: str, config: str = "") -> subprocess.CompletedProcess[str]:
    """A run of the pipeline (``config``: more of its config file); what it printed (stdout
    and stderr) in ``stdout``."""
    (root / "links.py").write_text(PIPELINE, encoding="utf-8")
    cfg = root / "pipeline.toml"
    cfg.write_text('[pipeline]\nentry = "links.py:build"\n' + config, encoding="utf-8")
    cmd = [sys.executable, "-m", "standard_coder", "pipeline", "--config", str(cfg), *args]
    out, both = subprocess.PIPE, subprocess.STDOUT
    res = subprocess.run(
        cmd, cwd=root, env=child_env(), stdout=out, stderr=both, text=True, timeout=60
    )
    assert "Traceback" not in res.stdout, res.stdout
    return res


def _ran(root: Path) -> int:
    trace = root / "trace.log"
    return len(trace.read_text().splitlines()) if trace.exists() else 0


def _recorded_output(root: Path) -> str:
    manifest = json.loads((root / "state" / "stages" / "keep" / "manifest.json").read_text())
    checksum: str = manifest["outputs"]["state/out/tree"]
    return checksum


def test_a_link_that_leads_nowhere_in_a_folder_output_is_an_output_like_any_other(
    tmp_path: Path,
) -> None:
    """Session 42: the outputs' checksum as a stage completed followed every link, and one that
    led nowhere failed the stage (``[FAIL] keep: FileNotFoundError: ... tree/latest``). Such a
    link is now hashed as a link, by its target path: the stage completes, its rerun skips,
    and re-pointing the link (elsewhere nowhere, or to a file) is an output change."""
    latest = tmp_path / "state" / "out" / "tree" / "latest"
    res = _run(tmp_path)
    assert res.returncode == 0, res.stdout
    assert "[done] keep: new" in res.stdout, res.stdout
    assert os.readlink(latest) == "run-2" and not latest.exists()
    first = _recorded_output(tmp_path)

    res = _run(tmp_path)
    assert res.returncode == 0 and "[skip] keep: up to date" in res.stdout, res.stdout
    assert _ran(tmp_path) == 1

    latest.unlink()
    latest.symlink_to("run-1")  # elsewhere, and nowhere still
    res = _run(tmp_path)
    assert res.returncode == 0, res.stdout
    assert "[done] keep: outputs changed: state/out/tree" in res.stdout, res.stdout
    assert _ran(tmp_path) == 2 and os.readlink(latest) == "run-1"
    assert _recorded_output(tmp_path) != first

    latest.unlink()
    latest.symlink_to("run-2")  # as the first run left it: the same output
    res = _run(tmp_path)
    assert "[done] keep: outputs changed: state/out/tree" in res.stdout, res.stdout
    assert _recorded_output(tmp_path) == first

    latest.unlink()
    latest.symlink_to("run-3/model.txt")  # a link that resolves is followed, as before
    res = _run(tmp_path)
    assert "[done] keep: outputs changed: state/out/tree" in res.stdout, res.stdout
    assert _run(tmp_path).stdout.count("[skip] keep: up to date") == 1
    assert _ran(tmp_path) == 4
    assert _recorded_output(tmp_path) == _folder_sum({"latest": b"1\n", "run-3/model.txt": b"1\n"})


def _folder_sum(files: dict[str, bytes], digests: dict[str, str] | None = None) -> str:
    """A folder's checksum as the runner records it: sha256 of ``name NUL sha256 LF`` lines
    (``digests``: a name's digest, a link's, instead of its bytes')."""
    sums = {n: hashlib.sha256(data).hexdigest() for n, data in files.items()} | (digests or {})
    text = "".join(f"{n}\0{sums[n]}\n" for n in sorted(sums))
    return hashlib.sha256(text.encode()).hexdigest()


def test_links_back_to_their_own_folder_in_a_folder_output_do_not_hang_the_stage(
    tmp_path: Path,
) -> None:
    """Session 42: the checksum followed ``current -> .`` into its own folder until the system
    refused the path (40 links deep), then took it for a link that leads nowhere; with two
    such links (``current``, ``latest``) that is 2**40 paths, and the stage never completed
    (SIGTERM did not help). A link back to a folder above it is hashed as a link: the stage
    completes at once, and its rerun skips."""
    tree = tmp_path / "state" / "out" / "tree"
    res = _run(tmp_path, "--set", "stage=cycles")
    assert res.returncode == 0, res.stdout
    assert "[done] keep: new" in res.stdout, res.stdout
    assert os.readlink(tree / "current") == os.readlink(tree / "latest") == "."
    link = hashlib.sha256(b"symlink\0.").hexdigest()
    up = hashlib.sha256(b"symlink\0..").hexdigest()
    assert _recorded_output(tmp_path) == _folder_sum(
        {"current": b"", "latest": b"", "runs/model.txt": b"1\n", "runs/up": b""},
        digests={"current": link, "latest": link, "runs/up": up},
    )
    res = _run(tmp_path, "--set", "stage=cycles")
    assert res.returncode == 0 and "[skip] keep: up to date" in res.stdout, res.stdout
    assert _ran(tmp_path) == 1


@pytest.mark.parametrize("stage", ["keep", "cycles"])
def test_the_run_cache_restores_a_folder_output_with_links_that_lead_nowhere(
    tmp_path: Path, stage: str
) -> None:
    """Session 42: the run cache stored only a folder output's regular files, so one holding
    a link that leads nowhere (``latest -> run-2``) or back to its folder (``current -> .``)
    never restored: the restored folder lacked the link, failed the checksum the cache recorded
    (``restored outputs differ ...; running the stage``), its entry was deleted and the stage
    ran again. The entry now keeps such links, and the restore makes them again."""
    tree = tmp_path / "state" / "out" / "tree"
    cache = "[cache]\nenable = true\n"
    for k in ("1", "2"):
        res = _run(tmp_path, "--set", f"stage={stage}", "--set", f"k={k}", config=cache)
        assert res.returncode == 0 and "[done] keep:" in res.stdout, res.stdout
    second = _recorded_output(tmp_path)
    res = _run(tmp_path, "--set", f"stage={stage}", "--set", "k=1", config=cache)
    assert res.returncode == 0, res.stdout
    assert "restored from cache (local)" in res.stdout, res.stdout
    assert "differ" not in res.stdout and "WARNING" not in res.stdout.upper(), res.stdout
    assert _ran(tmp_path) == 2
    assert _recorded_output(tmp_path) != second
    links = {
        "keep": {"latest": "run-2"},
        "cycles": {"current": ".", "latest": ".", "runs/up": ".."},
    }
    for name, target in links[stage].items():
        assert os.readlink(tree / name) == target
    model = tree / ("run-3" if stage == "keep" else "runs") / "model.txt"
    assert model.read_text() == "1\n" and not model.is_symlink()
    res = _run(tmp_path, "--set", f"stage={stage}", "--set", "k=1", config=cache)
    assert res.returncode == 0 and "[skip] keep: up to date" in res.stdout, res.stdout
    assert _ran(tmp_path) == 2
