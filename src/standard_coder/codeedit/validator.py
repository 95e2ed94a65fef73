"""Offline validator after Stage 1: generate an action per dev task, apply it, count successes.

A task succeeds when its answer parses as an ``<action>``, :func:`apply_action` applies it to
``pre``, and the result reproduces ``post`` (whitespace-normalised; for Python also AST-equal).
:func:`score_answers` is the judge (model-free: gold actions score 1.0, garbage 0.0);
:func:`generate_answers` is greedy decoding with the model's chat template.
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from standard_coder.codeedit.actions import apply_action, parse_answer, validate_action
from standard_coder.codeedit.errors import CodeEditError


@dataclass(frozen=True)
class DevTask:
    id: str
    instruction: str
    pre: str
    post: str
    language: str


def _norm(code: str) -> str:
    return "\n".join(line.rstrip() for line in code.strip().splitlines())


def same_code(got: str, want: str, language: str) -> bool:
    """Whitespace-normalised equality; for Python also equal ASTs."""
    if _norm(got) == _norm(want):
        return True
    if language == "python":
        try:
            return ast.dump(ast.parse(got)) == ast.dump(ast.parse(want))
        except (SyntaxError, ValueError):
            return False
    return False


def score_answer(task: DevTask, answer: str) -> str:
    """``success``, ``wrong_result``, ``no_change``, ``apply_failed`` or ``unparseable``."""
    try:
        action = parse_answer(answer).action
        validate_action(action)
    except CodeEditError:
        return "unparseable"
    try:
        got = apply_action(action, task.pre, task.language)
    except CodeEditError:
        return "apply_failed"
    if same_code(got, task.post, task.language):
        return "success"
    return "no_change" if got == task.pre else "wrong_result"


def score_answers(tasks: Sequence[DevTask], answers: Sequence[str]) -> dict[str, Any]:
    """Success rate and status counts of one answer per task."""
    statuses = [score_answer(t, a) for t, a in zip(tasks, answers, strict=True)]
    counts = Counter(statuses)
    return {
        "tasks": len(tasks),
        "success_rate": round(counts["success"] / len(tasks), 4) if tasks else 0.0,
        "statuses": dict(sorted(counts.items())),
        "outcomes": [
            {"task_id": t.id, "status": s, "answer": a[:500]}
            for t, s, a in zip(tasks, statuses, answers, strict=True)
        ],
    }


class GenerationStopped(Exception):
    """A stop was requested between two answers."""


def generate_answers(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[list[dict[str, str]]],
    *,
    max_new_tokens: int,
    device: str,
    should_stop: Callable[[], bool] | None = None,
) -> list[str]:
    """Greedy answers (the assistant turn only) for chat ``prompts``, one at a time.

    Raises:
        GenerationStopped: ``should_stop()`` (asked before each prompt) turned true.
    """
    import torch

    model.eval()
    out: list[str] = []
    with torch.no_grad():
        for messages in prompts:
            if should_stop is not None and should_stop():
                raise GenerationStopped(f"stopped after {len(out)} of {len(prompts)} answers")
            ids = tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
            )
            ids = {k: v.to(device) for k, v in ids.items()}
            gen = model.generate(
                **ids, max_new_tokens=max_new_tokens, do_sample=False,
                pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
            )  # fmt: skip
            new = gen[0, ids["input_ids"].shape[1] :]
            out.append(tokenizer.decode(new, skip_special_tokens=True))
    return out
