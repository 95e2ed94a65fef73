"""The run loop: lock, decide, run, record.

Call order of :func:`run_pipeline`:
    validate definitions -> select -> check upstream outputs -> take the lock -> open the hash
    cache and run state (quarantining corrupt files) -> ``run_started`` -> per selected stage in
    canonical order: read manifest -> :func:`~standard_coder.runner.decision.decide` ->
    ``stage_skipped`` or ``stage_cache_miss`` -> set aside stale partial work -> ``stage_running``
    -> ``run(ctx)`` -> check and hash outputs -> write the manifest (last, atomically) ->
    ``stage_completed`` -> ``run_completed`` (``run_failed`` after a failed stage).

The jobs live in their own modules: :mod:`~standard_coder.runner.definition` (validation, stage
views), :mod:`~standard_coder.runner.decision` (skip or run), :mod:`~standard_coder.runner.session`
(the output folder's state), :mod:`~standard_coder.runner.stagerun` (one stage, ending in a
:class:`~standard_coder.runner.outcome.StageOutcome`) and :mod:`~standard_coder.runner.runrecord`
(env stamp, retention note, report). This module is the loop.

:func:`plan_pipeline` answers the same question for ``status`` and ``--dry-run``: it writes
nothing and takes no lock.

Example:
    >>> result = run_pipeline(pipeline, stages=["train"])  # doctest: +SKIP
    >>> result.exit_code
    0
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from standard_coder.runner import records
from standard_coder.runner.decision import Decision, Reason
from standard_coder.runner.definition import validate_pipeline
from standard_coder.runner.errors import (
    CorruptStateError,
    DependencyMissing,
    InputInvalid,
    InputMissing,
    RunnerError,
    UpstreamMissing,
)
from standard_coder.runner.events import EventSink, JsonlSink, MultiSink, RunLogHandler
from standard_coder.runner.layout import RunnerLayout
from standard_coder.runner.lock import RunLock
from standard_coder.runner.outcome import StageOutcome
from standard_coder.runner.progress import ProgressDisplay
from standard_coder.runner.runrecord import RunRecord
from standard_coder.runner.runstate import (
    STARTED_BY,
    empty_state,
    live_run,
    read_run_state,
    write_run_state,
)
from standard_coder.runner.selection import select
from standard_coder.runner.session import RUNNER_VERSION, RunSession
from standard_coder.runner.stage import Pipeline
from standard_coder.runner.stagerun import run_stage
from standard_coder.runner.statwalk import drop_handed
from standard_coder.runner.stoptoken import StopToken
from standard_coder.runner.upstream import upstream_decision, upstream_explains

__all__ = [
    "RUNNER_VERSION",
    "RunResult",
    "StagePlan",
    "plan_pipeline",
    "run_pipeline",
    "validate_pipeline",
]

log = logging.getLogger("standard_coder.runner")


@dataclass(frozen=True)
class StagePlan:
    """What ``status`` / ``--dry-run`` says about one stage."""

    stage: str
    run: bool
    reason: str
    selected: bool = True
    #: what a run would continue (partial work of an interrupted run), else None
    resumes: str | None = None
    #: a declared input that does not exist (a run refuses to start, exit 2), else None
    missing_input: Path | None = None
    #: a module the stage requires that is not installed, and how to install it (a run
    #: refuses to start, exit 2), else None
    missing_package: tuple[str, str] | None = None
    #: the stage's configured input the pipeline found wrong (``Stage.bad_inputs``: a run
    #: would fail the stage naming it, exit 2), else empty
    bad_inputs: tuple[str, ...] = ()
    #: what it reads of an upstream stage left out of the selection is gone (a run refuses to
    #: start, exit 1: ``UpstreamMissing``), else None
    missing_upstream: str | None = None
    #: it would run only if what it reads changes: every upstream stage that will run is read
    #: through a key (``Stage.input_keys``) or may itself be skipped (``status``: ``may run``)
    maybe: bool = False


@dataclass
class RunResult:
    """Outcome of :func:`run_pipeline`.

    Attributes:
        exit_code: 0 ok, 1 a stage failed, 2 bad input, 130/143 interrupted (also when the
            signal came while the last selected stage ran, and it finished: ``finished``).
        run_id: the run's id (folder under ``runs/``).
        stages: per stage that was reached, its :class:`StageOutcome`.
        message: one line for the user (failure or interrupt explanation).
        finished: every selected stage finished (the run is recorded completed, nothing is
            left to resume), even with an exit code of 130/143.
    """

    exit_code: int
    run_id: str
    stages: dict[str, StageOutcome] = field(default_factory=dict)
    message: str = ""
    finished: bool = False

    @property
    def ran(self) -> int:
        """How many stages ran to completion."""
        return sum(1 for o in self.stages.values() if o.ran)

    @property
    def restored(self) -> int:  # of the stages not run: those the run cache put in place
        return sum(1 for o in self.stages.values() if o.restored)


def _upstream_missing(session: RunSession, name: str, chosen: set[str]) -> str | None:
    """Why stage ``name`` cannot run with only ``chosen`` selected: what it reads of an
    upstream stage left out of the selection is gone (None: nothing is)."""
    for dep, reads in session.views[name].reads_from.items():
        if dep in chosen:
            continue
        missing = [o.name for o in reads if not o.path.exists()]
        if missing:
            return (
                f"stage {name!r} needs the outputs of upstream stage {dep!r}, which are "
                f"missing ({', '.join(missing)}); run {dep!r} first or select it"
            )
    return None


def _check_upstream(session: RunSession, selected: Sequence[str]) -> None:
    chosen = set(selected)
    for name in selected:
        why = _upstream_missing(session, name, chosen)
        if why is not None:
            raise UpstreamMissing(why)


def _missing_input(session: RunSession, name: str) -> Path | None:
    """The first declared input of stage ``name`` that no stage makes and that does not exist."""
    made = [o.path for view in session.views.values() for o in view.outputs]
    for spec in session.views[name].inputs:
        if any(spec.path == out or out in spec.path.parents for out in made):
            continue
        if not spec.path.exists():
            return spec.path
    return None


def _check_inputs(session: RunSession, selected: Sequence[str]) -> None:
    """Every declared input of the selected stages that no stage makes exists: a missing one
    (a sprint file, a truth file) fails the run before any stage has run, not after hours of
    the stages before the one that reads it."""
    found = [(name, path) for name in selected if (path := _missing_input(session, name))]
    if found:
        raise InputMissing(f"{missing_inputs_line(found)} (checked before any stage runs)")


def missing_inputs_line(found: Sequence[tuple[str, object]]) -> str:
    """``stage 'a' reads X, which does not exist`` for the first missing input, and the others
    after it on the same line (each fixed and rerun, one at a time, was a round trip each)."""
    (name, path), rest = found[0], found[1:]
    more = "".join(f"; nor does {p} (read by stage {n!r})" for n, p in rest)
    return f"stage {name!r} reads {path}, which does not exist{more}"


def _check_invalid(session: RunSession, selected: Sequence[str]) -> None:
    """No selected stage has a configured input it cannot run with (``Stage.invalid_inputs``):
    a bad sprint file fails the run before the mine and the training, not after them."""
    for name in selected:
        for line in session.views[name].stage.invalid_inputs:
            raise InputInvalid(f"stage {name!r}: {line} (checked before any stage runs)")


def _installed(module: str) -> bool:
    """Whether ``module`` can be imported (found without importing it)."""
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken or half-removed install
        return False


def _missing_package(session: RunSession, name: str) -> tuple[str, str] | None:
    """The first module stage ``name`` requires that is not installed, with how to install it."""
    for module, how in session.views[name].stage.requires.items():
        if not _installed(module):
            return module, how
    return None


def _check_requires(session: RunSession, selected: Sequence[str]) -> None:
    """Every module a selected stage requires is installed: a missing optional dependency
    fails the run before any stage has run, not after the stages before the one that needs it."""
    for name in selected:
        missing = _missing_package(session, name)
        if missing is not None:
            module, how = missing
            raise DependencyMissing(
                f"stage {name!r} needs the module {module}, which is not installed "
                f"({how}; checked before any stage runs)"
            )


def _decide(session: RunSession, name: str, forced: bool) -> Decision:
    """Assess and settle one stage; a runner error becomes a run decision naming it."""
    try:
        found = session.assess(name, forced)
    except RunnerError as exc:
        return Decision(False, Reason.ERROR, str(exc))
    session.settle(name, found)
    return found.decision


def _fingerprint_now(session: RunSession, name: str) -> str | None:
    """The fingerprint ``name`` would run under, from its inputs as they are now (None when
    an input cannot be read). Only meaningful when no upstream stage will run first."""
    from standard_coder.runner.decision import scan
    from standard_coder.runner.fingerprint import fingerprint

    view = session.views[name]
    try:
        in_scan = scan(view.inputs, session.cache)
    except RunnerError:
        return None
    return fingerprint(
        inputs_checksum=in_scan.checksum,
        params=view.params,
        code_version=view.code_version,
        runner_version=RUNNER_VERSION,
        device=session.device() if view.stage.device_sensitive else None,
    )


def _would_restore(session: RunSession, name: str, decision: Decision, fp: str) -> Decision:
    """``would restore from cache (local|remote)`` when the run cache holds fingerprint
    ``fp`` of the stage, ``cache entry corrupt (local|remote: why)`` when it holds one that a
    restore would find corrupt (it is left as it is: a run deletes it)."""
    if session.pipeline.run_cache is None:
        return decision
    from standard_coder.runner.cachestage import lookup

    found = lookup(session, name, fp)
    if found is None:
        return decision
    where, corrupt = found
    if corrupt is not None:
        return Decision(False, Reason.CACHE_CORRUPT, f"({where}: {corrupt}): {decision.reason}")
    return Decision(False, Reason.IN_RUN_CACHE, f"({where}): {decision.reason}")


def _resume_note(session: RunSession, name: str, fp: str, live: str | None) -> str | None:
    from standard_coder.runner.partial import planned_resume

    outputs = [o.path for o in session.views[name].outputs]
    return planned_resume(session.layout, name, fp, outputs, live)


def plan_pipeline(
    pipeline: Pipeline,
    *,
    stages: Sequence[str] | None = None,
    from_stage: str | None = None,
    to_stage: str | None = None,
    force: bool = False,
    root: Path | None = None,
) -> list[StagePlan]:
    """Per stage (canonical order): would it run, and why. Writes nothing, takes no lock.

    Raises:
        PipelineDefinitionError, StageNotFound: as :func:`run_pipeline`.
    """
    validate_pipeline(pipeline)
    names = [s.name for s in pipeline.stages]
    selected = select(
        names, stages=stages, from_stage=from_stage, to_stage=to_stage, left_out=pipeline.left_out
    )
    session = RunSession(pipeline, root=root, readonly=True, sink=None)
    session.open_cache()
    plans: list[StagePlan] = []
    live = live_run(session.layout.run_state, session.base)  # a run in progress now, if any
    will_run: set[str] = set()
    may_run: set[str] = set()  # would run only if what they read changes
    try:
        for name in names:
            is_sel = name in selected
            decision = _decide(session, name, force and is_sel)
            if decision.skip or upstream_explains(session.views[name], decision, will_run):
                upstream = [d for d in session.views[name].read_deps if d in will_run]
                if upstream:
                    decision = upstream_decision(session.views[name], upstream, may_run,
                                                 decision)  # fmt: skip
            maybe = decision.code is Reason.UPSTREAM_MAY_CHANGE
            resumes = None
            known = decision.code not in (Reason.UPSTREAM_WILL_RUN, Reason.UPSTREAM_MAY_CHANGE)
            if not decision.skip and is_sel and not force and known:
                fp = _fingerprint_now(session, name)
                if fp is not None:
                    decision = _would_restore(session, name, decision, fp)
                    resumes = None if decision.skip else _resume_note(session, name, fp, live)
                    if resumes is not None and decision.code is Reason.NEW:
                        decision = Decision(False, Reason.UNFINISHED)
            if not decision.skip and is_sel:
                will_run.add(name)
                if maybe:
                    may_run.add(name)
            missing = _missing_input(session, name) if is_sel else None
            gone = _upstream_missing(session, name, set(selected)) if is_sel else None
            package = _missing_package(session, name) if is_sel else None
            stage = session.views[name].stage
            bad = (*stage.invalid_inputs, *stage.bad_inputs) if is_sel else ()
            plans.append(
                StagePlan(
                    name,
                    not decision.skip,
                    decision.reason,
                    is_sel,
                    resumes,
                    missing,
                    package,
                    bad,
                    gone,
                    maybe,
                )
            )
    finally:
        session.cache.close()
    return plans


def run_pipeline(
    pipeline: Pipeline,
    *,
    stages: Sequence[str] | None = None,
    from_stage: str | None = None,
    to_stage: str | None = None,
    force: bool = False,
    sinks: Sequence[EventSink] = (),
    root: Path | None = None,
    stop: StopToken | None = None,
    install_signals: bool = True,
    progress: ProgressDisplay | None = None,
    after_run: Callable[[RunResult], None] | None = None,
) -> RunResult:
    """Run the selected stages, skipping those whose fingerprint and outputs are unchanged.

    Args:
        pipeline: the stages and ``base_dir``.
        stages: ``--stages`` (wins over from/to; kept in canonical order).
        from_stage, to_stage: ``--from``/``--to`` (inclusive).
        force: rerun the selected stages even when up to date.
        sinks: extra event sinks (``logs/events.jsonl`` is always written).
        root: folder that input/output names are shown relative to (default: base_dir's parent).
        stop: a stop token (default: a new one, with SIGINT/SIGTERM handlers when
            ``install_signals`` and on the main thread).
        progress: the progress display (default: Rich on a TTY, plain lines otherwise).
        after_run: called with the result while the lock is still held (the no-op witness,
            :mod:`~standard_coder.runner.noopwitness`); it must not raise.

    Returns:
        A :class:`RunResult`; stage failures and interrupts are reported there, not raised.

    Raises:
        PipelineDefinitionError, StageNotFound: bad definition or selection (nothing ran).
        UpstreamMissing: a selected stage needs outputs of an unselected stage that are missing.
        InputMissing: a selected stage reads a file no stage makes, and it does not exist.
        RunLocked: another run holds ``<base_dir>/.lock``.
    """
    validate_pipeline(pipeline)
    names = [s.name for s in pipeline.stages]
    selected = select(
        names, stages=stages, from_stage=from_stage, to_stage=to_stage, left_out=pipeline.left_out
    )
    layout = RunnerLayout(Path(pipeline.base_dir))
    lock = RunLock(layout.base_dir)
    lock.acquire()
    jsonl = JsonlSink(layout.events)
    sink = MultiSink([jsonl, *sinks])
    session = RunSession(pipeline, root=root, readonly=False, sink=sink)
    handler = RunLogHandler(layout.run_log, encoding="utf-8")
    handler.setFormatter(logging.Formatter(records.RUN_LOG_FORMAT))
    top = logging.getLogger("standard_coder")
    top.addHandler(handler)
    old_level = top.level
    if top.level == logging.NOTSET or top.level > logging.INFO:
        top.setLevel(logging.INFO)
    stop = stop or StopToken()
    installed = stop.install() if install_signals else False
    display = progress or ProgressDisplay()
    try:
        _check_upstream(session, selected)
        _check_inputs(session, selected)
        _check_invalid(session, selected)
        _check_requires(session, selected)
        result = _run(session, selected, force, stop, display)
        if after_run is not None:
            after_run(result)
        return result
    finally:
        display.close()
        session.close_executors()
        if installed:
            stop.restore()
        session.cache.close()
        top.removeHandler(handler)
        top.setLevel(old_level)
        handler.close()
        sink.close()
        lock.release()


def _run(
    session: RunSession,
    selected: Sequence[str],
    force: bool,
    stop: StopToken,
    display: ProgressDisplay,
) -> RunResult:
    layout = session.layout
    run_dir = layout.run_dir(session.run_id)
    run_dir.mkdir(parents=True, exist_ok=True)
    # git status (the stamp's code version) runs beside the stat walk; the stamp is written
    # before the first stage runs, or once at the end when none does
    # the code version is the project's: the git checkout the pipeline's folder is in
    record = RunRecord(run_dir, session.pipeline, session.run_id, session.root)

    def before_stage_runs() -> None:
        drop_handed()  # the fast door's walks hold for deciding, never once a stage ran
        record.write_start()

    session.before_stage_runs = before_stage_runs
    try:
        return _run_recorded(session, selected, force, stop, display, record)
    finally:
        record.close()


def _run_recorded(
    session: RunSession,
    selected: Sequence[str],
    force: bool,
    stop: StopToken,
    display: ProgressDisplay,
    record: RunRecord,
) -> RunResult:
    layout = session.layout
    run_dir = record.run_dir
    state_path = layout.run_state
    try:
        state = read_run_state(state_path)
    except CorruptStateError as exc:
        session.quarantine(state_path, exc.reason)
        state = empty_state()
    session.open_cache()
    result = RunResult(exit_code=0, run_id=session.run_id)
    state.update(run_id=session.run_id, status="running", started=time.time())

    running: list[str] = []

    def stage_starts(name: str) -> None:
        # a SIGKILL (or a second Ctrl-C) records nothing more: the next run's [resume] line
        # must know that the progress an earlier stopped run recorded is no longer the latest
        running[:] = [name]
        kept = state["stages"].get(name)
        state["stages"][name] = {**(kept if isinstance(kept, dict) else {}),
                                 STARTED_BY: session.run_id}  # fmt: skip
        write_run_state(state_path, state)

    session.stage_starts = stage_starts

    def exits_at_once(signum: int) -> None:
        """A second signal: said as the first one's stop is, then the process exits (said
        only where the first stop was not said yet: once it was, the run is recorded)."""
        if stop.said:
            return
        name = signal.Signals(signum).name
        why = f"exited at once ({name} sent again): rerun to resume from the last checkpoint"
        session.emit("run_interrupted", running[0] if running else None, why, signal=signum,
                     at_once=True)  # fmt: skip

    stop.on_second = exits_at_once
    session.emit(
        "run_started",
        reason=f"{len(selected)} stage(s) selected",
        pipeline=session.pipeline.name,
        stages=list(selected),
    )
    log.info("%s", records.started_message(session.run_id, selected))
    from standard_coder.runner.runrecord import executor_record

    where = executor_record(session.pipeline)
    log.info("%s", records.executor_message(records.executor_text(where)))

    _warn_stale_upstream(session, selected)
    for i, name in enumerate(selected):
        outcome = run_stage(session, name, force, stop, display, run_dir)
        running.clear()  # between stages a second signal names none
        state["stages"][name] = {**outcome.record(), "run_id": session.run_id}
        result.stages[name] = outcome
        if outcome.status == "completed":
            write_run_state(state_path, state)
        if outcome.status == "failed":
            result.exit_code = outcome.exit_code or 1
            result.message = f"stage '{name}' failed: {outcome.reason}"
            break
        # a stop that came while the last stage ran to its end leaves nothing to resume
        if outcome.status == "interrupted" or (stop.requested and name != selected[-1]):
            signum = stop.signum or 2
            result.exit_code = 128 + signum
            # "resume" promises the stage's work back: not of one that kept none (its note says)
            again = ": rerun to resume" if outcome.kept_work is not False else ": rerun to go on"
            again = "" if outcome.still_done else again
            result.message = f"interrupted{again}{outcome.progress}"
            stopped_at = name
            if outcome.status != "interrupted":  # it ran to its end: the next one is stopped
                stopped_at = selected[i + 1]
                result.message += f" ({stopped_at} not started; {name} is done)"
            session.emit("run_interrupted", stopped_at, result.message, signal=signum)
            stop.said = True  # a second signal now exits without a second [STOP] line
            break
    status = {0: "completed", 1: "failed"}.get(result.exit_code, "interrupted")
    if result.exit_code not in (0, 1, 130, 143) and result.exit_code < 128:
        status = "failed"
    state["status"] = status
    state["finished"] = time.time()
    # A run that completed without running a stage (a no-op rerun) records itself atomically
    # but without fsync (4 flushes, ~10 % of a no-op on a busy disk): after a power cut its
    # record may be missing (the run state then reads as the previous one, or is quarantined
    # as corrupt and started afresh); the manifests that decide skips are always durable.
    durable = not (result.exit_code == 0 and result.ran == 0)
    write_run_state(state_path, state, durable=durable)
    if result.exit_code == 0:
        done = result.ran
        session.emit("run_completed", reason=f"{done} ran, {len(selected) - done} skipped")
    elif status == "failed":  # the log ends as the run did (the console said [FAIL] already)
        failed = next((n for n, o in result.stages.items() if o.status == "failed"), None)
        session.emit("run_failed", failed, result.message, exit_code=result.exit_code)
    record.finish(
        status=status,
        stage_fingerprints={n: o.fingerprint for n, o in result.stages.items()},
        device_kind=session.device.value,
        device_label=session.device.name(),  # a cached GPU name: no torch import on a no-op
        ran=result.ran,
        durable=durable,
    )
    result.finished = result.exit_code == 0
    if result.finished and stop.requested:
        # the work is done, but whoever sent the signal (Ctrl-C in a shell loop, a scheduler)
        # asked the process to stop: it exits as a stopped one does, so the caller stops too
        signum = stop.signum or 2
        result.exit_code = 128 + signum
        result.message = (
            f"stopped by {signal.Signals(signum).name} while the last selected stage ran; "
            "it finished, so nothing is left to resume"
        )
    return result


def _warn_stale_upstream(session: RunSession, selected: Sequence[str]) -> None:
    """Emit ``upstream_stale`` for selected stages fed by unselected stages that would rerun."""
    chosen = set(selected)
    stale: dict[str, str] = {}
    for name in session.views:
        read_deps = session.views[name].read_deps  # a dep it reads nothing of cannot stale it
        if name in chosen:
            for dep in read_deps:
                if dep in stale:
                    message = f"upstream '{dep}' is stale ({stale[dep]}); using its current outputs"
                    log.info("stage %s: %s", name, message)  # the event is the [warn] line
                    session.emit("upstream_stale", name, message, upstream=dep)
            continue
        inherited = [d for d in read_deps if d in stale]
        if inherited:
            stale[name] = f"upstream '{inherited[0]}' is stale"
            continue
        if not any(name in session.views[s].read_deps for s in session.views):
            continue
        decision = _decide(session, name, False)
        if not decision.skip:
            stale[name] = decision.reason
