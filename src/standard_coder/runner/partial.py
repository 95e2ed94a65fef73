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
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISDIR
from typing import Any

from standard_coder.runner.dbrows import WAL_HEADER, WAL_SUFFIX, holds_rows, is_database
from standard_coder.runner.errors import CorruptStateError
from standard_coder.runner.finding import NO, YES, Finding, cannot_tell
from standard_coder.runner.layout import RunnerLayout
from standard_coder.runner.runstate import read_run_state, restarted_by
from standard_coder.runner.statwalk import lines_token, stat_line, walk_folder

__all__ = [
    "MARKER",
    "NO",
    "WAL_SUFFIX",
    "YES",
    "Finding",
    "OutputScan",
    "OutputStat",
    "OutputWalk",
    "cannot_tell",
    "completed_at",
    "finished_work",
    "has_partial_work",
    "kept_work",
    "output_stats",
    "planned_resume",
    "previous_record",
    "resume_note",
    "scan_output",
    "stamped_fingerprint",
    "written_since",
    "written_since_start",
]

MARKER = "FINGERPRINT"


LEDGER_SUFFIX = ".ledger.sqlite"
"""The name's end of a stage's item ledgers (``ctx.ledger(name)``: ``<name>.ledger.sqlite``)."""


def has_partial_work(cdir: Path) -> bool:
    """Whether ``cdir`` holds anything besides its fingerprint stamp and item ledgers that hold
    no item (a stage stopped before its first item made its ledger: nothing to continue; a
    ledger whose items cannot be read counts)."""
    if not cdir.is_dir():
        return False
    for path in cdir.iterdir():
        ledger = path.name.removesuffix(WAL_SUFFIX).removesuffix("-shm")
        if path.name == MARKER or (ledger.endswith(LEDGER_SUFFIX) and _no_items(cdir / ledger)):
            continue
        return True
    return False


def _no_items(ledger: Path) -> bool:
    """Whether the item ledger ``ledger`` is there and holds no item (False: it holds one, or
    the runner cannot tell)."""
    return is_database(ledger) and holds_rows(ledger, only=frozenset({"items"})).no


@dataclass(frozen=True)
class OutputScan:
    """What holds an output's work, as one walk (:func:`scan_output`) saw it: a plain file and
    its SQLite log (:data:`WAL_SUFFIX`, counted only when it holds a frame; a database that
    holds no row holds nothing), or every file and link under a folder (a folder's own entry,
    and those of the folders under it, are not looked at: they change when anything is made
    or removed in them, a temp file, an empty folder). Links are looked at, not followed."""

    token: str
    """sha256 over one stat line (name, inode, size, mtime) per file or link, and one per
    entry that could not be read (its name and why)."""
    files: int
    """How many files and links it holds."""
    newest_ns: int
    """The newest mtime among them, in ns (-1: none)."""
    unreadable: str | None = None
    """The first entry that could not be read, ``PATH: REASON`` (None: every one was read)."""

    @property
    def holds_work(self) -> bool:
        """Whether there is anything here a rerun could continue (or could not be read)."""
        return self.files > 0 or self.unreadable is not None


OutputStat = OutputScan | None
"""An output as :func:`output_stats` saw it; None: absent."""


def scan_output(path: Path) -> OutputStat:
    """Output ``path`` as it is now (:class:`OutputScan`; None: absent). A folder is walked by
    the runner's one walker, links not followed (an ``lstat`` per entry under it, about 25 ms
    for 10,000 files: ``statwalk.walk_folder``); an entry that cannot be read is noted and the
    walk goes on."""
    lines: list[str] = []
    unreadable: list[str] = []

    def note(rel: str, where: str, exc: OSError) -> None:
        why = exc.strerror or type(exc).__name__
        lines.append(f"{rel}\0?\0{why}\n")
        unreadable.append(f"{where}: {why}")

    newest = -1
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        note("", str(path), exc)
        return _scanned(lines, newest, unreadable)
    if S_ISDIR(st.st_mode):
        newest = walk_folder(os.fspath(path), lines, follow_links=False, note=note)
        return _scanned(lines, newest, unreadable)
    lines.append(stat_line("", st))
    newest = st.st_mtime_ns
    wal = path.with_name(path.name + WAL_SUFFIX)
    try:
        wst = wal.stat()
    except FileNotFoundError:
        pass
    except OSError as exc:
        note(WAL_SUFFIX, str(wal), exc)
    else:
        if wst.st_size > WAL_HEADER:  # a committed write; an empty log is an open database
            lines.append(stat_line(WAL_SUFFIX, wst))
            newest = max(newest, wst.st_mtime_ns)
    return _database(path, _scanned(lines, newest, unreadable))


def _database(path: Path, scan: OutputScan) -> OutputScan:
    """``scan`` of file output ``path``; when it is a SQLite database that holds no row (its
    schema alone: a run stopped before its first row), it holds no work, as an empty folder;
    when its rows cannot be read (locked, corrupt), nothing readable in it says it does and
    the runner cannot tell (:func:`~standard_coder.runner.dbrows.holds_rows`)."""
    if not is_database(path):
        return scan
    rows = holds_rows(path)
    return scan if rows.yes else OutputScan("", 0, -1, rows.why)


def _scanned(lines: list[str], newest: int, unreadable: list[str]) -> OutputScan:
    token = lines_token(lines) if lines else ""
    first = unreadable[0] if unreadable else None
    return OutputScan(token, len(lines) - len(unreadable), newest, first)


def output_stats(outputs: Sequence[Path]) -> list[OutputStat]:
    """Each output as it is now (:func:`scan_output`), to tell whether a run wrote any: progress
    written deep inside a folder counts, though the folder's own mtime and size stay the same;
    a file's SQLite log counts too. Called as a stage starts to run and when it stops, never on
    the skip path."""
    return [scan_output(path) for path in outputs]


class OutputWalk:
    """A stage's outputs, walked once, when first asked (:func:`output_stats`): the notes of a
    stage about to run and its stop's ``before`` share the walk."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = list(paths)
        self._stats: list[OutputStat] | None = None

    def stats(self) -> list[OutputStat]:
        """The walk (made now when not yet made)."""
        if self._stats is None:
            self._stats = output_stats(self.paths)
        return self._stats

    def forget(self) -> None:
        """Walk again when next asked (the outputs may have changed)."""
        self._stats = None


def _stats(outputs: Sequence[Path] | OutputWalk) -> list[OutputStat]:
    return outputs.stats() if isinstance(outputs, OutputWalk) else output_stats(outputs)


def kept_work(
    cdir: Path, outputs: Sequence[Path], before: list[OutputStat], *, resumed: bool = False
) -> Finding:
    """Whether a stopped run of a stage left work a rerun can continue: partial work in
    ``cdir``, or outputs it changed since ``before`` (:func:`output_stats` as it started; the
    mine keeps its progress in its database), anywhere under a folder output, or (``resumed``:
    the run continued work an earlier one left, :func:`resume_note`) outputs still there to
    continue, though it wrote nothing more: :data:`YES`. A stage that kept none of these starts
    afresh (:data:`NO`). Where nothing readable changed but a part of an output could not be
    read, the runner cannot tell (:func:`cannot_tell`: ``PATH: REASON``)."""
    if has_partial_work(cdir):
        return YES
    after = output_stats(outputs)
    if [_work(s) for s in after] != [_work(s) for s in before]:
        return YES
    if resumed and any(s is not None and s.holds_work for s in before):
        return YES
    return _unless_unreadable(after)


def _work(stat: OutputStat) -> tuple[str, str | None] | None:
    """What of an output says what work it holds (None: none that can be read: absent, an empty
    folder, a database with no row, or one that cannot be read)."""
    if stat is None or stat.files == 0:
        return None
    return stat.token, stat.unreadable


def _unless_unreadable(stats: Sequence[OutputStat]) -> Finding:
    """:data:`NO`, unless a part of an output could not be read: then the first one, unknown."""
    first = next((s.unreadable for s in stats if s is not None and s.unreadable), None)
    return NO if first is None else cannot_tell(first)


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
    (killed: :func:`~standard_coder.runner.runstate.restarted_by`), the files are a killed
    run's, and finished only when one wrote the stage's manifest at ``fp`` before it was
    killed: a manifest written after the recorded run ended (its env stamp's ``ended_at``; a
    second killed run that wrote nothing does not hide it), or, that stamp gone, after the
    last killed run started."""
    record = previous_record(layout.run_state, name)
    killed = restarted_by(record)
    if killed is None:
        return completed_at(record, fp)
    recorded = record.get("run_id")
    since = _run_time(layout, recorded, "ended_at") if isinstance(recorded, str) else None
    since = _run_time(layout, killed) if since is None else since
    return fp is not None and since is not None and _manifest_since(layout, name, fp, since)


def _manifest_since(layout: RunnerLayout, name: str, fp: str, since: float) -> bool:
    """Whether stage ``name``'s manifest at ``fp`` was written after ``since`` (False when it
    is missing or unreadable: then nothing says a run finished)."""
    from standard_coder.runner import manifest as mf

    try:
        doc = mf.read_manifest(layout.manifest(name))
    except (CorruptStateError, OSError):
        return False
    if doc is None or doc.get(mf.FINGERPRINT) != fp:
        return False
    written = doc.get(mf.TIMESTAMP)
    return isinstance(written, (int, float)) and written >= since


def resume_note(
    layout: RunnerLayout, name: str, fp: str, outputs: Sequence[Path] | OutputWalk = ()
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
    ``kept_work: false`` is the stopped run's, not the killed ones': an output file written
    after the stopped run ended is work to continue (:func:`_killed_wrote`). Where the runner
    cannot tell (a stop recorded ``kept_work: null``, a part of an output could not be read,
    the env stamps are gone), the note says ``may continue where the interrupted run
    stopped`` and why. A run killed with no stop recorded before it (a first run killed
    as it works) continues where it stopped when it wrote into the outputs
    (:func:`written_since_start`): the mine's database keeps what it stored, and before session
    60 such a rerun said ``new`` and continued it. ``outputs``: the paths, or an
    :class:`OutputWalk` to share its walk."""
    cdir = layout.checkpoint_dir(name)
    if stamped_fingerprint(cdir) != fp:
        return None
    record = previous_record(layout.run_state, name)
    interrupted = record.get("status") == "interrupted"
    killed = restarted_by(record)
    unknown: str | None = None
    if has_partial_work(cdir) and finished_work(layout, name, fp):
        # the last run to finish the stage's work left them (a killed one only when it wrote
        # the manifest first): nothing of it was cut short, no "killed?" to add
        return f"reuses the working files the last completed run left in {cdir}"  # outputs lost
    if has_partial_work(cdir):
        note = f"continues from the partial work in {cdir}"
    elif not interrupted:  # a killed run, no stop before it: its progress is what it wrote
        wrote = NO if killed is None else written_since_start(layout, killed, outputs)
        if wrote.no:
            return None
        unknown = wrote.why
        note = f"{'may continue' if unknown else 'continues'} where the killed run stopped"
    elif record.get("kept_work") is None and "kept_work" in record:  # the stop could not tell
        note = "may continue where the interrupted run stopped"
    elif record.get("kept_work") is not False:  # its progress is in its outputs
        note = "continues where the interrupted run stopped"
    elif killed is not None and not (wrote := _killed_wrote(layout, record, killed, outputs)).no:
        unknown = wrote.why
        note = f"{'may continue' if unknown else 'continues'} where the interrupted run stopped"
    else:
        return None
    if killed is not None:  # what it did is on disk, not in the record: say no progress
        what = f"its last run, {killed}, ended without recording how far it got: killed?"
        if unknown:
            what += f"; cannot tell whether its outputs were written since the stop: {unknown}"
        saved = _intact_checkpoint(cdir, fp, name)  # its checkpoints say it, where it saved any
        return f"{note} ({what}{'; ' + saved if saved else ''})"
    progress = record.get("progress") if interrupted else None
    if not isinstance(progress, str):
        return note
    return note + _checked(progress, record.get("checkpoint"), cdir, name, fp)


def planned_resume(
    layout: RunnerLayout,
    name: str,
    fp: str,
    outputs: Sequence[Path] | OutputWalk,
    live: str | None,
) -> str | None:
    """:func:`resume_note` for ``status`` and ``--dry-run``, where ``live`` is the run in
    progress now (:func:`~standard_coder.runner.runstate.live_run`): a stage it started is
    running, not left by a killed run."""
    note = resume_note(layout, name, fp, outputs)
    record = previous_record(layout.run_state, name) if note and live else {}
    if live is not None and restarted_by(record) == live:
        return f"run {live}, in progress now, is running it"
    return note


def written_since_start(
    layout: RunnerLayout, run_id: str, outputs: Sequence[Path] | OutputWalk
) -> Finding:
    """Whether a file of ``outputs`` (one and its SQLite log, or any file or link under a
    folder) was written after run ``run_id`` started (its env stamp's ``started_at``): yes,
    no, or, where the runner cannot tell (that start is unknown, or a part of an output could
    not be read, and no file it could read is newer), unknown and why. Outputs that hold
    nothing (absent, an empty folder) were not written: no."""
    started = _run_time(layout, run_id)
    if started is None:
        return _unknown(_stats(outputs), f"the env stamp of run {run_id} is missing or unreadable")
    return written_since(started, outputs)


def written_since(when: float, outputs: Sequence[Path] | OutputWalk) -> Finding:
    """Whether a file of ``outputs`` is newer than ``when`` (epoch seconds): yes, no, or
    unknown and what could not be read (``PATH: REASON``) when nothing readable is newer."""
    stats = _stats(outputs)
    since = int(when * 1e9)
    if any(s is not None and s.newest_ns >= since for s in stats):
        return YES
    return _unless_unreadable(stats)


def _unknown(stats: Sequence[OutputStat], why: str) -> Finding:
    """Unknown, ``why``, where the outputs hold anything (else no)."""
    return cannot_tell(why) if any(s is not None and s.holds_work for s in stats) else NO


def _killed_wrote(
    layout: RunnerLayout, record: dict[str, Any], killed: str, outputs: Sequence[Path] | OutputWalk
) -> Finding:
    """Whether the runs killed after the run of ``record`` (which recorded ``kept_work:
    false``: it changed no output) wrote into ``outputs``: a file newer than that run's end
    (its env stamp's ``ended_at``, else ``started_at``), whichever killed run wrote it (only
    the last, ``killed``, is named in the record). When that stamp is gone (``gc`` removes an
    old run's folder), a file newer than the start of ``killed`` still says so; else the
    runner cannot tell (unknown, and why)."""
    recorded = record.get("run_id")
    stopped = _run_time(layout, recorded, "ended_at") if isinstance(recorded, str) else None
    if stopped is not None:
        return written_since(stopped, outputs)
    if written_since_start(layout, killed, outputs).yes:
        return YES
    why = f"the env stamp of the interrupted run {recorded} is missing or unreadable"
    return _unknown(_stats(outputs), why)


def _run_time(layout: RunnerLayout, run_id: str, key: str = "started_at") -> float | None:
    """When run ``run_id`` started (``key`` ``ended_at``: ended, else started), from its env
    stamp (None: missing or unreadable)."""
    from standard_coder.runner.envstamp import read_env_stamp
    from standard_coder.runner.records import parse_time

    try:
        stamp = read_env_stamp(layout.run_dir(run_id))
    except (OSError, ValueError):
        return None
    return parse_time(stamp.get(key)) or parse_time(stamp.get("started_at"))


def _intact_checkpoint(cdir: Path, fp: str, stage: str) -> str:
    """``the training resumes from its checkpoint at step 40``: the newest intact checkpoint of
    fingerprint ``fp`` under the stage's partial work (a killed run recorded no progress), or
    "" when there is none."""
    from standard_coder.runner.ckptfiles import check_checkpoints
    from standard_coder.runner.progress import checkpoint_phrase

    try:
        folders = sorted(p for p in cdir.iterdir() if p.is_dir())
    except OSError:
        return ""
    for folder in folders:
        check = check_checkpoints(folder, fp)
        if check is not None and check.step:
            return checkpoint_phrase(folder.name, check.step, stage)
    return ""


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
