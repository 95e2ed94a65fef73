"""The run record the engine writes around a run: env stamp, retention note, HTML run page
(the runner's page plus the pipeline's ``report_sections``).

Two calls, one at each end of a run. Neither ever fails the run: a problem is logged and the
run goes on (a report that cannot be drawn is not a reason to lose a trained model).

Example (inside the engine):
    >>> start_run_record(run_dir, pipeline, run_id)  # doctest: +SKIP
    >>> ...  # run the stages
    >>> finish_run_record(run_dir, pipeline, status="completed",
    ...                   stage_fingerprints={"train": fp})  # doctest: +SKIP
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

from standard_coder.runner.atomic import atomic_write_text
from standard_coder.runner.layout import RunnerLayout, retention_days_of
from standard_coder.runner.stage import Pipeline

__all__ = [
    "RunRecord",
    "executor_record",
    "finish_run_record",
    "precision_of",
    "retention_days_of",
    "start_run_record",
]

log = logging.getLogger("standard_coder.runner")


def executor_record(pipeline: Pipeline) -> dict[str, Any]:
    """Where ``ctx.map`` items run: ``{"kind": "dask", "address": "tcp://..."}`` or
    ``{"kind": "local", "workers": N}`` (what ``env_stamp.json`` and ``run.log`` say)."""
    spec = pipeline.executor
    if spec:
        scheme = spec.split("://", 1)[0].lower() if "://" in spec else spec
        if scheme in ("dask", "tcp"):
            from standard_coder.runner.dask_executor import address_of

            return {"kind": "dask", "address": address_of(spec)}
        return {"kind": scheme, "address": spec}
    return {"kind": "local", "workers": pipeline.workers}


def precision_of(config: Mapping[str, Any]) -> str:
    """``[runner] precision`` of a resolved config (``fp32`` when absent)."""
    runner = config.get("runner") if isinstance(config, Mapping) else None
    value = runner.get("precision", "fp32") if isinstance(runner, Mapping) else "fp32"
    return value if isinstance(value, str) and value else "fp32"


def _start_stamp(
    pipeline: Pipeline,
    run_id: str,
    *,
    device_kind: str | None,
    started_at: float | None,
    project_root: Path | None,
    code_version: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    from standard_coder.runner.envstamp import build_env_stamp, device_name

    kind = device_kind or pipeline.device
    stamp = build_env_stamp(
        run_id=run_id,
        config=pipeline.config,
        seed=pipeline.seed,
        device_kind=kind,
        device_name=device_name(kind) if kind != "auto" else "not resolved",
        precision=precision_of(pipeline.config),
        started_at=time.time() if started_at is None else started_at,
        project_root=project_root,
        dist_cache=RunnerLayout(Path(pipeline.base_dir)).dist_cache,
        code_version=code_version,
    )
    stamp["pipeline"] = pipeline.name
    stamp["executor"] = executor_record(pipeline)
    return stamp


def start_run_record(
    run_dir: Path,
    pipeline: Pipeline,
    run_id: str,
    *,
    device_kind: str | None = None,
    started_at: float | None = None,
    project_root: Path | None = None,
    code_version: Mapping[str, Any] | None = None,
) -> None:
    """Write ``<run_dir>/env_stamp.json`` for a run that starts now.

    ``device_kind`` is the resolved device if already known; otherwise the pipeline's preference
    is recorded and :func:`finish_run_record` fills in the device a stage resolved, so that a
    command pipeline never imports torch just to be stamped. ``code_version``: what a
    :class:`~standard_coder.runner.envstamp.CodeOriginProbe` found (``None``: ask git now).
    """
    from standard_coder.runner.envstamp import write_env_stamp

    try:
        stamp = _start_stamp(
            pipeline,
            run_id,
            device_kind=device_kind,
            started_at=started_at,
            project_root=project_root,
            code_version=code_version,
        )
        write_env_stamp(run_dir, stamp)
    except Exception as exc:  # the record must never sink the run
        log.warning("run record: cannot write the env stamp in %s: %s", run_dir, exc)


class RunRecord:
    """The engine's run record: begun when a run starts, its stamp written before the first
    stage runs, or once at the end by :meth:`finish` when none ran (a no-op rerun).

    Beginning starts the ``git status`` of the code version
    (:class:`~standard_coder.runner.envstamp.CodeOriginProbe`), so it runs beside the stat
    walk of the stages' inputs instead of before it; the stamp records the run's start time
    either way.
    """

    def __init__(
        self, run_dir: Path, pipeline: Pipeline, run_id: str, project_root: Path | None = None
    ) -> None:
        """``project_root``: the pipeline's folder, whose git checkout is the code version
        (None: this package's checkout, as before a project was stamped)."""
        from standard_coder.runner.envstamp import CodeOriginProbe

        self.run_dir = run_dir
        self.pipeline = pipeline
        self.run_id = run_id
        self.started_at = time.time()
        self.written = False
        self._probe: CodeOriginProbe | None
        try:
            self._probe = CodeOriginProbe(project_root)
        except Exception as exc:  # the record must never sink the run
            log.warning("run record: cannot start git status: %s", exc)
            self._probe = None

    def _code_version(self) -> dict[str, Any] | None:
        return self._probe.result() if self._probe is not None else None

    def write_start(self) -> None:
        """Write the start stamp now (before a stage runs); once."""
        if self.written:
            return
        self.written = True
        start_run_record(
            self.run_dir,
            self.pipeline,
            self.run_id,
            started_at=self.started_at,
            code_version=self._code_version(),
        )

    def finish(self, **kwargs: Any) -> Path | None:
        """:func:`finish_run_record` (same keywords); an unwritten start stamp is written
        with the end in one go."""
        stamp: dict[str, Any] | None = None
        if not self.written:
            self.written = True
            try:
                stamp = _start_stamp(
                    self.pipeline,
                    self.run_id,
                    device_kind=None,
                    started_at=self.started_at,
                    project_root=None,
                    code_version=self._code_version(),
                )
            except Exception as exc:
                log.warning("run record: cannot build the env stamp in %s: %s", self.run_dir, exc)
        return finish_run_record(self.run_dir, self.pipeline, start_stamp=stamp, **kwargs)

    def close(self) -> None:
        """Stop a ``git status`` still running (a run that ended early)."""
        if self._probe is not None:
            self._probe.close()


def finish_run_record(
    run_dir: Path,
    pipeline: Pipeline,
    *,
    status: str,
    stage_fingerprints: Mapping[str, str | None] | None = None,
    device_kind: str | None = None,
    device_label: str | None = None,
    ended_at: float | None = None,
    config_path: Path | None = None,
    report: bool = True,
    ran: int | None = None,
    start_stamp: Mapping[str, Any] | None = None,
    durable: bool = True,
) -> Path | None:
    """Close the run record: finish the env stamp, write ``RETENTION.txt`` and (by default)
    regenerate ``<base_dir>/reports/index.html`` with the pipeline's report sections.

    A no-op run (``ran == 0``, completed) keeps the report when it was built for the same
    stages and fingerprints (what its sections show is unchanged): no template engine is
    loaded on the no-op path. Its run is added to the page by the next build (any run that
    ran a stage, or ``standard-coder report``).

    ``start_stamp``: the start stamp when it was never written (written here, finished, in one go).
    ``durable=False`` (a run that completed without running a stage) skips the stamp's fsync:
    still atomic; what decides skips (the stages' manifests) is written durably as ever.

    Returns:
        The report's path (also when kept), or None when it was not (or could not) be written.
    """
    from standard_coder.runner.envstamp import device_name, finish_env_stamp
    from standard_coder.runner.retention import write_retention_note

    try:
        finish_env_stamp(
            run_dir,
            time.time() if ended_at is None else ended_at,
            status=status,
            stage_fingerprints={k: v for k, v in (stage_fingerprints or {}).items() if v},
            device_kind=device_kind,
            device_name=device_label or (device_name(device_kind) if device_kind else None),
            stamp=start_stamp,
            durable=durable,
        )
    except Exception as exc:
        log.warning("run record: cannot finish the env stamp in %s: %s", run_dir, exc)
    try:
        write_retention_note(
            run_dir,
            retention_days_of(pipeline.config),
            config_path=config_path,
            base_dir=Path(pipeline.base_dir),
        )
    except Exception as exc:
        log.warning("run record: cannot write RETENTION.txt in %s: %s", run_dir, exc)
    if not report:
        return None
    shown = _report_key(pipeline, status, stage_fingerprints)
    stamp = RunnerLayout(Path(pipeline.base_dir)).reports / ".cache" / "built_for.json"
    page = stamp.parent.parent / "index.html"
    if ran == 0 and status == "completed" and page.is_file():
        try:
            if json.loads(stamp.read_text()) == shown:
                return page  # nothing the page shows changed
        except (OSError, ValueError):
            pass
    try:
        from standard_coder.runner.report import build_report

        built = build_report(Path(pipeline.base_dir), pipeline.report_sections)
    except Exception as exc:
        log.warning("run record: cannot build the HTML report: %s", exc)
        return None
    try:
        atomic_write_text(stamp, json.dumps(shown), durable=False)
    except OSError as exc:
        log.warning("run record: cannot write %s: %s", stamp, exc)
    return built


def _report_key(
    pipeline: Pipeline, status: str, fingerprints: Mapping[str, str | None] | None
) -> dict[str, Any]:
    """What a report build depended on: the stages' fingerprints (their outputs), the run's
    status, the pipeline's sections and the code that draws them (:func:`_report_code`)."""
    return {
        "status": status,
        "stages": {k: v for k, v in sorted((fingerprints or {}).items())},
        "sections": [s.title for s in pipeline.report_sections],
        "code": _report_code(pipeline),
    }


def _report_code(pipeline: Pipeline) -> list[list[Any]]:
    """``[path, size, mtime_ns]`` of the files that draw the page: the Python files and
    ``templates/`` of the runner's report package and of each section's own package (the
    folder of its ``render``'s module). Stats only (a no-op run reads no bytes): an upgraded
    or edited report redraws the page on the next run, not only once a stage runs again."""
    folders = {os.path.join(os.path.dirname(os.path.abspath(__file__)), "report")}
    for section in pipeline.report_sections:
        module = sys.modules.get(getattr(section.render, "__module__", "") or "")
        path = getattr(module, "__file__", None)
        if path:
            folders.add(os.path.dirname(os.path.abspath(path)))
    files: list[str] = []
    for folder in folders:
        for sub in (folder, os.path.join(folder, "templates")):
            try:
                names = os.listdir(sub)
            except OSError:
                continue
            files.extend(
                os.path.join(sub, n) for n in names if n.endswith((".py", ".j2", ".html", ".css"))
            )
    out: list[list[Any]] = []
    for f in sorted(files):
        try:
            st = os.stat(f)
        except OSError:
            continue
        out.append([f, st.st_size, st.st_mtime_ns])
    return out
