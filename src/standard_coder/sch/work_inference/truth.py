"""Work-inference labels against the simulator's true coding time (``truth.json``)."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np

from standard_coder.sch.work_inference.base import NORMAL
from standard_coder.sch.work_inference.labels import AuthorHistory, LabelSet


def histories_from_truth(truth: Any) -> dict[str, AuthorHistory]:
    """Author histories from a simulator ``Truth`` (``sch.teamsim.team.load_truth``)."""
    per: dict[str, tuple[list[int], list[int], list[tuple[str, str]]]] = {}
    for c in truth.commits:
        t, z, k = per.setdefault(c.author, ([], [], []))
        t.append(c.authored_at)
        z.append(c.tz_offset_min)
        k.append((c.repo, c.commit_id))
    return {
        a: AuthorHistory.from_tuple(a, (np.asarray(t), np.asarray(z), k))
        for a, (t, z, k) in per.items()
    }


def normal_keys(labels: LabelSet) -> set[tuple[str, str]]:
    """Keys of the commits whose label comes from a normal interval."""
    return {k for k, kind in zip(labels.keys, labels.interval_kind, strict=True) if kind == NORMAL}


def _truth_pairs(
    labels: LabelSet, truth: Any, keys: Collection[tuple[str, str]] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if isinstance(truth, str | Path):
        from standard_coder.sch.teamsim.team import load_truth

        truth = load_truth(Path(truth))
    by_id = {c.commit_id: c.coding_minutes for c in truth.commits}
    rows = [
        i
        for i, (_repo, cid) in enumerate(labels.keys)
        if labels.interval_kind[i] == NORMAL
        and cid in by_id
        and (keys is None or labels.keys[i] in keys)
    ]
    x = np.array([float(by_id[labels.keys[i][1]]) for i in rows])
    y = labels.expected_minutes[np.asarray(rows, dtype=np.int64)]
    who = np.array([labels.authors[i] for i in rows], dtype=str)
    return x, y, who, labels.interval_minutes[np.asarray(rows, dtype=np.int64)]


def pearson_vs_truth(
    labels: LabelSet, truth: Any, *, keys: Collection[tuple[str, str]] | None = None
) -> float:
    """Pearson r between true and expected coding minutes over ordinary intervals, all authors.

    ``truth`` is a ``Truth`` or a path to ``truth.json`` (or a folder of them). Commits are
    matched by commit id; first commits and intervals after long gaps are left out; with
    ``keys``, only those ``(repo, commit_id)`` count (score two label sets on the same commits).
    """
    x, y, _, _ = _truth_pairs(labels, truth, keys)
    if x.shape[0] < 3:
        raise ValueError(f"only {x.shape[0]} labelled commits matched the truth")
    return float(np.corrcoef(x, y)[0, 1])


def _pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    """Pearson r, ``None`` where it is undefined (under 3 pairs, or a constant side)."""
    if x.shape[0] < 3 or np.std(x) == 0 or np.std(y) == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def _rounded(r: float | None) -> float | None:
    return None if r is None else round(r, 4)


def accuracy_vs_truth(labels: LabelSet, truth: Any) -> dict[str, Any]:
    """Accuracy report: pooled r, per-author r (the paper's per-developer figure) and counts."""
    x, y, who, _ = _truth_pairs(labels, truth)
    per: dict[str, float] = {}
    for a in sorted(set(who.tolist())):
        sel = who == a
        if (r := _pearson(x[sel], y[sel])) is not None:
            per[a] = r
    return {
        "kind": labels.kind,
        "n_intervals": int(x.shape[0]),
        "pearson": float(np.corrcoef(x, y)[0, 1]) if x.shape[0] >= 3 else float("nan"),
        "pearson_per_author_mean": float(np.mean(list(per.values()))) if per else float("nan"),
        "pearson_per_author": per,
    }


SPLIT_MINUTES = 720.0
"""Intervals shorter than this (12 h) lie within a working day; longer ones span a night or
more, and their label is mostly the coding before a session's first commit."""


def accuracy_by_interval_length(
    labels: LabelSet,
    truth: Any,
    *,
    keys: Collection[tuple[str, str]] | None = None,
    split_minutes: float = SPLIT_MINUTES,
) -> dict[str, Any]:
    """Where a labeller's team-wide r comes from: normal intervals shorter than
    ``split_minutes`` (``short``: within a session or a working day) and the rest (``long``:
    across a night or more), each with its count, Pearson r (``None`` for constant labels,
    e.g. git-hours' fixed credit on every long interval) and mean label minus truth in minutes.

    ``reference`` is the team-wide r of a labeller exact on every short interval that gives
    every long one their true mean: what reading every within-day interval right and nothing
    about the longer ones would score. It depends on the truth and the commits only (not on
    ``labels``' values), so two label sets scored on the same ``keys`` share it.
    """
    if not split_minutes > 0:
        raise ValueError(f"split_minutes must be > 0, got {split_minutes}")
    x, y, _, gap = _truth_pairs(labels, truth, keys)
    short = gap < split_minutes
    parts: dict[str, Any] = {"split_minutes": split_minutes}
    for name, sel in (("short", short), ("long", ~short)):
        n = int(sel.sum())
        error = round(float(np.mean(y[sel] - x[sel])), 2) if n else None
        r = _rounded(_pearson(x[sel], y[sel]))
        parts[name] = {"n": n, "pearson": r, "mean_error_minutes": error}
    ideal = x.astype(float)
    if (~short).any():
        ideal[~short] = x[~short].mean()
    parts["reference"] = _rounded(_pearson(x, ideal))
    return parts
