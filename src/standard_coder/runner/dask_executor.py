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
        ValueError: no host or port, or a port out of range (:func:`address_problem`).
    """
    why = address_problem(spec, bare=True)
    if why is not None:
        raise ValueError(f"executor {spec!r}: {why}")
    scheme, sep, rest = spec.strip().partition("://")
    scheme = "tcp" if not sep or scheme.lower() == "dask" else scheme.lower()
    host, _, port = (rest if sep else spec.strip()).rstrip("/").rpartition(":")
    return f"{scheme}://{host}:{port}"


def address_problem(spec: str, *, bare: bool = False) -> str | None:
    """What is wrong with scheduler address ``spec`` (None: nothing): it is
    ``tcp://HOST:PORT`` or ``dask://HOST:PORT`` (``bare``: or ``HOST:PORT``), the port 1 to
    65535 (a port out of range waited the whole connect timeout)."""
    scheme, sep, rest = spec.strip().partition("://")
    if not sep and bare:
        scheme, rest = "tcp", spec.strip()
    host, _, port = rest.rstrip("/").rpartition(":")
    if (scheme.lower() not in ("tcp", "dask") or not host or not port.isascii()
            or not port.isdigit()
            or any(c.isspace() or c in "/:" for c in host)):  # fmt: skip
        return "expected dask://HOST:PORT or tcp://HOST:PORT"
    if not 0 < int(port) < 65536:
        return f"port {port} is out of range (1 to 65535)"
    return None


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

    def _get_client(self, should_stop: Callable[[], bool] = lambda: False) -> Any:
        if self._client is None:
            try:
                import distributed  # noqa: F401
            except ImportError:
                raise ExecutorUnavailable(
                    "executor dask: the 'distributed' package is not installed "
                    "(pip install 'standard-coder[dask]')"
                ) from None
            self._client = _connect(self.address, self._timeout_s, should_stop)
        return self._client

    def map(
        self, fn: Callable[[T], R], items: Iterable[T], should_stop: Callable[[], bool]
    ) -> Iterator[tuple[T, R]]:
        """See :meth:`~standard_coder.runner.executor.Executor.map`."""
        from distributed import Event, as_completed

        try:
            client = self._get_client(should_stop)
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
                    finished, result = _result(fut, self.address)
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


def _result(fut: Any, address: str) -> Any:
    """``fut.result()``; a task cancelled because the client lost the scheduler is said as the
    executor's failure, naming the scheduler (it read as an error of the stage's own code,
    ``raised at`` its line, with Dask's ``FutureCancelledError``)."""
    from concurrent.futures import CancelledError  # the base of distributed's (2024.7 on)

    from distributed.comm.core import CommClosedError  # FutureCancelledError, older ones too

    try:
        return fut.result()
    except (CancelledError, CommClosedError) as exc:
        if isinstance(exc, CancelledError) and "connection-lost" not in str(exc):
            raise
        raise ExecutorUnavailable(
            f"executor dask: lost the scheduler at {address} (scheduler-connection-lost): "
            "start it and its workers again, then rerun: the items done are kept"
        ) from None


HANDSHAKE_GRACE_S = 5.0
"""Seconds past the connect timeout that the start of a client may take in all (its
handshake with the scheduler) before the port is taken for one where no scheduler answers."""


def _connect(address: str, timeout_s: float, should_stop: Callable[[], bool]) -> Any:
    """A ``distributed.Client`` of the scheduler at ``address``, started in a thread and waited
    for at most ``timeout_s`` plus :data:`HANDSHAKE_GRACE_S`, asking ``should_stop`` as it
    waits. ``Client(timeout=...)`` bounds the connect, not the handshake after it: a port that
    accepts and never answers as a scheduler (Dask's dashboard, 8787; an HTTP server) held the
    run forever, and a Ctrl-C with it. A client that starts after it was given up is closed.

    Raises:
        ExecutorUnavailable: no scheduler answered in time, or a stop came while waiting.
    """
    from distributed import Client

    got: dict[str, Any] = {}
    given_up = threading.Event()

    def start() -> None:
        try:
            client = Client(address, timeout=timeout_s, set_as_default=False)
        except BaseException as exc:  # said by the waiting thread
            got["error"] = exc
            return
        got["client"] = client
        if given_up.is_set():
            with contextlib.suppress(Exception):
                client.close(timeout=1)

    thread = threading.Thread(target=start, name="sc-dask-connect", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s + HANDSHAKE_GRACE_S
    while thread.is_alive() and not should_stop() and time.monotonic() < deadline:
        thread.join(0.1)
    if thread.is_alive():
        given_up.set()
        if should_stop():
            raise ExecutorUnavailable(f"executor dask: stopped while connecting to {address}")
        raise ExecutorUnavailable(
            f"executor dask: no Dask scheduler answered at {address} within "
            f"{timeout_s + HANDSHAKE_GRACE_S:g} s (the port accepts connections: is it the "
            "scheduler's? Dask's dashboard is 8787, its scheduler 8786 by default)"
        )
    if "client" in got:
        return got["client"]
    exc = got.get("error")
    if isinstance(exc, OSError | TimeoutError):
        raise ExecutorUnavailable(
            f"executor dask: cannot reach the scheduler at {address} "
            f"within {timeout_s:g} s ({type(exc).__name__})"
        ) from None
    raise exc if isinstance(exc, BaseException) else RuntimeError("dask client did not start")


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
