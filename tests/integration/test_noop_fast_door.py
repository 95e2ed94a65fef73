"""The no-op fast door (runner/noop.py) against the full path: same records, and every change
the full path detects still reaches it (real subprocesses, locks and files)."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from proctools import child_env
from standard_coder.runner.runstate import read_run_state

pytestmark = pytest.mark.integration

STAGE = r"""
import json, sys
from pathlib import Path
src, out = Path(sys.argv[1]), Path(sys.argv[2])
files = sorted(p for p in src.rglob("*") if p.is_file()) if src.is_dir() else [src]
out.parent.mkdir(parents=True, exist_ok=True)
doc = {"files": [p.name for p in files], "bytes": sum(len(p.read_bytes()) for p in files)}
out.write_text(json.dumps(doc))
"""


def write_pipeline(root: Path, lr: float = 0.5) -> Path:
    (root / "data" / "sub").mkdir(parents=True, exist_ok=True)
    for i in range(3):
        (root / "data" / "sub" / f"f{i}.txt").write_text(f"file {i}\n")
    (root / "stage.py").write_text(STAGE)
    py = json.dumps(sys.executable)
    (root / "pipe.toml").write_text(f"""
[outputs]
base_dir = "state"
[params]
model = {{ lr = {lr} }}
[[stages]]
name = "one"
cmd = [{py}, "stage.py", "data", "out/one.json"]
deps = ["stage.py", "data"]
outs = ["out/one.json"]
params = ["model.lr"]
[[stages]]
name = "two"
cmd = [{py}, "stage.py", "out/one.json", "out/two.json"]
deps = ["stage.py", "out/one.json"]
outs = ["out/two.json"]
""")
    return root / "pipe.toml"


def cli(root: Path, *extra: str, importtime: bool = False) -> subprocess.CompletedProcess[str]:
    env = child_env()
    flags = ["-X", "importtime"] if importtime else []
    return subprocess.run(
        [
            sys.executable,
            *flags,
            "-m",
            "standard_coder",
            "pipeline",
            "--config",
            "pipe.toml",
            *extra,
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def fast(result: subprocess.CompletedProcess[str]) -> bool:
    """Whether the run went through the fast door (the engine never imported)."""
    return "standard_coder.runner.engine" not in result.stderr


def messages(result: subprocess.CompletedProcess[str], run_id: str) -> list[str]:
    lines = [ln for ln in result.stderr.splitlines() if not ln.startswith("import time:")]
    return [ln.replace(run_id, "RUN") for ln in lines]


def last_run(base: Path) -> str:
    return str(read_run_state(base / "checkpoints" / "run_state.json")["run_id"])


def events_of(base: Path, run_id: str) -> list[dict[str, object]]:
    lines = (base / "logs" / "events.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["run_id"] == run_id]


@pytest.fixture
def witnessed(tmp_path: Path) -> Path:
    """A pipeline that ran, then had one full no-op (which leaves the witness)."""
    write_pipeline(tmp_path)
    assert cli(tmp_path).returncode == 0
    full = cli(tmp_path, importtime=True)
    assert full.returncode == 0 and not fast(full), full.stderr[-2000:]
    assert (tmp_path / "state" / "cache" / "noop_witness.json").is_file()
    return tmp_path


def test_the_fast_door_writes_what_the_full_no_op_writes(witnessed: Path) -> None:
    base = witnessed / "state"
    assert not fast(cli(witnessed, "--force", "--stages", "two", importtime=True))
    assert not (base / "cache" / "noop_witness.json").exists()
    full_out = cli(witnessed, importtime=True)  # ...and written again by a plain full no-op
    assert not fast(full_out) and (base / "cache" / "noop_witness.json").is_file()
    full_id = last_run(base)
    full_state = read_run_state(base / "checkpoints" / "run_state.json")
    full_log = (base / "logs" / "run.log").read_text().splitlines()[-2:]

    quick = cli(witnessed, importtime=True)
    assert quick.returncode == 0 and fast(quick), quick.stderr[-3000:]
    for heavy in ("dataclasses", "pathlib", "typing", "logging", "sqlite3", "tomllib", "numpy"):
        assert f" {heavy}\n" not in quick.stderr, heavy
    quick_id = last_run(base)
    assert quick_id != full_id
    assert messages(quick, quick_id) == messages(full_out, full_id)

    # events: the same events, fields and values but for times and the run id
    def shape(events: list[dict[str, object]]) -> list[object]:
        return [
            [(k, v) for k, v in e.items() if k not in ("ts", "run_id", "check_s")] + [list(e)]
            for e in events
        ]

    assert shape(events_of(base, quick_id)) == shape(events_of(base, full_id))
    # run state: checksum valid, the same per-stage records
    state = read_run_state(base / "checkpoints" / "run_state.json")
    assert state["status"] == "completed" and set(state) == set(full_state)
    for name, rec in state["stages"].items():
        old = full_state["stages"][name]
        assert set(rec) == set(old) and rec["run_id"] == quick_id
        assert {k: v for k, v in rec.items() if k not in ("run_id", "check_s")} == {
            k: v for k, v in old.items() if k not in ("run_id", "check_s")
        }
    # env stamp: every field equal but the run's id and times
    a = json.loads((base / "runs" / full_id / "env_stamp.json").read_text())
    b = json.loads((base / "runs" / quick_id / "env_stamp.json").read_text())
    varying = {"run_id", "started_at", "ended_at", "duration_s"}
    assert set(a) == set(b) and b["run_id"] == quick_id and b["duration_s"] >= 0
    assert {k: v for k, v in a.items() if k not in varying} == {
        k: v for k, v in b.items() if k not in varying
    }

    # retention note: the same text but for the id and the sizes measured now
    def note(run_id: str) -> list[str]:
        text = (base / "runs" / run_id / "RETENTION.txt").read_text().replace(run_id, "RUN")
        return [ln for ln in text.splitlines() if not ln.startswith(("This run:", "Output root:"))]

    assert note(quick_id) == note(full_id)
    # run.log: the same two lines but for the time and id
    quick_log = (base / "logs" / "run.log").read_text().splitlines()[-2:]
    assert [ln[24:].replace(quick_id, "RUN") for ln in quick_log] == [
        ln[24:].replace(full_id, "RUN") for ln in full_log
    ]
    assert not (base / ".lock").read_bytes()  # released as RunLock releases it


def _restore_stat(path: Path, data: str) -> None:
    st = path.stat()
    with open(path, "r+") as fh:  # same inode, same size, mtime put back
        fh.write(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


CHANGES = {
    "input content": (
        lambda r: (r / "data" / "sub" / "f1.txt").write_text("FILE 1\n"),
        "[run] one: input changed: data/sub/f1.txt",
    ),
    "script bytes, stat put back": (
        lambda r: _restore_stat(r / "stage.py", STAGE.replace('"bytes"', '"BYTES"')),
        "[run] one: code changed: stage.py",
    ),
    "a param": (
        lambda r: write_pipeline(r, lr=0.25),
        "[run] one: params changed: params.model.lr 0.5 -> 0.25",
    ),
    "an output deleted": (
        lambda r: (r / "out" / "two.json").unlink(),
        "[run] two: outputs missing: out/two.json",
    ),
    "an output edited": (
        lambda r: (r / "out" / "two.json").write_text("{}"),
        "[run] two: outputs changed: out/two.json",
    ),
    "a file added": (
        lambda r: (r / "data" / "new.txt").write_text("new\n"),
        "[run] one: input changed: data/new.txt",
    ),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_every_change_the_full_path_detects_still_reaches_it(witnessed: Path, change: str) -> None:
    make, expected = CHANGES[change]
    make(witnessed)
    rerun = cli(witnessed, importtime=True)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert not fast(rerun) and expected in rerun.stderr


def test_a_corrupt_run_state_and_a_held_lock_go_to_the_full_path(witnessed: Path) -> None:
    base = witnessed / "state"
    state = base / "checkpoints" / "run_state.json"
    state.write_text(state.read_text().replace('"completed"', '"garbled"', 1))
    rerun = cli(witnessed, importtime=True)
    assert rerun.returncode == 0 and not fast(rerun)
    assert list((base / "quarantine").iterdir())  # the full path set it aside, as ever
    assert fast(cli(witnessed, importtime=True))  # that no-op left a witness again
    fd = os.open(base / ".lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held = cli(witnessed)
    finally:
        os.close(fd)
    assert held.returncode == 3 and "locked" in held.stderr
