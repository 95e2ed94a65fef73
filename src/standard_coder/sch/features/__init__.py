"""Change features: token bag + surface counts, Python AST edits, LOC-only."""

from standard_coder.sch.features.representation import (
    ChangeRepresentation,
    RawChange,
    RepresentationMismatch,
    extract_raw,
)

__all__ = ["ChangeRepresentation", "RawChange", "RepresentationMismatch", "extract_raw"]
