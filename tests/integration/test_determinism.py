"""Same config and seed on the same machine -> byte-identical artifacts (tiny demo).

SQLite is compared by canonical dump; run folders, logs, TensorBoard event files, the HTML report
and anything else that records wall-clock times are left out.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from proctools import child_env
from standard_coder.sch.mining.canonical import canonical_dump

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# run-cache: copies of the outputs compared here, named by content (timed files included)
TIMED = ("runs", "logs", "tb", "stages", "checkpoints", "quarantine", "eval", "cache", "run-cache")


def _untimed(obj: object) -> object:
    """A JSON document without its wall-clock fields (durations and timestamps)."""
    if isinstance(obj, dict):
        return {
            k: _untimed(v)
            for k, v in obj.items()
            if not (k.endswith(("seconds", "_s", "_at", "timestamp")) or k in ("ts", "elapsed"))
        }
    if isinstance(obj, list):
        return [_untimed(v) for v in obj]
    return obj


def artifacts(base: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for path in sorted(base.rglob("*")):
        rel = path.relative_to(base)
        if not path.is_file() or rel.parts[0] in TIMED or rel.parts[0].startswith("."):
            continue
        if rel.as_posix() in ("reports/index.html",) or ".cache" in rel.parts:
            continue
        if path.suffix == ".sqlite":
            out[rel.as_posix()] = hashlib.sha256(canonical_dump(path).encode()).hexdigest()
        elif path.name.endswith(("-wal", "-shm", ".lock")):
            continue
        elif path.suffix == ".json":
            out[rel.as_posix()] = json.dumps(_untimed(json.loads(path.read_text())), sort_keys=True)
        else:
            out[rel.as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def test_tiny_demo_is_byte_identical_across_runs(tmp_path: Path) -> None:
    def demo() -> None:
        subprocess.run(
            [sys.executable, "-m", "standard_coder", "demo", "--output-dir", str(tmp_path),
             "--size", "tiny"],
            check=True, capture_output=True, env=child_env(), timeout=600,
        )  # fmt: skip

    demo()
    first = artifacts(tmp_path / "sc-output")
    shutil.rmtree(tmp_path / "sc-output")
    demo()
    second = artifacts(tmp_path / "sc-output")
    assert "models/auto/model.pt" in first and "raw/mined_commits.sqlite" in first
    assert any(k.startswith("forecasts/") for k in first)
    differing = sorted(k for k in first.keys() | second.keys() if first.get(k) != second.get(k))
    assert not differing, differing


def test_a_kill_while_the_size_mdn_trains_resumes_to_the_same_artifacts(tmp_path: Path) -> None:
    """SIGKILL while ``train_sch`` fits the size MDN of the pooled distribution (the last fit
    of the stage), then a rerun: every artifact as the run that was never interrupted."""
    cmd = [sys.executable, "-m", "standard_coder", "demo", "--size", "tiny", "--output-dir",
           str(tmp_path)]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, env=child_env(), timeout=600)
    first = artifacts(tmp_path / "sc-output")
    shutil.rmtree(tmp_path / "sc-output")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=child_env(), start_new_session=True)  # fmt: skip
    assert proc.stderr is not None
    seen = False
    for line in proc.stderr:
        if "training size MDN" in line:
            os.killpg(proc.pid, signal.SIGKILL)
            seen = True
            break
    proc.wait(timeout=120)
    assert seen and proc.returncode == -signal.SIGKILL
    assert not (tmp_path / "sc-output/models/auto/model.pt").exists()  # killed before the save
    subprocess.run(cmd, check=True, capture_output=True, env=child_env(), timeout=600)
    second = artifacts(tmp_path / "sc-output")
    assert "models/auto/model.pt" in first
    differing = sorted(k for k in first.keys() | second.keys() if first.get(k) != second.get(k))
    assert not differing, differing
