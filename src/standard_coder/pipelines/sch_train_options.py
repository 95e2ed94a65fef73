"""``[training]`` as the ``train_sch`` stage's option objects: work inference
(``WorkInferenceOptions``), the effort model's head parameters and training loop
(``TrainOptions``), its recency half-life and the cross-repository prior.

The stage (:mod:`standard_coder.pipelines.sch_train`) builds them here from the section
:func:`standard_coder.pipelines.wiring.section_from_params` gives back (``eval --repos`` its
work-inference options, through ``sch_train.label_commits``); the domain packages never see the
schema.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance
    from pydantic import BaseModel

    from standard_coder.config.training import TrainingSection
    from standard_coder.sch.features.cross_repo import CrossRepoPrior
    from standard_coder.sch.predictors.train import TrainOptions
    from standard_coder.sch.work_inference.labels import WorkInferenceOptions

D = TypeVar("D", bound="DataclassInstance")


def configured_prior(t: TrainingSection, path: Path | None) -> CrossRepoPrior | None:
    """The cross-repository prior ``[training.features]`` asks for: the file at ``path`` (the
    stage's ``cross_repo_prior`` input), the shipped one (the one reading message bodies when
    they are counted), or None (off, or ``loc``)."""
    from standard_coder.sch.features.cross_repo import CrossRepoPrior

    if not t.features.cross_repo_prior or t.features.representation == "loc":
        return None
    if path is not None:
        return CrossRepoPrior.load(path)
    return CrossRepoPrior.builtin(body=t.features.commit_body)


def work_options(t: TrainingSection) -> WorkInferenceOptions:
    """``WorkInferenceOptions`` from ``[training]``: ``[training.hmm]`` and ``[training.gap]``
    whole (the stage reads ``squash_minutes`` too, to squash changes, and the HMM reads it as
    well), ``TypeError`` for a key ``HMMOptions`` or ``GapOptions`` lacks."""
    from standard_coder.sch.work_inference.labels import (
        GapOptions,
        HMMOptions,
        WorkInferenceOptions,
    )

    return WorkInferenceOptions(
        label_samples_per_commit=t.label_samples_per_commit,
        min_commits_per_author=t.min_commits_per_author,
        hmm=_options_from(t.hmm, HMMOptions, "[training.hmm]"),
        gap=_options_from(t.gap, GapOptions, "[training.gap]"),
    )


def recency_of(t: TrainingSection) -> float | None:
    """The effort-model fits' recency half-life (every predictor and its LOC baseline): None
    (no decay) for 0."""
    return t.recency_half_life or None


def head_params(t: TrainingSection) -> dict[str, Any]:
    """The configured head parameters: ``[training.mdn]``, ``[training.quantile]`` or
    ``[training.multitask]`` (less its file and switch)."""
    if t.predictor == "multitask":
        from standard_coder.pipelines.sch_delivery import multitask_params

        return multitask_params(t)
    if t.predictor == "shift":
        return t.shift.model_dump()
    if t.predictor == "auto":
        shift = t.shift.model_dump()
        kinds = {"mdn": ("mdn", t.mdn.model_dump()), "shift": ("shift", shift),
                 "shift_w0": ("shift", {**shift, "shrink": [0.0], "tiebreak": False}),
                 "shift_tie": ("shift", {**shift, "tiebreak": True})}  # fmt: skip
        return {"rule": t.auto.rule, "margin_se": t.auto.margin_se,
                "candidates": {c: kinds[c] for c in t.auto.candidates}}  # fmt: skip
    return (t.mdn if t.predictor == "mdn" else t.quantile).model_dump()


OPTIM_RUNNER_ONLY = frozenset({"checkpoint_every_steps", "validation_fraction"})
"""``[training.optim]`` keys the train stage reads itself, not ``TrainOptions`` fields; any other
key ``TrainOptions`` lacks is an error (:func:`train_options`, test_defaults), never ignored."""


def train_options(t: TrainingSection, precision: str = "fp32") -> TrainOptions:
    """``TrainOptions`` from ``[training.optim]`` (less :data:`OPTIM_RUNNER_ONLY`) and ``[runner]
    precision``; ``TypeError`` for a key in neither (a schema change that forgot one)."""
    from standard_coder.sch.predictors.train import TrainOptions

    return _options_from(
        t.optim,
        TrainOptions,
        "[training.optim]",
        OPTIM_RUNNER_ONLY,
        "OPTIM_RUNNER_ONLY",
        precision=precision,
    )


def _options_from(
    section: BaseModel,
    cls: type[D],
    key: str,
    stage_only: frozenset[str] = frozenset(),
    stage_only_name: str = "",
    **more: Any,
) -> D:
    """The option dataclass ``cls`` from the config section at ``key`` (``[training.hmm]``) and
    ``more``, less ``stage_only`` (the keys the stage reads itself, this module's constant
    ``stage_only_name``).

    Raises:
        TypeError: naming each other section key ``cls`` has no field for: a schema change that
            forgot the option object would make the key do nothing, so it is never dropped.
    """
    from dataclasses import fields

    values = section.model_dump(exclude=set(stage_only))
    unknown = sorted(set(values) - {f.name for f in fields(cls)})
    if unknown:  # it would do nothing: say so where the schema and the option object part
        name = cls.__name__
        nor = f" nor in pipelines.sch_train_options.{stage_only_name}" if stage_only_name else ""
        to = "one of them" if nor else name
        raise TypeError(f"{key} {', '.join(unknown)}: not a {name} field{nor}; add it to {to}")
    return cls(**values, **more)
