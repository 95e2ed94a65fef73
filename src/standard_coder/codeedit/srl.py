"""SRL (supervised RL on teacher steps) with TRL's ``GRPOTrainer`` and :func:`srl_reward`.

Each step of a verified teacher trajectory (:func:`synth.trajectory` chained codemods, kept by
:func:`synth.filter_steps`) becomes one prompt: the instruction, the teacher's earlier actions and
the current code; the reward of a rollout is its action's similarity to the teacher's action at
that step. **Dynamic sampling**: a prompt whose rollouts all score the same has advantage 0
everywhere and no learning signal; :class:`DynamicSamplingGRPOTrainer` drops it (its completion
tokens leave the loss and its token count), counts it, and logs the share dropped per step
(``dynamic_sampling/dropped_frac``). Checkpoints and stops go through the runner
(:mod:`standard_coder.codeedit.hfresume`), as for SFT.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from standard_coder.codeedit.hfresume import make_callback
from standard_coder.codeedit.prompts import SYSTEM_ACTION, action_answer, user_turn
from standard_coder.codeedit.records import EditRecord
from standard_coder.codeedit.reward import srl_reward
from standard_coder.runner.trainclock import TrainingClock

if TYPE_CHECKING:
    from standard_coder.runner.context import TrainingCheckpointer


@dataclass(frozen=True)
class SRLOptions:
    """GRPO settings for the SRL stage."""

    max_steps: int = 4
    num_generations: int = 4
    prompts_per_step: int = 2
    max_completion_length: int = 48
    learning_rate: float = 1e-4
    beta: float = 0.0
    temperature: float = 1.0
    seed: int = 0
    dynamic_sampling: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def step_rows(
    records: Sequence[EditRecord], steps: int, seed: int
) -> tuple[list[dict[str, Any]], Counter[str]]:
    """SRL prompts from teacher trajectories chained on each record's ``pre`` (kept steps only).

    Returns the rows (``prompt`` messages + ``teacher_action`` JSON) and the dropped-step counts.
    """
    from standard_coder.codeedit.synth import filter_steps, trajectory

    rows: list[dict[str, Any]] = []
    dropped: Counter[str] = Counter()
    seen: set[str] = set()
    for i, rec in enumerate(records):
        if rec.pre in seen:
            continue
        seen.add(rec.pre)
        mods = trajectory(rec.pre, rec.language, steps, seed=seed + i)
        kept, bad = filter_steps(
            {"pre": m.pre, "language": m.language, "action": m.action, "instruction": m.instruction}
            for m in mods
        )
        dropped.update(bad)
        history: list[str] = []
        for step in kept:
            previous = ""
            if history:
                previous = "Steps so far:\n" + "\n".join(history) + "\n\n"
            rows.append({
                "prompt": [
                    {"role": "system", "content": SYSTEM_ACTION},
                    {"role": "user", "content": previous + user_turn(
                        step["instruction"], step["pre"], step["language"])},
                ],
                "teacher_action": json.dumps(step["action"], sort_keys=True),
            })  # fmt: skip
            history.append(action_answer(step["action"]))
    return rows, dropped


def _text(completion: Any) -> str:
    if isinstance(completion, list):
        return str(completion[-1]["content"]) if completion else ""
    return str(completion)


def srl_reward_func(completions: list[Any], teacher_action: list[str], **_: Any) -> list[float]:
    """TRL ``reward_funcs`` signature around :func:`srl_reward`."""
    return [
        srl_reward(_text(c), json.loads(a))
        for c, a in zip(completions, teacher_action, strict=True)
    ]


srl_reward_func.__name__ = "srl_reward"
DROPPED = "dynamic_sampling/dropped_frac"


def trainer_class(dynamic_sampling: bool) -> type:
    """``GRPOTrainer``, or its dynamic-sampling subclass."""
    from trl import GRPOTrainer  # type: ignore[attr-defined]

    if not dynamic_sampling:
        return GRPOTrainer  # type: ignore[no-any-return]

    class DynamicSamplingGRPOTrainer(GRPOTrainer):  # type: ignore[misc]
        seen_prompts = 0
        dropped_prompts = 0
        _rewards: Any = None

        def _calculate_rewards(self, *args: Any, **kwargs: Any) -> Any:
            self._rewards = super()._calculate_rewards(*args, **kwargs)
            return self._rewards

        def _generate_and_score_completions(self, inputs: Any) -> Any:
            import torch

            out = super()._generate_and_score_completions(inputs)
            g = int(self.num_generations or 1)
            local = len(out["advantages"])
            start = self.accelerator.process_index * local
            rewards = torch.nan_to_num(self._rewards.sum(dim=1), nan=0.0)[start : start + local]
            groups = rewards.reshape(-1, g)
            flat = torch.isclose(groups, groups[:, :1], rtol=0.0, atol=1e-6).all(dim=1)
            mask = out["completion_mask"]
            mask.view(groups.shape[0], g, -1)[flat.to(mask.device)] = 0
            out["num_items_in_batch"] = self.accelerator.gather(mask.sum()).sum()
            self.seen_prompts += int(groups.shape[0])
            self.dropped_prompts += int(flat.sum())
            self._metrics["train"][DROPPED].append(float(flat.float().mean()))
            return out

    return DynamicSamplingGRPOTrainer


def train_srl(
    model_dir: Path,
    rows: list[dict[str, Any]],
    out_dir: Path,
    opts: SRLOptions,
    *,
    device: str,
    work_dir: Path,
    checkpointer: TrainingCheckpointer | None = None,
    should_stop: Callable[[], bool] | None = None,
    tb_dir: Path | None = None,
    log: Any = None,
) -> dict[str, Any]:
    """GRPO on the SRL prompts from the Stage-1 model; save to ``out_dir``; return the summary.

    Raises:
        TrainingInterrupted: a stop was requested (state checkpointed, nothing saved).
    """
    from datasets import Dataset
    from trl import GRPOConfig  # type: ignore[attr-defined]

    from standard_coder.codeedit.lm import load_model
    from standard_coder.codeedit.sft import TensorBoardLog, checkpointing_key, train_and_save

    clock = TrainingClock()  # the checkpoint it resumes from adds its seconds
    model, tokenizer = load_model(model_dir, device)
    args = GRPOConfig(
        output_dir=str(work_dir), max_steps=opts.max_steps,
        per_device_train_batch_size=opts.prompts_per_step * opts.num_generations,
        num_generations=opts.num_generations,
        max_completion_length=opts.max_completion_length,
        learning_rate=opts.learning_rate, beta=opts.beta, temperature=opts.temperature,
        seed=opts.seed, data_seed=opts.seed, logging_steps=1, save_strategy="no",
        report_to="none", disable_tqdm=True, use_cpu=device == "cpu", dataloader_num_workers=0,
        **{checkpointing_key(): False, **opts.extra},
    )  # fmt: skip
    tb = TensorBoardLog(tb_dir, "srl")
    cls = trainer_class(opts.dynamic_sampling)
    trainer = cls(
        model=model, reward_funcs=[srl_reward_func], args=args,
        train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
        callbacks=[make_callback(checkpointer, should_stop, tb, clock)],
    )  # fmt: skip
    resumed, history, _ = train_and_save(trainer, tokenizer, out_dir, checkpointer, log, tb)
    rewards = [(int(h["step"]), float(h["reward"])) for h in history if "reward" in h]
    dropped = [float(h[DROPPED]) for h in history if DROPPED in h]
    return {
        "base_model": str(model_dir),
        "steps": int(trainer.state.global_step),
        "resumed_from_step": resumed,
        "prompts": len(rows),
        "reward_curve": rewards,
        "mean_reward": round(sum(r for _, r in rewards) / len(rewards), 4) if rewards else None,
        # this process's counts (a resumed run counts from its resume); the per-step share
        # dropped is in the log history, which survives a resume
        "seen_prompts": getattr(trainer, "seen_prompts", None),
        "dropped_prompts": getattr(trainer, "dropped_prompts", None),
        "dropped_frac_per_step": dropped,
        "device": device,
        "train_seconds": round(clock.seconds(), 2),  # over all its runs
        "options": asdict(opts),
    }
