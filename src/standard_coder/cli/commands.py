"""Registers every CLI command module on the app (import side effects only)."""
