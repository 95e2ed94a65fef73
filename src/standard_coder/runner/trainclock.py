"""The training's time over all its runs, for a training loop that resumes from checkpoints.

A stage that trains puts :meth:`TrainingClock.seconds` into each checkpoint and, on resume, sets
:attr:`TrainingClock.before` from the checkpoint it loaded: the time it reports is the
training's, whether it ran once, was stopped and resumed, or only rebuilt the model from the
final checkpoint (:meth:`TrainingClock.trains_nothing`), never the moment the rebuild took.
Used by the vision loop and the code-edit HF ``Trainer`` runs alike.
"""

from __future__ import annotations

import time

__all__ = ["TrainingClock"]


class TrainingClock:
    """The training's seconds over all its runs: what the checkpoint it resumed from had
    recorded (:attr:`before`, set on resume) plus this run's since the clock was made, or
    nothing of this run's when it trained no step (:meth:`trains_nothing`: a model rebuilt
    from the final checkpoint).

    Example:
        >>> clock = TrainingClock()
        >>> clock.before = 12.5  # the checkpoint's "seconds"
        >>> clock.trains_nothing()
        >>> clock.seconds()
        12.5
    """

    def __init__(self) -> None:
        self.before = 0.0
        self._started: float | None = time.perf_counter()

    def trains_nothing(self) -> None:
        """This run only rebuilds the model: its time is not the training's."""
        self._started = None

    def seconds(self) -> float:
        if self._started is None:
            return self.before
        return self.before + time.perf_counter() - self._started
