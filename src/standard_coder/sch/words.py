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
