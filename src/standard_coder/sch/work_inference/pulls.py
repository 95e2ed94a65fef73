"""GitHub squash merges timed by their pull request's commits.

A squash merge's own time is a merge time (``mining.store.merge_stamped_commits``). When the
mine found its pull request's commits (``mining.pulls``), their author dates are the work's
real timeline: :func:`with_pull_events` puts them in the squash author's timeline instead of
the merge time (the squash commit itself moves to its last pull request commit; the earlier
ones become events of their own), so work inference sees when the author actually committed.
:func:`fold_pull_events` then gives the squash commit the coding inferred over all of its
pull request's intervals, with the interval kind of the first one, and drops the event rows:
downstream only ever sees real commits.

Merge commits (``mining.merges``) are their author's presence: :func:`with_merge_events` adds
them to the author's timeline as events of their own, so the interval of the author's next
commit starts at the merge; :func:`fold_pull_events` drops their rows (a merge is not a change).
Commits that touch no enabled language (documentation, CI, configuration) are added the same way,
keyed with :data:`OTHER_EVENT`: their work is their author's, not the next mined commit's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from standard_coder.sch.work_inference.labels import LabelSet

__all__ = [
    "MERGE_EVENT",
    "OTHER_EVENT",
    "PULL_EVENT",
    "fold_pull_events",
    "is_event",
    "is_pull_event",
    "with_merge_events",
    "with_pull_events",
]

PULL_EVENT = "~pr"
"""Infix of an event key: ``(repo, "<squash id>~pr<i>")`` (never a git id: those are hex)."""
MERGE_EVENT = "~merge"
"""Suffix of a merge's event key: ``(repo, "<merge id>~merge")``."""
OTHER_EVENT = "~other"
"""Suffix of the event key of a commit touching no enabled language: ``(repo, "<id>~other")``."""

Key = tuple[str, str]
Times = tuple[np.ndarray, np.ndarray, list[Key]]


def is_pull_event(key: Sequence[str]) -> bool:
    return PULL_EVENT in str(key[1])


def is_event(key: Sequence[str]) -> bool:
    """A timeline row that is not a mined commit: a pull request commit, a merge or a commit
    touching no enabled language."""
    return "~" in str(key[1])


def with_pull_events(
    times: Mapping[str, Times], pull_times: Mapping[Key, Sequence[tuple[int, int]]]
) -> dict[str, Times]:
    """Each author's ``(times, tz offsets, keys)`` with every squash merge in ``pull_times``
    moved to its last pull request commit and the earlier ones added as events."""
    out: dict[str, Times] = {}
    for author, value in times.items():
        t, tz, keys = value
        if not any(k in pull_times for k in keys):
            out[author] = value
            continue
        t_new, tz_new, keys_new = [int(x) for x in t], [int(x) for x in tz], list(keys)
        for i, k in enumerate(keys):
            events = pull_times.get(k)
            if not events:
                continue
            t_new[i], tz_new[i] = events[-1]
            for j, (at, off) in enumerate(events[:-1]):
                t_new.append(at)
                tz_new.append(off)
                keys_new.append((k[0], f"{k[1]}{PULL_EVENT}{j}"))
        out[author] = (np.array(t_new, np.int64), np.array(tz_new, np.int64), keys_new)
    return out


def with_merge_events(
    times: Mapping[str, Times],
    merges: Mapping[str, Sequence[tuple[int, int, Key]]],
    suffix: str = MERGE_EVENT,
) -> dict[str, Times]:
    """Each author's ``(times, tz offsets, keys)`` with their merges (``mining.merges``:
    ``(authored_at, tz offset, (repo, merge id))``) added as events keyed ``<id><suffix>``
    (:data:`OTHER_EVENT` for commits touching no enabled language). An event in the same second
    as one of the author's commits or earlier events adds nothing and is left out (it could sort
    before the commit and take its interval); authors with no mined commit get none: an event
    alone labels nothing."""
    out: dict[str, Times] = {}
    for author, value in times.items():
        t, tz, keys = value
        seconds = {int(x) for x in t}
        extra = [m for m in merges.get(author, ()) if int(m[0]) not in seconds]
        if not extra:
            out[author] = value
            continue
        out[author] = (
            np.concatenate([np.asarray(t, np.int64), np.array([m[0] for m in extra], np.int64)]),
            np.concatenate([np.asarray(tz, np.int64), np.array([m[1] for m in extra], np.int64)]),
            [*keys, *((k[0], f"{k[1]}{suffix}") for _, _, k in extra)],
        )
    return out


def fold_pull_events(labels: LabelSet) -> LabelSet:
    """A ``LabelSet`` without event rows: each squash merge's row carries the sum of its own
    and its events' samples, expected, last-session and interval minutes, and the interval kind
    of its earliest event (rows of one author are in time order); merge rows are dropped."""
    rows_of: dict[Key, list[int]] = {}
    index: dict[Key, int] = {}
    for i, key in enumerate(labels.keys):
        if is_pull_event(key):
            squash = (key[0], str(key[1]).split(PULL_EVENT, 1)[0])
            rows_of.setdefault(squash, []).append(i)
        else:
            index[key] = i
    if not rows_of and not any(is_event(k) for k in labels.keys):
        return labels
    samples = np.array(labels.samples_hours, copy=True)
    expected = np.array(labels.expected_minutes, float, copy=True)
    interval = np.array(labels.interval_minutes, float, copy=True)
    kinds = np.array(labels.interval_kind, copy=True)
    last = labels.last_session_minutes
    last = None if last is None else np.array(last, float, copy=True)
    for squash, events in rows_of.items():
        target = index.get(squash)
        if target is None:
            continue
        rows = [*events, target]
        samples[target] = samples[rows].sum(axis=0)
        expected[target] = expected[rows].sum()
        interval[target] = interval[rows].sum()  # NaN when the first is the author's first
        # the earliest row's kind (the squash row itself when a pull request commit shares its
        # second and sorts after it); last-session minutes stay the squash row's own
        kinds[target] = kinds[min(rows)]
    keep = np.array([not is_event(k) for k in labels.keys], bool)
    return replace(
        labels,
        keys=tuple(k for k, ok in zip(labels.keys, keep, strict=True) if ok),
        authors=tuple(a for a, ok in zip(labels.authors, keep, strict=True) if ok),
        samples_hours=samples[keep],
        expected_minutes=expected[keep],
        interval_minutes=interval[keep],
        interval_kind=kinds[keep],
        pooled=np.asarray(labels.pooled)[keep],
        last_session_minutes=None if last is None else last[keep],
    )
