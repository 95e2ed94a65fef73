"""The engine's run record on the no-op path: ``git status`` starts with the run and runs beside
the stat walk; the stamp is written before the first stage runs, or once at the end of a run
that ran none (a no-op rerun writes ``env_stamp.json`` once, not twice)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from gitfix import committed_repo, git

from standard_coder.runner import envstamp
from standard_coder.runner.engine import run_pipeline
from standard_coder.runner.envstamp import CodeOriginProbe, code_origin, read_env_stamp
from standard_coder.runner.stage import Pipeline, Stage

SEEN: list[dict[str, Any]] = []


def _count(ctx: Any) -> None:
    # the run's stamp exists while the stage runs (a run killed here keeps its record)
    stamps = sorted((ctx.base_dir / "runs").glob("*/env_stamp.json"))
    SEEN.append(read_env_stamp(stamps[-1].parent))
    data = ctx.base_dir.parent / "data"
    (ctx.base_dir.parent / "n.txt").write_text(str(len(list(data.iterdir()))))


def _pipeline(root: Path) -> Pipeline:
    stage = Stage(name="count", run=_count, inputs=(root / "data",), outputs=(root / "n.txt",))
    return Pipeline(name="p", stages=(stage,), base_dir=root / "out", config={"k": 1})


def test_stamp_before_a_stage_runs_and_once_on_a_no_op(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "data").mkdir()
    for i in range(3):
        (tmp_path / "data" / f"f{i}").write_text(str(i))
    pipe = _pipeline(tmp_path)
    SEEN.clear()
    assert run_pipeline(pipe, install_signals=False).exit_code == 0
    assert len(SEEN) == 1 and SEEN[0]["status"] == "running"
    assert SEEN[0]["code_version"] == code_origin(tmp_path)  # the project's, not this package's

    writes: list[Path] = []
    real = envstamp.write_env_stamp

    def counting(run_dir: Path, stamp: Any, **kw: Any) -> Path:
        writes.append(Path(run_dir))
        return real(run_dir, stamp, **kw)

    fsyncs: list[int] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        fsyncs.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(envstamp, "write_env_stamp", counting)
    monkeypatch.setattr(os, "fsync", counting_fsync)
    result = run_pipeline(pipe, install_signals=False)
    assert result.exit_code == 0 and result.ran == 0 and len(SEEN) == 1
    run_dir = tmp_path / "out" / "runs" / result.run_id
    assert writes == [run_dir]  # one write: start and end together
    assert fsyncs == []  # a no-op's records are atomic, not flushed (manifests untouched)
    state = json.loads((tmp_path / "out" / "checkpoints" / "run_state.json").read_text())
    assert state["run_id"] == result.run_id and state["status"] == "completed"
    stamp = read_env_stamp(run_dir)
    assert stamp["status"] == "completed" and stamp["run_id"] == result.run_id
    assert stamp["code_version"] == code_origin(tmp_path) and stamp["config"] == {"k": 1}
    assert stamp["duration_s"] is not None and stamp["duration_s"] >= 0
    assert stamp["started_at"] <= stamp["ended_at"]


def test_the_stamp_s_code_is_the_project_s_checkout(tmp_path: Path) -> None:
    """The stamp's code version was this package's own git checkout (a report showed the
    tool's commit for a user's project): it is the checkout the pipeline's folder is in."""
    repo = committed_repo(tmp_path)
    (repo / "data").mkdir()
    (repo / "data" / "f").write_text("1")
    result = run_pipeline(_pipeline(repo), install_signals=False)
    stamp = read_env_stamp(repo / "out" / "runs" / result.run_id)
    assert stamp["code_version"]["git_commit"] == git(repo, "rev-parse", "HEAD").strip()
    assert stamp["code_version"]["source"] == "git"


def test_probe_answers_as_code_origin(tmp_path: Path) -> None:
    repo = committed_repo(tmp_path)
    probe = CodeOriginProbe(repo)
    (repo / "m.py").write_text("x = 2\n")  # after the probe started: not seen, or seen;
    got = probe.result()  # either way one consistent answer, and the same on a second call
    assert got["git_commit"] == git(repo, "rev-parse", "HEAD") and probe.result() is got
    assert code_origin(repo)["git_dirty"] is True
    plain = CodeOriginProbe(tmp_path / "none")  # not a checkout: the package version
    assert plain.result()["source"] == "package"
    unread = CodeOriginProbe(repo)
    unread.close()  # a run that ended early reaps its git status
    unread.close()
