"""The chaos benchmark at CI size: one storm of 5 SIGKILLs over the flagship pipeline, resumed
until done and compared with a clean run, plus a few fuzzed configs and sprint files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from proctools import child_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def test_chaos_storm_recovers_identically_with_no_orphans_nor_tracebacks() -> None:
    env = child_env()
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "chaos.py"),
            "--kills", "5",
            "--storms", "1",
            "--no-extras",
            "--fuzz", "4",
            "--fuzz-runs", "0",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["storms"] == 1
    assert result["kills"] >= 1  # kills land while the run is still going
    assert result["recovered"] == result["storms"], result
    assert result["identical"] == result["storms"], result
    assert result["orphans"] == 0 and result["stuck"] == 0, result
    assert result["fuzz_cases"] >= 4
    assert result["fuzz_clean"] == result["fuzz_cases"], result  # clean error or accepted
    # configs are validated by the runner's config layer: a case is a clean error or accepted
    assert result["tracebacks"] == 0, result


def test_the_mined_db_is_compared_byte_for_byte(tmp_path: Path) -> None:
    """Same rows in another order are another artefact: no SQLite exception is left."""
    import sqlite3

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from chaos import artefacts

    rows = [(f"r{i}", i) for i in range(50)]
    for name, order in (("a", rows), ("b", rows[::-1])):
        (tmp_path / name / "raw").mkdir(parents=True)
        con = sqlite3.connect(tmp_path / name / "raw" / "mined_commits.sqlite")
        con.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)")
        con.executemany("INSERT INTO t VALUES (?, ?)", order)
        con.commit()
        con.close()
    a, b = artefacts(tmp_path / "a"), artefacts(tmp_path / "b")
    assert set(a) == {"raw/mined_commits.sqlite"}
    assert a != b
