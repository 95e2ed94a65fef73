"""The witness a full no-op run leaves for the fast door (:mod:`~standard_coder.runner.noop`).

Written by :func:`witness_hook`'s callback inside ``run_pipeline``, while the output folder's
lock is still held (so the manifests it hashes are the ones the decisions read), and only for
a run the fast door can repeat exactly: a ``[[stages]]`` pipeline file, the plain command line
(``pipeline --config FILE``), every stage skipped as up to date (not merely touched), no
device-sensitive stage, no git input, the local executor, no run cache, the report current.
Any other run removes a witness that is there. Failing to write it never fails the run.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from standard_coder.runner import noop, records
from standard_coder.runner.atomic import atomic_write_json
from standard_coder.runner.command import CommandStage
from standard_coder.runner.definition import StageView
from standard_coder.runner.layout import RunnerLayout, retention_days_of
from standard_coder.runner.pathstate import path_state
from standard_coder.runner.stage import Pipeline

if TYPE_CHECKING:
    from standard_coder.runner.engine import RunResult

log = logging.getLogger("standard_coder.runner")


def witness_path(base_dir: Path) -> Path:
    """``<base_dir>/cache/noop_witness.json``."""
    return RunnerLayout(Path(base_dir)).cache / noop.WITNESS_FILE


def _repeatable(pipe: Pipeline, result: RunResult) -> bool:
    if result.exit_code != 0 or result.ran != 0:
        return False
    if set(result.stages) != {s.name for s in pipe.stages}:
        return False
    if any(o.status != "skipped" or o.reason != noop.UP_TO_DATE for o in result.stages.values()):
        return False
    if pipe.executor or pipe.run_cache is not None or pipe.distributed is not None:
        return False
    if pipe.on_finish is not None or pipe.report_sections:
        return False
    for stage in pipe.stages:
        run = stage.run
        if not isinstance(run, CommandStage) or stage.git_inputs or stage.device_sensitive:
            return False
        if noop.command_version(list(run.argv), list(run.version_files)) != stage.version:
            return False
    return True


def build_witness(
    pipe: Pipeline, root: Path, config: Path, result: RunResult
) -> dict[str, Any] | None:
    """The witness of a finished run, or None when the fast door could not repeat it."""
    import tomllib

    from standard_coder.runner.runrecord import executor_record

    if not _repeatable(pipe, result):
        return None
    raw = config.read_bytes()
    try:
        if tomllib.loads(raw.decode("utf-8")) != pipe.config:
            return None  # edited since it was read: its bytes are not what was decided on
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    layout = RunnerLayout(Path(pipe.base_dir))
    stamp = json.loads((layout.run_dir(result.run_id) / "env_stamp.json").read_text("utf-8"))
    if stamp.get("device_kind") != "auto" or stamp.get("status") != "completed":
        return None
    stages = []
    for stage in pipe.stages:
        view = StageView(stage, pipe, root)
        if any(spec.git or spec.key is not None for spec in view.inputs):
            return None
        run = stage.run
        assert isinstance(run, CommandStage)
        manifest = layout.manifest(stage.name)
        stages.append(
            {
                "name": stage.name,
                "manifest": str(manifest),
                "manifest_sha256": noop._sha(manifest.read_bytes()),
                "argv": list(run.argv),
                "scripts": list(run.version_files),
                # a module added beside a script may join its imports: the folders' listings
                "code_folders": [[f, noop.folder_token(f)] for f in run.code_folders],
                "version": stage.version,
                "inputs": [[spec.name, str(spec.path)] for spec in view.inputs],
                "outputs": [[spec.name, str(spec.path)] for spec in view.outputs],
                "fingerprint": result.stages[stage.name].fingerprint,
            }
        )
    built_for = layout.reports / ".cache" / "built_for.json"
    return {
        "version": noop.WITNESS_VERSION,
        "config_path": str(config),
        "config_sha256": noop._sha(raw),
        "base_dir": str(layout.base_dir),
        "key": noop.code_key(),
        "path_state": path_state(),
        "pipeline": pipe.name,
        "executor_line": records.executor_text(executor_record(pipe)),
        "retention_days": retention_days_of(pipe.config),
        "report_sha256": noop._sha(built_for.read_bytes()),
        "stages": stages,
        "stamp": stamp,
    }


def witness_hook(pipe: Pipeline, root: Path, config: Path | None) -> Callable[[RunResult], None]:
    """The ``after_run`` callback of ``run_pipeline``: write the witness when the run can be
    repeated by the fast door, else remove any witness there. ``config``: the pipeline file,
    or None when the command line was not the plain one (no witness then)."""

    def after_run(result: RunResult) -> None:
        target = witness_path(Path(pipe.base_dir))
        try:
            doc = build_witness(pipe, root, config, result) if config is not None else None
            if doc is None:
                target.unlink(missing_ok=True)
            else:
                atomic_write_json(target, doc, durable=False)
        except (OSError, ValueError) as exc:  # a cache: a run never fails for it
            log.debug("no-op witness not written: %s", exc)
            with contextlib.suppress(OSError):
                target.unlink(missing_ok=True)

    return after_run
