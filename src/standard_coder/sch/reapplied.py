"""Changes that re-apply an earlier change: backports, cherry-picks, a revert undone.

A change *re-applies* an earlier one when at least ``min_share`` of its distinctive added lines
were added by that one earlier change (committed before it). A line is the text of an inserted
line with its surrounding whitespace stripped, at least ``min_chars`` long, that the same change
does not also delete (a moved line is no new line); it is *distinctive* when at most
``max_changes_per_line`` changes of the history insert it (``return None`` or a common import is
no evidence of a copy). A change needs ``min_lines`` distinctive lines to be judged.

Measured on 40 public Python histories (``docs/effort-models.md``, "Session 32" and "Session
33"): about 1 % of the changes re-apply an earlier one, their inferred coding time is shorter than
their size says, and ranking them as such moves the effort model's held-out ranking by less
than a standard error. The effort model prices them as written; team output names them, so a
lead reading a person's output can tell a week of backports from a week of new work.

Memory and time follow the history's distinct added lines: the lines are hashed (8 bytes each)
and the pairs of changes sharing a distinctive line are counted with numpy.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from standard_coder.sch.features.tokens import changed_lines_text
from standard_coder.sch.records import CommitRecord

MIN_SHARE = 0.8
MIN_LINES = 3
MIN_CHARS = 8
MAX_CHANGES_PER_LINE = 20


@dataclass(frozen=True)
class Reapplied:
    """``commit_id`` of ``repo`` re-applies ``source_id``: ``share`` of its ``lines``
    distinctive added lines were added by ``source_id`` before."""

    repo: str
    commit_id: str
    source_id: str
    share: float
    lines: int


def _line_key(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def added_lines(record: CommitRecord, min_chars: int = MIN_CHARS) -> np.ndarray:
    """The sorted unique keys (uint64) of the lines ``record`` inserts and does not also delete
    (text stripped of surrounding whitespace, at least ``min_chars`` long)."""
    added: set[str] = set()
    deleted: set[str] = set()
    for sign, body in changed_lines_text(f.diff for f in record.files):
        if len(body) >= min_chars:
            (added if sign == "+" else deleted).add(body)
    return np.unique(np.array([_line_key(b) for b in added - deleted], np.uint64))


def find_reapplied(
    commits: Iterable[CommitRecord],
    *,
    min_share: float = MIN_SHARE,
    min_lines: int = MIN_LINES,
    min_chars: int = MIN_CHARS,
    max_changes_per_line: int = MAX_CHANGES_PER_LINE,
) -> list[Reapplied]:
    """The changes of ``commits`` (with their files' diffs) that re-apply an earlier one of the
    same repository (the module docstring's rule), in commit-time order. Earlier means committed
    before (``committed_at``; a cherry-pick keeps its original's author time), ties in the
    order given."""
    recs: list[tuple[str, str, int]] = []
    keys: list[np.ndarray] = []
    for r in commits:
        recs.append((r.repo, r.commit_id, r.committed_at))
        keys.append(added_lines(r, min_chars))
    if not recs:
        return []
    order = sorted(range(len(recs)), key=lambda i: (recs[i][0], recs[i][2]))
    rank = np.empty(len(recs), np.int64)
    rank[order] = np.arange(len(recs))  # position in (repository, commit time) order
    repo_of = np.array([r[0] for r in recs])
    owner = np.repeat(np.arange(len(recs)), [len(k) for k in keys])
    flat = np.concatenate(keys) if keys else np.zeros(0, np.uint64)
    # a line is distinctive where few changes insert it (in any repository: a shared template
    # line is no evidence of a copy)
    _, inverse, counts = np.unique(flat, return_inverse=True, return_counts=True)
    keep = counts[inverse] <= max_changes_per_line
    n_distinct = np.bincount(owner[keep], minlength=len(recs))
    pairs = _later_earlier_pairs(inverse[keep], owner[keep], rank)
    if not len(pairs):
        return []
    same_repo = repo_of[pairs[:, 0]] == repo_of[pairs[:, 1]]
    pairs = pairs[same_repo]
    if not len(pairs):
        return []
    pair_id, shared = np.unique(pairs, axis=0, return_counts=True)
    best: dict[int, tuple[int, int]] = {}  # later -> (shared lines, earlier)
    for (later, earlier), n in zip(pair_id.tolist(), shared.tolist(), strict=True):
        cur = best.get(later)
        if cur is None or n > cur[0] or (n == cur[0] and rank[earlier] > rank[cur[1]]):
            best[later] = (n, earlier)  # ties: the most recent earlier change
    found = [
        (later, n, earlier)
        for later, (n, earlier) in best.items()
        if n_distinct[later] >= min_lines and n / n_distinct[later] >= min_share
    ]
    found.sort(key=lambda f: int(rank[f[0]]))
    return [
        Reapplied(repo=recs[later][0], commit_id=recs[later][1], source_id=recs[earlier][1],
                  share=round(n / int(n_distinct[later]), 4), lines=int(n_distinct[later]))
        for later, n, earlier in found
    ]  # fmt: skip


LATEST = 2**62
"""Commit time given to a change that is not committed (a patch, the working tree): after all."""


def reapplied_in(
    history: Iterable[CommitRecord], targets: Sequence[CommitRecord], repo: str
) -> list[Reapplied | None]:
    """For each of ``targets``: the earlier change it re-applies (the module docstring's rule,
    judged among ``history`` and the targets, all taken as of repository ``repo``), or None.

    A target the history holds (same commit id) is judged in its place; one it does not (a
    commit not mined, a patch, the working tree: ``committed_at`` 0) after it at its own commit
    time, or after all of it when it has none.
    """
    if all(len(added_lines(t)) < MIN_LINES for t in targets):
        return [None] * len(targets)  # too few lines to judge: the history is not read
    wanted = {t.commit_id for t in targets}
    combined = [replace(r, repo=repo) for r in history if r.commit_id not in wanted]
    combined += [replace(t, repo=repo, committed_at=t.committed_at or LATEST) for t in targets]
    found = {f.commit_id: f for f in find_reapplied(combined)}
    return [found.get(t.commit_id) for t in targets]


def _later_earlier_pairs(line: np.ndarray, owner: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """``(later change, earlier change)`` for every pair of changes inserting the same line
    (``line``: the line's index; ``owner``: the change inserting it; one row per pair and
    line)."""
    if not len(line):
        return np.zeros((0, 2), np.int64)
    by_line = np.lexsort((rank[owner], line))  # grouped by line, each group in time order
    line, owner = line[by_line], owner[by_line]
    starts = np.flatnonzero(np.r_[True, line[1:] != line[:-1]])
    sizes = np.diff(np.r_[starts, len(line)])
    out: list[np.ndarray] = []
    for size in np.unique(sizes):
        if size < 2:
            continue
        first = starts[sizes == size]
        group = owner[first[:, None] + np.arange(size)[None, :]]  # (groups, size), time order
        i, j = np.triu_indices(int(size), k=1)  # j after i
        out.append(np.stack([group[:, j].ravel(), group[:, i].ravel()], axis=1))
    return np.concatenate(out) if out else np.zeros((0, 2), np.int64)
