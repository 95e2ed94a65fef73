"""Hugging Face ``Trainer`` runs (TRL's SFT and GRPO trainers) on the runner's checkpoints.

The runner owns the checkpoint files (atomic, sha256-checked, ``latest`` pointer, fallback to the
previous one, refused under another fingerprint) and the stop request (SIGTERM/SIGINT ->
``should_stop()``); the HF ``Trainer`` owns the loop. :class:`RunnerCheckpoints` (a
``TrainerCallback``) hands the full training state to the runner's checkpointer at every
checkpoint step and when a stop is requested: the trainable weights, the optimiser and scheduler
state, ``TrainerState`` (global step, log history) and every RNG. To resume,
:func:`materialise` writes that state back as an HF checkpoint folder in a temp dir and the loop
calls ``trainer.train(resume_from_checkpoint=...)``: the ``Trainer`` then restores weights,
optimiser, scheduler and RNG and skips the batches already seen in the epoch (the data
position), exactly as for its own checkpoints. HF's own ``save_strategy`` stays ``"no"``.
A :class:`~standard_coder.runner.trainclock.TrainingClock` (the runner's, shared with the vision
loop) puts the training's seconds so far into each checkpoint, so a resumed
run (or one that only rebuilds the model from the final checkpoint) reports the training's time
over all its runs, not its own.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from standard_coder.runner.trainclock import TrainingClock

if TYPE_CHECKING:
    from standard_coder.runner.context import TrainingCheckpointer


class TrainingInterrupted(Exception):
    """A stop was requested; the state at ``step`` is checkpointed."""

    def __init__(self, step: int) -> None:
        super().__init__(f"training stopped at step {step} (checkpointed)")
        self.step = step


def _trainable(model: Any) -> dict[str, Any]:
    return {n: p.detach().cpu().clone() for n, p in model.named_parameters() if p.requires_grad}


def _without_summary(state: dict[str, Any]) -> dict[str, Any]:
    """``TrainerState`` fields without the summary ``train()`` logs when it returns (not a step's
    entry: a resumed run logs its own)."""
    history = state.get("log_history") or []
    return {**state, "log_history": [h for h in history if "train_runtime" not in h]}


def snapshot(
    model: Any, optimizer: Any, scheduler: Any, state: Any, seconds: float = 0.0
) -> dict[str, Any]:
    """The whole training state as a ``weights_only``-loadable dict (``seconds``: the training's
    time so far, over all its runs)."""
    from standard_coder.runner.checkpoint import capture_rng_state

    opt = getattr(optimizer, "optimizer", optimizer)  # accelerate's wrapper
    return {
        "format": "hf-trainer",
        "step": int(state.global_step),
        "model": _trainable(model),
        "optimizer": opt.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else {},
        "trainer_state": json.dumps(_without_summary(dataclasses.asdict(state)), sort_keys=True),
        "rng": capture_rng_state(),
        "seconds": float(seconds),
    }


def _hf_rng(rng: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    py = rng["python"]
    npst = rng["numpy"]
    out: dict[str, Any] = {
        "python": (int(py["version"]), tuple(int(x) for x in py["internal"]), py["gauss_next"]),
        "numpy": (
            npst["name"],
            np.asarray(npst["keys"].numpy(), dtype=np.uint32),
            int(npst["pos"]),
            int(npst["has_gauss"]),
            float(npst["cached_gaussian"]),
        ),
        "cpu": rng["torch_cpu"],
    }
    if rng.get("torch_cuda"):
        out["cuda"] = rng["torch_cuda"][0]
    return out


def materialise(saved: dict[str, Any], model: Any, folder: Path) -> Path:
    """Write a runner checkpoint as an HF checkpoint folder ``folder/checkpoint-<step>``."""
    import torch

    step = int(saved["step"])
    target = folder / f"checkpoint-{step}"
    target.mkdir(parents=True, exist_ok=True)
    missing = set(_trainable(model)) - set(saved["model"])
    if missing:
        raise ValueError(f"checkpoint lacks {len(missing)} trainable tensors, e.g. {min(missing)}")
    model.load_state_dict(saved["model"], strict=False)
    model.save_pretrained(target)
    torch.save(saved["optimizer"], target / "optimizer.pt")
    torch.save(saved["scheduler"], target / "scheduler.pt")
    torch.save(_hf_rng(saved["rng"]), target / "rng_state.pth")
    (target / "trainer_state.json").write_text(saved["trainer_state"], encoding="utf-8")
    return target


def _callback_base() -> type:
    from transformers import TrainerCallback

    return TrainerCallback


def make_callback(
    checkpointer: TrainingCheckpointer | None,
    should_stop: Callable[[], bool] | None,
    on_log: Callable[[int, dict[str, float]], None] | None = None,
    clock: TrainingClock | None = None,
) -> Any:
    """The ``TrainerCallback`` linking a Trainer to the runner's checkpointer and stop flag
    (``on_log`` gets ``stopped = True`` once a stop is requested, when it has that field;
    ``clock``: the training's time each checkpoint records, started now when not given)."""
    training_clock = clock if clock is not None else TrainingClock()

    class RunnerCheckpoints(_callback_base()):  # type: ignore[misc]
        stopped_at: int | None = None
        pending: int | None = None  # a checkpoint step waiting for that step's log entry
        clock = training_clock

        def _save(self, state: Any, kw: dict[str, Any]) -> None:
            if checkpointer is not None and self.pending is not None:
                model, opt, sched = kw["model"], kw.get("optimizer"), kw.get("lr_scheduler")
                checkpointer.save(
                    snapshot(model, opt, sched, state, self.clock.seconds()), self.pending
                )
            self.pending = None

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> Any:
            step = int(state.global_step)
            stop = bool(should_stop and should_stop())
            if checkpointer is not None and (
                checkpointer.due(step) or stop or step >= state.max_steps
            ):
                # The Trainer logs this step right after this call: the checkpoint waits for
                # that entry (nothing else changes in between), so a resumed run's log history
                # (the loss curve) has every step.
                self.pending = step
                if not control.should_log:
                    self._save(state, kw)
            if stop:
                self.stopped_at = step
                control.should_training_stop = True
                if hasattr(on_log, "stopped"):
                    setattr(on_log, "stopped", True)  # noqa: B010
            return control

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> Any:
            self._save(state, kw)
            if on_log is not None and logs:
                nums = {k: float(v) for k, v in logs.items() if isinstance(v, int | float)}
                on_log(int(state.global_step), nums)
            return control

        def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> Any:
            self._save(state, kw)  # a log that did not come (never expected)
            return control

        def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> Any:
            self._save(state, kw)
            return control

    return RunnerCheckpoints()


@contextmanager
def resumable(
    trainer: Any,
    checkpointer: TrainingCheckpointer | None,
    log: Any,
    clock: TrainingClock | None = None,
) -> Iterator[tuple[str | None, int | None]]:
    """Yield ``(resume_from_checkpoint, step)`` for ``trainer.train``: a temp HF checkpoint
    folder built from the runner's latest checkpoint and its step, or ``(None, None)`` (a fresh
    start). On a resume ``clock.before`` becomes the training's seconds the checkpoint kept."""
    saved = checkpointer.load_latest() if checkpointer is not None else None
    if saved is None or saved.get("format") != "hf-trainer":
        yield None, None
        return
    if clock is not None:
        clock.before = float(saved.get("seconds", 0.0))  # absent before session 40: 0
    with tempfile.TemporaryDirectory(prefix="sc-hf-resume-") as tmp:
        path = materialise(saved, trainer.model, Path(tmp))
        step = int(saved["step"])
        history = json.loads(saved["trainer_state"]).get("log_history", [])
        (log or logging.getLogger(__name__)).info(
            "resuming training at step %d (%d log entries)", step, len(history)
        )
        restore_token_count(trainer, history, step)
        yield str(path), step


def restore_token_count(trainer: Any, history: list[dict[str, Any]], step: int) -> None:
    """Set TRL's SFT token counter (``_total_train_tokens``, logged as ``num_tokens``) to the
    count logged at ``step``: it lives on the trainer, not in ``TrainerState``, so a resumed run
    would count from 0 again. (GRPO logs ``TrainerState.num_input_tokens_seen``, restored with
    the state.)"""
    counts = [h["num_tokens"] for h in history if "num_tokens" in h and int(h["step"]) <= step]
    if counts and hasattr(trainer, "_total_train_tokens"):
        trainer._total_train_tokens = round(float(counts[-1]))


def run_trainer(
    trainer: Any,
    checkpointer: TrainingCheckpointer | None,
    log: Any,
    on_start: Callable[[int | None], None] | None = None,
) -> int | None:
    """Train (resuming from the runner's checkpoint when there is one); return the step
    resumed from (None: a fresh start, not resumed). ``on_start(step)`` is called with it
    just before the loop starts.

    Raises:
        TrainingInterrupted: a stop was requested; the state is checkpointed.
    """
    callback = next(
        (c for c in trainer.callback_handler.callbacks if type(c).__name__ == "RunnerCheckpoints"),
        None,
    )
    clock = callback.clock if callback is not None else None
    with resumable(trainer, checkpointer, log, clock) as (resume, step):
        if on_start is not None:
            on_start(step)
        if resume is not None and step is not None and step >= trainer.args.max_steps:
            # The final checkpoint (its output was removed): the weights are loaded, nothing is
            # left to train. ``train()`` would take one more step past max_steps.
            from transformers import TrainerState

            trainer.state = TrainerState.load_from_json(str(Path(resume) / "trainer_state.json"))
            if clock is not None:
                clock.trains_nothing()
            (log or logging.getLogger(__name__)).info(
                "training had ended at step %d: the final checkpoint is the model", step
            )
        else:
            trainer.train(resume_from_checkpoint=resume)
    if checkpointer is not None:
        checkpointer.wait()
    if callback is not None and callback.stopped_at is not None:
        raise TrainingInterrupted(callback.stopped_at)
    return step
