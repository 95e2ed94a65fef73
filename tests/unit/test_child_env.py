"""Children of the tests import this checkout's ``standard_coder``, wherever they start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from proctools import SRC, child_env


def test_a_child_started_elsewhere_with_a_relative_pythonpath_imports_this_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``PYTHONPATH=src`` as typed in a checkout, and a child whose ``cwd`` is another folder:
    read there, ``src`` names nothing and the child imported the installed package (another
    checkout's). With :func:`child_env` it imports this one's."""
    monkeypatch.chdir(SRC.parent)
    monkeypatch.setenv("PYTHONPATH", "src")
    env = child_env(COLUMNS="80")
    entries = env["PYTHONPATH"].split(os.pathsep)
    assert entries == [str(SRC)] and env["COLUMNS"] == "80"  # "src" resolved: SRC once
    code = "import standard_coder; print(standard_coder.__file__)"
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert Path(proc.stdout.strip()).resolve().is_relative_to(SRC)
    other = child_env({"PYTHONPATH": "lib"}, paths=(tmp_path,))  # kept after, made absolute
    assert other["PYTHONPATH"].split(os.pathsep) == [
        str(SRC),
        str(tmp_path),
        str(SRC.parent / "lib"),
    ]
