"""The stage context ``ctx``: everything a running stage may ask of the runner.

This module holds the contract (a Protocol) that stage code is written against; the engine
provides the implementation. Stage code never imports the engine.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Ledger(Protocol):
    """Durable record of finished work items (SQLite WAL), written only by the parent process.

    An item is ``(item_id, key)``: ``item_id`` names the unit of work (a repo, an author), ``key``
    is a digest of everything that determines its result (the repo's refs, the author's commit
    set plus params). An item is done iff a record with the same id *and* key exists.
    """

    def is_done(self, item_id: str, key: str) -> bool: ...
    def get(self, item_id: str) -> tuple[str, Any] | None:
        """Return ``(key, result)`` of the last finished record for ``item_id``, if any."""
        ...

    def mark_done(self, item_id: str, key: str, result: Any = None) -> None: ...
    def forget(self, item_id: str) -> None: ...
    def items(self) -> Iterator[tuple[str, str, Any]]: ...
    def __len__(self) -> int: ...


class TrainingCheckpointer(Protocol):
    """Atomic, exact training checkpoints of the state dict the loop saves (model, optimizer,
    RNG states, position, ...)."""

    every_n_steps: int

    def due(self, step: int) -> bool:
        """True when ``step`` (1-based global step) is a checkpoint step."""
        ...

    def save(self, state: dict[str, Any], step: int) -> Path: ...
    def load_latest(self) -> dict[str, Any] | None:
        """The newest intact checkpoint (falls back to the previous one), or None."""
        ...

    def wait(self) -> None:
        """Block until every saved checkpoint is on disk (raises a failed write's error)."""
        ...


class ProgressHandle(Protocol):
    def advance(self, n: int = 1) -> None: ...
    def update(
        self,
        *,
        completed: int | None = None,
        total: int | None = None,
        description: str | None = None,
    ) -> None: ...


class StageContext(Protocol):
    """What a running stage sees.

    Attributes:
        run_id: id of this run (also the run folder name under ``<base_dir>/runs/``).
        stage: the stage's name.
        base_dir: output root.
        root_dir: the project folder; relative paths in ``params`` are taken from it.
        checkpoint_dir: ``<base_dir>/checkpoints/<stage>/``: partial work keyed by the fingerprint.
        params: the stage's params: exactly what its fingerprint covers, so a stage reads its
            settings from here (never from a config object captured at build time).
        settings: what the stage reads that cannot change its outputs (``Stage.settings``: a
            checkpoint cadence), outside the fingerprint.
        inputs: the stage's named inputs (``Stage.named_inputs``), name -> path.
        outputs: the stage's named outputs (``Stage.named_outputs``), name -> path: where
            the stage writes them (beside its partial work for ``Stage.staged_outputs``).
        final_outputs: where each named output lands when the stage completes (the same as
            ``outputs`` unless staged): the last completed run's outputs, to reuse what a
            stage may (results keyed by their own inputs), never to write.
        workers: size of the pool behind ``map`` (1 = in-process).
        device: the resolved torch device name (``cpu``, ``cuda``, ``mps``).
        device_preference: the configured preference it was resolved from (``auto``, ``cpu``,
            ``cuda``, ``mps``): a stage may keep ``auto``'s work on the CPU where an
            accelerator would not gain (and say so), never an explicit choice.
        seed: the run seed.
        log: a logger writing to ``logs/run.log`` (and the console).
    """

    run_id: str
    stage: str
    base_dir: Path
    root_dir: Path
    run_dir: Path
    checkpoint_dir: Path
    params: Mapping[str, Any]
    settings: Mapping[str, Any]
    inputs: Mapping[str, Path]
    outputs: Mapping[str, Path]
    final_outputs: Mapping[str, Path]
    workers: int
    device: str
    device_preference: str
    seed: int
    log: logging.Logger

    def should_stop(self) -> bool: ...
    def ledger(self, name: str) -> Ledger: ...
    def checkpointer(
        self, name: str, *, every_n_steps: int, keep: int = 2
    ) -> TrainingCheckpointer: ...
    def map(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        *,
        desc: str = "",
        total: int | None = None,
        done: int = 0,
    ) -> Iterator[tuple[T, R]]:
        """Run ``fn`` over independent items (in-process or a process pool), yielding
        ``(item, result)`` in completion order to the parent; stops handing out new items once
        ``should_stop()`` turns true. ``fn`` must be a picklable top-level function. ``done``:
        items of the same work already done (an earlier, stopped run's): the progress bar
        counts on from there, out of ``done`` + the items."""
        ...

    def progress(self, total: int | None, desc: str, completed: int = 0) -> ProgressHandle:
        """A progress bar of ``total`` items (None: unknown), ``completed`` of them done before
        it (a resumed stage's)."""
        ...

    def emit(self, event: str, **fields: Any) -> None:
        """Append one event to ``logs/events.jsonl`` (stage and run id added);
        ``emit("stage_warning", reason=text)`` is a warning for the user: a ``[warn] stage:
        text`` line on the console and in the report's warnings (:func:`warn` also keeps a
        copy in the run log)."""
        ...

    def set_summary(self, **fields: Any) -> None:
        """Attach key figures (shown by ``status``, the report and ``stage_completed``)."""
        ...


def warn(ctx: StageContext, text: str, **fields: Any) -> None:
    """Tell the user something to act on or know about, in the one form warnings take: a
    ``[warn] stage: text`` line on the console and in the report's warnings (event
    ``stage_warning``, ``fields`` added to it), and a WARNING copy in ``logs/run.log`` that the
    console does not show again. ``text`` is one line naming the file, key or path and the
    cause; detail belongs in ``ctx.log`` at debug or info level."""
    ctx.log.warning("%s", text, extra={"on_console": False})
    ctx.emit("stage_warning", reason=text, **fields)
