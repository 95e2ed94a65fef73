"""The Dask executor behind ``ctx.map``: items run on an existing ``dask.distributed`` cluster.

``[runner] executor = "dask"`` with ``[runner.dask] address = "tcp://HOST:PORT"`` (or
``--executor dask://HOST:PORT`` for one run) makes :func:`~standard_coder.runner.executor.
make_executor` build a :class:`DaskExecutor`. The semantics are those of the local pool:

- results come back to the parent, which alone writes the ledger (resume is unchanged);
- at most ``max_in_flight`` items are handed out at once; a stop request stops handing out
  items and reaches items in flight through a ``distributed.Event`` that
  :func:`~standard_coder.runner.executor.stop_requested` polls on the worker;
- items carry their own seed (the pipelines derive it from the run seed and the item id), so
  where an item runs does not change its result;
- a worker that dies (even by SIGKILL) loses its items to the scheduler, which reruns them on
  another worker (Dask's ``allowed-failures``); an item whose function raises fails the map as
  with the local pool.

Only this module imports ``distributed``, and only when a Dask executor is built, so a run with
the local pool (or a no-op rerun) never loads Dask.

What travels with a task: the item function and the item (pickled by Dask) and the item's
return value. Files an item reads or writes by path (the repositories a mining chunk reads, the
per-author result files work inference writes under ``checkpoints/``) must be visible to the
workers at the same path: run the workers on the same machine or on a shared file system.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from standard_coder.runner import itemstop
from standard_coder.runner.itemstop import (
    ExecutorUnavailable,
    ItemStopped,
    _ContextManager,
    top_up,
)

__all__ = ["DaskExecutor", "address_of", "connect_timeout_s"]

log = logging.getLogger("standard_coder.runner")

T = TypeVar("T")
R = TypeVar("R")


def address_of(spec: str) -> str:
    """``dask://HOST:PORT`` or ``tcp://HOST:PORT`` -> ``tcp://HOST:PORT``.

    Raises:
        ValueError: no host or port.
    """
    text = spec.strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "tcp", text
    scheme = scheme.lower()
    if scheme == "dask":
        scheme = "tcp"
    host, _, port = rest.rstrip("/").rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"executor {spec!r}: expected dask://HOST:PORT or tcp://HOST:PORT")
    return f"{scheme}://{host}:{port}"


def connect_timeout_s() -> float:
    """Seconds to wait for the scheduler (``SC_DASK_CONNECT_TIMEOUT``, default 10)."""
    try:
        return float(os.environ.get("SC_DASK_CONNECT_TIMEOUT", "10"))
    except ValueError:
        return 10.0


class _EventPoller:
    """On a worker: ``is_set()`` of the map's stop event, asked of the scheduler at most every
    0.2 s (items may poll :func:`stop_requested` in a tight loop)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._event: Any = None
        self._last = 0.0
        self._value = False

    def is_set(self) -> bool:
        now = time.monotonic()
        if self._value or now - self._last < 0.2:
            return self._value
        self._last = now
        try:
            if self._event is None:
                from distributed import Event

                self._event = Event(self.name)
            self._value = bool(self._event.is_set())
        except Exception:  # the scheduler is unreachable: keep working, the parent decides
            return False
        return self._value


_pollers: dict[str, _EventPoller] = {}
_pollers_lock = threading.Lock()


def _run_item(fn: Callable[[Any], Any], item: Any, stop_name: str) -> tuple[bool, Any]:
    """What a Dask task runs: ``fn(item)`` with :func:`stop_requested` wired to the map's event.

    Returns ``(True, result)``, or ``(False, None)`` when the item stopped early
    (:class:`ItemStopped`: not done).
    """
    with _pollers_lock:
        poller = _pollers.setdefault(stop_name, _EventPoller(stop_name))
    outer = itemstop.worker_stop
    itemstop.worker_stop = poller
    try:
        return True, fn(item)
    except ItemStopped:
        return False, None
    finally:
        itemstop.worker_stop = outer


class DaskExecutor(_ContextManager):
    """Runs ``ctx.map`` items on a Dask cluster (see the module doc).

    Args:
        address: ``tcp://HOST:PORT`` (or ``dask://HOST:PORT``) of a running scheduler.
        max_in_flight: items handed out but not yet yielded (default ``2 * workers``, at least 2).
        timeout_s: seconds to wait for the scheduler (default :func:`connect_timeout_s`).

    Raises:
        ExecutorUnavailable: Dask is not installed or the scheduler cannot be reached.
    """

    def __init__(
        self, address: str, *, max_in_flight: int | None = None, timeout_s: float | None = None
    ) -> None:
        self.address = address_of(address)
        self._max_in_flight = max_in_flight
        self._timeout_s = connect_timeout_s() if timeout_s is None else timeout_s
        self._client: Any = None

    @property
    def workers(self) -> int:
        """Workers the scheduler knows now (at least 1: the pool size a map plans for)."""
        return max(1, _worker_count(self._get_client()))

    def _get_client(self) -> Any:
        if self._client is None:
            try:
                from distributed import Client
            except ImportError:
                raise ExecutorUnavailable(
                    "executor dask: the 'distributed' package is not installed "
                    "(pip install 'standard-coder[dask]')"
                ) from None
            try:
                self._client = Client(self.address, timeout=self._timeout_s, set_as_default=False)
            except (OSError, TimeoutError) as exc:
                raise ExecutorUnavailable(
                    f"executor dask: cannot reach the scheduler at {self.address} "
                    f"within {self._timeout_s:g} s ({type(exc).__name__})"
                ) from None
        return self._client

    def map(
        self, fn: Callable[[T], R], items: Iterable[T], should_stop: Callable[[], bool]
    ) -> Iterator[tuple[T, R]]:
        """See :meth:`~standard_coder.runner.executor.Executor.map`."""
        from distributed import Event, as_completed

        try:
            client = self._get_client()
        except ExecutorUnavailable:
            if should_stop():  # stopped while connecting: nothing ran, nothing to say but that
                return
            raise
        call = _by_value(fn)
        n_workers = _worker_count(client)
        if n_workers == 0:
            log.warning(NO_WORKERS, self.address, self.address)
        limit = self._max_in_flight or max(2, 2 * max(1, n_workers))
        done_count = 0
        stop_name = f"sc-stop-{uuid.uuid4().hex}"
        stop_event = Event(stop_name, client=client)
        source = iter(items)
        in_flight: dict[Any, T] = {}
        pending = as_completed(loop=client.loop)
        more = True  # until the source ends or a stop is asked for
        stopping = False

        def submit(item: T) -> Any:
            fut = client.submit(_run_item, call, item, stop_name, pure=False)
            pending.add(fut)
            return fut

        idle_since, warned = time.monotonic(), n_workers == 0
        try:
            while True:
                if more:
                    more = top_up(in_flight, limit, source, submit, should_stop)
                if not in_flight:
                    return
                done = _next_done(pending, 0.2)
                for fut in done:
                    if fut not in in_flight:  # cancelled below: not done, redone next run
                        continue
                    item = in_flight.pop(fut)
                    finished, result = fut.result()
                    if finished:
                        done_count += 1
                        yield item, result
                if done:
                    idle_since = time.monotonic()
                elif not warned and time.monotonic() - idle_since > IDLE_WARN_S:
                    # every IDLE_WARN_S without a finished item: the workers may have gone
                    # since the map began (said once; live workers on long items say nothing)
                    idle_since = time.monotonic()
                    if _worker_count(client) == 0:
                        warned = True
                        log.warning(NO_WORKERS, self.address, self.address)
                if should_stop() and not stopping:
                    stopping, more = True, False
                    stop_event.set()  # items in flight that poll stop_requested() end now
                if stopping:  # an item no worker runs would be waited for forever
                    for fut in _not_running(client, in_flight):
                        fut.cancel()
                        del in_flight[fut]
        finally:
            log.info("dask: %d item(s) done on %s", done_count, self.address)
            for fut in in_flight:
                fut.cancel()
            with contextlib.suppress(Exception):
                stop_event.set()  # wake any item still polling, then forget the event

    def close(self) -> None:
        """Disconnect from the scheduler (the cluster keeps running)."""
        if self._client is not None:
            client, self._client = self._client, None
            with contextlib.suppress(Exception):
                client.close(timeout=5)


class _ByValue:
    """An item function sent as its code (cloudpickle by value): workers and the scheduler
    need not import its module."""

    def __init__(self, blob: bytes) -> None:
        self.blob = blob
        self._fn: Callable[[Any], Any] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"blob": self.blob}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.blob, self._fn = state["blob"], None

    def __call__(self, item: Any) -> Any:
        if self._fn is None:
            import cloudpickle

            self._fn = cloudpickle.loads(self.blob)
        return self._fn(item)


def _by_value(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``fn``, or its code when its module cannot be imported elsewhere: a pipeline loaded from
    a file (``[pipeline] entry = "file.py:build"``) and the modules beside that file that it
    imports (the runner put its folder on ``sys.path``; workers and the scheduler have none of
    them), sent with whatever of theirs ``fn`` reaches (:func:`_entry_folder_modules`)."""
    import sys

    local = _entry_folder_modules()
    module = getattr(fn, "__module__", "") or ""
    if module.split(".")[0] not in local:
        return fn
    import cloudpickle

    for name in local:
        cloudpickle.register_pickle_by_value(sys.modules[name])
    try:
        return _ByValue(cloudpickle.dumps(fn))
    finally:
        for name in local:
            cloudpickle.unregister_pickle_by_value(sys.modules[name])


def _entry_folder_modules() -> list[str]:
    """Top-level modules loaded from a pipeline file's folder: the file itself (``_sc_entry_``)
    and the module files beside it (a package there may be installed where the workers are: it
    travels by name, as before)."""
    import sys
    from pathlib import Path

    from standard_coder.runner.entry import ENTRY_PREFIX

    loaded = list(sys.modules.items())
    files = [getattr(m, "__file__", None) for name, m in loaded if name.startswith(ENTRY_PREFIX)]
    # resolved both sides: the entry may be loaded by a symlinked folder, sys.path by the real one
    folders = {Path(f).resolve().parent for f in files if f}
    if not folders:
        return []
    out = []
    for name, m in loaded:
        path = getattr(m, "__file__", None)
        if "." in name or not path:
            continue
        where = Path(path).resolve().parent
        if name.startswith(ENTRY_PREFIX) or (where in folders and Path(path).name != "__init__.py"):
            out.append(name)
    return sorted(out)


NO_WORKERS = (
    "executor dask: the scheduler at %s has no worker: items wait until one joins "
    "(start one: dask worker %s); Ctrl-C stops the run"
)
IDLE_WARN_S = 30.0
"""Seconds without a finished item before the map checks that the cluster still has a worker."""


def _worker_count(client: Any) -> int:
    """Workers the scheduler knows now (-1 when it cannot say)."""
    try:
        return len(client.scheduler_info(n_workers=-1).get("workers", {}))
    except Exception:  # the scheduler went away: the futures say so
        return -1


def _not_running(client: Any, in_flight: Iterable[Any]) -> list[Any]:
    """The futures of ``in_flight`` no worker has taken (queued on the scheduler, or their
    worker died): after a stop they are cancelled, not waited for (each is redone next run)."""
    try:
        taken = {key for keys in client.processing().values() for key in keys}
    except Exception:  # the scheduler went away: the futures fail and say so
        return []
    return [f for f in in_flight if f.status == "pending" and f.key not in taken]


def _next_done(pending: Any, timeout_s: float) -> list[Any]:
    """Futures of ``as_completed`` that finished within ``timeout_s`` (possibly none)."""
    deadline = time.monotonic() + timeout_s
    done: list[Any] = []
    while True:
        if pending.has_ready():
            done.extend(pending.next_batch(block=False))
            return done
        if pending.is_empty() or time.monotonic() >= deadline:
            return done
        time.sleep(0.01)
