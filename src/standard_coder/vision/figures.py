"""PNG figures for the report: training curves, confusion matrix, misclassified images."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    import io

    from standard_coder.runner.atomic import atomic_write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    _plt().close(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_bytes(path, buf.getvalue())


def curves(history: Sequence[dict[str, float]], path: Path) -> Path:
    """Val accuracy and train/val loss against the step."""
    plt = _plt()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 3))
    steps = [h["step"] for h in history]
    ax1.plot(steps, [h["train_loss"] for h in history], marker="o", label="train loss")
    ax1.plot(steps, [h["val_loss"] for h in history], marker="o", label="val loss")
    ax1.set_xlabel("step")
    ax1.legend()
    ax2.plot(steps, [h["val_accuracy"] for h in history], marker="o", color="C2")
    ax2.set_xlabel("step")
    ax2.set_ylabel("val accuracy")
    return _save(fig, path)


def confusion(matrix: Sequence[Sequence[int]], labels: Sequence[str], path: Path) -> Path:
    plt = _plt()
    k = len(labels)
    fig, ax = plt.subplots(figsize=(max(3.0, 0.35 * k + 1.5),) * 2)
    ax.imshow(matrix, cmap="Blues")
    if k <= 20:
        ax.set_xticks(range(k), labels, rotation=90)
        ax.set_yticks(range(k), labels)
        for i in range(k):
            for j in range(k):
                if matrix[i][j]:
                    ax.text(j, i, str(matrix[i][j]), ha="center", va="center", fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    return _save(fig, path)


def misclassified(rows: Sequence[dict[str, Any]], path: Path, limit: int = 24) -> Path | None:
    """A grid of wrongly predicted images with ``true -> predicted``; None when none is wrong."""
    from PIL import Image

    wrong = [r for r in rows if r["ground_truth"]["label"] != r["prediction"]["label"]][:limit]
    if not wrong:
        return None
    plt = _plt()
    cols = min(8, len(wrong))
    nrows = (len(wrong) + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(1.2 * cols, 1.4 * nrows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, r in zip(axes.ravel(), wrong, strict=False):
        with Image.open(r["filepath"]) as im:
            ax.imshow(im.convert("RGB"))
        gt, pred = r["ground_truth"]["label"], r["prediction"]["label"]
        ax.set_title(f"{gt}→{pred}", fontsize=8)
    return _save(fig, path)
