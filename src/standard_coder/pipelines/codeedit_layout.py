"""Where the codeedit pipeline's files live below ``[outputs] base_dir`` (one place for all)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

STATS_FILE = "dataset_stats.json"
EVAL_FILE = "codeedit_eval.json"
VALIDATION_FILE = "codeedit_validation.json"
MODELS_EVAL_FILE = "codeedit_models_eval.json"


@dataclass(frozen=True)
class CodeEditLayout:
    """The codeedit pipeline's output paths."""

    base_dir: Path

    @property
    def raw(self) -> Path:
        """``download = true``: one folder per source fetched from the hub."""
        return self.base_dir / "data" / "raw" / "codeedit"

    @property
    def ingested(self) -> Path:
        """``ingest``: ``<source>.jsonl`` candidates + ``rejects.json``."""
        return self.base_dir / "data" / "interim" / "codeedit" / "ingested"

    @property
    def normalized(self) -> Path:
        """``normalize``: ``<source>.jsonl`` valid, deduplicated records + ``rejects.json``."""
        return self.base_dir / "data" / "interim" / "codeedit" / "normalized"

    @property
    def rejects(self) -> Path:
        """``normalize``: what ingest and normalize left out, by reason (``stats`` reads it alone
        of the folder)."""
        return self.normalized / "rejects.json"

    @property
    def processed(self) -> Path:
        """``split``: ``{train,dev,test}/<source>.jsonl`` (part 2 trains on train/dev)."""
        return self.base_dir / "data" / "processed"

    def split(self, name: str) -> Path:
        """One split's folder of ``processed`` (``train``, ``dev``, ``test``): what a stage that
        reads that split alone declares (``Stage.reads``), so the other splits never rerun it."""
        return self.processed / name

    @property
    def reports(self) -> Path:
        return self.base_dir / "reports"

    @property
    def stats(self) -> Path:
        return self.reports / STATS_FILE

    @property
    def evaluation(self) -> Path:
        return self.reports / EVAL_FILE

    @property
    def models(self) -> Path:
        return self.base_dir / "models"

    @property
    def base_model(self) -> Path:
        """``base_model``: the tiny random Llama + its tokenizer (``save_pretrained``)."""
        return self.models / "base_tiny"

    @property
    def base_smollm2(self) -> Path:
        """``base_model`` with ``model = "smollm2"``: the de-quantised GGUF as a model folder."""
        return self.models / "base_smollm2"

    @property
    def sft_stage0(self) -> Path:
        return self.models / "sft_stage0"

    @property
    def sft_stage1(self) -> Path:
        return self.models / "sft_stage1_astgrep"

    @property
    def srl_stage2(self) -> Path:
        return self.models / "srl_stage2"

    @staticmethod
    def run_info(model_dir: Path) -> Path:
        """``models/<model>.run.json`` beside a trained model's folder: how the run went (wall
        time, the step it resumed from, prompt counts of this process), kept out of the folder
        the next stages read, so a bit-identical rebuild reruns nothing downstream."""
        return model_dir.with_name(f"{model_dir.name}.run.json")

    @property
    def validation(self) -> Path:
        """``validate_stage1``: success rate of generated actions on the dev tasks."""
        return self.reports / VALIDATION_FILE

    @property
    def tb(self) -> Path:
        """TensorBoard runs, one folder per training stage."""
        return self.base_dir / "tb" / "codeedit"

    @property
    def models_evaluation(self) -> Path:
        """``evaluate_models``: SFT-only vs SFT + SRL on CanItEdit and the held-out slice."""
        return self.reports / MODELS_EVAL_FILE

    @property
    def stage2_report(self) -> Path:
        """``stage2_report``: the Markdown training report generated from the run records."""
        return self.reports / "training" / "stage2.md"
