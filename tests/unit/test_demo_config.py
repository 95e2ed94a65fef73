"""A demo rewrites its config only while the user has not edited it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from proctools import child_env
from standard_coder.pipelines.wiring import DemoFolderTaken, write_demo_config


def test_demo_config_is_written_updated_and_user_edits_are_kept(tmp_path: Path) -> None:
    config = write_demo_config(tmp_path / "out", "x", "a = 1\n")
    assert config.read_text() == "a = 1\n"
    assert write_demo_config(tmp_path / "out", "x", "a = 2\n").read_text() == "a = 2\n"
    config.write_text("a = 3  # mine\n")
    assert write_demo_config(tmp_path / "out", "x", "a = 4\n").read_text() == "a = 3  # mine\n"


CODEEDIT = '[pipeline]\nname = "codeedit"\n[outputs]\nbase_dir = "sc-output"\n'


def test_a_config_of_another_pipeline_is_refused_and_kept(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "pipeline_config.toml").write_text(CODEEDIT)
    with pytest.raises(DemoFolderTaken, match="config of the codeedit pipeline, not of the vision"):
        write_demo_config(out, "vision", '[pipeline]\nname = "vision"\n')
    assert (out / "pipeline_config.toml").read_text() == CODEEDIT


def test_an_edited_config_of_the_same_pipeline_is_kept_with_a_warning(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    demo = '[pipeline]\nname = "vision"\n[vision]\nnum_steps = 400\n'
    config = write_demo_config(tmp_path, "vision", demo)
    config.write_text(demo.replace("400", "300"))
    assert write_demo_config(tmp_path, "vision", demo).read_text() == demo.replace("400", "300")
    assert capfd.readouterr().err == (
        f"warning: {config} differs from the demo's: keeping it (delete it to get the demo's)\n"
    )


def _demo(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "standard_coder", "demo", "--output-dir", str(folder), *args],
        capture_output=True, text=True, timeout=120, env=child_env(),
    )  # fmt: skip


@pytest.mark.parametrize("pipeline", ["sch", "vision", "audio"])
def test_a_demo_into_another_pipelines_folder_exits_2_and_runs_nothing(
    tmp_path: Path, pipeline: str
) -> None:
    """Before, ``demo --pipeline vision`` there ran the codeedit pipeline and printed "digits
    test accuracy - on - images" (exit 0), and the sch demo overwrote the config."""
    (tmp_path / "pipeline_config.toml").write_text(CODEEDIT)
    got = _demo(tmp_path, "--pipeline", pipeline, "--size", "tiny")
    assert got.returncode == 2, got.stderr
    assert got.stderr == (
        f"error: --output-dir: {tmp_path / 'pipeline_config.toml'} is a config of the codeedit "
        f"pipeline, not of the {pipeline} pipeline: choose another --output-dir (or delete that "
        "file)\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipeline_config.toml"]
    assert (tmp_path / "pipeline_config.toml").read_text() == CODEEDIT
