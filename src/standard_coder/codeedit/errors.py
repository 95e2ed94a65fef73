"""Typed errors of the action language, the sandbox and the dataset readers."""

from __future__ import annotations


class CodeEditError(ValueError):
    """Base of every code-edit error (a bad input, never a bug): one line naming the cause."""


class ActionParseError(CodeEditError):
    """A model answer has no single ``<action>{json}</action>`` block, or its JSON is invalid."""


class ActionSchemaError(CodeEditError):
    """The action object breaks the action schema (type, language, mode, rule_yaml | cli)."""


class ActionApplyError(CodeEditError):
    """The action is well formed but cannot be applied (bad rule, pattern, ast-grep failure)."""


class SandboxRefused(ActionSchemaError):
    """A ``cli`` action is not allow-listed (program, subcommand, option, path, shell syntax)."""


class SandboxTimeout(ActionApplyError):
    """A sandboxed command ran past its time limit and was killed."""


class InputFileError(CodeEditError):
    """A file the config names (the completions file) cannot be read in its format: a bad
    input, so the run ends as a bad config does (exit 2, the line without a type name)."""

    exit_code = 2


class SourceError(CodeEditError):
    """A source file or folder cannot be read in its upstream format."""


class SandboxStopped(Exception):
    """A stop was requested while a sandboxed command ran: it was killed, nothing was scored
    (not a :class:`CodeEditError`: no input is at fault)."""
