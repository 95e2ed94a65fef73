"""Stage selection: ``--stages a,b`` (wins, canonical order) or ``--from X --to Y`` (inclusive)."""

from __future__ import annotations

from collections.abc import Sequence

from standard_coder.runner.errors import StageNotFound


def _check(name: str, valid: Sequence[str], flag: str) -> None:
    if name not in valid:
        raise StageNotFound(f"{flag} {name!r}: no such stage (valid stages: {', '.join(valid)})")


def select(
    canonical: Sequence[str],
    *,
    stages: Sequence[str] | None = None,
    from_stage: str | None = None,
    to_stage: str | None = None,
) -> list[str]:
    """The selected stage names in canonical order.

    Raises:
        StageNotFound: a name is unknown (the message lists the valid ones), or ``--from``
            comes after ``--to``.
    """
    names = list(canonical)
    if stages:
        for name in stages:
            _check(name, names, "--stages")
        wanted = set(stages)
        return [n for n in names if n in wanted]
    start, end = 0, len(names) - 1
    if from_stage is not None:
        _check(from_stage, names, "--from")
        start = names.index(from_stage)
    if to_stage is not None:
        _check(to_stage, names, "--to")
        end = names.index(to_stage)
    if start > end:
        raise StageNotFound(f"--from {from_stage!r} comes after --to {to_stage!r}")
    return names[start : end + 1]
