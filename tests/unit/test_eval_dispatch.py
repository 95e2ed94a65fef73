"""``standard-coder eval`` tells the pipelines apart: a config of a pipeline without an eval, and
a checkpoint of another kind, exit 2 with one line instead of the sch path's complaints."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from standard_coder.cli import commands  # noqa: F401  (registers the commands)
from standard_coder.cli.app import app
from standard_coder.vision.modelfile import is_vision_checkpoint, load_model, save_model
from standard_coder.vision.models import build_model

META = {"model_type": "testing", "img_size": 8, "channels": 1, "labels": ["a", "b"], "steps": 3}


def _eval(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, ["eval", *args])
    assert "Traceback" not in res.output
    return res.exit_code, res.output


@pytest.mark.parametrize("pipeline", ["audio", "codeedit"])
def test_a_pipeline_without_eval_is_named(tmp_path: Path, pipeline: str) -> None:
    config = tmp_path / f"{pipeline}.toml"
    made = CliRunner().invoke(app, ["init-config", "--pipeline", pipeline, str(config)])
    assert made.exit_code == 0, made.output
    code, out = _eval("--checkpoint", str(tmp_path / "model.pt"), "--config", str(config))
    assert code == 2 and "unknown key" not in out
    (line,) = out.strip().splitlines()
    assert line.startswith(
        f"error: {config}: eval is not supported for the {pipeline} pipeline (eval scores sch "
        "and vision model checkpoints)"
    )


def test_a_command_pipeline_has_no_eval(tmp_path: Path) -> None:
    config = tmp_path / "p.toml"
    config.write_text('[pipeline]\nname = "mine"\n[[stages]]\nname = "a"\ncmd = ["true"]\n')
    code, out = _eval("--checkpoint", str(tmp_path / "m.pt"), "--config", str(config))
    assert code == 2
    assert out.strip() == (
        f"error: {config}: eval is not supported for the mine pipeline (eval scores sch and "
        "vision model checkpoints)"
    )


def _vision_model(folder: Path) -> Path:
    torch.manual_seed(0)
    model = build_model("testing", img_size=8, channels=1, num_classes=2)
    return save_model(folder / "models" / "vision" / "model.pt", model, META)


def test_a_vision_checkpoint_is_recognised_without_its_config(tmp_path: Path) -> None:
    model = _vision_model(tmp_path)
    code, out = _eval("--checkpoint", str(model))
    assert code == 2
    assert out.strip() == (
        f"error: {model}: a vision model checkpoint; evaluating it needs the vision pipeline's "
        f"config: standard-coder eval --checkpoint {model} --config FILE"
    )
    sch = tmp_path / "sch.toml"
    sch.write_text(f'[outputs]\nbase_dir = "{tmp_path}"\n')
    code, out = _eval("--checkpoint", str(model), "--config", str(sch))
    assert code == 2 and out.strip() == (
        f"error: {model}: a vision model checkpoint, but {sch} is the sch pipeline's config; "
        "pass the vision pipeline's config with --config"
    )


@pytest.mark.parametrize(
    ("text", "cause"), [(None, "config file not found"), ("x = [", "not valid TOML")]
)
def test_a_config_that_cannot_be_read_is_named_not_taken_for_the_sch_one(
    tmp_path: Path, text: str | None, cause: str
) -> None:
    model = _vision_model(tmp_path)
    config = tmp_path / "pipeline_config.toml"
    if text is not None:
        config.write_text(text)
    code, out = _eval("--checkpoint", str(model), "--config", str(config))
    assert code == 2
    (line,) = out.strip().splitlines()
    assert line.startswith(f"error: {config}: {cause}"), line


def test_a_runner_training_checkpoint_of_vision_loads(tmp_path: Path) -> None:
    """``ckpt-*.pt`` keeps the weights and meta in the runner's envelope: eval reads both."""
    from standard_coder.runner.checkpoint import Checkpointer

    path = _vision_model(tmp_path)
    saved = torch.load(path, weights_only=True)
    ckpt = Checkpointer(tmp_path / "ckpt", every_n_steps=1, fingerprint="f" * 64, background=False)
    file = ckpt.save({**saved, "step": 3, "optimizer": {}}, 3)
    assert is_vision_checkpoint(file) and is_vision_checkpoint(path)
    model, meta = load_model(file, "cpu")
    want, _ = load_model(path, "cpu")
    assert meta["labels"] == ["a", "b"]
    for (k, a), (_, b) in zip(model.state_dict().items(), want.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    other = tmp_path / "other.pt"
    torch.save({"format": "effort-model", "weights": torch.zeros(2)}, other)
    assert not is_vision_checkpoint(other) and not is_vision_checkpoint(tmp_path / "none.pt")


def test_without_config_messages_name_no_invented_file_and_set_is_applied(
    tmp_path: Path,
) -> None:
    """Without --config the sch eval runs on the defaults for the checkpoint's run folder: no
    config file exists, so none is named (it said ``<base>/eval.toml``), and --set is checked
    and applied instead of being dropped."""
    from standard_coder.cli.eval_cmd import _defaults_for

    model = tmp_path / "run" / "models" / "mdn" / "model.pt"
    model.parent.mkdir(parents=True)
    model.write_bytes(b"PK\x03\x04 a cut archive, read after the representation")
    code, out = _eval("--checkpoint", str(model), "--set", "runner.nosuch=1")
    assert code == 2 and "eval.toml" not in out
    assert out.startswith(f"error: --set (no --config: the defaults for {tmp_path / 'run'})")
    assert "runner.nosuch (from --set runner.nosuch=1): unknown key" in out
    code, out = _eval("--checkpoint", str(model), "--set", "runner.seed=5")
    assert code == 2 and "eval.toml" not in out and "change_rep" in out, out
    cfg = _defaults_for(model, ["runner.seed=5"])
    assert cfg.config_path is None and cfg.runner.seed == 5
    assert cfg.outputs.base_dir == tmp_path / "run"
