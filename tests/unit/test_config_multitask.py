"""``[training] predictor = "multitask"`` and the seed's spellings of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from standard_coder.config import ConfigError, load_config
from standard_coder.pipelines.sch import build


def _cfg(tmp_path: Path, training: str) -> Path:
    path = tmp_path / "pipeline_config.toml"
    path.write_text(f'[repos]\ninclude_paths = ["repo"]\n[training]\n{training}\n')
    return path


@pytest.mark.parametrize(
    "training",
    [
        'predictor = "multitask"\n[training.multitask]\npull_requests_path = "prs.json"',
        'predictor_kind = "multitask"\n[training.multitask]\npull_requests_path = "prs.json"',
        '[training.multitask]\nenable = true\npull_requests_path = "prs.json"',
    ],
)
def test_multitask_and_its_seed_spellings(tmp_path: Path, training: str) -> None:
    cfg = load_config(_cfg(tmp_path, training))
    assert cfg.training.predictor == "multitask"
    assert cfg.training.multitask.pull_requests_path == tmp_path / "prs.json"


def test_multitask_needs_a_pr_file_and_one_spelling(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"needs \[training.multitask\] pull_requests_path"):
        load_config(_cfg(tmp_path, 'predictor = "multitask"'))
    both = 'predictor = "quantile"\npredictor_kind = "multitask"'
    with pytest.raises(ConfigError, match="conflicts with predictor_kind"):
        load_config(_cfg(tmp_path, both))


def test_the_pr_file_is_a_train_input_only_for_multitask(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    mt = build(_cfg(tmp_path, 'predictor = "multitask"\n[training.multitask]\n'
                              'pull_requests_path = "prs.json"'), [])  # fmt: skip
    train = next(s for s in mt.stages if s.name == "train_sch")
    assert train.named_inputs["pull_requests"] == tmp_path / "prs.json"
    assert "multitask" in train.params["training"]
    mdn = build(_cfg(tmp_path, 'predictor = "mdn"'), [])
    train = next(s for s in mdn.stages if s.name == "train_sch")
    assert "pull_requests" not in train.named_inputs
    assert "multitask" not in train.params["training"]  # unused: never invalidates mdn runs
