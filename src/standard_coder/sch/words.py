"""What SCH means, in one text for every place that shows SCH hours (the forecast, ``estimate``,
the report). Dependency-free: the CLI imports it at start-up."""

import math

SCH_EXPLAINED = (
    "SCH = standard-coder hours: the coding time a standard coder would need for a change, as "
    "the effort model estimates it from the code itself: the mean of the model's distribution "
    "truncated to 1 h per change, as in the paper (a scale to rank and add changes on, never "
    "above 1 h a change)."
)
"""One definition, shown wherever SCH hours are (``estimate`` adds its quantiles)."""
SCH_IN_BRIEF = (
    "SCH = standard-coder hours: the coding time a standard coder would need for a change, at "
    "most 1 h a change (the model's estimate from the code)."
)
"""The same, in one line for a chart's footer."""

SMALL_WIDENING = 1.1
"""A total whose range its pairing widens by less than this (as a ratio of standard deviations)
over the independent sum's is said to narrow "almost as if each were independent"."""


def widening(correlation: float, n_changes: int) -> float:
    """How many times as wide the range of a total of ``n_changes`` changes paired at
    ``correlation`` is as their independent sum's: ``sqrt(1 + (n - 1) rho)``."""
    return math.sqrt(1.0 + max(n_changes - 1, 0) * max(correlation, 0.0))


def paired_range_words(correlation: float, n_changes: int, what: str) -> str:
    """``what`` (the errors summed) paired at ``correlation`` over ``n_changes`` changes, and
    how much that widens the range: ``estimate``'s total and the forecast's tickets."""
    w = widening(correlation, n_changes)
    head = (
        f"{what} paired at the error correlation {correlation:.2f} train_sch measured between "
        "changes made close together"
    )
    if w < SMALL_WIDENING:
        return (
            f"{head}: over {n_changes} changes that widens the range by under a tenth, almost as "
            "if each were independent"
        )
    return (
        f"{head} (they are misjudged alike): over {n_changes} changes the range is about "
        f"{w:.1f} times as wide as if each were independent"
    )


LARGE_CHANGE_LINES = 500
"""Lines changed (added + deleted) above which a diff is larger than 98 % of commits are: of
8,824 commits of 16 real public Python histories (session 56), the median changes 12 lines,
the 98th percentile 464 and the 99th 768."""


def no_contents_note(tickets: list[str]) -> str:
    """Why a ticket's diff that changes existing files can price below the same change
    committed: a diff is read on its own, so the files it changes have no contents (their
    syntax features count zero), where ``estimate --diff`` reads them at ``HEAD``."""
    shown = ", ".join(tickets[:5]) + (f" and {len(tickets) - 5} more" if len(tickets) > 5 else "")
    return (
        f"ticket{'s' if len(tickets) > 1 else ''} {shown}: the diff is priced without the "
        "contents of the files it changes (a ticket's diff is read on its own, so their syntax "
        "features are not counted); `estimate --diff` reads them at HEAD of the repository and "
        "can price the same change otherwise, and commit_ids price it as committed"
    )


def large_change_note(what: str, lines: int) -> str:
    """Why a diff of ``lines`` changed lines priced as one change reads small: SCH is a
    commit's scale (at most 1 h a change), and a diff this large is usually many commits."""
    return (
        f"{what} changes {lines:,} lines, more than 98 % of commits do (median 12): it is priced "
        "as one change, and a change's SCH is at most 1 h; the work of many commits is priced "
        "by their commits (a range A..B, a ticket's commit_ids) or, before they exist, by "
        "commit-sized pieces"
    )


def large_commits_note(ids: list[str], lines: int) -> str:
    """Why commits of more lines than 98 % of commits change read small: a change's SCH is at
    most 1 h (``lines``: the largest one's changed lines)."""
    shown = ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
    which = f"{shown} changes" if len(ids) == 1 else f"{len(ids)} commits ({shown}) change"
    return (
        f"{which} more lines than 98 % of commits do (median 12; up to {lines:,} here), and a "
        "change's SCH is at most 1 h: such a change reads small beside its lines (SCH ranks it "
        "among this history's changes; it is not the hours its work took)"
    )


def more_caveats(caveats: list[str] | tuple[str, ...], where: str) -> str:
    """`` (2 more caveats about the model: ...)`` after the first of ``caveats`` is said, or
    nothing when it is the only one; ``where``: where the tool that says it lists them all."""
    k = len(caveats) - 1
    if k < 1:
        return ""
    return (f" ({k} more caveat{'s' if k > 1 else ''} about the model: the run summary's "
            f"warnings, and {where})")  # fmt: skip
