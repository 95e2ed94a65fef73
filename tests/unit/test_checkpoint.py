"""Checkpointer and RNG capture: atomic files, pointer, fallback, fingerprints, and a
bitwise-identical continuation of a small training run."""

from __future__ import annotations

import io
import json
import logging
import os
import random
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from standard_coder.runner.checkpoint import (
    Checkpointer,
    capture_rng_state,
    restore_rng_state,
)
from standard_coder.runner.ckptfiles import CheckpointCheck

# --------------------------------------------------------------------------------------------
# RNG capture
# --------------------------------------------------------------------------------------------


def _draws(gens: dict[str, Any]) -> list[float]:
    out = [random.random(), float(np.random.rand()), float(np.random.randn()), torch.rand(1).item()]
    for g in gens.values():
        if isinstance(g, torch.Generator):
            out.append(torch.rand(1, generator=g).item())
        else:
            out.append(float(g.random()))
    return out


def _roundtrip(obj: Any) -> Any:
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def _gens() -> dict[str, Any]:
    return {
        "pcg64": np.random.default_rng(1),
        "mt": np.random.Generator(np.random.MT19937(2)),
        "sfc64": np.random.Generator(np.random.SFC64(3)),
        "philox": np.random.Generator(np.random.Philox(4)),
        "sampler": torch.Generator().manual_seed(5),
    }


def test_rng_round_trip_through_weights_only_load() -> None:
    gens = _gens()
    random.seed(7)
    np.random.seed(7)
    np.random.randn()  # leaves a cached gaussian in the legacy state
    torch.manual_seed(7)
    state = _roundtrip(capture_rng_state(generators=gens))
    expected = _draws(gens)
    # scramble everything, then restore
    random.seed(99)
    np.random.seed(99)
    torch.manual_seed(99)
    for g in gens.values():
        _draws({"g": g})
    restore_rng_state(state, generators=gens)
    assert _draws(gens) == expected


def test_rng_state_has_every_source() -> None:
    state = capture_rng_state(generators={"g": torch.Generator()})
    assert {"python", "numpy", "torch_cpu", "generators"} <= state.keys()
    assert ("torch_cuda" in state) == torch.cuda.is_available()


def test_restore_unknown_generator_raises() -> None:
    state = capture_rng_state()
    with pytest.raises(KeyError, match="sampler"):
        restore_rng_state(state, generators={"sampler": torch.Generator()})


def test_restore_kind_mismatch_raises() -> None:
    state = capture_rng_state(generators={"g": torch.Generator()})
    with pytest.raises(TypeError, match="saved as torch"):
        restore_rng_state(state, generators={"g": np.random.default_rng()})


def test_capture_rejects_unknown_generator_type() -> None:
    with pytest.raises(TypeError, match="unsupported"):
        capture_rng_state(generators={"g": random.Random(1)})  # type: ignore[dict-item]


def test_cuda_state_without_cuda_is_skipped_with_warning(caplog: pytest.LogCaptureFixture) -> None:
    if torch.cuda.is_available():
        pytest.skip("needs a machine without CUDA")
    state = capture_rng_state()
    state["torch_cuda"] = [torch.zeros(16, dtype=torch.uint8)]
    with caplog.at_level(logging.WARNING):
        restore_rng_state(state)
    assert "CUDA is not available" in caplog.text


# --------------------------------------------------------------------------------------------
# Checkpointer files
# --------------------------------------------------------------------------------------------


def _state(step: int) -> dict[str, Any]:
    return {"step": step, "w": torch.full((4,), float(step)), "meta": {"name": "x", "t": (1, 2)}}


def test_due() -> None:
    ck = Checkpointer(Path("unused"), every_n_steps=5)
    assert [s for s in range(0, 21) if ck.due(s)] == [5, 10, 15, 20]
    assert not any(Checkpointer(Path("u"), every_n_steps=0).due(s) for s in range(10))


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        Checkpointer(Path("u"), every_n_steps=-1)
    with pytest.raises(ValueError):
        Checkpointer(Path("u"), every_n_steps=1, keep=0)


def test_save_layout_pointer_and_pruning(tmp_path: Path) -> None:
    saved: list[tuple[Path, int]] = []
    ck = Checkpointer(
        tmp_path, every_n_steps=10, fingerprint="fp1", on_save=lambda p, s: saved.append((p, s))
    )
    assert ck.load_latest() is None
    for step in (10, 20, 30):
        ck.save(_state(step), step)
    ck.wait()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["ckpt-000000020.pt", "ckpt-000000030.pt", "latest"]
    pointer = json.loads((tmp_path / "latest").read_text())
    assert pointer["file"] == "ckpt-000000030.pt" and pointer["step"] == 30
    assert pointer["fingerprint"] == "fp1"
    assert [e["step"] for e in pointer["checkpoints"]] == [30, 20]
    import hashlib

    digest = hashlib.sha256((tmp_path / "ckpt-000000030.pt").read_bytes()).hexdigest()
    assert pointer["sha256"] == digest
    assert saved == [(tmp_path / f"ckpt-{s:09d}.pt", s) for s in (10, 20, 30)]
    assert ck.saves == 3 and ck.save_seconds > 0
    state = ck.load_latest()
    assert state is not None and state["step"] == 30 and ck.loaded_step == 30
    assert torch.equal(state["w"], torch.full((4,), 30.0))
    assert state["meta"]["t"] == (1, 2)


def test_keep_three(tmp_path: Path) -> None:
    ck = Checkpointer(tmp_path, every_n_steps=1, keep=3)
    for step in range(1, 7):
        ck.save(_state(step), step)
    ck.wait()
    assert len(ck.checkpoint_files()) == 3
    assert ck.checkpoint_files()[0].name == "ckpt-000000006.pt"


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete", "empty"])
def test_corrupt_latest_falls_back_to_previous(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    ck = Checkpointer(tmp_path, every_n_steps=5, fingerprint="fp")
    ck.save(_state(5), 5)
    ck.save(_state(10), 10)
    ck.close()
    latest = tmp_path / "ckpt-000000010.pt"
    data = latest.read_bytes()
    if damage == "truncate":
        latest.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        latest.write_bytes(data[:200] + bytes([data[200] ^ 0xFF]) + data[201:])
    elif damage == "delete":
        latest.unlink()
    else:
        latest.write_bytes(b"")
    with caplog.at_level(logging.WARNING):
        state = Checkpointer(tmp_path, every_n_steps=5, fingerprint="fp").load_latest()
    assert state is not None and state["step"] == 5
    assert "trying the previous one" in caplog.text


def test_all_corrupt_gives_none(tmp_path: Path) -> None:
    ck = Checkpointer(tmp_path, every_n_steps=5)
    ck.save(_state(5), 5)
    ck.save(_state(10), 10)
    ck.wait()
    for p in ck.checkpoint_files():
        p.write_bytes(b"junk")
    assert ck.load_latest() is None and ck.loaded_step is None


@pytest.mark.parametrize("pointer", ["missing", "garbage", "malformed"])
def test_damaged_pointer_scans_files(tmp_path: Path, pointer: str) -> None:
    ck = Checkpointer(tmp_path, every_n_steps=5, fingerprint="fp")
    ck.save(_state(5), 5)
    ck.save(_state(10), 10)
    ck.wait()
    if pointer == "missing":
        (tmp_path / "latest").unlink()
    elif pointer == "garbage":
        (tmp_path / "latest").write_text("{not json")
    else:
        (tmp_path / "latest").write_text('{"checkpoints": [{"file": 3}]}')
    # newest file truncated: the scan must skip it and take the previous one
    newest = tmp_path / "ckpt-000000010.pt"
    newest.write_bytes(newest.read_bytes()[:100])
    state = ck.load_latest()
    assert state is not None and state["step"] == 5


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("{not json", "unreadable (not valid JSON (line 1, column 2: "),
        ('{"checkpoints": [{"file": "ckpt-000000010.pt", "step": "10", "sha256": "x"}]}',
         "malformed"),
        ('{"checkpoints": {"file": "ckpt-000000010.pt"}}', "malformed"),
    ],
)  # fmt: skip
def test_the_checkpointer_and_the_resume_note_read_one_pointer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: str, said: str
) -> None:
    """One reader of ``latest`` serves the checkpointer and the resume note
    (``ckptfiles.check_checkpoints``): a pointer one refuses the other refuses too. The
    checkpointer still warns and scans the files; a step written as a string no longer
    passes its check and then breaks the next save (the entries are sorted by step)."""
    from standard_coder.runner.ckptfiles import (
        PointerUnusable,
        check_checkpoints,
        read_pointer,
    )

    ck = Checkpointer(tmp_path, every_n_steps=5, fingerprint="fp", background=False)
    ck.save(_state(5), 5)
    ck.save(_state(10), 10)
    assert check_checkpoints(tmp_path, "fp") is not None
    assert [e["step"] for e in read_pointer(tmp_path)["checkpoints"]] == [10, 5]  # type: ignore[index]
    (tmp_path / "latest").write_text(content)
    with pytest.raises(PointerUnusable, match="^" + re.escape(said)):
        read_pointer(tmp_path)
    assert check_checkpoints(tmp_path, "fp") is None  # the note cannot tell: it names no step
    with caplog.at_level(logging.WARNING, logger="standard_coder.runner.checkpoint"):
        state = ck.load_latest()
    assert state is not None and state["step"] == 10  # scanned from the files
    assert f"checkpoint pointer {tmp_path / 'latest'} {said}" in caplog.text
    assert "; scanning files" in caplog.text
    ck.save(_state(15), 15)  # the damaged pointer is replaced, not sorted with
    assert [e["step"] for e in read_pointer(tmp_path)["checkpoints"]] == [15]  # type: ignore[index]
    assert check_checkpoints(tmp_path, "fp") == CheckpointCheck(15, {})
    (tmp_path / "latest").unlink()
    assert read_pointer(tmp_path) is None and check_checkpoints(tmp_path, "fp") is None


def test_other_fingerprint_is_refused(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    Checkpointer(tmp_path, every_n_steps=5, fingerprint="old", background=False).save(_state(5), 5)
    new = Checkpointer(tmp_path, every_n_steps=5, fingerprint="new")
    with caplog.at_level(logging.WARNING):
        assert new.load_latest() is None
    assert "refusing" in caplog.text
    # without a pointer the payload's own fingerprint still refuses it
    (tmp_path / "latest").unlink()
    assert new.load_latest() is None
    # saving under the new fingerprint replaces the old checkpoints, never mixes them in
    new.save(_state(3), 3)
    new.wait()
    assert [p.name for p in new.checkpoint_files()] == ["ckpt-000000003.pt"]
    state = new.load_latest()
    assert state is not None and state["step"] == 3


def test_no_temp_files_left_and_stale_temps_cleaned(tmp_path: Path) -> None:
    (tmp_path / ".ckpt-000000001.pt.abc.tmp").write_bytes(b"left by a crash")
    ck = Checkpointer(tmp_path, every_n_steps=1)
    ck.save(_state(1), 1)
    ck.wait()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_later_save_never_deletes_another_writers_file_in_flight(tmp_path: Path) -> None:
    """Regression (a CI failure): pruning after each write deleted a second checkpointer's temp
    file mid-write. Stale temps are swept once, before an instance first writes."""
    ck = Checkpointer(tmp_path, every_n_steps=1)
    ck.save(_state(1), 1)
    ck.wait()
    in_flight = tmp_path / ".ckpt-000000002.pt.xyz.tmp"
    in_flight.write_bytes(b"another writer, mid-write")
    ck.save(_state(3), 3)
    ck.wait()
    assert in_flight.exists()


def test_sigkill_during_saves_leaves_a_loadable_checkpoint(tmp_path: Path) -> None:
    """Kill a process that saves 1 MB checkpoints in a loop; the survivor is always intact."""
    code = textwrap.dedent(
        f"""
        import sys, torch
        from pathlib import Path
        from standard_coder.runner.checkpoint import Checkpointer
        ck = Checkpointer(Path({str(tmp_path)!r}), every_n_steps=1, fingerprint="fp")
        step = 0
        while True:
            step += 1
            ck.save({{"step": step, "w": torch.full((250_000,), float(step))}}, step)
            if step == 3:  # save(3) waited for the background write of step 2
                print("ready", flush=True)
        """
    )
    for delay in (0.05, 0.23):
        proc = subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, env=os.environ.copy()
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        state = Checkpointer(tmp_path, every_n_steps=1, fingerprint="fp").load_latest()
        assert state is not None and state["step"] >= 2
        assert torch.equal(state["w"], torch.full((250_000,), float(state["step"])))


def test_background_save_serialises_before_returning(tmp_path: Path) -> None:
    """Mutating the state right after save() must not change what is written."""
    ck = Checkpointer(tmp_path, every_n_steps=1)
    w = torch.zeros(100_000)
    ck.save({"w": w}, 1)
    w.fill_(7.0)
    state = ck.load_latest()
    assert state is not None and torch.equal(state["w"], torch.zeros(100_000))


def test_on_save_runs_in_caller_thread_once_on_disk(tmp_path: Path) -> None:
    import threading

    seen: list[tuple[int, bool, bool]] = []

    def on_save(path: Path, step: int) -> None:
        seen.append((step, path.exists(), threading.current_thread() is threading.main_thread()))

    ck = Checkpointer(tmp_path, every_n_steps=1, on_save=on_save)
    ck.save(_state(1), 1)
    ck.save(_state(2), 2)  # waits for step 1 first
    ck.close()
    assert seen == [(1, True, True), (2, True, True)]
    ck.close()  # nothing pending: no second call
    assert len(seen) == 2


def test_background_write_error_surfaces_on_wait(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    ck = Checkpointer(blocker / "ckpts", every_n_steps=1)
    ck.save(_state(1), 1)  # serialising works; the write fails in the writer thread
    with pytest.raises(OSError):
        ck.wait()
    ck.wait()  # the error is reported once


@pytest.mark.parametrize("background", [True, False])
def test_sync_and_background_write_the_same_bytes(tmp_path: Path, background: bool) -> None:
    ck = Checkpointer(tmp_path / str(background), every_n_steps=1, background=background)
    ck.save(_state(4), 4)
    ck.close()
    data = (tmp_path / str(background) / "ckpt-000000004.pt").read_bytes()
    other = Checkpointer(tmp_path / "ref", every_n_steps=1, background=not background)
    other.save(_state(4), 4)
    other.close()
    assert data == (tmp_path / "ref" / "ckpt-000000004.pt").read_bytes()


# --------------------------------------------------------------------------------------------
# Bitwise-identical continuation
# --------------------------------------------------------------------------------------------

N_DATA, BATCH = 48, 8  # 6 batches per epoch


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(5, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)  # type: ignore[no-any-return]


class _Run:
    """A small but complete training state: model with dropout and BatchNorm, Adam, StepLR,
    a shuffling generator, a numpy Generator for noise, python ``random`` for augmentation."""

    def __init__(self) -> None:
        torch.manual_seed(0)
        self.x = torch.randn(N_DATA, 5)
        self.y = self.x @ torch.arange(1.0, 6.0).unsqueeze(1)
        self.model = _Net()
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-2)
        self.sched = torch.optim.lr_scheduler.StepLR(self.opt, step_size=7, gamma=0.5)
        self.sampler_gen = torch.Generator().manual_seed(123)
        self.noise = np.random.default_rng(321)
        self.step = 0
        self.epoch = 0
        self.batch_in_epoch = 0
        self.perm = torch.randperm(N_DATA, generator=self.sampler_gen)

    def gens(self) -> dict[str, Any]:
        return {"sampler": self.sampler_gen, "noise": self.noise}

    def train_step(self) -> None:
        if self.batch_in_epoch * BATCH >= N_DATA:
            self.epoch += 1
            self.batch_in_epoch = 0
            self.perm = torch.randperm(N_DATA, generator=self.sampler_gen)
        idx = self.perm[self.batch_in_epoch * BATCH : (self.batch_in_epoch + 1) * BATCH]
        noise = torch.from_numpy(self.noise.normal(0, 0.01, size=(BATCH, 1))).float()
        scale = 1.0 + random.random() * 0.01 + float(np.random.rand()) * 0.01
        self.model.train()
        loss = ((self.model(self.x[idx] * scale) - self.y[idx] - noise) ** 2).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        self.sched.step()
        self.batch_in_epoch += 1
        self.step += 1

    def state(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.opt.state_dict(),
            "scheduler": self.sched.state_dict(),
            "step": self.step,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "perm": self.perm,
            "rng": capture_rng_state(generators=self.gens()),
            "config": {"lr": 1e-2, "batch": BATCH},
        }

    def load(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        self.sched.load_state_dict(state["scheduler"])
        self.step = state["step"]
        self.epoch = state["epoch"]
        self.batch_in_epoch = state["batch_in_epoch"]
        self.perm = state["perm"]
        restore_rng_state(state["rng"], generators=self.gens())


def _train(ck: Checkpointer | None, until: int, run: _Run | None = None) -> _Run:
    run = run or _Run()
    while run.step < until:
        run.train_step()
        if ck is not None and ck.due(run.step):
            ck.save(run.state(), run.step)
    return run


def _assert_identical(a: _Run, b: _Run) -> None:
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
    oa, ob = a.opt.state_dict(), b.opt.state_dict()
    assert oa["param_groups"] == ob["param_groups"]
    for pid in oa["state"]:
        for name, value in oa["state"][pid].items():
            assert torch.equal(value, ob["state"][pid][name]), (pid, name)
    assert a.sched.state_dict() == b.sched.state_dict()
    assert torch.equal(a.sampler_gen.get_state(), b.sampler_gen.get_state())


TOTAL = 40


@pytest.fixture(scope="module")
def reference() -> _Run:
    random.seed(0)
    np.random.seed(0)
    return _train(None, TOTAL)


@pytest.mark.parametrize("crash_at", [3, 10, 13, 29, 38])
def test_resume_is_bitwise_identical(tmp_path: Path, reference: _Run, crash_at: int) -> None:
    random.seed(0)
    np.random.seed(0)
    ck = Checkpointer(tmp_path, every_n_steps=5, fingerprint="fp")
    _train(ck, crash_at)  # "crash": the objects are dropped, steps past the last save are lost
    ck.wait()  # (a real crash also stops the writer thread; here it must not race the resume)
    # fresh objects and scrambled global RNGs: only the checkpoint may carry state over
    random.seed(1234)
    np.random.seed(1234)
    torch.manual_seed(1234)
    resumed = _Run()
    ck2 = Checkpointer(tmp_path, every_n_steps=5, fingerprint="fp")
    state = ck2.load_latest()
    if crash_at < 5:
        assert state is None
        random.seed(0)
        np.random.seed(0)
    else:
        assert state is not None and ck2.loaded_step == crash_at // 5 * 5
        resumed.load(state)
    _train(ck2, TOTAL, resumed)
    _assert_identical(reference, resumed)


def test_resume_from_previous_after_corrupt_latest_is_identical(
    tmp_path: Path, reference: _Run
) -> None:
    random.seed(0)
    np.random.seed(0)
    ck = Checkpointer(tmp_path, every_n_steps=5, fingerprint="fp")
    _train(ck, 22)
    ck.wait()
    latest = tmp_path / "ckpt-000000020.pt"
    latest.write_bytes(latest.read_bytes()[:-50])
    resumed = _Run()
    ck2 = Checkpointer(tmp_path, every_n_steps=5, fingerprint="fp")
    state = ck2.load_latest()
    assert state is not None and ck2.loaded_step == 15
    resumed.load(state)
    _train(ck2, TOTAL, resumed)
    _assert_identical(reference, resumed)


def test_without_rng_restore_the_run_diverges(tmp_path: Path, reference: _Run) -> None:
    """The identity above is not vacuous: dropping the RNG state changes the result."""
    random.seed(0)
    np.random.seed(0)
    ck = Checkpointer(tmp_path, every_n_steps=5, fingerprint="fp")
    _train(ck, 12)
    ck.wait()
    resumed = _Run()
    state = ck.load_latest()
    assert state is not None
    state["rng"]["torch_cpu"] = torch.Generator().manual_seed(9).get_state()  # wrong dropout
    resumed.load(state)
    _train(None, TOTAL, resumed)
    sa, sb = reference.model.state_dict(), resumed.model.state_dict()
    assert not all(torch.equal(sa[k], sb[k]) for k in sa)
