"""Squash merges timed by their pull request: events in the author's timeline, one folded label
(``work_inference.pulls``), on label sets whose rows interleave authors as a pooled item's do."""

from __future__ import annotations

import numpy as np

from standard_coder.sch.work_inference.base import FIRST, LONG_GAP, NORMAL
from standard_coder.sch.work_inference.labels import LabelSet
from standard_coder.sch.work_inference.pulls import (
    fold_pull_events,
    is_event,
    is_pull_event,
    with_merge_events,
    with_pull_events,
)


def test_a_squash_moves_to_its_last_pull_request_commit_and_the_rest_become_events() -> None:
    times = {
        "bob": (np.array([100, 900]), np.array([0, 0]), [("r", "own"), ("r", "sq")]),
        "eve": (np.array([50]), np.array([60]), [("r", "other")]),
    }
    out = with_pull_events(times, {("r", "sq"): [(300, 120), (500, 0), (700, -60)]})
    t, tz, keys = out["bob"]
    assert keys == [("r", "own"), ("r", "sq"), ("r", "sq~pr0"), ("r", "sq~pr1")]
    assert t.tolist() == [100, 700, 300, 500] and tz.tolist() == [0, -60, 120, 0]
    assert out["eve"] is times["eve"]  # untouched authors are passed through
    assert [is_pull_event(k) for k in keys] == [False, False, True, True]


def _labels(rows: list[tuple[str, str, float, int]]) -> LabelSet:
    """Rows (author, commit id, expected minutes, kind); samples = expected / 60 everywhere."""
    exp = np.array([r[2] for r in rows])
    return LabelSet(
        kind="gap",
        keys=tuple(("r", r[1]) for r in rows),
        authors=tuple(r[0] for r in rows),
        samples_hours=np.repeat((exp / 60.0)[:, None], 3, axis=1).astype(np.float32),
        expected_minutes=exp,
        interval_minutes=exp * 2,
        interval_kind=np.array([r[3] for r in rows], np.int8),
        pooled=np.array([r[0] == "eve" for r in rows]),
        last_session_minutes=exp / 2,
    )


def test_folding_sums_a_squashs_events_into_it_and_takes_its_first_events_kind() -> None:
    labels = _labels([
        ("bob", "own", 10.0, FIRST),
        ("bob", "sq~pr0", 20.0, NORMAL),
        ("bob", "sq~pr1", 30.0, NORMAL),
        ("bob", "sq", 40.0, NORMAL),
        ("eve", "sq2~pr0", 5.0, LONG_GAP),
        ("eve", "sq2", 7.0, NORMAL),
        ("eve", "plain", 3.0, NORMAL),
    ])  # fmt: skip
    folded = fold_pull_events(labels)
    assert [k[1] for k in folded.keys] == ["own", "sq", "sq2", "plain"]
    assert folded.authors == ("bob", "bob", "eve", "eve")
    assert folded.expected_minutes.tolist() == [10.0, 90.0, 12.0, 3.0]
    assert folded.interval_minutes.tolist() == [20.0, 180.0, 24.0, 6.0]
    assert np.allclose(folded.samples_hours[:, 0], np.array([10.0, 90.0, 12.0, 3.0]) / 60)
    assert folded.interval_kind.tolist() == [FIRST, NORMAL, LONG_GAP, NORMAL]
    assert folded.pooled.tolist() == [False, False, True, True]
    # the session a squash closes is its own (last pull request commit's), not the sum
    assert folded.last_session_minutes is not None
    assert folded.last_session_minutes.tolist() == [5.0, 20.0, 3.5, 1.5]
    # nothing to fold: the same object back
    plain = _labels([("bob", "a", 1.0, NORMAL)])
    assert fold_pull_events(plain) is plain


def test_a_pull_request_commit_in_the_squashs_second_takes_the_squash_rows_kind() -> None:
    """Same second: the squash row ("<sha>") sorts before its event ("<sha>~pr0") and carries
    the interval from the author's previous commit; the event's interval is 0."""
    labels = _labels([("bob", "sq", 30.0, LONG_GAP), ("bob", "sq~pr0", 0.0, NORMAL)])
    folded = fold_pull_events(labels)
    assert folded.interval_kind.tolist() == [LONG_GAP]
    assert folded.expected_minutes.tolist() == [30.0]


def test_merges_join_their_authors_timeline_as_events_and_fold_away() -> None:
    times = {
        "bob": (np.array([100, 900]), np.array([0, 0]), [("r", "a"), ("r", "b")]),
        "eve": (np.array([50]), np.array([60]), [("r", "c")]),
    }
    merges = {
        "bob": [(400, 120, ("r", "m1")), (900, 0, ("r", "m2"))],  # m2: in b's second
        "zed": [(10, 0, ("r", "m3"))],  # merges only: no timeline
    }
    out = with_merge_events(times, merges)
    t, tz, keys = out["bob"]
    assert keys == [("r", "a"), ("r", "b"), ("r", "m1~merge")]
    assert t.tolist() == [100, 900, 400] and tz.tolist() == [0, 0, 120]
    assert out["eve"] is times["eve"] and "zed" not in out
    assert [is_event(k) for k in keys] == [False, False, True]
    assert not is_pull_event(keys[2]) and is_event(("r", "sq~pr0"))
    labels = _labels([
        ("bob", "a", 10.0, FIRST),
        ("bob", "m1~merge", 20.0, NORMAL),
        ("bob", "sq~pr0", 5.0, NORMAL),
        ("bob", "sq", 30.0, NORMAL),
    ])  # fmt: skip
    folded = fold_pull_events(labels)
    # the merge's interval is nobody's change; the squash still gathers its own events
    assert [k[1] for k in folded.keys] == ["a", "sq"]
    assert folded.expected_minutes.tolist() == [10.0, 35.0]
    only_merges = _labels([("bob", "m1~merge", 20.0, NORMAL), ("bob", "b", 3.0, NORMAL)])
    assert [k[1] for k in fold_pull_events(only_merges).keys] == ["b"]
