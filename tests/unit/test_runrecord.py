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


def test_a_no_op_run_keeps_the_report_until_the_code_that_draws_it_changes(
    tmp_path: Path,
) -> None:
    """A no-op run keeps the page built for the same stages; an edited (or upgraded) report
    section redraws it on the next run, not only once a stage runs again."""
    import importlib.util
    import os
    import sys

    from standard_coder.runner.report import ReportSection

    package = tmp_path / "pkg"
    package.mkdir()
    module_file = package / "drawn_section.py"

    def load(text: str) -> ReportSection:
        module_file.write_text(f"def render(given):\n    return {text!r}\n")
        spec = importlib.util.spec_from_file_location("drawn_section", module_file)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules["drawn_section"] = module
        spec.loader.exec_module(module)
        return ReportSection("Drawn", module.render)

    base = tmp_path / "out"
    (base / "logs").mkdir(parents=True)
    (base / "logs" / "events.jsonl").write_text("")
    fingerprints = {"s": "f" * 64}

    def finish(section: ReportSection, run_id: str) -> str:
        pipe = Pipeline(name="demo", stages=(), base_dir=base, seed=3, device="cpu",
                        config={"outputs": {"base_dir": str(base)}},
                        report_sections=(section,))  # fmt: skip
        run_dir = base / "runs" / run_id
        start_run_record(run_dir, pipe, run_id)
        page = finish_run_record(run_dir, pipe, status="completed",
                                 stage_fingerprints=fingerprints, ran=0)  # fmt: skip
        assert page is not None
        return page.read_text()

    try:
        first = load("<p>drawn once</p>")
        assert "drawn once" in finish(first, "r1")
        # a no-op run (nothing ran, same code): the page is kept as it was
        page = base / "reports" / "index.html"
        stamp = page.stat().st_mtime_ns
        assert "drawn once" in finish(first, "r2") and page.stat().st_mtime_ns == stamp
        # the section's code is edited (another size, another time): the page is drawn again
        second = load("<p>drawn again, by new code</p>")
        os.utime(module_file, ns=(stamp + 10**9, stamp + 10**9))
        assert "drawn again, by new code" in finish(second, "r3")
    finally:
        sys.modules.pop("drawn_section", None)
