"""Pull requests joined to the change dataset: the multitask model's delivery inputs.

A PR's inputs are the feature rows of its commits (pooled by the model's shared trunk) and five
PR features: ``log1p`` of review rounds, comments, CI failures, commits and lines changed. A PR
belongs to the split of its newest commit in the dataset (the held-out split is the most
recent share of each repository, so a held-out PR is one the model never trained on). Commits
squashed into a neighbour or outside the configured languages are not rows of the dataset; a
PR with none of its commits in the dataset is left out (counted).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from standard_coder.sch.dataset import TEST, TRAIN, VAL, Dataset
from standard_coder.sch.delivery.prs import PullRequest

PR_FEATURES = ("review_rounds", "comments", "ci_failures", "commits", "lines_changed")
N_PR_FEATURES = len(PR_FEATURES)


@dataclass
class DeliveryData:
    """PRs ready for the model: ``X`` (commit rows, features) with ``owner`` (the PR index of
    each row), ``pr_features`` (PRs, 5, raw ``log1p`` values) and ``hours`` (PRs,)."""

    X: np.ndarray
    owner: np.ndarray
    pr_features: np.ndarray
    hours: np.ndarray
    ids: list[str]
    lines_changed: np.ndarray
    expected_hours: np.ndarray
    """The simulator's noise-free delivery time (NaN when unknown)."""

    def __len__(self) -> int:
        return int(self.hours.shape[0])

    def subset(self, which: np.ndarray) -> DeliveryData:
        """The PRs at indices ``which`` (renumbered)."""
        which = np.asarray(which, np.int64)
        remap = np.full(len(self), -1, np.int64)
        remap[which] = np.arange(which.size)
        keep = remap[self.owner] >= 0
        return DeliveryData(
            X=self.X[keep], owner=remap[self.owner[keep]], pr_features=self.pr_features[which],
            hours=self.hours[which], ids=[self.ids[i] for i in which],
            lines_changed=self.lines_changed[which], expected_hours=self.expected_hours[which],
        )  # fmt: skip


@dataclass
class DeliverySplits:
    train: DeliveryData
    val: DeliveryData
    test: DeliveryData
    n_dropped: int
    """PRs none of whose commits is a dataset row."""


def join_pull_requests(prs: Sequence[PullRequest], dataset: Dataset) -> DeliverySplits:
    """PRs -> (train, validation, test) :class:`DeliveryData` over ``dataset``'s rows."""
    row_of = {str(c): i for i, c in enumerate(dataset.commit_id.tolist())}
    lines = dataset.surface_column("lines_added") + dataset.surface_column("lines_deleted")
    rows: list[int] = []
    owner: list[int] = []
    feats: list[list[float]] = []
    hours: list[float] = []
    ids: list[str] = []
    split: list[int] = []
    size: list[float] = []
    expected: list[float] = []
    dropped = 0
    for pr in prs:
        mine = sorted({row_of[c] for c in pr.commit_ids if c in row_of})
        if not mine:
            dropped += 1
            continue
        k = len(ids)
        rows.extend(mine)
        owner.extend([k] * len(mine))
        n_lines = float(lines[mine].sum())
        raw = (pr.review_rounds, pr.comments, pr.ci_failures, len(pr.commit_ids), n_lines)
        feats.append([float(np.log1p(v)) for v in raw])
        hours.append(pr.hours)
        ids.append(pr.id)
        newest = max(mine, key=lambda r: dataset.time[r])
        split.append(int(dataset.split[newest]))
        size.append(n_lines)
        expected.append(np.nan if pr.expected_hours is None else pr.expected_hours)
    d = dataset.X.shape[1]
    every = DeliveryData(
        X=dataset.X[rows].astype(np.float32) if rows else np.zeros((0, d), np.float32),
        owner=np.asarray(owner, np.int64),
        pr_features=np.asarray(feats, np.float32).reshape(-1, N_PR_FEATURES),
        hours=np.asarray(hours, np.float64),
        ids=ids,
        lines_changed=np.asarray(size, np.float64),
        expected_hours=np.asarray(expected, np.float64),
    )
    sp = np.asarray(split, np.int64)
    return DeliverySplits(
        train=every.subset(np.flatnonzero(sp == TRAIN)),
        val=every.subset(np.flatnonzero(sp == VAL)),
        test=every.subset(np.flatnonzero(sp == TEST)),
        n_dropped=dropped,
    )
