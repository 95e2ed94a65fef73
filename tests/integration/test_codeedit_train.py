"""codeedit part 2 end to end on the fixtures with the tiny model: Stage-0/Stage-1 SFT, the
Stage-1 validator, TensorBoard scalars, a rerun that skips, and a real SIGKILL during Stage 0
that resumes at the checkpointed step with weights identical to an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("trl", reason="the codeedit extra (training part) is not installed")
pytest.importorskip("ast_grep_py", reason="the codeedit extra is not installed")

pytestmark = [pytest.mark.integration]

CONFIG = """[pipeline]
name = "codeedit"
[outputs]
base_dir = "out"
[codeedit]
eval_timeout_s = 2.0
[codeedit_train]
enabled = true
stage0_steps = 12
stage1_steps = 4
batch_size = 2
max_length = 160
checkpoint_every = 4
max_new_tokens = 24
validate_max_tasks = 3
"""


def _write(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "pipeline_config.toml"
    path.write_text(CONFIG)
    return path


def _pipeline(config: Path, *extra: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "standard_coder", "pipeline", "--config", str(config), *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = _write(tmp_path_factory.mktemp("ref"))
    p = _pipeline(config)
    _, err = p.communicate(timeout=600)
    assert p.returncode == 0, err.decode()[-3000:]
    return config.parent / "out"


def test_training_stages_write_models_readmes_validation_and_scalars(trained: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    s0 = json.loads((trained / "models" / "sft_stage0" / "training.json").read_text())
    assert s0["steps"] == 12 and s0["resumed_from_step"] == 0
    assert s0["last_loss"] < s0["first_loss"]  # Stage 0 loss falls on the fixtures
    assert set(s0["data"]) == {"commitpackft", "editpackft"}
    s1 = json.loads((trained / "models" / "sft_stage1_astgrep" / "training.json").read_text())
    assert s1["data"] == {"synthetic": s1["data"]["synthetic"]} and s1["steps"] == 4
    readme = (trained / "models" / "sft_stage1_astgrep" / "README.md").read_text()
    assert "synthetic:" in readme and '"max_steps": 4' in readme
    assert (trained / "models" / "sft_stage1_astgrep" / "model.safetensors").exists()
    doc = json.loads((trained / "reports" / "codeedit_validation.json").read_text())
    assert doc["tasks"] == 3 and 0.0 <= doc["success_rate"] <= 1.0
    assert sum(doc["statuses"].values()) == 3
    acc = EventAccumulator(str(trained / "tb" / "codeedit" / "sft_stage0"))
    acc.Reload()
    assert len(acc.Scalars("sft_stage0/loss")) == 12
    val = EventAccumulator(str(trained / "tb" / "codeedit" / "validate_stage1"))
    val.Reload()
    assert val.Scalars("validate/success_rate")[0].value == doc["success_rate"]
    html = (trained / "reports" / "index.html").read_text()
    assert "Code-edit training" in html and "sft_stage0" in html

    again = _pipeline(trained.parent / "pipeline_config.toml")
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0 and b"0 ran" in err, err.decode()[-2000:]


def test_sigkill_during_stage0_resumes_with_identical_weights(
    trained: Path, tmp_path: Path
) -> None:
    from safetensors.torch import load_file

    config = _write(tmp_path)
    ckpts = tmp_path / "out" / "checkpoints" / "sft_stage0" / "train"
    p = _pipeline(config, "--to", "sft_stage0")
    deadline = time.monotonic() + 300
    while not list(ckpts.glob("ckpt-*.pt")):
        assert p.poll() is None, "Stage 0 finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)
    p.communicate(timeout=60)
    assert p.returncode == -signal.SIGKILL
    model = tmp_path / "out" / "models" / "sft_stage0" / "model.safetensors"
    assert not model.exists()

    again = _pipeline(config, "--to", "sft_stage0")
    _, err = again.communicate(timeout=400)
    assert again.returncode == 0, err.decode()[-3000:]
    doc = json.loads((model.parent / "training.json").read_text())
    assert doc["resumed_from_step"] >= 4 and doc["steps"] == 12
    assert "resuming training at step" in (tmp_path / "out" / "logs" / "run.log").read_text()
    got = load_file(model)
    want = load_file(trained / "models" / "sft_stage0" / "model.safetensors")
    assert got.keys() == want.keys()
    for key, value in want.items():
        assert (got[key] == value).all(), key
