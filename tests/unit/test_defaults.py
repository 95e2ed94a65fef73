"""One set of defaults: every ``[training]`` default equals the estimator's own default."""

from __future__ import annotations

import inspect
from dataclasses import fields
from pathlib import Path

import pytest

from standard_coder.config.training import (
    HMMSection,
    MDNSection,
    OptimSection,
    QuantileSection,
    TrainingSection,
)
from standard_coder.sch.predictors.estimator import MDNRegressor, QuantileRegressor
from standard_coder.sch.predictors.train import TrainOptions
from standard_coder.sch.work_inference.hmm import NeuralHMM
from standard_coder.sch.work_inference.labels import HMMOptions, WorkInferenceOptions

RUNNER_ONLY = {"checkpoint_every_steps", "validation_fraction"}


def _plain(v: object) -> object:
    return list(v) if isinstance(v, tuple | list) else v


def _init_defaults(cls: type) -> dict[str, object]:
    sig = inspect.signature(cls.__init__)
    return {n: _plain(p.default) for n, p in sig.parameters.items() if p.default is not p.empty}


def test_optim_section_equals_train_options() -> None:
    section = {k: v for k, v in OptimSection().model_dump().items() if k not in RUNNER_ONLY}
    train = {f.name: getattr(TrainOptions(), f.name) for f in fields(TrainOptions)}
    train.pop("precision")  # from [runner] precision, whose default is fp32 as well
    assert section == train


@pytest.mark.parametrize(("section", "cls"), [(MDNSection, MDNRegressor),
                                              (QuantileSection, QuantileRegressor)])  # fmt: skip
def test_head_sections_equal_estimator_defaults(section: type, cls: type) -> None:
    est = _init_defaults(cls)
    got = section().model_dump()
    assert set(got) == set(cls.head_param_names())  # type: ignore[attr-defined]
    assert got == {k: est[k] for k in got}


def test_hmm_section_equals_hmm_options_and_neural_hmm() -> None:
    section = HMMSection().model_dump()
    options = {f.name: getattr(HMMOptions(), f.name) for f in fields(HMMOptions)}
    assert section == options
    hmm = _init_defaults(NeuralHMM)
    shared = set(section) & set(hmm)
    assert shared >= {"epochs", "learning_rate", "hidden", "history_days", "init_commit_prob"}
    assert {k: section[k] for k in shared} == {k: hmm[k] for k in shared}
    t = TrainingSection()
    w = WorkInferenceOptions()
    assert (t.label_samples_per_commit, t.min_commits_per_author) == (
        w.label_samples_per_commit,
        w.min_commits_per_author,
    )
    assert hmm["n_samples"] == t.label_samples_per_commit


def test_layout_default_predictor_is_the_configs() -> None:
    """A layout built without a predictor (reports, summaries, tests) finds the default model."""
    from standard_coder.pipelines.sch_layout import SchLayout

    assert SchLayout(Path("x")).predictor == TrainingSection().predictor == "auto"
    assert SchLayout(Path("x")).model == Path("x/models/auto/model.pt")
