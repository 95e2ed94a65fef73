"""Executors behind ``ctx.map``: run independent items in-process or in a local process pool.

Results always come back to the parent, which alone writes the ledger, so resume works the
same whatever runs the items. Backends are chosen by a spec (:func:`make_executor`):
``1`` / ``"inprocess"`` runs in-process, ``N`` / ``"local:N"`` uses N worker processes,
``"local"`` one per CPU, ``"dask://HOST:PORT"`` a Dask cluster
(:mod:`~standard_coder.runner.dask_executor`, imported only then). Other schemes plug in through
:func:`register_executor`.

Example:
    >>> with make_executor(4) as ex:
    ...     for item, result in ex.map(work, items, should_stop=ctx.should_stop):
    ...         ledger.mark_done(item.id, item.key, result)
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import select
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol, TypeVar, runtime_checkable

from standard_coder.runner import itemstop
from standard_coder.runner.itemstop import (
    ExecutorUnavailable,
    ItemStopped,
    _ContextManager,
    stop_requested,
    top_up,
)

__all__ = [
    "Executor",
    "ExecutorUnavailable",
    "InProcessExecutor",
    "ItemStopped",
    "LocalPoolExecutor",
    "MapFn",
    "ProcessPoolExecutor",
    "in_process_map",
    "make_executor",
    "register_executor",
    "stop_polling",
    "stop_requested",
]

T = TypeVar("T")
R = TypeVar("R")

#: Module the forkserver preloads so children of a vanished parent exit without a traceback.
QUIET_FORKSERVER = "standard_coder.runner.quiet_forkserver"

MapFn = Callable[[Callable[[Any], Any], Iterable[Any]], Iterator[tuple[Any, Any]]]
"""What domain code takes for parallel work: ``map_fn(fn, items)`` yields ``(item, result)``,
in any order (``ctx.map`` is one; :func:`in_process_map` is the default)."""


@contextlib.contextmanager
def stop_polling(should_stop: Callable[[], bool]) -> Iterator[None]:
    """Make :func:`stop_requested` answer ``should_stop()`` inside the block, in every thread
    of this process (for domain code that runs items in its own threads, e.g. the miner's
    default :func:`~standard_coder.sch.mining.mine.thread_map`)."""
    outer, itemstop.local_stop = itemstop.local_stop, should_stop
    try:
        yield
    finally:
        itemstop.local_stop = outer


@runtime_checkable
class Executor(Protocol):
    """Runs ``fn`` over independent items and yields ``(item, result)`` in completion order."""

    def map(
        self, fn: Callable[[T], R], items: Iterable[T], should_stop: Callable[[], bool]
    ) -> Iterator[tuple[T, R]]:
        """Stop handing out new items once ``should_stop()`` is true; items in flight finish
        and are still yielded, except those that poll :func:`stop_requested` and raise
        :class:`ItemStopped` (not done). An exception raised by ``fn`` propagates."""
        ...

    def close(self) -> None:
        """Release workers (idempotent)."""
        ...


class InProcessExecutor(_ContextManager):
    """Runs items one after another in the calling process (the default for tiny work)."""

    workers = 1

    def map(
        self, fn: Callable[[T], R], items: Iterable[T], should_stop: Callable[[], bool]
    ) -> Iterator[tuple[T, R]]:
        """See :meth:`Executor.map`; an item that raises :class:`ItemStopped` ends the map."""
        for item in items:
            if should_stop():
                return
            outer, itemstop.local_stop = itemstop.local_stop, should_stop
            try:
                result = fn(item)
            except ItemStopped:
                return
            finally:
                itemstop.local_stop = outer
            yield item, result

    def close(self) -> None:
        """Nothing to release."""


def in_process_map(should_stop: Callable[[], bool] = lambda: False) -> MapFn:
    """A :data:`MapFn` that runs items in order in this process, stopping when asked."""
    return lambda fn, items: InProcessExecutor().map(fn, items, should_stop)


def _watch_parent(parent_pid: int) -> None:
    """Exit this worker as soon as the parent process is gone (even after its SIGKILL)."""
    try:
        fd = os.pidfd_open(parent_pid)  # Linux >= 5.3: readable once the process exits
    except (AttributeError, OSError):
        fd = -1
    if fd >= 0:
        select.select([fd], [], [])
        os._exit(1)
    while True:  # pragma: no cover - platforms without pidfd
        try:
            os.kill(parent_pid, 0)
        except ProcessLookupError:
            os._exit(1)
        except PermissionError:
            pass
        time.sleep(0.5)


def _worker_init(parent_pid: int, stop_event: Any = None) -> None:
    """Worker setup: the parent alone handles Ctrl-C and tells workers through ``stop_event``;
    the worker dies with the parent."""
    itemstop.worker_stop = stop_event
    # SIGINT/SIGTERM sent to the whole process group (Ctrl-C, ``timeout``, systemd, CI) reach
    # the workers too: they leave them to the parent, which stops the map through stop_event.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()


def _stopping(should_stop: Callable[[], bool], grace_s: float = 1.0) -> bool:
    """True when a stop was asked for, waiting up to ``grace_s`` for the parent's handler (a
    signal to the process group can kill a worker that is still starting before its own
    handlers are set, and the pool may notice before the parent's handler has run)."""
    deadline = time.monotonic() + grace_s
    while not should_stop():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def _start_quiet_resource_tracker() -> None:
    """Start multiprocessing's resource tracker with its stderr on /dev/null.

    When the run is SIGKILLed, the tracker outlives it, unlinks the pool's semaphores (its job)
    and prints "There appear to be N leaked semaphore objects" on the user's terminal: noise
    after an intended kill. Started here first, it cleans up the same and says nothing.
    """
    from multiprocessing import resource_tracker

    tracker = getattr(resource_tracker, "_resource_tracker", None)
    if tracker is None or getattr(tracker, "_fd", None) is not None:
        return  # unknown internals, or already running
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    saved = os.dup(2)
    try:
        os.dup2(devnull, 2)  # the tracker inherits fd 2
        resource_tracker.ensure_running()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _quiet_forkserver_children(ctx: Any) -> None:
    """Have the forkserver preload :mod:`quiet_forkserver` (before it first starts; a server
    already running keeps its preloads)."""
    if ctx.get_start_method() != "forkserver":
        return
    from multiprocessing import forkserver

    server = getattr(forkserver, "_forkserver", None)
    preload = list(getattr(server, "_preload_modules", []) or [])
    if QUIET_FORKSERVER not in preload:
        ctx.set_forkserver_preload([*preload, QUIET_FORKSERVER])


#: The longest Unix socket path (``sun_path`` less its NUL): 103 bytes on macOS, 107 elsewhere.
_SOCKET_PATH_MAX = 103 if sys.platform == "darwin" else 107
#: What the forkserver adds to the temporary folder for its socket: ``/pymp-XXXXXXXX`` (the
#: process's multiprocessing folder) and ``/listener-XXXXXXXX``.
_FORKSERVER_SUFFIX = len("/pymp-xxxxxxxx/listener-xxxxxxxx")


class PoolStartError(RuntimeError):
    """The worker pool cannot start in this environment (a user setting is the fix: exit 2)."""

    exit_code = 2


def check_socket_room(context: str) -> None:
    """Refuse, in one line, a temporary folder too long for the forkserver's Unix socket.

    The forkserver listens on ``$TMPDIR/pymp-XXXXXXXX/listener-XXXXXXXX``; a ``TMPDIR`` over 75
    bytes (71 on macOS) makes its start fail with a bare ``OSError: AF_UNIX path too long``.

    Raises:
        PoolStartError: ``context`` is ``forkserver`` and the temporary folder is too long.
    """
    if context != "forkserver":
        return
    folder = tempfile.gettempdir()
    room = _SOCKET_PATH_MAX - _FORKSERVER_SUFFIX
    if len(os.fsencode(folder)) > room:
        raise PoolStartError(
            f"TMPDIR {folder}: {len(os.fsencode(folder))} bytes, too long for the worker pool's "
            f"socket (at most {room} here): set TMPDIR to a shorter folder, or run with "
            "[runner] workers = 1 (no pool)"
        )


def _default_context() -> str:
    methods = multiprocessing.get_all_start_methods()
    return "forkserver" if "forkserver" in methods else "spawn"


class LocalPoolExecutor(_ContextManager):
    """A pool of worker processes on this machine (``concurrent.futures``).

    Workers start with ``forkserver`` (``spawn`` where unavailable), so torch in the parent is
    never forked; they ignore SIGINT (the parent decides when to stop) and a watchdog thread
    ends them when the parent dies, even by SIGKILL (no orphans). At most ``max_in_flight``
    items are handed out at once, and a stop request reaches the workers within 0.2 s
    (:func:`stop_requested`), so long items can end early instead of finishing.

    Args:
        workers: number of worker processes (>= 1).
        max_in_flight: items handed out but not yet yielded (default ``2 * workers``).
        mp_context: ``"forkserver"``, ``"spawn"`` or ``"fork"`` (default: forkserver).
    """

    def __init__(
        self, workers: int, *, max_in_flight: int | None = None, mp_context: str | None = None
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = workers
        self.max_in_flight = max_in_flight or 2 * workers
        self._context = mp_context or _default_context()
        self._pool: cf.ProcessPoolExecutor | None = None
        self._stop: Any = None

    def _get_pool(self) -> cf.ProcessPoolExecutor:
        if self._pool is None:
            check_socket_room(self._context)
            if self._context != "fork":
                _start_quiet_resource_tracker()
            ctx = multiprocessing.get_context(self._context)
            _quiet_forkserver_children(ctx)
            self._stop = ctx.Event()
            self._pool = cf.ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=ctx,
                initializer=_worker_init,
                initargs=(os.getpid(), self._stop),
            )
        return self._pool

    def map(
        self, fn: Callable[[T], R], items: Iterable[T], should_stop: Callable[[], bool]
    ) -> Iterator[tuple[T, R]]:
        """See :meth:`Executor.map`. ``fn`` and items must be picklable (a top-level function
        of a ``file.py:build`` pipeline is sent as a reference to its file)."""
        from standard_coder.runner.entry import portable

        fn = portable(fn)
        _check_sendable(fn)
        pool = self._get_pool()
        self._stop.clear()
        source = iter(items)
        in_flight: dict[cf.Future[R], T] = {}
        more = True  # until the source ends or a stop is asked for

        def submit(item: T) -> cf.Future[R]:
            return pool.submit(fn, item)

        try:
            while True:
                if more:
                    more = top_up(in_flight, self.max_in_flight, source, submit, should_stop)
                if not in_flight:
                    return
                done, _ = cf.wait(in_flight, timeout=0.2, return_when=cf.FIRST_COMPLETED)
                for fut in [f for f in in_flight if f in done]:  # submission order
                    item = in_flight.pop(fut)
                    try:
                        result = fut.result()
                    except ItemStopped:
                        continue  # not done: redone by the next run
                    except cf.BrokenExecutor:
                        if _stopping(should_stop):
                            return  # a worker died of the stop signal: items in flight redone
                        raise
                    yield item, result
                if should_stop():
                    more = False
                    self._stop.set()  # items in flight that poll stop_requested() end now
        finally:
            for fut in in_flight:
                fut.cancel()

    def close(self) -> None:
        """Shut the workers down (waits for running items)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _check_sendable(fn: Callable[..., Any]) -> None:
    """A function a worker process cannot receive (a lambda, a function defined inside
    another) fails the stage with what to do, not pickle's ``Can't pickle local object``.

    Raises:
        PipelineDefinitionError: ``fn`` cannot be pickled (exit 2: the stage's definition).
    """
    import pickle

    from standard_coder.runner.errors import PipelineDefinitionError

    try:
        pickle.dumps(fn)
    except (pickle.PicklingError, AttributeError, TypeError) as exc:
        name = getattr(fn, "__qualname__", None) or type(fn).__name__
        raise PipelineDefinitionError(
            f"ctx.map: {name} cannot be sent to a worker process ({exc}): give a function "
            "defined at the top level of a module (not a lambda or a nested function), or run "
            "with one worker"
        ) from None


#: Alias: the process-pool executor under the name the design uses.
ProcessPoolExecutor = LocalPoolExecutor

ExecutorFactory = Callable[[str], Executor]
_REGISTRY: dict[str, ExecutorFactory] = {}


def register_executor(scheme: str, factory: ExecutorFactory) -> None:
    """Make ``<scheme>://...`` specs build executors with ``factory(spec)``.

    Example:
        >>> register_executor("dask", lambda spec: DaskExecutor(spec.split("://", 1)[1]))
    """
    _REGISTRY[scheme.lower()] = factory


def make_executor(spec: str | int) -> Executor:
    """Build an executor from a spec.

    Args:
        spec: ``1`` or ``"inprocess"`` (in-process), an int ``N > 1`` / ``"N"`` / ``"local:N"``
            (N worker processes), ``"local"`` (one worker per CPU), or ``"<scheme>://..."``
            for a registered backend (``dask://HOST:PORT``: a Dask scheduler).

    Raises:
        ExecutorUnavailable: an unknown backend, or Dask missing or unreachable.
        ValueError: a malformed spec (e.g. ``0`` workers).
    """
    if isinstance(spec, bool):
        raise ValueError(f"executor spec must be an int or a string, got {spec!r}")
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
        n = int(spec)
        if n < 1:
            raise ValueError(f"workers must be >= 1, got {n}")
        return InProcessExecutor() if n == 1 else LocalPoolExecutor(n)
    text = spec.strip()
    lowered = text.lower()
    if lowered in ("inprocess", "in-process", "serial"):
        return InProcessExecutor()
    if lowered == "local":
        return LocalPoolExecutor(max(1, os.cpu_count() or 1))
    if lowered.startswith("local:"):
        return make_executor(int(lowered.split(":", 1)[1]))
    if "://" in text:
        scheme = lowered.split("://", 1)[0]
        if scheme in ("dask", "tcp") and scheme not in _REGISTRY:
            from standard_coder.runner.dask_executor import DaskExecutor

            register_executor("dask", DaskExecutor)
            register_executor("tcp", DaskExecutor)
        factory = _REGISTRY.get(scheme)
        if factory is None:
            known = ", ".join(sorted(_REGISTRY)) or "none registered"
            raise ExecutorUnavailable(
                f"executor '{text}' is not available; use an int, 'local', 'local:N' or "
                f"'dask://HOST:PORT' (other schemes: {known})"
            )
        return factory(text)
    raise ValueError(
        f"unknown executor spec {spec!r}; expected an int, 'inprocess', 'local', 'local:N' "
        "or '<scheme>://...'"
    )
