"""The Make targets are thin calls of the CLI: ``make -n`` of each shows the intended call.

Stage names come from ``standard-coder stages`` (derived from the stage graph), so these tests
also pin the roles of the built-in pipelines. ``make -n`` evaluates ``$(shell ...)``: the real
CLI runs (no mocks), nothing else does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from standard_coder.runner.roles import stage_roles
from standard_coder.runner.stage import Stage

ROOT = Path(__file__).resolve().parents[2]
SC = f"{sys.executable} -m standard_coder"

needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed")


def make(*args: str, dry: bool = True) -> subprocess.CompletedProcess[str]:
    cmd = ["make", "--no-print-directory", "-C", str(ROOT), *(["-n"] if dry else []), *args]
    return subprocess.run(
        [*cmd, f"PY={sys.executable}"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "standard_coder", *args],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )


def _stage(name: str, *deps: str, device: bool = False, role: str | None = None) -> Stage:
    return Stage(name=name, run=lambda ctx: None, deps=deps, device_sensitive=device, role=role)


def test_roles_follow_the_stage_graph() -> None:
    stages = [
        _stage("fetch"),
        _stage("labels"),
        _stage("features", "fetch"),
        _stage("train", "features", "labels", device=True),
        _stage("evaluate", "train", "features", device=True),
        _stage("publish", "evaluate"),
        _stage("lint_docs"),
    ]
    assert stage_roles(stages) == {
        "download": ["fetch", "labels"],
        "preprocess": ["features"],
        "data": ["fetch", "labels", "features"],
        "train": ["train", "evaluate"],
        "other": ["publish", "lint_docs"],
    }
    # a pipeline that never touches a device has no data or train stage: every one is "other"
    plain = stage_roles([_stage("a"), _stage("b", "a")])
    assert plain["data"] == plain["train"] == [] and plain["other"] == ["a", "b"]
    # a stage's own role wins over the rule (a device-sensitive demux is data, a text step other)
    said = stage_roles(
        [
            _stage("demux", device=True, role="data"),
            _stage("clean", "demux", role="data"),
            _stage("asr", "clean", device=True),
            _stage("srt", "asr", device=True, role="other"),
        ]
    )
    assert said["download"] == ["demux"] and said["preprocess"] == ["clean"]
    assert said["train"] == ["asr"] and said["other"] == ["srt"]
    with pytest.raises(ValueError, match="role 'model': expected data, train or other"):
        _stage("x", role="model")


def test_every_built_in_pipeline_has_its_roles() -> None:
    lines = set(cli("stages", "--all").stdout.splitlines())
    assert {
        "sch: download=mine preprocess= data=mine train=train_sch,team_output other=",
        "vision: download=prepare preprocess= data=prepare train=train,evaluate other=",
        "audio: download=demux preprocess=source_separation,transcribe "
        "data=demux,source_separation,transcribe train= other=glossary,subtitles",
        "codeedit: download=ingest preprocess=normalize,split,stats "
        "data=ingest,normalize,split,stats train= other=evaluate",
    } <= lines


def test_stages_command_lists_roles_and_rejects_unknown_pipelines(tmp_path: Path) -> None:
    out = cli("stages", "--pipeline", "vision")
    assert out.returncode == 0, out.stderr
    assert "download    prepare" in out.stdout and "train       train, evaluate" in out.stdout
    assert cli("stages", "--pipeline", "sch", "--role", "train").stdout == "train_sch,team_output\n"
    every = cli("stages", "--all").stdout.splitlines()
    assert "sch: download=mine preprocess= data=mine train=train_sch,team_output other=" in every
    bad = cli("stages", "--pipeline", "nosuch")
    assert bad.returncode == 2 and bad.stderr.startswith("error: --pipeline 'nosuch': expected")
    assert cli("stages", "--role", "bogus").returncode == 2
    vision_cfg = tmp_path / "vision.toml"
    assert cli("init-config", "--pipeline", "vision", str(vision_cfg)).returncode == 0
    mismatch = cli("stages", "--pipeline", "sch", "--config", str(vision_cfg))
    assert mismatch.returncode == 2 and "a 'vision' pipeline, not 'sch'" in mismatch.stderr
    ok = cli("stages", "--config", str(vision_cfg), "--role", "data")
    assert ok.returncode == 0 and ok.stdout == "prepare\n"


# pipeline -> {target: what `make -n target PIPELINE=pipeline CONFIG=cfg.toml` must show after
# `$(SC) `}, for every data, training and run target that applies to the pipeline's default config
P = "pipeline --config cfg.toml"
CALLS: dict[str, dict[str, str]] = {
    "sch": {
        "download-data": f"{P} --stages mine",
        "validate-data": f"{P} --stages mine --dry-run",
        "resume-data": f"{P} --stages mine",
        "train": f"{P} --stages train_sch,team_output",
        "train-all": f"{P} --to team_output",
        "resume-train": f"{P} --from train_sch",
    },
    "vision": {
        "download-data": f"{P} --stages prepare",
        "validate-data": f"{P} --stages prepare --dry-run",
        "resume-data": f"{P} --stages prepare",
        "train": f"{P} --stages train,evaluate",
        "train-all": f"{P} --to evaluate",
        "resume-train": f"{P} --from train",
    },
    "audio": {  # it trains nothing: separation and transcription shape the data (pretrained)
        "download-data": f"{P} --stages demux",
        "preprocess-data": f"{P} --stages source_separation,transcribe",
        "validate-data": f"{P} --stages demux,source_separation,transcribe --dry-run",
        "resume-data": f"{P} --stages demux,source_separation,transcribe",
    },
    "codeedit": {  # part 2's training stages only with [codeedit_train] enabled (below)
        "download-data": f"{P} --stages ingest",
        "preprocess-data": f"{P} --stages normalize,split,stats",
        "validate-data": f"{P} --stages ingest,normalize,split,stats --dry-run",
        "resume-data": f"{P} --stages ingest,normalize,split,stats",
    },
}
# (pipeline, target, the role it lacks in its default config)
NOT_APPLICABLE = [
    ("sch", "preprocess-data", "preprocess"),
    ("vision", "preprocess-data", "preprocess"),
    ("audio", "train", "train"),
    ("audio", "train-all", "train"),
    ("audio", "resume-train", "train"),
    ("codeedit", "train", "train"),
    ("codeedit", "train-all", "train"),
    ("codeedit", "resume-train", "train"),
]


@needs_make
@pytest.mark.parametrize("pipeline", list(CALLS))
def test_make_dry_run_shows_the_cli_call_of_every_target(pipeline: str) -> None:
    calls = {
        **CALLS[pipeline],
        "resume-all": P,
        "integration-test": f"demo --pipeline {pipeline} --size tiny "
        f"--output-dir build/integration-{pipeline}",
        "init-config": f"init-config --pipeline {pipeline} cfg.toml",
    }
    out = make(*calls, "deploy", "OUT=/tmp/sc-out", f"PIPELINE={pipeline}", "CONFIG=cfg.toml")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    for target, call in calls.items():
        # one exact line each: resume-all has no --stages/--from/--to (the whole pipeline)
        assert f"{SC} {call}" in lines, (target, out.stdout)
    assert sum(line.startswith(f"{SC} pipeline") for line in lines) == len(CALLS[pipeline]) + 1
    joined = " ".join(out.stdout.replace("\\\n", " ").split())  # the recipe's continued lines
    assert f"localhost/standard-coder:cpu demo --pipeline {pipeline} --output-dir /data" in joined


@needs_make
@pytest.mark.parametrize(("pipeline", "target", "role"), NOT_APPLICABLE)
def test_a_target_without_stages_of_its_role_stops_with_exit_2(
    pipeline: str, target: str, role: str
) -> None:
    # `make -n` stops too, before printing any call (and make without -n, once: the same path)
    for dry in (True, False) if (pipeline, target) == ("vision", "preprocess-data") else (True,):
        out = make(target, f"PIPELINE={pipeline}", dry=dry)
        assert out.returncode == 2, out.stdout + out.stderr
        assert f"*** PIPELINE={pipeline} has no {role} stage: this target does not apply" in (
            out.stderr
        )
        assert f"standard-coder stages --pipeline {pipeline} lists its stages" in out.stderr
        assert out.stdout == ""


@needs_make
def test_force_and_the_training_stages_a_config_adds(tmp_path: Path) -> None:
    forced = make("train", "FORCE=1", "CONFIG=cfg.toml")
    want = f"{SC} pipeline --config cfg.toml --force --stages train_sch,team_output"
    assert want in forced.stdout.splitlines()
    # codeedit's SFT/SRL stages exist only with [codeedit_train] enabled: then they are its
    # train stages, and the training targets run them
    cfg = tmp_path / "ce.toml"
    assert cli("init-config", "--pipeline", "codeedit", str(cfg)).returncode == 0
    text = cfg.read_text()
    assert text.count("\nenabled = false\n") == 1
    cfg.write_text(text.replace("\nenabled = false\n", "\nenabled = true\n"))
    train = "base_model,sft_stage0,sft_stage1,validate_stage1,srl_stage2"
    out = make("train", "train-all", "resume-train", "PIPELINE=codeedit", f"CONFIG={cfg}")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        f"{SC} pipeline --config {cfg} --stages {train}",
        f"{SC} pipeline --config {cfg} --to srl_stage2",
        f"{SC} pipeline --config {cfg} --from base_model",
    ]
    shown = make("help", f"CONFIG={cfg}", dry=False)
    assert shown.returncode == 0, shown.stderr
    assert f"CONFIG={cfg}:" in shown.stdout
    assert f"    train       {train.replace(',', ', ')}" in shown.stdout


@needs_make
def test_make_reads_the_stages_of_an_existing_config(tmp_path: Path) -> None:
    cfg = tmp_path / "v.toml"
    assert cli("init-config", "--pipeline", "vision", str(cfg)).returncode == 0
    out = make("train", "PIPELINE=vision", f"CONFIG={cfg}")
    assert f"{SC} pipeline --config {cfg} --stages train,evaluate" in out.stdout
    wrong = make("train", "PIPELINE=sch", f"CONFIG={cfg}")
    assert wrong.returncode == 2
    assert "a 'vision' pipeline, not 'sch'" in wrong.stderr


@needs_make
@pytest.mark.parametrize("target", ["download-data", "train", "resume-train", "deploy"])
def test_an_unknown_pipeline_stops_make_with_exit_2(target: str) -> None:
    out = make(target, "PIPELINE=nosuch")
    assert out.returncode == 2
    assert "error: --pipeline 'nosuch': expected one of" in out.stderr
    assert f"{SC} pipeline" not in out.stdout


@needs_make
def test_container_targets_show_podman_calls() -> None:
    build = make("build", "BASE_IMAGE=python:3.11-slim")
    assert build.returncode == 0, build.stderr
    assert "pip download -q -d build/container/wheels" in build.stdout
    assert "import torch; print(torch.__version__)" in build.stdout  # the host's torch wheel
    assert '".[dev,all]"' in build.stdout  # what the test stage installs, beside the runtime's
    assert (
        "nice -n 15 podman --storage-driver vfs build --isolation chroot --layers=false "
        "--build-arg BASE_IMAGE=python:3.11-slim" in build.stdout
    )
    assert "--build-arg EXTRAS=sch,vision -t localhost/standard-coder:cpu" in build.stdout
    every = make("build", "EXTRAS=all")
    assert "--build-arg EXTRAS=all -t localhost/standard-coder:cpu" in every.stdout
    deploy = make("deploy", "PIPELINE=vision", "OUT=/tmp/sc-out")
    assert deploy.returncode == 0, deploy.stderr
    assert "podman --storage-driver vfs run --rm --runtime " in deploy.stdout
    assert "--network none --ulimit nofile=8192:8192 --ulimit nproc=8192:8192" in deploy.stdout
    assert "-v /tmp/sc-out:/data:U localhost/standard-coder:cpu" in deploy.stdout
    assert "demo --pipeline vision --output-dir /data" in deploy.stdout
    # before it runs, the image's extras label is checked against the pipeline
    assert '{{index .Labels "standard-coder.extras"}}' in deploy.stdout
    tested = make("test-image")
    assert tested.returncode == 0, tested.stderr
    assert "--target test -t localhost/standard-coder:cpu-test -f Containerfile ." in tested.stdout
    assert tested.stdout.rstrip().endswith("localhost/standard-coder:cpu-test")
    clean = make("clean")
    assert "rm -rf build dist" in clean.stdout


@needs_make
def test_help_lists_every_target_and_the_stages_per_pipeline() -> None:
    out = make("help", dry=False)
    assert out.returncode == 0, out.stderr
    for target in (
        "download-data", "preprocess-data", "validate-data", "resume-data", "train",
        "train-all", "resume-train", "resume-all", "integration-test", "build", "deploy", "clean",
        "test-image",
    ):  # fmt: skip
        assert sum(line.split()[:1] == [target] for line in out.stdout.splitlines()) == 1, target
    assert "  sch: download=mine preprocess= data=mine train=train_sch,team_output" in out.stdout
    assert "  vision: download=prepare preprocess= data=prepare train=train,evaluate" in out.stdout
    assert "  audio: download=demux preprocess=source_separation,transcribe" in out.stdout
    assert "  codeedit: download=ingest preprocess=normalize,split,stats" in out.stdout
    assert "A role with no stage: the target\nexits 2." in out.stdout
