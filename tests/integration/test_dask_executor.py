"""``ctx.map`` on a real Dask cluster: a ``dask scheduler`` and two ``dask worker`` processes on
127.0.0.1, started once for the module.

- items run on the workers and the outputs match a local-pool run byte for byte;
- SIGKILL of a worker mid-map: the scheduler reruns its items elsewhere, the run completes with
  the same outputs;
- SIGINT (Ctrl-C) mid-map: exit 130, the finished items are kept, the rerun completes them;
- the tiny flagship through the cluster matches a local run byte for byte.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from proctools import child_env

pytest.importorskip("distributed")

pytestmark = [pytest.mark.integration, pytest.mark.slow]

HERE = Path(__file__).resolve().parent
DASK = Path(sys.executable).parent / "dask"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(**extra: str) -> dict[str, str]:
    # src, and this folder: the items' module (dask_items) is importable by the local pool's
    # workers and the Dask workers alike
    return child_env(paths=(HERE,), **extra)


class Cluster:
    def __init__(self, address: str, procs: list[subprocess.Popen[bytes]]) -> None:
        self.address = address
        self.procs = procs
        from distributed import Client

        self.client = Client(address, timeout=60, set_as_default=False)

    def worker_pids(self) -> list[int]:
        """The worker processes (the nannies' children), once two are up."""
        self.client.wait_for_workers(2, timeout=120)
        return sorted(self.client.run(os.getpid).values())

    def tasks_seen(self) -> int:
        """Item tasks the scheduler has run so far (keys ``_run_item-...``)."""

        def count(dask_scheduler: Any) -> int:
            return sum(1 for rec in dask_scheduler.transition_log if "_run_item" in str(rec[0]))

        return int(self.client.run_on_scheduler(count))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if not DASK.exists():
        pytest.skip("the dask command is not installed")
    logs = tmp_path_factory.mktemp("dask-logs")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = _env(OMP_NUM_THREADS="1")
    procs: list[subprocess.Popen[bytes]] = []

    def start(name: str, args: list[str]) -> None:
        log = open(logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        procs.append(subprocess.Popen([str(DASK), *args], stdout=log, stderr=log, env=env))

    common = ["--no-dashboard"]
    start("scheduler", ["scheduler", "--host", "127.0.0.1", "--port", str(port), *common])
    for i in range(2):
        start(
            f"worker{i}",
            ["worker", address, "--nthreads", "1", "--memory-limit", "0", "--name", f"w{i}",
             "--host", "127.0.0.1", *common],
        )  # fmt: skip
    cl: Cluster | None = None
    try:
        deadline = time.monotonic() + 120
        while cl is None:
            try:
                cl = Cluster(address, procs)
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        cl.worker_pids()
        yield cl
    finally:
        if cl is not None:
            cl.client.close()
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _project(root: Path, entry: str = "dask_items:build") -> Path:
    """A project folder running ``dask_items``: by module name (importable everywhere), or as
    a file entry (``file.py:build``, whose code Dask sends along with the tasks)."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(HERE / "dask_items.py", root / "items_file.py")
    config = root / "pipeline.toml"
    config.write_text(f'[pipeline]\nentry = "{entry}"\n', encoding="utf-8")
    (root / "marks").mkdir()
    return config


def _cmd(config: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "standard_coder", "pipeline", "--config", str(config), *extra]


def _run(config: Path, *extra: str, item_s: str = "0.2") -> subprocess.CompletedProcess[str]:
    env = _env(SC_TEST_MARKS=str(config.parent / "marks"), SC_TEST_ITEM_S=item_s)
    return subprocess.run(
        _cmd(config, *extra), capture_output=True, text=True, env=env, timeout=300
    )


def _marks(root: Path) -> list[tuple[int, int]]:
    return [tuple(int(x) for x in p.name.split(".")) for p in (root / "marks").iterdir()]  # type: ignore[misc]


@pytest.fixture(scope="module")
def local_results(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    config = _project(tmp_path_factory.mktemp("local"))
    done = _run(config, "--executor", "local")
    assert done.returncode == 0, done.stderr
    return (config.parent / "out" / "results.json").read_bytes()


def test_items_run_on_the_workers_and_match_a_local_run(
    cluster: Cluster, local_results: bytes, tmp_path: Path
) -> None:
    config = _project(tmp_path / "p")
    before = cluster.tasks_seen()
    done = _run(config, "--executor", cluster.address.replace("tcp://", "dask://"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "p" / "out" / "results.json").read_bytes() == local_results
    # every item ran on one of the two workers, none in the pipeline's own process
    workers = set(cluster.worker_pids())
    assert {pid for _, pid in _marks(tmp_path / "p")} <= workers
    assert cluster.tasks_seen() - before >= 12
    run_log = (tmp_path / "p" / "out" / "logs" / "run.log").read_text()
    assert f"executor: kind=dask address={cluster.address}" in run_log
    assert f"dask: 12 item(s) done on {cluster.address}" in run_log
    stamp = next((tmp_path / "p" / "out" / "runs").glob("*/env_stamp.json"))
    assert json.loads(stamp.read_text())["executor"] == {"kind": "dask", "address": cluster.address}


def test_config_file_selects_dask_for_a_file_entry(
    cluster: Cluster, local_results: bytes, tmp_path: Path
) -> None:
    config = _project(tmp_path / "p", entry="items_file.py:build")
    config.write_text(
        config.read_text() + f'[runner]\nexecutor = "dask"\n[runner.dask]\naddress = '
        f'"{cluster.address}"\n',
        encoding="utf-8",
    )
    done = _run(config)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "p" / "out" / "results.json").read_bytes() == local_results
    assert {pid for _, pid in _marks(tmp_path / "p")} <= set(cluster.worker_pids())


def test_bad_executor_is_one_line_exit_2(tmp_path: Path) -> None:
    config = _project(tmp_path / "p")
    done = _run(config, "--executor", "dask://nohostport")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: --executor: expected local, dask://HOST:PORT or tcp://HOST:PORT "
        "(got 'dask://nohostport')"
    ]
    config.write_text(config.read_text() + '[runner]\nexecutor = "dask"\n', encoding="utf-8")
    done = _run(config)
    assert done.returncode == 2 and "runner.dask.address" in done.stderr
    assert "Traceback" not in done.stderr


def _killed_mid_map(
    proc: subprocess.Popen[str], root: Path, n: int, kill: Callable[[], None]
) -> str:
    """``kill()`` once ``n`` items have started, then the run's stderr as it ended."""
    try:
        _wait_marks(root, n)
        kill()
        _, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return str(err)


def _wait_marks(root: Path, n: int, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while len(_marks(root)) < n:
        assert time.monotonic() < deadline, "items did not start"
        time.sleep(0.05)


def test_sigkill_of_a_worker_mid_map_reruns_its_items(
    cluster: Cluster, local_results: bytes, tmp_path: Path
) -> None:
    config = _project(tmp_path / "p")
    env = _env(SC_TEST_MARKS=str(tmp_path / "p" / "marks"), SC_TEST_ITEM_S="0.6")
    victim = cluster.worker_pids()[0]
    proc = subprocess.Popen(
        _cmd(config, "--executor", cluster.address), env=env, stderr=subprocess.PIPE, text=True
    )
    err = _killed_mid_map(proc, tmp_path / "p", 3, lambda: os.kill(victim, signal.SIGKILL))
    assert proc.returncode == 0, err
    assert (tmp_path / "p" / "out" / "results.json").read_bytes() == local_results
    marks = _marks(tmp_path / "p")
    assert any(pid == victim for _, pid in marks)  # the killed worker had started items
    assert {i for i, _ in marks} == set(range(12))
    assert victim not in cluster.worker_pids()  # the nanny started a new worker process


def test_ctrl_c_mid_map_stops_cleanly_and_resumes(
    cluster: Cluster, local_results: bytes, tmp_path: Path
) -> None:
    config = _project(tmp_path / "p")
    env = _env(SC_TEST_MARKS=str(tmp_path / "p" / "marks"), SC_TEST_ITEM_S="0.6")
    proc = subprocess.Popen(
        _cmd(config, "--executor", cluster.address), env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        _wait_marks(tmp_path / "p", 5)
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        stop_s = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert stop_s < 30
    assert not (tmp_path / "p" / "out" / "results.json").exists()
    first = len(_marks(tmp_path / "p"))
    done = _run(config, "--executor", cluster.address, item_s="0.2")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "p" / "out" / "results.json").read_bytes() == local_results
    # the rerun did only what the interrupted run had not finished
    assert len(_marks(tmp_path / "p")) - first < 12


def test_tiny_flagship_through_the_cluster_matches_a_local_run(
    cluster: Cluster, tmp_path: Path
) -> None:
    """mine + train_sch (mining chunks, work inference per author and feature batches all go
    through ``ctx.map``) on the demo's simulated team, with fewer epochs: local pool, then the
    Dask cluster, in the same folder; every artifact equal (SQLite by canonical dump)."""
    from test_determinism import artifacts

    from standard_coder.pipelines.demo import prepare

    config = prepare(tmp_path / "demo", "tiny")
    args = ["--stages", "mine,train_sch", "--set", "training.optim.epochs=1",
            "--set", "training.hmm.epochs=2", "--set", "training.label_samples_per_commit=8",
            "--set", "cache.enable=false"]  # fmt: skip
    env = _env()
    local = subprocess.run(_cmd(config, *args), capture_output=True, text=True, env=env)
    assert local.returncode == 0, local.stderr
    base = tmp_path / "demo" / "sc-output"
    first = artifacts(base)
    shutil.rmtree(base)
    before = cluster.tasks_seen()
    remote = subprocess.run(
        _cmd(config, *args, "--executor", cluster.address), capture_output=True, text=True, env=env
    )
    assert remote.returncode == 0, remote.stderr
    assert cluster.tasks_seen() - before >= 6  # 3 authors x (hmm, gap) at least
    second = artifacts(base)
    assert "models/auto/model.pt" in first and "raw/mined_commits.sqlite" in first
    differing = sorted(k for k in first.keys() | second.keys() if first.get(k) != second.get(k))
    assert not differing, differing


def test_a_scheduler_without_workers_is_said_and_ctrl_c_ends_the_wait(tmp_path: Path) -> None:
    """No worker: items waited on the scheduler without a word, and a stop waited for them
    forever (queued items were never cancelled). The map says the cluster has no worker, and
    Ctrl-C cancels what no worker took: exit 130, the items left for the next run."""
    if not DASK.exists():
        pytest.skip("the dask command is not installed")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    with open(tmp_path / "scheduler.log", "wb") as log:
        sched = subprocess.Popen(
            [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", str(port),
             "--no-dashboard"], stdout=log, stderr=log, env=_env(),
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:  # the port answers once the scheduler listens
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.2)
        config = _project(tmp_path / "p")
        env = _env(SC_TEST_MARKS=str(tmp_path / "p" / "marks"), SC_TEST_ITEM_S="0.2")
        proc = subprocess.Popen(
            _cmd(config, "--executor", address), env=env, stderr=subprocess.PIPE, text=True
        )
        try:
            assert proc.stderr is not None
            said = ""
            while "has no worker" not in said:
                line = proc.stderr.readline()
                assert line, f"the run ended without saying so: {said}"
                said += line
            started = time.monotonic()
            proc.send_signal(signal.SIGINT)
            _, rest = proc.communicate(timeout=60)
            stop_s = time.monotonic() - started
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 130, said + rest
        assert f"the scheduler at {address} has no worker" in " ".join(said.split())
        assert stop_s < 20 and "Traceback" not in rest
        assert _marks(tmp_path / "p") == []  # nothing ran, nothing was counted done
    finally:
        sched.terminate()
        sched.wait(timeout=30)


def test_a_scheduler_lost_mid_map_is_said_as_the_executor_s_failure(tmp_path: Path) -> None:
    """The scheduler SIGKILLed while items run: the stage failed with Dask's
    ``FutureCancelledError ... scheduler-connection-lost`` said as an error of the stage's own
    code (``raised at`` its line). It is the executor's failure, naming the scheduler, exit 2,
    and the items done are kept for the rerun."""
    if not DASK.exists():
        pytest.skip("the dask command is not installed")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs: list[subprocess.Popen[bytes]] = []
    with open(tmp_path / "cluster.log", "wb") as log:
        for args in (["scheduler", "--host", "127.0.0.1", "--port", str(port)],
                     ["worker", address, "--nthreads", "1", "--memory-limit", "0",
                      "--host", "127.0.0.1"]):  # fmt: skip
            procs.append(subprocess.Popen([str(DASK), *args, "--no-dashboard"], stdout=log,
                                          stderr=log, env=_env()))  # fmt: skip
    try:
        config = _project(tmp_path / "p")
        env = _env(SC_TEST_MARKS=str(tmp_path / "p" / "marks"), SC_TEST_ITEM_S="1.0")
        proc = subprocess.Popen(_cmd(config, "--executor", address), env=env,
                                stderr=subprocess.PIPE, text=True)  # fmt: skip
        said = _killed_mid_map(proc, tmp_path / "p", 2, procs[0].kill)  # the scheduler
        assert proc.returncode == 2, said
        fail = [line for line in said.splitlines() if line.startswith("[FAIL]")]
        assert fail and f"executor dask: lost the scheduler at {address}" in fail[0], said
        assert "raised at" not in fail[0] and "Traceback" not in said
    finally:
        for p in procs:
            p.kill()
            p.wait(timeout=30)


def test_the_counting_example_runs_on_the_cluster_as_it_runs_locally(
    cluster: Cluster, tmp_path: Path
) -> None:
    """The README's template for ctx.map: its item function lives in counting_work.py, beside
    the pipeline file, which neither the scheduler nor a worker can import (it failed with
    "Error during deserialization of the task graph"). Modules beside the file travel by value
    with it."""
    root = Path(__file__).resolve().parents[2] / "examples" / "counting"
    sets = ["--stages", "count", "--set", "params.count.items=40", "--set", "params.count.work=50"]
    results = []
    for name, executor in (("local", "local"), ("dask", cluster.address)):
        shutil.copytree(root, tmp_path / name, ignore=shutil.ignore_patterns("sc-output"))
        config = tmp_path / name / "pipeline.toml"
        done = subprocess.run(
            _cmd(config, *sets, "--executor", executor), capture_output=True, text=True,
            env=child_env(), timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        results.append((tmp_path / name / "sc-output" / "out" / "counts.jsonl").read_bytes())
    assert results[0] == results[1] and results[0].count(b"\n") == 40


def test_workers_that_die_after_the_first_idle_check_are_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The idle check ran once: a worker alive at the first 30 s without a finished item and
    dead later was never said. It is checked every idle period until the workers are gone."""
    import logging

    import dask_items

    from standard_coder.runner import dask_executor

    if not DASK.exists():
        pytest.skip("the dask command is not installed")
    monkeypatch.setattr(dask_executor, "IDLE_WARN_S", 1.0)  # the 30 s, shortened
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = []
    with open(tmp_path / "cluster.log", "wb") as log:
        for args in (
            ["scheduler", "--host", "127.0.0.1", "--port", str(port)],
            ["worker", address, "--nthreads", "1", "--no-nanny", "--host", "127.0.0.1"],
        ):
            procs.append(subprocess.Popen([str(DASK), *args, "--no-dashboard"], stdout=log,
                                          stderr=log, env=_env()))  # fmt: skip
    executor = dask_executor.DaskExecutor(address)
    try:
        executor._get_client().wait_for_workers(1, timeout=120)
        marks = tmp_path / "marks"
        marks.mkdir()
        items = [(i, i, str(marks), 8.0) for i in range(2)]  # longer than two idle periods
        started = time.monotonic()

        def should_stop() -> bool:
            if procs[1].poll() is None and time.monotonic() - started > 2.5:
                procs[1].kill()  # after the first idle check saw it alive
            return "has no worker" in caplog.text or time.monotonic() - started > 60

        with caplog.at_level(logging.WARNING, logger=dask_executor.log.name):
            got = list(executor.map(dask_items.work, items, should_stop))
        assert got == [] and "has no worker" in caplog.text, caplog.text
        assert time.monotonic() - started < 30
    finally:
        executor.close()
        for p in procs:
            p.kill()
            p.wait()


def test_modules_beside_an_entry_reached_through_a_symlink_travel_by_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pipeline file loaded through a symlinked folder kept its unresolved path while its
    folder went on ``sys.path`` resolved: the modules beside it were not sent by value, and the
    workers could not import them."""
    from standard_coder.runner.dask_executor import _by_value, _ByValue, _entry_folder_modules
    from standard_coder.runner.entry import load_object

    real = tmp_path / "real"
    real.mkdir()
    (real / "symlinked_helper_mod.py").write_text("def work(x):\n    return x + 1\n")
    (real / "pipe.py").write_text("import symlinked_helper_mod\ndef build(config, overrides):\n"
                                  "    return None\n")  # fmt: skip
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    try:
        load_object("pipe.py:build", tmp_path / "link")
        import symlinked_helper_mod  # loaded by the entry, from the real folder

        assert "symlinked_helper_mod" in _entry_folder_modules()
        assert isinstance(_by_value(symlinked_helper_mod.work), _ByValue)
    finally:
        for name in set(sys.modules) - before:
            del sys.modules[name]
