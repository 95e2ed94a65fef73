"""Stage selection: ``--stages a,b`` (wins, canonical order) or ``--from X --to Y`` (inclusive)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from standard_coder.runner.errors import StageNotFound


def _check(name: str, valid: Sequence[str], flag: str, left_out: Mapping[str, str]) -> None:
    if name in valid:
        return
    if name in left_out:
        raise StageNotFound(f"{flag} {name!r}: left out of this run's pipeline: {left_out[name]}")
    from standard_coder.runner.suggest import did_you_mean

    raise StageNotFound(
        f"{flag} {name!r}: no such stage{did_you_mean(name, [*valid, *left_out])} "
        f"(valid stages: {', '.join(valid)})"
    )


def select(
    canonical: Sequence[str],
    *,
    stages: Sequence[str] | None = None,
    from_stage: str | None = None,
    to_stage: str | None = None,
    left_out: Mapping[str, str] | None = None,
) -> list[str]:
    """The selected stage names in canonical order.

    Raises:
        StageNotFound: a name is unknown (the message lists the valid ones, or says why the
            configuration leaves that stage out: ``left_out``), or ``--from`` comes after
            ``--to``.
    """
    names, out = list(canonical), left_out or {}
    if stages:
        for name in stages:
            _check(name, names, "--stages", out)
        wanted = set(stages)
        return [n for n in names if n in wanted]
    start, end = 0, len(names) - 1
    if from_stage is not None:
        _check(from_stage, names, "--from", out)
        start = names.index(from_stage)
    if to_stage is not None:
        _check(to_stage, names, "--to", out)
        end = names.index(to_stage)
    if start > end:
        raise StageNotFound(f"--from {from_stage!r} comes after --to {to_stage!r}")
    return names[start : end + 1]
