"""A failing ``ast-grep`` call says what failed in one line: the subcommand, its rule id or
pattern, the file, the exit and the tool's own stderr (causes included); never silence.

Every call here runs the real ``ast-grep`` binary in the sandbox.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("ast_grep_py", reason="the codeedit extra is not installed")

from standard_coder.codeedit.actions import apply_action
from standard_coder.codeedit.astgrep_cli import run_cli_action, scan_rule
from standard_coder.codeedit.compare import heldout_outcome
from standard_coder.codeedit.errors import ActionApplyError
from standard_coder.codeedit.sandbox import Limits

PRE = "print(1)\n" * 40
BAD_KIND = {"id": "bad-kind", "rule": {"kind": "no_such_kind"}, "fix": {"template": "y"}}


def test_a_rule_the_cli_rejects_gives_one_line_with_its_causes() -> None:
    with pytest.raises(ActionApplyError) as info:
        scan_rule(BAD_KIND, PRE, "python")
    msg = str(info.value)
    assert msg.startswith("ast-grep scan (rule bad-kind) on input.py: exit 8: ")
    assert "Cannot parse rule" in msg and "Kind `no_such_kind` is invalid" in msg  # the cause
    assert "\n" not in msg and "Help:" not in msg and "See also" not in msg


def test_a_call_killed_without_a_word_names_the_signal_and_the_limits() -> None:
    with pytest.raises(ActionApplyError) as info:
        run_cli_action("sg run -p 'print($A)' -r 'log($A)'", PRE, "python",
                       Limits(file_bytes=100))  # fmt: skip
    msg = str(info.value)
    assert msg.startswith("ast-grep run (pattern 'print($A)') on input.py: killed by SIGXFSZ")
    assert "nothing on stderr" in msg and "file_bytes=100" in msg and "\n" not in msg


def test_no_match_is_no_change_and_a_bad_pattern_is_an_error() -> None:
    assert run_cli_action("sg run -p 'zzz($A)' -r 'log($A)'", PRE, "python") == PRE  # exit 1
    with pytest.raises(
        ActionApplyError, match=r"pattern 'print\('\) on input.py: exit 0: .*ERROR node"
    ):
        run_cli_action("sg run -p 'print(' -r 'log($A)'", PRE, "python")


def test_a_models_failing_action_keeps_the_reason_in_its_outcome() -> None:
    import yaml

    action = {"type": "ast_grep", "language": "python", "mode": "yaml",
              "rule_yaml": yaml.safe_dump(BAD_KIND)}  # fmt: skip
    with pytest.raises(ActionApplyError, match="rule bad-kind"):
        apply_action(action, PRE, "python")
    answer = f"<action>{json.dumps(action)}</action>"
    out = heldout_outcome("r1", answer, PRE, PRE.replace("print", "log"), "python")
    assert out["status"] == "invalid_action"
    assert "ast-grep scan (rule bad-kind) on input.py: exit 8" in out["error"]
