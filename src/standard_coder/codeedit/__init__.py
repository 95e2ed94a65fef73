"""Code-edit pipeline domain: edit datasets, ast-grep actions, the SRL reward, the evaluator.

Public API::

    from standard_coder.codeedit import apply_action, srl_reward

Knows nothing of the CLI or the config schema (the pipeline wiring is in
``standard_coder.pipelines.codeedit*``). Heavy imports (``ast_grep_py``, ``yaml``) happen on use.
"""

from __future__ import annotations

from standard_coder.codeedit.actions import apply_action, parse_answer, validate_action
from standard_coder.codeedit.errors import (
    ActionApplyError,
    ActionParseError,
    ActionSchemaError,
    CodeEditError,
    SandboxRefused,
    SandboxTimeout,
)
from standard_coder.codeedit.reward import srl_reward

__all__ = [
    "ActionApplyError",
    "ActionParseError",
    "ActionSchemaError",
    "CodeEditError",
    "SandboxRefused",
    "SandboxTimeout",
    "apply_action",
    "parse_answer",
    "srl_reward",
    "validate_action",
]
