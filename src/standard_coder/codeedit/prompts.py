"""Chat prompts for the two SFT stages and SRL, and the data mix.

Every example is a conversation: ``[system]`` the editing behaviour, ``[user]`` the instruction
and the code, ``[assistant]`` the target: the edited code (Stage 0) or an ``<action>`` block
(Stage 1 and SRL). Rows are TRL's conversational prompt/completion shape
(``{"prompt": [system, user], "completion": [assistant]}``); the model's chat template renders
them, so a real model's own template is used unchanged.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from typing import Any

from standard_coder.codeedit.records import EditRecord

SYSTEM_CODE = (
    "You edit code. Apply the user's instruction to their code and answer with the complete "
    "edited code only."
)
SYSTEM_ACTION = (
    "You edit code with ast-grep. Answer with one ast-grep action as JSON inside "
    "<action></action> that turns the user's code into the edited code."
)


def user_turn(instruction: str, code: str, language: str) -> str:
    """The ``[user]`` content: the instruction, then the code in a fenced block."""
    return f"{instruction.strip()}\n\n```{language}\n{code}```"


def action_answer(action: Mapping[str, Any]) -> str:
    """The ``[assistant]`` target of Stage 1: the action as compact JSON in ``<action>``."""
    return f"<action>{json.dumps(dict(action), ensure_ascii=False, sort_keys=True)}</action>"


def prompt_messages(rec: EditRecord, system: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": user_turn(rec.instruction, rec.pre, rec.language)},
    ]


def stage0_row(rec: EditRecord) -> dict[str, Any]:
    """instruction + pre-code -> post-code."""
    return {
        "prompt": prompt_messages(rec, SYSTEM_CODE),
        "completion": [{"role": "assistant", "content": rec.post or ""}],
    }


def stage1_row(rec: EditRecord) -> dict[str, Any]:
    """instruction + pre-code -> ``<action>`` block (records with ``metadata.gold_action``)."""
    return {
        "prompt": prompt_messages(rec, SYSTEM_ACTION),
        "completion": [
            {"role": "assistant", "content": action_answer(rec.metadata["gold_action"])}
        ],
    }


def srl_row(rec: EditRecord) -> dict[str, Any]:
    """A GRPO prompt with the teacher's action as an extra column for the reward."""
    return {
        "prompt": prompt_messages(rec, SYSTEM_ACTION),
        "teacher_action": json.dumps(rec.metadata["gold_action"], sort_keys=True),
    }


def has_action(rec: EditRecord) -> bool:
    return isinstance(rec.metadata.get("gold_action"), dict) and rec.post is not None


def mix(
    by_source: Mapping[str, Sequence[EditRecord]],
    weights: Mapping[str, float],
    total: int | None,
    seed: int,
) -> tuple[list[EditRecord], dict[str, int]]:
    """Draw a training set whose sources follow ``weights`` (normalised over the sources present).

    ``total`` None: as many examples as the sources hold in all (each source's share of that
    number is drawn from it, with repetition when it holds fewer). Sources with weight 0 or no
    records are left out. Returns the shuffled examples and the count drawn per source.
    """
    present = {s: w for s, w in weights.items() if w > 0 and by_source.get(s)}
    if not present:
        return [], {}
    size = total if total is not None else sum(len(by_source[s]) for s in present)
    norm = sum(present.values())
    rng = random.Random(seed)
    counts: dict[str, int] = {}
    names = sorted(present)
    for i, s in enumerate(names):
        share = present[s] / norm
        counts[s] = round(size * share) if i < len(names) - 1 else size - sum(counts.values())
    out: list[EditRecord] = []
    for s in names:
        pool = list(by_source[s])
        rng.shuffle(pool)
        out.extend(pool[i % len(pool)] for i in range(max(0, counts[s])))
    rng.shuffle(out)
    return out, counts
