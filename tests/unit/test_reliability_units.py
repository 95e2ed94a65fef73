"""Small pieces of the issue-15 fixes: interrupt notes, storage errors vs corruption, torn
event lines, key hints."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import pytest

from standard_coder.runner.errors import CorruptStateError
from standard_coder.runner.events import JsonlSink, read_events
from standard_coder.runner.fserrors import StorageError, describe, exit_code_for, sqlite_error
from standard_coder.runner.progress import ProgressDisplay, interrupt_note


def _tasks(*counts: tuple[str, int, int | None]) -> list:
    display = ProgressDisplay(enabled=False, stream=None)
    out = []
    for desc, done, total in counts:
        task = display.task(total, desc)
        task.update(completed=done)
        out.append(task)
    return out


def test_interrupt_note_names_the_cut_bar_or_the_later_step() -> None:
    assert interrupt_note(_tasks(("items", 8, 20)), {}) == " (8/20 items done)"
    assert interrupt_note(_tasks(("count", 8, 20)), {}, stage="count") == " (8/20 items done)"
    one = _tasks(("work inference (hmm)", 0, 3))
    assert interrupt_note(one, {}) == " (work inference (hmm): 0/3 items done)"
    two = _tasks(("work inference (hmm)", 3, 3), ("features", 2, 9))
    assert interrupt_note(two, {}) == " (features: 2/9 items done)"
    # every bar finished, training was cut: not "3/3 items done"
    done = _tasks(("work inference (hmm)", 3, 3), ("work inference (gap)", 3, 3))
    note = interrupt_note(done, {"done": 3, "total": 3}, ("mdn", 40))
    assert "cut in a later step" in note and "mdn resumes from its checkpoint at step 40" in note
    # a checkpoint at step 0 (stopped before the first step) resumes nothing
    note = interrupt_note(done, {"done": 3, "total": 3}, ("mdn", 0))
    assert "at step 0" not in note and "mdn starts afresh" in note, note
    # the checkpoint a stage calls "train" is its training, not a stage of that name
    note = interrupt_note([], {}, ("train", 3), stage="sft_stage1")
    assert note == " (the training resumes from its checkpoint at step 3)"
    assert interrupt_note([], {}) == ""
    # one bar per repository cut at once: each is named, the busiest first, not just the last
    repos = _tasks(("mine a", 254, 430), ("mine b", 0, 1021), ("mine c", 9, 10),
                   ("mine d", 1, 5), ("mine e", 0, 2))  # fmt: skip
    assert interrupt_note(repos, {}) == (
        " (mine a: 254/430, mine c: 9/10, mine d: 1/5 and 2 more items done)"
    )


def test_describe_names_the_path_and_the_cause(tmp_path: Path) -> None:
    full = OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x.json"))
    assert describe(full) == f"no space left on the device holding {tmp_path / 'x.json'}"
    assert exit_code_for(errno.ENOSPC) == 1 and exit_code_for(errno.EROFS) == 2
    blocker = tmp_path / "file"
    blocker.write_text("")
    below = OSError(errno.ENOTDIR, "Not a directory", str(blocker / "logs" / "run.log"))
    assert describe(below) == f"{blocker}: is a file where a folder is expected (move it away)"


def test_sqlite_disk_errors_are_storage_not_corruption(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA max_page_count = 3")  # a disk that fills after three pages
    conn.execute("CREATE TABLE t (x BLOB)")
    with pytest.raises(sqlite3.OperationalError) as caught:
        for _ in range(100):
            conn.execute("INSERT INTO t VALUES (?)", (b"x" * 4000,))
    err = sqlite_error(path, caught.value, "hash cache unwritable")
    assert isinstance(err, StorageError) and err.exit_code == 1
    assert str(err).startswith("no space left on the device holding")
    conn.close()
    path.write_bytes(b"garbage" * 200)
    try:
        sqlite3.connect(path).execute("SELECT * FROM t").fetchall()
    except sqlite3.DatabaseError as exc:
        assert isinstance(sqlite_error(path, exc, "unreadable"), CorruptStateError)


def test_a_torn_last_line_gets_a_newline_before_the_next_event(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b'{"event": "run_started", "run_id": "a"}\n{"event": "stage_runn')
    sink = JsonlSink(path)
    sink.emit({"event": "run_started", "run_id": "b"})
    sink.close()
    assert path.read_bytes().endswith(
        b'{"event": "stage_runn\n{"event":"run_started","run_id":"b"}\n'
    )
    assert [e["run_id"] for e in read_events(path)] == ["a", "b"]


def test_key_hints_do_not_list_internal_fields(tmp_path: Path) -> None:
    from standard_coder.config import ConfigError
    from standard_coder.config.schema import validate_config

    with pytest.raises(ConfigError) as caught:
        validate_config({"nosuch": 1}, tmp_path / "pipeline_config.toml")
    assert "config_path" not in str(caught.value) and "repos" in str(caught.value)


def test_a_file_given_as_a_repository_is_called_a_file(tmp_path: Path) -> None:
    from standard_coder.sch.mining.gitlog import GitError
    from standard_coder.sch.mining.reconcile import _inspect

    afile = tmp_path / "notes.txt"
    afile.write_text("x")
    with pytest.raises(GitError, match="is a file, not a directory"):
        _inspect(afile)
    with pytest.raises(GitError, match="no such directory"):
        _inspect(tmp_path / "missing")
