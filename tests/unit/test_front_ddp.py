"""Who decides DDP: the pipeline (``Pipeline.distributed``, from its own config), not the
runner's front door; what the front door does with it before any process group exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from standard_coder.pipelines import BUILTINS
from standard_coder.runner import front

ROOT = Path(__file__).resolve().parents[2]
COUNTING = ROOT / "examples" / "counting" / "pipeline.toml"
TORCHRUN_ENV = ("WORLD_SIZE", "RANK", "LOCAL_RANK")


def _no_torchrun(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in TORCHRUN_ENV:
        monkeypatch.delenv(key, raising=False)


def test_the_pipeline_sets_distributed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _no_torchrun(monkeypatch)
    base = f"outputs.base_dir={tmp_path / 'out'}"
    pipe, _ = front.load_pipeline(COUNTING, [base], BUILTINS)
    assert pipe.distributed is None
    pipe, _ = front.load_pipeline(COUNTING, [base, 'training.distributed="ddp"'], BUILTINS)
    assert pipe.distributed is not None
    assert pipe.distributed.setting == '[training] distributed = "ddp"'
    train = next(s for s in pipe.stages if s.name == "train")
    assert train.params["distributed"] == "ddp"  # enters the train stage's fingerprint
    sch = tmp_path / "sch.toml"
    sch.write_text('[repos]\ninclude_paths = ["repo"]\n[training]\ndistributed = "ddp"\n')
    (tmp_path / "repo").mkdir()
    pipe, _ = front.load_pipeline(sch, [], BUILTINS)
    assert pipe.distributed is not None


def test_ddp_without_torchrun_and_torchrun_without_ddp_are_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _no_torchrun(monkeypatch)
    base = f"outputs.base_dir={tmp_path / 'out'}"
    argv = ["pipeline", "--config", str(COUNTING), "--set", base]
    assert front.main([*argv, "--set", 'training.distributed="ddp"'], BUILTINS) == 2
    assert capsys.readouterr().err.splitlines() == [
        'error: [training] distributed = "ddp" needs torchrun: launch with '
        '`torchrun --nproc_per_node N -m standard_coder pipeline ...` (or set it to "none")'
    ]
    monkeypatch.setenv("WORLD_SIZE", "2")  # as torchrun sets it; refused before any group
    monkeypatch.setenv("RANK", "1")
    assert front.main(argv, BUILTINS) == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: launched by torchrun but pipeline 'counting' does not train with DDP (its "
        'config does not set distributed = "ddp"): run it without torchrun'
    ]
    bad = 'training.distributed="dp"'
    assert front.main([*argv, "--set", bad], BUILTINS) == 2
    assert 'training.distributed: expected "none" or "ddp"' in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # nothing was written


def test_the_runner_does_not_read_the_training_section() -> None:
    runner = ROOT / "src" / "standard_coder" / "runner"
    for path in runner.rglob("*.py"):
        assert not re.search(r"""["']training["']""", path.read_text()), path
