"""DDP training under a real ``torchrun --nproc_per_node 2`` (gloo on CPU): equivalence with one
process, SIGTERM and resume, and resuming a two-rank checkpoint in one process."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from proctools import child_env

LAUNCHES_DISTRIBUTED_JOBS = True  # tests/conftest.py: one such module at a time

SCRIPT = Path(__file__).with_name("ddp_fit.py")
TORCHRUN = Path(sys.executable).with_name("torchrun")
TOL = 1e-5  # max |weight difference| allowed against single-process training (measured ~1e-7)

pytestmark = pytest.mark.skipif(not TORCHRUN.exists(), reason="torchrun not installed")


def _env() -> dict[str, str]:
    return child_env()


def _cmd(out: Path, world: int, epochs: int = 6, kind: str = "mdn") -> list[str]:
    if world == 1:
        return [sys.executable, str(SCRIPT), str(out), str(epochs), kind]
    # --standalone: torchrun binds its rendezvous port itself (port 0), so no other test's
    # server can take a port picked here and freed before torchrun binds it
    return [str(TORCHRUN), "--standalone", "--nproc_per_node", str(world), str(SCRIPT), str(out),
            str(epochs), kind]  # fmt: skip


def _train(
    out: Path, world: int, epochs: int = 6, kind: str = "mdn"
) -> subprocess.CompletedProcess[str]:
    out.mkdir(parents=True, exist_ok=True)
    return subprocess.run(_cmd(out, world, epochs, kind), env=_env(), capture_output=True,
                          text=True, timeout=300)  # fmt: skip


def _why(r: subprocess.CompletedProcess[str]) -> str:
    """The ranks' own messages (the head) and torchrun's summary (the tail)."""
    return r.stderr if len(r.stderr) < 6000 else r.stderr[:4000] + "\n...\n" + r.stderr[-2000:]


def _weights(out: Path) -> dict[str, torch.Tensor]:
    return torch.load(out / "model.pt", weights_only=True)  # type: ignore[no-any-return]


def _max_diff(a: Path, b: Path) -> float:
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    return max(float((wa[k] - wb[k]).abs().max()) for k in wa)


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("single")
    r = _train(out, 1)
    assert r.returncode == 0, _why(r)
    return out


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("two")
    r = _train(out, 2)
    assert r.returncode == 0, _why(r)
    return out


def test_two_ranks_equal_one_process(single: Path, two: Path) -> None:
    steps1, val1, w1 = (single / "result.txt").read_text().split()
    steps2, val2, w2 = (two / "result.txt").read_text().split()
    assert (w1, w2) == ("world=1", "world=2")
    assert steps1 == steps2  # same global batches, same number of steps
    assert abs(float(val1) - float(val2)) < 1e-5
    diff = _max_diff(single, two)
    assert diff < TOL, diff
    assert sorted(p.name for p in (two / "ckpt").glob("ckpt-*.pt"))  # rank 0 wrote them


def test_multitask_two_ranks_equal_one_process(tmp_path: Path) -> None:
    """The multitask model (changes and PRs both sharded over the ranks) under DDP."""
    one, two = tmp_path / "mt1", tmp_path / "mt2"
    for out, world in ((one, 1), (two, 2)):
        r = _train(out, world, epochs=4, kind="multitask")
        assert r.returncode == 0, _why(r)
    steps1, val1, _ = (one / "result.txt").read_text().split()
    steps2, val2, w2 = (two / "result.txt").read_text().split()
    assert w2 == "world=2" and steps1 == steps2
    assert abs(float(val1) - float(val2)) < 1e-5
    diff = _max_diff(one, two)
    assert diff < TOL, diff


def test_sigterm_then_resume_is_exact(two: Path, tmp_path: Path) -> None:
    out = tmp_path / "killed"
    out.mkdir()
    proc = subprocess.Popen(_cmd(out, 2), env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not list((out / "ckpt").glob("ckpt-*.pt")):
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)  # torchrun forwards it to both ranks
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0
    assert not (out / "model.pt").exists()  # stopped before the end
    r = _train(out, 2)  # resume with the same world size
    assert r.returncode == 0, _why(r)
    assert "resuming training" in r.stderr
    assert _max_diff(out, two) == 0.0  # same world size: bitwise-exact resume


def test_two_rank_checkpoint_resumes_in_one_process(single: Path, tmp_path: Path) -> None:
    out = tmp_path / "resume1"
    r = _train(out, 2, epochs=3)  # stop after 3 epochs: the checkpoint is at the epoch end
    assert r.returncode == 0, _why(r)
    (out / "model.pt").unlink()
    r = _train(out, 1, epochs=6)  # epochs are not part of the data digest: training goes on
    assert r.returncode == 0, _why(r)
    assert "resuming training" in r.stderr
    assert _max_diff(out, single) < TOL
    shutil.rmtree(out / "ckpt")


def test_ddp_without_torchrun_is_exit_2(tmp_path: Path) -> None:
    cfg = tmp_path / "ddp.toml"
    cfg.write_text('[training]\ndistributed = "ddp"\n', encoding="utf-8")
    env = {k: v for k, v in _env().items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    r = subprocess.run([sys.executable, "-m", "standard_coder", "pipeline", "--config", str(cfg)],
                       env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        'error: [training] distributed = "ddp" needs torchrun: launch with '
        '`torchrun --nproc_per_node N -m standard_coder pipeline ...` (or set it to "none")'
    ]
