"""Registers every CLI command module on the app (import side effects only)."""

from standard_coder.cli import config_cmd, demo, forecast, pipeline, runs, simulate  # noqa: F401
