"""Registers every CLI command module on the app (import side effects only)."""
from standard_coder.cli import pipeline  # noqa: F401
