"""The counting example's model under a real ``torchrun --standalone --nproc_per_node 2`` (gloo on
CPU), through the whole runner (``-m standard_coder pipeline``): equal to one process within a
stated tolerance, and a SIGKILL of torchrun and both ranks mid-training resumes bitwise exactly
from rank 0's last checkpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from proctools import child_env

LAUNCHES_DISTRIBUTED_JOBS = True  # tests/conftest.py: one such module at a time

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "examples" / "counting" / "pipeline.toml"
TORCHRUN = Path(sys.executable).with_name("torchrun")
TOL = 1e-5  # max |weight difference| against one process (measured 9e-8, dropout 0.1 on)
SMALL = [
    "params.count.items=200",
    "params.count.work=10",
    "params.train.steps=60",
    "params.train.checkpoint_every=10",
    "params.train.batch_size=32",
    "params.train.hidden=32",
]


def _cmd(base: Path, world: int) -> list[str]:
    sets = [f"outputs.base_dir={base}", *SMALL]
    if world == 1:
        head = [sys.executable, "-m", "standard_coder"]
    else:  # --standalone: torchrun binds its own rendezvous port (no race with other tests)
        head = [str(TORCHRUN), "--standalone", "--nproc_per_node", str(world), "-m",
                "standard_coder"]  # fmt: skip
        sets.append('training.distributed="ddp"')
    return [*head, "pipeline", "--config", str(CONFIG), *[x for s in sets for x in ("--set", s)]]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    return child_env(env, **extra)


def _run(base: Path, world: int) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(_cmd(base, world), env=_env(), capture_output=True, text=True,
                       timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr[-4000:]
    return r


def _weights(base: Path) -> dict[str, torch.Tensor]:
    return torch.load(base / "out" / "model.pt", weights_only=True)  # type: ignore[no-any-return]


def _ckpt_step(base: Path) -> int:
    pointer = base / "checkpoints" / "train" / "train" / "latest"
    try:
        return int(json.loads(pointer.read_text())["step"])
    except (OSError, ValueError, KeyError):
        return 0


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (torchrun starts each rank in a session of its own, so a
    process-group kill would miss them)."""
    parent: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(stat.parent.name)] = int(fields[1])
    found, todo = [pid], [pid]
    while todo:
        me = todo.pop()
        kids = [c for c, p in parent.items() if p == me]
        found += kids
        todo += kids
    return found


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if not TORCHRUN.exists():
        pytest.skip("torchrun not installed")
    tmp = tmp_path_factory.mktemp("ddp_counting")
    _run(tmp / "one", 1)
    _run(tmp / "two", 2)
    return {"one": tmp / "one", "two": tmp / "two", "tmp": tmp}


def test_two_ranks_equal_one_process(runs: dict[str, Path]) -> None:
    one, two = runs["one"], runs["two"]
    # the count stage runs on rank 0 alone: its outputs are byte-identical
    for name in ("counts.jsonl", "counts_summary.json"):
        assert (one / "out" / name).read_bytes() == (two / "out" / name).read_bytes()
    w1, w2 = _weights(one), _weights(two)
    assert w1.keys() == w2.keys()
    diff = max(float((w1[k] - w2[k]).abs().max()) for k in w1)
    assert diff < TOL, diff
    m1 = json.loads((one / "out" / "train_metrics.json").read_text())
    m2 = json.loads((two / "out" / "train_metrics.json").read_text())
    assert m1["steps"] == m2["steps"] == 60
    assert abs(m1["train_mse"] - m2["train_mse"]) < TOL
    # only rank 0 wrote: one run record, its checkpoints, and no second base folder
    assert list((two / "checkpoints" / "train" / "train").glob("*.pt"))
    events = [json.loads(x) for x in (two / "logs" / "events.jsonl").read_text().splitlines()]
    assert sum(1 for e in events if e.get("event") == "run_completed") == 1


def test_sigkill_mid_training_then_resume_is_exact(runs: dict[str, Path]) -> None:
    base = runs["tmp"] / "killed"
    tree: list[int] = []
    # a step delay on rank 0 (both ranks wait for it) so the kill lands mid-training
    proc = subprocess.Popen(_cmd(base, 2), env=_env(COUNTING_STEP_DELAY="0.05"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while _ckpt_step(base) < 20:
            assert proc.poll() is None, "the run ended before its second checkpoint"
            assert time.monotonic() < deadline, "no checkpoint at step 20 within 180 s"
            time.sleep(0.02)
        tree = _tree(proc.pid)
        assert len(tree) >= 3, tree  # torchrun and its two ranks
        for pid in tree:  # torchrun and both ranks at once: no chance to save anything
            os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:  # a failed wait: no rank may outlive the test
            for pid in _tree(proc.pid):
                os.kill(pid, signal.SIGKILL)
            proc.wait()
    for pid in tree:  # the ranks are gone too (reaped by init once torchrun died)
        deadline = time.monotonic() + 30
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    killed_at = _ckpt_step(base)
    assert 20 <= killed_at < 60
    assert not (base / "out" / "model.pt").exists()
    _run(base, 2)  # the same command again
    assert f"resuming training at step {killed_at}/60" in (base / "logs" / "run.log").read_text()
    w, ref = _weights(base), _weights(runs["two"])
    assert all(torch.equal(w[k], ref[k]) for k in ref)  # same world size: bitwise exact
    assert (base / "out" / "model.pt").read_bytes() == (
        runs["two"] / "out" / "model.pt"
    ).read_bytes()
