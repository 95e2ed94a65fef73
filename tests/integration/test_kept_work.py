"""What a stopped or killed stage kept, as the next run says it: real CLI subprocesses of a
small Python pipeline, real SIGINT and SIGKILL.

``grow`` keeps its progress in its output, a folder it writes deep inside (``tree/a/b/``, so
the folder's own mtime and size stay as they were); ``train`` keeps its progress in its
checkpoint folder (one file per step). Both stop when asked and continue from what is on disk.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from proctools import child_env

pytestmark = pytest.mark.integration

PIPELINE = """
import os, sqlite3, time
from pathlib import Path
from standard_coder.runner.stage import Pipeline, Stage

DELAY = float(os.environ.get("DEEP_DELAY", "0"))


def _trace(ctx, text):
    with (ctx.base_dir.parent / "trace.log").open("a") as fh:
        fh.write(f"{ctx.stage} {text}\\n")


def _stopped_first(ctx):  # waits DEEP_WAIT seconds for a stop before writing anything
    _trace(ctx, "start")
    for _ in range(int(float(os.environ.get("DEEP_WAIT", "0")) / 0.01)):
        if ctx.should_stop():
            return True
        time.sleep(0.01)
    return False


def grow(ctx):
    if _stopped_first(ctx):
        return
    deep = ctx.base_dir / "out" / "tree" / "a" / "b"
    deep.mkdir(parents=True, exist_ok=True)
    n = int(ctx.params["n"])
    bar = ctx.progress(n, "items")
    for i in range(n):
        item = deep / f"item-{ctx.params['k']}-{i:04d}.txt"
        if not item.exists():
            if ctx.should_stop():
                return
            item.write_text(f"{i * ctx.params['k']}\\n")
            _trace(ctx, f"item {i}")
            time.sleep(DELAY)
        bar.advance()


def train(ctx):
    n = int(ctx.params["n"])
    for i in range(n):
        step = ctx.checkpoint_dir / f"step-{i:04d}"
        if not step.exists():
            if ctx.should_stop():
                return
            step.write_text(f"{i * ctx.params['k']}\\n")
            _trace(ctx, f"step {i}")
            time.sleep(DELAY)
    (ctx.base_dir / "out").mkdir(exist_ok=True)
    (ctx.base_dir / "out" / "model.txt").write_text(f"{n}\\n")


def store(ctx):
    if _stopped_first(ctx):
        return
    (ctx.base_dir / "out").mkdir(exist_ok=True)
    con = sqlite3.connect(ctx.base_dir / "out" / "items.sqlite")
    try:
        con.execute("PRAGMA journal_mode=WAL")  # as the mine's database: commits go to -wal
        con.execute("CREATE TABLE IF NOT EXISTS items (k, i, PRIMARY KEY (k, i))")
        k, n = ctx.params["k"], int(ctx.params["n"])
        have = {i for (i,) in con.execute("SELECT i FROM items WHERE k = ?", (k,))}
        _trace(ctx, "opened")  # waits DEEP_OPEN_WAIT seconds for a stop, the database open,
        for _ in range(int(float(os.environ.get("DEEP_OPEN_WAIT", "0")) / 0.01)):  # no row yet
            if ctx.should_stop():
                return
            time.sleep(0.01)
        bar = ctx.progress(n, "rows")
        bar.advance(len(have))
        for i in range(n):
            if i not in have:
                if ctx.should_stop():
                    return
                con.execute("INSERT INTO items VALUES (?, ?)", (k, i))
                con.commit()
                _trace(ctx, f"row {i}")
                bar.advance()
                time.sleep(DELAY)
    finally:
        con.close()


def build(config_path, overrides):
    sets = dict(o.split("=", 1) for o in overrides)
    base = Path(config_path).parent / "state"
    params = {"n": int(sets.get("n", "60")), "k": int(sets.get("k", "1"))}
    out = base / "out"
    return Pipeline(name="deep", base_dir=base, stages=[
        Stage(name="grow", run=grow, params=params, outputs=(out / "tree",)),
        Stage(name="train", run=train, params=params, outputs=(out / "model.txt",)),
        Stage(name="store", run=store, params=params, outputs=(out / "items.sqlite",)),
    ])
"""


def _config(root: Path) -> Path:
    (root / "deep.py").write_text(PIPELINE, encoding="utf-8")
    cfg = root / "pipeline.toml"
    cfg.write_text('[pipeline]\nentry = "deep.py:build"\n', encoding="utf-8")
    return cfg


def _start(
    root: Path, *args: str, delay: float = 0.0, wait: float = 0.0, open_wait: float = 0.0
) -> subprocess.Popen[str]:
    """A run in the background (``delay``: seconds after each item or step; ``wait``: seconds
    ``grow`` waits for a stop before it writes anything; ``open_wait``: seconds ``store`` waits
    for a stop with its database open before it writes a row); its output goes to
    stderr.log."""
    cmd = [sys.executable, "-m", "standard_coder", "pipeline", "--config", str(_config(root))]
    env = child_env(DEEP_DELAY=str(delay), DEEP_WAIT=str(wait), DEEP_OPEN_WAIT=str(open_wait))
    with (root / "stderr.log").open("a") as log:
        log.write("=== run\n")
        log.flush()
        return subprocess.Popen([*cmd, *args], env=env, stdout=log, stderr=log, text=True)


def _done(root: Path, kind: str) -> int:
    trace = root / "trace.log"
    lines = trace.read_text().splitlines() if trace.exists() else []
    return sum(1 for x in lines if x.split()[1:2] == [kind])


def _stop(proc: subprocess.Popen[str], root: Path, kind: str, more: int, sig: int) -> int:
    """Send ``sig`` once ``more`` further ``kind`` lines are traced; the exit code."""
    start, deadline = _done(root, kind), time.monotonic() + 60
    while _done(root, kind) < start + more:
        assert proc.poll() is None, "the run ended before it was stopped"
        assert time.monotonic() < deadline, "no progress within 60 s"
        time.sleep(0.005)
    proc.send_signal(sig)
    return proc.wait(timeout=60)


def _said(root: Path) -> str:
    """What the last run printed (stdout and stderr)."""
    return (root / "stderr.log").read_text().rsplit("=== run\n", 1)[-1]


def _record(root: Path, stage: str) -> dict[str, Any]:
    state = json.loads((root / "state" / "checkpoints" / "run_state.json").read_text())
    record: dict[str, Any] = state["stages"][stage]
    return record


def test_progress_written_deep_inside_a_folder_output_is_kept_work(tmp_path: Path) -> None:
    """Session 41: a stop compared each output's own mtime and size, so a stage whose progress
    went deep into a folder output (``tree/a/b/``, the folder's own entry unchanged) was said
    to have kept nothing: ``grow kept no partial work: its rerun starts over``, ``kept_work:
    false``, and the rerun was ``new`` with no ``[resume]`` line, though it continued from the
    items on disk."""
    only = ("--stages", "grow")
    assert _start(tmp_path, *only).wait(timeout=60) == 0  # tree/a/b/ made, 60 items of k=1
    tree = tmp_path / "state" / "out" / "tree"
    own = (tree.stat().st_mtime_ns, tree.stat().st_size)
    other = ("--stages", "grow", "--set", "k=2")  # other params: a fresh start, not a resume
    assert _stop(_start(tmp_path, *other, delay=0.02), tmp_path, "item", 3, signal.SIGINT) == 130
    assert (tree.stat().st_mtime_ns, tree.stat().st_size) == own  # the progress is deep inside
    said = _said(tmp_path)
    assert "[resume]" not in said and "starts over" not in said, said
    assert "[STOP] grow: interrupted: rerun to resume (" in said, said
    assert _record(tmp_path, "grow")["kept_work"] is True
    done = _done(tmp_path, "item") - 60
    assert _status(tmp_path, "--set", "k=2")["grow"] == (
        "would run   params changed: k 1 -> 2; continues where the interrupted run stopped "
        f"({done}/60 items done)"
    )
    assert _start(tmp_path, *other).wait(timeout=60) == 0
    said = _said(tmp_path)
    resumed = f"[resume] grow: continues where the interrupted run stopped ({done}/60 items done)"
    assert resumed in said, said
    assert _done(tmp_path, "item") == 120 and 3 <= done < 60  # nothing written twice
    items = sorted((tree / "a" / "b").glob("item-2-*"))
    assert [p.read_text() for p in items] == [f"{2 * i}\n" for i in range(60)]


def _status(root: Path, *args: str) -> dict[str, str]:
    """Stage -> the rest of its ``status`` line."""
    cmd = [sys.executable, "-m", "standard_coder", "status", "--config", str(_config(root))]
    cmd += args
    res = subprocess.run(cmd, env=child_env(), capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    rows = [line.split(maxsplit=1) for line in res.stdout.splitlines() if line.strip()]
    return {row[0]: row[1] for row in rows if len(row) == 2}


def _events(root: Path, name: str) -> list[dict[str, Any]]:
    """The ``name`` events of the last run."""
    lines = (root / "state" / "logs" / "events.jsonl").read_text().splitlines()
    events = [json.loads(x) for x in lines]
    start = max(i for i, e in enumerate(events) if e["event"] == "run_started")
    return [e for e in events[start:] if e["event"] == name]


def test_work_a_killed_forced_rerun_left_is_set_aside_as_partial_work(tmp_path: Path) -> None:
    """Session 41: the label of working files set aside came from the run state's record, so
    after a forced rerun SIGKILLed mid-training (it records nothing but ``started_by``) the
    record still said ``completed`` at that fingerprint, and the killed run's cut-short
    checkpoints were set aside as ``finished_work_set_aside`` ("the last completed run's working
    files"): no warning, though work was cut short."""
    only = ("--stages", "train")
    assert _start(tmp_path, *only).wait(timeout=60) == 0
    forced = _start(tmp_path, *only, "--force", delay=0.02)
    assert _stop(forced, tmp_path, "step", 3, signal.SIGKILL) == -signal.SIGKILL
    record = _record(tmp_path, "train")
    assert record["status"] == "completed" and record["started_by"] != record["run_id"]
    steps = {p.name for p in (tmp_path / "state" / "checkpoints" / "train").glob("step-*")}
    assert 3 <= len(steps) < 60  # the killed run's checkpoints, cut short
    assert _start(tmp_path, *only, "--set", "k=2").wait(timeout=60) == 0
    assert _events(tmp_path, "finished_work_set_aside") == []
    (stale,) = _events(tmp_path, "partial_work_stale")
    assert stale["reason"].startswith("fingerprint changed: earlier partial work set aside in ")
    assert {p.name for p in Path(stale["moved_to"]).glob("step-*")} == steps
    said = _said(tmp_path)
    assert "[warn] train: fingerprint changed: earlier partial work set aside in " in said, said


def test_work_a_run_killed_after_its_manifest_left_is_set_aside_as_finished(
    tmp_path: Path,
) -> None:
    """The other way round: a run killed after it wrote the stage's manifest and before the run
    state (a window the run cache's store widens) recorded nothing, and its record still says
    ``interrupted`` from the run before; its working files are a finished run's, by the
    manifest it wrote after it started, so they are set aside without a warning."""
    from standard_coder.runner.runstate import read_run_state, write_run_state

    only = ("--stages", "train")
    stopped = _start(tmp_path, *only, delay=0.02)
    assert _stop(stopped, tmp_path, "step", 3, signal.SIGINT) == 130
    path = tmp_path / "state" / "checkpoints" / "run_state.json"
    interrupted = _record(tmp_path, "train")
    assert _start(tmp_path, *only).wait(timeout=60) == 0
    state = read_run_state(path)
    finisher = state["stages"]["train"]["run_id"]
    # what a SIGKILL between the manifest and the run state leaves: the older record, with
    # the killed run as the one that started the stage last
    state["stages"]["train"] = {**interrupted, "started_by": finisher}
    write_run_state(path, state)
    assert _start(tmp_path, *only, "--set", "k=2").wait(timeout=60) == 0
    assert _events(tmp_path, "partial_work_stale") == []
    (moved,) = _events(tmp_path, "finished_work_set_aside")
    assert "the last completed run's working files set aside in" in moved["reason"]
    assert len(list(Path(moved["moved_to"]).glob("step-*"))) == 60


def test_outputs_a_killed_rerun_wrote_are_continued_though_the_stop_before_kept_none(
    tmp_path: Path,
) -> None:
    """Session 41: a stage stopped before it wrote anything is recorded ``kept_work: false``;
    its rerun, SIGKILLed after writing items into the output, recorded nothing, so the next run
    was ``new`` with no ``[resume]`` line (``status`` the same), though it continued from the
    killed run's items. The killed run's writes (output files newer than its start, by its
    env stamp) are now work to continue; a killed run that wrote nothing leaves it ``new``."""
    only = ("--stages", "grow")
    first = _start(tmp_path, *only, wait=30)
    assert _stop(first, tmp_path, "start", 1, signal.SIGINT) == 130
    assert "grow kept no partial work: its rerun starts over" in _said(tmp_path)
    assert _record(tmp_path, "grow")["kept_work"] is False
    _killed_idle_then_after_three_items(tmp_path, only)
    assert "[resume]" not in _said(tmp_path)
    record = _record(tmp_path, "grow")
    assert record["kept_work"] is False and record["started_by"] != record["run_id"]
    _continued(tmp_path, only, "continues where the interrupted run stopped (its last run, ")


def _killed_idle_then_after_three_items(tmp_path: Path, only: tuple[str, ...]) -> None:
    """``grow`` killed before it wrote anything (still nothing to continue: ``new``), then
    killed again after writing three items."""
    idle = _start(tmp_path, *only, wait=30)
    assert _stop(idle, tmp_path, "start", 1, signal.SIGKILL) == -signal.SIGKILL
    assert _status(tmp_path)["grow"] == "would run   new"
    killed = _start(tmp_path, *only, delay=0.02)
    assert _stop(killed, tmp_path, "item", 3, signal.SIGKILL) == -signal.SIGKILL


def _continued(tmp_path: Path, only: tuple[str, ...], note: str) -> None:
    """``status`` and the next run say ``note`` of ``grow``, which keeps the killed run's
    items and names the killed run."""
    assert _status(tmp_path)["grow"].startswith(f"would run   unfinished; {note}")
    done = _done(tmp_path, "item")
    assert _start(tmp_path, *only).wait(timeout=60) == 0
    said = _said(tmp_path)
    assert "[run] grow: unfinished" in said, said
    assert f"[resume] grow: {note}" in said
    assert "ended without recording how far it got: killed?)" in said, said
    assert _done(tmp_path, "item") == 60 and 3 <= done < 60  # the killed run's items kept


def test_a_first_run_killed_after_it_wrote_is_continued_and_said_so(tmp_path: Path) -> None:
    """No stop recorded before it: a first run SIGKILLed after writing items into its output
    left only its ``started_by``, and the next run said ``new`` (no ``[resume]`` line) while it
    continued the items (a mine killed as it works: its rerun's table said 0 new commits).
    Killed before it wrote anything, the rerun is ``new``."""
    only = ("--stages", "grow")
    _killed_idle_then_after_three_items(tmp_path, only)
    assert "status" not in _record(tmp_path, "grow")  # the killed run recorded no outcome
    _continued(tmp_path, only, "continues where the killed run stopped (its last run, ")


def test_a_resumed_run_stopped_before_it_wrote_keeps_the_work_it_resumed(tmp_path: Path) -> None:
    """Session 41: a run that continued a stage's progress in its outputs and was stopped
    before it wrote more changed no output, so it was said to have kept nothing (``grow
    starts afresh: it kept no partial work``, ``kept_work: false``) and the next run was
    ``new``, though the items it had resumed were still there and were continued."""
    only = ("--stages", "grow")
    assert _stop(_start(tmp_path, *only, delay=0.02), tmp_path, "item", 3, signal.SIGINT) == 130
    resumed = _start(tmp_path, *only, wait=30)
    assert _stop(resumed, tmp_path, "start", 1, signal.SIGINT) == 130
    said = _said(tmp_path)
    assert "[resume] grow: continues where the interrupted run stopped (" in said, said
    assert "starts over" not in said, said
    assert _record(tmp_path, "grow")["kept_work"] is True
    assert _status(tmp_path)["grow"].startswith(
        "would run   unfinished; continues where the interrupted run stopped"
    )
    done = _done(tmp_path, "item")
    assert _start(tmp_path, *only).wait(timeout=60) == 0
    assert "[resume] grow: continues where the interrupted run stopped" in _said(tmp_path)
    assert _done(tmp_path, "item") == 60 and 3 <= done < 60


def test_rows_a_killed_rerun_committed_to_a_sqlite_log_are_continued(tmp_path: Path) -> None:
    """The same for a database in WAL mode (the mine's): the killed run's commits sit in
    ``items.sqlite-wal`` and the database file itself is as the earlier run left it, so only
    the log says the killed run wrote; the next run continues from those rows."""
    assert _start(tmp_path, "--stages", "store").wait(timeout=60) == 0  # rows of k=1
    db = tmp_path / "state" / "out" / "items.sqlite"
    own = (db.stat().st_mtime_ns, db.stat().st_size)
    other = ("--stages", "store", "--set", "k=2")
    first = _start(tmp_path, *other, wait=30)
    assert _stop(first, tmp_path, "start", 1, signal.SIGINT) == 130
    assert "store kept no partial work: its rerun starts over" in _said(tmp_path)
    killed = _start(tmp_path, *other, delay=0.02)
    assert _stop(killed, tmp_path, "row", 3, signal.SIGKILL) == -signal.SIGKILL
    assert (db.stat().st_mtime_ns, db.stat().st_size) == own  # the rows are in the log only
    assert db.with_name("items.sqlite-wal").stat().st_size > 0
    assert _status(tmp_path, "--set", "k=2")["store"].startswith(
        "would run   params changed: k 1 -> 2; continues where the interrupted run stopped "
        "(its last run, "
    )
    done = _done(tmp_path, "row") - 60
    assert _start(tmp_path, *other).wait(timeout=60) == 0
    said = _said(tmp_path)
    assert "[resume] store: continues where the interrupted run stopped (its last run, " in said
    assert _done(tmp_path, "row") == 120 and 3 <= done < 60  # the killed run's rows kept


def test_a_killed_rerun_that_only_opened_its_database_left_nothing_to_continue(
    tmp_path: Path,
) -> None:
    """Session 41 review: opening a database in WAL mode makes an empty ``items.sqlite-wal``,
    so a rerun killed after it opened the database and before its first row left a log newer
    than its start, and the next run said ``continues where the interrupted run stopped (its
    last run, ...: killed?)`` though no row of its params existed. A log counts only when it
    holds a frame (more than its 32-byte header)."""
    assert _start(tmp_path, "--stages", "store").wait(timeout=60) == 0  # rows of k=1
    wal = tmp_path / "state" / "out" / "items.sqlite-wal"
    other = ("--stages", "store", "--set", "k=2")
    assert _stop(_start(tmp_path, *other, wait=30), tmp_path, "start", 1, signal.SIGINT) == 130
    assert "store kept no partial work: its rerun starts over" in _said(tmp_path)
    killed = _start(tmp_path, *other, open_wait=30)
    assert _stop(killed, tmp_path, "opened", 1, signal.SIGKILL) == -signal.SIGKILL
    assert wal.exists() and wal.stat().st_size <= 32  # opened, nothing committed
    assert _status(tmp_path, "--set", "k=2")["store"] == "would run   params changed: k 1 -> 2"
    assert _start(tmp_path, *other).wait(timeout=60) == 0
    said = _said(tmp_path)
    assert "[resume]" not in said, said
    assert _done(tmp_path, "row") == 120  # every row of k=2 written by the last run


def test_items_a_killed_run_wrote_are_continued_after_a_second_kill(tmp_path: Path) -> None:
    """Session 41 review: the killed run's writes were looked for after the start of the last
    run to start the stage (``started_by``), so after a stop that kept nothing, a rerun killed
    after it wrote items, and another killed before it wrote any, the next run was ``new`` with
    no ``[resume]`` line, though it continued the first killed run's items. They are now looked
    for after the stopped run ended (its env stamp)."""
    only = ("--stages", "grow")
    assert _stop(_start(tmp_path, *only, wait=30), tmp_path, "start", 1, signal.SIGINT) == 130
    assert _record(tmp_path, "grow")["kept_work"] is False
    wrote = _start(tmp_path, *only, delay=0.02)
    assert _stop(wrote, tmp_path, "item", 3, signal.SIGKILL) == -signal.SIGKILL
    idle = _start(tmp_path, *only, wait=30)
    assert _stop(idle, tmp_path, "start", 1, signal.SIGKILL) == -signal.SIGKILL
    done = _done(tmp_path, "item")
    assert _status(tmp_path)["grow"].startswith(
        "would run   unfinished; continues where the interrupted run stopped (its last run, "
    )
    assert _start(tmp_path, *only).wait(timeout=60) == 0
    said = _said(tmp_path)
    assert "[resume] grow: continues where the interrupted run stopped (its last run, " in said
    assert _done(tmp_path, "item") == 60 and 3 <= done < 60  # the first killed run's items kept


def test_a_dangling_link_in_a_folder_output_hides_no_progress(tmp_path: Path) -> None:
    """Session 41 review: the walk of a folder output followed links, and one that led nowhere
    made the whole walk "unreadable", the same before and after, so items written deep inside
    were not seen: ``grow kept no partial work: its rerun starts over``, and the rerun was ``new``
    though it continued them. Links are now looked at, not followed."""
    only = ("--stages", "grow")
    assert _start(tmp_path, *only).wait(timeout=60) == 0
    tree = tmp_path / "state" / "out" / "tree"
    (tree / "latest").symlink_to("a/b/item-9-9999.txt")  # leads nowhere
    other = ("--stages", "grow", "--set", "k=2")
    assert _stop(_start(tmp_path, *other, delay=0.02), tmp_path, "item", 3, signal.SIGINT) == 130
    said = _said(tmp_path)
    assert "starts over" not in said, said
    assert _record(tmp_path, "grow")["kept_work"] is True
    done = _done(tmp_path, "item") - 60
    assert _status(tmp_path, "--set", "k=2")["grow"] == (
        "would run   params changed: k 1 -> 2; continues where the interrupted run stopped "
        f"({done}/60 items done)"
    )
    assert _start(tmp_path, *other).wait(timeout=60) == 0  # the link kept (session 42)
    assert "[resume] grow: continues where the interrupted run stopped (" in _said(tmp_path)
    assert _done(tmp_path, "item") == 120 and 3 <= done < 60


def test_a_stop_that_cannot_read_part_of_its_output_never_says_it_kept_nothing(
    tmp_path: Path,
) -> None:
    """Where a part of a folder output cannot be read (here a path longer than the system
    allows, which fails as root too) and nothing readable changed, the runner cannot tell what
    the stop kept: it says so (``kept_work: null``), never ``its rerun starts over``, and the
    next run says it ``may continue``."""
    import os

    only = ("--stages", "grow")
    assert _start(tmp_path, *only).wait(timeout=60) == 0
    fd = os.open(tmp_path / "state" / "out" / "tree", os.O_RDONLY)
    for _ in range(20):
        os.mkdir("d" * 250, dir_fd=fd)
        deeper = os.open("d" * 250, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = deeper
    os.close(fd)
    other = ("--stages", "grow", "--set", "k=2")
    assert _stop(_start(tmp_path, *other, wait=30), tmp_path, "start", 1, signal.SIGINT) == 130
    said = _said(tmp_path)
    assert "starts over" not in said, said
    assert "(cannot tell whether grow kept partial work: " in said, said
    assert "File name too long)" in said, said
    assert _record(tmp_path, "grow")["kept_work"] is None
    assert _status(tmp_path, "--set", "k=2")["grow"].startswith(
        "would run   params changed: k 1 -> 2; may continue where the interrupted run stopped "
        "(cannot tell whether grow kept partial work: "
    )


def test_a_killed_run_after_a_stop_whose_run_folder_is_gone_is_said_unknown(
    tmp_path: Path,
) -> None:
    """Review, session 41: without the stopped run's env stamp (``gc`` removes an old run's
    folder) the runner cannot tell what a killed run after it wrote: it said nothing (``new``,
    no ``[resume]``); it now says the stage may continue, and why."""
    import shutil

    only = ("--stages", "grow")
    assert _start(tmp_path, *only).wait(timeout=60) == 0  # 60 items of k=1
    other = ("--stages", "grow", "--set", "k=2")
    assert _stop(_start(tmp_path, *other, wait=30), tmp_path, "start", 1, signal.SIGINT) == 130
    stopped = _record(tmp_path, "grow")["run_id"]
    idle = _start(tmp_path, *other, wait=30)
    assert _stop(idle, tmp_path, "start", 1, signal.SIGKILL) == -signal.SIGKILL
    assert _status(tmp_path, "--set", "k=2")["grow"] == "would run   params changed: k 1 -> 2"
    shutil.rmtree(tmp_path / "state" / "runs" / stopped)
    line = _status(tmp_path, "--set", "k=2")["grow"]
    assert line.startswith(
        "would run   params changed: k 1 -> 2; may continue where the interrupted run stopped "
        "(its last run, "
    ), line
    assert line.endswith(
        "killed?; cannot tell whether its outputs were written since the stop: the env stamp "
        f"of the interrupted run {stopped} is missing or unreadable)"
    ), line


def _bytes_and_times(*paths: Path) -> list[tuple[bytes, int]]:
    return [(p.read_bytes(), p.stat().st_mtime_ns) for p in paths]


def test_a_killed_run_that_made_a_new_database_and_its_schema_left_nothing_to_continue(
    tmp_path: Path,
) -> None:
    """Session 42: a stage that creates its database, killed right after it made the schema
    (no row yet), left a new database and a log holding the schema's frames, so the next run
    said ``continues where the interrupted run stopped (its last run, ...: killed?)`` (and
    ``status`` ``unfinished``) with nothing to continue. A database that holds no row in any
    table is now no work; it is read read-only, and neither it nor its log is changed."""
    only = ("--stages", "store")
    assert _stop(_start(tmp_path, *only, wait=30), tmp_path, "start", 1, signal.SIGINT) == 130
    assert "store kept no partial work: its rerun starts over" in _said(tmp_path)
    db = tmp_path / "state" / "out" / "items.sqlite"
    wal = db.with_name("items.sqlite-wal")
    assert not db.exists()
    killed = _start(tmp_path, *only, open_wait=30)
    assert _stop(killed, tmp_path, "opened", 1, signal.SIGKILL) == -signal.SIGKILL
    assert wal.stat().st_size > 32  # the schema's frames: more than an opened database's log
    left = _bytes_and_times(db, wal)
    assert _status(tmp_path)["store"] == "would run   new"
    assert _bytes_and_times(db, wal) == left  # read, never written
    assert _start(tmp_path, *only).wait(timeout=60) == 0
    said = _said(tmp_path)
    assert "[run] store: new" in said and "[resume]" not in said, said
    assert _done(tmp_path, "row") == 60


def test_a_stop_after_a_new_databases_schema_kept_no_work(tmp_path: Path) -> None:
    """The same for a stop (SIGINT) that came after the stage made its new database's schema
    and before its first row: it kept nothing (``store starts afresh``, ``kept_work: false``),
    not ``kept_work: true`` and a ``[resume]`` line. The stage waits for the stop (30 s at
    most) with its database open: the test does not depend on the stop landing in time."""
    only = ("--stages", "store")
    stopped = _start(tmp_path, *only, open_wait=30)
    assert _stop(stopped, tmp_path, "opened", 1, signal.SIGINT) == 130
    assert "store kept no partial work: its rerun starts over" in _said(tmp_path)
    assert _record(tmp_path, "store")["kept_work"] is False
    assert _status(tmp_path)["store"] == "would run   new"
    assert _start(tmp_path, *only).wait(timeout=60) == 0
    said = _said(tmp_path)
    assert "[resume]" not in said and _done(tmp_path, "row") == 60, said
