"""Evaluation and FiftyOne-importable predictions.

``predictions.jsonl`` holds one row per evaluated image::

    {"sample_id": 0, "split": "test", "step": 1500, "filepath": "/abs/images/00012.png",
     "ground_truth": {"label": "3"},
     "prediction": {"label": "3", "confidence": 0.98, "logits": [..]}}

``ground_truth`` and ``prediction`` are :class:`fiftyone.core.labels.Classification` fields, so
FiftyOne imports the file with one line (docs/vision.md)::

    ds = fo.Dataset(); ds.add_samples([fo.Sample(filepath=r["filepath"],
        ground_truth=fo.Classification(**r["ground_truth"]),
        prediction=fo.Classification(**r["prediction"])) for r in map(json.loads, open(p))])

``labelmap.json`` is ``{"labels": [...], "sha256": <sha256 of the labels' canonical JSON>}``;
:func:`load_labelmap` refuses a file whose checksum does not match.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from standard_coder.runner.jsonfile import read_json_object
from standard_coder.vision.data import ImageSplit

PREDICTIONS_FILE = "predictions.jsonl"
LABELMAP_FILE = "labelmap.json"


class LabelmapError(ValueError):
    """A labelmap file is missing, malformed or fails its checksum (the path is named)."""


@dataclass
class EvalResult:
    """Metrics of one evaluation and its prediction rows."""

    accuracy: float
    loss: float
    n: int
    per_class_accuracy: dict[str, float | None]
    confusion: list[list[int]]
    rows: list[dict[str, Any]] = field(default_factory=list)

    def metrics(self) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy,
            "loss": self.loss,
            "n": self.n,
            "per_class_accuracy": self.per_class_accuracy,
            "confusion_matrix": self.confusion,
        }


@torch.no_grad()
def evaluate(
    model: nn.Module,
    data: ImageSplit,
    *,
    batch_size: int,
    device: str,
    split: str,
    step: int,
    max_batches: int | None = None,
) -> EvalResult:
    """Accuracy, mean cross-entropy, per-class accuracy and one prediction row per image."""
    was_training = model.training
    model.eval()
    names = data.label_names
    k = len(names)
    confusion = torch.zeros((k, k), dtype=torch.int64)
    rows: list[dict[str, Any]] = []
    loss_sum, n = 0.0, 0
    try:
        for b, start in enumerate(range(0, len(data), batch_size)):
            if max_batches is not None and b >= max_batches:
                break
            x = data.images[start : start + batch_size].to(device)
            y = data.labels[start : start + batch_size]
            logits = model(x).float().cpu()
            loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
            probs = logits.softmax(dim=1)
            conf, pred = probs.max(dim=1)
            for i in range(len(y)):
                confusion[int(y[i]), int(pred[i])] += 1
                rows.append(
                    {
                        "sample_id": start + i,
                        "split": split,
                        "step": step,
                        "filepath": data.filepaths[start + i],
                        "ground_truth": {"label": names[int(y[i])]},
                        "prediction": {
                            "label": names[int(pred[i])],
                            "confidence": float(conf[i]),
                            "logits": [float(v) for v in logits[i]],
                        },
                    }
                )
            n += len(y)
    finally:
        model.train(was_training)
    per_class: dict[str, float | None] = {}
    for c, name in enumerate(names):
        total = int(confusion[c].sum())
        per_class[name] = int(confusion[c, c]) / total if total else None
    correct = int(confusion.diagonal().sum())
    return EvalResult(
        accuracy=correct / n if n else 0.0,
        loss=loss_sum / n if n else 0.0,
        n=n,
        per_class_accuracy=per_class,
        confusion=confusion.tolist(),
        rows=rows,
    )


def labels_sha256(labels: list[str]) -> str:
    """The labelmap checksum: sha256 of the labels as compact JSON."""
    return hashlib.sha256(json.dumps(labels, separators=(",", ":")).encode()).hexdigest()


def write_predictions(out_dir: Path, rows: list[dict[str, Any]], labels: list[str]) -> Path:
    """Write ``predictions.jsonl`` and ``labelmap.json`` into ``out_dir`` (atomically)."""
    from standard_coder.runner.atomic import atomic_write_json, atomic_write_text

    out_dir.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows)
    atomic_write_text(out_dir / PREDICTIONS_FILE, text)
    atomic_write_json(out_dir / LABELMAP_FILE, {"labels": labels, "sha256": labels_sha256(labels)})
    return out_dir / PREDICTIONS_FILE


def load_labelmap(path: Path) -> list[str]:
    """The labels of a ``labelmap.json``, after checking its checksum.

    Raises:
        LabelmapError: missing, not JSON, wrong shape or checksum mismatch.
    """
    doc = read_json_object(path, LabelmapError, "label map")
    labels = doc.get("labels")
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise LabelmapError(f"{path}: expected {{'labels': [str, ...], 'sha256': ...}}")
    if doc.get("sha256") != labels_sha256(labels):
        raise LabelmapError(f"{path}: sha256 does not match its labels (file altered?)")
    return labels
