"""The CLI end to end: real subprocesses, signals, locks and exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from proctools import alive, child_env

pytestmark = pytest.mark.integration

SCRIPT = r"""
import json, os, signal, sys, time
from pathlib import Path
mode, out = sys.argv[1], Path(sys.argv[2])
marker = Path(os.environ["SC_CHECKPOINT_DIR"]) / "started"
def on_signal(signum, frame):
    Path("signalled.txt").write_text(str(signum))
    sys.exit(1)
if mode == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
else:
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
marker.write_text(str(os.getpid()))
env = {k: v for k, v in os.environ.items() if k.startswith("SC_")}
if mode in ("slow", "stubborn"):
    deadline = time.time() + float(os.environ.get("SLOW_S", "3"))
    while time.time() < deadline:
        time.sleep(0.02)
if mode == "fail":
    sys.exit(4)
if mode != "noout":
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(env, sort_keys=True))
"""


def write_pipeline(root: Path, first: str = "fast", grace: float = 5.0) -> Path:
    (root / "data").mkdir(exist_ok=True)
    (root / "data" / "a.txt").write_text("a\n")
    (root / "stage.py").write_text(SCRIPT)
    py = json.dumps(sys.executable)
    (root / "pipe.toml").write_text(f"""
[outputs]
base_dir = "state"
[runner]
stop_grace_s = {grace}
[params]
model = {{ lr = 0.5, save_every = 3 }}
[[stages]]
name = "one"
cmd = [{py}, "stage.py", "{first}", "out/one.json"]
deps = ["stage.py", "data"]
outs = ["out/one.json"]
params = ["model.lr"]
settings = ["model.save_every"]
[[stages]]
name = "two"
cmd = [{py}, "stage.py", "fast", "out/two.json"]
deps = ["out/one.json"]
outs = ["out/two.json"]
""")
    return root / "pipe.toml"


def cli(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    kw["env"] = child_env(kw.get("env"))  # type: ignore[arg-type]
    return subprocess.run(
        [sys.executable, "-m", "standard_coder", *args],
        capture_output=True,
        text=True,
        timeout=60,
        **kw,
    )  # type: ignore[call-overload]


def start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "standard_coder", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(**(env or {})),
    )


def wait_for(path: Path, timeout: float = 20.0) -> None:
    deadline = time.time() + timeout
    while not path.exists():
        assert time.time() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def test_run_then_noop_and_env(tmp_path: Path) -> None:
    cfg = write_pipeline(tmp_path)
    first = cli("pipeline", "--config", str(cfg))
    assert first.returncode == 0, first.stderr
    env = json.loads((tmp_path / "out" / "one.json").read_text())
    assert env["SC_STAGE"] == "one" and json.loads(env["SC_PARAMS_JSON"]) == {"model.lr": 0.5}
    assert json.loads(env["SC_SETTINGS_JSON"]) == {"model.save_every": 3}
    assert env["SC_CHECKPOINT_DIR"] == str(tmp_path / "state" / "checkpoints" / "one")
    assert env["SC_RUN_ID"]
    again = cli("pipeline", "--config", str(cfg))
    assert again.returncode == 0
    assert "[skip] one: up to date" in again.stderr and "[skip] two: up to date" in again.stderr
    status = cli("status", "--config", str(cfg), "--json", "--set", "params.model.lr=1")
    rows = json.loads(status.stdout)["stages"]
    assert rows[0]["reason"] == "params changed: params.model.lr 0.5 -> 1"
    # a setting (how often it saves) is read by the stage, never fingerprinted
    status = cli("status", "--config", str(cfg), "--json", "--set", "params.model.save_every=9")
    assert [r["run"] for r in json.loads(status.stdout)["stages"]] == [False, False]


def test_a_logged_warning_reads_warning_colon_on_the_console_and_keeps_its_logger_in_run_log(
    tmp_path: Path,
) -> None:
    """A warning the runner logs (a device asked for and missing: this machine has no CUDA, or
    the fallback is what is tested) is ``warning: ...`` on the console like the CLI's own, not
    ``WARNING standard_coder.runner...: ...``; ``--log-level debug`` and run.log keep the name."""
    counting = Path(__file__).resolve().parents[2] / "examples" / "counting" / "pipeline.toml"
    out = ("--set", f"outputs.base_dir={tmp_path / 'out'}", "--set", "params.count.items=40")
    cfg = counting  # its training stage asks for the device
    proc = cli("pipeline", "--config", str(cfg), *out, "--set", "runner.device=cuda")
    assert proc.returncode == 0, proc.stderr
    lines = [x for x in proc.stderr.splitlines() if "requested but not available" in x]
    if not lines:  # a machine with CUDA: nothing falls back
        pytest.skip("cuda is available here: no fallback warning to show")
    assert lines == ["warning: device: cuda requested but not available; using cpu"]
    assert "WARNING" not in proc.stderr
    debug = cli("pipeline", "--config", str(cfg), *out, "--set", "runner.device=cuda",
                "--force", "--log-level", "debug")  # fmt: skip
    assert "WARNING standard_coder." in debug.stderr


def test_a_usage_error_of_a_fast_command_is_the_full_clis(tmp_path: Path) -> None:
    """``pipeline``/``status`` are parsed without Typer for speed; an argument that parser does
    not take used to print its usage (three commands of the CLI's many) and argparse's error."""
    cfg = write_pipeline(tmp_path)
    for args in (["status", "-c", str(cfg), "--bogus"], ["pipeline", "-c", str(cfg), "--bogus"]):
        proc = cli(*args)
        assert proc.returncode == 2, proc.stderr
        assert f"standard_coder {args[0]} [OPTIONS]" in proc.stderr, proc.stderr  # python -m
        assert "No such option: --bogus" in proc.stderr
        assert "validate-manifest" not in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "state").exists()


def test_dry_run_and_status_write_nothing(tmp_path: Path) -> None:
    cfg = write_pipeline(tmp_path)
    dry = cli("pipeline", "--config", str(cfg), "--dry-run")
    assert dry.returncode == 0 and "would run" in dry.stdout and "new" in dry.stdout
    assert cli("status", "--config", str(cfg)).returncode == 0
    assert not (tmp_path / "state").exists() and not (tmp_path / "out").exists()


def test_status_names_a_missing_input_and_exits_2_as_pipeline_does(tmp_path: Path) -> None:
    cfg = write_pipeline(tmp_path)
    (tmp_path / "data" / "a.txt").unlink()
    (tmp_path / "data").rmdir()
    refused = cli("pipeline", "--config", str(cfg))
    assert refused.returncode == 2 and "data, which does not exist" in refused.stderr
    for args in (["status"], ["pipeline", "--dry-run"]):
        res = cli(*args, "--config", str(cfg))
        assert res.returncode == 2, res.stderr
        assert f"one  cannot run  input missing: {tmp_path / 'data'}" in res.stdout
        (line,) = res.stderr.strip().splitlines()
        assert line == (
            f"error: stage 'one' reads {tmp_path / 'data'}, which does not exist: pipeline "
            "would refuse to start"
        )
    rows = json.loads(cli("status", "--config", str(cfg), "--json").stdout)["stages"]
    assert [r["missing_input"] for r in rows] == [str(tmp_path / "data"), None]


def test_status_names_an_unselected_upstreams_missing_output_as_pipeline_does(
    tmp_path: Path,
) -> None:
    """``--stages two`` with one's output gone: pipeline refuses (exit 1, UpstreamMissing);
    ``--dry-run`` said ``would run ... declared path does not exist`` with exit 0."""
    cfg = write_pipeline(tmp_path)
    assert cli("pipeline", "--config", str(cfg)).returncode == 0
    (tmp_path / "out" / "one.json").unlink()
    refused = cli("pipeline", "--config", str(cfg), "--stages", "two")
    assert refused.returncode == 1 and "needs the outputs of upstream stage 'one'" in refused.stderr
    said = (
        "stage 'two' needs the outputs of upstream stage 'one', which are missing "
        "(out/one.json); run 'one' first or select it"
    )
    res = cli("pipeline", "--dry-run", "--config", str(cfg), "--stages", "two")
    assert res.returncode == 1, res.stderr
    assert f"two  cannot run  {said}" in res.stdout, res.stdout
    (line,) = res.stderr.strip().splitlines()
    assert line == f"error: {said}: pipeline would refuse to start"
    # with one selected too (status selects all), nothing is missing: one would run first
    for args in (["status"], ["pipeline", "--dry-run", "--stages", "one,two"]):
        both = cli(*args, "--config", str(cfg))
        assert both.returncode == 0 and "cannot run" not in both.stdout, both.stdout


def test_status_names_a_missing_package_and_exits_2_as_pipeline_does(tmp_path: Path) -> None:
    """A stage whose required package is not installed: pipeline refuses before any stage runs
    (exit 2); status and --dry-run say so on its row and exit 2 too, with one line."""
    (tmp_path / "needpipe.py").write_text("""
from pathlib import Path
from standard_coder.runner.stage import Pipeline, Stage
def write(ctx):
    (Path(ctx.base_dir) / (ctx.params["n"] + ".txt")).write_text("x")
def build(config_path, overrides):
    base = Path(config_path).parent / "state"
    how = "pip install no-such-package-s38"
    return Pipeline(name="py", base_dir=base, stages=[
        Stage(name="plain", run=write, params={"n": "plain"}, outputs=(base / "plain.txt",)),
        Stage(name="needs", run=write, params={"n": "needs"}, outputs=(base / "needs.txt",),
              requires={"json": "stdlib", "no_such_module_s38": how}),
    ])
""")
    cfg = tmp_path / "p.toml"
    cfg.write_text('[pipeline]\nentry = "needpipe.py:build"\n')
    refused = cli("pipeline", "--config", str(cfg))
    assert refused.returncode == 2 and "no_such_module_s38" in refused.stderr, refused.stderr
    assert not (tmp_path / "state" / "plain.txt").exists()  # refused before any stage ran
    for args in (["status"], ["pipeline", "--dry-run"]):
        res = cli(*args, "--config", str(cfg))
        assert res.returncode == 2, res.stderr
        assert "plain  would run" in res.stdout
        assert (
            "needs  cannot run  missing package no_such_module_s38 "
            "(pip install no-such-package-s38)"
        ) in res.stdout
        (line,) = res.stderr.strip().splitlines()
        assert line == (
            "error: stage 'needs' needs the module no_such_module_s38, which is not installed "
            "(pip install no-such-package-s38): pipeline would refuse to start"
        )
    rows = json.loads(cli("status", "--config", str(cfg), "--json").stdout)["stages"]
    assert [r["missing_package"] for r in rows] == [None, "no_such_module_s38"]
    # a stage that is not selected is not checked, by pipeline as by --dry-run
    res = cli("pipeline", "--config", str(cfg), "--dry-run", "--stages", "plain")
    assert res.returncode == 0 and "cannot run" not in res.stdout, res.stdout
    assert cli("pipeline", "--config", str(cfg), "--stages", "plain").returncode == 0


def test_status_names_a_bad_configured_input_and_exits_2(tmp_path: Path) -> None:
    """A stage whose pipeline found its configured input wrong (``Stage.bad_inputs``): a run
    runs it and it fails naming the input; status and --dry-run say so up front, on its row,
    with one line and exit 2 (bad input), after a missing package is named."""
    (tmp_path / "badpipe.py").write_text("""
import sys
from pathlib import Path
from standard_coder.runner.stage import Pipeline, Stage
BAD = "[things] paths: /nowhere/x: no such directory"
def write(ctx):
    (Path(ctx.base_dir) / (ctx.params["n"] + ".txt")).write_text("x")
def fail(ctx):
    write(ctx)
    raise ValueError(BAD)
def build(config_path, overrides):
    base = Path(config_path).parent / "state"
    return Pipeline(name="py", base_dir=base, stages=[
        Stage(name="plain", run=write, params={"n": "plain"}, outputs=(base / "plain.txt",)),
        Stage(name="reads", run=fail, params={"n": "reads"}, outputs=(base / "reads.txt",),
              bad_inputs=(BAD,)),
    ])
""")
    cfg = tmp_path / "p.toml"
    cfg.write_text('[pipeline]\nentry = "badpipe.py:build"\n')
    bad = "[things] paths: /nowhere/x: no such directory"
    for args in (["status"], ["pipeline", "--dry-run"]):
        res = cli(*args, "--config", str(cfg))
        assert res.returncode == 2, res.stderr
        assert "plain  would run" in res.stdout
        assert f"reads  cannot run  {bad}" in res.stdout, res.stdout
        (line,) = res.stderr.strip().splitlines()
        assert line == f"error: stage 'reads' cannot run: {bad}: pipeline would fail it"
    rows = json.loads(cli("status", "--config", str(cfg), "--json").stdout)["stages"]
    assert [r["bad_inputs"] for r in rows] == [[], [bad]]
    # not selected: not checked
    res = cli("pipeline", "--config", str(cfg), "--dry-run", "--stages", "plain")
    assert res.returncode == 0 and "cannot run" not in res.stdout, res.stdout
    # the run is not refused: the stage runs (and does its work) and fails naming the input
    ran = cli("pipeline", "--config", str(cfg))
    assert ran.returncode == 1 and bad in ran.stderr, ran.stderr
    assert all((tmp_path / "state" / f"{n}.txt").exists() for n in ("plain", "reads"))


HOLD = """
import sys, time
from pathlib import Path
from standard_coder.runner.lock import RunLock
with RunLock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(60)
"""


def test_status_says_a_run_is_in_progress_while_another_process_holds_the_lock(
    tmp_path: Path,
) -> None:
    cfg = write_pipeline(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path / "state")],
        stdout=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        res = cli("status", "--config", str(cfg))
        assert res.returncode == 0, res.stderr
        first = res.stdout.splitlines()[0]
        assert first.startswith(f"a run is in progress (pid {holder.pid}, started "), first
        doc = json.loads(cli("status", "--config", str(cfg), "--json").stdout)
        assert doc["run_in_progress"].startswith(f"pid {holder.pid}, started ")
    finally:
        holder.kill()
        holder.wait()
    # SIGKILL leaves the record in the file; the run it names is over: nothing is said
    assert str(holder.pid) in (tmp_path / "state" / ".lock").read_text()
    res = cli("status", "--config", str(cfg))
    assert res.returncode == 0 and "in progress" not in res.stdout
    assert "run_in_progress" not in json.loads(cli("status", "-c", str(cfg), "--json").stdout)


def test_status_during_a_live_run_says_it_runs_the_stage_not_that_it_was_killed(
    tmp_path: Path,
) -> None:
    """A stage the run in progress started (its record names that run, which has recorded no
    outcome yet) is being run now: before session 60 ``status`` said of the live run "ended
    without recording how far it got: killed?". Once it is killed, that is said."""
    cfg = write_pipeline(tmp_path, first="slow")
    run = start("pipeline", "--config", str(cfg), env={"SLOW_S": "60"})
    try:
        wait_for(tmp_path / "state" / "checkpoints" / "one" / "started")
        doc = json.loads(cli("status", "--config", str(cfg), "--json").stdout)
        one = doc["stages"][0]
        assert doc["run_in_progress"].startswith(f"pid {run.pid}, ")
        assert one["resumes"].endswith(", in progress now, is running it"), one
        assert "killed" not in cli("status", "--config", str(cfg)).stdout
    finally:
        run.kill()
        run.communicate()
    one = json.loads(cli("status", "--config", str(cfg), "--json").stdout)["stages"][0]
    assert "ended without recording how far it got: killed?" in one["resumes"], one


def test_json_log_format_puts_events_on_stderr(tmp_path: Path) -> None:
    cfg = write_pipeline(tmp_path)
    res = cli("pipeline", "--config", str(cfg), "--log-format", "json")
    events = [json.loads(x) for x in res.stderr.splitlines() if x.startswith("{")]
    assert next(e["event"] for e in events) == "run_started"
    assert "run_completed" in [e["event"] for e in events]


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["pipeline", "--config", "missing.toml"], 2, "not found"),
        (["pipeline", "--config", "pipe.toml", "--stages", "zzz"], 2, "valid stages: one, two"),
        (["pipeline", "--config", "pipe.toml", "--set", "params.model.x=1"], 2, "model.x"),
        (["pipeline", "--config", "pipe.toml", "--stages", "two"], 1, "upstream stage 'one'"),
        (["pipeline", "--config", "bad.toml"], 2, "not valid TOML"),
        (["pipeline", "--config", "builtin.toml"], 2, "repos.include_paths is empty"),
    ],
)
def test_user_errors_exit_codes_without_traceback(
    tmp_path: Path, args: list[str], code: int, needle: str
) -> None:
    write_pipeline(tmp_path)
    (tmp_path / "bad.toml").write_text("[[stages]\n")
    (tmp_path / "builtin.toml").write_text(
        '[pipeline]\nname = "sch"\n[repos]\ninclude_paths = []\n'
    )
    res = cli(*args, cwd=tmp_path)
    assert res.returncode == code, res.stderr
    assert needle in res.stderr and "Traceback" not in res.stderr


def test_a_config_naming_no_pipeline_says_it_runs_the_built_in_one(tmp_path: Path) -> None:
    """A file of [outputs] alone (a command pipeline's [[stages]] forgotten) ran the flagship on
    the folder it sits in without a word; status and pipeline say so, as a warning line."""
    (tmp_path / "p.toml").write_text('[outputs]\nbase_dir = "sc-output"\n')
    res = cli("status", "--config", "p.toml", cwd=tmp_path)
    said = " ".join(res.stderr.split())
    assert "warning: " + str(tmp_path / "p.toml") + " names no pipeline" in said, res.stderr
    assert "running the built-in 'sch' with its defaults" in said
    (tmp_path / "f.toml").write_text('[repos]\ninclude_paths = ["."]\n')  # the flagship's own
    res = cli("status", "--config", "f.toml", cwd=tmp_path)
    assert "names no pipeline" not in res.stderr


def test_a_command_s_script_and_the_helpers_it_imports_are_its_code(tmp_path: Path) -> None:
    """A script named in ``cmd`` but not in ``deps``, and the module of its folder it imports,
    were not in the code version: editing either left the stage "up to date" on old outputs."""
    (tmp_path / "helpers.py").write_text("def text():\n    return 'one'\n")
    (tmp_path / "make.py").write_text(
        "from pathlib import Path\nfrom helpers import text\nPath('out.txt').write_text(text())\n"
    )
    (tmp_path / "p.toml").write_text(
        f'[[stages]]\nname = "make"\ncmd = "{sys.executable} make.py"\nouts = ["out.txt"]\n'
    )
    assert cli("pipeline", "--config", "p.toml", cwd=tmp_path).returncode == 0
    (tmp_path / "helpers.py").write_text("def text():\n    return 'two'\n")
    res = cli("status", "--config", "p.toml", cwd=tmp_path)
    assert "code changed: helpers.py" in res.stdout, res.stdout + res.stderr
    res = cli("pipeline", "--config", "p.toml", cwd=tmp_path)
    assert res.returncode == 0 and "[run] make: code changed: helpers.py" in res.stderr
    assert (tmp_path / "out.txt").read_text() == "two"
    (tmp_path / "make.py").write_text((tmp_path / "make.py").read_text() + "# edited\n")
    res = cli("pipeline", "--config", "p.toml", cwd=tmp_path)  # the no-op fast path's witness
    assert "[run] make: code changed: make.py" in res.stderr, res.stderr


def test_status_shows_a_selection_of_stages(tmp_path: Path) -> None:
    """``status`` had no --stages / --from / --to (``pipeline --dry-run`` had)."""
    cfg = write_pipeline(tmp_path)
    assert cli("pipeline", "--config", str(cfg)).returncode == 0
    shown = cli("status", "--config", str(cfg), "--stages", "two")
    assert shown.returncode == 0, shown.stderr
    assert [line.split()[0] for line in shown.stdout.splitlines()] == ["two"], shown.stdout
    every = cli("status", "--config", str(cfg), "--from", "one")
    assert [line.split()[0] for line in every.stdout.splitlines()] == ["one", "two"]
    bad = cli("status", "--config", str(cfg), "--stages", "zz")
    assert bad.returncode == 2 and "no such stage" in bad.stderr


def test_a_module_added_beside_a_script_and_a_script_a_stage_writes(tmp_path: Path) -> None:
    """A module that appears beside a command's script joins its imports: the no-op fast door
    said "up to date" on old outputs while status said "code changed". A script a stage writes
    made its reader run twice (its code version changed once the script existed)."""
    (tmp_path / "train.py").write_text(
        "try:\n    from localcfg import v\nexcept ImportError:\n    v = 'default'\n"
        "open('model.txt', 'w').write(v)\n"
    )
    (tmp_path / "make.py").write_text("open('gen.py', 'w').write(\"open('g.txt', 'w')\")\n")
    (tmp_path / "p.toml").write_text(
        f'[[stages]]\nname = "make"\ncmd = "{sys.executable} make.py"\nouts = ["gen.py"]\n'
        f'[[stages]]\nname = "use"\ncmd = "{sys.executable} gen.py"\nafter = ["make"]\n'
        'outs = ["g.txt"]\n'
        f'[[stages]]\nname = "train"\ncmd = "{sys.executable} train.py"\nouts = ["model.txt"]\n'
    )
    for _ in range(2):  # the second run leaves the fast door's witness
        res = cli("pipeline", "--config", "p.toml", cwd=tmp_path)
        assert res.returncode == 0, res.stderr
    assert "[run] use" not in res.stderr, res.stderr  # ran once, on the first run
    (tmp_path / "localcfg.py").write_text("v = 'tuned'\n")
    res = cli("pipeline", "--config", "p.toml", cwd=tmp_path)
    assert "[run] train: code changed: localcfg.py" in res.stderr, res.stderr
    assert (tmp_path / "model.txt").read_text() == "tuned"


def test_failing_command_exits_1(tmp_path: Path) -> None:
    cfg = write_pipeline(tmp_path, first="fail")
    res = cli("pipeline", "--config", str(cfg))
    assert res.returncode == 1 and "exited with status 4" in res.stderr
    assert "Traceback" not in res.stderr


def test_output_missing_after_exit_0_fails(tmp_path: Path) -> None:
    cfg = write_pipeline(tmp_path, first="noout")
    res = cli("pipeline", "--config", str(cfg))
    assert res.returncode == 1 and "out/one.json" in res.stderr


def test_python_entry_pipeline(tmp_path: Path) -> None:
    (tmp_path / "mypipe.py").write_text("""
from pathlib import Path
from standard_coder.runner.stage import Pipeline, Stage
def hello(ctx):
    (Path(ctx.base_dir) / "hello.txt").write_text(str(ctx.params["n"]))
def build(config_path, overrides):
    n = int(overrides[0].split("=")[1]) if overrides else 1
    base = Path(config_path).parent / "state"
    return Pipeline(name="py", base_dir=base,
                    stages=[Stage(name="hello", run=hello, params={"n": n},
                                  outputs=(base / "hello.txt",))])
""")
    (tmp_path / "p.toml").write_text('[pipeline]\nentry = "mypipe.py:build"\n')
    res = cli("pipeline", "--config", str(tmp_path / "p.toml"), "--set", "n=7")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "state" / "hello.txt").read_text() == "7"


@pytest.mark.slow
def test_concurrent_run_exits_3_naming_holder(tmp_path: Path) -> None:
    cfg = write_pipeline(tmp_path, first="slow")
    proc = start("pipeline", "--config", str(cfg), env={"SLOW_S": "2"})
    try:
        wait_for(tmp_path / "state" / "checkpoints" / "one" / "started")
        second = cli("pipeline", "--config", str(cfg))
        assert second.returncode == 3
        assert f"pid {proc.pid}" in second.stderr and "started" in second.stderr
    finally:
        assert proc.wait(timeout=30) == 0


@pytest.mark.slow
def test_sigkill_runner_kills_stage_and_leaves_no_stale_lock(tmp_path: Path) -> None:
    cfg = write_pipeline(tmp_path, first="slow")
    proc = start("pipeline", "--config", str(cfg), env={"SLOW_S": "1.5"})
    marker = tmp_path / "state" / "checkpoints" / "one" / "started"
    wait_for(marker)
    time.sleep(0.1)
    child = int(marker.read_text())
    proc.kill()
    proc.wait()
    deadline = time.time() + 5
    while alive(child) and time.time() < deadline:
        time.sleep(0.05)
    assert not alive(child)
    time.sleep(1.8)  # longer than the stage would have taken
    assert not (tmp_path / "out" / "one.json").exists(), "orphan wrote its output"
    res = cli("pipeline", "--config", str(cfg), env={**os.environ, "SLOW_S": "0"})
    assert res.returncode == 0, res.stderr
    # the killed run left partial work of this fingerprint: the stage continues it, not "new"
    assert "[run] one: unfinished\n[resume] one: continues from the partial work" in res.stderr


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_forwards_to_stage_and_exits_interrupted(
    tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    cfg = write_pipeline(tmp_path, first="slow")
    proc = start("pipeline", "--config", str(cfg), env={"SLOW_S": "20"})
    wait_for(tmp_path / "state" / "checkpoints" / "one" / "started")
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == code, err
    assert "interrupted: rerun to resume" in err and "Traceback" not in err
    # said once, on the [STOP] line, as a failed stage is on its [FAIL] line (session 38: the
    # run's message repeated it on the next line)
    assert err.count("interrupted: rerun to resume") == 1, err
    assert "[STOP] one: interrupted: rerun to resume" in err
    assert (tmp_path / "signalled.txt").read_text() == str(int(sig))
    events = [
        json.loads(x)
        for x in (tmp_path / "state" / "logs" / "events.jsonl").read_text().splitlines()
    ]
    assert events[-1]["event"] == "run_interrupted"
    assert not (tmp_path / "state" / "stages" / "one" / "manifest.json").exists()


@pytest.mark.slow
def test_stubborn_stage_is_killed_after_grace(tmp_path: Path) -> None:
    cfg = write_pipeline(tmp_path, first="stubborn", grace=0.5)
    proc = start("pipeline", "--config", str(cfg), env={"SLOW_S": "30"})
    marker = tmp_path / "state" / "checkpoints" / "one" / "started"
    wait_for(marker)
    t0 = time.time()
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=20)
    assert proc.returncode == 143
    assert time.time() - t0 < 10
    assert not alive(int(marker.read_text()))


def test_fast_front_door_without_typer(tmp_path: Path) -> None:
    cfg = write_pipeline(tmp_path)
    code = (
        "import sys; from standard_coder.runner.front import main; "
        "from standard_coder.pipelines import BUILTINS; "
        "rc = main(sys.argv[1:], BUILTINS); "
        "assert not {'typer', 'pydantic', 'torch', 'sklearn', 'numpy'} & set(sys.modules); "
        "sys.exit(rc)"
    )
    args = [sys.executable, "-c", code, "pipeline", "--config", str(cfg)]
    first = subprocess.run(args, capture_output=True, text=True, env=child_env(), timeout=60)
    assert first.returncode == 0, first.stderr
    again = subprocess.run(args, capture_output=True, text=True, env=child_env(), timeout=60)
    assert again.returncode == 0 and "[skip] two: up to date" in again.stderr
    bad = subprocess.run(
        [*args[:3], "pipeline"], capture_output=True, text=True, env=child_env(), timeout=60
    )
    assert bad.returncode == 2


@pytest.mark.slow
def test_second_signal_exits_at_once_and_kills_the_group(tmp_path: Path) -> None:
    cfg = write_pipeline(tmp_path, first="stubborn", grace=60)
    proc = start("pipeline", "--config", str(cfg), env={"SLOW_S": "60"})
    marker = tmp_path / "state" / "checkpoints" / "one" / "started"
    wait_for(marker)
    time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    assert proc.poll() is None  # first signal: waiting for the stage (grace is 60 s)
    t0 = time.time()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 130 and time.time() - t0 < 5
    # said, and the events log ends with it (it stopped at stage_running without a word)
    assert "[STOP] one: exited at once (SIGINT sent again): rerun to resume" in err, err
    events = (tmp_path / "state" / "logs" / "events.jsonl").read_text().splitlines()
    last = json.loads(events[-1])
    assert (last["event"], last["stage"], last["at_once"]) == ("run_interrupted", "one", True)
    child = int(marker.read_text())
    deadline = time.time() + 5
    while alive(child) and time.time() < deadline:
        time.sleep(0.05)
    assert not alive(child)
    # the lock died with the process: the next run goes ahead
    res = cli("pipeline", "--config", str(cfg), "--dry-run")
    assert res.returncode == 0


@pytest.mark.parametrize(
    "args",
    [
        ("status", "--config", "{cfg}"),  # the fast door, plain writes
        ("stages", "--config", "{cfg}"),  # Typer, a Rich table
        ("estimate", "--help"),  # Click's own help
    ],
)
def test_closed_stdout_exits_141_quietly(tmp_path: Path, args: tuple[str, ...]) -> None:
    """``standard-coder ... | head``: the reader went away; no traceback, no "failed" exit 1."""
    cfg = write_pipeline(tmp_path)
    read_end, write_end = os.pipe()
    os.close(read_end)  # every write to stdout now fails with EPIPE
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "standard_coder", *(a.format(cfg=cfg) for a in args)],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            env=child_env(),
        )
    finally:
        os.close(write_end)
    assert proc.returncode == 141, proc.stderr
    assert proc.stderr == ""


def test_a_stale_upstream_is_warned_about_once(tmp_path: Path) -> None:
    cfg = write_pipeline(tmp_path)
    assert cli("pipeline", "--config", str(cfg)).returncode == 0
    (tmp_path / "data" / "a.txt").write_text("changed\n")  # one is stale now
    done = cli("pipeline", "--config", str(cfg), "--stages", "two", "--force")
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("upstream 'one' is stale") == 1, done.stderr
    assert "[warn] two: upstream 'one' is stale" in done.stderr
    log = (tmp_path / "state" / "logs" / "run.log").read_text()
    assert "upstream 'one' is stale" in log  # still in the run log


def test_a_command_that_cannot_start_is_bad_input(tmp_path: Path) -> None:
    """A typo in ``cmd`` (``pythn``) failed the stage with ``RuntimeError: ...``, exit 1: it is
    the pipeline file's error, said as such, exit 2."""
    (tmp_path / "pipe.toml").write_text(
        '[outputs]\nbase_dir = "state"\n[[stages]]\nname = "a"\ncmd = ["pythn-sc53", "x.py"]\n'
        'outs = ["out.txt"]\n'
    )
    proc = cli("pipeline", "--config", str(tmp_path / "pipe.toml"))
    assert proc.returncode == 2, proc.stderr
    assert "[FAIL] a: cannot start 'pythn-sc53': No such file or directory" in proc.stderr
    assert "RuntimeError" not in proc.stderr and "Traceback" not in proc.stderr
