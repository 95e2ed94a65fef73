"""Where the flagship pipeline's files live below ``[outputs] base_dir`` (one place for all).

Build (stage outputs), the stages, ``eval``, the forecast's model loader and the demo summary all
take their paths from :class:`SchLayout`. The layout depends on ``base_dir`` and the configured
predictor only, both of which a stage knows from its context (``ctx.base_dir``, ``ctx.params``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

EVALUATION_FILE = "sch_evaluation.json"


@dataclass(frozen=True)
class SchLayout:
    """The flagship's output paths.

    Attributes:
        base_dir: ``[outputs] base_dir``.
        predictor: ``[training] predictor`` (the model folder is named after it).
    """

    base_dir: Path
    predictor: str = "auto"  # [training] predictor's default (a test keeps them equal)

    @property
    def db(self) -> Path:
        """The mined history (``mine``)."""
        return self.base_dir / "raw" / "mined_commits.sqlite"

    @property
    def db_key(self) -> Path:
        """What the mined history holds for the stages that learn from it, as one digest
        (``mine``; ``sch.mining.content_key``): they read ``db`` through it."""
        return self.base_dir / "raw" / "mined_commits.key.json"

    @property
    def work_inference(self) -> Path:
        return self.base_dir / "models" / "work_inference"

    @property
    def labels(self) -> Path:
        return self.base_dir / "labels" / "work_labels.npz"

    @property
    def dataset(self) -> Path:
        return self.base_dir / "labels" / "datasets" / "coding_train.npz"

    @property
    def change_rep(self) -> Path:
        return self.base_dir / "features" / "change_rep"

    @property
    def commit_counts(self) -> Path:
        """Every mined commit's raw feature counts (``train_sch`` -> ``team_output``)."""
        return self.base_dir / "features" / "commit_counts.npz"

    @property
    def model(self) -> Path:
        return self.base_dir / "models" / self.predictor / "model.pt"

    @property
    def baseline(self) -> Path:
        return self.base_dir / "models" / "baseline_loc" / "model.pt"

    @property
    def reports(self) -> Path:
        return self.base_dir / "reports"

    @property
    def evaluation(self) -> Path:
        return self.reports / EVALUATION_FILE

    @property
    def team_output_csv(self) -> Path:
        """A team's output over time (``team_output``): week x author x repository."""
        return self.reports / "team_output.csv"

    @property
    def team_output_parquet(self) -> Path:
        return self.reports / "team_output.parquet"

    @property
    def team_output_people(self) -> Path:
        """Which addresses team output lists under one person (``team_output``; JSON)."""
        return self.reports / "team_output_people.json"

    @property
    def team_output_reapplied(self) -> Path:
        """The priced changes that re-apply an earlier one (``team_output``; JSON)."""
        return self.reports / "team_output_reapplied.json"

    @property
    def team_output_plots(self) -> Path:
        """Per-repository and per-author plots over time (a folder: ``reports/*.png`` are the
        evaluation's figures)."""
        return self.reports / "team_output"

    @property
    def tb(self) -> Path:
        return self.base_dir / "tb"

    @property
    def forecasts(self) -> Path:
        return self.base_dir / "forecasts"

    @property
    def eval_runs(self) -> Path:
        """``standard-coder eval`` results, one folder per evaluation."""
        return self.base_dir / "eval"

    def train_outputs(self) -> dict[str, Path]:
        """The ``train_sch`` stage's outputs by name (the order is the declared order)."""
        return {
            "work_inference": self.work_inference,
            "labels": self.labels,
            "dataset": self.dataset,
            "change_rep": self.change_rep,
            "commit_counts": self.commit_counts,
            "model": self.model,
            "baseline": self.baseline,
            "evaluation": self.evaluation,
        }
