"""Retention: a note in every run folder, and garbage collection of what has expired.

``gc`` removes run folders older than ``retention_days`` (by their env stamp's end, else start
time), expired record folders under :data:`RECORD_DIRS` (the vision pipeline's
``vision_runs/<kind>-<run>/``, ``standard-coder eval`` results under ``eval/``: by the
``expires:`` their own ``RETENTION.txt`` states, else like a run) with the companion paths their
env stamp lists (``companions``: names relative to the output root, e.g. an eval's TensorBoard
folder), set-aside partial work under ``checkpoints/stale/``, quarantined files under
``quarantine/``, and the hash cache's folder snapshots (``cache/folders/``) and rows
(``cache/hashcache.sqlite``) of folders and files that are gone.
It never removes the latest successful artifacts: the newest successful run folder, a run still
in progress, the newest record of each kind in each record folder, any path a current stage
manifest lists as an output, and nothing under ``models/``, ``reports/``, ``stages/`` or the
other stage output folders (gc only ever looks inside ``runs/``, :data:`RECORD_DIRS`,
``checkpoints/stale/``, ``quarantine/`` and ``cache/folders/``, at a record's companions and
at the hash cache's rows).

Example:
    >>> plan = plan_gc(Path("out"), retention_days=30, now=time.time())  # doctest: +SKIP
    >>> freed = apply_gc(plan)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from standard_coder.runner.atomic import atomic_write_text
from standard_coder.runner.envstamp import STAMP_FILE, parse_time
from standard_coder.runner.errors import RunnerError
from standard_coder.runner.hashcache import (
    SNAPSHOT_DIR,
    delete_rows,
    rows_of_gone_files,
    seen_here,
    snapshot_folder,
)
from standard_coder.runner.jsonfile import read_json_object_or_none
from standard_coder.runner.layout import RunnerLayout
from standard_coder.runner.lock import lock_holder
from standard_coder.runner.retnote import RETENTION_FILE, retention_text, tree_size
from standard_coder.runner.retnote import human_size as human_size

PROTECTED_DIRS: tuple[str, ...] = ("models", "reports", "stages", "forecasts")
RECORD_DIRS: tuple[str, ...] = ("vision_runs", "eval")
"""Output-root folders whose children are one record each of a pipeline's runs beside
``runs/``: an env stamp and a ``RETENTION.txt`` (``vision_runs/``), or an evaluation's results
(``eval/``). gc expires each like a run folder and keeps the newest of each kind."""
SUCCESS_STATUSES = frozenset({"completed", "succeeded", "success", "ok"})


def write_retention_note(
    run_dir: Path,
    retention_days: int,
    *,
    config_path: Path | None = None,
    base_dir: Path | None = None,
) -> Path:
    """Write ``<run_dir>/RETENTION.txt`` (atomically): what is kept, how long, sizes, how to delete.

    ``run_dir`` is ``<base_dir>/runs/<run_id>``; ``config_path`` (when known) makes the delete
    command copy-pasteable; ``base_dir`` defaults to the output root the run folder lies in.
    """
    run_dir = Path(run_dir)
    base_dir = RunnerLayout.of_run_dir(run_dir).base_dir if base_dir is None else Path(base_dir)
    cfg = str(config_path) if config_path is not None else "FILE"
    text = retention_text(str(run_dir), str(base_dir), retention_days, cfg)
    path = run_dir / RETENTION_FILE
    atomic_write_text(path, text, durable=False)  # derived: rewritten at the end of each run
    return path


@dataclass(frozen=True)
class GcItem:
    """One path ``gc`` removes (or keeps, with the reason; ``protected``: kept only because it
    holds or lies in a path gc never removes)."""

    path: Path
    kind: str
    size_bytes: int
    reason: str
    protected: bool = False
    rows: tuple[str, ...] = ()
    """For :data:`HASH_ROWS`: the rows of ``path`` (the hash cache) to delete; the file stays."""


@dataclass
class GcPlan:
    """What ``apply_gc`` will remove, and what it keeps on purpose.

    Attributes:
        base_dir: the output root.
        retention_days: the retention period used.
        now: the reference time (epoch seconds).
        remove: paths to delete.
        keep: run folders (and protected paths) kept, with the reason.
        protected: paths that must survive (current manifest outputs, newest successful run...).
    """

    base_dir: Path
    retention_days: int
    now: float
    remove: list[GcItem] = field(default_factory=list)
    keep: list[GcItem] = field(default_factory=list)
    protected: list[Path] = field(default_factory=list)
    errors: list[RunnerError] = field(default_factory=list)
    """What :func:`apply_gc` could not do and went on without (the hash cache's rows)."""

    @property
    def bytes_to_free(self) -> int:
        """Total size of everything in :attr:`remove`."""
        return sum(i.size_bytes for i in self.remove)


def _manifest_outputs(base_dir: Path, roots: list[Path]) -> list[Path]:
    """Paths the current stage manifests list as outputs.

    Manifests name outputs relative to the pipeline's root folder (the config file's folder,
    by default ``base_dir``'s parent); each relative name is resolved against every candidate
    root, so protection errs on the safe side.
    """
    out: list[Path] = []
    for mpath in sorted(RunnerLayout(base_dir).stages.glob("*/manifest.json")):
        doc = read_json_object_or_none(mpath)
        if doc is None:
            continue
        names = doc.get("outputs")
        for name in names if isinstance(names, (dict, list)) else []:
            if not isinstance(name, str) or not name:
                continue
            p = Path(name)
            if p.is_absolute():
                out.append(p)
            else:
                out.extend(root / p for root in roots)
    return out


def _run_time(run_dir: Path, stamp: dict[str, Any] | None) -> tuple[float, str]:
    if stamp:
        for key in ("ended_at", "started_at"):
            t = parse_time(stamp.get(key))
            if t is not None:
                return t, key
    try:
        return run_dir.stat().st_mtime, "folder mtime"
    except OSError:
        return 0.0, "unknown"


def _holder_start(holder: str | None) -> float | None:
    """When the lock holder (``"pid N, started %Y-%m-%d %H:%M:%S"``, local time) took the lock,
    a minute early (its run's start time is stamped just after); None if unreadable."""
    text = (holder or "").partition(", started ")[2]
    try:
        return time.mktime(time.strptime(text, "%Y-%m-%d %H:%M:%S")) - 60.0
    except (ValueError, OverflowError):
        return None


def _is_within(child: Path, parent: Path) -> bool:
    try:
        child.relative_to(parent)
    except ValueError:
        return False
    return True


def plan_gc(
    base_dir: Path,
    retention_days: int,
    now: float | None = None,
    *,
    output_root: Path | None = None,
) -> GcPlan:
    """Decide what ``gc`` removes (pure: reads, never writes).

    Args:
        base_dir: the output root.
        retention_days: runs older than this many days (by end, else start time) expire.
        now: reference time in epoch seconds (default: now).
        output_root: the folder manifests' relative output names are taken from (the pipeline
            file's folder); ``base_dir`` and its parent are always considered as well.
    """
    base_dir = Path(base_dir).resolve()
    now = time.time() if now is None else now
    plan = GcPlan(base_dir=base_dir, retention_days=retention_days, now=now)
    plan.protected.extend(base_dir / d for d in PROTECTED_DIRS)
    roots = [base_dir, base_dir.parent]
    if output_root is not None:
        roots.insert(0, Path(output_root).resolve())
    plan.protected.extend(_manifest_outputs(base_dir, roots))

    runs: list[tuple[Path, dict[str, Any] | None]] = []
    layout = RunnerLayout(base_dir)
    runs_dir = layout.runs
    if runs_dir.is_dir():
        for d in sorted(runs_dir.iterdir()):
            if d.is_dir() and not d.is_symlink():
                runs.append((d, read_json_object_or_none(d / STAMP_FILE)))

    newest_ok: Path | None = None
    newest_t = -1.0
    for d, stamp in runs:
        if stamp and str(stamp.get("status", "")).lower() in SUCCESS_STATUSES:
            t, _ = _run_time(d, stamp)
            if t > newest_t:
                newest_ok, newest_t = d, t
    if newest_ok is not None:
        plan.protected.append(newest_ok)

    horizon = retention_days * 86400.0
    # a run without an end time is in progress only while another process holds the lock (gc
    # holds it itself): else it was killed, and expires as any run
    holder = lock_holder(base_dir)
    running = holder is not None and not holder.startswith(f"pid {os.getpid()},")
    # the live holder's own run started when it took the lock: kept however long it runs
    holder_since = _holder_start(holder) if running else None
    for d, stamp in runs:
        size = tree_size(d)
        t, basis = _run_time(d, stamp)
        age_days = (now - t) / 86400.0
        if d == newest_ok:
            plan.keep.append(GcItem(d, "run", size, "newest successful run"))
        elif (
            running
            and stamp is not None
            and stamp.get("ended_at") is None
            and (now - t < max(horizon, 86400) or (holder_since is not None and t >= holder_since))
        ):
            plan.keep.append(GcItem(d, "run", size, "run in progress (no end time yet)"))
        elif now - t > horizon:
            why = f"expired: {age_days:.1f} days old by {basis} (> {retention_days} days)"
            if stamp is not None and stamp.get("ended_at") is None:
                why += "; it ended without recording its end (killed)"
            plan.remove.append(GcItem(d, "expired_run", size, why))
        else:
            plan.keep.append(GcItem(d, "run", size, f"{age_days:.1f} days old"))

    _plan_records(plan, base_dir, horizon)
    _plan_snapshots(plan, layout.cache / SNAPSHOT_DIR, roots)
    _plan_hash_rows(plan, layout.hash_cache)

    for sub, kind, why in (
        (layout.stale, "stale", "stale partial work set aside"),
        (layout.quarantine, "quarantine", "quarantined corrupt file"),
    ):
        if sub.is_dir() and not sub.is_symlink():
            for entry in sorted(sub.iterdir()):
                plan.remove.append(GcItem(entry, kind, tree_size(entry), why))

    # Safety net: never remove a protected path or anything that contains one (compared
    # resolved: a name with a link or ``..`` in it is not what it spells).
    safe: list[GcItem] = []
    guarded = [p.resolve() for p in plan.protected]
    for item in plan.remove:
        path = item.path.resolve()
        hit = next((p for p in guarded if _is_within(p, path) or _is_within(path, p)), None)
        if hit is not None:
            why = f"protected: {hit}"
            plan.keep.append(GcItem(item.path, item.kind, item.size_bytes, why, protected=True))
        else:
            safe.append(item)
    plan.remove = safe
    return plan


COMPANION_FORBIDDEN = ("runs", "checkpoints", "cache", "logs", "quarantine",
                       *PROTECTED_DIRS, *RECORD_DIRS)  # fmt: skip
"""Top-level folders of the output root no companion may name or lie in (the runner's own
state, the latest results, the record folders themselves)."""


def _companions(base_dir: Path, record: Path, stamp: dict[str, Any] | None) -> list[Path]:
    """The paths a record's env stamp lists under ``companions`` (what the run wrote elsewhere,
    e.g. its TensorBoard folder ``tb/eval-<id>``), resolved: only names relative to the output
    root, of at least two parts, without ``.``/``..`` parts, under none of
    :data:`COMPANION_FORBIDDEN`, that exist and pass through no link."""
    names = (stamp or {}).get("companions")
    out: list[Path] = []
    for name in names if isinstance(names, list) else []:
        if not isinstance(name, str) or not name or Path(name).is_absolute():
            continue
        parts = Path(name).parts
        if len(parts) < 2 or any(p in (".", "..") for p in parts):
            continue
        if parts[0] in COMPANION_FORBIDDEN or name != "/".join(parts):
            continue
        path = base_dir.joinpath(*parts)
        if not path.exists() or path.resolve() != path or path == record:
            continue  # gone, or a link somewhere on the way
        out.append(path)
    return out


HASH_ROWS = "stale_hash_rows"
"""The kind of the one :class:`GcItem` that prunes rows of the hash cache, not a path."""


def _plan_hash_rows(plan: GcPlan, db_path: Path) -> None:
    """Add the hash cache's rows of files that are gone, as one item on its database file
    (its size: their share of the file). The rows only spare a rehash of a file that comes back.
    An unreadable cache is left to the run that sets it aside."""
    try:
        gone, total = rows_of_gone_files(db_path)
    except RunnerError:  # corrupt or unreadable: the next run sets it aside and says so
        return
    if gone:
        size = int(db_path.stat().st_size * len(gone) / max(total, 1))
        why = f"{len(gone)} of {total} rows are of files that are gone"
        plan.remove.append(GcItem(db_path, HASH_ROWS, size, why, rows=tuple(gone)))


STRAY_TMP_SECONDS = 3600.0
"""A snapshot's temporary file older than this was left by a write that never finished."""


def _plan_snapshots(plan: GcPlan, where: Path, roots: list[Path]) -> None:
    """Add the hash cache's folder snapshots (``cache/folders/``) that can no longer serve:
    of a folder that is gone (a relative name is looked for under every root), not a snapshot
    (unreadable, another name) or a temporary file a finished write would have renamed. A
    snapshot only spares a big folder's content pass a database query: removing one is safe."""
    if not where.is_dir() or where.is_symlink():
        return
    for entry in sorted(where.iterdir()):
        if entry.is_symlink() or not entry.is_file():
            continue
        try:
            st = entry.stat()
        except OSError:
            continue
        if entry.name.startswith(".") and entry.name.endswith(".tmp"):
            if plan.now - st.st_mtime > STRAY_TMP_SECONDS:
                plan.remove.append(GcItem(entry, "stale_snapshot", st.st_size,
                                          "unfinished snapshot write"))  # fmt: skip
            continue
        folder = snapshot_folder(entry)
        if folder is None:
            why = "not a folder snapshot (unreadable or misnamed)"
        else:
            p = Path(folder)
            candidates = [p] if p.is_absolute() else [root / p for root in roots]
            # gone, not out of sight (hashcache.seen_here: a drive not mounted here keeps it)
            if any(c.is_dir() or not seen_here(str(c.resolve().parent)) for c in candidates):
                plan.keep.append(GcItem(entry, "snapshot", st.st_size, f"snapshot of {folder}"))
                continue
            why = f"its folder is gone: {folder}"
        plan.remove.append(GcItem(entry, "stale_snapshot", st.st_size, why))


def _record_expiry(d: Path, stamp: dict[str, Any] | None, horizon: float) -> tuple[float, str]:
    """When the record folder ``d`` expires, and by what: the ``expires:`` line of its own
    ``RETENTION.txt`` (the promise a user reads there), else its time plus ``horizon``."""
    try:
        note = (d / RETENTION_FILE).read_text(encoding="utf-8", errors="replace")
    except OSError:
        note = ""
    for line in note.splitlines():
        if line.startswith("expires:"):
            t = parse_time(line.partition(":")[2].strip())
            if t is not None:
                return t, f"its {RETENTION_FILE} (expires {line.partition(':')[2].strip()})"
    t, basis = _run_time(d, stamp)
    return t + horizon, f"{basis} + {horizon / 86400:g} days"


def _plan_records(plan: GcPlan, base_dir: Path, horizon: float) -> None:
    """Add the record folders below :data:`RECORD_DIRS` to ``plan``: the newest of each kind
    (the stamp's ``kind``) in each folder is kept, the others go once expired."""
    for name in RECORD_DIRS:
        root = base_dir / name
        if not root.is_dir() or root.is_symlink():
            continue
        found: list[tuple[Path, dict[str, Any] | None, float]] = []
        for d in sorted(root.iterdir()):
            if d.is_dir() and not d.is_symlink():
                stamp = read_json_object_or_none(d / STAMP_FILE)
                found.append((d, stamp, _run_time(d, stamp)[0]))
        newest: dict[str, tuple[float, Path]] = {}
        for d, stamp, t in found:
            kind = str((stamp or {}).get("kind") or "")
            if kind not in newest or (t, d.name) > (newest[kind][0], newest[kind][1].name):
                newest[kind] = (t, d)
        keep_newest = {d for _, d in newest.values()}
        for d, stamp, t in found:
            size = tree_size(d)
            kind = str((stamp or {}).get("kind") or name)
            if d in keep_newest:
                plan.keep.append(GcItem(d, "record", size, f"newest {kind} record in {name}/"))
                plan.protected.extend(_companions(base_dir, d, stamp))
                continue
            expires, basis = _record_expiry(d, stamp, horizon)
            age_days = (plan.now - t) / 86400.0
            if plan.now > expires:
                why = f"expired: {age_days:.1f} days old, by {basis}"
                plan.remove.append(GcItem(d, "expired_record", size, why))
                for extra in _companions(base_dir, d, stamp):
                    plan.remove.append(GcItem(extra, "expired_record", tree_size(extra),
                                              f"companion of {d.name}: {why}"))  # fmt: skip
            else:
                left = (expires - plan.now) / 86400.0
                why = f"{age_days:.1f} days old, expires in {left:.1f} days by {basis}"
                plan.keep.append(GcItem(d, "record", size, why))
                plan.protected.extend(_companions(base_dir, d, stamp))


def apply_gc(plan: GcPlan) -> int:
    """Delete every path in ``plan.remove`` (re-checked to lie inside ``plan.base_dir``) and
    the hash cache's rows it lists; a failure to prune the rows is added to ``plan.errors``.

    Returns:
        Bytes freed.
    """
    import shutil

    freed = 0
    base = plan.base_dir.resolve()
    # paths first; the hash cache's rows last, a failure there said (plan.errors), not fatal
    for item in sorted(plan.remove, key=lambda i: i.kind == HASH_ROWS):
        path = item.path
        parent = path.parent.resolve()
        if not _is_within(parent, base):
            raise ValueError(f"refusing to delete {path}: outside {base}")
        if item.kind == HASH_ROWS:
            try:
                delete_rows(path, list(item.rows))
            except RunnerError as exc:  # disk full, read-only, locked: the rows stay
                plan.errors.append(exc)
                continue
            freed += item.size_bytes
            continue
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(path)
        else:
            path.unlink()
        freed += item.size_bytes
    return freed
