"""A stop request (Ctrl-C, SIGTERM) ends a mining chunk or a feature batch in flight.

Without polling, a long chunk or batch runs to its end before the run can stop. Each test
sends a real signal to this process while one long item is running (in a thread of this
process, or in a worker of the runner's process pool) and checks that the item was cut: nothing
of it is stored or counted, the map ends early, and no ``git`` process is left behind.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from gitrepos import BASE_TS, git, init

from standard_coder.runner.executor import LocalPoolExecutor, in_process_map
from standard_coder.sch.dataset import DatasetStopped, extract_in_batches
from standard_coder.sch.features.synthetic import synthetic_changes
from standard_coder.sch.mining import mine_repositories

pytestmark = pytest.mark.integration


def _fast_import_repo(path: Path, n: int) -> Path:
    """A real repository of ``n`` commits, each rewriting 40 lines of one of 5 Python files."""
    init(path)
    out = []
    for i in range(1, n + 1):
        body = "".join(f"value_{j} = {i * j}  # line {j}\n" for j in range(40)).encode()
        msg = f"change {i}\n".encode()
        when = f"{BASE_TS + 60 * i} +0000"
        out.append(
            b"commit refs/heads/main\n"
            + f"mark :{i}\nauthor Dev <dev@example.com> {when}\n".encode()
            + f"committer Dev <dev@example.com> {when}\n".encode()
            + f"data {len(msg)}\n".encode()
            + msg
            + (f"from :{i - 1}\n".encode() if i > 1 else b"")
            + f"M 100644 inline pkg/m{i % 5}.py\ndata {len(body)}\n".encode()
            + body
            + b"\n"
        )
    git(path, "fast-import", "--quiet", stdin=b"".join(out))
    return path


def _git_children() -> list[int]:
    """``git`` processes whose parent is this process (the miner's ``git log`` / ``cat-file``)."""
    me, found = os.getpid(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and cmd and cmd[0].endswith(b"git") and int(fields[1]) in _family(me):
            found.append(int(entry))
    return found


def _family(pid: int) -> set[int]:
    """``pid`` and its live descendants (pool workers included)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = set(), [pid]
    while todo:
        p = todo.pop()
        out.add(p)
        todo.extend(children.get(p, []))
    return out


class _SignalStop:
    """``should_stop`` set by a real SIGUSR1 handler; :meth:`send_when` signals this process
    from a thread once ``ready()`` holds."""

    def __init__(self) -> None:
        self.flag = False
        self.sent_at: float | None = None
        self._old = signal.signal(signal.SIGUSR1, self._handler)

    def _handler(self, signum: int, frame: Any) -> None:
        self.flag = True

    def __call__(self) -> bool:
        return self.flag

    def send_when(self, ready: Callable[[], bool], timeout: float = 60) -> None:
        def watch() -> None:
            deadline = time.monotonic() + timeout
            while not ready() and time.monotonic() < deadline:
                time.sleep(0.01)
            self.sent_at = time.monotonic()
            os.kill(os.getpid(), signal.SIGUSR1)

        threading.Thread(target=watch, daemon=True).start()

    def restore(self) -> None:
        signal.signal(signal.SIGUSR1, self._old)


@pytest.fixture
def stop() -> Iterator[_SignalStop]:
    s = _SignalStop()
    yield s
    s.restore()


@pytest.fixture(scope="module")
def long_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _fast_import_repo(tmp_path_factory.mktemp("long") / "repo", 6000)


@pytest.mark.parametrize("where", ["threads", "process pool"])
def test_a_stop_ends_the_mining_chunk_in_flight(
    where: str, long_repo: Path, tmp_path: Path, stop: _SignalStop
) -> None:
    from standard_coder.config.mining import FiltersSection, ReposSection
    from standard_coder.pipelines.sch_options import mine_options

    # one chunk holds the whole history: without polling, the stop waits for all of it
    opts = mine_options(ReposSection(), FiltersSection(), base_dir=tmp_path, chunk_size=100_000)
    db = tmp_path / "db.sqlite"
    started: list[float] = []

    def cmdline(pid: int) -> bytes:
        try:
            return Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:  # ended meanwhile
            return b""

    def git_log_running() -> bool:
        if not any(b"\0log\0" in cmdline(p) for p in _git_children()):
            return False
        started.append(time.monotonic())
        time.sleep(0.3)  # well inside the chunk
        return True

    stop.send_when(git_log_running)
    pool = LocalPoolExecutor(2) if where == "process pool" else None
    try:
        map_fn = (lambda fn, items: pool.map(fn, items, stop)) if pool is not None else None
        summary = mine_repositories([long_repo], db, opts, map_fn=map_fn, should_stop=stop)
        ended = time.monotonic()
    finally:
        if pool is not None:
            pool.close()
    assert started and stop.sent_at is not None, "the chunk's git log never ran"
    assert summary.interrupted and summary.repos[0].status == "interrupted"
    assert summary.commits_mined == 0  # the chunk was cut, not finished and written
    assert ended - stop.sent_at < 5.0
    deadline = time.monotonic() + 5
    while _git_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _git_children()
    # the next run mines the whole chunk
    again = mine_repositories([long_repo], db, opts)
    assert not again.interrupted and again.commits_mined == 6000


@pytest.mark.parametrize("where", ["in-process", "process pool"])
def test_a_stop_ends_the_feature_batch_in_flight(where: str, stop: _SignalStop) -> None:
    commits = synthetic_changes(1500, seed=3).commits
    counted: list[int] = []
    pool = LocalPoolExecutor(2) if where == "process pool" else None

    def map_fn(fn: Any, items: Any) -> Iterator[tuple[Any, Any]]:
        inner = pool.map(fn, items, stop) if pool is not None else in_process_map(stop)(fn, items)
        for item, result in inner:
            counted.append(len(result))
            yield item, result

    if pool is not None:  # workers started and their imports done: the signal finds the batch
        from standard_coder.sch.dataset import BatchJob, _extract_batch

        warm = [BatchJob(i, False, True, True, commits[i : i + 1]) for i in range(2)]
        assert len(list(pool.map(_extract_batch, warm, lambda: False))) == 2
    t0 = time.monotonic()
    stop.send_when(lambda: time.monotonic() - t0 > 0.5)
    try:
        with pytest.raises(DatasetStopped):
            for _ in extract_in_batches(commits, with_ast=True, map_fn=map_fn, batch_size=10**6):
                pass
        ended = time.monotonic()
    finally:
        if pool is not None:
            pool.close()
    assert stop.sent_at is not None
    assert counted == []  # the one batch was cut, not finished
    assert ended - stop.sent_at < 5.0
