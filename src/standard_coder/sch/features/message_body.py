"""What a commit's message says after its subject line, as feature columns.

``body|...`` (:data:`BODY_NAMES`), counted from ``CommitRecord.body`` (git's ``%b``, kept by
the mine in ``commit_bodies``):

- ``body|lines``: non-blank lines, trailers left out: a last paragraph made only of
  ``Token: value`` lines (a simpler rule than ``git interpret-trailers``'s: a "Why: ... How:
  ..." template written as one such paragraph counts as trailers too), and ``Signed-off-by:``,
  ``Co-authored-by:``, ``Reviewed-by:``, ``Change-Id:`` lines anywhere;
- ``body|words``: the words of those lines;
- ``body|co_authors``: ``Co-authored-by:`` trailers (people who wrote the change with its author).

A squashed group sums its commits' counts. A one-line message has a body of zeros. A change
whose message is unknown (a working tree, a raw diff, a database mined without bodies) has NaN
in every column, which the representation reads as "unknown" and gives the fitted changes'
mean (``[training.features] commit_body``; docs/effort-models.md, "Message bodies").

Bullet lines are counted as lines, not on their own: a squash merge's body lists its pull
request's commits, whose times its label is read from (docs/effort-models.md, "Session 26").
"""

from __future__ import annotations

import re

import numpy as np

BODY_PREFIX = "body|"
"""What every message body column's name starts with."""
BODY_NAMES: tuple[str, ...] = tuple(BODY_PREFIX + n for n in ("lines", "words", "co_authors"))
"""Column names of a message body's counts, in :func:`body_counts` order."""

_KNOWN_TRAILER = re.compile(r"(?i)^(co-authored-by|signed-off-by|reviewed-by|change-id):")
_TRAILER = re.compile(r"^[A-Za-z][A-Za-z0-9-]*: \S")
_CO_AUTHOR = re.compile(r"(?i)^co-authored-by:")


def no_body() -> np.ndarray:
    """The counts of a change whose message is unknown: NaN in every column."""
    return np.full(len(BODY_NAMES), np.nan)


def _trailer_block(lines: list[str]) -> int:
    """Index where the last paragraph starts when every line of it is a trailer (else the end)."""
    start = len(lines)
    while start > 0 and lines[start - 1].strip():
        start -= 1
    block = lines[start:]
    return start if block and all(_TRAILER.match(x.strip()) for x in block) else len(lines)


def body_counts(body: str | None) -> np.ndarray:
    """``body``'s counts in :data:`BODY_NAMES` order; NaN (unknown) for None, zeros for ``""``."""
    if body is None:
        return no_body()
    lines = body.strip().splitlines()
    cut = _trailer_block(lines)
    text = [x for x in lines[:cut] if x.strip() and not _KNOWN_TRAILER.match(x.strip())]
    co_authors = sum(1 for x in lines if _CO_AUTHOR.match(x.strip()))
    return np.array([len(text), sum(len(x.split()) for x in text), co_authors], np.float64)
