"""What SCH means, in one text for every place that shows SCH hours (the forecast, ``estimate``,
the report). Dependency-free: the CLI imports it at start-up."""

SCH_EXPLAINED = (
    "SCH = standard-coder hours: the coding time a standard coder would need for a change, as "
    "the effort model estimates it from the code itself: the mean of the model's distribution "
    "truncated to 1 h per change, as in the paper (a scale to rank and add changes on, never "
    "above 1 h a change)."
)
"""One definition, shown wherever SCH hours are (``estimate`` adds its quantiles)."""

SMALL_CORRELATION = 0.05
"""An error correlation below it widens a total's range little over the independent sum's (10
changes: by under a fifth at 0.05, under a tenth at 0.02): ``estimate`` and the forecast say
"almost as if each were independent" instead of "moves together"."""

LARGE_CHANGE_LINES = 500
"""Lines changed (added + deleted) above which a diff is larger than 98 % of commits are: of
8,824 commits of 16 real public Python histories (session 56), the median changes 12 lines,
the 98th percentile 464 and the 99th 768."""


def large_change_note(what: str, lines: int) -> str:
    """Why a diff of ``lines`` changed lines priced as one change reads small: SCH is a
    commit's scale (at most 1 h a change), and a diff this large is usually many commits."""
    return (
        f"{what} changes {lines:,} lines, more than 98 % of commits do (median 12): it is priced "
        "as one change, and a change's SCH is at most 1 h; the work of many commits is priced "
        "by their commits (a range A..B, a ticket's commit_ids) or, before they exist, by "
        "commit-sized pieces"
    )
