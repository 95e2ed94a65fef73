"""A corrupt mined database is detected, set aside and mined again (issue 15 item 2).

Real SQLite files, corrupted the three ways a disk or a stray write does it: cut short, header
garbled, pages garbled mid-file. Each time a rerun of ``mine`` (also a plain rerun, which the
runner would otherwise skip) quarantines the file, names it, and mines the same rows again; a
``train_sch`` that finds the file corrupt fails with one line naming it and what to do, and the
next run heals.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from proctools import child_env
from standard_coder.sch.mining.canonical import canonical_dump
from standard_coder.sch.mining.integrity import CorruptDatabaseError, check_database
from standard_coder.sch.mining.store import connect, iter_commits

pytestmark = [pytest.mark.integration]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "standard_coder", *args],
        capture_output=True,
        text=True,
        env=child_env(COLUMNS="120"),
        timeout=600,
        check=False,
    )


def events(base: Path) -> list[dict[str, Any]]:
    lines = (base / "logs" / "events.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def set_aside(base: Path) -> set[Path]:
    """Quarantined copies of the database (its -wal/-shm files move with it)."""
    found = (base / "quarantine").glob("mined_commits.sqlite.*")
    return {p for p in found if not p.name.endswith(("-wal", "-shm", "-journal"))}


def truncate(db: Path) -> None:
    os.truncate(db, db.stat().st_size // 2)


def garble_header(db: Path) -> None:
    with db.open("r+b") as fh:
        fh.write(b"this is not sqlite any more")


def garble_pages(db: Path) -> None:
    """Overwrite the middle of every b-tree page after the first (headers and cells)."""
    page = int.from_bytes(db.read_bytes()[16:18], "big")
    size = db.stat().st_size
    with db.open("r+b") as fh:
        for off in range(page, size, page):
            fh.seek(off + 8)
            fh.write(b"\xa5" * 64)


CORRUPTIONS: dict[str, Callable[[Path], None]] = {
    "truncated": truncate,
    "header": garble_header,
    "pages": garble_pages,
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    from standard_coder.sch.teamsim.team import simulate_small_team

    root = tmp_path_factory.mktemp("corrupt")
    sim = simulate_small_team(root / "sim", n_authors=2, weeks=2, seed=5)
    cfg = root / "pipeline_config.toml"
    repos = ", ".join(json.dumps(str(r)) for r in sim.repos)
    cfg.write_text(
        f"[repos]\ninclude_paths = [{repos}]\n[runner]\nworkers = 1\n"
        "[forecasting]\nenable = false\n"
    )
    proc = cli("pipeline", "--config", str(cfg), "--stages", "mine")
    assert proc.returncode == 0, proc.stderr
    db = root / "sc-output" / "raw" / "mined_commits.sqlite"
    return cfg, db, canonical_dump(db)


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_rerun_of_mine_sets_corrupt_db_aside_and_remines(
    project: tuple[Path, Path, str], kind: str
) -> None:
    cfg, db, clean = project
    base = db.parent.parent
    CORRUPTIONS[kind](db)
    assert check_database(db) is not None
    before = set_aside(base)

    proc = cli("pipeline", "--config", str(cfg), "--stages", "mine")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    # one [warn] line: the file, the cause, where it went and what happens next
    (line,) = [s for s in proc.stderr.splitlines() if s.startswith("[warn]")]
    assert line.startswith(f"[warn] mine: {db}: mined database is corrupt ("), line
    assert "WARNING" not in proc.stderr, proc.stderr
    moved = set_aside(base) - before
    assert len(moved) == 1
    assert line.endswith(f"; set aside as {moved.pop()}; every repository is mined again"), line
    assert check_database(db) is None
    assert canonical_dump(db) == clean
    evs = [e for e in events(base) if e["event"] == "state_corrupt"]
    assert evs and evs[-1]["path"] == str(db) and evs[-1]["stage"] == "mine"

    # and now it is up to date
    again = cli("pipeline", "--config", str(cfg), "--stages", "mine")
    # (the run's closing summary names the report, whose path holds the tmp folder's name)
    assert again.returncode == 0 and "corrupt" not in again.stderr.replace(str(base), "")


def test_train_on_a_corrupt_db_names_it_and_the_next_run_remines(
    project: tuple[Path, Path, str],
) -> None:
    cfg, db, clean = project
    garble_pages(db)
    # the stage is told to run on its own, as after a manual `--stages train_sch`
    proc = cli("pipeline", "--config", str(cfg), "--stages", "train_sch")
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert str(db) in proc.stderr and "mined database is corrupt" in proc.stderr
    assert not db.exists()  # set aside: the mine stage's output is gone, so it reruns
    proc = cli("pipeline", "--config", str(cfg), "--stages", "mine")
    assert proc.returncode == 0, proc.stderr
    assert canonical_dump(db) == clean


def test_readers_and_writer_name_the_file(tmp_path: Path) -> None:
    db = tmp_path / "m.sqlite"
    connect(db).close()
    garble_header(db)
    with pytest.raises(CorruptDatabaseError, match=str(db)):
        list(iter_commits(db))
    with pytest.raises(CorruptDatabaseError, match="not a database"):
        connect(db)


def test_check_passes_sound_empty_and_absent_files(tmp_path: Path) -> None:
    db = tmp_path / "m.sqlite"
    assert check_database(db) is None
    db.touch()
    assert check_database(db) is None
    db.unlink()
    connect(db).close()
    assert check_database(db) is None
