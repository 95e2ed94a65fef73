"""What every executor shares: the stop request items poll, the errors, and the bounded
submission loop (:func:`top_up`).

:func:`stop_requested` answers from ``worker_stop`` (set in a pool or Dask worker: an object with
``is_set()``) or ``local_stop`` (in-process: the running map's ``should_stop``). The executors
(:mod:`~standard_coder.runner.executor`, :mod:`~standard_coder.runner.dask_executor`) set them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any, TypeVar

from standard_coder.runner.errors import RunnerError

__all__ = ["ExecutorUnavailable", "ItemStopped", "stop_requested", "top_up"]

T = TypeVar("T")
F = TypeVar("F")


class ExecutorUnavailable(RunnerError):
    """The requested executor (e.g. ``dask://...``) is unknown or not available yet."""


class ItemStopped(Exception):
    """Raised by an item function that saw :func:`stop_requested`: the item is not done (it
    is not yielded and is redone by the next run)."""


worker_stop: Any = None  # in a pool worker: the pool's multiprocessing Event
local_stop: Callable[[], bool] | None = None  # in-process: the running map's should_stop


def stop_requested() -> bool:
    """True once the run asked to stop, wherever the item runs (a worker or in-process).

    Items that take long (an author's HMM fit) poll it and raise :class:`ItemStopped`, so a
    Ctrl-C does not wait for the work in flight to finish.
    """
    if worker_stop is not None:
        return bool(worker_stop.is_set())
    return bool(local_stop is not None and local_stop())


def top_up(
    in_flight: dict[F, T],
    limit: int,
    source: Iterator[T],
    submit: Callable[[T], F],
    should_stop: Callable[[], bool],
) -> bool:
    """Submit items of ``source`` while fewer than ``limit`` are ``in_flight`` (future ->
    item; each new one is added).

    ``should_stop()`` is asked before each item, so a stop never takes one more. Returns False
    once nothing more will be submitted (a stop was asked for, or ``source`` ended), True when
    ``limit`` was reached with items perhaps left.
    """
    while len(in_flight) < limit:
        if should_stop():
            return False
        try:
            item = next(source)
        except StopIteration:
            return False
        in_flight[submit(item)] = item
    return True


class _ContextManager:
    def close(self) -> None:  # pragma: no cover - overridden
        pass

    def __enter__(self: Any) -> Any:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
