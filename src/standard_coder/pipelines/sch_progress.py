"""Training progress for the ``train_sch`` stage: epochs and loss on the stage's progress bar.

The training loop saves a checkpoint at every epoch end with its loss history; wrapping the
stage's checkpointer shows each finished epoch (``epoch 12/60, loss 0.412, val 0.398``) without
the predictors knowing about progress bars.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from standard_coder.runner.context import ProgressHandle, TrainingCheckpointer


class EpochProgress:
    """A :class:`TrainingCheckpointer` that also reports finished epochs to ``bar``."""

    def __init__(
        self, inner: TrainingCheckpointer, bar: ProgressHandle, name: str, epochs: int
    ) -> None:
        self.inner = inner
        self.bar = bar
        self.name = name
        self.epochs = epochs
        self.every_n_steps = inner.every_n_steps
        self._seen = 0

    def due(self, step: int) -> bool:
        return self.inner.due(step)

    def save(self, state: dict[str, Any], step: int) -> Path:
        history = state.get("history") or []
        if len(history) > self._seen:
            self._seen = len(history)
            _epoch, train, val = history[-1][:3]
            self.bar.update(
                completed=len(history),
                description=f"training {self.name}: loss {train:.3f}, val {val:.3f}",
            )
        return self.inner.save(state, step)

    def finish(self, model: Any) -> None:
        """Close the bar of a fit that stopped early: ``epoch 26 of 60 (early stopping)``, or
        of one fitted in closed form: ``shift_w0, fitted in closed form (one step, no
        epochs)``; a last plain line in a log (which otherwise ended at its last timed line,
        ``0/60``)."""
        result = getattr(getattr(model, "regressor_", None), "train_result_", None)
        if result is not None and result.stopped == "closed_form":  # no epoch moved the bar
            chosen = (getattr(model, "selection_", None) or {}).get("chosen", self.name)
            self.bar.update(completed=1, total=1, description=f"training {self.name}: "
                            f"{chosen}, fitted in closed form (one step, no epochs)")  # fmt: skip
            return
        if result is None or result.stopped != "early_stopping":
            return
        n = int(result.epochs_run)
        self.bar.update(completed=n, total=n, description=f"training {self.name}: stopped at "
                        f"epoch {n} of {self.epochs} (early stopping)")  # fmt: skip

    def load_latest(self) -> dict[str, Any] | None:
        state = self.inner.load_latest()
        if state is not None:
            self._seen = len(state.get("history") or [])
            self.bar.update(completed=self._seen)
        return state

    def wait(self) -> None:
        self.inner.wait()
