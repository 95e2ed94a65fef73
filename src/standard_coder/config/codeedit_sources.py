"""The code-edit dataset sources by name: ``[codeedit] sources`` and the training mixes of
``[codeedit_train]`` name them (one list for both sections, imported by both)."""

from __future__ import annotations

from typing import Literal

SourceName = Literal[
    "commitpackft", "editpackft", "ocedataft", "canitedit", "smellycode", "synthetic"
]  # fmt: skip
ALL_SOURCES: list[SourceName] = [
    "commitpackft", "editpackft", "ocedataft", "canitedit", "smellycode", "synthetic"
]  # fmt: skip
