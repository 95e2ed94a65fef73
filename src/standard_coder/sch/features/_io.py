"""Atomic writes (the runner's) and pickle-free npz serialisation for the SCH artifacts."""

from __future__ import annotations

import io

from standard_coder.runner.atomic import atomic_write, atomic_write_bytes, atomic_write_text

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_text", "npz_bytes"]


def npz_bytes(**arrays: object) -> bytes:
    """Serialise arrays to uncompressed npz bytes (no pickled objects)."""
    import numpy as np

    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})  # type: ignore[arg-type]
    return buf.getvalue()
