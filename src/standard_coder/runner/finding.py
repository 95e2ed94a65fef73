"""What the runner found out about a stopped stage's work: yes, no, or that it cannot tell,
and why (:func:`~standard_coder.runner.partial.kept_work`, ``written_since``,
:func:`~standard_coder.runner.dbrows.holds_rows`).

    >>> kept = cannot_tell("out/tree/a: Permission denied")
    >>> kept.unknown, kept.value, kept.why
    (True, None, 'out/tree/a: Permission denied')
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["NO", "YES", "Finding", "cannot_tell"]


@dataclass(frozen=True)
class Finding:
    """Yes, no, or that the runner cannot tell, and why. Ask :attr:`yes`, :attr:`no` or
    :attr:`unknown`: a finding is never true or false by itself (``if kept_work(...)`` raises
    ``TypeError``), so a "cannot tell" is never read as either."""

    value: bool | None
    """True, False, or None: cannot tell (the run state's ``kept_work`` as it is recorded)."""
    why: str | None = None
    """Why the runner cannot tell (``PATH: REASON``, what is missing); None when it can."""

    def __post_init__(self) -> None:
        if (self.value is None) != (self.why is not None):
            raise ValueError("a finding says why exactly when it cannot tell")

    @property
    def yes(self) -> bool:
        return self.value is True

    @property
    def no(self) -> bool:
        return self.value is False

    @property
    def unknown(self) -> bool:
        return self.value is None

    def __bool__(self) -> bool:
        raise TypeError("a Finding is yes, no or unknown: ask .yes, .no or .unknown")


YES = Finding(True)
NO = Finding(False)


def cannot_tell(why: str) -> Finding:
    """The runner cannot tell, because ``why``."""
    return Finding(None, why)
