"""The forecasting examples the console-table tests render, and a title too long for a narrow
terminal (one place for tests/unit/test_forecast_table.py and test_cli_polish.py)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "forecasting"
SPRINT = EXAMPLES / "sprint_inputs.example.json"
HISTORY = EXAMPLES / "historical_outcomes.example.json"
LONG_TITLE = (
    "Migrate the settlement reconciliation job to the new ledger service without losing "
    "idempotency guarantees"
)
