"""What-if scenarios applied on top of the sprint inputs.

A scenario changes the team (extra days off, members joining or leaving for the whole sprint)
and the scope (``scope_growth_percent`` scales every open ticket's remaining effort). Scenarios
reuse the baseline's effort and throughput draws (common random numbers), so the difference
between a scenario and the baseline is the scenario's effect, not Monte Carlo noise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from standard_coder.forecasting.inputs import Member


class ScenarioError(ValueError):
    """A scenario names a member that is not in the sprint (or joins one who already is)."""

    exit_code = 2


@dataclass(frozen=True)
class ScenarioSpec:
    """One what-if."""

    name: str
    days_off: Mapping[str, tuple[date, ...]] = field(default_factory=dict)
    """member -> extra days off"""
    scope_growth_percent: float = 0.0
    """extra remaining effort, percent (negative = scope cut)"""
    member_joins: Mapping[str, float] = field(default_factory=dict)
    """new member -> daily capacity hours (present from the first day)"""
    member_leaves: tuple[str, ...] = ()
    """members absent for the whole sprint"""

    @property
    def scope_factor(self) -> float:
        """Multiplier on open tickets' remaining effort."""
        return max(0.0, 1.0 + self.scope_growth_percent / 100.0)


def apply_scenario(members: Sequence[Member], scenario: ScenarioSpec) -> list[Member]:
    """The team under ``scenario``.

    Raises:
        ScenarioError: a member to leave or to take days off is unknown, or a joiner already
            exists.
    """
    names = {m.name for m in members}
    where = f"scenario {scenario.name!r}"
    for who in list(scenario.member_leaves) + list(scenario.days_off):
        if who not in names and who not in scenario.member_joins:
            raise ScenarioError(
                f"{where}: unknown member {who!r}; expected one of {', '.join(sorted(names))}"
            )
    for who, hours in scenario.member_joins.items():
        if who in names:
            raise ScenarioError(f"{where}: member_joins names {who!r}, who is already a member")
        if not 0 <= hours <= 24:
            raise ScenarioError(f"{where}: member_joins.{who}: expected 0..24 hours (got {hours})")
    leaving = set(scenario.member_leaves)
    team = [m for m in members if m.name not in leaving]
    team += [Member(name=n, daily_capacity_hours=h) for n, h in scenario.member_joins.items()]
    out = []
    for m in team:
        extra = scenario.days_off.get(m.name, ())
        out.append(m.model_copy(update={"days_off": [*m.days_off, *extra]}) if extra else m)
    return out
