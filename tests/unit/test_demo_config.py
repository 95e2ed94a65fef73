"""A demo rewrites its config only while the user has not edited it."""

from __future__ import annotations

from pathlib import Path

from standard_coder.pipelines.wiring import write_demo_config


def test_demo_config_is_written_updated_and_user_edits_are_kept(tmp_path: Path) -> None:
    config = write_demo_config(tmp_path / "out", "x", "a = 1\n")
    assert config.read_text() == "a = 1\n"
    assert write_demo_config(tmp_path / "out", "x", "a = 2\n").read_text() == "a = 2\n"
    config.write_text("a = 3  # mine\n")
    assert write_demo_config(tmp_path / "out", "x", "a = 4\n").read_text() == "a = 3  # mine\n"
