"""Compare two runs: config keys, package versions, environment and stage fingerprints.

Each run folder (``<base_dir>/runs/<run_id>/``) holds an ``env_stamp.json`` with the resolved
config, package versions and (once the run ended) the fingerprint of every stage it ran or
skipped. Where a stamp lacks fingerprints they are read from the run's events in
``<base_dir>/logs/events.jsonl`` and, for the newest run, from the current stage manifests
(``<base_dir>/stages/*/manifest.json``).

Example:
    >>> d = diff_runs(Path("out/runs/A"), Path("out/runs/B"))  # doctest: +SKIP
    >>> [c.key for c in d.config if c.kind == "changed"]  # doctest: +SKIP
    ['training.lr']
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from standard_coder.runner.envstamp import STAMP_FILE, parse_time, read_env_stamp
from standard_coder.runner.jsonfile import read_json_object_or_none
from standard_coder.runner.layout import RunnerLayout

ChangeKind = Literal["added", "removed", "changed"]

_MISSING: Any = object()

# Environment fields compared one by one (package versions are compared separately).
ENV_FIELDS: tuple[str, ...] = (
    "config_hash",
    "env_hash",
    "python_version",
    "platform",
    "architecture",
    "device_kind",
    "device_name",
    "seed",
    "precision",
    "executor",  # where ctx.map's items ran: a local pool or a Dask cluster (session 60)
)


class RunNotFound(FileNotFoundError):
    """A run folder or its env stamp is missing or unreadable (the message says which)."""


@dataclass(frozen=True)
class Change:
    """One difference: ``a`` is the value in run A, ``b`` in run B (``None`` when absent)."""

    key: str
    kind: ChangeKind
    a: Any = None
    b: Any = None


@dataclass(frozen=True)
class RunDiff:
    """What differs between run A and run B.

    Attributes:
        run_a, run_b: run ids.
        config: changed, added (only in B) and removed (only in A) dotted config keys.
        packages: key package versions that differ.
        environment: env stamp fields that differ (hashes, python, platform, device, seed...).
        code: code version fields that differ (git commit, dirty flag, package version).
        stages: stage fingerprints that differ, or stages present in one run only.
        fingerprint_sources: where each run's fingerprints were read from.
    """

    run_a: str
    run_b: str
    config: list[Change] = field(default_factory=list)
    packages: list[Change] = field(default_factory=list)
    environment: list[Change] = field(default_factory=list)
    code: list[Change] = field(default_factory=list)
    stages: list[Change] = field(default_factory=list)
    fingerprint_sources: tuple[str, str] = ("", "")

    @property
    def identical(self) -> bool:
        """True when nothing compared differs."""
        return not (self.config or self.packages or self.environment or self.code or self.stages)


def flatten(obj: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Yield ``(dotted.key, leaf)`` for nested mappings; lists are leaves."""
    if isinstance(obj, Mapping) and (obj or not prefix):
        for key in sorted(obj, key=str):
            yield from flatten(obj[key], f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix, obj


def diff_mappings(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[Change]:
    """Changes between two flat mappings, sorted by key."""
    out: list[Change] = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key, _MISSING), b.get(key, _MISSING)
        if va is _MISSING:
            out.append(Change(key, "added", None, vb))
        elif vb is _MISSING:
            out.append(Change(key, "removed", va, None))
        elif va != vb:
            out.append(Change(key, "changed", va, vb))
    return out


def resolve_run_dir(ref: str | Path, base_dir: Path | None = None) -> Path:
    """A run folder from a path or a run id (looked up in ``<base_dir>/runs/``).

    Raises:
        RunNotFound: no such folder, or it holds no env stamp.
    """
    path = Path(ref)
    candidates = [path]
    if base_dir is not None and not path.is_absolute():
        candidates.insert(0, RunnerLayout(Path(base_dir)).run_dir(str(ref)))
    for cand in candidates:
        if cand.is_dir():
            if not (cand / STAMP_FILE).is_file():
                raise RunNotFound(f"{cand}: no {STAMP_FILE} in this run folder")
            return cand
    where = " or ".join(str(c) for c in candidates)
    raise RunNotFound(f"run {str(ref)!r} not found: {where} is not a folder")


def _load_stamp(run_dir: Path) -> dict[str, Any]:
    try:
        return read_env_stamp(run_dir)
    except FileNotFoundError:
        raise RunNotFound(f"{run_dir / STAMP_FILE}: env stamp missing") from None
    except ValueError as exc:
        raise RunNotFound(str(exc)) from None


def _run_config(run_dir: Path, stamp: Mapping[str, Any]) -> Any:
    cfg = stamp.get("config")
    if cfg is None:
        for name in ("config.json", "resolved_config.json"):
            doc = read_json_object_or_none(run_dir / name)
            if doc is not None:
                return doc
    return cfg or {}


def _events_fingerprints(base_dir: Path, run_id: str) -> tuple[dict[str, str], set[str]]:
    """Fingerprints the run's events carry, and every stage its events name."""
    out: dict[str, str] = {}
    seen: set[str] = set()
    path = RunnerLayout(base_dir).events
    try:
        fh = path.open(encoding="utf-8", errors="replace")
    except OSError:
        return out, seen
    with fh:
        for line in fh:
            if run_id not in line:
                continue
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if not isinstance(ev, dict) or ev.get("run_id") != run_id:
                continue
            fp, stage = ev.get("fingerprint"), ev.get("stage")
            if isinstance(stage, str) and ev.get("event") in (
                "stage_skipped",
                "stage_running",
                "stage_completed",
            ):
                seen.add(stage)
            if isinstance(fp, str) and isinstance(stage, str):
                out[stage] = fp
    return out, seen


def _newest_run_id(base_dir: Path) -> str | None:
    best: tuple[float, str] | None = None
    runs = RunnerLayout(base_dir).runs
    if not runs.is_dir():
        return None
    for d in runs.iterdir():
        try:
            stamp = read_env_stamp(d)
        except (OSError, ValueError):
            continue
        t = parse_time(stamp.get("started_at"))
        if t is not None and (best is None or t > best[0]):
            best = (t, d.name)
    return best[1] if best else None


def _manifest_fingerprints(base_dir: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for p in sorted(RunnerLayout(base_dir).stages.glob("*/manifest.json")):
        doc = read_json_object_or_none(p)
        if doc is not None and isinstance(doc.get("fingerprint"), str):
            out[str(doc.get("stage") or p.parent.name)] = doc["fingerprint"]
    return out


def stage_fingerprints(run_dir: Path, stamp: Mapping[str, Any]) -> tuple[dict[str, str], str]:
    """A run's stage fingerprints and where they came from (stamp, events, manifests, none)."""
    recorded = stamp.get("stage_fingerprints")
    if isinstance(recorded, Mapping) and recorded:
        return {str(k): str(v) for k, v in recorded.items()}, "env stamp"
    base_dir = RunnerLayout.of_run_dir(run_dir).base_dir
    run_id = str(stamp.get("run_id") or run_dir.name)
    from_events, seen = _events_fingerprints(base_dir, run_id)
    newest = _newest_run_id(base_dir) == run_id
    missing = seen - set(from_events)
    if missing and newest:
        # Skipped stages matched their manifest's fingerprint, which is still current.
        current = _manifest_fingerprints(base_dir)
        from_events.update({k: current[k] for k in missing if k in current})
        return from_events, "events.jsonl + current manifests"
    if from_events:
        return from_events, "events.jsonl"
    if newest:
        found = _manifest_fingerprints(base_dir)
        if found:
            return found, "current manifests"
    return {}, "not recorded"


def diff_runs(run_dir_a: Path, run_dir_b: Path) -> RunDiff:
    """Compare two run folders (each must hold an ``env_stamp.json``).

    Raises:
        RunNotFound: a folder or its stamp is missing or unreadable.
    """
    stamps = []
    for d in (Path(run_dir_a), Path(run_dir_b)):
        if not d.is_dir():
            raise RunNotFound(f"{d}: run folder not found")
        stamps.append(_load_stamp(d))
    sa, sb = stamps
    cfg_a = dict(flatten(_run_config(Path(run_dir_a), sa)))
    cfg_b = dict(flatten(_run_config(Path(run_dir_b), sb)))
    fa, src_a = stage_fingerprints(Path(run_dir_a), sa)
    fb, src_b = stage_fingerprints(Path(run_dir_b), sb)
    env_a = {k: sa.get(k) for k in ENV_FIELDS}
    env_b = {k: sb.get(k) for k in ENV_FIELDS}
    code_a = sa.get("code_version") if isinstance(sa.get("code_version"), Mapping) else {}
    code_b = sb.get("code_version") if isinstance(sb.get("code_version"), Mapping) else {}
    return RunDiff(
        run_a=str(sa.get("run_id") or Path(run_dir_a).name),
        run_b=str(sb.get("run_id") or Path(run_dir_b).name),
        config=diff_mappings(cfg_a, cfg_b),
        packages=diff_mappings(sa.get("packages") or {}, sb.get("packages") or {}),
        environment=[c for c in diff_mappings(env_a, env_b) if c.kind == "changed"],
        code=diff_mappings(dict(code_a or {}), dict(code_b or {})),
        stages=diff_mappings(fa, fb),
        fingerprint_sources=(src_a, src_b),
    )
