"""What every executor shares: the stop request items poll, and the errors.

:func:`stop_requested` answers from ``worker_stop`` (set in a pool or Dask worker: an object with
``is_set()``) or ``local_stop`` (in-process: the running map's ``should_stop``). The executors
(:mod:`~standard_coder.runner.executor`, :mod:`~standard_coder.runner.dask_executor`) set them.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any

from standard_coder.runner.errors import RunnerError

__all__ = ["ExecutorUnavailable", "ItemStopped", "stop_requested"]


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
