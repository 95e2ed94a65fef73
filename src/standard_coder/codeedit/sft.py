"""Stage-0 / Stage-1 supervised fine-tuning with TRL's ``SFTTrainer`` (full or LoRA).

:func:`train_sft` loads a causal LM folder, trains it on conversational prompt/completion rows
(:mod:`standard_coder.codeedit.prompts`; loss on the completion only) and saves the result with
``save_pretrained`` (a LoRA adapter is merged first, so the next stage loads a plain model),
plus ``README.md`` (data and hyperparameters) and ``training.json``. Checkpoints and stop
requests go through the runner (:mod:`standard_coder.codeedit.hfresume`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from standard_coder.codeedit.hfresume import make_callback, run_trainer
from standard_coder.runner.trainclock import TrainingClock

if TYPE_CHECKING:
    from standard_coder.runner.context import TrainingCheckpointer


@dataclass(frozen=True)
class LoraOptions:
    """PEFT LoRA adapter settings (``enabled = False``: full fine-tune)."""

    enabled: bool = False
    r: int = 8
    alpha: int = 16
    dropout: float = 0.0
    target_modules: tuple[str, ...] = ("q_proj", "v_proj")


@dataclass(frozen=True)
class TrainOptions:
    """Hyperparameters shared by the SFT stages (and, in part, SRL)."""

    max_steps: int = 20
    batch_size: int = 4
    gradient_accumulation_steps: int = 1
    learning_rate: float = 1e-3
    lr_scheduler: str = "linear"
    warmup_steps: int = 0
    weight_decay: float = 0.0
    max_length: int = 512
    seed: int = 0
    logging_steps: int = 1
    lora: LoraOptions = field(default_factory=LoraOptions)
    # Extra ``TrainingArguments`` keys (bf16, gradient_checkpointing, deepspeed, ...).
    extra: dict[str, Any] = field(default_factory=dict)


def checkpointing_key(arguments: type | None = None) -> str:
    """The ``TrainingArguments`` field that switches activation (gradient) checkpointing:
    ``activation_checkpointing`` where the installed transformers has it (5.2x), else
    ``gradient_checkpointing`` (5.17 and before know no other: passing the new name failed
    Stage 0 with "unexpected keyword argument" on such a machine). ``arguments``: the class to
    read (default transformers' ``TrainingArguments``)."""
    import dataclasses

    if arguments is None:
        from transformers import TrainingArguments

        arguments = TrainingArguments
    names = {f.name for f in dataclasses.fields(arguments)}
    return (
        "activation_checkpointing"
        if "activation_checkpointing" in names
        else ("gradient_checkpointing")
    )


def training_arguments(opts: TrainOptions, output_dir: Path, device: str) -> dict[str, Any]:
    """The keyword arguments of TRL's ``SFTConfig`` / ``GRPOConfig`` common to both trainers.

    HF saving is off (the runner checkpoints), reporting off (we write TensorBoard ourselves),
    gradient checkpointing off unless ``extra`` turns it on (TRL's default is on).
    """
    args: dict[str, Any] = {
        "output_dir": str(output_dir),
        "max_steps": opts.max_steps,
        "per_device_train_batch_size": opts.batch_size,
        "gradient_accumulation_steps": opts.gradient_accumulation_steps,
        "learning_rate": opts.learning_rate,
        "lr_scheduler_type": opts.lr_scheduler,
        "warmup_steps": opts.warmup_steps,
        "weight_decay": opts.weight_decay,
        "seed": opts.seed,
        "data_seed": opts.seed,
        "logging_steps": opts.logging_steps,
        "save_strategy": "no",
        "report_to": "none",
        "disable_tqdm": True,
        checkpointing_key(): False,
        "use_cpu": device == "cpu",
        "dataloader_num_workers": 0,
    }
    args.update(opts.extra)
    return args


def peft_config(lora: LoraOptions) -> Any:
    if not lora.enabled:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
        target_modules=list(lora.target_modules), task_type="CAUSAL_LM",
    )  # fmt: skip


SUMMARY_KEY = "train_runtime"  # in the summary HF logs when ``train()`` ends, stopped or not


class TensorBoardLog:
    """HF log dicts -> TensorBoard scalars ``<prefix>/<key>`` in ``tb_dir`` (None: off).

    :meth:`start` opens the writer once it is known whether the training resumed, so the folder
    shows what a run that never stopped shows: a fresh training removes the curves of the
    model it replaces, and a training resumed at step N hides what the stopped run logged after
    N (logged again from here; N's own entry, logged before the stop, stays). The summary HF
    logs when a stopped ``train()`` returns is not the training's: it is left out (and the
    final summary's ``epoch``, the last step's again).
    """

    def __init__(self, tb_dir: Path | None, prefix: str) -> None:
        self.tb_dir, self.prefix = tb_dir, prefix
        self.writer: Any = None
        self.stopped = False

    def start(self, resumed_from: int | None = None) -> None:
        if self.tb_dir is None or self.writer is not None:
            return
        from torch.utils.tensorboard import SummaryWriter

        if not resumed_from:
            for old in Path(self.tb_dir).glob("events.out.tfevents.*"):
                old.unlink(missing_ok=True)
        purge = resumed_from + 1 if resumed_from else None
        self.writer = SummaryWriter(str(self.tb_dir), purge_step=purge)

    def __call__(self, step: int, logs: dict[str, float]) -> None:
        if self.tb_dir is None or (self.stopped and SUMMARY_KEY in logs):
            return
        self.start()
        for key, value in logs.items():
            if not (key == "epoch" and SUMMARY_KEY in logs):
                self.writer.add_scalar(f"{self.prefix}/{key}", value, step)
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def quiet(trainer: Any) -> None:
    """No per-step log dicts on stdout (the run log and TensorBoard have them)."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)


def save_final(trainer: Any, tokenizer: Any, out_dir: Path) -> None:
    """``save_pretrained`` of the trained model (a LoRA adapter merged into the base first)."""
    model = trainer.model
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)


def train_and_save(
    trainer: Any, tokenizer: Any, out_dir: Path, checkpointer: Any, log: Any, tb: TensorBoardLog
) -> tuple[int | None, list[dict[str, Any]], Any]:
    """Run a TRL ``trainer`` (quietly, resuming from ``checkpointer``), close its TensorBoard
    log ``tb``, save the final model to ``out_dir``: the SFT and SRL stages' common end.

    Returns:
        The step resumed from (None: a fresh start), the trainer's log history, and the
        trained model as it was before :func:`save_final` merged any LoRA adapter.

    Raises:
        TrainingInterrupted: a stop was requested (state checkpointed, nothing saved).
    """
    quiet(trainer)
    try:
        resumed = run_trainer(trainer, checkpointer, log, on_start=tb.start)
    finally:
        tb.close()
    history = [dict(h) for h in trainer.state.log_history]
    tuned = trainer.model
    save_final(trainer, tokenizer, out_dir)
    return resumed, history, tuned


def write_readme(out_dir: Path, title: str, doc: dict[str, Any]) -> None:
    """``README.md`` next to the weights: data, hyperparameters, figures."""
    from standard_coder.runner.atomic import atomic_write_text

    lines = [f"# {title}", "", f"Base model: `{doc.get('base_model')}`", ""]
    lines += ["## Data", ""]
    for source, n in sorted((doc.get("data") or {}).items()):
        lines.append(f"- {source}: {n} examples")
    lines += ["", "## Hyperparameters", "", "```json",
              json.dumps(doc.get("options"), indent=2, sort_keys=True), "```", ""]  # fmt: skip
    lines += ["## Result", ""]
    for key in ("steps", "first_loss", "last_loss", "mean_reward", "device", "parameters",
                "trainable_parameters"):  # fmt: skip
        if key in doc:
            lines.append(f"- {key}: {doc[key]}")
    # how the run went (wall time, resumed-from step) is not the model's: beside the folder
    lines += ["", f"How the run went: `../{out_dir.name}.run.json`."]
    atomic_write_text(out_dir / "README.md", "\n".join(lines) + "\n")


def losses(history: Sequence[dict[str, Any]]) -> list[tuple[int, float]]:
    return [(int(h["step"]), float(h["loss"])) for h in history if "loss" in h]


class MaxLengthTooShort(ValueError):
    """``max_length`` leaves no training example a completion token to learn from."""


def _check_kept(kept: int, given: int, max_length: int, warn: Callable[[str], None] | None) -> None:
    """TRL drops an example whose prompt alone fills ``max_length`` tokens (no completion token
    is left to learn from): say so through ``warn``, and refuse to train on none (TRL's own
    error there names a sampler, not the setting)."""
    if kept == 0:
        raise MaxLengthTooShort(
            f"max_length = {max_length} tokens leaves none of the {given} training examples a "
            "completion token to learn from (each prompt alone fills it): raise max_length"
        )
    if kept < given and warn is not None:
        warn(f"{given - kept} of {given} training examples dropped: their prompt alone fills "
             f"max_length = {max_length} tokens")  # fmt: skip


def train_sft(
    base_model: Path,
    rows: list[dict[str, Any]],
    out_dir: Path,
    opts: TrainOptions,
    *,
    device: str,
    work_dir: Path,
    checkpointer: TrainingCheckpointer | None = None,
    should_stop: Callable[[], bool] | None = None,
    tb_dir: Path | None = None,
    tb_prefix: str = "sft",
    log: Any = None,
    warn: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Fine-tune ``base_model`` on ``rows``; save to ``out_dir``; return the training summary.

    ``warn`` says what the user should know (examples dropped for ``max_length``); default
    ``log.warning`` when a ``log`` is given.

    Raises:
        TrainingInterrupted: a stop was requested (state checkpointed, nothing saved).
    """
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer  # type: ignore[attr-defined]

    from standard_coder.codeedit.lm import load_model

    clock = TrainingClock()  # the checkpoint it resumes from adds its seconds
    model, tokenizer = load_model(base_model, device)
    args = SFTConfig(
        **training_arguments(opts, work_dir, device),
        max_length=opts.max_length,
        completion_only_loss=True,
    )
    tb = TensorBoardLog(tb_dir, tb_prefix)
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=peft_config(opts.lora),
        callbacks=[make_callback(checkpointer, should_stop, tb, clock)],
    )
    said = warn or (log.warning if log is not None else None)
    _check_kept(len(trainer.train_dataset), len(rows), opts.max_length, said)  # type: ignore[arg-type]
    resumed, history, tuned = train_and_save(trainer, tokenizer, out_dir, checkpointer, log, tb)
    curve = losses(history)
    return {
        "base_model": str(base_model),
        "steps": int(trainer.state.global_step),
        "resumed_from_step": resumed,
        "first_loss": curve[0][1] if curve else None,
        "last_loss": curve[-1][1] if curve else None,
        "loss_curve": curve,
        "device": device,
        "parameters": sum(int(p.numel()) for p in tuned.parameters()),
        "trainable_parameters": sum(int(p.numel()) for p in tuned.parameters() if p.requires_grad),
        "train_seconds": round(clock.seconds(), 2),  # over all its runs
        "options": asdict(opts),
    }
