"""Events, progress, lock, stop token, atomic writes, run state: the small modules."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from proctools import child_env
from standard_coder.runner.atomic import atomic_write_json
from standard_coder.runner.errors import CorruptStateError, RunLocked
from standard_coder.runner.events import ConsoleSink, JsonlSink, MemorySink, MultiSink
from standard_coder.runner.lock import RunLock
from standard_coder.runner.progress import ProgressDisplay, track
from standard_coder.runner.runstate import empty_state, read_run_state, write_run_state
from standard_coder.runner.stoptoken import StopToken


def test_jsonl_sink_flushes_each_line(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "events.jsonl"
    sink = JsonlSink(path)
    sink.emit({"event": "run_started", "stage": None})
    assert json.loads(path.read_text())["event"] == "run_started"  # readable before close
    sink.emit({"event": "run_completed"})
    sink.close()
    JsonlSink(path).emit({"event": "again"})  # appended across runs
    assert [json.loads(x)["event"] for x in path.read_text().splitlines()] == [
        "run_started",
        "run_completed",
        "again",
    ]


def test_console_and_multi_sink() -> None:
    buf = io.StringIO()
    mem = MemorySink()
    sink = MultiSink([ConsoleSink(buf), mem])
    sink.emit({"event": "stage_skipped", "stage": "train", "reason": "up to date"})
    sink.emit({"event": "run_started", "stage": None, "reason": ""})
    assert buf.getvalue() == "[skip] train: up to date\n"
    assert mem.names() == ["stage_skipped", "run_started"]


def test_plain_progress_is_rate_limited_by_the_clock() -> None:
    now = [0.0]
    buf = io.StringIO()
    display = ProgressDisplay(enabled=False, stream=buf, clock=lambda: now[0], interval_s=5)
    task = display.task(10, "items")
    for _ in range(4):
        task.advance()
    now[0] = 6.0
    task.advance()
    task.update(completed=10)
    # the start line shows the size of the work at once; then at most one line per interval
    assert buf.getvalue().splitlines() == ["  items: 0/10", "  items: 5/10", "  items: 10/10"]


def test_a_resumed_bar_counts_on_from_the_items_done_before_it() -> None:
    """vcrpy, Ctrl-C then a rerun: "[resume] ... (2/3 items done)" was followed by
    "work inference (hmm): 0/3", then "3/3"."""
    buf = io.StringIO()
    display = ProgressDisplay(enabled=False, stream=buf, clock=lambda: 0.0, interval_s=5)
    task = display.task(3, "work inference (hmm)", completed=2)
    task.advance()
    assert buf.getvalue().splitlines() == [
        "  work inference (hmm): 2/3",
        "  work inference (hmm): 3/3",
    ]
    bars = ProgressDisplay(enabled=True, stream=io.StringIO())  # the terminal's bar starts there
    try:
        bar = bars.task(3, "work inference (hmm)", completed=2)
        assert bars._rich.tasks[0].completed == 2 and bar.completed == 2
    finally:
        bars.close()


def test_a_bars_description_in_brackets_is_shown_as_written() -> None:
    from rich.console import Console

    display = ProgressDisplay(enabled=True, stream=io.StringIO())  # the terminal's bars
    try:
        task = display.task(4, "mine [wip]proj-1a2b3c4d")
        task.advance(2)
        shown = Console(record=True, width=120, file=io.StringIO())
        shown.print(display._rich.get_renderable())
        assert "mine [wip]proj-1a2b3c4d" in shown.export_text()
    finally:
        display.close()


def test_track_counts_items() -> None:
    display = ProgressDisplay(enabled=False, stream=None)
    assert list(track([1, 2, 3], display, desc="x")) == [1, 2, 3]
    assert display.tasks[0].completed == 3 and display.tasks[0].total == 3


def test_lock_refuses_second_holder_naming_pid(tmp_path: Path) -> None:
    with RunLock(tmp_path):
        with pytest.raises(RunLocked, match=f"pid {os.getpid()}, started") as err:
            RunLock(tmp_path).acquire()
        assert err.value.exit_code == 3
    with RunLock(tmp_path):  # released
        pass


def test_lock_of_a_killed_process_never_blocks(tmp_path: Path) -> None:
    code = (
        "import sys, time; sys.path[:0] = sys.argv[2:]; "
        "from pathlib import Path; from standard_coder.runner.lock import RunLock; "
        "RunLock(Path(sys.argv[1])).acquire(); print('locked', flush=True); time.sleep(60)"
    )
    src = str(Path(__file__).resolve().parents[2] / "src")
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path), src], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    with pytest.raises(RunLocked, match=f"pid {proc.pid}"):
        RunLock(tmp_path).acquire()
    proc.kill()
    proc.wait()
    with RunLock(tmp_path):
        pass


def test_stop_token_forwards_to_process_groups() -> None:
    child = subprocess.Popen(["sleep", "30"], start_new_session=True)
    token = StopToken()
    token.add_group(child.pid)
    assert not token.requested
    token.request(signal.SIGTERM)
    assert token.requested and token.signum == signal.SIGTERM
    assert child.wait(timeout=5) == -signal.SIGTERM
    late = subprocess.Popen(["sleep", "30"], start_new_session=True)
    token.add_group(late.pid)  # registered after the stop: signalled at once
    assert late.wait(timeout=5) == -signal.SIGTERM


def test_stop_token_handler_first_signal_sets_flag() -> None:
    token = StopToken()
    assert token.install()
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        assert token.signum == signal.SIGINT
    finally:
        token.restore()


def test_remove_mp_tempdir_removes_only_its_own_process_folder(tmp_path: Path) -> None:
    """A forked child inherits its parent's ``pymp-*`` name and leaves it; the parent removes
    it; a process that never loaded multiprocessing has nothing to do (run in a child process:
    this one's pools keep their folder)."""
    code = (
        "import sys\n"
        "from standard_coder.runner.stoptoken import remove_mp_tempdir\n"
        "remove_mp_tempdir()\n"
        "assert 'multiprocessing.process' not in sys.modules\n"
        "import multiprocessing, multiprocessing.util, os\n"
        "folder = multiprocessing.util.get_temp_dir()\n"
        "child = multiprocessing.get_context('fork').Process(target=remove_mp_tempdir)\n"
        "child.start(); child.join()\n"
        "assert child.exitcode == 0 and os.path.isdir(folder), folder\n"
        "remove_mp_tempdir()\n"
        "assert not os.path.exists(folder), folder\n"
        "print(folder)\n"
    )
    env = child_env(TMPDIR=str(tmp_path))
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert res.returncode == 0, res.stderr
    assert Path(res.stdout.strip()).parent == tmp_path and not list(tmp_path.iterdir())


def test_a_failed_atomic_write_names_the_file_not_its_temp(tmp_path: Path) -> None:
    from standard_coder.runner.atomic import atomic_write_text
    from standard_coder.runner.records import write_atomic

    (tmp_path / "taken").mkdir()  # a folder where the file should go: os.replace fails
    for write in (lambda p: atomic_write_text(p, "x"), lambda p: write_atomic(p, b"x")):
        with pytest.raises(OSError) as exc:
            write(tmp_path / "taken")
        assert exc.value.filename == str(tmp_path / "taken")
    gone = tmp_path / "gone" / "x.toml"  # the temp file cannot be made: its target is named
    with pytest.raises(OSError) as exc:
        write_atomic(gone, b"x")
    assert exc.value.filename == str(gone)
    assert not [p for p in tmp_path.rglob("*.tmp")]


def test_atomic_write_leaves_no_temp(tmp_path: Path) -> None:
    atomic_write_json(tmp_path / "a" / "x.json", {"b": 1})
    atomic_write_json(tmp_path / "a" / "x.json", {"b": 2})
    assert json.loads((tmp_path / "a" / "x.json").read_text()) == {"b": 2}
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["x.json"]


def test_atomic_writes_honour_the_umask_like_open(tmp_path: Path) -> None:
    """mkstemp makes 0o600 files; outputs (reports, configs) must get the usual 0o666 & ~umask."""
    from standard_coder.forecasting._io import atomic_write as forecast_write
    from standard_coder.sch.features._io import atomic_write as features_write

    old = os.umask(0o022)
    try:
        atomic_write_json(tmp_path / "a.json", {"b": 1})
        forecast_write(tmp_path / "f.bin", lambda fh: fh.write(b"x"))
        features_write(tmp_path / "g.bin", lambda fh: fh.write(b"x"))
        os.umask(0o077)
        atomic_write_json(tmp_path / "private.json", {"b": 1})
    finally:
        os.umask(old)
    for name in ("a.json", "f.bin", "g.bin"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644, name
    assert (tmp_path / "private.json").stat().st_mode & 0o777 == 0o600


def test_run_state_checksum_detects_edits(tmp_path: Path) -> None:
    path = tmp_path / "run_state.json"
    assert read_run_state(path) == empty_state()
    state = empty_state()
    state["stages"]["a"] = {"status": "completed"}
    write_run_state(path, state)
    assert read_run_state(path)["stages"] == {"a": {"status": "completed"}}
    doc = json.loads(path.read_text())
    doc["stages"]["a"]["status"] = "failed"
    path.write_text(json.dumps(doc))
    with pytest.raises(CorruptStateError, match="checksum"):
        read_run_state(path)


def test_a_truncated_or_foreign_run_state_is_corrupt_and_says_why(tmp_path: Path) -> None:
    path = tmp_path / "run_state.json"
    for text, reason in (
        ('{"stages": {', "not valid JSON (it ends too early)"),
        ("[]", "the run state file is a JSON array, not an object"),
        ('{"stages": []}', "run state has the wrong shape"),
    ):
        path.write_text(text)
        with pytest.raises(CorruptStateError) as info:
            read_run_state(path)
        assert info.value.reason == reason
    path.unlink()
    path.mkdir()
    with pytest.raises(IsADirectoryError):  # the disk, not the data: not quarantined
        read_run_state(path)


def test_atomic_write_not_durable_is_still_atomic(tmp_path: Path) -> None:
    """durable=False skips fsync, never atomicity: a failing writer leaves the old file."""
    from standard_coder.runner.atomic import atomic_write, atomic_write_text

    target = tmp_path / "report.html"
    atomic_write_text(target, "old", durable=False)

    def boom(fh: object) -> None:
        raise RuntimeError("writer died")

    with pytest.raises(RuntimeError):
        atomic_write(target, boom, durable=False)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_the_progress_display_writes_to_the_stderr_of_now_not_of_its_import(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A host that replaces sys.stderr (a notebook, a test capture, a library caller) gets the
    lines on its stream; a stream bound at import could be closed by then (a run in the same
    process failed with 'I/O operation on closed file', exit 2)."""
    buf = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buf)
    display = ProgressDisplay()
    assert display.stream is buf and not display.enabled
