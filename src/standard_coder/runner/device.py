"""Pick the torch device: ``auto`` prefers CUDA, then MPS, then CPU; an explicit choice that is
not available falls back along the same order and says why.

Example:
    >>> device, reason = resolve_device("cuda")
    >>> if reason: log.warning(reason)   # "cuda requested but not available; using cpu"
"""

from __future__ import annotations

import os
import sys
from importlib import metadata
from types import ModuleType

__all__ = ["DEVICE_CHOICES", "available_devices", "resolve_device"]

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
        try:
            if metadata.version("torch").endswith("+cpu"):
                return True
        except metadata.PackageNotFoundError:
            return True
        gpu_nodes = ("/dev/nvidia0", "/proc/driver/nvidia/version", "/dev/kfd")
        return not any(os.path.exists(p) for p in gpu_nodes)
    return False


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
