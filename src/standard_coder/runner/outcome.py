"""What happened to one stage in a run: :class:`StageOutcome`, one type for every ending."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

RESTORED = "restored from cache"
"""How the reason of a stage the run cache restored begins (``restored from cache (remote)``)."""

Status = Literal["completed", "skipped", "failed", "interrupted"]

_RECORD_FIELDS: dict[str, tuple[str, ...]] = {
    "skipped": ("cache_hit", "check_s", "fingerprint"),
    "completed": ("duration_s", "check_s", "cache_hit", "summary", "fingerprint"),
    "interrupted": ("duration_s", "progress", "checkpoint", "summary", "cache_hit", "kept_work"),
    "failed": ("duration_s", "cache_hit"),
}


@dataclass
class StageOutcome:
    """One stage's ending.

    Attributes:
        status: completed, skipped (cache hit), failed or interrupted.
        reason: the text shown to users (why it ran or was skipped, or what failed).
        exit_code: the run's exit status when the stage failed (1, or 2 for bad user input).
        duration_s: seconds ``run(ctx)`` took (None when it never started).
        check_s: seconds the skip-or-run decision took.
        cache_hit: True when skipped, False when the stage ran, None when it never started.
        summary: the stage's ``ctx.set_summary`` figures.
        fingerprint: the fingerprint of the outputs now in place (None when unknown).
        progress: ``" (3/10 items done)"`` for an interrupted stage.
        kept_work: for an interrupted stage, whether it left work a rerun continues (partial
            work, or outputs it wrote); False: the rerun starts it afresh, and it says so;
            None: the runner cannot tell (a part of an output could not be read), and says so.
        checkpoint: the last training checkpoint an interrupted stage saved, ``{"name":
            "train", "step": 6}`` (None: none), which ``progress`` names; the next run's note
            checks it still loads (:func:`standard_coder.runner.partial.resume_note`).
        still_done: an interrupted stage run under ``--force`` whose last completed run still stands
            (a plain rerun skips it): the run's message says so instead of "rerun to resume".
    """

    status: Status
    reason: str
    exit_code: int = 0
    duration_s: float | None = None
    check_s: float | None = None
    cache_hit: bool | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    fingerprint: str | None = None
    progress: str = ""
    kept_work: bool | None = True
    checkpoint: dict[str, Any] | None = None
    still_done: bool = False

    @property
    def ran(self) -> bool:
        """The stage's code ran to completion in this run."""
        return self.status == "completed"

    @property
    def restored(self) -> bool:
        """The run cache put the stage's outputs in place instead of running it."""
        return self.status == "skipped" and self.reason.startswith(RESTORED)

    def record(self) -> dict[str, Any]:
        """The entry ``checkpoints/run_state.json`` keeps for the stage (``run_id`` added there).

        A failed stage that never started records only its status and reason.
        """
        out: dict[str, Any] = {"status": self.status, "reason": self.reason}
        for name in _RECORD_FIELDS[self.status]:
            if self.status == "failed" and self.duration_s is None:
                break
            out[name] = getattr(self, name)
        return out
