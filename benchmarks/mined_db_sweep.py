"""Garble a finished mined database at every page and mid-page, resume, and compare the bytes.

Issue 15's open finding: in one chaos run a garbled ``raw/mined_commits.sqlite`` was set aside
and mined again, yet the final file differed from the clean run's. This sweeps the corruption
systematically instead of waiting for a lucky offset. A tiny simulated team (the chaos
benchmark's, 2 repositories) is mined once (the clean file); then for every page boundary and
every mid-page offset of the whole file (first and second half), and for each garble width
(4 KiB of random bytes as chaos does it, and 16 bytes: a few bytes inside a row, which
SQLite's ``quick_check`` cannot see), plus truncations at every page boundary and mid-page, a
copy is corrupted and the mine stage's own steps run on it (integrity check and quarantine,
mine until done, the check before recording), and the final bytes are compared with the clean
file's. ``--cli N`` also sends N of the cases quick_check alone misses through the real CLI
(``pipeline --stages mine``), as a user would.

The alternative measured is quick_check alone (the check before this fix): ``qc_blind``
counts the cases it passes although the file is garbled (the mine then resumed on the garbled
rows and recorded them); ``identical`` counts the cases that end with the clean bytes now.

Usage::

    PYTHONPATH=src python benchmarks/mined_db_sweep.py            # every page (a few minutes)
    PYTHONPATH=src python benchmarks/mined_db_sweep.py --stride 8 # every 8th page (seconds)

Last line: one JSON object (``cases``, ``identical``, ``detected``, ``qc_blind``,
``different`` and the first failing cases, ``wal_left_at_rewrite``: rewrites that found frames
in the old file's WAL and emptied it first, ``pages``, ``wall_s``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

Corrupt = Callable[[Path], None]


def garble(offset: int, width: int, seed: int) -> Corrupt:
    def apply(db: Path) -> None:
        data = bytearray(db.read_bytes())
        rng = random.Random(seed)
        for i in range(offset, min(len(data), offset + width)):
            data[i] = rng.randrange(256)
        db.write_bytes(bytes(data))

    return apply


def truncate(size: int) -> Corrupt:
    def apply(db: Path) -> None:
        os.truncate(db, size)

    return apply


def cases(size: int, page: int, stride: int) -> Iterator[tuple[str, Corrupt]]:
    """Every ``stride``-th page: garbles at its start and middle (two widths), truncations."""
    for n, start in enumerate(range(0, size, page * stride)):
        for off in (start, start + page // 2):
            if off >= size:
                continue
            yield f"garble4k@{off}", garble(off, 4096, n)
            yield f"garble16@{off}", garble(off, 16, n)
            if off > 0:
                yield f"truncate@{off}", truncate(off)


def quick_check_only(db: Path) -> str | None:
    """The check as it was before the stamp: header plus ``PRAGMA quick_check``."""
    from standard_coder.sch.mining import integrity

    marked = integrity._layout_marked
    integrity._layout_marked = lambda con: False  # type: ignore[assignment]
    try:
        return integrity.check_database(db)
    finally:
        integrity._layout_marked = marked


def stage_steps(repos: list[Path], db: Path, opts: object) -> None:
    """What ``pipelines/sch_mine.run`` does with the file: check (quarantine when corrupt),
    mine until done, check again before recording."""
    from standard_coder.runner.quarantine import quarantine
    from standard_coder.sch.mining.integrity import set_aside_if_corrupt
    from standard_coder.sch.mining.mine import mine_repositories

    qdir = db.parent / "quarantine"
    set_aside_if_corrupt(db, lambda p: quarantine(p, qdir))
    mine_repositories(repos, db, opts)  # type: ignore[arg-type]
    if set_aside_if_corrupt(db, lambda p: quarantine(p, qdir)) is not None:
        mine_repositories(repos, db, opts)  # type: ignore[arg-type]


def project(work: Path, weeks: int) -> tuple[list[Path], object, Path]:
    from standard_coder.config.mining import FiltersSection, ReposSection
    from standard_coder.pipelines.sch_options import mine_options
    from standard_coder.sch.mining.mine import mine_repositories
    from standard_coder.sch.teamsim.team import simulate_small_team

    sim = simulate_small_team(work / "sim", n_authors=3, weeks=weeks, seed=7, n_repos=2)
    repos = [Path(r) for r in sim.repos]
    opts = mine_options(
        ReposSection.model_validate({}),
        FiltersSection.model_validate({}),
        base_dir=work,
        config_dir=work,
    )
    clean = work / "clean" / "mined_commits.sqlite"
    mine_repositories(repos, clean, opts)
    return repos, opts, clean


def cli_case(repos: list[Path], work: Path, name: str, corrupt: Corrupt) -> bool:
    """One case through the real CLI: a finished mine, corrupted, then ``--stages mine``."""
    base = work / f"cli-{name.replace('@', '-')}"
    cfg = base / "pipeline_config.toml"
    base.mkdir(parents=True)
    listed = ", ".join(json.dumps(str(r)) for r in repos)
    cfg.write_text(f"[repos]\ninclude_paths = [{listed}]\n[runner]\nworkers = 2\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    cmd = [sys.executable, "-m", "standard_coder", "pipeline", "--config", str(cfg)]
    cmd += ["--stages", "mine"]
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    db = base / "sc-output" / "raw" / "mined_commits.sqlite"
    clean = db.read_bytes()
    corrupt(db)
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    ok = first.returncode == again.returncode == 0 and db.read_bytes() == clean
    named = str(db) in again.stderr and "corrupt" in again.stderr
    return ok and named and "Traceback" not in again.stderr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stride", type=int, default=1, help="every Nth page (default: every page)")
    ap.add_argument("--cli", type=int, default=2, help="quick_check-blind cases run via the CLI")
    ap.add_argument("--weeks", type=int, default=1, help="simulated weeks (file size)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    args = ap.parse_args()
    from standard_coder.sch.mining.integrity import check_database

    class Count(logging.Handler):
        n = 0

        def emit(self, record: logging.LogRecord) -> None:
            Count.n += "left in its WAL" in record.getMessage()

    store_log = logging.getLogger("standard_coder.sch.mining.store")
    store_log.setLevel(logging.INFO)
    store_log.addHandler(Count())
    t0 = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="mined-db-sweep-"))
    try:
        repos, opts, clean = project(work, args.weeks)
        clean_bytes = clean.read_bytes()
        page = int.from_bytes(clean_bytes[16:18], "big")
        counts = {"cases": 0, "identical": 0, "detected": 0, "qc_blind": 0}
        different: list[str] = []
        blind: list[tuple[str, Corrupt]] = []
        for name, corrupt in cases(len(clean_bytes), page, max(1, args.stride)):
            counts["cases"] += 1
            case = work / "case"
            shutil.rmtree(case, ignore_errors=True)
            case.mkdir()
            db = case / "mined_commits.sqlite"
            db.write_bytes(clean_bytes)
            corrupt(db)
            if db.read_bytes() == clean_bytes:  # a garble that drew the same bytes
                counts["cases"] -= 1
                continue
            if quick_check_only(db) is None:
                counts["qc_blind"] += 1
                blind.append((name, corrupt))
            counts["detected"] += check_database(db) is not None
            stage_steps(repos, db, opts)
            if db.read_bytes() == clean_bytes:
                counts["identical"] += 1
            else:
                different.append(name)
        rng = random.Random(0)
        picked = rng.sample(blind, min(args.cli, len(blind)))
        cli_ok = sum(cli_case(repos, work, name, corrupt) for name, corrupt in picked)
        result = {
            **counts,
            "different": len(different),
            "first_different": different[:10],
            "cli_cases": len(picked),
            "cli_identical": cli_ok,
            "wal_left_at_rewrite": Count.n,
            "pages": len(clean_bytes) // page,
            "stride": args.stride,
            "wall_s": round(time.perf_counter() - t0, 1),
        }
        n = max(1, counts["cases"])
        print(
            f"{counts['cases']} corruptions of a {result['pages']}-page mined DB: "
            f"identical after resume {counts['identical']}/{n}; quick_check alone missed "
            f"{counts['qc_blind']} (the stamp catches them: detected {counts['detected']}/{n}); "
            f"ratio identical/(identical before = {n - counts['qc_blind']}) = "
            f"{counts['identical'] / max(1, n - counts['qc_blind']):.3f}",
            file=sys.stderr,
        )
        print(json.dumps(result))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
