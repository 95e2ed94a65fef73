"""Change features: token bag + surface counts, Python AST edits, LOC-only."""

from standard_coder.sch.features.raw_change import RawChange, extract_raw
from standard_coder.sch.features.representation import ChangeRepresentation, RepresentationMismatch

__all__ = ["ChangeRepresentation", "RawChange", "RepresentationMismatch", "extract_raw"]
