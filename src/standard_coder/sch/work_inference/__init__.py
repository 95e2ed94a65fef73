"""Work inference: coding minutes per commit interval from commit timestamps.

Models share one scikit-learn-shaped interface (``WorkInferenceModel``): ``hmm`` (the paper's
neural HMM, ``NeuralHMM``) and ``gap`` (git-hours, ``GapModel``). ``infer_labels`` runs the
stage body: one resumable work item per author, pooled small authors, FFBS label samples.
"""

from typing import Any

from standard_coder.sch.work_inference.base import WorkInferenceModel
from standard_coder.sch.work_inference.gap import GapModel
from standard_coder.sch.work_inference.hmm import NeuralHMM
from standard_coder.sch.work_inference.labels import (
    AuthorHistory,
    GapOptions,
    HMMOptions,
    LabelSet,
    WorkInferenceOptions,
    WorkInferenceStopped,
    infer_labels,
    make_model,
)
from standard_coder.sch.work_inference.truth import (
    accuracy_by_interval_length,
    accuracy_vs_truth,
    histories_from_truth,
    normal_keys,
    pearson_vs_truth,
)

__all__ = [
    "AuthorHistory",
    "GapModel",
    "GapOptions",
    "HMMOptions",
    "LabelSet",
    "NeuralHMM",
    "NotFittedError",
    "WorkInferenceModel",
    "WorkInferenceOptions",
    "WorkInferenceStopped",
    "accuracy_by_interval_length",
    "accuracy_vs_truth",
    "histories_from_truth",
    "infer_labels",
    "make_model",
    "normal_keys",
    "pearson_vs_truth",
]


def __getattr__(name: str) -> Any:
    """``NotFittedError`` (scikit-learn's) is imported on first use (see ``base``)."""
    if name == "NotFittedError":
        from sklearn.exceptions import NotFittedError

        return NotFittedError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
