"""Atomic writes for forecasting outputs: the runner's, with the forecast JSON layout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from standard_coder.runner.atomic import atomic_write

__all__ = ["atomic_write", "atomic_write_json"]


def atomic_write_json(path: Path, data: Any) -> Path:
    """Write ``data`` as indented JSON in its own key order (trailing newline) atomically."""
    from standard_coder.runner.atomic import atomic_write_json as write_json

    return write_json(path, data, indent=2, sort_keys=False)
