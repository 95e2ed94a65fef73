"""The ``codeedit`` pipeline's config: ``[pipeline]``, ``[outputs]``, ``[runner]``,
``[codeedit]``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from standard_coder.config.base import ConfigPath, StrictModel
from standard_coder.config.codeedit_sources import ALL_SOURCES, SourceName
from standard_coder.config.codeedit_train import CodeEditTrainSection
from standard_coder.config.core import OutputsSection, PipelineSection, RunnerSection
from standard_coder.config.schema import (
    PipelineConfig,
    load_pipeline_config,
    validate_pipeline_config,
)

LanguageName = Literal[
    "python", "javascript", "typescript", "java", "cpp", "c", "go", "rust", "other"
]


class CodeEditSection(StrictModel):
    """Code-edit datasets, the action language and the edit evaluator."""

    sources: list[SourceName] = Field(
        default_factory=lambda: list(ALL_SOURCES),
        description="sources to ingest (synthetic = ast-grep codemods on built-in snippets)",
    )
    commitpackft_path: ConfigPath | None = Field(
        None, description="CommitPackFT JSONL/parquet file or folder (unset: the shipped fixture)"
    )
    editpackft_path: ConfigPath | None = Field(
        None, description="EditPackFT parquet/JSONL file or folder (unset: the shipped fixture)"
    )
    ocedataft_path: ConfigPath | None = Field(
        None, description="OCEDataFT ShareGPT JSONL file or folder (unset: the shipped fixture)"
    )
    canitedit_path: ConfigPath | None = Field(
        None, description="CanItEdit rows with tests, JSONL/parquet (unset: the shipped fixture)"
    )
    smellycode_path: ConfigPath | None = Field(
        None, description="SmellyCode folder of before.*/after.* pairs (unset: the shipped fixture)"
    )
    download: bool = Field(
        False,
        description="fetch each source from the Hugging Face hub into data/raw first "
        "(offline: one warning line, the local files are used)",
    )
    hf_endpoint: str | None = Field(None, description="Hugging Face hub URL (unset: the default)")
    strict: bool = Field(False, description="fail ingest/normalize on any bad record")
    max_bytes: int = Field(200_000, ge=1, description="drop records whose pre+post exceed this")
    languages: list[LanguageName] = Field(
        default_factory=list, description="keep only these languages (empty: all)"
    )
    near_dup_threshold: float = Field(
        0.85, gt=0, le=1, description="Jaccard of (instruction, pre) 5-gram shingles for a near-dup"
    )
    dev_fraction: float = Field(0.15, ge=0, lt=0.5, description="share of repos held out for dev")
    test_fraction: float = Field(0.15, ge=0, lt=0.5, description="share of repos held out for test")
    completions: ConfigPath | None = Field(
        None,
        description="JSONL of {task_id, completion} (raw code or an <action> answer) to evaluate "
        "on the CanItEdit test tasks (unset: each task's reference post, a harness check)",
    )
    eval_timeout_s: float = Field(10.0, gt=0, description="per-completion time limit (seconds)")

    @model_validator(mode="after")
    def _fractions(self) -> CodeEditSection:
        if self.dev_fraction + self.test_fraction >= 0.9:
            raise ValueError("dev_fraction + test_fraction must stay below 0.9")
        if not self.sources:
            raise ValueError("sources: name at least one source")
        return self

    def source_path(self, source: str) -> Path | None:
        """The configured local path of ``source`` (None: the shipped fixture)."""
        value = getattr(self, f"{source}_path", None)
        return Path(value) if value is not None else None


class CodeEditConfig(PipelineConfig):
    """``pipeline_config.toml`` for ``ingest -> normalize -> split -> stats -> evaluate``."""

    pipeline: PipelineSection = Field(default_factory=lambda: PipelineSection(name="codeedit"))
    outputs: OutputsSection = Field(default_factory=OutputsSection)
    runner: RunnerSection = Field(default_factory=RunnerSection)
    codeedit: CodeEditSection = Field(default_factory=CodeEditSection)
    codeedit_train: CodeEditTrainSection = Field(default_factory=CodeEditTrainSection)


def load_codeedit_config(path: Path, overrides: list[str] | None = None) -> CodeEditConfig:
    """Load and validate a codeedit pipeline file (relative paths from its folder).

    Raises:
        ConfigError: the file is missing, not TOML, or a key is unknown or has the wrong form.
    """
    return load_pipeline_config(CodeEditConfig, path, overrides, name="codeedit")


def validate_codeedit_config(data: dict[str, Any], path: Path) -> CodeEditConfig:
    """Validate a raw dict as if it had been read from ``path``."""
    return validate_pipeline_config(CodeEditConfig, data, path, name="codeedit")
