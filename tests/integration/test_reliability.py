"""Failure modes of a hostile-but-realistic world, through the real CLI (issue 15).

Real process-group signals, a real full disk (a small tmpfs) and a real read-only folder (a
read-only bind mount) where this machine allows ``mount`` (root); those tests are skipped with
the reason where it does not. Each checks: the documented exit code, one line naming the path
and the cause, no traceback, and state intact (a rerun finishes with the clean run's bytes).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.proctools import alive

from proctools import child_env

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "examples" / "counting" / "pipeline.toml"
SMALL = [
    "params.count.items=60",
    "params.count.work=50",
    "params.count.commit_every=5",
    "params.train.steps=20",
    "params.train.checkpoint_every=5",
    "params.train.batch_size=8",
    "params.train.hidden=8",
]
OUTPUTS = ("counts.jsonl", "counts_summary.json", "model.pt", "train_metrics.json")


def _cmd(base: Path, *extra: str) -> list[str]:
    sets = [x for s in [f"outputs.base_dir={base}", *SMALL] for x in ("--set", s)]
    cli = [sys.executable, "-m", "standard_coder", "pipeline", "--config", str(CONFIG)]
    return [*cli, *sets, *extra]


def _env(**extra: str) -> dict[str, str]:
    return child_env(**extra)


def _run(base: Path, *extra: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _cmd(base, *extra), capture_output=True, text=True, env=_env(**env), timeout=300
    )


def _hashes(base: Path) -> dict[str, str]:
    return {n: hashlib.sha256((base / "out" / n).read_bytes()).hexdigest() for n in OUTPUTS}


def _one_clean_line(stderr: str, *needles: str) -> None:
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    for needle in needles:
        assert needle in errors[0], stderr


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("ref") / "out"
    proc = _run(base)
    assert proc.returncode == 0, proc.stderr
    return _hashes(base)


def _catches(pid: int, signum: int) -> bool:
    """True once ``pid`` has a handler installed for ``signum`` (``SigCgt`` in /proc)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("SigCgt:"):
                return bool(int(line.split()[1], 16) >> (signum - 1) & 1)
    except OSError:
        pass
    return False


def _pool_workers(pgid: int, parent: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == parent:
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            out.append(int(entry))
    return out


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_to_the_process_group_during_the_pool_stops_cleanly(
    tmp_path: Path, reference: dict[str, str], signum: int
) -> None:
    """What ``timeout``, systemd, Kubernetes and CI send: the signal reaches every pool worker
    too. Workers leave it to the parent: 128+signum and the resume line, not BrokenProcessPool."""
    base, trace = tmp_path / "out", tmp_path / "trace"
    proc = subprocess.Popen(
        _cmd(base, "--set", "runner.workers=2"),
        env=_env(COUNTING_TRACE=str(trace), COUNTING_ITEM_DELAY="0.05"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not (trace.exists() and trace.read_text().count("item ") >= 4):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.01)
    assert len(_pool_workers(proc.pid, proc.pid)) >= 2  # the pool is running
    os.killpg(proc.pid, signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signum, err
    assert "interrupted: rerun to resume" in err
    assert "BrokenProcessPool" not in err and "Traceback" not in err, err
    assert "items done" in err.splitlines()[-1]  # what is left is named
    done = _run(base)
    assert done.returncode == 0, done.stderr
    assert _hashes(base) == reference


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_while_the_config_loads_gives_the_documented_exit(
    tmp_path: Path, signum: int
) -> None:
    proc = subprocess.Popen(
        _cmd(tmp_path / "out"), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 30
    # Python itself catches SIGINT from its start; SIGTERM is caught once the CLI's first line ran
    while not _catches(proc.pid, signal.SIGTERM):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.001)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err
    text = err.decode()
    assert "interrupted" in text and "rerun to resume" in text
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text


def test_a_query_interrupted_early_does_not_promise_a_resume(tmp_path: Path) -> None:
    """``estimate`` (like ``status`` or ``report``) has nothing to resume: a signal while it
    loads says it was interrupted, no more."""
    cmd = [sys.executable, "-m", "standard_coder", "estimate", "--config", str(CONFIG), "HEAD"]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not _catches(proc.pid, signal.SIGTERM):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.001)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    text = err.decode()
    assert "interrupted (SIGTERM)" in text and "resume" not in text, text


def test_sigkill_leaves_no_orphan_and_no_resource_tracker_warning(tmp_path: Path) -> None:
    base, trace, log = tmp_path / "out", tmp_path / "trace", tmp_path / "stderr"
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            _cmd(base, "--set", "runner.workers=2"),
            env=_env(COUNTING_TRACE=str(trace), COUNTING_ITEM_DELAY="0.05"),
            stdout=fh,
            stderr=fh,
            start_new_session=True,
        )
    deadline = time.monotonic() + 120
    while not (trace.exists() and trace.read_text().count("item ") >= 4):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    group = _pool_workers(proc.pid, proc.pid)
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 20
    while any(alive(p) for p in group) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p in group if alive(p)]  # workers, forkserver and tracker all gone
    text = log.read_text()
    assert "leaked" not in text and "resource_tracker" not in text, text


def test_base_folder_that_is_a_file_exits_2_with_one_line(tmp_path: Path) -> None:
    base = tmp_path / "out"
    base.write_text("not a folder\n")
    proc = _run(base)
    assert proc.returncode == 2
    # named as the output folder, and the key that sets it (not "move it away": the file may
    # be the user's own sprint file, named as base_dir by a slip)
    _one_clean_line(proc.stderr, str(base), "is a file: set base_dir ([outputs] base_dir")
    assert base.read_text() == "not a folder\n"


def test_lock_that_is_a_folder_exits_2_with_one_line(tmp_path: Path) -> None:
    base = tmp_path / "out"
    (base / ".lock").mkdir(parents=True)
    proc = _run(base)
    assert proc.returncode == 2
    _one_clean_line(proc.stderr, str(base / ".lock"), "is a folder where a file is expected")


@contextlib.contextmanager
def _mounted(target: Path, *args: str) -> Iterator[None]:
    """``mount ARGS target`` for the duration; skip the test where mounting is not allowed."""
    target.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None:
        pytest.skip("no mount command here")
    done = subprocess.run(["mount", *args, str(target)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"mount not allowed here ({done.stderr.strip()})")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(target)], capture_output=True)


@contextlib.contextmanager
def _read_only(src: Path, target: Path) -> Iterator[None]:
    """``src`` seen read-only at ``target`` (itself, or another path) for the duration."""
    with _mounted(target, "--bind", str(src)):
        remount = subprocess.run(
            ["mount", "-o", "remount,bind,ro", str(target)], capture_output=True, text=True
        )
        if remount.returncode != 0:
            pytest.skip(f"read-only remount not allowed ({remount.stderr.strip()})")
        yield


def test_read_only_base_folder_exits_2_and_report_says_so(
    tmp_path: Path, reference: dict[str, str]
) -> None:
    src, ro = tmp_path / "src", tmp_path / "ro"
    assert _run(src).returncode == 0
    with _read_only(src, ro):
        before = {p: p.read_bytes() for p in sorted(src.rglob("*")) if p.is_file()}
        assert not list(ro.rglob("*.sqlite-shm"))  # closed cleanly: SQLite would make one
        status = subprocess.run(  # reading a results folder one may not write: a row per
            [*_cmd(ro), "--dry-run"], capture_output=True, text=True, env=_env(), timeout=300
        )  # stage, and since the stages would run (its outputs are read by another path), the
        assert status.stdout.startswith("count "), status.stdout  # line pipeline would fail with
        assert "would run" in status.stdout and status.returncode == 2, status.stderr
        _one_clean_line(status.stderr, str(ro), "read-only file system", "would fail")
        proc = _run(ro, "--force")
        assert proc.returncode == 2
        _one_clean_line(proc.stderr, str(ro), "read-only file system")
        cfg = tmp_path / "pipeline.toml"  # ``report`` reads the base folder from the file
        cfg.write_text(f'[pipeline]\nentry = "x.py:build"\n[outputs]\nbase_dir = "{ro}"\n')
        report = subprocess.run(
            [sys.executable, "-m", "standard_coder", "report", "--config", str(cfg)],
            capture_output=True,
            text=True,
            env=_env(),
        )
        assert report.returncode == 2, report.stderr
        _one_clean_line(report.stderr, "read-only file system")
        gc = subprocess.run(  # was a traceback (its lock's StorageError), exit 1
            [sys.executable, "-m", "standard_coder", "gc", "--config", str(cfg)],
            capture_output=True, text=True, env=_env(),
        )  # fmt: skip
        assert gc.returncode == 2, gc.stderr
        _one_clean_line(gc.stderr, str(ro), "read-only file system")
        after = {p: p.read_bytes() for p in sorted(src.rglob("*")) if p.is_file()}
        assert after == before  # state intact
    assert _hashes(src) == reference


def test_a_stage_writing_to_a_read_only_folder_exits_2_naming_it(tmp_path: Path) -> None:
    """A stage output on a read-only mount (the state folder writable) failed with exit 1 and
    asked for a writable [outputs] base_dir; it exits 2 (an unusable folder, as the state
    folder's) and names the output's folder and what to do, before the stage's work (a vision
    training of minutes failed when it put its report in place, leaving a new model beside the
    old model's records), and ``status`` says so (it said ``would run``, exit 0)."""
    (tmp_path / "steps.py").write_text(
        "from pathlib import Path\n"
        "from standard_coder.runner.stage import Pipeline, Stage\n"
        "def write(ctx):\n"
        "    (Path(ctx.base_dir) / 'worked').write_text('the stage ran')\n"
        "    Path(ctx.outputs['data']).write_text('x')\n"
        "def build(config, overrides):\n"
        "    root = Path(config).parent\n"
        "    stage = Stage(name='make', run=write, named_outputs={'data': root / 'ro' / 'd.txt'})\n"
        "    return Pipeline(name='p', stages=[stage], base_dir=root / 'state')\n"
    )
    cfg = tmp_path / "pipeline.toml"
    cfg.write_text('[pipeline]\nentry = "steps.py:build"\n')
    (tmp_path / "src").mkdir()
    with _read_only(tmp_path / "src", tmp_path / "ro"):
        status = subprocess.run(
            [sys.executable, "-m", "standard_coder", "status", "--config", str(cfg)],
            capture_output=True, text=True, env=_env(), timeout=300,
        )  # fmt: skip
        proc = subprocess.run(
            [sys.executable, "-m", "standard_coder", "pipeline", "--config", str(cfg)],
            capture_output=True, text=True, env=_env(), timeout=300,
        )  # fmt: skip
    assert status.returncode == 2, status.stderr
    _one_clean_line(status.stderr, f"{tmp_path / 'ro'}: read-only file system",
                    "pipeline would fail stage 'make' before it runs")  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    said = " ".join(proc.stderr.split())
    assert f"{tmp_path / 'ro'}: read-only file system (a stage writes there" in said
    assert "base_dir" not in said
    assert not (tmp_path / "state" / "worked").exists()  # refused before its work


def test_a_staged_or_linked_output_on_a_read_only_mount_needs_only_its_folder_writable(
    tmp_path: Path,
) -> None:
    """A staged output is renamed into place and a link is replaced: neither is written in, so
    a read-only output folder (or the folder a link points to) refuses only a stage that writes
    inside it, and the folder holding it decides for the others."""
    from standard_coder.runner.fserrors import unwritable_folder

    (tmp_path / "src").mkdir()
    out = tmp_path / "out"
    (out / "model").mkdir(parents=True)
    (out / "link").symlink_to(tmp_path / "src", target_is_directory=True)
    with _read_only(tmp_path / "src", out / "model"):
        found = unwritable_folder([out / "model"])
        assert found is not None and found.errno == errno.EROFS
        assert found.filename == str(out / "model")
        assert unwritable_folder([out / "model"], staged=True) is None
        assert unwritable_folder([out / "model" / "weights.pt"]) is not None  # written in
    with _read_only(tmp_path / "src", tmp_path / "src"):
        assert unwritable_folder([out / "link"]) is None
        assert unwritable_folder([out / "link" / "x.json"]) is not None


def test_status_of_up_to_date_results_on_a_read_only_mount_is_0(tmp_path: Path) -> None:
    """Reading up-to-date results one may not write is what ``status`` is for: exit 0. (A stage
    that would run there is refused with one line: the test above.)"""
    src = tmp_path / "src"
    assert _run(src).returncode == 0
    with _read_only(src, src):
        status = subprocess.run(
            [*_cmd(src), "--dry-run"], capture_output=True, text=True, env=_env(), timeout=300
        )
        assert status.returncode == 0 and "would run" not in status.stdout, status.stdout
        assert "error" not in status.stderr, status.stderr


def test_disk_full_exits_1_naming_the_place_and_a_rerun_with_space_finishes(
    tmp_path: Path, reference: dict[str, str]
) -> None:
    disk = tmp_path / "disk"
    with _mounted(disk, "-t", "tmpfs", "-o", "size=160k", "tmpfs"):
        base = disk / "out"
        proc = _run(base)
        assert proc.returncode == 1, proc.stderr
        assert "Traceback" not in proc.stderr and "Logging error" not in proc.stderr, proc.stderr
        assert "no space left" in proc.stderr and str(disk) in proc.stderr, proc.stderr
        assert not list((base / "quarantine").glob("*")) if (base / "quarantine").exists() else True
        grow = subprocess.run(
            ["mount", "-o", "remount,size=64m", str(disk)], capture_output=True, text=True
        )
        assert grow.returncode == 0, grow.stderr
        done = _run(base)
        assert done.returncode == 0, done.stderr
        assert _hashes(base) == reference
        assert not (base / "quarantine").exists() or not any((base / "quarantine").iterdir())


def test_torn_last_event_line_does_not_swallow_the_next_run(tmp_path: Path) -> None:
    base = tmp_path / "out"
    assert _run(base).returncode == 0
    events = base / "logs" / "events.jsonl"
    with events.open("ab") as fh:
        fh.write(b'{"ts": 1, "run_id": "torn", "eve')  # a run killed mid-write
    assert _run(base).returncode == 0
    lines = events.read_bytes().split(b"\n")
    torn = [i for i, line in enumerate(lines) if line.startswith(b'{"ts": 1, "run_id": "torn"')]
    assert len(torn) == 1 and lines[torn[0]] == b'{"ts": 1, "run_id": "torn", "eve'
    parsed = [json.loads(line) for line in lines[torn[0] + 1 :] if line]
    assert parsed[0]["event"] == "run_started"
    from standard_coder.runner.events import read_events

    names = [e["event"] for e in read_events(events)]
    assert names.count("run_started") == 2 and names[-1] == "run_completed"
