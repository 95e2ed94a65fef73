"""Pick the torch device: ``auto`` prefers CUDA, then MPS, then CPU; an explicit choice that is
not available falls back along the same order and says why.

Example:
    >>> device, reason = resolve_device("cuda")
    >>> if reason: log.warning(reason)   # "cuda requested but not available; using cpu"
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

__all__ = [
    "DEVICE_CHOICES",
    "DeviceAnswer",
    "accelerator_name",
    "available_devices",
    "gpu_nodes",
    "machine_key",
    "resolve_device",
    "resolve_device_cached",
]

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")
_ORDER = ("cuda", "mps", "cpu")


def _no_accelerator_possible(device: str) -> bool:
    """True when ``device`` cannot exist here, decided without importing torch (~1 s).

    Only used while torch is not imported yet: MPS exists on macOS alone; CUDA (or ROCm) needs a
    torch build that is not ``+cpu`` and a GPU driver's device nodes.
    """
    if "torch" in sys.modules:
        return False
    if device == "mps":
        return sys.platform != "darwin"
    if device == "cuda" and sys.platform.startswith("linux"):
        version = _torch_version()
        if version is None or version.endswith("+cpu"):
            return True
        gpu_nodes = ("/dev/nvidia0", "/proc/driver/nvidia/version", "/dev/kfd")
        return not any(os.path.exists(p) for p in gpu_nodes)
    return False


@functools.lru_cache(maxsize=1)
def _torch_version() -> str | None:
    """The installed torch's version (``2.13.0+cpu``), read from its metadata, not imported."""
    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return None


def _torch() -> ModuleType:
    import torch

    return torch


def _is_available(device: str) -> bool:
    if device == "cpu":
        return True
    if _no_accelerator_possible(device):
        return False
    torch = _torch()
    if device == "cuda":
        return bool(torch.cuda.is_available())
    if device == "mps":
        mps = getattr(torch.backends, "mps", None)
        return bool(mps is not None and mps.is_available())
    return False


def available_devices() -> list[str]:
    """Usable devices on this machine, best first (always ends with ``cpu``)."""
    return [d for d in _ORDER if _is_available(d)]


def resolve_device(preference: str) -> tuple[str, str | None]:
    """Resolve a device preference to a usable device.

    Args:
        preference: ``auto``, ``cpu``, ``cuda`` (``cuda:N`` accepted) or ``mps``.

    Returns:
        ``(device, reason)``: ``reason`` is None when the preference was met (or was ``auto``),
        else a sentence for the log, e.g. ``"cuda requested but not available; using cpu"``.

    Raises:
        ValueError: an unknown preference.
    """
    pref = preference.strip().lower()
    base = pref.split(":", 1)[0]
    if base not in DEVICE_CHOICES or (":" in pref and base != "cuda"):
        raise ValueError(
            f"unknown device {preference!r}; expected one of {', '.join(DEVICE_CHOICES)}"
        )
    if base == "auto":
        return available_devices()[0], None
    if _is_available(base):
        if ":" in pref:
            index = int(pref.split(":", 1)[1])
            count = _torch().cuda.device_count()
            if index >= count:
                return "cuda", f"{pref} requested but only {count} CUDA device(s); using cuda"
        return pref, None
    fallback = next(d for d in _ORDER if d != base and _is_available(d))
    return fallback, f"{base} requested but not available; using {fallback}"


#: Environment variables that change which accelerators torch sees.
_DEVICE_ENV = (
    "CUDA_VISIBLE_DEVICES",
    "NVIDIA_VISIBLE_DEVICES",
    "CUDA_DEVICE_ORDER",
    "HIP_VISIBLE_DEVICES",
    "ROCR_VISIBLE_DEVICES",
    "PYTORCH_ENABLE_MPS_FALLBACK",
)


_GPU_NODE = re.compile(r"nvidia\d+|nvidiactl|kfd|renderD\d+")
"""Device nodes that say which GPUs a machine has: one per NVIDIA GPU, the control node, AMD's
compute node and render nodes. Not ``nvidia-uvm``, ``nvidia-uvm-tools``, ``nvidia-modeset`` or
``nvidia-caps``: the driver may make those when a process first uses CUDA, and a key that moved
with them would make the first no-op rerun after a fresh boot ask torch again."""


def gpu_nodes(names: Iterable[str]) -> list[str]:
    """The names among ``names`` (a ``/dev`` listing) that :func:`machine_key` counts, sorted."""
    return sorted(n for n in names if _GPU_NODE.fullmatch(n))


def machine_key(preference: str) -> str:
    """A digest of what decides :func:`resolve_device`'s answer, read without torch: the
    preference, platform, torch build, the device-visibility environment variables, the GPU
    device nodes (:func:`gpu_nodes`) and the NVIDIA driver version."""
    parts = [preference.strip().lower(), sys.platform, _torch_version() or "no torch"]
    parts += [f"{name}={os.environ.get(name)}" for name in _DEVICE_ENV]
    for folder in ("/dev", "/dev/dri"):
        with contextlib.suppress(OSError):
            parts += gpu_nodes(os.listdir(folder))
    with contextlib.suppress(OSError):
        parts.append(Path("/proc/driver/nvidia/version").read_text(errors="replace"))
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


class DeviceAnswer(NamedTuple):
    """What :func:`resolve_device_cached` found: the device, why it is not the one asked for
    (None: it is), whether torch checked it now (False: a stored answer), and the GPU's name
    stored with a CUDA answer (None otherwise)."""

    device: str
    reason: str | None
    verified: bool
    name: str | None = None


def resolve_device_cached(
    preference: str, cache_file: Path | None, *, write: bool = True
) -> DeviceAnswer:
    """:func:`resolve_device` without importing torch when an earlier answer still holds.

    Deciding whether CUDA or MPS is usable needs torch (seconds on a GPU machine), which a
    no-op rerun must not pay. When that question needed torch, the answer is stored in
    ``cache_file`` under :func:`machine_key`; while the key is unchanged, the stored answer is
    returned and torch is not imported. Where the answer needs no torch (no accelerator can
    exist here, torch stays unimported) nothing is stored.

    Returns:
        A :class:`DeviceAnswer`: ``verified`` is False for a stored answer (a stage about to
        run confirms it with :func:`resolve_device`), which comes with the GPU's name stored
        beside it (the file is read once).
    """
    key = machine_key(preference) if cache_file is not None else ""
    if key and cache_file is not None and "torch" not in sys.modules:
        try:
            entry = json.loads(cache_file.read_text()).get(key)
        except (OSError, ValueError, AttributeError):
            entry = None
        found = entry.get("device") if isinstance(entry, dict) else None
        # a CUDA answer holds with its GPU's name (the run's env stamp says it: asking torch
        # for it cost a no-op rerun 3-5 s on an H100 machine); one stored without is asked again
        named = not str(found).startswith("cuda") or isinstance(entry.get("name"), str)
        if isinstance(found, str) and (found in _ORDER or found.startswith("cuda:")) and named:
            reason, name = entry.get("reason"), entry.get("name")
            return DeviceAnswer(
                found,
                reason if isinstance(reason, str) else None,
                False,
                name if isinstance(name, str) else None,
            )
    device, reason = resolve_device(preference)
    if key and write and cache_file is not None and "torch" in sys.modules:
        store_device(cache_file, key, device, reason)
    return DeviceAnswer(device, reason, True)


def accelerator_name(device: str) -> str | None:
    """The GPU's name for a ``cuda`` device when torch is already imported (``None``
    otherwise: naming it is not worth importing torch)."""
    if not device.startswith("cuda") or "torch" not in sys.modules:
        return None
    try:
        index = int(device.split(":", 1)[1]) if ":" in device else 0
        return str(_torch().cuda.get_device_name(index))
    except Exception:  # no driver after all: nothing to name
        return None


def store_device(cache_file: Path, key: str, device: str, reason: str | None) -> None:
    """Record a torch-checked answer for ``key``, with the GPU's name for a CUDA one (best
    effort: a read-only folder keeps none)."""
    tmp = cache_file.with_name(f"{cache_file.name}.{os.getpid()}.tmp")
    entry: dict[str, str | None] = {"device": device, "reason": reason}
    if (name := accelerator_name(device)) is not None:
        entry["name"] = name
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps({key: entry}))
        os.replace(tmp, cache_file)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
