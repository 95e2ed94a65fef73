"""Rich consoles for tables and messages that also read well in logs and CI.

Rich lays out for 80 columns when its stream is not a terminal (or for ``COLUMNS``, which
some tools export as 80 for their child processes: pytest-xdist workers see ``COLUMNS=80``),
which folds a 10-column table into ellipses. :func:`make_console` gives such streams at least
:data:`PIPE_WIDTH` columns (a wider ``COLUMNS`` still widens them), so the same table is
legible on a terminal, in ``run.log`` and in CI. :func:`terminal_columns` and
:func:`wrap_outside_parentheses` import no Rich (plain lines, such as a run's closing summary).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # Rich is imported by make_console only: wrapping text needs none of it
    from rich.console import Console

__all__ = [
    "PIPE_WIDTH",
    "make_console",
    "say_warning",
    "terminal_columns",
    "wrap_outside_parentheses",
]

PIPE_WIDTH = 120


def make_console(*, stderr: bool = False, **kwargs: Any) -> Console:
    """A Rich console on stdout (or stderr); at least :data:`PIPE_WIDTH` columns off a terminal.

    Args:
        stderr: write to standard error (where progress, tables and errors go).
        **kwargs: passed to :class:`rich.console.Console` (an explicit ``width`` wins; with
            ``file``, that file is the stream tested for a terminal).
    """
    from rich.console import Console

    stream = kwargs.get("file") or (sys.stderr if stderr else sys.stdout)
    if "width" not in kwargs and not _is_tty(stream):
        columns = os.environ.get("COLUMNS", "")
        kwargs["width"] = max(PIPE_WIDTH, int(columns) if columns.isdigit() else 0)
    return Console(stderr=stderr, **kwargs)


def say_warning(text: str, log: logging.Logger | None = None) -> None:
    """A warning outside stages (a command, a demo's inputs, the report) in the CLI's one form,
    as errors are ``error: text``: one ``warning: text`` line on stderr, ``text`` naming the
    file, key or path and the cause (a cause of several lines, such as a config error's, is
    joined with ``; ``). ``log`` keeps an INFO copy (in ``logs/run.log`` while a run is on;
    never a second console line). A stage warns with ``runner.context.warn``."""
    text = "; ".join(line.strip() for line in text.splitlines() if line.strip())
    sys.stderr.write(f"warning: {text}\n")
    sys.stderr.flush()
    if log is not None:
        log.info("warning: %s", text, extra={"on_console": False})


def _is_tty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # replaced or closed streams
        return False


def terminal_columns(stream: Any) -> int | None:
    """The width of the terminal ``stream`` writes to; None off a terminal (a pipe, a file,
    a log), where a line is best kept whole for grep."""
    if not _is_tty(stream):
        return None
    try:
        return os.get_terminal_size(stream.fileno()).columns or None
    except (AttributeError, ValueError, OSError):
        return None


def wrap_outside_parentheses(text: str, width: int) -> list[str]:
    """``text`` as lines of at most ``width`` characters, broken at spaces outside parentheses
    and brackets, so that a short parenthesis (``(+0.01 h)``, ``[filters.authors]``) is read
    whole; one longer than half a line is broken at its own spaces, as a sentence is."""
    groups: list[str] = []
    depth = 0
    for word in text.split():
        if depth > 0:
            groups[-1] += f" {word}"
        else:
            groups.append(word)
        depth = max(0, depth + sum(word.count(c) for c in "([") - sum(word.count(c) for c in ")]"))
    lines: list[str] = []
    for group in groups:
        if lines and len(lines[-1]) + 1 + len(group) <= width:
            lines[-1] += f" {group}"
        elif len(group) <= width // 2:
            lines.append(group)
        else:  # too long to keep whole: its words fill the lines
            for word in group.split():
                if lines and len(lines[-1]) + 1 + len(word) <= width:
                    lines[-1] += f" {word}"
                else:
                    lines.append(word)
    return lines
