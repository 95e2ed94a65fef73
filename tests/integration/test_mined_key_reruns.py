"""The learning stages read the mined database through its content key (``Stage.input_keys``).

A commit that touches no enabled language (documentation, CI) or none at all changes the
database (the mine records that it looked at it, and where HEAD is) but nothing ``train_sch``
and ``team_output`` read: such a commit reruns the mine alone. A code commit reruns them,
naming the database. Real git repositories, real runs through the CLI; tiny sizes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from gitrepos import BASE_TS, commit, git, py_lines, small_history

from proctools import child_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _run(root: Path, *args: str, code: int = 0) -> dict[str, tuple[str, str]]:
    """``pipeline --to team_output`` (or ``args``); each stage's event and reason in that run."""
    proc = subprocess.run(
        [sys.executable, "-m", "standard_coder", "pipeline", "--config", str(root / "c.toml"),
         *(args or ("--to", "team_output"))],
        capture_output=True, text=True, env=child_env(COLUMNS="120"), timeout=600,
    )  # fmt: skip
    assert proc.returncode == code, proc.stderr[-2000:]
    lines = (root / "out" / "logs" / "events.jsonl").read_text().splitlines()
    evs: list[dict[str, Any]] = [json.loads(line) for line in lines]
    run = [e for e in evs if e["run_id"] == evs[-1]["run_id"]]
    return {e["stage"]: (e["event"], e["reason"]) for e in run
            if e["event"] in ("stage_skipped", "stage_cache_miss")}  # fmt: skip


def test_a_commit_touching_no_enabled_language_reruns_the_mine_alone(tmp_path: Path) -> None:
    small_history(tmp_path, 8)
    repo = tmp_path / "repo"
    first = _run(tmp_path)
    assert {s: e for s, (e, _) in first.items()} == dict.fromkeys(
        ("mine", "train_sch", "team_output"), "stage_cache_miss"
    )
    key = tmp_path / "out" / "raw" / "mined_commits.key.json"
    said = json.loads(key.read_text())
    assert set(said) == {"version", "sha256", "of"} and said["of"] == "mined_commits.sqlite"
    db = tmp_path / "out" / "raw" / "mined_commits.sqlite"
    before = db.read_bytes()
    up_to_date = {"train_sch": ("stage_skipped", "up to date"),
                  "team_output": ("stage_skipped", "up to date")}  # fmt: skip

    commit(repo, {"README.md": "# notes\n", ".github/ci.yml": "on: push\n"}, "docs",
           ts=BASE_TS + 1200 * 9)  # fmt: skip
    # before the mine has looked, status can say only that the learning stages may rerun
    status = subprocess.run(
        [sys.executable, "-m", "standard_coder", "status", "--config", str(tmp_path / "c.toml"),
         "--stages", "mine,train_sch,team_output"],
        capture_output=True, text=True, env=child_env(COLUMNS="200"), timeout=600,
    )  # fmt: skip
    rows = {ln.split()[0]: ln.split(None, 1)[1] for ln in status.stdout.splitlines() if ln}
    assert rows["mine"].startswith("would run") and rows["train_sch"].startswith("may run")
    assert rows["team_output"].endswith("upstream may run: train_sch"), rows
    again = _run(tmp_path)
    assert again == {"mine": ("stage_cache_miss", "input changed: git:repo"), **up_to_date}
    assert db.read_bytes() != before  # the database did change: the mine records the commit
    assert json.loads(key.read_text()) == said

    git(repo, "commit", "--allow-empty", "-qm", "empty")
    assert _run(tmp_path) == {"mine": ("stage_cache_miss", "input changed: git:repo"),
                              **up_to_date}  # fmt: skip

    # what a mine killed as it works leaves: its key moved aside, none in place (a SIGKILL
    # between the two cannot leave the old key beside new rows)
    from standard_coder.pipelines.sch_mine import _move_key_aside

    previous = _move_key_aside(key)
    assert not key.exists() and previous.is_file()
    _run(tmp_path, "--stages", "train_sch", code=1)  # its upstream's output is missing
    assert _run(tmp_path) == {"mine": ("stage_cache_miss", "outputs missing: out/raw/"
                                       "mined_commits.key.json"), **up_to_date}  # fmt: skip
    assert json.loads(key.read_text()) == said and not previous.exists()

    commit(repo, {"pkg/m9.py": py_lines(12, "new")}, "code", ts=BASE_TS + 1200 * 11)
    code = _run(tmp_path)
    assert code["train_sch"] == ("stage_cache_miss", "input changed: out/raw/mined_commits.sqlite")
    assert json.loads(key.read_text())["sha256"] != said["sha256"]


def test_a_mine_that_fails_after_storing_rows_leaves_a_key_of_what_it_stored(
    tmp_path: Path,
) -> None:
    """A configured path that is gone fails the mine after the other repositories are stored:
    the key said the old rows while the database held new ones, and ``train_sch`` run alone was
    skipped as up to date on them."""
    from standard_coder.sch.mining.content_key import content_key

    small_history(tmp_path, 8)
    repo = tmp_path / "repo"
    _run(tmp_path)
    commit(repo, {"pkg/m9.py": py_lines(12, "new")}, "code", ts=BASE_TS + 1200 * 11)
    (tmp_path / "c.toml").write_text(
        (tmp_path / "c.toml").read_text().replace('["repo"]', '["repo", "gone"]')
    )
    failed = _run(tmp_path, code=2)
    assert failed["mine"][0] == "stage_cache_miss"
    key = tmp_path / "out" / "raw" / "mined_commits.key.json"
    db = tmp_path / "out" / "raw" / "mined_commits.sqlite"
    assert json.loads(key.read_text())["sha256"] == content_key(db)  # what it holds now
    alone = _run(tmp_path, "--stages", "train_sch")
    assert alone["train_sch"] == ("stage_cache_miss", "input changed: out/raw/mined_commits.sqlite")


class _StopWhenMiningStarts:
    """An event sink that asks the run to stop (as SIGINT's handler does: the run's
    :class:`StopToken`) once the mine has planned its chunks and before it stores one."""

    def __init__(self, stop: Any) -> None:
        self.stop = stop

    def emit(self, event: dict[str, Any]) -> None:
        if event["event"] == "mine_repo_started":
            self.stop.request(2)

    def close(self) -> None:
        pass


def test_a_stopped_mine_leaves_no_key_so_train_sch_alone_is_refused(tmp_path: Path) -> None:
    """A mine stopped (Ctrl-C, SIGTERM) as it works leaves no key, as a killed one does: its
    key was written from the half-mined database, and ``--stages train_sch`` then trained on it
    and exited 0 (or, stopped before a row, failed with "no mined commits (check [repos] and
    [filters])"). The next full run mines the rest and the learning stages read it."""
    from standard_coder.pipelines.sch import build
    from standard_coder.runner.engine import run_pipeline
    from standard_coder.runner.progress import ProgressDisplay
    from standard_coder.runner.stoptoken import StopToken

    config = small_history(tmp_path, 8)
    _run(tmp_path)
    key = tmp_path / "out" / "raw" / "mined_commits.key.json"
    said = json.loads(key.read_text())
    commit(tmp_path / "repo", {"pkg/m9.py": py_lines(12, "new")}, "code", ts=BASE_TS + 1200 * 11)
    stop = StopToken()
    res = run_pipeline(build(config, []), stages=["mine"], sinks=[_StopWhenMiningStarts(stop)],
                       stop=stop, install_signals=False,
                       progress=ProgressDisplay(enabled=False))  # fmt: skip
    assert res.exit_code == 130 and res.stages["mine"].status == "interrupted", res.message
    assert not key.exists()  # moved aside, not rewritten from the half-mined database
    _run(tmp_path, "--stages", "train_sch", code=1)  # its upstream's output is missing
    again = _run(tmp_path)
    assert again["train_sch"] == ("stage_cache_miss", "input changed: out/raw/mined_commits.sqlite")
    assert json.loads(key.read_text())["sha256"] != said["sha256"]
