"""Effort samples per ticket: story points, model samples, done tickets, the model requirement."""

from __future__ import annotations

import numpy as np
import pytest

from standard_coder.forecasting.effort import (
    ModelEffortError,
    ModelRequiredError,
    effort_samples,
    story_point_samples,
)
from standard_coder.forecasting.inputs import Ticket

DIFF = "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a = 1\n+a = 2\n"


def _tickets() -> list[Ticket]:
    return [
        Ticket(id="sp", status="todo", story_points=5),
        Ticket(id="diff", status="todo", diff=DIFF),
        Ticket(id="commits", status="in_review", commit_ids=["abc123"], story_points=3),
        Ticket(id="done", status="done", diff=DIFF),
        Ticket(id="half", status="in_progress", story_points=4, remaining_fraction=0.5),
    ]


def test_story_points_lognormal_has_requested_mean_and_cv() -> None:
    x = story_point_samples(5, sch_per_point=2.0, cv=0.5, n=200_000, rng=np.random.default_rng(1))
    assert x.mean() == pytest.approx(10.0, rel=0.01)
    assert (x.std() / x.mean()) == pytest.approx(0.5, rel=0.02)
    fixed = story_point_samples(5, sch_per_point=2.0, cv=0.0, n=10, rng=np.random.default_rng(1))
    assert np.all(fixed == 10.0)


def test_model_required_names_the_tickets() -> None:
    with pytest.raises(ModelRequiredError) as info:
        effort_samples(
            _tickets(), n_sims=10, rng=np.random.default_rng(0),
            story_points_to_sch=2.0, story_points_cv=0.5,
        )  # fmt: skip
    assert info.value.ticket_ids == ["diff", "commits"]  # the done ticket needs nothing
    assert "a trained effort model is needed for tickets diff, commits" in str(info.value)
    assert "run train_sch" in str(info.value)


def test_fallback_uses_story_points_where_present() -> None:
    with pytest.raises(ModelRequiredError) as info:
        effort_samples(
            _tickets(), n_sims=10, rng=np.random.default_rng(0), story_points_to_sch=2.0,
            story_points_cv=0.0, story_points_fallback=True,
        )  # fmt: skip
    assert info.value.ticket_ids == ["diff"]  # "commits" has story points
    tickets = [t for t in _tickets() if t.id != "diff"]
    out = effort_samples(
        tickets, n_sims=4, rng=np.random.default_rng(0), story_points_to_sch=2.0,
        story_points_cv=0.0, story_points_fallback=True,
    )  # fmt: skip
    # "commits" is in_review without a remaining_fraction: the documented default, 20 % left
    assert out[0].tolist() == pytest.approx([10.0, 6.0 * 0.2, 0.0, 4.0])


def test_in_progress_and_in_review_count_their_default_remaining_share() -> None:
    from standard_coder.forecasting.inputs import DEFAULT_REMAINING_FRACTION

    tickets = [
        Ticket(id="a", status="todo", story_points=5),
        Ticket(id="b", status="in_progress", story_points=5),
        Ticket(id="c", status="in_review", story_points=5),
        Ticket(id="d", status="in_review", story_points=5, remaining_fraction=0.6),
    ]
    out = effort_samples(
        tickets, n_sims=3, rng=np.random.default_rng(0), story_points_to_sch=2.0,
        story_points_cv=0.0,
    )  # fmt: skip
    assert DEFAULT_REMAINING_FRACTION["in_progress"] == 0.5
    assert DEFAULT_REMAINING_FRACTION["in_review"] == 0.2
    assert out[0].tolist() == pytest.approx([10.0, 5.0, 2.0, 6.0])  # explicit share wins


def test_model_samples_are_resampled_and_done_is_zero() -> None:
    seen: list[list[str]] = []

    def model(tickets: list[Ticket]) -> dict[str, np.ndarray]:
        seen.append([t.id for t in tickets])
        return {t.id: np.array([1.0, 2.0, 3.0]) * (10 if t.id == "commits" else 1) for t in tickets}

    out = effort_samples(
        _tickets(), n_sims=5_000, rng=np.random.default_rng(0), story_points_to_sch=2.0,
        story_points_cv=0.5, model_effort=model,
    )  # fmt: skip
    assert seen == [["diff", "commits"]]  # only tickets that need it, done ones excluded
    assert set(np.unique(out[:, 1])) == {1.0, 2.0, 3.0}
    # "commits" is in_review: its model hours count 20 % (the default remaining share)
    assert np.unique(out[:, 2]).tolist() == pytest.approx([2.0, 4.0, 6.0])
    assert np.all(out[:, 3] == 0.0)
    assert out[:, 4].mean() == pytest.approx(4.0, rel=0.05)  # 4 points x 2 x 0.5 remaining


@pytest.mark.parametrize(
    "bad", [{}, {"diff": np.array([])}, {"diff": np.array([1.0, -1.0])}, {"diff": np.ones((2, 2))}]
)
def test_bad_model_samples_are_named(bad: dict[str, np.ndarray]) -> None:
    tickets = [Ticket(id="diff", status="todo", diff=DIFF)]
    with pytest.raises(ModelEffortError, match="'diff'"):
        effort_samples(
            tickets, n_sims=3, rng=np.random.default_rng(0), story_points_to_sch=2.0,
            story_points_cv=0.5, model_effort=lambda ts: bad,
        )  # fmt: skip


def test_model_tickets_keep_their_draws_paired_through_the_resampling() -> None:
    """The model pairs a sprint's tickets draw by draw (``sch_effort.pair_tickets``): one
    resampling index for every ticket keeps draw k of one beside draw k of another."""
    base = np.random.default_rng(4).gamma(2.0, 0.2, 4000)
    tickets = [Ticket(id="a", status="todo", diff=DIFF), Ticket(id="b", status="todo", diff=DIFF),
               Ticket(id="c", status="todo", story_points=2)]  # fmt: skip
    out = effort_samples(tickets, n_sims=3000, rng=np.random.default_rng(0),
                         story_points_to_sch=1.0, story_points_cv=0.3,
                         model_effort=lambda ts: {"a": base, "b": 2.0 * base})  # fmt: skip
    np.testing.assert_allclose(out[:, 1], 2.0 * out[:, 0])  # perfectly paired stays paired
    assert np.isin(out[:, 0], base).all()


def test_story_point_tickets_share_the_sprint_s_hours_per_point() -> None:
    """An engineering lead split a 30-point ticket into thirty 1-point tickets and the sprint's
    range shrank from ±45 % to ±10 %: each ticket drew its own lognormal. The hours per point
    learned from past sprints move from sprint to sprint (their spread is measured), and one
    draw of it per simulation now scales every story-point ticket alike."""
    from datetime import date

    from standard_coder.forecasting.effort import story_point_ratio
    from standard_coder.forecasting.inputs import HistoricalSprint

    def past(i: int, sch: float, points: float) -> HistoricalSprint:
        start = date(2026, 1, 5 + 7 * i)
        return HistoricalSprint(sprint_id=f"H-{i}", start_date=start, end_date=start,
                                committed_sch=sch, done_sch=sch, workdays=10, completed=True,
                                completed_on_day=10, committed_story_points=points)  # fmt: skip

    ratio = story_point_ratio([past(i, h, 10) for i, h in enumerate((8.0, 12.0, 10.0, 14.0))],
                              2.0)  # fmt: skip
    assert ratio.source == "learned" and ratio.sch_per_point == pytest.approx(1.1)
    assert ratio.spread == pytest.approx(np.std(np.log([0.8, 1.2, 1.0, 1.4]), ddof=1))
    assert story_point_ratio([past(0, 8, 10), past(1, 12, 10)], 2.0).spread == 0.0  # too few
    assert ratio.as_dict()["story_points_ratio_spread"] == round(ratio.spread, 4)

    def width(tickets: list[Ticket], spread: float) -> float:
        out = effort_samples(tickets, n_sims=20_000, rng=np.random.default_rng(0),
                             story_points_to_sch=1.0, story_points_cv=0.5,
                             story_points_spread=spread).sum(axis=1)  # fmt: skip
        assert out.mean() == pytest.approx(30.0, rel=0.02)  # the factor has mean 1
        lo, hi = np.quantile(out, [0.15, 0.85])
        return float((hi - lo) / out.mean())

    split = [Ticket(id=f"t{i}", status="todo", story_points=1) for i in range(30)]
    whole = [Ticket(id="t", status="todo", story_points=30)]
    assert width(split, 0.0) < 0.3 * width(whole, 0.0)  # independent: the split looks sure
    assert width(split, 0.3) > 2.0 * width(split, 0.0)  # the shared part stays when split
    assert width(whole, 0.3) > width(whole, 0.0)
