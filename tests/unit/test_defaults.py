"""One set of defaults: every ``[training]`` default equals the estimator's own default."""

from __future__ import annotations

import inspect
from dataclasses import asdict, fields
from pathlib import Path

import pytest

from standard_coder.config.training import (
    GapSection,
    HMMSection,
    MDNSection,
    OptimSection,
    QuantileSection,
    TrainingSection,
)
from standard_coder.pipelines.sch_train_options import (
    OPTIM_RUNNER_ONLY,
    train_options,
    work_options,
)
from standard_coder.sch.predictors.estimator import MDNRegressor, QuantileRegressor
from standard_coder.sch.predictors.train import TrainOptions
from standard_coder.sch.work_inference.hmm import NeuralHMM
from standard_coder.sch.work_inference.labels import GapOptions, HMMOptions, WorkInferenceOptions


def _plain(v: object) -> object:
    return list(v) if isinstance(v, tuple | list) else v


def _init_defaults(cls: type) -> dict[str, object]:
    sig = inspect.signature(cls.__init__)
    return {n: _plain(p.default) for n, p in sig.parameters.items() if p.default is not p.empty}


def test_every_optim_key_is_a_train_option_or_runner_only() -> None:
    """A key added to ``[training.optim]`` must reach ``TrainOptions`` or be read by the stage
    (``OPTIM_RUNNER_ONLY``): ``train_options`` kept only the keys ``TrainOptions`` has, so any
    other was silently ignored."""
    section = set(OptimSection.model_fields)
    train = {f.name for f in fields(TrainOptions)}
    assert section - train == OPTIM_RUNNER_ONLY  # no other key is dropped
    assert section >= OPTIM_RUNNER_ONLY  # and the set names no key the schema lost
    assert not OPTIM_RUNNER_ONLY & train  # a runner-only key would not reach the optimiser


def test_train_options_carries_every_key_and_refuses_an_unmapped_one() -> None:
    optim = {"epochs": 3, "batch_size": 64, "learning_rate": 0.01, "weight_decay": 0.1,
             "early_stopping_patience": 2, "max_steps_per_epoch": None, "grad_clip": 1.0,
             "samples_per_commit": 4, "checkpoint_every_steps": 7}  # fmt: skip
    t = TrainingSection.model_validate({"optim": optim})
    opts = train_options(t, "bf16")
    got = {f.name: getattr(opts, f.name) for f in fields(TrainOptions)}
    assert got == {**t.optim.model_dump(exclude=set(OPTIM_RUNNER_ONLY)), "precision": "bf16"}

    class Grown(OptimSection):  # a schema key TrainOptions lacks and the runner does not read
        warmup_steps: int = 100

    grown = t.model_copy(update={"optim": Grown()})
    with pytest.raises(TypeError, match=r"\[training.optim\] warmup_steps: not a TrainOptions"):
        train_options(grown)


@pytest.mark.parametrize(("section", "cls"), [(HMMSection, HMMOptions), (GapSection, GapOptions)])
def test_every_hmm_and_gap_key_is_a_work_inference_option(section: type, cls: type) -> None:
    """A key added to ``[training.hmm]`` or ``[training.gap]`` must reach its option object: the
    stage reads none of them apart (``squash_minutes`` it reads as well, and so does the HMM), and
    ``work_options`` kept only the keys ``HMMOptions`` has, so any other was silently ignored."""
    assert set(section.model_fields) - {f.name for f in fields(cls)} == set()


def test_work_options_carry_every_hmm_and_gap_key_and_refuse_an_unmapped_one() -> None:
    hmm = {"epochs": 7, "hidden": 4, "squash_minutes": 5, "tol": 0.001, "max_time_bins": 3}
    t = TrainingSection.model_validate({"hmm": hmm, "gap": {"max_gap_minutes": 90}})
    w = work_options(t)
    assert asdict(w.hmm) == t.hmm.model_dump()
    assert asdict(w.gap) == t.gap.model_dump()

    class GrownHMM(HMMSection):  # a schema key HMMOptions lacks
        dropout: float = 0.1

    class GrownGap(GapSection):
        idle_minutes: int = 30

    with pytest.raises(TypeError, match=r"\[training.hmm\] dropout: not a HMMOptions field; add "):
        work_options(t.model_copy(update={"hmm": GrownHMM()}))
    with pytest.raises(TypeError, match=r"\[training.gap\] idle_minutes: not a GapOptions field"):
        work_options(t.model_copy(update={"gap": GrownGap()}))


def test_optim_section_equals_train_options() -> None:
    section = OptimSection().model_dump(exclude=set(OPTIM_RUNNER_ONLY))
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
