"""The ``vision`` pipeline's config: ``[pipeline]``, ``[outputs]``, ``[runner]``, ``[vision]``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from standard_coder.config.base import ConfigPath, StrictModel
from standard_coder.config.core import OutputsSection, PipelineSection, RunnerSection
from standard_coder.config.schema import (
    PipelineConfig,
    load_pipeline_config,
    validate_pipeline_config,
)


class VisionSection(StrictModel):
    """Image classification: data, model and training (steps-based, fp32)."""

    dataset: Literal["digits", "flowers-102"] = Field(
        "digits",
        description="digits = scikit-learn's shipped 8x8 scans (no download); flowers-102 = "
        "the Oxford layout (jpg/, imagelabels.mat, setid.mat) under data_dir",
    )
    data_dir: ConfigPath | None = Field(
        None, description="the Flowers-102 folder (dataset = flowers-102 only)"
    )
    val_fraction: float = Field(0.1, gt=0, lt=0.5, description="digits: share held out for val")
    test_fraction: float = Field(0.2, gt=0, lt=0.5, description="digits: share held out for test")
    tiny_train_subset: int | None = Field(
        None, ge=1, description="train on the first N training images only (smoke runs)"
    )
    tiny_infer_subset: int | None = Field(
        None, ge=1, description="evaluate the first N images of a split only (smoke runs)"
    )
    model_type: Literal["testing", "cnn"] = Field(
        "testing", description="testing = a ~5k-parameter ViT; cnn = a ~10k-parameter CNN"
    )
    img_size: int = Field(8, ge=4, le=512, description="images are resized to img_size^2")
    num_steps: int = Field(1500, ge=1, description="training steps")
    eval_every: int = Field(500, ge=1, description="evaluate on val every N steps (and at the end)")
    train_batch_size: int = Field(64, ge=1, description="images per training step")
    eval_batch_size: int = Field(64, ge=1, description="images per evaluation batch")
    learning_rate: float = Field(3e-3, gt=0, description="AdamW peak learning rate")
    weight_decay: float = Field(1e-4, ge=0, description="AdamW weight decay")
    warmup_steps: int = Field(100, ge=0, description="linear warmup, then cosine decay to 0")
    grad_clip: float = Field(1.0, ge=0, description="gradient-norm clip (0: off)")
    checkpoint_every: int = Field(250, ge=1, description="training checkpoint interval in steps")
    prefer_mps: bool = Field(
        True, description="use Apple's MPS when the runner's device resolves to it (else cpu)"
    )
    retention_days: int = Field(
        90, ge=0, description="TTL written to each run folder's RETENTION.txt"
    )

    @model_validator(mode="after")
    def _flowers_need_dir(self) -> VisionSection:
        if self.dataset == "flowers-102" and self.data_dir is None:
            raise ValueError("dataset = 'flowers-102' needs data_dir (the folder holding jpg/)")
        if self.model_type == "testing" and self.img_size % 2:
            raise ValueError("model_type = 'testing' needs an even img_size (2x2 patches)")
        return self


class VisionConfig(PipelineConfig):
    """``pipeline_config.toml`` for ``prepare -> train -> evaluate``."""

    pipeline: PipelineSection = Field(default_factory=lambda: PipelineSection(name="vision"))
    outputs: OutputsSection = Field(default_factory=OutputsSection)
    runner: RunnerSection = Field(default_factory=RunnerSection)
    vision: VisionSection = Field(default_factory=VisionSection)


def load_vision_config(path: Path, overrides: list[str] | None = None) -> VisionConfig:
    """Load and validate a vision pipeline file (relative paths from its folder).

    Raises:
        ConfigError: the file is missing, not TOML, or a key is unknown or has the wrong form.
    """
    return load_pipeline_config(VisionConfig, path, overrides, name="vision")


def validate_vision_config(data: dict[str, Any], path: Path) -> VisionConfig:
    """Validate a raw dict as if it had been read from ``path``."""
    return validate_pipeline_config(VisionConfig, data, path, name="vision")
