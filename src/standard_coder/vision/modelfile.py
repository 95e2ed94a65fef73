"""The trained model file (``model.pt``): weights plus what is needed to rebuild the model.

``{"model": state_dict, "meta": {"model_type", "img_size", "channels", "labels", "steps"}}``,
loaded with ``torch.load(weights_only=True)``. A runner training checkpoint (``ckpt-*.pt``) holds
the same two keys in its ``state``, so ``eval`` accepts either.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch
from torch import nn

from standard_coder.runner.checkpoint import CHECKPOINT_FORMAT
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


def is_vision_checkpoint(path: Path) -> bool:
    """Whether ``path`` is a vision ``model.pt`` (or training checkpoint): a weights-only torch
    file with ``model`` and ``meta`` holding :data:`META_KEYS`. Reads no tensor data (the file
    is memory-mapped); False for anything unreadable or of another kind."""
    try:
        doc = torch.load(Path(path), map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # not a file, not torch's zip format, not weights-only: not ours
        return False
    return _model_and_meta(doc) is not None


def _model_and_meta(doc: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The weights and meta of a loaded ``model.pt`` or runner checkpoint (None: neither)."""
    if isinstance(doc, dict) and doc.get("format") == CHECKPOINT_FORMAT:
        doc = doc.get("state")  # the runner's envelope: step, fingerprint, state
    if not isinstance(doc, dict):
        return None
    meta, weights = doc.get("meta"), doc.get("model")
    if not isinstance(meta, dict) or not isinstance(weights, dict):
        return None
    return (weights, meta) if all(k in meta for k in META_KEYS) else None


def load_model(path: Path, device: str) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model of ``path`` on ``device`` (``map_location``), in eval mode.

    Raises:
        CheckpointError: missing, unreadable, or without the vision model's keys.
    """
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder, expected a model checkpoint file")
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        doc = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged or foreign file
        raise CheckpointError(
            f"{path}: not a readable weights-only torch checkpoint ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else 'no detail'}); a run of the pipeline "
            "trains it again"
        ) from None
    found = _model_and_meta(doc)
    if found is None:
        raise CheckpointError(
            f"{path}: not a vision model checkpoint (expected 'model' and 'meta' with "
            f"{', '.join(META_KEYS)})"
        )
    weights, meta = found
    try:
        model = build_model(
            str(meta["model_type"]),
            img_size=int(meta["img_size"]),
            channels=int(meta["channels"]),
            num_classes=len(meta["labels"]),
        )
        model.load_state_dict(weights)
    except (ValueError, RuntimeError, TypeError) as exc:
        raise CheckpointError(f"{path}: weights do not fit the model ({exc})") from None
    model.to(device).eval()
    return model, meta
