"""Partial work a stage left when it was stopped, and whether the next run continues it.

A stage's partial work lives in ``checkpoints/<stage>/`` (checkpoints, ledgers), stamped with
the fingerprint it belongs to (``FINGERPRINT``). Some stages keep their progress in their
outputs instead (the mine's database grows per chunk, so its checkpoint folder holds only the
stamp): the run state's record of the stage as ``interrupted`` says there is work to continue.

    >>> resume_note(RunnerLayout(Path("out")), "mine", fp, outputs)  # doctest: +SKIP
    'continues where the interrupted run stopped (mine pip-82686255: 8500/12001 items done)'
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from stat import S_ISDIR
from typing import Any

from standard_coder.runner.errors import CorruptStateError
from standard_coder.runner.layout import RunnerLayout
from standard_coder.runner.runstate import read_run_state, restarted_by
from standard_coder.runner.statwalk import lines_token, walk_lines

__all__ = [
    "MARKER",
    "WAL_SUFFIX",
    "OutputStat",
    "completed_at",
    "finished_work",
    "has_partial_work",
    "kept_work",
    "output_stats",
    "previous_record",
    "resume_note",
    "stamped_fingerprint",
    "written_since_start",
]

MARKER = "FINGERPRINT"


def has_partial_work(cdir: Path) -> bool:
    """Whether ``cdir`` holds anything besides its fingerprint stamp."""
    return cdir.is_dir() and any(p.name != MARKER for p in cdir.iterdir())


OutputStat = tuple[int, int, str] | None
"""An output as :func:`output_stats` saw it: ``(mtime_ns, size, token)``, where ``token`` is
the :mod:`~standard_coder.runner.statwalk` stat token of every file under a folder, or of a
plain file's SQLite log (:data:`WAL_SUFFIX`; ``""`` when it has none); None: absent."""

WAL_SUFFIX = "-wal"
"""A SQLite database's write-ahead log beside it (``mined_commits.sqlite-wal``): committed work
sits there until a checkpoint copies it into the database (the mine's database uses one), so
a file output's work is the file and its log."""


def _beside(path: Path, st: os.stat_result) -> list[str]:
    """The stat lines of what holds an output's work besides its own entry: every file under
    a folder, or a plain file's SQLite log (none: ``[]``)."""
    if S_ISDIR(st.st_mode):
        return walk_lines(path)
    try:
        return walk_lines(path.with_name(path.name + WAL_SUFFIX))
    except FileNotFoundError:
        return []


def output_stats(outputs: Sequence[Path]) -> list[OutputStat]:
    """Each output as it is now (:data:`OutputStat`), to tell whether a run wrote any. A folder
    is walked (a stat per file under it: about 25 ms for 10,000 files), so progress written deep
    inside it counts, though the folder's own mtime and size stay the same; a file's SQLite log
    counts too. Called as a stage starts to run and when it stops, never on the skip path."""
    stats: list[OutputStat] = []
    for path in outputs:
        try:
            st = path.stat()
        except OSError:
            stats.append(None)
            continue
        try:
            lines = _beside(path, st)
            token = lines_token(lines) if lines else ""
        except OSError as exc:  # unreadable below: the same cause reads the same
            token = f"unreadable: {exc.strerror}"
        stats.append((st.st_mtime_ns, st.st_size, token))
    return stats


def kept_work(
    cdir: Path, outputs: Sequence[Path], before: list[OutputStat], *, resumed: bool = False
) -> bool:
    """Whether a stopped run of a stage left work a rerun can continue: partial work in
    ``cdir``, or outputs it changed since ``before`` (:func:`output_stats` as it started; the
    mine keeps its progress in its database), anywhere under a folder output, or (``resumed``:
    the run continued work an earlier one left, :func:`resume_note`) outputs still there to
    continue, though it wrote nothing more. A stage that kept none of these starts afresh."""
    if has_partial_work(cdir) or output_stats(outputs) != before:
        return True
    return resumed and any(s is not None for s in before)


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


def completed_at(record: dict[str, Any], fp: str | None) -> bool:
    """Whether a stage's recorded outcome is a completed (or skipped) run at fingerprint ``fp``:
    the working files stamped ``fp`` are then what that run left, not work cut short."""
    return (
        fp is not None
        and record.get("status") in ("completed", "skipped")
        and (record.get("fingerprint") == fp)
    )


def finished_work(layout: RunnerLayout, name: str, fp: str | None) -> bool:
    """Whether the working files of stage ``name`` stamped ``fp`` (``checkpoints/<name>/``) are
    what a finished run left, not work cut short: the record's own run completed (or skipped)
    at ``fp`` (:func:`completed_at`). When a later run started the stage and recorded nothing
    (killed: :func:`~standard_coder.runner.runstate.restarted_by`), the files are that run's,
    and finished only when it wrote the stage's manifest at ``fp`` before it was killed (a
    manifest written after that run started, by its env stamp's ``started_at``)."""
    record = previous_record(layout.run_state, name)
    killed = restarted_by(record)
    if killed is None:
        return completed_at(record, fp)
    return fp is not None and _manifest_written_by(layout, name, fp, killed)


def _manifest_written_by(layout: RunnerLayout, name: str, fp: str, run_id: str) -> bool:
    """Whether run ``run_id`` wrote stage ``name``'s manifest at ``fp`` (False when either
    file is missing or unreadable: then nothing says the run finished)."""
    from standard_coder.runner import manifest as mf

    try:
        doc = mf.read_manifest(layout.manifest(name))
    except (CorruptStateError, OSError):
        return False
    started = _run_started(layout, run_id)
    if doc is None or started is None or doc.get(mf.FINGERPRINT) != fp:
        return False
    written = doc.get(mf.TIMESTAMP)
    return isinstance(written, (int, float)) and written >= started


def resume_note(
    layout: RunnerLayout, name: str, fp: str, outputs: Sequence[Path] = ()
) -> str | None:
    """What a run of ``name`` at fingerprint ``fp`` continues, or None when it starts afresh:
    ``continues from the partial work in <cdir>`` (checkpoints of this fingerprint in
    ``checkpoints/<name>/``) or ``continues where the interrupted run stopped`` (its progress
    in its ``outputs``: never for a run recorded as having kept no work, ``kept_work`` false,
    unless a later run wrote them, below), with the interrupted run's progress when it was
    recorded; ``reuses the working files the last completed run left in <cdir>`` when that
    run's outputs went missing since (:func:`finished_work`). The progress names the training
    checkpoint that will load: when the one the interrupted run saved last fails its sha256
    check now, the note names the step before it and why (the checkpoint is read to check it,
    once per process). When a later run started the stage and was killed (it recorded
    nothing: :func:`~standard_coder.runner.runstate.restarted_by`), the recorded progress is
    older than the work on disk: the note names that run instead; and the recorded
    ``kept_work: false`` is the stopped run's, not the killed one's: an output file written
    after the killed run started is work to continue (:func:`written_since_start`)."""
    cdir = layout.checkpoint_dir(name)
    if stamped_fingerprint(cdir) != fp:
        return None
    record = previous_record(layout.run_state, name)
    interrupted = record.get("status") == "interrupted"
    killed = restarted_by(record)
    if has_partial_work(cdir) and finished_work(layout, name, fp):
        note = f"reuses the working files the last completed run left in {cdir}"  # outputs lost
    elif has_partial_work(cdir):
        note = f"continues from the partial work in {cdir}"
    elif interrupted and (  # its progress is in its outputs
        record.get("kept_work") is not False
        or (killed is not None and written_since_start(layout, killed, outputs))
    ):
        note = "continues where the interrupted run stopped"
    else:
        return None
    if killed is not None:  # what it did is on disk, not in the record: say no progress
        return f"{note} (its last run, {killed}, ended without recording how far it got: killed?)"
    progress = record.get("progress") if interrupted else None
    if not isinstance(progress, str):
        return note
    return note + _checked(progress, record.get("checkpoint"), cdir, name, fp)


def written_since_start(layout: RunnerLayout, run_id: str, outputs: Sequence[Path]) -> bool:
    """Whether a file of ``outputs`` (one and its SQLite log, or any under a folder) was
    written after run ``run_id`` started (its env stamp's ``started_at``; False when that is
    unknown). Walks the outputs: asked only of a killed run's stage whose stopped run before it
    kept nothing."""
    started = _run_started(layout, run_id)
    if started is None:
        return False
    since = int(started * 1e9)
    for path in outputs:
        try:
            st = path.stat()
        except OSError:  # absent: nothing written there to continue
            continue
        if st.st_mtime_ns >= since:
            return True
        try:
            lines = _beside(path, st)
        except OSError:  # unreadable below: nothing there says it was written
            continue
        if any(int(line.rsplit("\0", 1)[1]) >= since for line in lines):
            return True
    return False


def _run_started(layout: RunnerLayout, run_id: str) -> float | None:
    """When run ``run_id`` started, from its env stamp (None: missing or unreadable)."""
    from standard_coder.runner.envstamp import read_env_stamp
    from standard_coder.runner.records import parse_time

    try:
        return parse_time(read_env_stamp(layout.run_dir(run_id)).get("started_at"))
    except (OSError, ValueError):
        return None


def _checked(progress: str, saved: Any, cdir: Path, stage: str, fp: str) -> str:
    """``progress`` (the interrupted run's note) with its checkpoint step as the one that will
    load: the step it names may have been damaged since (its sha256 fails) or removed, and the
    training then resumes from the one before, or afresh when none is intact."""
    from standard_coder.runner.ckptfiles import check_checkpoints
    from standard_coder.runner.progress import checkpoint_owner, checkpoint_phrase

    if not isinstance(saved, dict) or not isinstance(saved.get("name"), str):
        return progress
    name, step = saved["name"], saved.get("step")
    if not isinstance(step, int) or step <= 0:
        return progress
    said = checkpoint_phrase(name, step, stage)
    check = check_checkpoints(cdir / name, fp) if said in progress else None
    if check is None or check.step == step:
        return progress
    why = check.why.get(step, "is not among its checkpoints")
    if check.step is None:
        now = (
            f"{checkpoint_owner(name, stage)} starts afresh: no checkpoint is intact (the one "
            f"at step {step} {why})"
        )
    else:
        now = f"{checkpoint_phrase(name, check.step, stage)}: the one at step {step} {why}"
    return progress.replace(said, now)
