"""The engine's two run-record calls: env stamp at start; stamp end, RETENTION.txt and the
HTML report at the end; never raising."""

from __future__ import annotations

import json
from pathlib import Path

from standard_coder.runner.envstamp import read_env_stamp
from standard_coder.runner.runrecord import (
    finish_run_record,
    precision_of,
    retention_days_of,
    start_run_record,
)
from standard_coder.runner.stage import Pipeline


def _pipeline(base: Path, **config: object) -> Pipeline:
    cfg = {"outputs": {"base_dir": str(base), "retention_days": 7}, "runner": {"seed": 3}}
    cfg.update(config)
    return Pipeline(name="demo", stages=(), base_dir=base, seed=3, device="cpu", config=cfg)


def test_start_and_finish(tmp_path: Path) -> None:
    base = tmp_path / "out"
    run_dir = base / "runs" / "r1"
    pipe = _pipeline(base, runner={"precision": "bf16"})
    start_run_record(run_dir, pipe, "r1", started_at=1_700_000_000.0)
    stamp = read_env_stamp(run_dir)
    assert stamp["run_id"] == "r1" and stamp["pipeline"] == "demo" and stamp["seed"] == 3
    assert stamp["precision"] == "bf16" and stamp["device_kind"] == "cpu"
    assert stamp["status"] == "running" and stamp["config"]["outputs"]["retention_days"] == 7
    (base / "logs").mkdir(parents=True)
    (base / "logs" / "events.jsonl").write_text(
        json.dumps(
            {
                "ts": 1_700_000_000.5,
                "run_id": "r1",
                "event": "stage_skipped",
                "stage": "s",
                "reason": "up to date",
                "check_s": 0.0003,
            }
        )
        + "\n"
    )
    report = finish_run_record(
        run_dir,
        pipe,
        status="completed",
        stage_fingerprints={"s": "f" * 64, "never_ran": None},
        ended_at=1_700_000_002.0,
    )
    stamp = read_env_stamp(run_dir)
    assert stamp["status"] == "completed" and stamp["duration_s"] == 2.0
    assert stamp["stage_fingerprints"] == {"s": "f" * 64}
    assert "7 days" in (run_dir / "RETENTION.txt").read_text()
    assert report == base / "reports" / "index.html"
    html = report.read_text()
    assert "r1" in html and "check 0.30 ms" in html


def test_never_raises(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    pipe = _pipeline(blocker)
    start_run_record(blocker / "runs" / "r", pipe, "r")  # cannot create: logged, not raised
    assert finish_run_record(blocker / "runs" / "r", pipe, status="failed") is None


def test_config_readers() -> None:
    assert (
        retention_days_of({}) == 30 and retention_days_of({"outputs": {"retention_days": 0}}) == 0
    )
    assert retention_days_of({"outputs": {"retention_days": "x"}}) == 30
    assert precision_of({}) == "fp32" and precision_of({"runner": {"precision": "fp16"}}) == "fp16"
