"""The engine's :class:`~standard_coder.runner.context.StageContext` implementation.

Ledger, checkpointer, executor and device come from their own modules, imported on first use so
that a pipeline that never asks for them (e.g. command stages) never loads them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from pathlib import Path
from typing import Any, TypeVar

from standard_coder.runner.progress import ProgressDisplay, ProgressTask
from standard_coder.runner.stoptoken import StopToken

T = TypeVar("T")
R = TypeVar("R")


class RunContext:
    """What a running stage sees (see :class:`~standard_coder.runner.context.StageContext`)."""

    def __init__(
        self,
        *,
        run_id: str,
        stage: str,
        base_dir: Path,
        run_dir: Path,
        checkpoint_dir: Path,
        params: Mapping[str, Any],
        seed: int,
        fingerprint: str,
        workers: int,
        stop: StopToken,
        emit: Callable[..., None],
        progress: ProgressDisplay,
        device: Callable[[], str],
        device_preference: str,
        on_corrupt: Callable[[Path, str], None] | None = None,
        root_dir: Path | None = None,
        inputs: Mapping[str, Path] | None = None,
        outputs: Mapping[str, Path] | None = None,
        final_outputs: Mapping[str, Path] | None = None,
        executor: str | None = None,
        shared_executors: dict[str, Any] | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        self.run_id = run_id
        self.stage = stage
        self.base_dir = base_dir
        self.run_dir = run_dir
        self.checkpoint_dir = checkpoint_dir
        self.params = params
        self.settings: Mapping[str, Any] = dict(settings or {})
        self.root_dir = root_dir if root_dir is not None else base_dir.parent
        self.inputs: Mapping[str, Path] = dict(inputs or {})
        self.outputs: Mapping[str, Path] = dict(outputs or {})
        self.final_outputs: Mapping[str, Path] = dict(
            final_outputs if final_outputs is not None else self.outputs
        )
        self.seed = seed
        self.fingerprint = fingerprint
        self.workers = workers
        self.executor = executor
        self._shared_executors = shared_executors
        self.log = logging.getLogger(f"standard_coder.stage.{stage}")
        self.summary: dict[str, Any] = {}
        self.last_task: ProgressTask | None = None
        self.tasks: list[ProgressTask] = []
        self.last_checkpoint: tuple[str, int] | None = None
        self._stop = stop
        self.stop_seen = False
        """True once the stage asked :meth:`should_stop` and was told to stop: it may have
        returned early. A stage that never saw the stop ran to its end (its work is whole)."""
        self._emit = emit
        self._progress = progress
        self._device_fn = device
        self.device_preference = device_preference
        self._on_corrupt = on_corrupt
        self._closers: list[Callable[[], None]] = [self._close_executor]
        self._executor: Any = None

    @property
    def device(self) -> str:
        """The resolved torch device name (resolved on first use)."""
        return self._device_fn()

    @property
    def stop_signal(self) -> int | None:
        """The signal that asked for a stop, if any."""
        return self._stop.signum

    def should_stop(self) -> bool:
        """True once SIGINT/SIGTERM arrived: finish the current item or step, then return."""
        if self._stop.requested:
            self.stop_seen = True
            return True
        return False

    def register_process_group(self, pgid: int) -> None:
        """Forward stop signals to this process group (command stages)."""
        self._stop.add_group(pgid)

    def unregister_process_group(self, pgid: int) -> None:
        self._stop.remove_group(pgid)

    def ledger(self, name: str) -> Any:
        """The durable ledger ``<checkpoint_dir>/<name>.ledger.sqlite`` (a corrupt one is
        quarantined and started afresh)."""
        from standard_coder.runner.errors import CorruptStateError
        from standard_coder.runner.ledger import SqliteLedger

        self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        path = self.checkpoint_dir / f"{name}.ledger.sqlite"
        try:
            ledger = SqliteLedger(path)
        except CorruptStateError as exc:
            if self._on_corrupt is None:
                raise
            self._on_corrupt(path, exc.reason)  # moved aside: the items are redone
            ledger = SqliteLedger(path)
        self._closers.append(ledger.close)
        return ledger

    def checkpointer(self, name: str, *, every_n_steps: int, keep: int = 2) -> Any:
        """Training checkpoints under ``<checkpoint_dir>/<name>/`` (emits ``checkpoint_saved``)."""
        from standard_coder.runner.checkpoint import Checkpointer

        def on_save(path: Path, step: int) -> None:
            self.last_checkpoint = (name, step)
            self._emit("checkpoint_saved", reason=f"step {step}", path=str(path), step=step)

        checkpointer = Checkpointer(
            self.checkpoint_dir / name,
            every_n_steps=every_n_steps,
            keep=keep,
            fingerprint=self.fingerprint,
            on_save=on_save,
        )
        self._closers.append(checkpointer.close)
        return checkpointer

    def map(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        *,
        desc: str = "",
        total: int | None = None,
        done: int = 0,
    ) -> Iterator[tuple[T, R]]:
        """Run ``fn`` over items (in-process, a process pool or a Dask cluster); see the
        protocol.

        A local pool serves every map of the stage (closed with the stage): a stage that maps
        three times (work inference, its comparison, features) starts its worker processes and
        their imports once, not three times; a map that raised gets a fresh pool next time. A
        cluster client (``executor`` spec) is shared by the whole run.
        """
        if total is None and isinstance(items, Sized):
            total = len(items)
        task = self.progress(None if total is None else done + total, desc or self.stage, done)
        spec = self.executor
        shared = self._shared_executors if spec else None
        if spec and shared is not None:  # a cluster: one client per run, reused by every map
            if spec not in shared:
                from standard_coder.runner.executor import make_executor

                shared[spec] = make_executor(spec)
            executor = shared[spec]
        else:  # local: one pool per stage (see above)
            executor = self._get_executor()
        try:
            for item, result in executor.map(fn, items, self.should_stop):
                task.advance(1)
                yield item, result
            if task.total is None and not self.should_stop():
                # items of unknown number (a generator): their count is known now, and a plain
                # progress line says it (else the last line was the first one, "desc: 0")
                task.update(total=task.completed)
        except BaseException:
            if shared is None:
                self._close_executor()  # a worker may be broken: never reuse it
            raise

    def _get_executor(self) -> Any:
        if self._executor is None:
            from standard_coder.runner.executor import make_executor

            self._executor = make_executor(self.executor or self.workers)
        return self._executor

    def _close_executor(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.close()

    def progress(self, total: int | None, desc: str, completed: int = 0) -> ProgressTask:
        """A progress bar (``completed``: items done before it); its counts feed the
        interrupt message."""
        task = self._progress.task(total, desc, completed)
        self.last_task = task
        self.tasks.append(task)
        return task

    def emit(self, event: str, **fields: Any) -> None:
        """Append one event (stage and run id added)."""
        self._emit(event, **fields)

    def set_summary(self, **fields: Any) -> None:
        """Attach key figures to ``stage_completed``, the run state and the manifest."""
        self.summary.update(fields)

    def close(self) -> None:
        """Close the ledgers and checkpointers handed to the stage (pending writes finish)."""
        while self._closers:
            closer = self._closers.pop()
            try:
                closer()
            except Exception:  # e.g. a checkpoint write failed: the previous one stays in charge
                self.log.warning("closing %r failed", closer, exc_info=True)
