"""diff-runs: config keys, package versions and stage fingerprints between two real run folders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from reportfix import make_run

from standard_coder.runner.envstamp import STAMP_FILE, read_env_stamp, write_env_stamp
from standard_coder.runner.rundiff import RunNotFound, diff_runs, flatten, resolve_run_dir

CLI = [
    sys.executable,
    "-c",
    "import sys, standard_coder.cli.runs; from standard_coder.cli import main; main()",
]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, timeout=120)


def _pair(base: Path) -> tuple[Path, Path]:
    now = time.time()
    a = make_run(
        base,
        "runA",
        now - 100,
        config={"training": {"lr": 0.001, "epochs": 5, "dropout": 0.1}, "seed": 1},
        fingerprints={"mine": "m1", "train_sch": "t1", "old_stage": "o1"},
    )
    b = make_run(
        base,
        "runB",
        now - 50,
        config={"training": {"lr": 0.01, "epochs": 5, "hidden": 64}, "seed": 1},
        fingerprints={"mine": "m1", "train_sch": "t2", "forecast": "f1"},
    )
    stamp = read_env_stamp(b)
    stamp["packages"]["torch"] = "9.9.9"
    write_env_stamp(b, stamp)
    return a, b


def test_flatten_dotted_keys() -> None:
    assert dict(flatten({"a": {"b": 1, "c": {"d": [1, 2]}}, "e": {}})) == {
        "a.b": 1,
        "a.c.d": [1, 2],
        "e": {},
    }


def test_diff_lists_config_packages_and_fingerprints(tmp_path: Path) -> None:
    a, b = _pair(tmp_path)
    d = diff_runs(a, b)
    cfg = {(c.key, c.kind): (c.a, c.b) for c in d.config}
    assert cfg == {
        ("training.lr", "changed"): (0.001, 0.01),
        ("training.dropout", "removed"): (0.1, None),
        ("training.hidden", "added"): (None, 64),
    }
    assert [(c.key, c.b) for c in d.packages] == [("torch", "9.9.9")]
    stages = {(c.key, c.kind) for c in d.stages}
    assert stages == {("train_sch", "changed"), ("old_stage", "removed"), ("forecast", "added")}
    assert "config_hash" in {c.key for c in d.environment}
    assert d.fingerprint_sources == ("env stamp", "env stamp")
    assert not d.identical
    assert diff_runs(a, a).identical


def test_the_executor_a_run_used_is_compared(tmp_path: Path) -> None:
    """A local run and a Dask run said "No differences ... environment": the env stamps'
    ``executor`` differed and was not compared."""
    a, b = _pair(tmp_path)
    for run, executor in ((a, {"kind": "local", "workers": 2}),
                          (b, {"kind": "dask", "address": "tcp://127.0.0.1:8786"})):  # fmt: skip
        stamp = read_env_stamp(run)
        stamp["executor"] = executor
        write_env_stamp(run, stamp)
    changed = {c.key: (c.a, c.b) for c in diff_runs(a, b).environment}
    assert changed["executor"] == ({"kind": "local", "workers": 2},
                                   {"kind": "dask", "address": "tcp://127.0.0.1:8786"})  # fmt: skip


def test_fingerprints_fall_back_to_events(tmp_path: Path) -> None:
    now = time.time()
    a = make_run(tmp_path, "A", now - 100)
    b = make_run(tmp_path, "B", now - 50)
    (tmp_path / "logs").mkdir()
    lines = [
        {
            "ts": now - 99,
            "run_id": "A",
            "event": "stage_completed",
            "stage": "s1",
            "reason": None,
            "fingerprint": "x1",
        },
        {
            "ts": now - 49,
            "run_id": "B",
            "event": "stage_skipped",
            "stage": "s1",
            "reason": "up to date",
            "fingerprint": "x2",
        },
    ]
    (tmp_path / "logs" / "events.jsonl").write_text(
        "".join(json.dumps(x) + "\n" for x in lines) + "{garbage\n"
    )
    d = diff_runs(a, b)
    assert [(c.key, c.a, c.b) for c in d.stages] == [("s1", "x1", "x2")]
    assert d.fingerprint_sources == ("events.jsonl", "events.jsonl")


def test_missing_folder_or_stamp(tmp_path: Path) -> None:
    a = make_run(tmp_path, "A", time.time())
    (tmp_path / "runs" / "nostamp").mkdir()
    with pytest.raises(RunNotFound, match=r"no env_stamp\.json"):
        resolve_run_dir("nostamp", tmp_path)
    with pytest.raises(RunNotFound, match="not found"):
        resolve_run_dir("zzz", tmp_path)
    assert resolve_run_dir("A", tmp_path) == tmp_path / "runs" / "A"
    assert resolve_run_dir(str(a)) == a
    with pytest.raises(RunNotFound, match="env stamp missing"):
        diff_runs(a, tmp_path / "runs" / "nostamp")


def test_cli_tables_and_json(tmp_path: Path) -> None:
    a, b = _pair(tmp_path)
    r = cli("diff-runs", "runA", "runB", "--base-dir", str(tmp_path))
    assert r.returncode == 0, r.stderr
    for text in (
        "Config keys",
        "training.lr",
        "0.001",
        "0.01",
        "training.hidden",
        "torch",
        "9.9.9",
        "Stage fingerprints",
        "train_sch",
        "t1",
        "t2",
        # a stage of one run only was not run in the other: not "added" to the pipeline
        "in B only",
        "in A only",
        "was not run in the other",
    ):
        assert text in r.stdout, text
    r = cli("diff-runs", str(a), str(b), "--json")
    doc = json.loads(r.stdout)
    assert doc["run_a"] == "runA" and any(c["key"] == "training.lr" for c in doc["config"])


def test_cli_exit_2_on_missing_run_or_stamp(tmp_path: Path) -> None:
    a = make_run(tmp_path, "A", time.time())
    r = cli("diff-runs", str(a), str(tmp_path / "runs" / "missing"))
    assert r.returncode == 2 and "not found" in r.stderr and "Traceback" not in r.stderr
    (a / STAMP_FILE).unlink()
    r = cli("diff-runs", "A", "A", "--base-dir", str(tmp_path))
    assert r.returncode == 2 and "env_stamp.json" in r.stderr


def test_run_ids_are_looked_up_in_the_configs_base_dir(tmp_path: Path) -> None:
    """A user holding a config names runs by id with -c, as with every other command."""
    _pair(tmp_path)
    config = tmp_path / "pipeline_config.toml"
    config.write_text(f"[outputs]\nbase_dir = {str(tmp_path)!r}\n")
    r = cli("diff-runs", "runA", "runB", "-c", str(config))
    assert r.returncode == 0, r.stderr
    assert "training.lr" in r.stdout
    r = cli("diff-runs", "runA", "runB")  # an id without a config: the way out is named
    assert r.returncode == 2 and "give --config FILE to look runs up by id" in r.stderr
    r = cli("diff-runs", "runA", "runB", "-c", str(config), "--base-dir", str(tmp_path))
    assert r.returncode == 2 and "--config or --base-dir, not both" in r.stderr
    r = cli("diff-runs", "runA", "runB", "-c", str(tmp_path / "nope.toml"))
    assert r.returncode == 2 and "nope.toml" in r.stderr and "Traceback" not in r.stderr


def test_the_users_text_in_brackets_is_shown_not_read_as_console_markup(tmp_path: Path) -> None:
    now = time.time()
    make_run(tmp_path, "runA", now - 100, config={"repos": {"name": "[bold]core[/]"}})
    make_run(tmp_path, "runB", now - 50, config={"repos": {"name": "[pre-commit.ci] fork"}})
    r = cli("diff-runs", "runA", "runB", "--base-dir", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "[bold]core[/]" in r.stdout and "[pre-commit.ci] fork" in r.stdout
    r = cli("diff-runs", "runA", "[wip]missing", "--base-dir", str(tmp_path))
    assert r.returncode == 2 and "[wip]missing" in r.stderr
