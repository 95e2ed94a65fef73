"""The trained model file (``model.pt``): weights plus what is needed to rebuild the model.

``{"model": state_dict, "meta": {"model_type", "img_size", "channels", "labels", "steps"}}``,
loaded with ``torch.load(weights_only=True)``. A runner training checkpoint (``ckpt-*.pt``) has
the same two keys, so ``eval`` accepts either.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch
from torch import nn

from standard_coder.vision.models import build_model

META_KEYS = ("model_type", "img_size", "channels", "labels")


class CheckpointError(ValueError):
    """A model file is missing or not a vision checkpoint; the message names the path."""


def save_model(path: Path, model: nn.Module, meta: dict[str, Any]) -> Path:
    """Write ``model.pt`` atomically."""
    from standard_coder.runner.atomic import atomic_write_bytes

    buf = io.BytesIO()
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"model": state, "meta": meta}, buf)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_bytes(path, buf.getvalue())


def load_model(path: Path, device: str) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model of ``path`` on ``device`` (``map_location``), in eval mode.

    Raises:
        CheckpointError: missing, unreadable, or without the vision model's keys.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        doc = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged or foreign file
        raise CheckpointError(
            f"{path}: not a readable weights-only torch checkpoint ({type(exc).__name__})"
        ) from None
    meta = doc.get("meta") if isinstance(doc, dict) else None
    if not isinstance(meta, dict) or not all(k in meta for k in META_KEYS) or "model" not in doc:
        raise CheckpointError(
            f"{path}: not a vision model checkpoint (expected 'model' and 'meta' with "
            f"{', '.join(META_KEYS)})"
        )
    try:
        model = build_model(
            str(meta["model_type"]),
            img_size=int(meta["img_size"]),
            channels=int(meta["channels"]),
            num_classes=len(meta["labels"]),
        )
        model.load_state_dict(doc["model"])
    except (ValueError, RuntimeError, TypeError) as exc:
        raise CheckpointError(f"{path}: weights do not fit the model ({exc})") from None
    model.to(device).eval()
    return model, meta
