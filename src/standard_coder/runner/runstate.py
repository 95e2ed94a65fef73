"""``checkpoints/run_state.json``: per-stage status of the latest runs, with a checksum (its
text and checksum: :mod:`~standard_coder.runner.records`, shared with the no-op fast door)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from standard_coder.runner.atomic import atomic_write_bytes
from standard_coder.runner.errors import CorruptStateError
from standard_coder.runner.jsonfile import JsonFileError, parse_json_object
from standard_coder.runner.records import state_digest, state_text

RUN_STATE_VERSION = 1
STARTED_BY = "started_by"
"""A stage's record key: the run that started the stage's code last. The runner sets it as the
stage starts and drops it with the stage's outcome, so a record that still has it from a later
run than its own ``run_id`` is one that run never replaced: it was killed (SIGKILL, a second
Ctrl-C, a crash) and the record's progress is older than the work on disk."""


_digest = state_digest


def empty_state() -> dict[str, Any]:
    """A fresh run state."""
    return {"schema_version": RUN_STATE_VERSION, "run_id": None, "status": None, "stages": {}}


def read_run_state(path: Path) -> dict[str, Any]:
    """The run state at ``path`` (empty when absent).

    Raises:
        CorruptStateError: not JSON, wrong shape, or the checksum does not match.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return empty_state()
    try:
        doc = parse_json_object(raw, "run state")
    except JsonFileError as exc:
        raise CorruptStateError(path, str(exc)) from None
    if not isinstance(doc.get("stages"), dict):
        raise CorruptStateError(path, "run state has the wrong shape")
    if doc.get("checksum") != _digest(doc):
        raise CorruptStateError(path, "run state checksum mismatch")
    return doc


def write_run_state(path: Path, doc: dict[str, Any], *, durable: bool = True) -> None:
    """Write atomically with a fresh checksum (``durable=False``: no fsync, see
    :func:`~standard_coder.runner.atomic.atomic_write`)."""
    atomic_write_bytes(path, state_text(doc).encode("utf-8"), durable=durable)


def restarted_by(record: dict[str, Any]) -> str | None:
    """The run that started the stage of ``record`` after the run that recorded it, and
    recorded nothing itself (killed or crashed); None when the record is that run's own."""
    started = record.get(STARTED_BY)
    if not isinstance(started, str) or started == record.get("run_id"):
        return None
    return started


def live_run(run_state: Path, base_dir: Path) -> str | None:
    """The id of the run in progress in ``base_dir`` now (it holds the folder's lock, and the run
    state it wrote says ``running``), or None: for ``status`` and ``--dry-run``, which take no
    lock, so a stage that run started is said to be running, not killed."""
    from standard_coder.runner.lock import lock_holder

    try:
        doc = read_run_state(run_state)
    except (CorruptStateError, OSError):
        return None
    run_id = doc.get("run_id")
    if doc.get("status") != "running" or not isinstance(run_id, str):
        return None
    return run_id if lock_holder(base_dir) is not None else None
