"""LOC-only representation for the baseline: lines added and deleted, nothing else."""

from __future__ import annotations

LOC_NAMES: tuple[str, ...] = ("lines_added", "lines_deleted")
"""The surface counts the LOC baseline keeps (``ChangeRepresentation(kind="loc")``)."""
