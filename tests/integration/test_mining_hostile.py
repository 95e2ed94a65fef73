"""Hostile-but-valid histories: commits that carry the log parser's marker bytes in their subject,
author name, email or a file path are mined like any other (issue 15 item 3)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from gitrepos import BASE_TS, commit, git, init, py_lines

from proctools import child_env
from standard_coder.sch.mining import MineOptions, iter_commits, mine_repositories

pytestmark = pytest.mark.integration

SEP = "\x1e\x1fSCH:"
STAGES_MINE = ("--stages", "mine")


def test_marker_bytes_in_subject_author_email_and_path(tmp_path: Path) -> None:
    repo = init(tmp_path / "hostile")
    commit(repo, {"a.py": py_lines(3)}, "first", ts=BASE_TS)
    evil = {
        "subject": commit(
            repo,
            {"a.py": py_lines(5)},
            f"fix {SEP}0000000000000000000000000000000000000000 x{SEP}",
            ts=BASE_TS + 60,
        ),
        "author": commit(
            repo,
            {"b.py": py_lines(2)},
            "name",
            author=(f"Mal{SEP}lory", f"mal{SEP}@example.com"),
            ts=BASE_TS + 120,
        ),
        "path": commit(repo, {f"odd{SEP}name.py": py_lines(4)}, "path", ts=BASE_TS + 180),
    }
    commit(repo, {"a.py": py_lines(7)}, "last", ts=BASE_TS + 240)
    n_listed = len(git(repo, "rev-list", "HEAD").split())
    assert n_listed == 5

    db = tmp_path / "mined.sqlite"
    summary = mine_repositories([repo], db, MineOptions())
    assert summary.errors == {}
    (rs,) = summary.repos
    assert rs.status == "mined"
    assert rs.commits_stored == 5

    got = {c.commit_id: c for c in iter_commits(db)}
    assert SEP in got[evil["subject"]].subject
    assert got[evil["author"]].author_name == f"Mal{SEP}lory"
    assert got[evil["author"]].author_id == f"mal{SEP}@example.com".lower()
    (f,) = got[evil["path"]].files
    assert f.path == f"odd{SEP}name.py"
    assert f.lines_added == 4
    # a rerun finds nothing to do
    again = mine_repositories([repo], db, MineOptions())
    assert again.repos[0].status == "unchanged"
    con = sqlite3.connect(db)
    assert con.execute("SELECT COUNT(*) FROM commits").fetchone()[0] == 5
    con.close()


def test_future_dated_commit_is_set_aside_and_counted(tmp_path: Path) -> None:
    """A commit dated 2099 would anchor its author's work-inference window there (issue 15
    item 4): it is set aside as ``future_dated``; the author's real history is kept whole."""
    import json
    import subprocess
    import sys
    import time

    from standard_coder.sch.mining.store import load_commit_times, skipped_commits

    repo = init(tmp_path / "clock")
    ids = [
        commit(repo, {"a.py": py_lines(i + 1)}, f"c{i}", ts=BASE_TS + 3600 * i) for i in range(6)
    ]
    year_2099 = 4_070_908_800
    future = commit(repo, {"a.py": py_lines(9)}, "from the future", ts=year_2099)
    ids.append(commit(repo, {"a.py": py_lines(10)}, "after", ts=BASE_TS + 3600 * 7))

    db = tmp_path / "mined.sqlite"
    summary = mine_repositories([repo], db, MineOptions())
    assert summary.repos[0].commits_stored == len(ids)
    assert skipped_commits(db, "future_dated") == [(summary.repos[0].repo, future)]
    (times, _, keys) = load_commit_times(db)["alice@example.com"]
    assert len(keys) == len(ids) and int(times.max()) < time.time()

    # the stage warns, counts it in its summary and emits an event
    cfg = tmp_path / "pipeline_config.toml"
    cfg.write_text(f"[repos]\ninclude_paths = [{json.dumps(str(repo))}]\n[runner]\nworkers = 1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "standard_coder", "pipeline", "--config", str(cfg), *STAGES_MINE],
        capture_output=True,
        text=True,
        env=child_env(COLUMNS="200"),
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    (line,) = [s for s in proc.stderr.splitlines() if "dated after the mining time" in s]
    assert line.startswith("[warn] mine: 1 commit dated after the mining time set aside"), line
    assert future[:12] in line and "WARNING" not in proc.stderr
    events = [
        json.loads(line)
        for line in (tmp_path / "sc-output" / "logs" / "events.jsonl").read_text().splitlines()
    ]
    (ev,) = [e for e in events if e["event"] == "mine_future_dated"]
    assert ev["count"] == 1 and ev["commits"] == [future]
    done = [e for e in events if e["event"] == "stage_completed" and e["stage"] == "mine"]
    assert done[-1]["summary"]["future_dated"] == 1
