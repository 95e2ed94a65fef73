"""Comparing trained code-edit models, and the Stage-2 training report (Markdown, Jinja2).

- :func:`heldout_outcome` / :func:`summarize_heldout`: a model's ``<action>`` answer applied to a
  held-out record's ``pre``; exact match (whitespace-normalised) and similarity (difflib ratio)
  with its ``post``. An answer that does not parse or apply scores no match and similarity 0, as
  the evaluator scores an ``invalid_action``.
- :func:`best_model`: the model to keep, by CanItEdit pass@1, then held-out exact match, then
  held-out similarity (ties: the first, i.e. the simpler SFT-only model).
- :func:`open_issues`: the caveats the run records themselves show (a random model, SRL without
  learning signal, a CPU-only run, a resumed loss curve).
- :func:`render_stage2`: ``reports/training/stage2.md`` from those records
  (``templates/stage2.md.j2``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from difflib import SequenceMatcher
from typing import Any

from standard_coder.codeedit.actions import apply_action, parse_answer, validate_action
from standard_coder.codeedit.errors import CodeEditError


def _norm(code: str) -> str:
    return "\n".join(line.rstrip() for line in code.strip().splitlines())


def heldout_outcome(
    record_id: str, answer: str, pre: str, post: str, language: str
) -> dict[str, Any]:
    """``{id, status, exact_match, similarity}`` of one action answer on one held-out record."""
    try:
        action = parse_answer(answer).action
        validate_action(action)
        code = apply_action(action, pre, language)
    except CodeEditError as exc:  # why, in one line (e.g. ast-grep's own message)
        return {"id": record_id, "status": "invalid_action", "exact_match": False,
                "similarity": 0.0, "error": str(exc)[:500]}  # fmt: skip
    return {
        "id": record_id,
        "status": "no_change" if code == pre else "applied",
        "exact_match": _norm(code) == _norm(post),
        "similarity": round(SequenceMatcher(None, code, post).ratio(), 4),
    }


def summarize_heldout(outcomes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Exact-match rate, mean similarity and status counts over held-out outcomes."""
    n = len(outcomes)
    return {
        "records": n,
        "exact_match": round(sum(bool(o["exact_match"]) for o in outcomes) / n, 4) if n else None,
        "similarity": round(sum(float(o["similarity"]) for o in outcomes) / n, 4) if n else None,
        "statuses": dict(sorted(Counter(str(o["status"]) for o in outcomes).items())),
        "outcomes": list(outcomes),
    }


def _score(result: Mapping[str, Any]) -> tuple[float, float, float]:
    can, held = result.get("canitedit") or {}, result.get("heldout") or {}
    return (
        float(can.get("pass@1") or 0.0),
        float(held.get("exact_match") or 0.0),
        float(held.get("similarity") or 0.0),
    )


def best_model(results: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The best of ``{name: {canitedit, heldout}}`` (pass@1, exact match, similarity)."""
    best: str | None = None
    for name, result in results.items():
        if best is None or _score(result) > _score(results[best]):
            best = name
    return best


def best_reward_step(curve: Sequence[Sequence[float]]) -> tuple[int, float] | None:
    """``(step, reward)`` of the highest mean reward in an SRL reward curve (first on ties)."""
    best: tuple[int, float] | None = None
    for step, reward in curve:
        if best is None or reward > best[1]:
            best = (int(step), float(reward))
    return best


def open_issues(records: Mapping[str, Any]) -> list[str]:
    """Caveats read off the run records (``base``, ``stage0``, ``stage1``, ``srl``,
    ``validation``, ``evaluation``)."""
    out: list[str] = []
    base = records.get("base") or {}
    if base.get("kind") == "tiny-llama":
        out.append(
            f"The base model is a randomly initialised tiny Llama ({base.get('parameters')} "
            "parameters): the figures test the machinery, not the method."
        )
    val = records.get("validation") or {}
    if val and not val.get("success_rate"):
        out.append(
            f"The Stage-1 validator reproduced no dev edit (0 of {val.get('tasks')}; "
            f"statuses {val.get('statuses')})."
        )
    srl = records.get("srl") or {}
    seen, dropped = srl.get("seen_prompts"), srl.get("dropped_prompts")
    if seen and dropped == seen:
        out.append(
            f"Dynamic sampling dropped every SRL prompt ({dropped} of {seen}): all rollouts of "
            "each prompt scored the same, so SRL did not change the policy."
        )
    devices = {(records.get(k) or {}).get("device") for k in ("stage0", "stage1", "srl")}
    if devices <= {"cpu", None}:
        out.append("Trained on CPU only; no GPU run is recorded.")
    for key in ("stage0", "stage1", "srl"):
        resumed = (records.get(key) or {}).get("resumed_from_step")
        if resumed:
            out.append(
                f"{key} was interrupted and resumed from its checkpoint at step {resumed}: its "
                "weights and loss curve are those of an uninterrupted run."
            )
    ev = records.get("evaluation") or {}
    tasks = (ev.get("tasks") or {}).get("canitedit", 0)
    if ev and tasks < 20:
        out.append(f"Only {tasks} CanItEdit task(s) evaluated: pass@1 differences are noise.")
    return out


def render_stage2(**data: Any) -> str:
    """``templates/stage2.md.j2`` rendered with ``data`` (Markdown; nothing escaped)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("standard_coder.codeedit", "templates"),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["num"] = _num
    return env.get_template("stage2.md.j2").render(**data)


def _num(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
