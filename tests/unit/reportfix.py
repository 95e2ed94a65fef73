"""Builds a realistic output folder on disk (real files, real TensorBoard event files, old
timestamps) for the retention, report and diff-runs tests."""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path
from typing import Any

from standard_coder.runner.envstamp import build_env_stamp, finish_env_stamp, write_env_stamp

DAY = 86400.0
STAGES = ("mine", "train_sch", "forecast")


def write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2), encoding="utf-8")


def make_png(path: Path, title: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4, 2.6), dpi=80)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot([0, 0.25, 0.5, 0.75, 1], [0, 0.3, 0.45, 0.8, 1], marker="o")
    ax.plot([0, 1], [0, 1], "--", color="grey")
    ax.set_title(title)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())


def write_tb(logdir: Path, n: int = 30) -> None:
    """A real TensorBoard event file with train/val loss and a learning rate."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    logdir.mkdir(parents=True, exist_ok=True)
    w = EventFileWriter(str(logdir))
    for step in range(1, n + 1):
        vals = {
            "loss/train": 2.0 / step**0.5 + 0.3,
            "loss/val": 2.1 / step**0.45 + 0.35,
            "lr": 1e-3 * (0.97**step),
        }
        for tag, v in vals.items():
            summ = Summary(value=[Summary.Value(tag=tag, simple_value=v)])
            w.add_event(Event(wall_time=1.7e9 + step, step=step, summary=summ))
    w.close()


def make_run(
    base: Path,
    run_id: str,
    started: float,
    *,
    status: str = "completed",
    config: dict[str, Any] | None = None,
    fingerprints: dict[str, str] | None = None,
    finish: bool = True,
) -> Path:
    run_dir = base / "runs" / run_id
    cfg = config or {"training": {"lr": 0.001, "epochs": 5}, "outputs": {"base_dir": base}}
    stamp = build_env_stamp(
        run_id=run_id,
        config=cfg,
        seed=42,
        device_kind="cpu",
        device_name="x86_64 test CPU",
        started_at=started,
        project_root=None,
    )
    write_env_stamp(run_dir, stamp)
    if finish:
        finish_env_stamp(run_dir, started + 75.0, status=status, stage_fingerprints=fingerprints)
    (run_dir / "run.log").write_text("x" * 2048)
    return run_dir


def events_for_run(run_id: str, t0: float, *, skipped: bool) -> list[dict[str, Any]]:
    ev: list[dict[str, Any]] = [
        {"ts": t0, "run_id": run_id, "event": "run_started", "stage": None, "reason": None}
    ]
    t = t0
    for i, st in enumerate(STAGES):
        if skipped and st != "forecast":
            ev.append(
                {
                    "ts": t + 0.1,
                    "run_id": run_id,
                    "event": "stage_skipped",
                    "stage": st,
                    "reason": "up to date",
                    "fingerprint": f"fp-{st}",
                }
            )
            t += 0.2
            continue
        reason = "new" if not skipped else "params changed: forecast.n_sims 1000 -> 5000"
        ev.append(
            {
                "ts": t + 0.1,
                "run_id": run_id,
                "event": "stage_cache_miss",
                "stage": st,
                "reason": reason,
            }
        )
        ev.append(
            {
                "ts": t + 0.2,
                "run_id": run_id,
                "event": "stage_running",
                "stage": st,
                "reason": reason,
            }
        )
        if st == "train_sch":
            for k in range(3):
                ev.append(
                    {
                        "ts": t + 1 + k,
                        "run_id": run_id,
                        "event": "checkpoint_saved",
                        "stage": st,
                        "reason": None,
                        "step": 100 * (k + 1),
                    }
                )
        dur = 3.5 + 10 * i
        ev.append(
            {
                "ts": t + 0.2 + dur,
                "run_id": run_id,
                "event": "stage_completed",
                "stage": st,
                "reason": None,
                "duration_s": dur,
                "fingerprint": f"fp-{st}",
                "summary": {"items": 10 * (i + 1)},
            }
        )
        t += dur + 0.5
    ev.append(
        {"ts": t + 0.1, "run_id": run_id, "event": "run_completed", "stage": None, "reason": None}
    )
    return ev


def make_base_dir(base: Path, now: float | None = None) -> dict[str, Any]:
    """Three runs (60, 40 and 0 days old), stages, models, reports, tb, forecasts, stale and
    quarantined files. Returns the interesting paths."""
    now = time.time() if now is None else now
    old = make_run(base, "20260101-000000-old1", now - 60 * DAY)
    failed = make_run(base, "20260201-000000-fail", now - 40 * DAY, status="failed")
    latest = make_run(
        base, "20260301-000000-new1", now - 600, fingerprints={s: f"fp-{s}" for s in STAGES}
    )
    events: list[dict[str, Any]] = []
    events += events_for_run(old.name, now - 60 * DAY, skipped=False)
    events += events_for_run(failed.name, now - 40 * DAY, skipped=False)[:4]
    events.append(
        {
            "ts": now - 40 * DAY + 5,
            "run_id": failed.name,
            "event": "stage_failed",
            "stage": "mine",
            "reason": "git exited 128",
            "error": "repo not found",
        }
    )
    events += events_for_run(latest.name, now - 600, skipped=True)
    (base / "logs").mkdir(parents=True, exist_ok=True)
    with (base / "logs" / "events.jsonl").open("w") as fh:
        for e in events:
            fh.write(json.dumps(e) + "\n")
    write_json(
        base / "checkpoints" / "run_state.json",
        {"run_id": latest.name, "stages": {s: {"status": "completed"} for s in STAGES}},
    )

    # Stage outputs + manifests.
    outputs = {
        "mine": "raw/mined_commits.sqlite",
        "train_sch": "models/mdn/model.pt",
        "forecast": "forecasts/S1_forecast.json",
    }
    for st, rel in outputs.items():
        p = base / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if not p.exists():
            p.write_bytes(os.urandom(4096))
        write_json(
            base / "stages" / st / "manifest.json",
            {
                "schema_version": 1,
                "stage": st,
                "inputs": {},
                "inputs_checksum": "0" * 64,
                "params": {},
                "runner_version": "0.1.0",
                # Names are relative to the pipeline's root (the config folder = base's parent).
                "outputs": {f"{base.name}/{rel}": "ab" * 32},
                "outputs_checksum": "cd" * 32,
                "fingerprint": f"fp-{st}",
                "code_version": "c1",
                "device": "cpu",
                "timestamp": now - 3600,
                "last_checked_ts": now - 600,
                "duration_s": 12.5,
                "summary": {"rows": 123},
            },
        )
    write_json(
        base / "forecasts" / "S1_forecast.json",
        {
            "sprint_id": "S1",
            "p_complete_by_end": 0.83,
            "completion_day_p50": 8,
            "completion_day_p85": 10,
            "expected_completed_sch": 41.5,
            "n_sims": 5000,
            "per_ticket": [{"id": "T1", "p": 0.9}],
        },
    )
    make_png(base / "forecasts" / "S1_forecast.png", "completion day")
    write_json(
        base / "reports" / "sch_evaluation.json",
        {
            "heldout_nll": 0.91,
            "baseline_loc_heldout_nll": 1.12,
            "crps": 0.071,
            "baseline_loc_crps": 0.083,
            "coverage_50": 0.49,
            "coverage_80": 0.78,
            "coverage_90": 0.88,
            "baseline_loc_coverage_80": 0.69,
            "spearman_sch": 0.61,
            "spearman_lines_added": 0.42,
            "spearman_churn": 0.44,
            "spearman_files_touched": 0.37,
            "binned_calibration_r2": 0.93,
            "work_inference_pearson_vs_truth": {"hmm": 0.81, "gap": 0.64},
            "left_out": {
                "generated_files": 2,
                "generated_lines_added": 9000,
                "formatting_files": 7,
                "formatting_lines_added": 2400,
            },
            "n_train": 1800,
            "n_test": 450,
            "plots": ["calibration.png"],
        },
    )
    make_png(base / "reports" / "calibration.png", "binned calibration")
    write_json(
        base / "reports" / "forecast_backtest.json",
        {"brier": 0.142, "brier_skill": 0.31, "p85_coverage": 0.86, "n_sprints": 14},
    )
    write_json(
        base / "eval" / "20260301-evalA" / "metrics.json",
        {"heldout_nll": 0.93, "crps": 0.072, "coverage_80": 0.79, "n_commits": 450},
    )
    write_tb(base / "tb" / "mdn")

    # Stale partial work and quarantine.
    stale = base / "checkpoints" / "stale" / "train_sch-fp-old"
    stale.mkdir(parents=True)
    (stale / "checkpoint.pt").write_bytes(os.urandom(8192))
    q = base / "quarantine"
    q.mkdir()
    (q / "manifest.json.1700000000.corrupt").write_bytes(b"{not json")
    # Age the two old runs' files as well.
    for d in (old, failed):
        for p in d.rglob("*"):
            os.utime(p, (now - 50 * DAY, now - 50 * DAY))
    return {
        "old": old,
        "failed": failed,
        "latest": latest,
        "stale": stale,
        "quarantine": q,
        "outputs": {st: base / rel for st, rel in outputs.items()},
    }
