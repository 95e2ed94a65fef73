"""Partial work a stage left when it was stopped, and whether the next run continues it.

A stage's partial work lives in ``checkpoints/<stage>/`` (checkpoints, ledgers), stamped with
the fingerprint it belongs to (``FINGERPRINT``). Some stages keep their progress in their
outputs instead (the mine's database grows per chunk, so its checkpoint folder holds only the
stamp): the run state's record of the stage as ``interrupted`` says there is work to continue.

    >>> from pathlib import Path  # doctest: +SKIP
    >>> resume_note(Layout(Path("out")), "train_sch", fp)  # doctest: +SKIP
    'continues from the partial work in out/checkpoints/train_sch (train: 41/100 epochs done)'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from standard_coder.runner.errors import CorruptStateError
from standard_coder.runner.runstate import read_run_state

__all__ = ["MARKER", "has_partial_work", "previous_record", "resume_note", "stamped_fingerprint"]

MARKER = "FINGERPRINT"


def has_partial_work(cdir: Path) -> bool:
    """Whether ``cdir`` holds anything besides its fingerprint stamp."""
    return cdir.is_dir() and any(p.name != MARKER for p in cdir.iterdir())


def stamped_fingerprint(cdir: Path) -> str | None:
    """The fingerprint ``cdir``'s partial work belongs to (None: no stamp)."""
    try:
        return (cdir / MARKER).read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None


def previous_record(run_state: Path, name: str) -> dict[str, Any]:
    """The last recorded outcome of stage ``name`` (empty when none or unreadable: the run
    state is only a hint here; the engine quarantines a corrupt one)."""
    try:
        record = read_run_state(run_state)["stages"].get(name)
    except (CorruptStateError, OSError):
        return {}
    return record if isinstance(record, dict) else {}


def resume_note(cdir: Path, run_state: Path, name: str, fp: str) -> str | None:
    """What a run of ``name`` at fingerprint ``fp`` continues, or None when it starts afresh:
    ``continues from the partial work in <cdir>`` (checkpoints of this fingerprint) or
    ``continues where the interrupted run stopped`` (its progress in its outputs), with the
    interrupted run's progress when it was recorded; ``reuses the working files the last
    completed run left in <cdir>`` when that run's outputs went missing since."""
    if stamped_fingerprint(cdir) != fp:
        return None
    record = previous_record(run_state, name)
    interrupted = record.get("status") == "interrupted"
    finished = record.get("status") in ("completed", "skipped") and record.get("fingerprint") == fp
    if has_partial_work(cdir) and finished:  # its outputs were deleted or damaged since
        note = f"reuses the working files the last completed run left in {cdir}"
    elif has_partial_work(cdir):
        note = f"continues from the partial work in {cdir}"
    elif interrupted:
        note = "continues where the interrupted run stopped"
    else:
        return None
    progress = record.get("progress") if interrupted else None
    return note + (progress if isinstance(progress, str) else "")
