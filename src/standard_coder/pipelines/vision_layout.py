"""Where the vision pipeline's files live below ``[outputs] base_dir`` (one place for all)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

EVALUATION_FILE = "vision_evaluation.json"
TRAINING_FILE = "vision_training.json"
TRAINING_RUN_FILE = "vision_training.run.json"


@dataclass(frozen=True)
class VisionLayout:
    """The vision pipeline's output paths.

    Attributes:
        base_dir: ``[outputs] base_dir``.
        dataset: ``[vision] dataset`` (the prepared data folder is named after it).
    """

    base_dir: Path
    dataset: str = "digits"

    @property
    def data(self) -> Path:
        """``prepare``: ``index.json`` (and, for digits, ``images/*.png``)."""
        return self.base_dir / "data" / "vision" / self.dataset

    @property
    def index(self) -> Path:
        return self.data / "index.json"

    @property
    def model(self) -> Path:
        """``train``: the final weights with their metadata (what ``eval`` loads)."""
        return self.base_dir / "models" / "vision" / "model.pt"

    @property
    def reports(self) -> Path:
        return self.base_dir / "reports"

    @property
    def training(self) -> Path:
        """``train``: the eval history (curves) and the trained model's summary."""
        return self.reports / TRAINING_FILE

    @property
    def training_run(self) -> Path:
        """``train``: how the run went (``train_seconds``, ``resumed_from_step``), beside
        :attr:`training` and kept out of what ``evaluate`` reads (a private output), so a
        retrain with the same model reruns nothing after it."""
        return self.reports / TRAINING_RUN_FILE

    @property
    def evaluation(self) -> Path:
        """``evaluate``: test metrics."""
        return self.reports / EVALUATION_FILE

    @property
    def figures(self) -> Path:
        """``evaluate``: curves, confusion matrix and misclassified grid (PNG)."""
        return self.reports / "vision"

    @property
    def predictions(self) -> Path:
        """``predictions/<split>/predictions.jsonl`` + ``labelmap.json``."""
        return self.base_dir / "predictions"

    @property
    def tb(self) -> Path:
        return self.base_dir / "tb"

    @property
    def runs(self) -> Path:
        """One folder per train / evaluate / eval-only run: env_stamp.json, RETENTION.txt."""
        return self.base_dir / "vision_runs"

    @property
    def eval_runs(self) -> Path:
        """``standard-coder eval`` results, one folder per evaluation."""
        return self.base_dir / "eval"
