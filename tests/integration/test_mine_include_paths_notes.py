"""What ``[repos] include_paths`` stood for, when it is not the repository given (a folder
inside one, a folder holding several): a ``[warn] mine:`` line naming the path, not a raw
``WARNING`` log line; the run log keeps a copy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from gitrepos import BASE_TS, commit, init, py_lines

from proctools import child_env

pytestmark = pytest.mark.integration


def test_a_folder_inside_a_repository_is_a_warn_line(tmp_path: Path) -> None:
    repo = init(tmp_path / "lib")
    for i in range(2):
        commit(repo, {"pkg/a.py": py_lines(i + 2)}, f"py {i}", ts=BASE_TS + 600 * i)
    cfg = tmp_path / "pipeline_config.toml"
    paths = json.dumps([str(repo / "pkg")])
    cfg.write_text(f"[repos]\ninclude_paths = {paths}\n[runner]\nworkers = 1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "standard_coder", "pipeline", "--config", str(cfg),
         "--stages", "mine"],
        capture_output=True, text=True, env=child_env(COLUMNS="200"), timeout=300,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    said = f"[repos] include_paths: {repo / 'pkg'} is inside the repository {repo}"
    (line,) = [s for s in proc.stderr.splitlines() if "include_paths" in s]
    assert line == f"[warn] mine: {said}: its whole history is mined", proc.stderr
    assert "WARNING" not in proc.stderr
    logs = tmp_path / "sc-output" / "logs"
    assert f"WARNING standard_coder.stage.mine: {said}" in (logs / "run.log").read_text()
    events = [json.loads(e) for e in (logs / "events.jsonl").read_text().splitlines()]
    (event,) = [e for e in events if e["event"] == "stage_warning"]
    assert event["stage"] == "mine" and event["reason"].startswith(said)
