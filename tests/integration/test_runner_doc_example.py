"""docs/runner.md's Python API example runs as pasted: a reviewer found it indexing a
``StageOutcome`` as a dict and calling helpers it never defined."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from proctools import child_env

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[2] / "docs" / "runner.md"


def _example() -> str:
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## Python pipelines: the public API") :]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found is not None, "the API section lost its example"
    return found.group(1)


def test_the_public_api_example_runs_and_then_skips(tmp_path: Path) -> None:
    script = tmp_path / "ex.py"
    script.write_text(_example(), encoding="utf-8")
    first = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                           cwd=tmp_path, env=child_env(), timeout=120)  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert first.stdout.split()[0] == "0" and " completed" in first.stdout
    assert (tmp_path / "out" / "report.md").read_text() == "- f2.txt: 3\n- f3.txt: 4\n- f4.txt: 5\n"
    again = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                           cwd=tmp_path, env=child_env(), timeout=120)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "count False up to date" in again.stdout and "report False up to date" in again.stdout
