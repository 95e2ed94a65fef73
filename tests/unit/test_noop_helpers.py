"""The fast door's light copies (runner/noop.py) equal the full path's own functions."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from standard_coder.runner import envstamp, events, noop, noopwitness, pathstate, records, runstate
from standard_coder.runner.envstamp import _iso
from standard_coder.runner.layout import DEFAULT_BASE_DIR, read_outputs
from standard_coder.runner.tomlfile import read_toml


def test_constants_and_path_state_match_the_full_path() -> None:
    assert noop.DEFAULT_BASE_DIR == DEFAULT_BASE_DIR
    # one implementation of the sys.path state for the stamp, the witness and the door
    assert envstamp._path_state is noopwitness.path_state is pathstate.path_state
    assert noop.path_state is pathstate.path_state  # type: ignore[attr-defined]
    for ts in (0.0, 1796104812.7896, 1796104812.9999996, 1796104813.0004999):
        assert records.iso(ts) == _iso(ts)


def test_one_writer_per_record_for_the_door_and_the_full_path() -> None:
    # the fast door and the full path write every record through runner/records.py
    assert events._line is records.event_line
    assert runstate._digest is records.state_digest
    assert envstamp.parse_time is records.parse_time
    assert envstamp.STAMP_FILE == records.STAMP_FILE
    assert noop.UP_TO_DATE is records.UP_TO_DATE  # type: ignore[attr-defined]
    assert not hasattr(noop, "_write_atomic") and not hasattr(noop, "_log_time")


def test_log_time_is_loggings_asctime() -> None:
    fmt = logging.Formatter("%(asctime)s")
    for ts in (1796104812.0, 1796104812.789663, 1796104812.9999):
        record = logging.makeLogRecord({"created": ts, "msecs": int((ts - int(ts)) * 1000)})
        assert records.log_time(ts) == fmt.format(record)


def test_run_log_line_is_what_the_run_log_handler_writes(tmp_path: Path) -> None:
    handler = logging.FileHandler(tmp_path / "run.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter(records.RUN_LOG_FORMAT))
    message = records.started_message("20261201-000000-abcdef", ["a", "b%s"])
    rec = logging.makeLogRecord(
        {"name": records.RUN_LOGGER, "levelno": logging.INFO, "levelname": "INFO",
         "msg": "%s", "args": (message,), "created": 1796104812.25, "msecs": 250}
    )  # fmt: skip
    handler.emit(rec)
    handler.close()
    line = records.run_log_line(1796104812.25, message)
    assert (tmp_path / "run.log").read_text() == line


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["pipeline", "--config", "p.toml"], "p.toml"),
        (["pipeline", "-c", "p.toml"], "p.toml"),
        (["pipeline", "--config=p.toml"], "p.toml"),
        (["pipeline", "--config", "p.toml", "--force"], None),
        (["pipeline", "--config", "p.toml", "--log-level", "info"], None),
        (["status", "--config", "p.toml"], None),
        (["pipeline", "--config", ""], None),
    ],
)
def test_only_the_plain_command_line_takes_the_fast_door(
    argv: list[str], expected: str | None
) -> None:
    assert noop.plain_config(argv) == expected


@pytest.mark.parametrize(
    "outputs",
    [
        "",
        '[outputs]\nbase_dir = "state"\n',
        "[outputs]\nbase_dir='out dir' # comment\nretention_days = 3\n",
        '[outputs]\n  base_dir   =   "nested/state"\n',
    ],
)
def test_the_base_dir_guess_agrees_with_the_toml_reader(tmp_path: Path, outputs: str) -> None:
    cfg = tmp_path / "p.toml"
    cfg.write_text(outputs + '[[stages]]\nname = "a"\ncmd = ["true"]\n')
    want = read_outputs(read_toml(cfg, ValueError), cfg).base_dir
    got = noop.guess_base_dir(cfg.read_bytes(), str(cfg))
    assert os.path.normpath(got) == str(want)


def test_command_version_is_the_command_files_version(tmp_path: Path) -> None:
    from standard_coder.runner.commandfile import load_command_pipeline

    (tmp_path / "s.py").write_text("print(1)\n")
    (tmp_path / "a.sh").write_text("echo\n")
    data = {
        "stages": [
            {"name": "a", "cmd": ["python", "s.py", "x"], "deps": ["s.py", "a.sh", "missing.py"]}
        ]
    }
    pipe = load_command_pipeline(data, tmp_path / "p.toml")
    stage = pipe.stages[0]
    run = stage.run
    assert noop.command_version(list(run.argv), list(run.version_files)) == stage.version  # type: ignore[attr-defined]
    assert "missing.py" in " ".join(run.version_files)  # type: ignore[attr-defined]
