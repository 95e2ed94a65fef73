"""Helpers for the tests that run a pipeline: ``run`` (the engine in-process, with an event
sink and no progress bars or signal handlers), ``reasons`` (stage -> the reason of one event)
and ``last_run_reasons`` (stage -> its skip or rerun, from a run's events file)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from standard_coder.runner.engine import run_pipeline
from standard_coder.runner.events import MemorySink
from standard_coder.runner.progress import ProgressDisplay
from standard_coder.runner.stage import Pipeline


def run(pipe: Pipeline, **kw: Any) -> tuple[Any, MemorySink]:
    """``run_pipeline(pipe, **kw)`` with a :class:`MemorySink`, silent and without signal
    handlers (unless ``install_signals`` is given): the result and the sink."""
    sink = MemorySink()
    result = run_pipeline(
        pipe,
        sinks=[sink],
        progress=ProgressDisplay(enabled=False, stream=None),
        **{"install_signals": False, **kw},
    )
    return result, sink


def reasons(sink: MemorySink, event: str) -> dict[str, str]:
    """Stage name -> the ``reason`` of its ``event`` events (the last one wins)."""
    return {e["stage"]: e["reason"] for e in sink.events if e["event"] == event}


def last_run_reasons(out: Path) -> dict[str, tuple[str, str]]:
    """Stage -> (event, reason) of its skip or rerun in the last run of ``out/logs/events.jsonl``
    (a pipeline run as a user runs it: the events file, not a sink)."""
    lines = (out / "logs" / "events.jsonl").read_text(encoding="utf-8").splitlines()
    events = [json.loads(x) for x in lines]
    start = max(i for i, e in enumerate(events) if e["event"] == "run_started")
    return {
        e["stage"]: (e["event"], e["reason"])
        for e in events[start:]
        if e["event"] in ("stage_skipped", "stage_cache_miss")
    }
