"""Remaining effort per ticket as Monte Carlo samples, in SCH hours.

* Done tickets: 0.
* Tickets with a diff or commit ids: samples from the trained effort model (``model_effort``),
  resampled with replacement to ``n_sims`` draws (one index for every ticket: draw ``k`` of
  one stays beside draw ``k`` of another, as the model paired them), times the ticket's
  remaining share (``remaining_fraction``, by default 0.5 for ``in_progress`` and 0.2 for
  ``in_review``).
* Otherwise story points × SCH hours per point with lognormal spread: the lognormal has that
  mean and coefficient of variation ``story_points_cv`` (0 = fixed effort). The hours per point
  are learned from past sprints that give ``committed_story_points`` next to ``committed_sch``
  (:func:`story_point_ratio`), else the configured ``story_points_to_sch``, so every forecast is
  in one unit: SCH hours.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from standard_coder.forecasting.inputs import HistoricalSprint, Ticket


@dataclass(frozen=True)
class StoryPointRatio:
    """SCH hours per story point and where the number comes from."""

    sch_per_point: float
    source: str
    """``"learned"`` (from past sprints) or ``"configured"`` (``story_points_to_sch``)."""
    n_sprints: int = 0
    """past sprints the ratio was learned from"""
    spread: float = 0.0
    """Standard deviation of the log of each past sprint's own ratio (from
    :data:`MIN_SPREAD_SPRINTS` or more): how much the hours per point move from sprint to
    sprint. The forecast draws one factor of it per simulation for all story-point tickets."""

    def as_dict(self, unit: str = "sch_hours") -> dict[str, object]:
        return {
            "unit": unit,
            "story_points_to_sch": round(self.sch_per_point, 4),
            "story_points_ratio_source": self.source,
            "story_points_ratio_sprints": self.n_sprints,
            "story_points_ratio_spread": round(self.spread, 4),
        }


MIN_SPREAD_SPRINTS = 3
"""Past sprints with points needed before their ratios' spread is drawn (two give one
difference, no spread worth drawing)."""


UNITS = ("sch_hours", "story_points")


def state_in_story_points(report: dict[str, Any], ratio: StoryPointRatio) -> None:
    """Add the forecast's effort figures in story points (the reverse conversion): SCH hours
    over ``ratio.sch_per_point``. The SCH keys stay; each gets a ``*_story_points`` twin
    (``remaining_story_points``, per ticket ``mean_remaining_story_points``, per case
    ``expected_completed_story_points``) and ``effort_unit.unit`` says which one is the answer.
    """
    per = ratio.sch_per_point

    def pts(x: Any) -> float | None:
        return None if x is None else round(float(x) / per, 3)

    report["remaining_story_points"] = {k: pts(v) for k, v in report["remaining_sch"].items()}
    for row in (report, *report.get("scenarios", [])):
        if "expected_completed_sch" in row:
            row["expected_completed_story_points"] = pts(row["expected_completed_sch"])
    for t in report["tickets"]:
        t["mean_remaining_story_points"] = pts(t["mean_remaining_sch"])


def story_point_ratio(sprints: Sequence[HistoricalSprint], configured: float) -> StoryPointRatio:
    """SCH hours per story point learned from past sprints: total ``committed_sch`` over total
    ``committed_story_points`` of the sprints that give both (points > 0); ``configured`` when
    none does."""
    used = [s for s in sprints if s.committed_story_points and s.committed_story_points > 0]
    points = sum(float(s.committed_story_points or 0.0) for s in used)
    hours = sum(s.committed_sch for s in used)
    if not used or points <= 0 or hours <= 0:
        return StoryPointRatio(float(configured), "configured")
    own = [math.log(s.committed_sch / float(s.committed_story_points or 1.0)) for s in used
           if s.committed_sch > 0]  # fmt: skip
    spread = float(np.std(own, ddof=1)) if len(own) >= MIN_SPREAD_SPRINTS else 0.0
    return StoryPointRatio(hours / points, "learned", len(used), spread)


_BLOCK_VALUES = 32_768
"""Effort draws per block (256 KiB of float64: an L2-sized working set)."""

ModelEffort = Callable[[list[Ticket]], dict[str, NDArray[np.floating]]]
"""Maps tickets that carry a diff or commit ids to per-ticket SCH samples (1-D arrays)."""


@dataclass
class PricingNotes:
    """What a :class:`ModelPricing` found while it priced a forecast's tickets (refilled on
    each call): the tickets with priced changes and those changes (what its pairing at
    ``correlation`` joins; none are paired at 0), and what it should tell the user."""

    paired_tickets: int = 0
    paired_changes: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ModelPricing:
    """A ``model_effort`` that says how it prices. ``price`` pairs its tickets' draws itself,
    draw by draw at ``correlation`` (the model's errors on changes made close together are
    alike); the forecast keeps that pairing through its resampling (one index for every
    ticket, so all arrays must have one length) and states the correlation in
    ``effort_unit`` when ``found`` says two or more tickets were paired. ``caveats`` are what
    its model should not be trusted for, and ``found.notes`` what pricing found (a diff far
    larger than a commit): each becomes a forecast warning."""

    price: ModelEffort
    correlation: float = 0.0
    caveats: tuple[str, ...] = ()
    found: PricingNotes = field(default_factory=PricingNotes)

    def __call__(self, tickets: list[Ticket]) -> dict[str, NDArray[np.floating]]:
        return self.price(tickets)


class ModelRequiredError(RuntimeError):
    """Tickets need the trained effort model and none was given (message names the tickets)."""

    exit_code = 2

    def __init__(self, ticket_ids: Sequence[str]) -> None:
        self.ticket_ids = list(ticket_ids)
        super().__init__(
            f"a trained effort model is needed for tickets {', '.join(self.ticket_ids)} "
            "(they carry a diff or commit ids); run train_sch, or set "
            "[forecasting] story_points_fallback = true and give them story_points"
        )


class ModelEffortError(ValueError):
    """``model_effort`` returned something other than finite non-negative samples per ticket."""


def lognormal_params(mean: float, cv: float) -> tuple[float, float]:
    """``(mu, sigma)`` of a lognormal with the given mean and coefficient of variation."""
    sigma2 = math.log1p(cv * cv)
    return math.log(mean) - sigma2 / 2, math.sqrt(sigma2)


def story_point_samples(
    points: float, *, sch_per_point: float, cv: float, n: int, rng: np.random.Generator
) -> NDArray[np.float64]:
    """``n`` lognormal draws with mean ``points * sch_per_point`` and CV ``cv``."""
    mean = points * sch_per_point
    if mean <= 0 or cv == 0:
        return np.full(n, mean, dtype=np.float64)
    mu, sigma = lognormal_params(mean, cv)
    return rng.lognormal(mu, sigma, size=n)


def effort_samples(
    tickets: Sequence[Ticket],
    *,
    n_sims: int,
    rng: np.random.Generator,
    story_points_to_sch: float,
    story_points_cv: float,
    model_effort: ModelEffort | None = None,
    story_points_fallback: bool = False,
    story_points_spread: float = 0.0,
) -> NDArray[np.float64]:
    """Remaining-effort matrix ``(n_sims, len(tickets))`` in SCH hours, columns in ticket order.
    ``story_points_spread`` (:attr:`StoryPointRatio.spread`): every story-point ticket of a
    simulation is scaled by one lognormal factor of mean 1 and that log standard deviation (the
    sprint's own hours per point), on top of each ticket's own ``story_points_cv``.

    Raises:
        ModelRequiredError: a ticket needs the model, ``model_effort`` is None and (with the
            fallback) the ticket has no story points.
        ModelEffortError: ``model_effort`` left a ticket out or returned bad samples.
    """
    need = [t for t in tickets if t.needs_model]
    model_samples: Mapping[str, NDArray[np.floating]] = {}
    if need and model_effort is None:
        missing = [t.id for t in need if not (story_points_fallback and t.story_points is not None)]
        if missing:
            raise ModelRequiredError(missing)
        need = []
    elif need and model_effort is not None:
        model_samples = model_effort(list(need))
    need_ids = {t.id for t in need}

    out = np.zeros((n_sims, len(tickets)), dtype=np.float64)
    sp_cols = [j for j, t in enumerate(tickets) if t.status != "done" and t.id not in need_ids]
    if sp_cols:
        # One vectorised draw for every story-point ticket: lognormal with the given mean and CV,
        # ``mean * exp(sigma * z - sigma**2 / 2)``, drawn and transformed in blocks of rows that
        # stay in cache (the generator fills the same normals in the same order either way).
        means = np.array([tickets[j].story_points or 0.0 for j in sp_cols]) * story_points_to_sch
        if story_points_cv > 0:
            sigma = math.sqrt(math.log1p(story_points_cv**2))
            first, last = sp_cols[0], sp_cols[-1]
            block = last - first + 1 == len(sp_cols)  # one run of columns: write in place
            rows = max(1, _BLOCK_VALUES // len(sp_cols))
            z = np.empty((min(rows, n_sims), len(sp_cols)), dtype=np.float64)
            for start in range(0, n_sims, rows):
                stop = min(start + rows, n_sims)
                zb = z[: stop - start]
                rng.standard_normal(out=zb)
                zb *= sigma
                zb -= sigma * sigma / 2
                np.exp(zb, out=zb)
                if block:
                    np.multiply(zb, means, out=out[start:stop, first : last + 1])
                else:
                    out[start:stop, sp_cols] = zb * means
        else:
            out[:, sp_cols] = means
        if story_points_spread > 0:  # the sprint's hours per point: one draw for its tickets
            z = rng.standard_normal(n_sims)
            out[:, sp_cols] *= np.exp(story_points_spread * z - story_points_spread**2 / 2)[:, None]
    # one resampling index per draw count: draw k of one ticket stays beside draw k of the
    # others (the model pairs a sprint's tickets: pipelines.sch_effort.pair_tickets)
    index: dict[int, NDArray[np.int64]] = {}
    for j, t in enumerate(tickets):
        if t.id in need_ids and t.status != "done":
            arr = _checked(t.id, model_samples.get(t.id))
            if index and arr.size not in index and getattr(model_effort, "correlation", 0) > 0:
                raise ModelEffortError(
                    f"model_effort samples for ticket {t.id!r}: {arr.size} draws where another "
                    f"ticket has {next(iter(index))}; paired draws need one length"
                )
            if arr.size not in index:
                index[arr.size] = rng.integers(0, arr.size, size=n_sims)
            out[:, j] = arr[index[arr.size]]
    fraction = np.array([t.remaining for t in tickets])
    if np.any(fraction != 1.0):
        out *= fraction
    return out


def _checked(ticket_id: str, samples: NDArray[np.floating] | None) -> NDArray[np.float64]:
    if samples is None:
        raise ModelEffortError(f"model_effort returned no samples for ticket {ticket_id!r}")
    arr = np.asarray(samples, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ModelEffortError(
            f"model_effort samples for ticket {ticket_id!r}: expected a non-empty 1-D array of "
            "finite hours >= 0"
        )
    return arr
