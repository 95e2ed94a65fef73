"""What the run page shows, collected from the runner's files: runs (env stamps plus events),
and the latest run's stages (events, run state, manifests). Reads only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from standard_coder.runner.decision import Reason
from standard_coder.runner.envstamp import STAMP_FILE, parse_time
from standard_coder.runner.events import parse_event_lines
from standard_coder.runner.jsonfile import read_json_object_or_none
from standard_coder.runner.layout import RunnerLayout
from standard_coder.runner.report.kit import fmt_time, fmt_value, num

MAX_EVENT_BYTES = 32 * 1024 * 1024
WARNING_EVENTS = ("state_corrupt", "partial_work_stale", "upstream_stale", "stage_warning")


@dataclass
class StageRow:
    """One stage of the latest run as the report shows it."""

    name: str
    status: str = "pending"
    cache: str = ""
    reason: str = ""
    started: float | None = None
    ended: float | None = None
    duration_s: float | None = None
    checkpoints: int = 0
    check_s: float | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    last_built: float | None = None

    @property
    def extra(self) -> str:
        """The line under the reason: key figures, and when a skipped stage was built."""
        summary = ", ".join(f"{k}={fmt_value(v)}" for k, v in sorted(self.summary.items())[:6])
        built = ""
        if self.status == "skipped" and self.last_built:
            built = f"built {fmt_time(self.last_built)}"
        return " · ".join(x for x in (summary, built) if x)


@dataclass
class RunInfo:
    """One run folder: its stamp and what its events say."""

    run_id: str
    path: Path | None
    stamp: dict[str, Any]
    started: float | None
    ended: float | None
    status: str
    counts: dict[str, int] = field(default_factory=dict)


def read_events(base_dir: Path) -> list[dict[str, Any]]:
    """Events of ``logs/events.jsonl`` (appended across runs: only the newest lines when huge)."""
    path = RunnerLayout(base_dir).events
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - MAX_EVENT_BYTES))
            data = fh.read()
    except OSError:
        return []
    lines = data.split(b"\n")
    if size > MAX_EVENT_BYTES:
        lines = lines[1:]  # the first line is probably cut
    return parse_event_lines(lines)


def _event_status(events: Sequence[Mapping[str, Any]]) -> str | None:
    status: str | None = None
    for ev in events:
        name = ev.get("event")
        if name == "run_started":
            status = "running"
        elif name in ("stage_failed", "run_failed"):
            status = "failed"
        elif name == "run_interrupted":
            status = "interrupted"
        elif name == "run_completed":
            given = ev.get("status")
            if isinstance(given, str) and given:
                status = given
            elif status != "failed":
                status = "completed"
    return status


def collect_runs(base_dir: Path, events: Sequence[Mapping[str, Any]]) -> list[RunInfo]:
    by_run: dict[str, list[Mapping[str, Any]]] = {}
    for ev in events:
        rid = ev.get("run_id")
        if isinstance(rid, str):
            by_run.setdefault(rid, []).append(ev)
    runs: dict[str, RunInfo] = {}
    runs_dir = RunnerLayout(base_dir).runs
    if runs_dir.is_dir():
        for d in sorted(runs_dir.iterdir()):
            if not d.is_dir():
                continue
            stamp = read_json_object_or_none(d / STAMP_FILE) or {}
            rid = str(stamp.get("run_id") or d.name)
            runs[rid] = RunInfo(
                run_id=rid,
                path=d,
                stamp=stamp,
                started=parse_time(stamp.get("started_at")),
                ended=parse_time(stamp.get("ended_at")),
                status=str(stamp.get("status") or "unknown"),
            )
    for rid, evs in by_run.items():
        info = runs.get(rid)
        if info is None:
            info = runs[rid] = RunInfo(rid, None, {}, None, None, "unknown")
        ts = [t for t in (parse_time(ev.get("ts")) for ev in evs) if t is not None]
        if info.started is None and ts:
            info.started = min(ts)
        ev_status = _event_status(evs)
        if ev_status and info.status in ("unknown", "running"):
            info.status = ev_status
        if info.ended is None and ev_status not in (None, "running") and ts:
            info.ended = max(ts)
        counts: dict[str, int] = {}
        for ev in evs:
            counts[str(ev["event"])] = counts.get(str(ev["event"]), 0) + 1
        info.counts = counts
    ordered = sorted(runs.values(), key=lambda r: (r.started or 0.0, r.run_id), reverse=True)
    # A run that never recorded an end and is not the newest was cut off (killed, power loss).
    for info in ordered[1:]:
        if info.status in ("running", "unknown"):
            info.status = "cut off"
    return ordered


def stage_rows(
    base_dir: Path, run_id: str | None, events: Sequence[Mapping[str, Any]]
) -> tuple[list[StageRow], dict[str, Any] | None]:
    rows: dict[str, StageRow] = {}
    mine = [ev for ev in events if run_id is None or ev.get("run_id") == run_id]
    for ev in mine:
        stage, name, ts = ev.get("stage"), ev.get("event"), parse_time(ev.get("ts"))
        reason = ev.get("reason")
        if name == "run_interrupted":
            for row in rows.values():
                if row.status == "running":
                    row.status = "interrupted"
                    row.reason = row.reason or str(reason or "interrupted")
            continue
        if not isinstance(stage, str) or not stage:
            continue
        row = rows.setdefault(stage, StageRow(stage))
        if name == "stage_skipped":
            row.status, row.cache = "skipped", "hit"
            row.reason = str(reason or "up to date")
            row.check_s = num(ev.get("check_s"))
        elif name == "stage_cache_miss":
            row.cache = "forced" if ev.get("code") == Reason.FORCED.value else "miss"
            row.reason = str(reason or "")
        elif name == "stage_running":
            row.status, row.started = "running", ts
            if reason and not row.reason:
                row.reason = str(reason)
        elif name == "checkpoint_saved":
            row.checkpoints += 1
        elif name in ("stage_completed", "stage_failed"):
            row.status = "completed" if name == "stage_completed" else "failed"
            row.ended = ts
            dur = ev.get("duration_s")
            if isinstance(dur, (int, float)) and not isinstance(dur, bool):
                row.duration_s = float(dur)
            elif row.started is not None and ts is not None:
                row.duration_s = ts - row.started
            if name == "stage_failed":
                err = ev.get("error") or reason
                row.reason = f"{row.reason} — failed: {err}" if row.reason else f"failed: {err}"
            summary = ev.get("summary")
            if isinstance(summary, dict):
                row.summary.update(summary)

    layout = RunnerLayout(base_dir)
    state = read_json_object_or_none(layout.run_state)
    stages = state.get("stages") if state is not None else None
    if isinstance(stages, dict):
        for name, info in stages.items():
            if not isinstance(info, dict):
                continue
            rec_run = info.get("run_id", state.get("run_id") if state else None)
            status = info.get("status")
            if run_id is not None and rec_run not in (None, run_id):
                if name not in rows:
                    rows[name] = StageRow(
                        str(name),
                        status="not run",
                        reason=f"not selected in this run (last {status} in run {rec_run})",
                    )
                continue
            row = rows.setdefault(str(name), StageRow(str(name)))
            if isinstance(status, str) and row.status in ("pending", "running"):
                row.status = status
            if row.duration_s is None and num(info.get("duration_s")) is not None:
                row.duration_s = float(info["duration_s"])
            if not row.reason and isinstance(info.get("reason"), str):
                row.reason = info["reason"]
            if not row.cache and isinstance(info.get("cache_hit"), bool):
                row.cache = "hit" if info["cache_hit"] else "miss"

    for row in rows.values():
        manifest = read_json_object_or_none(layout.manifest(row.name))
        if isinstance(manifest, dict):
            row.last_built = parse_time(manifest.get("timestamp"))
            summary = manifest.get("summary")
            if isinstance(summary, dict) and not row.summary:
                row.summary.update(summary)
            if row.duration_s is None and row.status == "completed":
                dur = manifest.get("duration_s")
                if isinstance(dur, (int, float)):
                    row.duration_s = float(dur)
    return list(rows.values()), state
