"""Run events: the engine calls ``sink.emit(event)``; sinks decide where it goes.

An event is a flat JSON-able dict with at least ``ts, run_id, event, stage, reason``.
Names: ``run_started, stage_skipped, stage_cache_miss, stage_running, checkpoint_saved,
stage_completed, stage_failed, run_interrupted, run_completed, run_failed`` (plus ``state_corrupt``,
``partial_work_stale``, ``upstream_stale`` warnings, ``stage_warning`` for a stage's own
``ctx.emit("stage_warning", reason=...)``, and ``stage_resuming`` when a stage continues from
partial work of its fingerprint).

Example:
    >>> sink = MemorySink(); sink.emit({"event": "run_started"}); sink.events[0]["event"]
    'run_started'
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, Protocol

from standard_coder.runner.records import console_line, event_line, open_events


class EventSink(Protocol):
    """Where events go. ``emit`` must not raise for ordinary I/O hiccups of a console."""

    def emit(self, event: dict[str, Any]) -> None: ...
    def close(self) -> None: ...


_line = event_line


class JsonlSink:
    """Appends one flushed JSON line per event (``logs/events.jsonl``, kept across runs).

    A file whose last line was torn (a run killed mid-write, a disk that filled up) gets a
    newline first, so the torn line stays alone and the next event starts a line of its own.
    When the disk fills up, events are dropped with one warning on stderr: the run's own
    state files, not the log, decide whether it can go on.
    """

    def __init__(self, path: Path) -> None:
        from standard_coder.runner.fserrors import storage_error

        self.path = Path(path)
        self._failed = False
        try:
            self._fh: IO[str] = open_events(self.path)
        except OSError as exc:
            raise storage_error(exc, self.path) from None

    def emit(self, event: dict[str, Any]) -> None:
        if self._failed:
            return
        try:
            self._fh.write(_line(event))
            self._fh.flush()
        except OSError as exc:
            self._failed = True
            from standard_coder.runner.fserrors import describe

            with contextlib.suppress(OSError, ValueError):
                sys.stderr.write(
                    f"warning: events not logged from now on: {describe(exc, self.path)}\n"
                )

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._fh.close()


def read_events(path: Path) -> list[dict[str, Any]]:
    """Every event in a JSONL file, in order; torn or garbled lines are skipped."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return []
    return parse_event_lines(data.split(b"\n"))


def parse_event_lines(lines: list[bytes]) -> list[dict[str, Any]]:
    """The events among JSONL lines, in order; empty, torn or garbled lines are skipped."""
    out: list[dict[str, Any]] = []
    for line in lines:
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and isinstance(event.get("event"), str):
            out.append(event)
    return out


class RunLogHandler(logging.FileHandler):
    """``logs/run.log``: a write that fails (a full disk) is dropped with one warning on stderr
    instead of logging's own traceback per record."""

    _warned = False

    def handleError(self, record: logging.LogRecord) -> None:
        if self._warned:
            return
        self._warned = True
        exc = sys.exc_info()[1]
        from standard_coder.runner.fserrors import describe

        cause = describe(exc, self.baseFilename) if isinstance(exc, OSError) else str(exc)
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write(f"warning: run log not written from now on: {cause}\n")


class StreamJsonSink:
    """One JSON line per event on a stream (stderr by default; ``--log-format json``)."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream

    def emit(self, event: dict[str, Any]) -> None:
        stream = self._stream or sys.stderr
        stream.write(_line(event))
        stream.flush()

    def close(self) -> None:
        pass


class MemorySink:
    """Keeps events in a list (tests)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def emit(self, event: dict[str, Any]) -> None:
        self.events.append(dict(event))

    def close(self) -> None:
        pass

    def names(self, stage: str | None = None) -> list[str]:
        """Event names, optionally of one stage."""
        return [e["event"] for e in self.events if stage is None or e.get("stage") == stage]


class ConsoleSink:
    """Human lines on a stream (stderr by default): ``[skip] prepare: up to date``."""

    def __init__(self, stream: IO[str] | None = None, *, dry_run: bool = False) -> None:
        self._stream = stream
        self._dry = dry_run

    def emit(self, event: dict[str, Any]) -> None:
        text = console_line(event, dry_run=self._dry)
        if text is None:
            return
        stream = self._stream or sys.stderr
        try:
            stream.write(text)
            stream.flush()
        except (OSError, ValueError):
            pass

    def close(self) -> None:
        pass


class MultiSink:
    """Fans one event out to several sinks."""

    def __init__(self, sinks: Sequence[EventSink]) -> None:
        self.sinks = list(sinks)

    def emit(self, event: dict[str, Any]) -> None:
        for sink in self.sinks:
            sink.emit(event)

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()
