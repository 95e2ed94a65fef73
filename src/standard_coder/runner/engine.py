"""The run loop: lock, decide, run, record.

Call order of :func:`run_pipeline`:
    validate definitions -> select -> check upstream outputs -> take the lock -> open the hash
    cache and run state (quarantining corrupt files) -> ``run_started`` -> per selected stage in
    canonical order: read manifest -> :func:`~standard_coder.runner.decision.decide` ->
    ``stage_skipped`` or ``stage_cache_miss`` -> set aside stale partial work -> ``stage_running``
    -> ``run(ctx)`` -> check and hash outputs -> write the manifest (last, atomically) ->
    ``stage_completed`` -> ``run_completed``.

:func:`plan_pipeline` answers the same question for ``status`` and ``--dry-run``: it writes
nothing and takes no lock.

Example:
    >>> result = run_pipeline(pipeline, stages=["train"])  # doctest: +SKIP
    >>> result.exit_code
    0
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from standard_coder import __version__
from standard_coder.runner import manifest as mf
from standard_coder.runner.atomic import atomic_write_text
from standard_coder.runner.command import CommandStage
from standard_coder.runner.decision import Decision, PathSpec, Scan, decide, scan
from standard_coder.runner.engine_context import RunContext
from standard_coder.runner.errors import (
    CorruptStateError,
    OutputMissing,
    PipelineDefinitionError,
    RunInterrupted,
    RunnerError,
    UpstreamMissing,
)
from standard_coder.runner.events import EventSink, JsonlSink, MultiSink
from standard_coder.runner.fingerprint import code_version as hash_code
from standard_coder.runner.fingerprint import fingerprint as make_fingerprint
from standard_coder.runner.hashcache import DictHashCache, HashCache, SqliteHashCache
from standard_coder.runner.lock import RunLock
from standard_coder.runner.progress import ProgressDisplay
from standard_coder.runner.runstate import empty_state, read_run_state, write_run_state
from standard_coder.runner.selection import select
from standard_coder.runner.stage import Pipeline, Stage
from standard_coder.runner.stoptoken import StopToken

log = logging.getLogger("standard_coder.runner")

RUNNER_VERSION = __version__
_NAME_OK = set("abcdefghijklmnopqrstuvwxyz0123456789_-")


@dataclass(frozen=True)
class StagePlan:
    """What ``status`` / ``--dry-run`` says about one stage."""

    stage: str
    run: bool
    reason: str
    selected: bool = True


@dataclass
class RunResult:
    """Outcome of :func:`run_pipeline`.

    Attributes:
        exit_code: 0 ok, 1 a stage failed, 2 bad input, 130/143 interrupted.
        run_id: the run's id (folder under ``runs/``).
        stages: per stage ``{"status", "reason", "duration_s", "cache_hit", ...}``.
        message: one line for the user (failure or interrupt explanation).
    """

    exit_code: int
    run_id: str
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    message: str = ""


# ---------------------------------------------------------------- definitions and paths


def validate_pipeline(pipeline: Pipeline) -> None:
    """Check names, dependencies and canonical order.

    Raises:
        PipelineDefinitionError: bad or duplicate name, unknown dep, or a dep listed later.
    """
    seen: set[str] = set()
    outputs: dict[Path, str] = {}
    for stage in pipeline.stages:
        if not stage.name or not set(stage.name) <= _NAME_OK:
            raise PipelineDefinitionError(
                f"stage {stage.name!r}: name must use only a-z, 0-9, '_' and '-'"
            )
        if stage.name in seen:
            raise PipelineDefinitionError(f"stage {stage.name!r}: duplicate stage name")
        for dep in stage.deps:
            if dep not in seen:
                where = (
                    "unknown stage"
                    if dep not in {s.name for s in pipeline.stages}
                    else ("listed after it (cycle or wrong order)")
                )
                raise PipelineDefinitionError(f"stage {stage.name!r}: dep {dep!r} is {where}")
        for out in stage.outputs:
            other = outputs.get(Path(out))
            if other is not None:
                raise PipelineDefinitionError(
                    f"stage {stage.name!r}: output {out} is also an output of stage {other!r}"
                )
            outputs[Path(out)] = stage.name
        seen.add(stage.name)


def _display(path: Path, root: Path) -> str:
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return str(path)


class _StageView:
    """A stage's resolved inputs, outputs, code version and params."""

    def __init__(self, stage: Stage, pipeline: Pipeline, root: Path) -> None:
        by_name = {s.name: s for s in pipeline.stages}
        self.stage = stage
        ins: dict[str, PathSpec] = {}
        for dep in stage.deps:
            for out in by_name[dep].outputs:
                ins[_display(out, root)] = PathSpec(_display(out, root), Path(out))
        for path in stage.inputs:
            ins[_display(path, root)] = PathSpec(_display(path, root), Path(path))
        for repo in stage.git_inputs:
            name = "git:" + _display(repo, root)
            ins[name] = PathSpec(name, Path(repo), git=True)
        self.inputs = [ins[k] for k in sorted(ins)]
        self.outputs = [PathSpec(_display(p, root), Path(p)) for p in stage.outputs]
        self.params = json.loads(json.dumps(dict(stage.params), default=str))
        self._code: str | None = None

    @property
    def code_version(self) -> str:
        if self._code is None:
            stage = self.stage
            if stage.version is not None:
                self._code = stage.version
            else:
                files = stage.code_files
                if files is None:
                    module = sys.modules.get(getattr(stage.run, "__module__", "") or "")
                    source = getattr(module, "__file__", None)
                    files = [Path(source)] if source else []
                self._code = hash_code(files)
        return self._code


class _Device:
    def __init__(self, preference: str) -> None:
        self.preference = preference
        self.value: str | None = None
        self.fallback: str | None = None

    def __call__(self) -> str:
        if self.value is None:
            try:
                from standard_coder.runner.device import resolve_device
            except ImportError:
                self.value = "cpu" if self.preference == "auto" else self.preference
            else:
                self.value, self.fallback = resolve_device(self.preference)
                if self.fallback:
                    log.warning("device: %s", self.fallback)
        return self.value


def _new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + os.urandom(3).hex()


# ---------------------------------------------------------------- the engine


class _Engine:
    def __init__(
        self,
        pipeline: Pipeline,
        *,
        root: Path | None,
        readonly: bool,
        sink: EventSink | None,
    ) -> None:
        self.pipeline = pipeline
        self.base = Path(pipeline.base_dir)
        self.root = Path(root) if root is not None else self.base.parent
        self.readonly = readonly
        self.sink = sink
        self.run_id = _new_run_id()
        self.views = {s.name: _StageView(s, pipeline, self.root) for s in pipeline.stages}
        self.device = _Device(pipeline.device)
        self.cache: HashCache = DictHashCache()

    # -- events and bad state
    def emit(self, event: str, stage: str | None = None, reason: str = "", **fields: Any) -> None:
        if self.sink is None:
            return
        record = {
            "ts": time.time(),
            "run_id": self.run_id,
            "event": event,
            "stage": stage,
            "reason": reason,
        }
        record.update(fields)
        self.sink.emit(record)

    def quarantine(self, path: Path, reason: str, stage: str | None = None) -> None:
        """Move a corrupt file aside (unless read-only) and report it."""
        log.warning("corrupt state: %s: %s", path, reason)
        if self.readonly:
            return
        from standard_coder.runner.quarantine import quarantine

        target = quarantine(path, self.base / "quarantine")
        self.emit("state_corrupt", stage, reason, path=str(path), moved_to=str(target))

    def open_cache(self) -> None:
        path = self.base / "cache" / "hashcache.sqlite"
        try:
            self.cache = SqliteHashCache(path, readonly=self.readonly)
        except CorruptStateError as exc:
            self.quarantine(path, exc.reason)
            self.cache = SqliteHashCache(path, readonly=self.readonly)

    def read_manifest(self, name: str) -> tuple[dict[str, Any] | None, str | None]:
        path = mf.manifest_path(self.base, name)
        try:
            return mf.read_manifest(path), None
        except CorruptStateError as exc:
            self.quarantine(path, exc.reason, name)
            return None, "manifest corrupt"

    def old_files(self, name: str) -> Callable[[], Mapping[str, Mapping[str, str]]]:
        def load() -> Mapping[str, Mapping[str, str]]:
            try:
                data = json.loads((self.base / "stages" / name / "input_files.json").read_bytes())
                return data if isinstance(data, dict) else {}
            except (OSError, ValueError):
                return {}

        return load

    def assess(self, name: str, forced: bool) -> tuple[Decision, Scan | None, Scan | None]:
        view = self.views[name]
        manifest, problem = self.read_manifest(name)
        device = self.device() if view.stage.device_sensitive else None
        decision, in_scan, out_scan = decide(
            manifest,
            forced=forced,
            params=view.params,
            code_version=view.code_version,
            runner_version=RUNNER_VERSION,
            device=device,
            inputs=view.inputs,
            outputs=view.outputs,
            cache=self.cache,
            old_files=self.old_files(name),
        )
        if problem and not decision.skip and decision.reason == "new":
            decision = Decision(False, problem)
        if (
            decision.skip
            and manifest is not None
            and not self.readonly
            and ((in_scan and in_scan.changed_stat) or (out_scan and out_scan.changed_stat))
        ):
            manifest[mf.INPUT_TOKENS] = in_scan.tokens if in_scan else {}
            manifest[mf.OUTPUT_TOKENS] = out_scan.tokens if out_scan else {}
            manifest[mf.LAST_CHECKED_TS] = time.time()
            mf.write_manifest(mf.manifest_path(self.base, name), manifest)
        return decision, in_scan, out_scan


def _check_upstream(engine: _Engine, selected: Sequence[str]) -> None:
    chosen = set(selected)
    for name in selected:
        for dep in engine.views[name].stage.deps:
            if dep in chosen:
                continue
            missing = [o.name for o in engine.views[dep].outputs if not o.path.exists()]
            if missing:
                raise UpstreamMissing(
                    f"stage {name!r} needs the outputs of upstream stage {dep!r}, which are "
                    f"missing ({', '.join(missing)}); run {dep!r} first or select it"
                )


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
    selected = select(names, stages=stages, from_stage=from_stage, to_stage=to_stage)
    engine = _Engine(pipeline, root=root, readonly=True, sink=None)
    engine.open_cache()
    plans: list[StagePlan] = []
    will_run: set[str] = set()
    try:
        for name in names:
            is_sel = name in selected
            try:
                decision, _, _ = engine.assess(name, force and is_sel)
            except RunnerError as exc:
                decision = Decision(False, str(exc))
            if decision.skip:
                upstream = [d for d in engine.views[name].stage.deps if d in will_run]
                if upstream:
                    decision = Decision(False, f"upstream will run: {', '.join(upstream)}")
            if not decision.skip and is_sel:
                will_run.add(name)
            plans.append(StagePlan(name, not decision.skip, decision.reason, is_sel))
    finally:
        engine.cache.close()
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

    Returns:
        A :class:`RunResult`; stage failures and interrupts are reported there, not raised.

    Raises:
        PipelineDefinitionError, StageNotFound: bad definition or selection (nothing ran).
        UpstreamMissing: a selected stage needs outputs of an unselected stage that are missing.
        RunLocked: another run holds ``<base_dir>/.lock``.
    """
    validate_pipeline(pipeline)
    names = [s.name for s in pipeline.stages]
    selected = select(names, stages=stages, from_stage=from_stage, to_stage=to_stage)
    base = Path(pipeline.base_dir)
    lock = RunLock(base)
    lock.acquire()
    jsonl = JsonlSink(base / "logs" / "events.jsonl")
    sink = MultiSink([jsonl, *sinks])
    engine = _Engine(pipeline, root=root, readonly=False, sink=sink)
    handler = logging.FileHandler(base / "logs" / "run.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    top = logging.getLogger("standard_coder")
    top.addHandler(handler)
    old_level = top.level
    if top.level == logging.NOTSET or top.level > logging.INFO:
        top.setLevel(logging.INFO)
    stop = stop or StopToken()
    installed = stop.install() if install_signals else False
    display = progress or ProgressDisplay()
    try:
        _check_upstream(engine, selected)
        return _run(engine, selected, force, stop, display)
    finally:
        display.close()
        if installed:
            stop.restore()
        engine.cache.close()
        top.removeHandler(handler)
        top.setLevel(old_level)
        handler.close()
        sink.close()
        lock.release()


def _run(
    engine: _Engine,
    selected: Sequence[str],
    force: bool,
    stop: StopToken,
    display: ProgressDisplay,
) -> RunResult:
    base = engine.base
    run_dir = base / "runs" / engine.run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    from standard_coder.runner.runrecord import finish_run_record, start_run_record

    start_run_record(run_dir, engine.pipeline, engine.run_id)
    state_path = base / "checkpoints" / "run_state.json"
    try:
        state = read_run_state(state_path)
    except CorruptStateError as exc:
        engine.quarantine(state_path, exc.reason)
        state = empty_state()
    engine.open_cache()
    result = RunResult(exit_code=0, run_id=engine.run_id)
    state.update(run_id=engine.run_id, status="running", started=time.time())
    engine.emit(
        "run_started",
        reason=f"{len(selected)} stage(s) selected",
        pipeline=engine.pipeline.name,
        stages=list(selected),
    )
    log.info("run %s started: %s", engine.run_id, ", ".join(selected))

    _warn_stale_upstream(engine, selected)
    for name in selected:
        record = _run_stage(engine, name, force, stop, display, run_dir)
        record["run_id"] = engine.run_id
        state["stages"][name] = record
        result.stages[name] = record
        if record["status"] in ("completed",):
            write_run_state(state_path, state)
        if record["status"] == "failed":
            result.exit_code = int(record.pop("exit_code", 1))
            result.message = f"stage '{name}' failed: {record['reason']}"
            break
        if record["status"] == "interrupted" or stop.requested:
            signum = stop.signum or 2
            result.exit_code = 128 + signum
            result.message = f"interrupted: rerun to resume{record.get('progress', '')}"
            engine.emit("run_interrupted", name, result.message, signal=signum)
            break
    status = {0: "completed", 1: "failed"}.get(result.exit_code, "interrupted")
    if result.exit_code not in (0, 1, 130, 143) and result.exit_code < 128:
        status = "failed"
    state["status"] = status
    state["finished"] = time.time()
    write_run_state(state_path, state)
    if result.exit_code == 0:
        done = sum(1 for r in result.stages.values() if r["status"] == "completed")
        engine.emit("run_completed", reason=f"{done} ran, {len(selected) - done} skipped")
    finish_run_record(
        run_dir,
        engine.pipeline,
        status=status,
        stage_fingerprints={n: r.get("fingerprint") for n, r in result.stages.items()},
        device_kind=engine.device.value,
    )
    return result


def _warn_stale_upstream(engine: _Engine, selected: Sequence[str]) -> None:
    """Emit ``upstream_stale`` for selected stages fed by unselected stages that would rerun."""
    chosen = set(selected)
    stale: dict[str, str] = {}
    for name in engine.views:
        stage = engine.views[name].stage
        if name in chosen:
            for dep in stage.deps:
                if dep in stale:
                    message = f"upstream '{dep}' is stale ({stale[dep]}); using its current outputs"
                    log.warning("stage %s: %s", name, message)
                    engine.emit("upstream_stale", name, message, upstream=dep)
            continue
        inherited = [d for d in stage.deps if d in stale]
        if inherited:
            stale[name] = f"upstream '{inherited[0]}' is stale"
            continue
        if not any(name in engine.views[s].stage.deps for s in engine.views):
            continue
        try:
            decision, _, _ = engine.assess(name, False)
        except RunnerError as exc:
            decision = Decision(False, str(exc))
        if not decision.skip:
            stale[name] = decision.reason


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
    done, total = ctx.summary.get("done"), ctx.summary.get("total")
    if done is None and ctx.last_task is not None:
        done, total = ctx.last_task.completed, ctx.last_task.total
    if done is None:
        return ""
    return f" ({done}/{total} items done)" if total is not None else f" ({done} items done)"


def _prepare_partial(engine: _Engine, name: str, fp: str) -> Path:
    """``checkpoints/<stage>/`` for this fingerprint; partial work of another one is set aside."""
    cdir = engine.base / "checkpoints" / name
    marker = cdir / "FINGERPRINT"
    try:
        old: str | None = marker.read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        old = None
    has_work = cdir.is_dir() and any(p.name != "FINGERPRINT" for p in cdir.iterdir())
    if has_work and old != fp:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        label = old[:12] if old else "unknown"
        target = engine.base / "checkpoints" / "stale" / f"{name}-{label}-{stamp}"
        target.parent.mkdir(parents=True, exist_ok=True)
        import shutil

        shutil.move(str(cdir), str(target))
        reason = "fingerprint changed" if old else "no fingerprint recorded"
        engine.emit("partial_work_stale", name, reason, moved_to=str(target))
        log.info("stage %s: stale partial work moved to %s", name, target)
    cdir.mkdir(parents=True, exist_ok=True)
    if old != fp:
        atomic_write_text(marker, fp + "\n")
    return cdir


def _run_stage(
    engine: _Engine,
    name: str,
    force: bool,
    stop: StopToken,
    display: ProgressDisplay,
    run_dir: Path,
) -> dict[str, Any]:
    view = engine.views[name]
    t0 = time.perf_counter()
    try:
        decision, in_scan, _ = engine.assess(name, force)
    except RunnerError as exc:
        engine.emit("stage_failed", name, str(exc))
        return {"status": "failed", "reason": str(exc), "exit_code": exc.exit_code}
    check_s = time.perf_counter() - t0
    if decision.skip:
        kept = mf.read_manifest(mf.manifest_path(engine.base, name)) or {}
        kept_fp = kept.get(mf.FINGERPRINT)
        engine.emit(
            "stage_skipped", name, decision.reason, check_s=round(check_s, 6), fingerprint=kept_fp
        )
        return {
            "status": "skipped",
            "reason": decision.reason,
            "cache_hit": True,
            "check_s": check_s,
            "fingerprint": kept_fp,
        }
    engine.emit("stage_cache_miss", name, decision.reason)
    log.info("stage %s: running (%s)", name, decision.reason)
    try:
        if in_scan is None or set(in_scan.checksums) != {i.name for i in view.inputs}:
            in_scan = scan(view.inputs, engine.cache)
    except RunnerError as exc:
        engine.emit("stage_failed", name, str(exc))
        return {"status": "failed", "reason": str(exc), "exit_code": exc.exit_code}
    device = engine.device() if view.stage.device_sensitive else None
    fp = make_fingerprint(
        inputs_checksum=in_scan.checksum,
        params=view.params,
        code_version=view.code_version,
        runner_version=RUNNER_VERSION,
        device=device,
    )
    cdir = _prepare_partial(engine, name, fp)

    def emit(event: str, **fields: Any) -> None:
        reason = str(fields.pop("reason", ""))
        engine.emit(event, name, reason, **fields)

    ctx = RunContext(
        run_id=engine.run_id,
        stage=name,
        base_dir=engine.base,
        run_dir=run_dir,
        checkpoint_dir=cdir,
        params=view.params,
        seed=engine.pipeline.seed,
        fingerprint=fp,
        workers=engine.pipeline.workers,
        stop=stop,
        emit=emit,
        progress=display,
        device=engine.device,
        on_corrupt=lambda path, reason: engine.quarantine(path, reason, name),
    )
    if not isinstance(view.stage.run, CommandStage):
        _seed(engine.pipeline.seed)
    engine.emit("stage_running", name, decision.reason, fingerprint=fp)
    started = time.perf_counter()
    try:
        view.stage.run(ctx)  # type: ignore[arg-type]
    except RunInterrupted as exc:
        stop.request(exc.signum)
    except KeyboardInterrupt:
        stop.request(2)
    except Exception as exc:
        duration = time.perf_counter() - started
        message = f"{type(exc).__name__}: {exc}"
        log.error("stage %s failed: %s", name, message, exc_info=True)
        engine.emit("stage_failed", name, message, duration_s=round(duration, 6))
        # A stage may flag bad user input (an exception with ``exit_code = 2``); all else is 1.
        code = 2 if getattr(exc, "exit_code", 1) == 2 else 1
        return {
            "status": "failed",
            "reason": message,
            "duration_s": duration,
            "exit_code": code,
            "cache_hit": False,
        }
    finally:
        ctx.close()
    duration = time.perf_counter() - started
    if stop.requested:
        note = _progress_note(ctx)
        return {
            "status": "interrupted",
            "reason": "stop requested",
            "duration_s": duration,
            "progress": note,
            "summary": ctx.summary,
            "cache_hit": False,
        }
    try:
        missing = [o.name for o in view.outputs if not o.path.exists()]
        if missing:
            raise OutputMissing(
                f"declared output missing after the stage finished: {', '.join(missing)}"
            )
        out_scan = scan(view.outputs, engine.cache)
    except RunnerError as exc:
        engine.emit("stage_failed", name, str(exc), duration_s=round(duration, 6))
        return {
            "status": "failed",
            "reason": str(exc),
            "duration_s": duration,
            "exit_code": 1,
            "cache_hit": False,
        }
    folder_files = {k: v for k, v in in_scan.files.items() if list(v) != [""]}
    if folder_files:
        merged = dict(engine.old_files(name)())
        merged.update(folder_files)
        _write_index(engine.base / "stages" / name / "input_files.json", merged)
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
        summary=ctx.summary,
    )
    mf.write_manifest(mf.manifest_path(engine.base, name), doc)
    engine.emit(
        "stage_completed", name, decision.reason, duration_s=round(duration, 6), summary=ctx.summary
    )
    return {
        "status": "completed",
        "reason": decision.reason,
        "duration_s": duration,
        "check_s": check_s,
        "cache_hit": False,
        "summary": ctx.summary,
        "fingerprint": fp,
    }
