"""``runner.partial.output_stats``: what a stop compares to tell whether a stage wrote any of
its outputs (real files, a real SQLite database in WAL mode)."""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path

from standard_coder.runner.partial import output_stats


def _own(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_mtime_ns, st.st_size


def test_a_file_written_deep_inside_a_folder_output_is_seen(tmp_path: Path) -> None:
    tree, absent = tmp_path / "tree", tmp_path / "none"
    deep = tree / "a" / "b"
    deep.mkdir(parents=True)
    (deep / "item-0.txt").write_text("0\n")
    before = output_stats([tree, absent])
    assert before[1] is None
    assert output_stats([tree, absent]) == before  # nothing written: the same
    own = _own(tree)
    (deep / "item-1.txt").write_text("1\n")
    assert _own(tree) == own  # the folder's own entry says nothing
    assert output_stats([tree, absent]) != before
    (deep / "item-1.txt").unlink()
    assert output_stats([tree, absent]) == before  # a removed file is seen too


def test_a_commit_that_sits_in_a_sqlite_log_is_seen(tmp_path: Path) -> None:
    db = tmp_path / "items.sqlite"
    with closing(sqlite3.connect(db)) as con:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("CREATE TABLE items (i)")
        con.commit()
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        before, own = output_stats([db]), _own(db)
        con.execute("INSERT INTO items VALUES (1)")
        con.commit()
        assert _own(db) == own  # the row is in items.sqlite-wal until a checkpoint
        assert output_stats([db]) != before


def test_written_since_start_looks_at_what_a_killed_run_wrote_after_it_started(
    tmp_path: Path,
) -> None:
    from standard_coder.runner.envstamp import write_env_stamp
    from standard_coder.runner.layout import RunnerLayout
    from standard_coder.runner.partial import written_since_start
    from standard_coder.runner.records import iso

    layout = RunnerLayout(tmp_path / "state")
    tree = tmp_path / "tree"
    (tree / "a").mkdir(parents=True)
    (tree / "a" / "old.txt").write_text("old\n")
    db = tmp_path / "items.sqlite"
    db.write_bytes(b"")
    started = max(_own(tree / "a" / "old.txt")[0], _own(db)[0], _own(tree)[0]) / 1e9 + 0.01
    write_env_stamp(layout.run_dir("killed"), {"run_id": "killed", "started_at": iso(started)})
    assert not written_since_start(layout, "killed", [tree, db, tmp_path / "absent"])
    assert not written_since_start(layout, "unknown", [tree, db])  # no env stamp: no claim
    wal = db.with_name("items.sqlite-wal")
    wal.write_bytes(b"rows")
    os.utime(wal, ns=(int(started * 1e9) + 1_000_000,) * 2)
    assert written_since_start(layout, "killed", [db])
    deep = tree / "a" / "new.txt"
    deep.write_text("new\n")
    os.utime(deep, ns=(int(started * 1e9) + 1_000_000,) * 2)
    assert written_since_start(layout, "killed", [tree])
