"""One run's (or one ``status`` call's) view of the output folder: events, corrupt state, the
hash cache, manifests, and :meth:`RunSession.assess` (skip or run, and why).

Assessing only reads (the hash cache may learn digests); the writes that follow from it
(moving a corrupt manifest aside, refreshing a touched stage's stat tokens) happen in
:meth:`RunSession.settle`, which a read-only session turns into a log line.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from standard_coder import __version__
from standard_coder.runner import manifest as mf
from standard_coder.runner import records
from standard_coder.runner.decision import Decision, Reason, Scan, decide
from standard_coder.runner.definition import RUN_KEY, LazyDevice, StageView
from standard_coder.runner.errors import CorruptStateError
from standard_coder.runner.events import EventSink
from standard_coder.runner.hashcache import DictHashCache, HashCache, SqliteHashCache
from standard_coder.runner.layout import RunnerLayout
from standard_coder.runner.stage import Pipeline

log = logging.getLogger("standard_coder.runner")

RUNNER_VERSION = __version__


def new_run_id() -> str:
    """``YYYYmmdd-HHMMSS-xxxxxx`` (UTC time plus 3 random bytes; :func:`.records.new_run_id`)."""
    return records.new_run_id()


@dataclass
class Assessment:
    """A stage's decision plus what deciding found on the way.

    Attributes:
        decision: skip or run, with the reason code and detail.
        in_scan, out_scan: input/output scans when the decision reached them.
        manifest: the stage's last manifest (None: never completed, or corrupt).
        corrupt: the error when the manifest failed its checks (``settle`` moves it aside).
    """

    decision: Decision
    in_scan: Scan | None = None
    out_scan: Scan | None = None
    manifest: dict[str, Any] | None = None
    corrupt: CorruptStateError | None = None


class RunSession:
    """Shared state of one run: layout, stage views, device, hash cache and event sink."""

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        root: Path | None,
        readonly: bool,
        sink: EventSink | None,
    ) -> None:
        self.pipeline = pipeline
        self.layout = RunnerLayout(Path(pipeline.base_dir))
        self.base = self.layout.base_dir
        if root is None:
            root = pipeline.root if pipeline.root is not None else self.base.parent
        self.root = Path(root)
        self.readonly = readonly
        self.sink = sink
        self.run_id = new_run_id()
        self.views = {s.name: StageView(s, pipeline, self.root) for s in pipeline.stages}
        self.device = LazyDevice(
            pipeline.device, self.layout.cache / "device.json", write_cache=not readonly
        )
        self.cache: HashCache = DictHashCache()
        # ctx.map's executor for a cluster spec (``dask://...``): one per run, so every map of
        # every stage reuses one client connection (closed by close_executors at run end)
        self.executors: dict[str, Any] = {}
        # run-cache problems already said this run (a remote that cannot be reached is said
        # once, not twice per stage)
        self.cache_said: set[str] = set()
        # called before a stage runs (not when skipped): the engine writes the run's stamp
        self.before_stage_runs: Callable[[], None] | None = None
        # called as a stage's own code starts: the engine records it in the run state, so that
        # a run killed now (which records nothing else) leaves the next one a trace of itself
        self.stage_starts: Callable[[str], None] | None = None
        # each stage's per-file input index, read at most once a run (naming a changed file,
        # then merging the new digests in)
        self._old_files: dict[str, Mapping[str, Mapping[str, str]]] = {}

    def close_executors(self) -> None:
        """Close the run's shared executors (the cluster itself keeps running)."""
        while self.executors:
            _, executor = self.executors.popitem()
            try:
                executor.close()
            except Exception:  # a cluster gone away: nothing left to release
                log.warning("closing executor %r failed", executor, exc_info=True)

    # -- events and bad state
    def emit(self, event: str, stage: str | None = None, reason: str = "", **fields: Any) -> None:
        """Append one event (``ts``, ``run_id``, ``event``, ``stage``, ``reason`` + fields)."""
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
        """Move a corrupt file aside (unless read-only) and report it: one ``[warn]`` line
        naming the file, the cause and where it went (the event), or a log warning when
        read-only (``status``: nothing is moved)."""
        if self.readonly:
            log.warning("corrupt state: %s: %s", path, reason)
            return
        from standard_coder.runner.quarantine import quarantine

        target = quarantine(path, self.layout.quarantine)
        log.info("corrupt state: %s: %s; set aside as %s", path, reason, target)
        self.emit("state_corrupt", stage, reason, path=str(path), moved_to=str(target))

    def open_cache(self) -> None:
        """Open the SQLite hash cache (a corrupt one is quarantined and started afresh)."""
        path = self.layout.hash_cache
        try:
            self.cache = SqliteHashCache(path, readonly=self.readonly)
        except CorruptStateError as exc:
            self.quarantine(path, exc.reason)
            self.cache = SqliteHashCache(path, readonly=self.readonly)

    def old_files(self, name: str) -> Callable[[], Mapping[str, Mapping[str, str]]]:
        """Loader of the stage's per-file input index (empty when absent or unreadable)."""

        def load() -> Mapping[str, Mapping[str, str]]:
            known = self._old_files.get(name)
            if known is not None:
                return known
            try:
                data = json.loads(self.layout.input_index(name).read_bytes())
                known = data if isinstance(data, dict) else {}
            except (OSError, ValueError):
                known = {}
            self._old_files[name] = known
            return known

        return load

    def code_change(self, name: str) -> Callable[[], str]:
        """Names the first (by name) of ``name``'s code files that differs from the last
        completed run's (changed, added or gone), "" when either run's code version is not
        files (``Stage.version``) or the last run left no index."""

        def changed() -> str:
            try:
                old = json.loads(self.layout.code_index(name).read_bytes())
            except (OSError, ValueError):
                return ""
            if not isinstance(old, dict):
                return ""
            new = self.views[name].code_digests()
            if not old or not new:
                return ""
            runs = [sorted(k for k in index if k.startswith(RUN_KEY)) for index in (old, new)]
            if runs[0] and runs[1] and runs[0] != runs[1]:  # the builder switched the function
                was, now = (r[0][len(RUN_KEY) :] for r in runs)
                return f"runs {now} (was {was})"
            differ = sorted(
                k
                for k in set(old) | set(new)
                if old.get(k) != new.get(k) and not k.startswith(RUN_KEY)
            )
            if not differ:
                return ""
            more = f" (and {len(differ) - 1} more)" if len(differ) > 1 else ""
            return _importable_name(differ[0]) + more

        return changed

    def index_written(self, name: str, index: Mapping[str, Mapping[str, str]]) -> None:
        """What ``name``'s per-file input index now holds (written by the caller)."""
        self._old_files[name] = index

    # -- deciding (reads only) and its consequences (writes)
    def assess(self, name: str, forced: bool) -> Assessment:
        """Skip or run ``name``, and why. Writes no file.

        Raises:
            RunnerError: an input is missing or unreadable.
        """
        view = self.views[name]
        corrupt: CorruptStateError | None = None
        try:
            manifest = mf.read_manifest(self.layout.manifest(name))
        except CorruptStateError as exc:
            manifest, corrupt = None, exc
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
            param_labels=view.stage.param_labels,
            code_change=self.code_change(name),
        )
        if corrupt is not None and decision.code is Reason.NEW:
            decision = Decision(False, Reason.MANIFEST_CORRUPT)
        return Assessment(decision, in_scan, out_scan, manifest, corrupt)

    def settle(self, name: str, found: Assessment) -> None:
        """Act on an assessment: quarantine a corrupt manifest; refresh the stat tokens of a
        skipped stage whose files were touched (so the next check hashes nothing)."""
        if found.corrupt is not None:
            self.quarantine(found.corrupt.path, found.corrupt.reason, name)
        manifest, in_scan, out_scan = found.manifest, found.in_scan, found.out_scan
        touched = (in_scan and in_scan.changed_stat) or (out_scan and out_scan.changed_stat)
        if self.readonly or not found.decision.skip or manifest is None or not touched:
            return
        manifest[mf.INPUT_TOKENS] = in_scan.tokens if in_scan else {}
        manifest[mf.OUTPUT_TOKENS] = out_scan.tokens if out_scan else {}
        manifest[mf.LAST_CHECKED_TS] = time.time()
        mf.write_manifest(self.layout.manifest(name), manifest)


def _importable_name(shown: str) -> str:
    """A code file outside the project (an installed package's, named by its absolute path) as
    Python finds it: relative to the ``sys.path`` folder that holds it
    (``standard_coder/pipelines/sch_mine.py``, not ``/home/u/.venv/lib/.../sch_mine.py``)."""
    if not os.path.isabs(shown):
        return shown
    for entry in sorted((p for p in sys.path if p), key=len, reverse=True):
        folder = os.path.abspath(entry).rstrip(os.sep) + os.sep
        if shown.startswith(folder):
            return shown[len(folder) :]
    return shown
