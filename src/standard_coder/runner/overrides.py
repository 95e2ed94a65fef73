"""``--set key.path=value`` overrides: parsed as TOML values and applied to a raw config dict.

Shared by command-pipeline files (validated by the runner) and the flagship config (validated
by its pydantic schema afterwards). Standard library only.
"""

from __future__ import annotations

import tomllib
from typing import Any


class OverrideError(ValueError):
    """A ``--set`` argument is not of the form ``KEY.PATH=VALUE`` or names a non-table."""


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``a.b.c=value`` into a key path and a TOML-typed value (bare words stay strings).

    Example:
        >>> parse_override("train.lr=0.01")
        (['train', 'lr'], 0.01)
    """
    if "=" not in text:
        raise OverrideError(f"--set {text!r}: expected KEY.PATH=VALUE")
    key, raw = text.split("=", 1)
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise OverrideError(f"--set {text!r}: empty key")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return parts, value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``--set`` overrides to a raw config dict in place (validation comes afterwards)."""
    for text in overrides:
        parts, value = parse_override(text)
        node = data
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise OverrideError(f"--set {text!r}: '{part}' is not a table")
            node = child
        node[parts[-1]] = value
    return data
