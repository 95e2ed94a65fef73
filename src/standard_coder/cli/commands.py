"""Registers every CLI command module on the app (import side effects only)."""

from standard_coder.cli import (  # noqa: F401
    config_cmd,
    demo,
    estimate_cmd,
    eval_cmd,
    forecast,
    pipeline,
    prior_cmd,
    runs,
    simulate_cmd,
    stages_cmd,
)
