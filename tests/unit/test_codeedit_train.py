"""codeedit part 2 pieces without training: the data mix, the Stage-1 validator's judge, the
in-process tokenizer's chat template, and config -> trainer arguments for the large-model files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("transformers", reason="the codeedit extra (training part) is not installed")
pytest.importorskip("ast_grep_py", reason="the codeedit extra is not installed")

from standard_coder.codeedit import prompts
from standard_coder.codeedit.records import EditRecord
from standard_coder.codeedit.synth import builtin_snippets, generate
from standard_coder.codeedit.validator import DevTask, score_answers

LARGE = Path(__file__).resolve().parents[2] / "examples" / "codeedit_large"


def _rec(source: str, i: int) -> EditRecord:
    return EditRecord(
        id=f"{source}-{i}", source=source, instruction=f"edit {i}", instruction_style="commit",
        pre=f"x = {i}\n", post=f"x = {i + 1}\n", language="python", repo=None,
        license=None, tests=None, tags=[], metadata={},
    )  # fmt: skip


def test_mix_follows_the_weights_and_is_seeded() -> None:
    a, b = "commitpackft", "editpackft"
    pools = {a: [_rec(a, i) for i in range(3)], b: [_rec(b, i) for i in range(50)]}
    got, counts = prompts.mix(pools, {a: 0.6, b: 0.4, "ocedataft": 1.0}, 20, seed=1)
    assert counts == {a: 12, b: 8} and len(got) == 20  # a repeats; absent ocedataft left out
    again, _ = prompts.mix(pools, {a: 0.6, b: 0.4}, 20, seed=1)
    assert [r.id for r in got] == [r.id for r in again]
    _, all_counts = prompts.mix(pools, {a: 1.0, b: 0.0}, None, seed=1)
    assert all_counts == {a: 3}


def test_validator_scores_gold_actions_one_and_garbage_zero() -> None:
    mods = list(generate(builtin_snippets(), seed=0))[:8]
    tasks = [DevTask(str(i), m.instruction, m.pre, m.post, m.language) for i, m in enumerate(mods)]
    gold = [prompts.action_answer(m.action) for m in mods]
    assert score_answers(tasks, gold)["success_rate"] == 1.0
    garbage = ["", "no action here", "<action>{not json</action>", '<action>{"type": "x"}</action>',
               prompts.action_answer({"type": "ast_grep", "language": "python", "mode": "yaml",
                                      "rule_yaml": "rule:\n  pattern: nothing_matches_this($A)\n"
                                      "fix: y($A)\n"}), "x", "y", "z"]  # fmt: skip
    doc = score_answers(tasks, garbage)
    assert doc["success_rate"] == 0.0
    assert doc["statuses"]["unparseable"] == 7 and doc["statuses"]["no_change"] == 1


def test_tokenizer_trained_here_renders_the_chat_prompt_as_a_prefix() -> None:
    from standard_coder.codeedit.lm import TinyModelSpec, tiny_llama, train_tokenizer

    rec = _rec("commitpackft", 1)
    tok = train_tokenizer([rec.pre, rec.post or "", prompts.SYSTEM_CODE] * 5, vocab_size=320)
    row = prompts.stage0_row(rec)
    prompt = tok.apply_chat_template(row["prompt"], tokenize=False, add_generation_prompt=True)
    full = tok.apply_chat_template(row["prompt"] + row["completion"], tokenize=False)
    assert full.startswith(prompt) and prompt.startswith("<|system|>\nYou edit code.")
    assert tok.decode(tok(full)["input_ids"]) == full  # byte-level: lossless
    model = tiny_llama(TinyModelSpec(vocab_size=320), tok, seed=0)
    assert model.config.vocab_size == len(tok) and model.config.num_hidden_layers == 2


def test_large_model_config_assembles_trainer_arguments() -> None:
    import yaml

    from standard_coder.codeedit.sft import checkpointing_key, peft_config, training_arguments
    from standard_coder.config.codeedit import load_codeedit_config
    from standard_coder.pipelines.codeedit_train import train_options

    cfg = load_codeedit_config(LARGE / "pipeline_config.toml")
    t = cfg.codeedit_train
    assert t.base_model == Path("/models/Qwen3-14B")
    opts = train_options(t, t.stage0_steps, seed=7)
    args = training_arguments(opts, Path("/tmp/x"), "cuda")
    assert args["deepspeed"] == str(LARGE / "deepspeed_zero3.json")
    assert args["bf16"] is True and args[checkpointing_key()] is True
    assert args["use_cpu"] is False and args["save_strategy"] == "no"
    assert (args["max_steps"], args["gradient_accumulation_steps"]) == (2000, 16)
    assert (args["lr_scheduler_type"], args["learning_rate"], args["seed"]) == ("cosine", 2e-5, 7)
    lora = peft_config(opts.lora)
    assert lora.r == 64 and set(lora.target_modules) >= {"q_proj", "down_proj"}
    ds = json.loads(args["deepspeed"] and Path(args["deepspeed"]).read_text())
    assert ds["zero_optimization"]["stage"] == 3
    acc = yaml.safe_load((LARGE / "accelerate_deepspeed_zero3.yaml").read_text())
    assert acc["distributed_type"] == "DEEPSPEED" and acc["mixed_precision"] == "bf16"
    assert (LARGE / acc["deepspeed_config"]["deepspeed_config_file"]).exists()
    from trl import SFTConfig  # type: ignore[attr-defined]

    cpu = training_arguments(train_options(cfg.codeedit_train.model_copy(update={
        "bf16": False, "deepspeed_config": None}), 3, seed=0), Path("/tmp/x"), "cpu")  # fmt: skip
    assert SFTConfig(**cpu).max_steps == 3  # the assembled keys are real SFTConfig arguments


def test_checkpointing_is_switched_by_the_name_the_installed_transformers_knows() -> None:
    """transformers 5.2x names it ``activation_checkpointing``; 5.17 (a lent H100's image) only
    ``gradient_checkpointing``, where the new name failed Stage 0 on the GPU."""
    import dataclasses

    from transformers import TrainingArguments

    from standard_coder.codeedit.sft import checkpointing_key

    names = {f.name for f in dataclasses.fields(TrainingArguments)}
    assert checkpointing_key() in names

    @dataclasses.dataclass
    class Older:  # the fields of 5.17's TrainingArguments that matter here
        output_dir: str = ""
        gradient_checkpointing: bool = False

    @dataclasses.dataclass
    class Newer(Older):
        activation_checkpointing: bool = False

    assert checkpointing_key(Older) == "gradient_checkpointing"
    assert checkpointing_key(Newer) == "activation_checkpointing"


def test_a_max_length_that_leaves_no_completion_token_is_named(tmp_path: Path) -> None:
    """TRL drops an example whose prompt alone fills max_length; when that is every example
    the error names max_length (TRL's own names a sampler's num_samples=0)."""
    from standard_coder.codeedit.lm import TinyModelSpec, build_base_model
    from standard_coder.codeedit.sft import MaxLengthTooShort, TrainOptions, train_sft

    recs = [_rec("commitpackft", i) for i in range(3)]
    texts = [prompts.SYSTEM_CODE] + [f"{r.instruction}\n{r.pre}\n{r.post}" for r in recs]
    build_base_model(texts * 3, tmp_path / "base", TinyModelSpec(vocab_size=320), seed=0)
    rows = [prompts.stage0_row(r) for r in recs]
    opts = TrainOptions(max_steps=1, batch_size=1, max_length=16)
    with pytest.raises(MaxLengthTooShort, match="max_length = 16 tokens leaves none of the 3"):
        train_sft(tmp_path / "base", rows, tmp_path / "out", opts, device="cpu",
                  work_dir=tmp_path / "work")  # fmt: skip
    assert not (tmp_path / "out").exists()


def test_a_model_rebuilt_from_the_final_checkpoint_takes_no_extra_step(tmp_path: Path) -> None:
    """The model output removed after training ended: the stage resumes from the final runner
    checkpoint, and the rebuilt model is the trained one (HF's ``train()`` resumed at max_steps
    would take one step more)."""
    from safetensors.torch import load_file

    from standard_coder.codeedit.lm import TinyModelSpec, build_base_model
    from standard_coder.codeedit.sft import TrainOptions, train_sft
    from standard_coder.runner.checkpoint import Checkpointer

    recs = [_rec("commitpackft", i) for i in range(4)]
    texts = [prompts.SYSTEM_CODE] + [f"{r.instruction}\n{r.pre}\n{r.post}" for r in recs]
    build_base_model(texts * 3, tmp_path / "base", TinyModelSpec(vocab_size=320), seed=0)
    rows = [prompts.stage0_row(r) for r in recs]
    opts = TrainOptions(max_steps=3, batch_size=2)
    ck = Checkpointer(tmp_path / "ck", every_n_steps=2, background=False)

    def run(out: str) -> dict[str, object]:
        return train_sft(tmp_path / "base", rows, tmp_path / out, opts, device="cpu",
                         work_dir=tmp_path / "work", checkpointer=ck,
                         tb_dir=tmp_path / "tb")  # fmt: skip

    first, again = run("first"), run("again")
    assert first["resumed_from_step"] is None and again["resumed_from_step"] == 3
    assert again["steps"] == 3 and again["loss_curve"] == first["loss_curve"]  # every step
    want, got = (load_file(tmp_path / d / "model.safetensors") for d in ("first", "again"))
    assert all((got[k] == v).all() for k, v in want.items())


def test_a_resumed_sft_run_logs_num_tokens_from_where_it_stopped(tmp_path: Path) -> None:
    """TRL keeps its SFT token counter on the trainer, not in ``TrainerState``: a run stopped
    at step 2 and resumed logs the same ``num_tokens`` per step as one that never stopped."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from standard_coder.codeedit.hfresume import TrainingInterrupted
    from standard_coder.codeedit.lm import TinyModelSpec, build_base_model
    from standard_coder.codeedit.sft import TrainOptions, train_sft
    from standard_coder.runner.checkpoint import Checkpointer

    recs = [_rec("commitpackft", i) for i in range(4)]
    texts = [prompts.SYSTEM_CODE] + [f"{r.instruction}\n{r.pre}\n{r.post}" for r in recs]
    build_base_model(texts * 3, tmp_path / "base", TinyModelSpec(vocab_size=320), seed=0)
    rows = [prompts.stage0_row(r) for r in recs]
    opts = TrainOptions(max_steps=4, batch_size=2)

    def run(name: str, ck: Checkpointer, stop_after: int | None = None) -> list[float]:
        calls = iter(range(1, 100))
        try:
            train_sft(tmp_path / "base", rows, tmp_path / name, opts, device="cpu",
                      work_dir=tmp_path / f"work-{name}", checkpointer=ck,
                      should_stop=lambda: stop_after is not None and next(calls) >= stop_after,
                      tb_dir=tmp_path / f"tb-{name}")  # fmt: skip
        except TrainingInterrupted:
            return []
        acc = EventAccumulator(str(tmp_path / f"tb-{name}"))
        acc.Reload()
        return [e.value for e in acc.Scalars("sft/num_tokens")]

    want = run("ref", Checkpointer(tmp_path / "ck-ref", every_n_steps=2, background=False))
    ck = Checkpointer(tmp_path / "ck", every_n_steps=2, background=False)
    assert run("cut", ck, stop_after=2) == []  # stopped (checkpointed) at step 2
    got = run("cut", ck)
    assert len(want) == 4 and want[0] > 0 and got == want
