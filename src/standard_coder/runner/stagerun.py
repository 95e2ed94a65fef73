"""Run one stage: decide, set aside stale partial work, call ``run(ctx)``, check and hash the
outputs, write the manifest (last, atomically). Every ending is a :class:`StageOutcome`.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from standard_coder.runner import manifest as mf
from standard_coder.runner.atomic import atomic_write_text
from standard_coder.runner.command import CommandStage
from standard_coder.runner.decision import Decision, Reason, Scan, scan
from standard_coder.runner.engine_context import RunContext
from standard_coder.runner.errors import OutputMissing, RunInterrupted, RunnerError
from standard_coder.runner.fingerprint import fingerprint as make_fingerprint
from standard_coder.runner.fserrors import (
    STAGE_READ_ONLY_HINT,
    UNWRITABLE_ERRNOS,
    describe,
    failure_message,
    unwritable_folder,
)
from standard_coder.runner.outcome import RESTORED, StageOutcome
from standard_coder.runner.partial import (
    MARKER,
    OutputWalk,
    finished_work,
    has_partial_work,
    kept_work,
    resume_note,
    stamped_fingerprint,
)
from standard_coder.runner.progress import ProgressDisplay
from standard_coder.runner.session import RUNNER_VERSION, RunSession
from standard_coder.runner.staging import staged_paths, swap_cut_short, swap_in
from standard_coder.runner.stoptoken import StopToken

log = logging.getLogger("standard_coder.runner")


def _write_index(path: Path, index: Mapping[str, Any]) -> None:
    """Per-file digests of folder inputs (only to name a changed file): replace, no fsync."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(index, separators=(",", ":")), encoding="utf-8")
    os.replace(tmp, path)


def _seed(seed: int) -> None:
    """Seed python, and numpy/torch when the process already loaded them (never imports them)."""
    if "torch" in sys.modules:
        from standard_coder.runner.seeding import seed_everything

        seed_everything(seed)
        return
    import random

    random.seed(seed)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed(seed % 2**32)


def _progress_note(ctx: RunContext) -> str:
    from standard_coder.runner.progress import interrupt_note

    return interrupt_note(ctx.tasks, ctx.summary, ctx.last_checkpoint, stage=ctx.stage)


def raised_at(exc: BaseException) -> str | None:
    """``steps.py:12`` (relative to the current folder where it is inside it): the innermost
    frame of the stage's own code an unexpected exception passed through (not the standard
    library's, an installed package's or the runner's; the innermost frame when every one is),
    None without a traceback."""
    import sysconfig
    import traceback

    paths = sysconfig.get_paths()
    others = tuple({paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
                   | {os.path.dirname(os.path.abspath(__file__))})  # fmt: skip
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith("<")]
    if not frames:
        return None
    own = [f for f in frames if not os.path.abspath(f.filename).startswith(others)]
    frame = (own or frames)[-1]
    path = os.path.abspath(frame.filename)
    here = os.getcwd() + os.sep
    shown = path[len(here) :] if path.startswith(here) else path
    return f"{shown}:{frame.lineno}"


def _still_up_to_date(session: RunSession, name: str) -> bool:
    """A stopped forced stage's last completed run still stands (its manifest and outputs are
    whole: staged outputs, or the stop came before it wrote): a plain rerun skips it."""
    try:
        return session.assess(name, False).decision.skip
    except RunnerError:
        return False


def _output_paths(session: RunSession, name: str) -> list[Path]:
    return [o.path for o in session.views[name].outputs]


def unfinished(
    session: RunSession,
    name: str,
    fp: str,
    decision: Decision,
    force: bool,
    outputs: OutputWalk | None = None,
) -> Decision:
    """``decision``, or ``unfinished`` in place of ``new`` when the stage never completed but
    continues the partial work of fingerprint ``fp`` (the ``[resume]`` line says from where;
    ``outputs``: the stage's outputs, walked at most once for the note and the run)."""
    if decision.code is not Reason.NEW or force:
        return decision
    walk = OutputWalk(_output_paths(session, name)) if outputs is None else outputs
    if resume_note(session.layout, name, fp, walk) is None:
        return decision
    return Decision(False, Reason.UNFINISHED)


def prepare_partial(
    session: RunSession,
    name: str,
    fp: str,
    force: bool = False,
    outputs: OutputWalk | None = None,
) -> tuple[Path, bool]:
    """``checkpoints/<stage>/`` for this fingerprint. Partial work of another fingerprint, or
    any under ``--force`` (a forced stage starts afresh), is set aside under
    ``checkpoints/stale/`` (event ``partial_work_stale``, said on the console with where it
    went; ``finished_work_set_aside`` when the files are what a finished run left,
    :func:`~standard_coder.runner.partial.finished_work`); partial work of this fingerprint
    is resumed (event ``stage_resuming``, also for a stage whose progress lives in its outputs,
    :func:`~standard_coder.runner.partial.resume_note`). Returns the folder, and whether the
    stage continues work an earlier run left (``stage_resuming`` was said).
    """
    layout = session.layout
    cdir = layout.checkpoint_dir(name)
    old = stamped_fingerprint(cdir)
    cut_short = swap_cut_short(cdir)
    resumed = False
    walk = OutputWalk(_output_paths(session, name)) if outputs is None else outputs
    if has_partial_work(cdir) and (old != fp or force or cut_short):
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        label = old[:12] if old else "unknown"
        target = layout.stale / f"{name}-{label}-{stamp}"
        n = 1
        while target.exists():  # set aside twice within a second
            n += 1
            target = layout.stale / f"{name}-{label}-{stamp}-{n}"
        target.parent.mkdir(parents=True, exist_ok=True)
        import shutil

        shutil.move(str(cdir), str(target))
        why = "fingerprint changed" if old else "no fingerprint recorded"
        why = "--force" if old == fp else why
        why = "the last run stopped while it put its outputs in place" if cut_short else why
        if not cut_short and finished_work(layout, name, old):
            # the working files of a run that finished (by the record, or by the manifest a
            # killed run wrote before it was killed): nothing was cut short
            reason = f"{why}: the last completed run's working files set aside in {target}"
            session.emit("finished_work_set_aside", name, reason, moved_to=str(target))
        else:
            reason = f"{why}: earlier partial work set aside in {target}"
            session.emit("partial_work_stale", name, reason, moved_to=str(target))
        log.info("stage %s: stale partial work moved to %s", name, target)
        old = None
    elif not force and (note := resume_note(layout, name, fp, walk)):
        session.emit("stage_resuming", name, note)
        resumed = True
    cdir.mkdir(parents=True, exist_ok=True)
    if old != fp:
        atomic_write_text(cdir / MARKER, fp + "\n")
    return cdir, resumed


def _failed(
    session: RunSession, name: str, exc: RunnerError, duration: float | None = None
) -> StageOutcome:
    fields = {} if duration is None else {"duration_s": round(duration, 6)}
    session.emit("stage_failed", name, str(exc), **fields)
    code = exc.exit_code if duration is None else 1
    cache_hit = None if duration is None else False
    return StageOutcome("failed", str(exc), code, duration_s=duration, cache_hit=cache_hit)


def run_stage(
    session: RunSession,
    name: str,
    force: bool,
    stop: StopToken,
    display: ProgressDisplay,
    run_dir: Path,
) -> StageOutcome:
    """Skip ``name`` when up to date, else run it; never raises for the stage's own failure."""
    view = session.views[name]
    t0 = time.perf_counter()
    try:
        found = session.assess(name, force)
    except RunnerError as exc:
        return _failed(session, name, exc)
    session.settle(name, found)
    decision, in_scan = found.decision, found.in_scan
    check_s = time.perf_counter() - t0
    if decision.skip:
        kept = found.manifest or {}  # as read (and refreshed by settle): no second read
        kept_fp = kept.get(mf.FINGERPRINT)
        session.emit(
            "stage_skipped", name, decision.reason, check_s=round(check_s, 6), fingerprint=kept_fp
        )
        return StageOutcome(
            "skipped", decision.reason, check_s=check_s, cache_hit=True, fingerprint=kept_fp
        )
    if session.before_stage_runs is not None:
        session.before_stage_runs()
    try:
        if in_scan is None or set(in_scan.checksums) != {i.name for i in view.inputs}:
            in_scan = scan(view.inputs, session.cache)
    except RunnerError as exc:
        return _failed(session, name, exc)
    device = session.device.verified() if view.stage.device_sensitive else None
    fp = make_fingerprint(
        inputs_checksum=in_scan.checksum,
        params=view.params,
        code_version=view.code_version,
        runner_version=RUNNER_VERSION,
        device=device,
    )
    # one walk of the outputs for the notes (a killed run's writes) and the stop's "before"
    walk = OutputWalk([o.path for o in view.outputs])
    decision = unfinished(session, name, fp, decision, force, walk)
    session.emit("stage_cache_miss", name, decision.reason, code=decision.code.value)
    log.info("stage %s: running (%s)", name, decision.reason)
    blocked = unwritable_folder((o.path for o in view.outputs), staged=view.stage.staged_outputs)
    if blocked is not None:  # said now, not after the stage's work, with the exit code of one
        said = describe(blocked, read_only_hint=STAGE_READ_ONLY_HINT)
        session.emit("stage_failed", name, said)
        return StageOutcome("failed", said, 2, cache_hit=False)
    if not force and session.pipeline.run_cache is not None:
        restored = _restore(session, name, in_scan, fp, device, check_s)
        if restored is not None:
            return restored
        walk.forget()  # a restore that failed may have changed them
    cdir, resumed = prepare_partial(session, name, fp, force, walk)
    named, staged = view.stage.named_outputs, view.stage.staged_outputs

    def emit(event: str, **fields: Any) -> None:
        reason = str(fields.pop("reason", ""))
        session.emit(event, name, reason, **fields)

    ctx = RunContext(
        run_id=session.run_id,
        stage=name,
        base_dir=session.base,
        run_dir=run_dir,
        checkpoint_dir=cdir,
        params=view.params,
        settings=view.settings,
        seed=session.pipeline.seed,
        fingerprint=fp,
        workers=session.pipeline.workers,
        stop=stop,
        emit=emit,
        progress=display,
        device=session.device.verified,
        device_preference=session.device.preference,
        on_corrupt=lambda path, reason: session.quarantine(path, reason, name),
        root_dir=session.root,
        inputs=view.stage.named_inputs,
        outputs=staged_paths(cdir, named) if staged else named,
        final_outputs=named,
        executor=session.pipeline.executor,
        shared_executors=session.executors,
    )
    if not isinstance(view.stage.run, CommandStage):
        _seed(session.pipeline.seed)
    session.emit("stage_running", name, decision.reason, fingerprint=fp)
    if session.stage_starts is not None:
        session.stage_starts(name)
    out_paths = walk.paths
    before = walk.stats()  # a stop asks whether the stage wrote any (not on skips)
    started = time.perf_counter()
    try:
        view.stage.run(ctx)  # type: ignore[arg-type]
    except RunInterrupted as exc:
        stop.request(exc.signum)
    except KeyboardInterrupt:
        stop.request(2)
    except Exception as exc:
        duration = time.perf_counter() - started
        message = failure_message(exc)
        # the console shows this failure once, as the [FAIL] event line; the record (with its
        # traceback) is for the log file and --log-level debug
        log.error("stage %s failed: %s", name, message, exc_info=True, extra={"on_console": False})
        where = raised_at(exc) if message == f"{type(exc).__name__}: {exc}" else None
        fields: dict[str, Any] = (
            {"raised_at": where, "log": str(session.layout.run_log)} if where else {}
        )
        session.emit("stage_failed", name, message, duration_s=round(duration, 6), **fields)
        # A stage may flag bad user input (an exception with ``exit_code = 2``); a folder it
        # cannot write (read-only, no permission) is 2 as the state folder's is; all else is 1.
        code = 2 if getattr(exc, "exit_code", 1) == 2 and not isinstance(exc, OSError) else 1
        if isinstance(exc, OSError) and exc.errno in UNWRITABLE_ERRNOS:
            code = 2
        return StageOutcome("failed", message, code, duration_s=duration, cache_hit=False)
    finally:
        ctx.close()
    duration = time.perf_counter() - started
    if stop.requested and ctx.stop_seen:  # it may have returned early: its work is partial
        left = kept_work(cdir, out_paths, before, resumed=resumed)
        note = _progress_note(ctx)
        if not left.yes:  # "rerun to resume" is true of the run, not of this stage: say so
            if left.unknown:  # or that the runner cannot tell (a part of an output is unreadable)
                joiner, afresh = "; ", f"cannot tell whether {name} kept partial work: {left.why}"
            else:
                joiner, afresh = ", but ", f"{name} kept no partial work: its rerun starts over"
            note = f"{note[:-1]}{joiner}{afresh})" if note else f" ({afresh})"
        still_done = force and _still_up_to_date(session, name)  # a plain rerun skips it
        if still_done:
            note = (
                f" ({name} was forced and keeps its last completed outputs: a plain rerun skips "
                "it; rerun with --force to redo it from the start)"
            )
        return StageOutcome(
            "interrupted",
            "stop requested",
            duration_s=duration,
            cache_hit=False,
            summary=ctx.summary,
            progress=note,
            kept_work=left.value,
            checkpoint=(
                None
                if ctx.last_checkpoint is None
                else {"name": ctx.last_checkpoint[0], "step": ctx.last_checkpoint[1]}
            ),
            still_done=still_done,
        )
    if stop.requested:  # it never asked whether to stop: it ran to its end, its work is whole
        log.info("stage %s: finished its work before it looked at the stop; recorded as done", name)
    try:
        if staged:
            swap_in(cdir, named)
        missing = [o.name for o in view.outputs if not o.path.exists()]
        if missing:
            raise OutputMissing(
                f"declared output missing after the stage finished: {', '.join(missing)}"
            )
        out_scan = _record(session, name, in_scan, fp, device, duration, ctx.summary)
    except RunnerError as exc:
        return _failed(session, name, exc, duration)
    except OSError as exc:  # staged outputs could not be put in place (a full disk)
        return _failed(session, name, RunnerError(failure_message(exc)), duration)
    if session.pipeline.run_cache is not None:
        from standard_coder.runner.cachestage import store

        store(session, name, view, fp, out_scan.checksums, ctx.summary, duration)
    session.emit(
        "stage_completed",
        name,
        # "[done] train: unfinished" read as if it still was
        "finished the interrupted run's work"
        if decision.code is Reason.UNFINISHED
        else decision.reason,
        duration_s=round(duration, 6),
        summary=ctx.summary,
    )
    return StageOutcome(
        "completed",
        decision.reason,
        duration_s=duration,
        check_s=check_s,
        cache_hit=False,
        summary=ctx.summary,
        fingerprint=fp,
    )


def _record(
    session: RunSession,
    name: str,
    in_scan: Scan,
    fp: str,
    device: str | None,
    duration: float | None,
    summary: Mapping[str, Any],
    expected: Mapping[str, str] | None = None,
) -> Scan:
    """Hash the outputs now in place and write the manifest (last, atomically).

    Raises:
        RunnerError: an output cannot be read, or (``expected``) its checksum differs.
    """
    view = session.views[name]
    out_scan = scan(view.outputs, session.cache)
    if expected is not None and out_scan.checksums != dict(expected):
        raise OutputMissing("restored outputs differ from the checksums the cache recorded")
    folder_files = {k: v for k, v in in_scan.files.items() if list(v) != [""]}
    if folder_files:
        merged = dict(session.old_files(name)())
        merged.update(folder_files)
        _write_index(session.layout.input_index(name), merged)
        session.index_written(name, merged)
    doc = mf.build_manifest(
        stage=name,
        inputs=in_scan.checksums,
        inputs_checksum=in_scan.checksum,
        params=view.params,
        runner_version=RUNNER_VERSION,
        outputs=out_scan.checksums,
        outputs_checksum=out_scan.checksum,
        fingerprint=fp,
        code_version=view.code_version,
        device=device,
        input_tokens=in_scan.tokens,
        output_tokens=out_scan.tokens,
        duration_s=duration,
        summary=dict(summary),
    )
    digests = view.code_digests()
    if digests:
        _write_index(session.layout.code_index(name), digests)
    mf.write_manifest(session.layout.manifest(name), doc)
    return out_scan


def _restore(
    session: RunSession,
    name: str,
    in_scan: Scan,
    fp: str,
    device: str | None,
    check_s: float,
) -> StageOutcome | None:
    """Restore the stage's outputs from the run cache (``cache_pulled``); None: run it."""
    from standard_coder.runner.cachestage import restore

    t0 = time.perf_counter()
    pulled = restore(session, name, session.views[name], fp)
    if pulled is None:
        return None
    try:
        _record(session, name, in_scan, fp, device, None, pulled.summary, pulled.checksums)
    except RunnerError as exc:
        log.warning("stage %s: run cache: %s; running the stage", name, exc)
        session.emit("cache_corrupt", name, str(exc), source=pulled.source, fingerprint=fp)
        from standard_coder.runner.cachestage import forget

        forget(session, fp)  # the stage's run stores a good entry in its place
        return None
    reason = f"{RESTORED} ({pulled.source})"
    took = time.perf_counter() - t0
    log.info("stage %s: %s", name, reason)
    session.emit(
        "cache_pulled",
        name,
        reason,
        source=pulled.source,
        fingerprint=fp,
        pull_s=round(took, 6),
        summary=pulled.summary,
    )
    return StageOutcome(
        "skipped",
        reason,
        check_s=check_s,
        cache_hit=True,
        summary=pulled.summary,
        fingerprint=fp,
    )
