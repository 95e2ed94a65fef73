"""The codeedit pipeline end to end on the shipped fixtures, and the edit evaluator on tasks whose
answers pass, fail, time out and loop forever (real subprocesses, real coverage)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from enginetools import last_run_reasons
from proctools import child_env

pytest.importorskip("ast_grep_py", reason="the codeedit extra is not installed")

from standard_coder.cli import commands  # noqa: F401  (registers the commands)
from standard_coder.cli.app import app
from standard_coder.codeedit.evaluator import Task, evaluate
from standard_coder.codeedit.sandbox import Limits
from standard_coder.codeedit.sources import FIXTURES
from standard_coder.pipelines import BUILTINS
from standard_coder.runner import front

pytestmark = [pytest.mark.integration]

TASK = Task(
    "clip",
    pre="def f(x):\n    return x\n",
    post="def f(x):\n    if x < 0:\n        return 0\n    return x\n",
    tests="assert f(-1) == 0\nassert f(2) == 2\n",
)
ACTION = {
    "type": "ast_grep", "language": "python", "mode": "yaml",
    "rule_yaml": "rule:\n  pattern: return $X\n"
    "fix: |-\n  if $X < 0:\n      return 0\n  return $X\n",
}  # fmt: skip


def test_evaluator_on_pass_fail_timeout_and_endless_answers() -> None:
    answers = [
        TASK.post,  # passes, exact
        "```python\ndef f(x):\n    if x < 0:\n        return 0\n    if x > 99:\n        return 99"
        "\n    return x\n```",  # passes with an untested branch: ExcessCode 1/4
        "def f(x):\n    return abs(x)\n",  # fails
        "import time\n\ndef f(x):\n    time.sleep(30)\n",  # times out
        "def f(x):\n    while True:\n        pass\n",  # loops forever
        f"<action>{json.dumps(ACTION)}</action>",  # an action that passes
        '<action>{"type": "ast_grep"}</action>',  # an action that does not validate
    ]
    doc = evaluate([TASK], {"clip": answers}, Limits(timeout_s=2.0, cpu_s=2))
    statuses = [o["status"] for o in doc["outcomes"]]
    assert statuses == ["pass", "pass", "fail", "timeout", "timeout", "pass", "invalid_action"]
    assert [o["excess_code"] for o in doc["outcomes"]][:2] == [0.0, 0.25]
    assert doc["pass@1"] == round(3 / 7, 4) and doc["excess_code"] == round(0.25 / 3, 4)
    assert doc["outcomes"][0]["exact_match"] and doc["outcomes"][5]["exact_match"]
    assert doc["mean_rules_per_task"] == 1.0
    assert all(o["seconds"] < 10 for o in doc["outcomes"])


def test_init_config_writes_a_loadable_codeedit_file(tmp_path: Path) -> None:
    from standard_coder.config.codeedit import load_codeedit_config

    path = tmp_path / "ce.toml"
    res = CliRunner().invoke(app, ["init-config", "--pipeline", "codeedit", str(path)])
    assert res.exit_code == 0, res.output
    cfg = load_codeedit_config(path)
    assert cfg.pipeline.name == "codeedit" and "synthetic" in cfg.codeedit.sources


def _config(folder: Path, extra: str = "") -> Path:
    path = folder / "pipeline_config.toml"
    path.write_text(
        '[pipeline]\nname = "codeedit"\n[outputs]\nbase_dir = "out"\n[codeedit]\n'
        f'completions = "{FIXTURES / "canitedit_completions.jsonl"}"\neval_timeout_s = 2.0\n'
        + extra
    )
    return path


def test_a_missing_data_package_fails_before_any_stage_runs(tmp_path: Path) -> None:
    """The data stages' modules (the codeedit extra) are checked as the training stages' are:
    without datasketch, ``ingest`` ran and ``normalize`` failed on its import, exit 1."""
    config = _config(tmp_path)
    hide = (
        "import sys; sys.modules['datasketch'] = None; from standard_coder.runner.front "
        "import main; from standard_coder.pipelines import BUILTINS; "
        "sys.exit(main(sys.argv[1:], BUILTINS))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", hide, "pipeline", "--config", str(config), "--to", "stats"],
        capture_output=True, text=True, timeout=300, env=child_env(),
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    (line,) = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    assert "needs the module datasketch, which is not installed" in line, line
    assert 'pip install -e ".[codeedit]"' in line and "Traceback" not in proc.stderr
    assert not (tmp_path / "out" / "stages").exists()


def test_pipeline_on_the_fixtures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path)
    assert front.run_command(config=config, builtins=BUILTINS) == 0
    out = tmp_path / "out"
    stats = json.loads((out / "reports" / "dataset_stats.json").read_text())
    assert stats["repo_overlap"] == [] and stats["synthetic_gold_verified"][0] >= 30
    assert stats["synthetic_gold_verified"][0] == stats["synthetic_gold_verified"][1]
    assert stats["counts"]["test"]["canitedit"] == {"python": 8}
    assert stats["rejected"]["counts"]["duplicate_near"] == 1
    assert (out / "data" / "processed" / "test" / "canitedit.jsonl").exists()
    assert not (out / "data" / "processed" / "train" / "canitedit.jsonl").exists()
    assert (out / "data" / "processed" / "train" / "editpackft.jsonl").exists()
    ev = json.loads((out / "reports" / "codeedit_eval.json").read_text())
    assert ev["statuses"] == {"fail": 1, "pass": 2, "timeout": 1} and ev["pass@1"] == 0.5
    assert ev["mean_rules_per_task"] == 2.0
    said = capsys.readouterr().err  # the closing account, as the demo prints it
    assert "edit eval: pass@1 0.500, ExcessCode" in said and "(fail 1, pass 2, timeout 1)" in said
    assert "records per split: " in said and "{" not in said.split("records per split")[1]
    assert f"Report: {out / 'reports' / 'index.html'}" in said
    assert front.run_command(config=config, builtins=BUILTINS) == 0
    assert "0 ran, 5 skipped" in capsys.readouterr().err


def test_completions_that_match_no_task_or_some_tasks_are_warned_about(tmp_path: Path) -> None:
    """A completions file naming no test task: one warning line naming the file, the ids
    expected and found; a partial file: how many tasks had no completion. Both are in
    codeedit_eval.json and the report."""
    answers = tmp_path / "answers.jsonl"
    answers.write_text(
        '{"task_id": "canitedit-1-descriptive", "completion": "x"}\n'
        '{"task_id": "clamp", "completion": "y"}\n'
    )
    config = (
        _config(tmp_path)
        .read_text()
        .replace(str(FIXTURES / "canitedit_completions.jsonl"), str(answers))
    )
    (tmp_path / "pipeline_config.toml").write_text(config)

    def pipeline() -> tuple[str, dict[str, object]]:
        done = subprocess.run(
            [sys.executable, "-m", "standard_coder", "pipeline", "--config",
             str(tmp_path / "pipeline_config.toml")],
            capture_output=True, text=True, timeout=300,
            env=child_env(),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        ev = json.loads((tmp_path / "out" / "reports" / "codeedit_eval.json").read_text())
        return done.stderr, ev

    err, ev = pipeline()
    want = (
        f"{answers}: no completion's task_id matched a CanItEdit test task id, so nothing was "
        "scored (pass@1 null): expected task ids 1, 2, 3, 4; found canitedit-1-descriptive, clamp"
    )
    assert f"[warn] evaluate: {want}" in err.splitlines() and err.count(str(answers)) == 1
    assert "WARNING" not in err
    assert ev["pass@1"] is None and ev["warnings"] == [want]
    assert ev["tasks_total"] == 4 and ev["tasks_without_completion"] == 4
    assert ev["unmatched_task_ids"] == ["canitedit-1-descriptive", "clamp"]
    html = (tmp_path / "out" / "reports" / "index.html").read_text()
    assert "no completion&#x27;s task_id matched" in html

    clamp = "def clamp(x, lo, hi):\n    return max(lo, min(hi, x))\n"
    answers.write_text(json.dumps({"task_id": 1, "completion": clamp}) + "\n")
    err, ev = pipeline()
    want = (
        f"{answers}: 3 of 4 CanItEdit test tasks have no completion and are not scored "
        "(2, 3, 4); pass@1 is over the other 1"
    )
    assert f"[warn] evaluate: {want}" in err.splitlines()
    assert ev["warnings"] == [want] and ev["pass@1"] == 1.0
    assert ev["tasks_without_completion"] == 3 and ev["unmatched_task_ids"] == []


@pytest.mark.parametrize(
    ("content", "cause"),
    [
        (b'{"task_id": "1", "completion": "x"}\n{"task_id": "2", "compl', ":2: not JSON ("),
        (b"[1, 2]\n", ":1: expected a JSON object with task_id and completion (got a list)"),
        (b'{"task_id": "1"}\n', ":1: expected a JSON object with task_id and completion (no "),
        (b"\xff\xfe\x00binary", ": not UTF-8 text (byte 0); expected JSON lines"),
    ],
)
def test_a_bad_completions_file_is_one_line_naming_it_and_exit_2(
    tmp_path: Path, content: bytes, cause: str
) -> None:
    """The completions file is the user's input: cut short, not objects, or not text, the run
    ends with exit 2 (bad input) and one line naming the file, the line and the cause (before:
    exit 1 and ``CodeEditError: ...``, or a ``UnicodeDecodeError`` naming no file)."""
    answers = tmp_path / "answers.jsonl"
    answers.write_bytes(content)
    config = _config(tmp_path, 'sources = ["canitedit"]\n')
    config.write_text(
        config.read_text().replace(str(FIXTURES / "canitedit_completions.jsonl"), str(answers))
    )
    done = subprocess.run(
        [sys.executable, "-m", "standard_coder", "pipeline", "--config", str(config)],
        capture_output=True, text=True, timeout=300, env=child_env(),
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    (line,) = [ln for ln in done.stderr.splitlines() if ln.startswith("[FAIL]")]
    assert line.startswith(f"[FAIL] evaluate: {answers}{cause}"), line
    assert "Error" not in line and "Traceback" not in done.stderr
    assert answers.read_bytes() == content


def test_strict_mode_fails_on_bad_records_and_download_offline_falls_back(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        'sources = ["ocedataft"]\nstrict = true\ndownload = true\n'
        'hf_endpoint = "http://127.0.0.1:9"\n',
    )
    done = subprocess.run(
        [sys.executable, "-m", "standard_coder", "pipeline", "--config", str(config)],
        capture_output=True, text=True, timeout=300,
        env=child_env(),
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    err = done.stderr
    (line,) = [s for s in err.splitlines() if "using the local files" in s]
    assert line.startswith("[warn] ingest: ") and "download of zkzhang88/OCEData failed" in line
    assert "strict: 1 bad records by ingest" in err
    assert "Traceback" not in err


def test_sandbox_limits_memory_and_cuts_the_network() -> None:
    import socket

    from standard_coder.codeedit.sandbox import network_isolated, run_sandboxed

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    probe = (
        "import socket, sys\n"
        "try:\n"
        f"    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
        "    print('connected')\n"
        "except OSError as exc:\n"
        "    print('refused', exc)\n"
        "try:\n"
        "    b = bytearray(3 << 30)\n"
        "    print('allocated')\n"
        "except MemoryError:\n"
        "    print('memory limit')\n"
    )
    try:
        res = run_sandboxed(
            [sys.executable, "-I", "probe.py"], {"probe.py": probe},
            limits=Limits(timeout_s=20, memory_bytes=1 << 30),
        )  # fmt: skip
    finally:
        server.close()
    assert "memory limit" in res.stdout, res.stdout + res.stderr
    if network_isolated():
        assert res.network_isolated and "refused" in res.stdout
    else:  # the kernel refuses user namespaces here: the result says so
        assert not res.network_isolated


def test_a_failing_ast_grep_call_stops_the_stage_with_one_line(tmp_path: Path) -> None:
    """A synthetic record whose gold action the real ast-grep CLI rejects: ``stats`` fails with
    exit 1 and one line naming the record, the rule, the file, the exit and ast-grep's causes."""
    import yaml

    config = _config(tmp_path)

    def pipeline(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "standard_coder", "pipeline", "--config", str(config), *args],
            capture_output=True, text=True, timeout=300,
            env=child_env(),
        )  # fmt: skip

    assert pipeline().returncode == 0
    path = tmp_path / "out" / "data" / "processed" / "train" / "synthetic.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    rows[0]["metadata"]["gold_action"] = {
        "type": "ast_grep", "language": "python", "mode": "yaml",
        "rule_yaml": yaml.safe_dump({"id": "bad-kind", "rule": {"kind": "no_such_kind"},
                                     "fix": {"template": "y"}}),
    }  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    done = pipeline("--stages", "stats", "--force")
    assert done.returncode == 1, done.stderr
    (line,) = [ln for ln in done.stderr.splitlines() if ln.startswith("[FAIL] stats:")]
    assert f"synthetic record {rows[0]['id']}: its gold action failed: " in line
    assert "ast-grep scan (rule bad-kind) on input.py: exit 8: " in line
    assert "Kind `no_such_kind` is invalid" in line and "Traceback" not in done.stderr


def test_ctrl_c_while_a_completion_runs_stops_at_once_and_scores_nothing(tmp_path: Path) -> None:
    """A real SIGINT while the evaluator waits on a completion that sleeps: the sandboxed
    command is killed and the run exits 130 at once (not after the completion's time limit),
    writing no evaluation (a rerun scores every completion)."""
    import signal
    import time

    answers = tmp_path / "answers.jsonl"
    answers.write_text(json.dumps({"task_id": 3, "completion": "import time\ntime.sleep(60)\n"}))
    config = _config(tmp_path, 'sources = ["canitedit"]\n')
    config.write_text(
        config.read_text()
        .replace(str(FIXTURES / "canitedit_completions.jsonl"), str(answers))
        .replace("eval_timeout_s = 2.0", "eval_timeout_s = 60.0")
    )
    env = child_env()
    cmd = [sys.executable, "-m", "standard_coder", "pipeline", "--config", str(config)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not any(_sandboxed_children(proc.pid)):  # the completion's tests are running
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    children = _sandboxed_children(proc.pid)
    proc.send_signal(signal.SIGINT)
    t0 = time.monotonic()
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err.decode()[-2000:]
    assert time.monotonic() - t0 < 10  # not the 60 s limit
    # it kept no partial work: a rerun goes on with the run and starts this stage over
    assert b"[STOP] evaluate: interrupted: rerun to go on (evaluate kept no partial work" in err
    assert not (tmp_path / "out" / "reports" / "codeedit_eval.json").exists()
    assert not any(Path(f"/proc/{pid}").exists() for pid in children)  # killed, not orphaned


def _sandboxed_children(pid: int) -> list[int]:
    """Processes of other sessions started by ``pid`` (the sandbox's ``start_new_session``)."""
    out = subprocess.run(["ps", "-o", "pid=,ppid=,sid=", "-A"], capture_output=True, text=True)
    rows = [tuple(int(x) for x in line.split()) for line in out.stdout.splitlines()]
    return [p for p, parent, sid in rows if parent == pid and sid == p]


def test_a_source_path_with_nothing_to_read_is_warned_about(tmp_path: Path) -> None:
    empty = tmp_path / "commitpack"
    empty.mkdir()
    (empty / "notes.txt").write_text("not a data file\n")
    config = _config(tmp_path, f'sources = ["commitpackft", "canitedit"]\n'
                               f'commitpackft_path = "{empty}"\n')  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "standard_coder", "pipeline", "--config", str(config),
         "--to", "ingest"],
        capture_output=True, text=True, timeout=300,
        env=child_env(),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    want = (
        f"commitpackft: nothing to read in {empty} (.jsonl, .json or .parquet files); check "
        "[codeedit] commitpackft_path"
    )
    assert f"[warn] ingest: {want}" in done.stderr.splitlines(), done.stderr
    assert done.stderr.count(want) == 1 and "WARNING" not in done.stderr, done.stderr


def test_the_demo_folder_holds_its_completions_and_runs_where_it_is_moved(tmp_path: Path) -> None:
    """The demo's config named the example completions by an absolute path into the installed
    package: it now copies them beside the config and names them relative to it."""
    import shutil

    first = tmp_path / "ce"
    cmd = [sys.executable, "-m", "standard_coder", "demo", "--pipeline", "codeedit", "--size",
           "tiny", "--output-dir"]  # fmt: skip
    done = subprocess.run([*cmd, str(first)], capture_output=True, text=True, timeout=300,
                          env=child_env())  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("edit eval: pass@1") == 1  # the pipeline's summary, said once
    text = (first / "pipeline_config.toml").read_text()
    assert 'completions = "canitedit_completions.jsonl"' in text and str(FIXTURES) not in text
    assert (first / "canitedit_completions.jsonl").read_bytes() == (
        FIXTURES / "canitedit_completions.jsonl"
    ).read_bytes()
    moved = shutil.move(str(first), str(tmp_path / "moved"))
    again = subprocess.run(
        [sys.executable, "-m", "standard_coder", "pipeline", "--config",
         str(Path(moved) / "pipeline_config.toml")],
        capture_output=True, text=True, timeout=300, env=child_env(),
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    ev = json.loads((Path(moved) / "sc-output" / "reports" / "codeedit_eval.json").read_text())
    assert ev["statuses"] == {"fail": 1, "pass": 2, "timeout": 1}


def test_evaluate_reads_the_test_split_alone(tmp_path: Path) -> None:
    """Another dev_fraction moves repositories between train and dev only: split and stats rerun,
    evaluate (it reads data/processed/test) is skipped; another test_fraction reruns it."""
    config, out = _config(tmp_path), tmp_path / "out"
    processed = out / "data" / "processed"

    def files(split: str) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in sorted((processed / split).iterdir())}

    assert front.run_command(config=config, builtins=BUILTINS) == 0
    train, test = files("train"), files("test")
    dev = ["codeedit.dev_fraction=0.3"]
    assert front.run_command(config=config, builtins=BUILTINS, overrides=dev) == 0
    assert files("train") != train and files("test") == test  # only train/dev records changed
    reasons = last_run_reasons(out)
    assert reasons["split"] == (
        "stage_cache_miss",
        "params changed: codeedit.dev_fraction 0.15 -> 0.3",
    )
    assert reasons["stats"][0] == "stage_cache_miss"  # it counts every split
    assert reasons["evaluate"] == ("stage_skipped", "mtime changed, content same")
    manifest = json.loads((out / "stages" / "evaluate" / "manifest.json").read_text())
    assert "out/data/processed/test" in manifest["inputs"]
    assert not any(k.startswith("out/data/processed/train") for k in manifest["inputs"])
    # the test split changes: evaluate reruns, naming a test file
    both = [*dev, "codeedit.test_fraction=0.3"]
    assert front.run_command(config=config, builtins=BUILTINS, overrides=both) == 0
    event, reason = last_run_reasons(out)["evaluate"]
    assert event == "stage_cache_miss"
    assert reason.startswith("input changed: out/data/processed/test/"), reason


def test_a_source_with_no_records_left_leaves_no_split_file(tmp_path: Path) -> None:
    """split wrote a source's file only when it had records: one dropped from ``sources`` (or
    filtered empty) kept its earlier run's file, which training and stats read as this run's."""
    config, out = _config(tmp_path), tmp_path / "out"
    processed = out / "data" / "processed"
    assert front.run_command(config=config, builtins=BUILTINS) == 0
    assert (processed / "train" / "editpackft.jsonl").exists()
    only = ['codeedit.sources=["synthetic", "canitedit"]']
    assert front.run_command(config=config, builtins=BUILTINS, overrides=only) == 0
    left = {p.name for split in ("train", "dev", "test") for p in (processed / split).iterdir()}
    assert left <= {"synthetic.jsonl", "canitedit.jsonl"}, left
    stats = json.loads((out / "reports" / "dataset_stats.json").read_text())
    assert set(stats["counts"]["train"]) <= {"synthetic"}, stats["counts"]["train"]


def test_stats_reads_the_rejections_alone_of_the_normalized_folder(tmp_path: Path) -> None:
    """stats opens normalize's rejects.json (its records come through split): a change to a
    normalized record file alone leaves it up to date, a change to rejects.json reruns it."""
    config, out = _config(tmp_path), tmp_path / "out"
    normalized = out / "data" / "interim" / "codeedit" / "normalized"
    assert front.run_command(config=config, builtins=BUILTINS) == 0
    manifest = json.loads((out / "stages" / "stats" / "manifest.json").read_text())
    read = [k for k in manifest["inputs"] if k.startswith("out/data/interim/")]
    assert read == ["out/data/interim/codeedit/normalized/rejects.json"], manifest["inputs"]
    records = normalized / "editpackft.jsonl"
    records.write_text(records.read_text() + "\n")  # a record file of normalize's changes
    assert front.run_command(config=config, builtins=BUILTINS, stages="stats") == 0
    assert last_run_reasons(out)["stats"] == ("stage_skipped", "up to date")
    rejects = normalized / "rejects.json"
    rejects.write_text(json.dumps(json.loads(rejects.read_text()), indent=1))
    assert front.run_command(config=config, builtins=BUILTINS, stages="stats") == 0
    event, reason = last_run_reasons(out)["stats"]
    assert event == "stage_cache_miss"
    assert reason == "input changed: out/data/interim/codeedit/normalized/rejects.json", reason
