"""The SRL reward: how close a student's action is to the teacher's, step by step.

``srl_reward(answer, teacher) = clip(0.7 * S_field + 0.3 * S_str, -0.2, 1.0)``, and ``-0.2`` when
the answer's action does not parse (no single ``<action>`` JSON object, a schema violation, a
``rule_yaml`` that is not YAML with a ``rule``, or a ``cli`` string the sandbox refuses).

Both actions are first brought to one canonical form, so that ``mode: cli`` and ``mode: yaml``
spelling the same rule compare equal in their rule and fix::

    {"language": ..., "mode": ..., "rules": [{"rule": {...}, "constraints": ..., "transform": ...,
     "utils": ..., "fix": ...}, ...]}

(``ast-grep run -p P -r R`` is the rule ``{"pattern": P}`` with ``fix: R``; ``notes``, ``id``,
``message`` and ``severity`` do not count.) Field scores, each in [0, 1]:

=========  ======  ==========================================================================
field      weight  score
=========  ======  ==========================================================================
language   0.10    1 if equal else 0
mode       0.10    1 if equal else 0
rule       0.50    over the union of leaf paths of the rule mappings (``rule``, ``constraints``,
                   ``transform``, ``utils``): difflib ratio of the two values where both have the
                   path, 0 where one lacks it; mean over paths; rules aligned by position, a
                   missing rule scores 0
fix        0.30    difflib ratio of the two ``fix`` texts (mappings as sorted JSON), by position
=========  ======  ==========================================================================

``S_str`` is difflib's ``SequenceMatcher.ratio()`` of the two canonical forms as sorted JSON (the
paper's sequence similarity). An identical action scores 1.0.
"""

from __future__ import annotations

import json
from difflib import SequenceMatcher
from typing import Any

from standard_coder.codeedit.actions import Action, load_rules, parse_answer, validate_action
from standard_coder.codeedit.errors import CodeEditError
from standard_coder.codeedit.sandbox import parse_cli

FORMAT_PENALTY = -0.2
WEIGHTS = {"language": 0.10, "mode": 0.10, "rule": 0.50, "fix": 0.30}
_RULE_PARTS = ("rule", "constraints", "transform", "utils")


def canonical(action: Action) -> dict[str, Any]:
    """The mode-independent form of a validated action (see the module docstring).

    Raises:
        CodeEditError: the rule text cannot be read (bad YAML, a refused ``cli``).
    """
    if action.mode == "cli":
        cmd = parse_cli(action.cli or "")
        if cmd.subcommand == "scan":
            docs = load_rules(cmd.options["--inline-rules"])
        else:
            rule: dict[str, Any] = {"pattern": cmd.options["--pattern"]}
            for opt in ("--selector", "--strictness"):
                if opt in cmd.options:
                    rule[opt.lstrip("-")] = cmd.options[opt]
            docs = [{"rule": rule, "fix": cmd.options.get("--rewrite")}]
    else:
        docs = load_rules(action.rule_yaml or "")
    rules = [{k: d[k] for k in (*_RULE_PARTS, "fix") if k in d} for d in docs]
    return {"language": action.language, "mode": action.mode, "rules": rules}


def _leaves(value: Any, path: str = "") -> dict[str, str]:
    if isinstance(value, dict):
        out: dict[str, str] = {}
        for k, v in value.items():
            out.update(_leaves(v, f"{path}/{k}"))
        return out
    if isinstance(value, list):
        out = {}
        for i, v in enumerate(value):
            out.update(_leaves(v, f"{path}[{i}]"))
        return out
    return {path: "" if value is None else str(value)}


def _ratio(a: str, b: str) -> float:
    return 1.0 if a == b else SequenceMatcher(None, a, b).ratio()


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def rule_score(student: dict[str, Any], teacher: dict[str, Any]) -> float:
    """Leaf-path similarity of two rules' mappings (``rule``, ``constraints``, ...)."""
    a = _leaves({k: student[k] for k in _RULE_PARTS if k in student})
    b = _leaves({k: teacher[k] for k in _RULE_PARTS if k in teacher})
    paths = set(a) | set(b)
    if not paths:
        return 1.0
    return sum(_ratio(a[p], b[p]) for p in paths if p in a and p in b) / len(paths)


def field_scores(student: dict[str, Any], teacher: dict[str, Any]) -> dict[str, float]:
    """Per-field scores of two canonical actions."""
    n = max(len(student["rules"]), len(teacher["rules"]))
    pairs = list(zip(student["rules"], teacher["rules"], strict=False))
    return {
        "language": float(student["language"] == teacher["language"]),
        "mode": float(student["mode"] == teacher["mode"]),
        "rule": sum(rule_score(s, t) for s, t in pairs) / n if n else 1.0,
        "fix": sum(_ratio(_text(s.get("fix")), _text(t.get("fix"))) for s, t in pairs) / n
        if n
        else 1.0,
    }


def srl_reward(student_answer: str, teacher_action: dict[str, Any]) -> float:
    """The step reward of a student answer against the teacher's action object.

    Raises:
        CodeEditError: the *teacher* action is invalid (a bug in the data, not in the student).
    """
    teacher = canonical(validate_action(teacher_action))
    try:
        student = canonical(validate_action(parse_answer(student_answer).action))
    except CodeEditError:
        return FORMAT_PENALTY
    fields = field_scores(student, teacher)
    s_field = sum(WEIGHTS[k] * v for k, v in fields.items())
    s_str = _ratio(json.dumps(student, sort_keys=True), json.dumps(teacher, sort_keys=True))
    return max(FORMAT_PENALTY, min(1.0, 0.7 * s_field + 0.3 * s_str))
