"""Helpers for the tests that run a pipeline in-process: ``run`` (the engine with an event sink
and no progress bars or signal handlers) and ``reasons`` (stage -> the reason of one event)."""

from __future__ import annotations

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
