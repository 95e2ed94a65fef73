"""The runner's command-line front door, free of Typer (so a no-op rerun starts fast).

``standard_coder.cli.pipeline`` registers these as Typer commands; :func:`main` is the same
behaviour behind ``argparse`` for a fast path that never imports Typer (and so pydantic):

    >>> from standard_coder.pipelines import BUILTINS  # doctest: +SKIP
    >>> raise SystemExit(main(["pipeline", "--config", "pipe.toml"], BUILTINS))  # doctest: +SKIP

Exit codes: 0 ok, 1 a stage failed, 2 bad input or usage, 3 output folder locked,
130/143 interrupted. User errors print ``error: ...`` and never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from standard_coder.runner.errors import PipelineDefinitionError, RunnerError
from standard_coder.runner.stage import Pipeline
from standard_coder.runner.tomlfile import read_toml


class UsageError(RunnerError):
    """Bad command-line usage or an unreadable config file."""


def load_pipeline(
    config: Path,
    overrides: Sequence[str],
    builtins: Mapping[str, str],
    *,
    executor: str | None = None,
) -> tuple[Pipeline, Path]:
    """The pipeline a config file describes (with its ``[runner] executor`` and ``[cache]``,
    :mod:`~standard_coder.runner.scaleout`; ``executor`` is ``--executor``), and its folder.

    Raises:
        RunnerError: bad pipeline file, entry, executor or cache setting.
        ValueError: (``ConfigError``) a builder rejected the config or an override.
    """
    config = Path(config).expanduser().resolve()
    data = read_toml(config, UsageError)
    pipe, root = _load_pipeline(config, overrides, builtins, data)
    from standard_coder.runner.overrides import OverrideError, apply_overrides
    from standard_coder.runner.scaleout import apply_scale_out

    if overrides:  # in place: never on the table the pipeline was built from
        import copy

        with contextlib.suppress(OverrideError):
            data = apply_overrides(copy.deepcopy(data), list(overrides))
    return apply_scale_out(pipe, data, config, executor=executor), root


SHARED_TABLES = frozenset({"pipeline", "outputs", "runner", "cache", "dask"})
"""Config tables every pipeline reads: a file of these alone describes no pipeline of its own."""


def _load_pipeline(
    config: Path, overrides: Sequence[str], builtins: Mapping[str, str], data: dict[str, Any]
) -> tuple[Pipeline, Path]:
    """The pipeline a config file describes, and the folder its paths are relative to.

    A file with ``[[stages]]`` is a command pipeline; ``[pipeline] entry`` loads a Python
    pipeline; otherwise ``[pipeline] name`` (default ``sch``) picks one of ``builtins``
    (``name -> "module:builder"``). ``data`` is the file's TOML, read once by the caller.

    Raises:
        RunnerError: bad pipeline file or entry.
        ValueError: (``ConfigError``) a builder rejected the config or an override.
    """
    root = config.parent
    from standard_coder.runner.commandfile import is_command_pipeline, load_command_pipeline

    if is_command_pipeline(data):
        return load_command_pipeline(data, config, overrides), root
    from standard_coder.runner.entry import build_from_object, load_object

    section = data.get("pipeline", {})
    section = section if isinstance(section, dict) else {}
    spec = section.get("entry")
    if isinstance(spec, str) and spec:
        obj = load_object(spec, root)
        return build_from_object(obj, spec, config, overrides), root
    name = str(section.get("name", "sch"))
    if "name" not in section and not set(data) - SHARED_TABLES:
        # an empty file, or one of [outputs] alone: a command pipeline's [[stages]] forgotten?
        logging.getLogger("standard_coder.runner").warning(
            "%s names no pipeline ([pipeline] name or entry, or [[stages]]) and sets none of "
            "its own tables: running the built-in %r with its defaults",
            config,
            name,
        )
    target = builtins.get(name)
    if target is None:
        raise PipelineDefinitionError(
            f"{config}: pipeline.name: unknown built-in {name!r} "
            f"(valid: {', '.join(sorted(builtins))}); or give [pipeline] entry or [[stages]]"
        )
    try:
        obj = load_object(target, root)
    except PipelineDefinitionError:
        raise PipelineDefinitionError(
            f"{config}: built-in pipeline {name!r} is not available in this version "
            f"(module {target.split(':', 1)[0]} not found)"
        ) from None
    return build_from_object(obj, target, config, overrides), root


_SHORT_LEVELS = {logging.WARNING: "warning", logging.ERROR: "error", logging.CRITICAL: "error"}
"""How the console names a logged record's level below debug (other levels keep the format)."""


class _Formatter(logging.Formatter):
    """Console lines; tracebacks only at ``--log-level debug`` (run.log always has them).

    Below debug, a warning or an error reads as the CLI's own lines do, ``warning: ...`` /
    ``error: ...``, not ``WARNING standard_coder.runner.x: ...``: a logger's name is for whoever
    debugs (``--log-level debug`` and ``logs/run.log`` keep it)."""

    def __init__(self, fmt: str, level: int) -> None:
        super().__init__(fmt)
        self.level = level

    def format(self, record: logging.LogRecord) -> str:
        if self.level <= logging.DEBUG:
            return super().format(record)
        if record.exc_info:
            record = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None})
        short = _SHORT_LEVELS.get(record.levelno)
        if short is None:
            return super().format(record)
        return f"{short}: {record.getMessage()}"


def setup_logging(level: str) -> logging.Handler:
    """Console logging at ``level`` on stderr (warnings and up unless debug); the handler."""
    numeric = getattr(logging, level.upper(), None)
    if not isinstance(numeric, int):
        raise UsageError(f"--log-level {level!r}: expected debug, info, warning or error")
    top = logging.getLogger("standard_coder")
    top.setLevel(min(numeric, logging.INFO))
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(numeric if numeric <= logging.DEBUG else max(numeric, logging.WARNING))
    handler.setFormatter(_Formatter("%(levelname)s %(name)s: %(message)s", numeric))
    if numeric > logging.DEBUG:  # a stage failure is shown once, by the [FAIL] event line
        handler.addFilter(lambda record: getattr(record, "on_console", True))
    top.addHandler(handler)
    return handler


def _error(message: str, code: int) -> int:
    sys.stderr.write(f"error: {message}\n")
    return code


def _guard(fn: Any, *args: Any, **kwargs: Any) -> int:
    try:
        return int(fn(*args, **kwargs))
    except RunnerError as exc:
        return _error(str(exc), exc.exit_code)
    except ValueError as exc:  # ConfigError from a builder or an override
        return _error(str(exc), 2)
    except BrokenPipeError:  # the reader of stdout went away (| head): the caller's to end
        raise
    except OSError as exc:  # a full disk, a read-only folder, a file where a folder must be
        from standard_coder.runner.fserrors import describe, exit_code_for

        return _error(describe(exc), exit_code_for(exc.errno))


def split_stages(stages: str | None) -> list[str] | None:
    """``"a, b"`` -> ``["a", "b"]``; empty -> None."""
    if not stages:
        return None
    return [s.strip() for s in stages.split(",") if s.strip()]


def print_plan(plans: Sequence[Any], as_json: bool, running: str | None = None) -> int:
    """Print ``status`` / ``--dry-run`` rows (a table, or JSON ``{"stages": [...]}``), after
    ``running`` (the holder of the output folder's lock: a run in progress) when given; 2 when
    a selected stage's declared input is missing or a package it requires is not installed
    (``pipeline`` would refuse: exit 2), or its configured input is bad (``Stage.bad_inputs``:
    ``pipeline`` would fail the stage), else 0."""
    if as_json:
        rows = [
            {
                "stage": p.stage,
                "run": p.run,
                "reason": p.reason,
                "selected": p.selected,
                "resumes": p.resumes,
                "missing_input": _missing(p),
                "missing_package": next(iter(_package(p) or ()), None),
                "bad_inputs": list(_bad(p)),
                "missing_upstream": getattr(p, "missing_upstream", None),
                "maybe": bool(getattr(p, "maybe", False)),
            }
            for p in plans
        ]
        doc: dict[str, Any] = {"stages": rows}
        if running is not None:
            doc["run_in_progress"] = running
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return _refused(plans)
    if running is not None:
        sys.stdout.write(
            f"a run is in progress ({running}): these rows are as of now, and it may be "
            "running them\n"
        )
    width = max((len(p.stage) for p in plans), default=5)
    for p in plans:
        what = "would run" if p.run else "skip"
        if p.run and getattr(p, "maybe", False):
            what = "may run"
        if p.run and not p.selected:
            what = "stale"
        reason = p.reason
        if getattr(p, "missing_upstream", None):
            what, reason = "cannot run", str(p.missing_upstream)
        elif _missing(p):
            what, reason = "cannot run", f"input missing: {_missing(p)}"
        elif package := _package(p):
            what, reason = "cannot run", f"missing package {package[0]} ({package[1]})"
        elif _bad(p):
            what, reason = "cannot run", "; ".join(_bad(p))
        mark = "" if p.selected else "  (not selected)"
        more = f"; {p.resumes}" if p.resumes else ""
        sys.stdout.write(f"{p.stage:<{width}}  {what:<10}  {reason}{more}{mark}\n")
    return _refused(plans)


def _missing(plan: Any) -> str | None:
    missing = getattr(plan, "missing_input", None)
    return None if missing is None else str(missing)


def _package(plan: Any) -> tuple[str, str] | None:
    package = getattr(plan, "missing_package", None)
    return None if package is None else (str(package[0]), str(package[1]))


def _bad(plan: Any) -> tuple[str, ...]:
    return tuple(str(b) for b in getattr(plan, "bad_inputs", ()))


def _refused(plans: Sequence[Any]) -> int:
    """2 (as ``pipeline`` exits) when a selected stage's input is missing, a package it
    requires is not installed, or its configured input is bad, with one line (the first such
    stage's); 1 where what a stage reads of an unselected upstream stage is gone (pipeline
    refuses to start with 1, ``UpstreamMissing``)."""
    for p in plans:  # pipeline checks the upstream outputs first, then every input, as here
        if getattr(p, "missing_upstream", None):
            sys.stderr.write(f"error: {p.missing_upstream}: pipeline would refuse to start\n")
            return 1
    from standard_coder.runner.engine import missing_inputs_line

    found = [(p.stage, _missing(p)) for p in plans if _missing(p)]
    if found:
        sys.stderr.write(f"error: {missing_inputs_line(found)}: pipeline would refuse to start\n")
        return 2
    for p in plans:
        if package := _package(p):
            sys.stderr.write(
                f"error: stage {p.stage!r} needs the module {package[0]}, which is not "
                f"installed ({package[1]}): pipeline would refuse to start\n"
            )
            return 2
    for p in plans:  # a run starts, and fails the stage on these
        if _bad(p):
            sys.stderr.write(
                f"error: stage {p.stage!r} cannot run: {'; '.join(_bad(p))}: pipeline would "
                "fail it\n"
            )
            return 2
    return 0


def _pipeline(
    *,
    config: Path,
    builtins: Mapping[str, str],
    stages: str | None = None,
    from_stage: str | None = None,
    to_stage: str | None = None,
    force: bool = False,
    dry_run: bool = False,
    overrides: Sequence[str] = (),
    log_level: str = "info",
    log_format: str = "text",
    executor: str | None = None,
) -> int:
    if log_format not in ("text", "json"):
        raise UsageError(f"--log-format {log_format!r}: expected text or json")
    setup_logging(log_level)
    pipe, root = load_pipeline(config, overrides, builtins, executor=executor)
    from standard_coder.runner import ddp

    # Whether the pipeline trains with DDP is the pipeline's own setting (Pipeline.distributed,
    # from its config); every rank loads the pipeline (read-only) to learn it.
    if pipe.distributed is not None and ddp.env_world() is None:
        raise UsageError(
            f"{pipe.distributed.setting} needs torchrun: launch with "
            '`torchrun --nproc_per_node N -m standard_coder pipeline ...` (or set it to "none")'
        )
    if ddp.env_world() is not None and not dry_run:
        if pipe.distributed is None:
            raise UsageError(
                f"launched by torchrun but pipeline {pipe.name!r} does not train with DDP "
                '(its config does not set distributed = "ddp"): run it without torchrun'
            )
        ddp.init()
        if ddp.rank() != 0:  # followers run rank 0's training jobs; never the runner
            ddp.leave(ddp.follow())
        code = 1
        try:
            code = _run_loaded(pipe, root, stages=stages, from_stage=from_stage,
                               to_stage=to_stage, force=force, dry_run=dry_run,
                               log_format=log_format)  # fmt: skip
        finally:
            ddp.finish()
        ddp.leave(code)
    plain = not (stages or from_stage or to_stage or force or dry_run or overrides or executor)
    plain = plain and log_level == "info" and log_format == "text"
    witness_of = Path(config).expanduser().resolve() if plain else None
    return _run_loaded(pipe, root, stages=stages, from_stage=from_stage, to_stage=to_stage,
                       force=force, dry_run=dry_run, log_format=log_format,
                       witness_of=witness_of)  # fmt: skip


def _run_loaded(
    pipe: Pipeline,
    root: Path,
    *,
    stages: str | None,
    from_stage: str | None,
    to_stage: str | None,
    force: bool,
    dry_run: bool,
    log_format: str,
    witness_of: Path | None = None,
) -> int:
    """``witness_of``: the pipeline file of a plain ``pipeline --config FILE`` run, whose
    no-op leaves a witness for the fast door (:mod:`~standard_coder.runner.noop`)."""
    from standard_coder.runner.engine import plan_pipeline, run_pipeline
    from standard_coder.runner.events import ConsoleSink, StreamJsonSink
    from standard_coder.runner.noopwitness import witness_hook

    selection = split_stages(stages)
    if dry_run:
        plans = plan_pipeline(
            pipe,
            stages=selection,
            from_stage=from_stage,
            to_stage=to_stage,
            force=force,
            root=root,
        )
        from standard_coder.runner.lock import lock_holder

        chosen = [p for p in plans if p.selected]
        code = print_plan(
            chosen, as_json=log_format == "json", running=lock_holder(Path(pipe.base_dir))
        )
        return code or _unwritable_refusal(chosen, pipe)
    sink = StreamJsonSink() if log_format == "json" else ConsoleSink()
    result = run_pipeline(
        pipe,
        stages=selection,
        from_stage=from_stage,
        to_stage=to_stage,
        force=force,
        sinks=[sink],
        root=root,
        after_run=witness_hook(pipe, root, witness_of),
    )
    if result.finished and result.exit_code:  # a signal, after the last stage's work ended
        from standard_coder.runner.records import ok_line

        ran = result.ran
        sys.stderr.write(ok_line(ran, len(result.stages) - ran, result.run_id, result.restored))
        sys.stderr.write(f"{result.message}\n")
        return result.exit_code
    if result.exit_code != 0:
        # a failed stage's [FAIL] line, or an interrupted run's [STOP] line (its
        # run_interrupted event: every exit above 128), already said it: once, not again
        said = result.exit_code > 128 or any(o.status == "failed" for o in result.stages.values())
        shown = log_format == "text" and said
        if not shown:
            sys.stderr.write(f"{result.message}\n")
        return result.exit_code
    ran = result.ran
    from standard_coder.runner.records import ok_line

    sys.stderr.write(ok_line(ran, len(result.stages) - ran, result.run_id, result.restored))
    if pipe.on_finish is not None and log_format == "text":  # for people, not a JSON stream
        pipe.on_finish(Path(pipe.base_dir))
    return 0


def run_command(**kwargs: Any) -> int:
    """``standard-coder pipeline``: keyword arguments as :func:`main`'s options; an exit code."""
    return _guard(_pipeline, **kwargs)


def _status(
    *,
    config: Path,
    builtins: Mapping[str, str],
    overrides: Sequence[str] = (),
    as_json: bool = False,
    stages: str | None = None,
    from_stage: str | None = None,
    to_stage: str | None = None,
) -> int:
    top = logging.getLogger("standard_coder")
    level = top.level
    handler = setup_logging("warning")  # what loading and planning warn of reads as pipeline's
    try:
        pipe, root = load_pipeline(config, overrides, builtins)
        from standard_coder.runner.engine import plan_pipeline
        from standard_coder.runner.lock import lock_holder

        plans = plan_pipeline(pipe, stages=split_stages(stages), from_stage=from_stage,
                              to_stage=to_stage, root=root)  # fmt: skip
        if stages or from_stage or to_stage:  # a selection: its stages, as --dry-run shows
            plans = [p for p in plans if p.selected]
        code = print_plan(plans, as_json, running=lock_holder(Path(pipe.base_dir)))
        return code or _unwritable_refusal(plans, pipe)
    finally:
        top.removeHandler(handler)
        top.setLevel(level)  # as it was: status may be called as a library


def _unwritable_refusal(plans: Sequence[Any], pipe: Any) -> int:
    """2, with one line, when a selected stage would run and the output folder (or the nearest
    folder above it that exists), or a folder that stage writes its outputs into, cannot be
    written: ``pipeline`` would fail at its first write, or fail that stage before it runs.
    0 otherwise: reading up-to-date results on a read-only mount is what ``status`` is for."""
    from standard_coder.runner.fserrors import (
        STAGE_READ_ONLY_HINT,
        describe,
        unwritable_folder,
    )

    if not any(p.run and p.selected for p in plans):
        return 0
    # a stage that may be skipped (its upstream's key may come out the same) is not refused
    certain = [p.stage for p in plans if p.run and p.selected and not getattr(p, "maybe", False)]
    blocked = unwritable_folder([Path(pipe.base_dir) / "logs"])
    if blocked is not None:
        sys.stderr.write(f"error: {describe(blocked)}: pipeline would fail at its first write\n")
        return 2
    by_name = {s.name: s for s in pipe.stages}
    for name in certain:
        stage = by_name.get(name)
        blocked = (
            None if stage is None else unwritable_folder(stage.outputs, staged=stage.staged_outputs)
        )
        if blocked is not None:
            said = describe(blocked, read_only_hint=STAGE_READ_ONLY_HINT)
            sys.stderr.write(f"error: {said}: pipeline would fail stage '{name}' before it "
                             "runs\n")  # fmt: skip
            return 2
    return 0


def status_command(**kwargs: Any) -> int:
    """``standard-coder status``: per stage, would it run and why; an exit code."""
    return _guard(_status, **kwargs)


def validate_command(paths: Sequence[Path]) -> int:
    """``standard-coder validate-manifest``: 0 when every file is valid, else 2."""
    from standard_coder.runner.manifest import validate_file

    bad = 0
    for path in paths:
        problems = validate_file(Path(path))
        if problems:
            bad += 1
            for problem in problems:
                sys.stdout.write(f"{path}: {problem}\n")
        else:
            sys.stdout.write(f"{path}: ok\n")
    return 2 if bad else 0


class _Refused(Exception):
    """The fast parser does not take these arguments (the full CLI says why)."""


class _QuietParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _Refused(message)


def parses(argv: Sequence[str]) -> bool:
    """Whether :func:`main` takes ``argv``. Where it does not, the full CLI answers (its usage
    error names every command and option, where this parser's knows only its three)."""
    try:
        _parser().parse_args(list(argv))
    except _Refused:
        return False
    return True


def _parser() -> argparse.ArgumentParser:
    ap = _QuietParser(prog="standard-coder")
    sub = ap.add_subparsers(dest="command", required=True)
    run = sub.add_parser("pipeline", help="run a pipeline")
    run.add_argument("--config", "-c", type=Path, required=True)
    run.add_argument("--stages")
    run.add_argument("--from", dest="from_stage")
    run.add_argument("--to", dest="to_stage")
    run.add_argument("--force", action="store_true")
    run.add_argument("--dry-run", action="store_true")
    run.add_argument("--set", dest="overrides", action="append", default=[])
    run.add_argument("--log-level", default="info")
    run.add_argument("--log-format", default="text")
    run.add_argument("--executor")
    status = sub.add_parser("status", help="would each stage run, and why")
    status.add_argument("--config", "-c", type=Path, required=True)
    status.add_argument("--set", dest="overrides", action="append", default=[])
    status.add_argument("--json", dest="as_json", action="store_true")
    status.add_argument("--stages")
    status.add_argument("--from", dest="from_stage")
    status.add_argument("--to", dest="to_stage")
    validate = sub.add_parser("validate-manifest", help="check manifest files")
    validate.add_argument("paths", nargs="+", type=Path)
    return ap


def main(argv: Sequence[str], builtins: Mapping[str, str]) -> int:
    """The same commands behind ``argparse`` (no Typer import); returns the exit code."""
    try:
        ns = _parser().parse_args(list(argv))
    except _Refused as exc:  # the CLI asks parses() first: a caller of main() alone
        sys.stderr.write(f"standard-coder: error: {exc}\n")
        return 2
    args = vars(ns)
    command = args.pop("command")
    if command == "pipeline":
        return run_command(builtins=builtins, **args)
    if command == "status":
        return status_command(builtins=builtins, **args)
    return validate_command(args["paths"])
