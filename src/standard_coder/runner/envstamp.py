"""Env stamps: what a run was made of (``<base_dir>/runs/<run_id>/env_stamp.json``).

An env stamp records everything needed to trust or compare a run: a hash of the resolved config,
the code version (git commit and dirty flag, or the package version), Python, platform, device,
the versions of the key packages, a hash of the whole installed-package list, seed, precision,
and the start and end time. Package versions are read from the installed distributions'
``*.dist-info`` folder names (the same list ``importlib.metadata`` gives, faster): nothing heavy
is imported, and stamping a run costs about 20 ms.

Example:
    >>> stamp = build_env_stamp(run_id="20260101-120000-ab12", config={"train": {"lr": 0.01}},
    ...     seed=42, device_kind="cpu", device_name="cpu", started_at=time.time(),
    ...     project_root=None)  # doctest: +SKIP
    >>> write_env_stamp(run_dir, stamp)  # doctest: +SKIP
    >>> finish_env_stamp(run_dir, time.time(), status="completed")  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import os
import platform
import re
import sys
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path, PurePath
from typing import Any

from standard_coder.runner.atomic import atomic_write_text
from standard_coder.runner.gitorigin import GIT_STATUS, git_env, origin_from_status, package_git_dir
from standard_coder.runner.jsonfile import JsonFileError, parse_json_object
from standard_coder.runner.pathstate import path_state as _path_state
from standard_coder.runner.records import STAMP_FILE as STAMP_FILE
from standard_coder.runner.records import end_stamp, iso, stamp_text
from standard_coder.runner.records import parse_time as parse_time

STAMP_SCHEMA_VERSION = 1

KEY_PACKAGES: tuple[str, ...] = (
    "torch",
    "numpy",
    "scikit-learn",
    "scipy",
    "pydantic",
    "typer",
    "rich",
    "numba",
    "matplotlib",
    "tensorboard",
)
"""Distributions whose versions every stamp lists (absent ones are recorded as ``None``)."""


# ---------------------------------------------------------------------------------------------
# canonical config hashing


def _json_default(obj: Any) -> Any:
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=lambda v: json.dumps(v, sort_keys=True, default=_json_default))
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, (datetime, date)):
        return obj.isoformat()
    if isinstance(obj, bytes):
        return obj.hex()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    dump = getattr(obj, "model_dump", None)  # pydantic models
    if callable(dump):
        return dump(mode="json")
    if isinstance(obj, Mapping):
        return dict(obj)
    raise TypeError(f"cannot put {type(obj).__name__} into canonical JSON")


def canonical_json(obj: Any) -> str:
    """``obj`` as canonical JSON: sorted keys, no whitespace, paths as strings."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default
    )


def config_hash(config: Any) -> str:
    """sha256 (hex) of the resolved config's canonical JSON; key order does not matter."""
    return hashlib.sha256(canonical_json(config).encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------------------
# packages and code version


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _scan_distributions(cache_file: Path | None = None) -> dict[str, str]:
    """:func:`_scan_installed`, reused from ``cache_file`` while no ``sys.path`` folder changed."""
    if cache_file is None:
        return _scan_installed()
    state = _path_state()
    try:
        cached = parse_json_object(Path(cache_file).read_bytes(), "package list cache")
    except (OSError, JsonFileError):
        cached = {}  # missing or unreadable cache: rescan
    if cached.get("path_state") == state and isinstance(cached.get("dists"), dict):
        return {str(k): str(v) for k, v in cached["dists"].items()}
    found = _scan_installed()
    try:
        from standard_coder.runner.atomic import atomic_write_json

        atomic_write_json(Path(cache_file), {"path_state": state, "dists": found})
    except OSError:
        pass
    return found


def _scan_installed() -> dict[str, str]:
    """Installed distributions as ``normalized-name -> version``, first on ``sys.path`` wins.

    Reads folder names (``name-version.dist-info``) rather than every METADATA file, which is
    ten times faster; only folders whose name carries no version (some ``.egg-info``) are
    opened through ``importlib.metadata``.
    """
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            it = os.scandir(entry or ".")
        except OSError:
            continue
        with it:
            for de in it:
                name = de.name
                if name.endswith(".dist-info"):
                    stem = name[: -len(".dist-info")]
                elif name.endswith(".egg-info"):
                    stem = name[: -len(".egg-info")]
                else:
                    continue
                dist_name, sep, rest = stem.partition("-")
                version = rest.split("-py", 1)[0] if sep else ""
                if not version:
                    import importlib.metadata  # rare: a folder name without a version

                    try:
                        meta = importlib.metadata.PathDistribution(Path(de.path))
                        dist_name, version = meta.metadata["Name"] or dist_name, meta.version
                    except Exception:  # unreadable metadata: record the name only
                        version = "unknown"
                found.setdefault(_normalize(dist_name), version)
    return found


def package_versions(names: tuple[str, ...] = KEY_PACKAGES) -> dict[str, str | None]:
    """Installed versions of ``names`` (``None`` for a missing distribution)."""
    installed = _scan_distributions()
    return {name: installed.get(_normalize(name)) for name in names}


def installed_packages() -> list[str]:
    """Every installed distribution as sorted, de-duplicated ``name==version`` lines."""
    return sorted(f"{name}=={version}" for name, version in _scan_distributions().items())


def env_hash(packages: list[str] | None = None) -> str:
    """sha256 (hex) of the sorted installed-package list (one ``name==version`` per line)."""
    lines = installed_packages() if packages is None else sorted(packages)
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


_GIT_STATUS = GIT_STATUS
_git_env = git_env


def _package_version() -> str:
    from standard_coder import __version__

    return __version__


def _code_dir(project_root: Path | None) -> Path | None:
    """The folder to ask git about, or None for an installed copy (no git call)."""
    if project_root is None:
        found = package_git_dir()
        return Path(found) if found is not None else None
    probe = Path(project_root)
    return probe if probe.is_dir() else probe.parent


_origin_from_status = origin_from_status


class CodeOriginProbe:
    """:func:`code_origin`, with its ``git status`` started now and read by :meth:`result`, so
    that the subprocess runs while the caller does other work (the engine's stat walk).

    Example:
        >>> probe = CodeOriginProbe()  # doctest: +SKIP
        >>> ...  # walk the inputs
        >>> probe.result()["source"]  # doctest: +SKIP
        'git'
    """

    def __init__(self, project_root: Path | None = None) -> None:
        import subprocess

        self._pkg_version = _package_version()
        self._result: dict[str, Any] | None = None
        self._proc: subprocess.Popen[str] | None = None
        root_dir = _code_dir(project_root)
        if root_dir is None:  # an installed copy is identified by its package version
            self._result = _origin_from_status(None, self._pkg_version)
            return
        try:
            self._proc = subprocess.Popen(
                ["git", "--no-optional-locks", "-C", str(root_dir), *_GIT_STATUS],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                env=_git_env(),
            )
        except (OSError, subprocess.SubprocessError):  # no git: the package version
            self._result = _origin_from_status(None, self._pkg_version)

    def result(self) -> dict[str, Any]:
        """The ``code_version`` entry (waits for ``git status``, at most 20 s)."""
        if self._result is None:
            import subprocess

            proc, self._proc = self._proc, None
            status: str | None = None
            if proc is not None:
                try:
                    out, _ = proc.communicate(timeout=20)
                    status = out if proc.returncode == 0 else None
                except (OSError, subprocess.SubprocessError):
                    proc.kill()
                    proc.communicate()
            self._result = _origin_from_status(status, self._pkg_version)
        return self._result

    def close(self) -> None:
        """Stop a ``git status`` nobody will read (a run that ended before its stamp)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()


def code_origin(project_root: Path | None = None) -> dict[str, Any]:
    """Where the running code came from: the env stamp's ``code_version`` entry (a stage's code
    version, the digest of its source files, is :func:`.fingerprint.code_version`).

    With ``project_root`` (a git checkout) or when this package's source file is tracked in a
    git checkout: ``{"source": "git", "git_commit", "git_dirty", "package_version"}``; the dirty
    flag counts changes to tracked files only (outputs and caches inside the checkout do not).
    Otherwise ``{"source": "package", "git_commit": None, "git_dirty": None, ...}``.
    """
    return CodeOriginProbe(project_root).result()


def device_name(kind: str) -> str:
    """A human name for a device: the GPU's name for ``cuda`` (torch is then already in use),
    the CPU model from ``/proc/cpuinfo`` (or ``platform.processor()``) otherwise."""
    if kind.startswith("cuda"):
        try:
            import torch

            index = int(kind.split(":", 1)[1]) if ":" in kind else 0
            return str(torch.cuda.get_device_name(index))
        except Exception:  # no driver, no torch: still stamp the run
            return "cuda (name unavailable)"
    if kind == "mps":
        return f"Apple GPU (mps) on {platform.machine()}"
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith(("model name", "hardware", "processor\t: arm")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


# ---------------------------------------------------------------------------------------------
# the stamp


def platform_string() -> str:
    """Like ``platform.platform()`` (``Linux-6.1.0-x86_64-with-glibc2.36``) without the
    ``uname -p`` subprocess that ``platform.uname()`` runs on Linux."""
    try:
        u = os.uname()
    except AttributeError:  # pragma: no cover - not POSIX
        return platform.platform()
    text = f"{u.sysname}-{u.release}-{u.machine}"
    try:
        libc = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (ValueError, OSError, AttributeError):
        libc = ""
    if libc.startswith("glibc "):
        text += f"-with-glibc{libc.split()[1]}"
    elif u.sysname == "Darwin":
        text = f"macOS-{platform.mac_ver()[0]}-{u.machine}"
    return text


def _iso(ts: float | datetime | str | None) -> str | None:
    """A time as an ISO-8601 UTC string (epoch seconds, aware/naive datetimes and strings)."""
    if ts is None:
        return None
    if isinstance(ts, str):
        return ts
    if isinstance(ts, datetime):
        dt = ts if ts.tzinfo else ts.replace(tzinfo=UTC)
        return dt.astimezone(UTC).isoformat(timespec="milliseconds")
    return iso(float(ts))


def build_env_stamp(
    *,
    run_id: str,
    config: Mapping[str, Any],
    seed: int | None,
    device_kind: str,
    device_name: str,
    precision: str = "fp32",
    started_at: float | datetime | str,
    project_root: Path | None = None,
    dist_cache: Path | None = None,
    code_version: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The env stamp of a run that starts now (pure apart from reading the environment).

    Args:
        run_id: the run's id (its folder name under ``runs/``).
        config: the resolved config (paths may be ``Path`` objects; they hash as strings).
        seed: the run seed.
        device_kind: ``cpu``, ``cuda``, ``mps``...
        device_name: a human name, e.g. ``NVIDIA H100 80GB HBM3`` or the CPU model.
        precision: ``fp32`` unless configured.
        started_at: start time (epoch seconds, datetime or ISO string).
        project_root: a git checkout whose commit is the code version; ``None`` = find the
            checkout this package lives in, if any.
        dist_cache: a JSON file caching the installed-package scan while no ``sys.path``
            folder changes (saves ~15 ms a run).
        code_version: :func:`code_origin`'s answer when the caller already has it (a
            :class:`CodeOriginProbe` started earlier); ``None`` = ask git now.
    """
    installed = _scan_distributions(dist_cache)
    packages = sorted(f"{name}=={version}" for name, version in installed.items())
    return {
        "schema_version": STAMP_SCHEMA_VERSION,
        "run_id": run_id,
        "config_hash": config_hash(config),
        "code_version": dict(code_version) if code_version else code_origin(project_root),
        "python_version": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "python_executable": sys.executable,
        "platform": platform_string(),
        "system": platform.system(),
        "architecture": platform.machine(),
        "device_kind": device_kind,
        "device_name": device_name,
        "packages": {name: installed.get(_normalize(name)) for name in KEY_PACKAGES},
        "env_hash": env_hash(packages),
        "n_installed_packages": len(packages),
        "seed": seed,
        "precision": precision,
        "started_at": _iso(started_at),
        "ended_at": None,
        "duration_s": None,
        "status": "running",
        "config": json.loads(canonical_json(config)),
    }


def write_env_stamp(run_dir: Path, stamp: Mapping[str, Any], *, durable: bool = True) -> Path:
    """Write ``stamp`` to ``<run_dir>/env_stamp.json`` atomically; returns the path."""
    path = Path(run_dir) / STAMP_FILE
    atomic_write_text(path, stamp_text(stamp), durable=durable)
    return path


def read_env_stamp(run_dir: Path) -> dict[str, Any]:
    """The stamp in ``run_dir``.

    Raises:
        FileNotFoundError: there is no stamp (another ``OSError``: it cannot be read).
        ValueError: the stamp is empty, not UTF-8, not JSON or not a JSON object (one line
            naming the file and the cause).
    """
    path = Path(run_dir) / STAMP_FILE
    try:
        return parse_json_object(path.read_bytes(), "env stamp")
    except JsonFileError as exc:
        raise ValueError(f"{path}: {exc}") from None


def finish_env_stamp(
    run_dir: Path,
    ended_at: float | datetime | str,
    *,
    status: str | None = None,
    stage_fingerprints: Mapping[str, str | None] | None = None,
    device_kind: str | None = None,
    device_name: str | None = None,
    stamp: Mapping[str, Any] | None = None,
    durable: bool = True,
) -> dict[str, Any]:
    """Record the end of a run in its stamp (atomically) and return the updated stamp.

    Args:
        run_dir: the run folder holding ``env_stamp.json``.
        ended_at: end time (epoch seconds, datetime or ISO string).
        status: final status (``completed``, ``failed``, ``interrupted``); kept if ``None``.
        stage_fingerprints: stage name -> fingerprint used by this run (``diff-runs`` compares
            them); merged into what the stamp already holds.
        device_kind, device_name: the device resolved during the run, when the stamp was
            written before any stage resolved it (kept if ``None``).
        stamp: the run's start stamp when it was never written (a run that ran no stage
            writes its stamp once, here); ``None`` = read it from ``run_dir``.
        durable: fsync the stamp (``False`` for a run that ran no stage: still atomic).
    """
    stamp = dict(stamp) if stamp is not None else read_env_stamp(run_dir)
    end_stamp(stamp, str(_iso(ended_at)), status)
    if device_kind is not None:
        stamp["device_kind"] = device_kind
    if device_name is not None:
        stamp["device_name"] = device_name
    if stage_fingerprints:
        merged = dict(stamp.get("stage_fingerprints") or {})
        merged.update(stage_fingerprints)
        stamp["stage_fingerprints"] = merged
    write_env_stamp(run_dir, stamp, durable=durable)
    return stamp
