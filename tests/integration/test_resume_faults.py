"""Fault injection on the counting example: real CLI subprocesses, real SIGKILL and SIGINT.

Every interrupted run is rerun to completion and compared with an uninterrupted run: the same
sha256 for every output file, every item recorded exactly once, at most one ledger batch of
items and one checkpoint interval of steps redone per kill, and a bitwise-identical model.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest

from proctools import child_env

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "examples" / "counting" / "pipeline.toml"
N_ITEMS, COMMIT_EVERY, STEPS, CKPT_EVERY = 300, 10, 80, 10
SMALL = [
    f"params.count.items={N_ITEMS}",
    "params.count.work=200",
    f"params.count.commit_every={COMMIT_EVERY}",
    f"params.train.steps={STEPS}",
    f"params.train.checkpoint_every={CKPT_EVERY}",
    "params.train.batch_size=16",
    "params.train.hidden=32",
]
OUTPUTS = ("counts.jsonl", "counts_summary.json", "model.pt", "train_metrics.json")
ITEM_IDS = [f"item-{i:05d}" for i in range(N_ITEMS)]


def _cmd(base: Path, *extra: str) -> list[str]:
    sets = [x for s in [f"outputs.base_dir={base}", *SMALL] for x in ("--set", s)]
    cli = [sys.executable, "-m", "standard_coder", "pipeline", "--config", str(CONFIG)]
    return [*cli, *sets, *extra]


def _start(
    base: Path,
    trace: Path,
    *extra: str,
    item_delay: float = 0.0,
    step_delay: float = 0.0,
    tmpdir: Path | None = None,
) -> subprocess.Popen[bytes]:
    env = child_env(
        COUNTING_TRACE=str(trace),
        COUNTING_ITEM_DELAY=str(item_delay),
        COUNTING_STEP_DELAY=str(step_delay),
    )
    if tmpdir is not None:
        env["TMPDIR"] = str(tmpdir)
    base.parent.mkdir(parents=True, exist_ok=True)
    log = (base.parent / f"{base.name}.stderr").open("ab")
    return subprocess.Popen(_cmd(base, *extra), env=env, stdout=log, stderr=log)


def _run(base: Path, trace: Path, *extra: str, **kw: float) -> int:
    proc = _start(base, trace, *extra, **kw)
    return proc.wait(timeout=120)


def _trace(trace: Path) -> list[str]:
    return trace.read_text().splitlines() if trace.exists() else []


def _wait_for(proc: subprocess.Popen[bytes], trace: Path, kind: str, count: int) -> bool:
    """Wait until ``count`` more ``kind`` lines appear in the trace; False if the run ended."""
    start = sum(1 for x in _trace(trace) if x.startswith(kind))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if sum(1 for x in _trace(trace) if x.startswith(kind)) >= start + count:
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.005)
    raise AssertionError("no progress within 60 s")


def _wait_for_step(proc: subprocess.Popen[bytes], trace: Path, step: int) -> bool:
    """Wait until the trace shows training reached ``step``; False if the run ended first."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        lines = _trace(trace)
        if lines and lines[-1].startswith("step ") and int(lines[-1].split()[1]) >= step:
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.005)
    raise AssertionError("no progress within 60 s")


def _hashes(base: Path) -> dict[str, str]:
    return {n: hashlib.sha256((base / "out" / n).read_bytes()).hexdigest() for n in OUTPUTS}


def _ledger_ids(base: Path) -> list[str]:
    path = base / "checkpoints" / "count" / "items.ledger.sqlite"
    if not path.exists():
        return []
    conn = sqlite3.connect(path)
    try:
        # a kill between the file's creation and its schema leaves it without the table: the
        # ledger then holds nothing (the next run creates the table and redoes every item)
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'items'").fetchone():
            return []
        return [r[0] for r in conn.execute("SELECT item_id FROM items ORDER BY item_id")]
    finally:
        conn.close()


def _ckpt_step(base: Path) -> int:
    pointer = base / "checkpoints" / "train" / "train" / "latest"
    return int(json.loads(pointer.read_text())["step"]) if pointer.exists() else 0


def _events(base: Path) -> list[dict[str, object]]:
    path = base / "logs" / "events.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()]


def _assert_complete(base: Path, reference: dict[str, str], trace: Path) -> None:
    assert _hashes(base) == reference
    assert _ledger_ids(base) == ITEM_IDS  # every item recorded exactly once
    lines = (base / "out" / "counts.jsonl").read_text().splitlines()
    assert [json.loads(x)["id"] for x in lines] == ITEM_IDS
    processed = Counter(x.split()[1] for x in _trace(trace) if x.startswith("item "))
    assert set(processed) == set(ITEM_IDS)  # every item processed at least once
    assert not list((base / "out").glob(".*.tmp"))


def _assert_model_bitwise(base: Path, ref_base: Path) -> None:
    import torch

    got = torch.load(base / "out" / "model.pt", weights_only=True)
    want = torch.load(ref_base / "out" / "model.pt", weights_only=True)
    assert got.keys() == want.keys()
    for key in want:
        assert torch.equal(got[key], want[key]), key


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """An uninterrupted run: the outputs every interrupted run must reproduce."""
    base = tmp_path_factory.mktemp("reference") / "out"
    trace = base.parent / "trace.log"
    assert _run(base, trace) == 0
    lines = _trace(trace)
    assert sum(1 for x in lines if x.startswith("item ")) == N_ITEMS
    assert sum(1 for x in lines if x.startswith("step ")) == STEPS
    return base, _hashes(base)


@pytest.mark.slow
def test_sigkill_at_random_points_then_resume(
    tmp_path: Path, reference: tuple[Path, dict[str, str]]
) -> None:
    """20 seeded SIGKILLs, each followed by a rerun: aimed at the item stage while it has work
    left, then at training; at a random progress marker, a marker plus a random delay, or a
    random time after start. Then the newest checkpoint is torn and a final run completes
    from the previous one."""
    ref_base, ref_hashes = reference
    base, trace = tmp_path / "out", tmp_path / "trace.log"
    kills, kinds = 0, Counter[str]()
    for seed in range(20):
        rng = random.Random(seed)
        item_left = len(_ledger_ids(base)) < N_ITEMS - 2 * COMMIT_EVERY
        kind = "item" if seed < 15 and item_left else "step"
        before = len(_trace(trace))
        done_before, step_before = set(_ledger_ids(base)), _ckpt_step(base)
        proc = _start(base, trace, item_delay=0.003, step_delay=0.005)
        how = seed % 3
        if kind == "step":  # at a random step past the checkpoint, sometimes a bit later
            _wait_for_step(proc, trace, step_before + rng.randint(3, 25))
            if how == 2:
                time.sleep(rng.uniform(0.0, 0.03))
        elif how == 0:
            time.sleep(rng.uniform(0.05, 0.35))  # anywhere: startup, lock, ledger, items
        elif how == 1:
            _wait_for(proc, trace, kind, rng.randint(1, 15))
        else:
            _wait_for(proc, trace, kind, 1)
            time.sleep(rng.uniform(0.0, 0.04))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        kinds[kind] += 1
        assert proc.wait(timeout=60) in (-signal.SIGKILL, 0)
        new = _trace(trace)[before:]
        # redone work per kill: items processed but not in the ledger, steps past the checkpoint
        items_run = {x.split()[1] for x in new if x.startswith("item ")}
        lost_items = items_run - set(_ledger_ids(base))
        assert len(lost_items) <= COMMIT_EVERY, (seed, sorted(lost_items))
        assert not (items_run & done_before), "a recorded item was processed again"
        steps_run = [int(x.split()[1]) for x in new if x.startswith("step ")]
        if steps_run:
            assert min(steps_run) == step_before + 1  # resumed right after the checkpoint
            # one interval, plus the steps run while the newest checkpoint was still being
            # written in the background: the next save waits for it, after its step is traced,
            # so a kill during that wait (a slow disk) leaves exactly 2 intervals, never more
            assert max(steps_run) - _ckpt_step(base) <= 2 * CKPT_EVERY
    assert kills >= 19 and kinds["step"] >= 3, kinds
    if _ckpt_step(base) < 2 * CKPT_EVERY:  # make sure there is a previous checkpoint
        proc = _start(base, trace, step_delay=0.005)
        _wait_for_step(proc, trace, 2 * CKPT_EVERY + 2)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    # a disk fault tears the newest checkpoint: the final run resumes from the previous one
    latest = _ckpt_step(base)
    assert 2 * CKPT_EVERY <= latest < STEPS
    ckpt = base / "checkpoints" / "train" / "train" / f"ckpt-{latest:09d}.pt"
    ckpt.write_bytes(ckpt.read_bytes()[: ckpt.stat().st_size // 2])
    before = len(_trace(trace))
    assert _run(base, trace) == 0
    steps = [int(x.split()[1]) for x in _trace(trace)[before:] if x.startswith("step ")]
    assert steps[0] == latest - CKPT_EVERY + 1
    assert "trying the previous one" in (base / "logs" / "run.log").read_text()
    _assert_complete(base, ref_hashes, trace)
    _assert_model_bitwise(base, ref_base)
    assert not (base / "checkpoints" / "stale").exists()


@pytest.mark.slow
def test_sigint_checkpoints_exits_130_and_resumes_without_redoing_work(
    tmp_path: Path, reference: tuple[Path, dict[str, str]]
) -> None:
    ref_base, ref_hashes = reference
    base, trace = tmp_path / "out", tmp_path / "trace.log"
    # 1. SIGINT in the item stage: in-flight item finishes, the open batch is committed
    proc = _start(base, trace, item_delay=0.002)
    assert _wait_for(proc, trace, "item", 40)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    stderr = (tmp_path / "out.stderr").read_text()
    # said at once, and true of any stage (it promised a save a stage may not make)
    assert "[stop] SIGINT: finishing the work in flight and starting no more, then exiting" in (
        stderr
    )
    assert "interrupted: rerun to resume (" in stderr and "items done)" in stderr
    interrupted = [e for e in _events(base) if e["event"] == "run_interrupted"]
    assert len(interrupted) == 1 and interrupted[0]["stage"] == "count"
    items_seen = [x for x in _trace(trace) if x.startswith("item ")]
    assert sorted(x.split()[1] for x in items_seen) == _ledger_ids(base)  # nothing lost
    # 2. SIGINT in training: a checkpoint at the current step, exit 130
    proc = _start(base, trace, step_delay=0.01)
    assert _wait_for(proc, trace, "step", 15)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    last_step = max(int(x.split()[1]) for x in _trace(trace) if x.startswith("step "))
    assert _ckpt_step(base) == last_step
    saved = [e for e in _events(base) if e["event"] == "checkpoint_saved"]
    assert saved[-1]["step"] == last_step
    assert [e["event"] for e in _events(base)][-1] == "run_interrupted"
    # 3. rerun: nothing is redone, outputs identical
    assert _run(base, trace) == 0
    _assert_complete(base, ref_hashes, trace)
    counts = Counter(x for x in _trace(trace))
    assert all(n == 1 for n in counts.values()), "SIGINT must not cost any redone work"
    assert sum(1 for x in counts if x.startswith("step ")) == STEPS
    _assert_model_bitwise(base, ref_base)


@pytest.mark.slow
def test_second_sigint_exits_at_once_and_state_stays_consistent(
    tmp_path: Path, reference: tuple[Path, dict[str, str]]
) -> None:
    _, ref_hashes = reference
    base, trace = tmp_path / "out", tmp_path / "trace.log"
    proc = _start(base, trace, "--stages", "count", item_delay=0.05)
    assert _wait_for(proc, trace, "item", 3)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 130
    assert _run(base, trace, "--stages", "count") == 0
    for name in ("counts.jsonl", "counts_summary.json"):
        assert hashlib.sha256((base / "out" / name).read_bytes()).hexdigest() == ref_hashes[name]
    assert _ledger_ids(base) == ITEM_IDS


def test_second_sigint_with_a_worker_pool_leaves_no_pymp_folder(tmp_path: Path) -> None:
    """The second signal's ``os._exit`` skips multiprocessing's own clean-up: the runner
    removes the pool's ``pymp-*`` folder itself (observed in a TMPDIR of this test's own)."""
    base, trace = tmp_path / "out", tmp_path / "trace.log"
    # short (the default TMPDIR's folder, not tmp_path): the forkserver's AF_UNIX socket lives
    # in the pymp-* folder, and a socket path over 107 bytes fails the pool
    tmp = Path(tempfile.mkdtemp(prefix="sig-"))
    try:
        extra = ("--stages", "count", "--set", "runner.workers=2")
        proc = _start(base, trace, *extra, item_delay=0.05, tmpdir=tmp)
        assert _wait_for(proc, trace, "item", 3)
        assert list(tmp.glob("pymp-*"))  # the pool made one: there is one to remove
        proc.send_signal(signal.SIGINT)
        time.sleep(0.05)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 130
        assert time.monotonic() - t0 < 5  # still at once
        assert not list(tmp.glob("pymp-*"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_a_tmpdir_too_long_for_the_pool_socket_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """A TMPDIR over 75 bytes fails the forkserver's socket (``OSError: AF_UNIX path too long``,
    raw): the run says so in one line naming TMPDIR and the fixes, exit 2; one worker runs."""
    long_tmp = tmp_path / ("t" * max(1, 90 - len(str(tmp_path))))
    long_tmp.mkdir()
    assert len(str(long_tmp)) > 75
    base, trace = tmp_path / "out", tmp_path / "trace.log"
    extra = ("--stages", "count", "--set", "runner.workers=2")
    assert _run(base, trace, *extra, tmpdir=long_tmp) == 2
    said = (base.parent / "out.stderr").read_text()
    assert f"TMPDIR {long_tmp}: " in said and "too long for the worker pool's socket" in said
    assert "set TMPDIR to a shorter folder, or run with [runner] workers = 1" in said
    assert "AF_UNIX" not in said and "Traceback" not in said
    assert _run(base, trace, "--stages", "count", "--set", "runner.workers=1", tmpdir=long_tmp) == 0


def test_param_change_sets_partial_work_aside_and_starts_clean(tmp_path: Path) -> None:
    base, trace = tmp_path / "out", tmp_path / "trace.log"
    proc = _start(base, trace, "--stages", "count", item_delay=0.002)
    assert _wait_for(proc, trace, "item", 30)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    old_done = len(_ledger_ids(base))
    assert old_done >= COMMIT_EVERY
    before = len(_trace(trace))
    assert _run(base, trace, "--stages", "count", "--set", "params.count.work=201") == 0
    stale = list((base / "checkpoints" / "stale").glob("count-*"))
    assert len(stale) == 1
    conn = sqlite3.connect(stale[0] / "items.ledger.sqlite")
    assert conn.execute("SELECT COUNT(*) FROM items").fetchone()[0] == old_done
    conn.close()
    redone = [x for x in _trace(trace)[before:] if x.startswith("item ")]
    assert len(redone) == N_ITEMS  # started clean: no old partial result reused
    assert _ledger_ids(base) == ITEM_IDS
    assert any(e["event"] == "partial_work_stale" for e in _events(base))


@pytest.mark.slow
def test_two_workers_match_in_process_even_after_a_kill(
    tmp_path: Path, reference: tuple[Path, dict[str, str]]
) -> None:
    _, ref_hashes = reference
    base, trace = tmp_path / "out", tmp_path / "trace.log"
    extra = ("--stages", "count", "--set", "runner.workers=2")
    proc = _start(base, trace, *extra, item_delay=0.005)
    assert _wait_for(proc, trace, "item", 40)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    lost = {x.split()[1] for x in _trace(trace) if x.startswith("item ")} - set(_ledger_ids(base))
    assert len(lost) <= COMMIT_EVERY + 4  # one batch plus the pool's in-flight items
    assert _run(base, trace, *extra) == 0
    for name in ("counts.jsonl", "counts_summary.json"):
        assert hashlib.sha256((base / "out" / name).read_bytes()).hexdigest() == ref_hashes[name]
    assert _ledger_ids(base) == ITEM_IDS


def test_sigterm_exits_143_and_resumes(
    tmp_path: Path, reference: tuple[Path, dict[str, str]]
) -> None:
    _, ref_hashes = reference
    base, trace = tmp_path / "out", tmp_path / "trace.log"
    proc = _start(base, trace, "--stages", "count", item_delay=0.005)
    assert _wait_for(proc, trace, "item", 20)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 143
    last = _events(base)[-1]
    assert last["event"] == "run_interrupted" and last["signal"] == signal.SIGTERM
    assert _run(base, trace, "--stages", "count") == 0
    assert Counter(_trace(trace)).most_common(1)[0][1] == 1  # nothing processed twice
    for name in ("counts.jsonl", "counts_summary.json"):
        assert hashlib.sha256((base / "out" / name).read_bytes()).hexdigest() == ref_hashes[name]


def test_after_a_sigkill_the_resume_line_does_not_claim_an_older_runs_progress(
    tmp_path: Path,
) -> None:
    """Session 40: a SIGKILLed run records nothing, so the next ``[resume]`` line showed the
    progress an earlier SIGINT run had recorded (``40/300 items done``) as if current. The
    runner records in the run state when a stage starts; the note then names the killed run
    instead of the stale count."""
    base, trace = tmp_path / "out", tmp_path / "trace.log"
    log = tmp_path / "out.stderr"
    only = ("--stages", "count")
    proc = _start(base, trace, *only, item_delay=0.002)
    assert _wait_for(proc, trace, "item", 40)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    said = log.read_text()
    first = re.findall(r"\((?:[\w -]+: )?(\d+/300 items done)", said)[-1]
    # the second run continues it and says the first run's count (then current)
    seen = len(log.read_text())
    proc = _start(base, trace, *only, item_delay=0.002)
    assert _wait_for(proc, trace, "item", 60)
    proc.kill()
    proc.wait(timeout=30)
    second = log.read_text()[seen:]
    resumed = [x for x in second.splitlines() if x.startswith("[resume] count: ")]
    assert len(resumed) == 1 and first in resumed[0], second
    done = len(_ledger_ids(base))
    assert done >= int(first.split("/")[0]) + 50  # the killed run got further
    seen = len(log.read_text())
    assert _run(base, trace, *only) == 0
    third = log.read_text()[seen:]
    resumed = [x for x in third.splitlines() if x.startswith("[resume] count: ")]
    assert len(resumed) == 1, third
    assert first not in resumed[0] and "items done" not in resumed[0], resumed
    assert "continues from the partial work in " in resumed[0]
    assert "ended without recording how far it got: killed?" in resumed[0]
    killed = re.findall(r"its last run, ([\w-]+),", resumed[0])
    assert len(killed) == 1 and (base / "runs" / killed[0]).is_dir()  # the second run's id
    assert _ledger_ids(base) == ITEM_IDS
    # completed: the record is the run's own again, and a SIGINT's count is said as before
    state = json.loads((base / "checkpoints" / "run_state.json").read_text())
    assert "started_by" not in state["stages"]["count"]
    assert state["stages"]["count"]["status"] == "completed"
