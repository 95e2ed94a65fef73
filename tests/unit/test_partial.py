"""``runner.partial.output_stats``: what a stop compares to tell whether a stage wrote any of
its outputs (real files, a real SQLite database in WAL mode)."""

from __future__ import annotations

import os
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

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
    assert output_stats([tree, absent]) == before  # removed again: as it was before


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
    assert written_since_start(layout, "killed", [tree, db, tmp_path / "absent"]).no
    unknown = written_since_start(layout, "unknown", [tree, db])  # no env stamp: cannot tell
    assert unknown.unknown and "env stamp" in str(unknown.why), unknown
    assert written_since_start(layout, "unknown", [tmp_path / "absent"]).no  # nothing there
    wal = db.with_name("items.sqlite-wal")
    wal.write_bytes(b"header and frame" * 3)  # more than the 32-byte header: a commit
    os.utime(wal, ns=(int(started * 1e9) + 1_000_000,) * 2)
    assert written_since_start(layout, "killed", [db]).yes
    deep = tree / "a" / "new.txt"
    deep.write_text("new\n")
    os.utime(deep, ns=(int(started * 1e9) + 1_000_000,) * 2)
    assert written_since_start(layout, "killed", [tree]).yes


def _killed_at(tmp_path: Path) -> tuple[Any, int]:
    """A run layout with run ``killed`` started now, and that start in ns (every file made
    before is older)."""
    from standard_coder.runner.envstamp import write_env_stamp
    from standard_coder.runner.layout import RunnerLayout
    from standard_coder.runner.records import iso

    layout = RunnerLayout(tmp_path / "state")
    started = time.time() + 0.01
    write_env_stamp(layout.run_dir("killed"), {"run_id": "killed", "started_at": iso(started)})
    return layout, int(started * 1e9)


def _newer(path: Path, since: int) -> None:
    os.utime(path, ns=(since + 1_000_000,) * 2, follow_symlinks=False)


def test_an_empty_sqlite_log_is_no_write(tmp_path: Path) -> None:
    """Opening a database in WAL mode makes its log (0 bytes, or its 32-byte header): that is
    not a row written."""
    from standard_coder.runner.partial import written_since_start

    db = tmp_path / "items.sqlite"
    db.write_bytes(b"")
    before = output_stats([db])
    layout, since = _killed_at(tmp_path)
    wal = db.with_name("items.sqlite-wal")
    for size in (0, 32):
        wal.write_bytes(b"\0" * size)
        _newer(wal, since)
        assert written_since_start(layout, "killed", [db]).no
        assert output_stats([db]) == before
    wal.write_bytes(b"\0" * 33)  # a frame (its header) after the log's header
    _newer(wal, since)
    assert written_since_start(layout, "killed", [db]).yes
    assert output_stats([db]) != before


def test_a_folder_output_is_judged_by_the_files_under_it(tmp_path: Path) -> None:
    """A folder's own mtime changes when anything is made or removed in it (a temp file, an
    empty folder): only the files under it say what was written."""
    from standard_coder.runner.partial import written_since_start

    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "old.txt").write_text("old\n")
    before = output_stats([tree])
    layout, since = _killed_at(tmp_path)
    (tree / "tmp.txt").write_text("x\n")
    (tree / "tmp.txt").unlink()
    (tree / "empty" / "deeper").mkdir(parents=True)
    _newer(tree, since)
    _newer(tree / "empty", since)
    assert written_since_start(layout, "killed", [tree]).no
    assert output_stats([tree]) == before
    (tree / "empty" / "deeper" / "new.txt").write_text("new\n")
    _newer(tree / "empty" / "deeper" / "new.txt", since)
    assert written_since_start(layout, "killed", [tree]).yes


def test_a_dangling_link_hides_no_write_under_a_folder_output(tmp_path: Path) -> None:
    """Links under a folder output are looked at, not followed: one that leads nowhere is an
    entry like any other, and a file written deep inside is still seen."""
    from standard_coder.runner.partial import kept_work, written_since_start

    tree, cdir = tmp_path / "tree", tmp_path / "ckpt"
    deep = tree / "a" / "b"
    deep.mkdir(parents=True)
    cdir.mkdir()
    (tree / "latest").symlink_to("a/b/step-9999")  # leads nowhere
    (tree / "loop").symlink_to("loop")  # leads to itself
    before = output_stats([tree])
    layout, since = _killed_at(tmp_path)
    assert written_since_start(layout, "killed", [tree]).no
    assert kept_work(cdir, [tree], before).no
    (deep / "item-0.txt").write_text("0\n")
    _newer(deep / "item-0.txt", since)
    assert output_stats([tree]) != before
    assert kept_work(cdir, [tree], before).yes
    assert written_since_start(layout, "killed", [tree]).yes


def _out_of_reach(tree: Path) -> Path:
    """A folder under ``tree`` whose path is longer than the system allows (made level by level
    through folder descriptors): any walk that names it fails (ENAMETOOLONG), also as root."""
    fd = os.open(tree, os.O_RDONLY)
    path = tree
    try:
        for _ in range(20):
            name = "d" * 250
            os.mkdir(name, dir_fd=fd)
            deeper = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd, path = deeper, path / name
        with open(os.open("item.txt", os.O_WRONLY | os.O_CREAT, dir_fd=fd), "w") as fh:
            fh.write("far\n")
    finally:
        os.close(fd)
    return path


def test_an_unreadable_part_of_a_folder_output_is_unknown_not_nothing(tmp_path: Path) -> None:
    """A part of a folder output the walk cannot read hides no write elsewhere in it, and where
    nothing readable changed, the runner cannot tell: it never says the stage kept nothing."""
    from standard_coder.runner.partial import kept_work, written_since_start

    tree, cdir = tmp_path / "tree", tmp_path / "ckpt"
    (tree / "a").mkdir(parents=True)
    cdir.mkdir()
    _out_of_reach(tree)
    before = output_stats([tree])
    layout, since = _killed_at(tmp_path)
    kept = kept_work(cdir, [tree], before)
    assert kept.unknown and "File name too long" in str(kept.why), kept
    unknown = written_since_start(layout, "killed", [tree])
    assert unknown.unknown and "File name too long" in str(unknown.why), unknown
    (tree / "a" / "new.txt").write_text("new\n")
    _newer(tree / "a" / "new.txt", since)
    assert kept_work(cdir, [tree], before).yes
    assert written_since_start(layout, "killed", [tree]).yes


def _record_state(layout: Any, record: dict[str, Any]) -> None:
    from standard_coder.runner.runstate import empty_state, write_run_state

    state = empty_state()
    state["stages"]["train"] = record
    layout.run_state.parent.mkdir(parents=True, exist_ok=True)
    write_run_state(layout.run_state, state)


def test_working_files_a_killed_run_finished_are_reused_and_not_called_cut_short(
    tmp_path: Path,
) -> None:
    """A run killed after it wrote the stage's manifest left finished working files: the note
    says they are reused, without a contradictory ``killed?``; and a second run killed before
    it wrote anything does not hide that manifest (it is compared with when the recorded run
    ended, not with when the last killed run started)."""
    from standard_coder.runner import manifest as mf
    from standard_coder.runner.envstamp import write_env_stamp
    from standard_coder.runner.layout import RunnerLayout
    from standard_coder.runner.partial import finished_work, resume_note
    from standard_coder.runner.records import iso

    layout, fp = RunnerLayout(tmp_path / "state"), "f" * 64
    cdir = layout.checkpoint_dir("train")
    cdir.mkdir(parents=True)
    (cdir / "FINGERPRINT").write_text(fp + "\n")
    (cdir / "step-0000").write_text("0\n")
    t0 = time.time() - 60
    runs = {"stopped": (t0 - 5, t0), "finisher": (t0 + 10, None), "idle": (t0 + 30, None)}
    for run_id, (started, ended) in runs.items():
        stamp = {"run_id": run_id, "started_at": iso(started)}
        write_env_stamp(layout.run_dir(run_id), {**stamp, "ended_at": ended and iso(ended)})
    doc = mf.build_manifest(
        stage="train", inputs={}, inputs_checksum="i", params={}, runner_version="1",
        outputs={}, outputs_checksum="o", fingerprint=fp, code_version="c", device=None,
        now=t0 + 20,
    )  # fmt: skip
    layout.manifest("train").parent.mkdir(parents=True)
    mf.write_manifest(layout.manifest("train"), doc)
    record = {"status": "interrupted", "run_id": "stopped", "kept_work": True}
    reused = f"reuses the working files the last completed run left in {cdir}"
    _record_state(layout, {**record, "started_by": "finisher"})
    assert finished_work(layout, "train", fp)
    assert resume_note(layout, "train", fp) == reused
    _record_state(layout, {**record, "started_by": "idle"})  # killed again, before writing
    assert finished_work(layout, "train", fp)
    assert resume_note(layout, "train", fp) == reused


def test_a_stages_outputs_are_walked_once_for_its_notes_and_its_stop(tmp_path: Path) -> None:
    """The notes of a stage about to run (a killed run's writes) and its stop's ``before``
    share one walk; a restore that failed asks for a new one."""
    from standard_coder.runner.partial import OutputWalk

    tree = tmp_path / "tree"
    tree.mkdir()
    walk = OutputWalk([tree])
    first = walk.stats()
    (tree / "new.txt").write_text("new\n")
    assert walk.stats() is first  # not walked again
    walk.forget()
    assert walk.stats() != first and walk.stats() == output_stats([tree])


def test_a_finding_is_yes_no_or_unknown_never_true_or_false_by_itself(tmp_path: Path) -> None:
    """Session 42: ``kept_work`` and ``written_since`` returned ``bool | str`` (a str: cannot
    tell why), so ``if kept_work(...)`` read "cannot tell" as yes. A :class:`Finding` answers
    ``.yes``/``.no``/``.unknown``; its ``value`` is what the run state records (``kept_work``
    true/false/null)."""
    from standard_coder.runner.partial import NO, YES, Finding, cannot_tell, kept_work

    unknown = cannot_tell("out/tree/x: Permission denied")
    assert (YES.value, NO.value, unknown.value) == (True, False, None)
    assert [f.yes for f in (YES, NO, unknown)] == [True, False, False]
    assert [f.no for f in (YES, NO, unknown)] == [False, True, False]
    assert [f.unknown for f in (YES, NO, unknown)] == [False, False, True]
    assert unknown.why == "out/tree/x: Permission denied" and YES.why is None
    with pytest.raises(TypeError, match=r"ask \.yes, \.no or \.unknown"):
        bool(unknown)
    with pytest.raises(ValueError, match="says why exactly when it cannot tell"):
        Finding(None)
    with pytest.raises(ValueError, match="says why exactly when it cannot tell"):
        Finding(True, "why")
    cdir = tmp_path / "ckpt"
    cdir.mkdir()
    assert kept_work(cdir, [tmp_path / "absent"], [None]) == NO
    (cdir / "step-0").write_text("0\n")
    assert kept_work(cdir, [tmp_path / "absent"], [None]) == YES


def test_a_killed_training_says_the_checkpoint_it_resumes_from(tmp_path: Path) -> None:
    """After a kill -9 the note said only ``ended without recording how far it got: killed?``
    though the checkpoint pointer on disk names the step the rerun loads."""
    import torch

    from standard_coder.runner.checkpoint import Checkpointer
    from standard_coder.runner.envstamp import write_env_stamp
    from standard_coder.runner.layout import RunnerLayout
    from standard_coder.runner.partial import resume_note
    from standard_coder.runner.records import iso

    layout, fp = RunnerLayout(tmp_path / "state"), "f" * 64
    cdir = layout.checkpoint_dir("train")
    cdir.mkdir(parents=True)
    (cdir / "FINGERPRINT").write_text(fp + "\n")
    ck = Checkpointer(cdir / "mdn", every_n_steps=20, fingerprint=fp)
    for step in (20, 40):
        ck.save({"w": torch.zeros(2)}, step)
    ck.close()
    write_env_stamp(layout.run_dir("gone"), {"run_id": "gone", "started_at": iso(time.time())})
    # an earlier run's record, started again by run "gone", which recorded nothing: killed
    _record_state(layout, {"status": "interrupted", "run_id": "first", "started_by": "gone"})
    note = resume_note(layout, "train", fp)
    assert note is not None and note.startswith(f"continues from the partial work in {cdir}")
    assert note.endswith("killed?; mdn resumes from its checkpoint at step 40)"), note
