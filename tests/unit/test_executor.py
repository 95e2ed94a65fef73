"""Executors: in-process and local process pool give the same results; stop handling; specs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from proctools import alive, child_env
from standard_coder.runner.errors import RunnerError
from standard_coder.runner.executor import (
    QUIET_FORKSERVER,
    Executor,
    ExecutorUnavailable,
    InProcessExecutor,
    ItemStopped,
    LocalPoolExecutor,
    make_executor,
    register_executor,
    stop_requested,
)

PARENT_SIGINT = signal.getsignal(signal.SIGINT)


def square(x: int) -> int:
    return x * x


def worker_facts(_: int) -> tuple[int, bool]:
    return os.getpid(), signal.getsignal(signal.SIGINT) == signal.SIG_IGN


def fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("item 3 is bad")
    return x


def slow_square(x: int) -> int:
    time.sleep(0.02)
    return x * x


def never(_: object = None) -> bool:
    return False


def long_unless_stopped(seconds: float) -> str:
    """Works ``seconds`` unless the run asks to stop, polling like an HMM epoch loop."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if stop_requested():
            raise ItemStopped
        time.sleep(0.01)
    return "finished"


@pytest.fixture(scope="module")
def pool() -> Iterator[LocalPoolExecutor]:
    ex = LocalPoolExecutor(2)
    yield ex
    ex.close()


def test_in_process_map_and_stop() -> None:
    ex = InProcessExecutor()
    assert list(ex.map(square, range(5), never)) == [(i, i * i) for i in range(5)]
    done: list[int] = []
    for item, _ in ex.map(square, range(100), lambda: len(done) >= 3):
        done.append(item)
    assert done == [0, 1, 2]


def test_pool_gives_same_results_as_in_process(pool: LocalPoolExecutor) -> None:
    items = list(range(40))
    serial = dict(InProcessExecutor().map(square, items, never))
    parallel = dict(pool.map(square, items, never))
    assert parallel == serial
    assert isinstance(pool, Executor) and isinstance(InProcessExecutor(), Executor)


def test_a_function_a_worker_cannot_receive_is_named_with_the_way_out(
    pool: LocalPoolExecutor,
) -> None:
    """``ctx.map(lambda ...)`` with workers > 1 failed with pickle's ``AttributeError: Can't
    pickle local object``; it names the function and what to give instead (exit 2)."""
    from standard_coder.runner.errors import PipelineDefinitionError

    def nested(x: int) -> int:
        return x

    for fn, name in ((lambda x: x, "<lambda>"), (nested, "nested")):
        with pytest.raises(PipelineDefinitionError) as err:
            list(pool.map(fn, range(3), never))
        said = str(err.value)
        assert said.startswith("ctx.map: ") and name in said, said
        assert "defined at the top level of a module" in said and err.value.exit_code == 2


def test_pool_workers_are_other_processes_ignoring_sigint(pool: LocalPoolExecutor) -> None:
    facts = [r for _, r in pool.map(worker_facts, range(8), never)]
    pids = {pid for pid, _ in facts}
    assert os.getpid() not in pids
    assert all(ignores for _, ignores in facts)
    # the parent is untouched (compared with its handler before any pool: a job started in the
    # background by a non-interactive shell has SIGINT ignored from the start)
    assert signal.getsignal(signal.SIGINT) == PARENT_SIGINT


def test_pool_stop_hands_out_no_new_items_but_finishes_in_flight(pool: LocalPoolExecutor) -> None:
    yielded: list[int] = []
    consumed = iter(range(1000))
    handed: list[int] = []

    def source() -> Iterator[int]:
        for x in consumed:
            handed.append(x)
            yield x

    for item, result in pool.map(slow_square, source(), lambda: len(yielded) >= 5):
        assert result == item * item
        yielded.append(item)
    assert len(yielded) >= 5
    # every handed-out item finished and came back; nothing new after the stop
    assert sorted(yielded) == sorted(handed)
    assert len(handed) <= 5 + pool.max_in_flight


@pytest.mark.parametrize("kind", ["pool", "in-process"])
def test_a_stop_reaches_long_items_in_flight(kind: str, pool: LocalPoolExecutor) -> None:
    """Items that poll stop_requested() end when the run stops instead of finishing (a
    Ctrl-C does not wait for an author's whole fit); they are not yielded, so not done."""
    ex = pool if kind == "pool" else InProcessExecutor()
    got: list[tuple[float, str]] = []
    items = [0.0, 60.0, 60.0, 60.0]  # the long ones would run a minute each
    for item, result in ex.map(long_unless_stopped, items, lambda: bool(got)):
        got.append((item, result))
    assert got == [(0.0, "finished")]
    assert not stop_requested()  # the parent's flag is untouched outside a map
    # the pool is usable afterwards and its stop flag is reset for the next map
    assert [r for _, r in ex.map(long_unless_stopped, [0.0], never)] == ["finished"]


def test_pool_propagates_worker_exception(pool: LocalPoolExecutor) -> None:
    with pytest.raises(ValueError, match="item 3 is bad"):
        list(pool.map(fail_on_three, range(6), never))
    # the pool is still usable afterwards
    assert dict(pool.map(square, [2], never)) == {2: 4}


def test_in_process_propagates_exception() -> None:
    with pytest.raises(ValueError):
        list(InProcessExecutor().map(fail_on_three, range(6), never))


def test_context_manager_closes() -> None:
    with LocalPoolExecutor(1) as ex:
        assert dict(ex.map(square, [3], never)) == {3: 9}
    assert ex._pool is None
    ex.close()  # idempotent


def test_make_executor_specs() -> None:
    assert isinstance(make_executor(1), InProcessExecutor)
    assert isinstance(make_executor("inprocess"), InProcessExecutor)
    two = make_executor(2)
    assert isinstance(two, LocalPoolExecutor) and two.workers == 2
    three = make_executor("local:3")
    assert isinstance(three, LocalPoolExecutor) and three.workers == 3
    assert isinstance(make_executor("4"), LocalPoolExecutor)
    local = make_executor("local")
    assert isinstance(local, LocalPoolExecutor) and local.workers == (os.cpu_count() or 1)
    for bad in (0, -2, "local:0", "nonsense", True):
        with pytest.raises(ValueError):
            make_executor(bad)  # type: ignore[arg-type]


def test_unknown_scheme_is_unavailable() -> None:
    with pytest.raises(ExecutorUnavailable, match="not available") as info:
        make_executor("nosuch://scheduler:8786")
    assert isinstance(info.value, RunnerError) and info.value.exit_code == 2


def test_unreachable_dask_scheduler_is_one_clear_error() -> None:
    from standard_coder.runner.dask_executor import DaskExecutor

    ex = make_executor("dask://127.0.0.1:9")
    assert isinstance(ex, DaskExecutor) and ex.address == "tcp://127.0.0.1:9"
    ex._timeout_s = 1.0
    with pytest.raises(
        ExecutorUnavailable, match=r"cannot reach the scheduler at tcp://127\.0\.0\.1:9"
    ):
        list(ex.map(abs, [1], lambda: False))
    ex.close()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers (as Dask's dashboard port or an
    HTTP server does to a scheduler's handshake): a real listening socket."""
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield int(server.getsockname()[1])


def test_a_port_that_accepts_but_is_no_scheduler_fails_in_time(silent_port: int) -> None:
    """``Client(timeout=...)`` bounds the connect, not the handshake: the run waited forever
    (and one Ctrl-C with it). Now one clear error after the timeout and its grace."""
    from standard_coder.runner import dask_executor

    pytest.importorskip("distributed")
    ex = make_executor(f"dask://127.0.0.1:{silent_port}")
    ex._timeout_s = 0.5  # type: ignore[attr-defined]
    started = time.monotonic()
    with pytest.raises(ExecutorUnavailable, match=r"no Dask scheduler answered at tcp://.*8787"):
        list(ex.map(abs, [1], lambda: False))
    assert time.monotonic() - started < 0.5 + dask_executor.HANDSHAKE_GRACE_S + 5
    # a stop while it waits ends the wait at once, and the map says nothing (nothing ran)
    stopped = make_executor(f"dask://127.0.0.1:{silent_port}")
    started = time.monotonic()
    assert list(stopped.map(abs, [1], lambda: time.monotonic() - started > 0.3)) == []
    assert time.monotonic() - started < 3


def test_a_scheduler_port_out_of_range_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match=r"port 99999 is out of range \(1 to 65535\)"):
        make_executor("dask://127.0.0.1:99999")
    with pytest.raises(ValueError, match=r"expected dask://HOST:PORT"):  # "²".isdigit() is True
        make_executor("dask://127.0.0.1:8²")


def test_registered_scheme_is_used() -> None:
    seen: list[str] = []

    def factory(spec: str) -> Executor:
        seen.append(spec)
        return InProcessExecutor()

    register_executor("testscheme", factory)
    assert isinstance(make_executor("testscheme://h:1"), InProcessExecutor)
    assert seen == ["testscheme://h:1"]


@pytest.mark.slow
def test_workers_die_with_a_sigkilled_parent(tmp_path: Path) -> None:
    """No orphans: SIGKILL the parent while workers run; the workers go too (Linux)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_PDEATHSIG is Linux-only")
    code = textwrap.dedent(
        """
        import os, time
        from standard_coder.runner.executor import LocalPoolExecutor

        def facts(_):
            return os.getpid()

        def sleepy(_):
            time.sleep(60)

        if __name__ == "__main__":
            ex = LocalPoolExecutor(2)
            pids = {r for _, r in ex.map(facts, range(8), lambda: False)}
            print(" ".join(map(str, sorted(pids))), flush=True)
            list(ex.map(sleepy, range(2), lambda: False))
        """
    )
    script = tmp_path / "parent.py"
    script.write_text(code)
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, env=os.environ.copy()
    )
    assert proc.stdout is not None
    pids = [int(p) for p in proc.stdout.readline().split()]
    assert pids
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    left = pids
    while left and time.monotonic() < deadline:
        left = [p for p in pids if alive(p)]
        time.sleep(0.1)
    assert not left, f"orphaned workers: {left}"


_LOST_PARENT_CHILD = textwrap.dedent(
    """
    import multiprocessing, os, sys
    from multiprocessing import forkserver
    from standard_coder.runner.executor import _quiet_forkserver_children

    if sys.argv[1] == "quiet":
        _quiet_forkserver_children(multiprocessing.get_context("forkserver"))
    forkserver.ensure_running()
    # What a run SIGKILLed while starting a worker leaves: the forkserver forks the child,
    # and the parent's end of the child's start-up pipe closes before anything was written.
    parent_r, parent_w = forkserver._forkserver.connect_to_new_process([])
    os.close(parent_w)
    pid = forkserver.read_signed(parent_r)
    print("child exit", forkserver.read_signed(parent_r), flush=True)
    """
)


@pytest.mark.skipif(sys.platform != "linux", reason="forkserver start method")
@pytest.mark.parametrize("mode", ["stdlib", "quiet"])
def test_a_child_whose_parent_vanished_while_starting_prints_no_traceback(mode: str) -> None:
    env = child_env()
    proc = subprocess.run(
        [sys.executable, "-c", _LOST_PARENT_CHILD, mode],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "child exit 1" in proc.stdout
    if mode == "stdlib":  # the race is real: the stdlib prints the child's traceback
        assert "EOFError" in proc.stderr
    else:
        assert "Traceback" not in proc.stderr and "EOFError" not in proc.stderr, proc.stderr


@pytest.mark.skipif(sys.platform != "linux", reason="forkserver start method")
def test_pool_workers_inherit_the_quiet_hook() -> None:
    code = textwrap.dedent(
        """
        import sys
        from standard_coder.runner.executor import LocalPoolExecutor

        def hook_module(_):
            return sys.excepthook.__module__

        if __name__ == "__main__":
            with LocalPoolExecutor(1) as ex:
                print([r for _, r in ex.map(hook_module, [0], lambda: False)][0])
        """
    )
    env = child_env()
    with tempfile.TemporaryDirectory() as d:
        script = Path(d) / "hook_check.py"
        script.write_text(code)
        proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                              timeout=60, env=env, cwd=d)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == QUIET_FORKSERVER


def test_top_up_fills_to_the_limit_and_stops_at_a_stop_or_the_end() -> None:
    from standard_coder.runner.itemstop import top_up

    source = iter(range(5))
    in_flight: dict[str, int] = {}
    submitted: list[int] = []

    def submit(item: int) -> str:
        submitted.append(item)
        return f"future-{item}"

    assert top_up(in_flight, 2, source, submit, lambda: False)  # limit reached, items left
    assert in_flight == {"future-0": 0, "future-1": 1}
    assert top_up(in_flight, 2, source, submit, lambda: False) and submitted == [0, 1]  # full
    del in_flight["future-0"]
    asked: list[int] = []

    def stop_on_second_ask() -> bool:
        asked.append(1)
        return len(asked) > 1

    # a stop asked for before an item: that item is never taken from the source
    assert not top_up(in_flight, 4, source, submit, stop_on_second_ask)
    assert submitted == [0, 1, 2] and next(source) == 3
    assert not top_up(in_flight, 10, source, submit, lambda: False)  # the source ended
    assert submitted == [0, 1, 2, 4] and set(in_flight.values()) == {1, 2, 4}
