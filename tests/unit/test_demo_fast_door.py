"""``standard-coder demo``'s Typer-free door: which arguments take it, and what it prints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from standard_coder.cli.demo_run import DEFAULTS, parse_fast


def test_plain_options_take_the_fast_door() -> None:
    assert parse_fast([]) == DEFAULTS
    got = parse_fast(["--output-dir", "d", "--size=tiny", "--log-format", "json"])
    assert got == {**DEFAULTS, "--output-dir": "d", "--size": "tiny", "--log-format": "json"}
    assert parse_fast(["--pipeline", "sch"]) == DEFAULTS


@pytest.mark.parametrize(
    "argv",
    [
        ["--pipeline", "vision"],  # other demos print their own summary (Typer's command)
        ["--output-dir"],  # a missing value: Typer says so
        ["--size", "--log-level", "info"],
        ["--unknown", "x"],
        ["positional"],
    ],
)
def test_anything_else_is_left_to_typer(argv: list[str]) -> None:
    assert parse_fast(argv) is None


def _demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "standard_coder", "demo", *args],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_bad_size_output_dir_or_pipeline_exit_2_with_one_line(tmp_path: Path) -> None:
    for size in (["--size", "huge"], ["--size", "huge", "--pipeline", "sch", "--log-level=info"]):
        proc = _demo("--output-dir", str(tmp_path / "d"), *size)
        assert proc.returncode == 2
        assert proc.stderr.strip() == "error: --size 'huge': expected one of tiny, default"
    afile = tmp_path / "file"
    afile.write_text("x")
    proc = _demo("--output-dir", str(afile))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: --output-dir {afile}: exists and is not a folder"
    proc = _demo("--pipeline", "nope")  # Typer's door: the same one-line form
    assert proc.returncode == 2 and "error: --pipeline 'nope'" in proc.stderr
