"""Runner errors: one base, one class per failure. Messages name the stage and path at fault.

A stage whose own code raises is not an error of the runner: the engine records it as a failed
:class:`~standard_coder.runner.outcome.StageOutcome` (exit 1, or 2 when the exception carries
``exit_code = 2``) and never raises it.
"""

from __future__ import annotations

from pathlib import Path


class RunnerError(Exception):
    """Base of every error the runner raises on purpose. ``exit_code`` is the CLI's exit status."""

    exit_code = 2


class PipelineDefinitionError(RunnerError):
    """The pipeline file or definition is invalid (unknown key, cycle, duplicate stage, ...)."""


class StageNotFound(RunnerError, KeyError):
    """A selected stage name does not exist."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "stage not found"


class UpstreamMissing(RunnerError):
    """A selected stage needs outputs of an upstream stage that are not there."""

    exit_code = 1


class RunLocked(RunnerError):
    """Another run holds the output folder's lock."""

    exit_code = 3


class CorruptStateError(RunnerError):
    """A state file (manifest, run state, hash cache, ledger, checkpoint) failed its checks."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class CheckpointNotFound(RunnerError):
    """A checkpoint that must exist does not (message names its path)."""


class RunInterrupted(Exception):
    """SIGINT/SIGTERM stopped the run between items or steps; rerun to resume."""

    def __init__(self, signum: int, detail: str = "") -> None:
        super().__init__(detail or "interrupted")
        self.signum = signum
        self.exit_code = 128 + signum


class InputMissing(RunnerError):
    """A declared input (file, folder or git repository) does not exist."""


class InputInvalid(RunnerError):
    """A selected stage's configured input cannot be used (``Stage.invalid_inputs``)."""


class DependencyMissing(RunnerError):
    """A selected stage needs a package that is not installed (checked before any stage runs)."""


class OutputMissing(RunnerError):
    """A stage finished without producing a declared output."""

    exit_code = 1
