"""PNG of a forecast (matplotlib Agg): completion-day distribution and remaining effort."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from standard_coder.forecasting._io import atomic_write
from standard_coder.sch.words import SCH_IN_BRIEF


def plot_forecast(report: dict[str, Any], path: Path) -> Path:
    """Write a two-panel PNG from a forecast report dict, atomically.

    Left: probability of completing on each working day, labelled by date (plus "later"), with
    P50 and P85 marked and a legend for every colour. Right: remaining effort (SCH) at the end
    of each working day (whole-day ticks), median with a P15-P85 band.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(11, 4.6), dpi=100)
    FigureCanvasAgg(fig)  # Agg only; no pyplot, no global backend state
    ax1, ax2 = fig.subplots(1, 2)
    dist = report["completion_day_distribution"]
    n_days = report["n_working_days"]
    horizon = len(dist["day"]) - 1
    dates = [*report["working_days"], *report["days_after_end"]]
    xs = [*dist["day"], horizon + 1]
    ys = [*dist["probability"], dist["p_after_horizon"]]
    colors = ["tab:blue" if d <= n_days else "tab:orange" for d in dist["day"]] + ["tab:red"]
    ax1.bar(xs, ys, color=colors)
    ax1.set_xticks(xs, [_tick(d, dates) for d in dist["day"]] + ["later"], fontsize=7, rotation=60)
    ax1.axvline(n_days + 0.5, color="grey", linewidth=1)
    handles: list[Any] = [
        Patch(color="tab:blue", label="done within the sprint"),
        Patch(color="tab:orange", label="done after the sprint's end"),
        Patch(color="tab:red", label=f"not within {horizon} working days"),
    ]
    for key, style in (("completion_day_p50", "--"), ("completion_day_p85", ":")):
        day = report[key]
        x = horizon + 1 if day is None else day
        when = "later" if day is None else _tick(day, dates)
        handles.append(
            ax1.axvline(x, color="black", linestyle=style, label=f"{key[-3:].upper()}: {when}")
        )
    ax1.set_xlabel(f"working day the scope is done (grey line: sprint end, {report['end_date']})")
    ax1.set_ylabel("probability")
    ax1.set_title(f"P(complete by end) = {report['p_complete_by_end']:.1%}")
    ax1.legend(handles=handles, loc="upper right", fontsize=7)

    rem = report["remaining_by_day"]
    ax2.fill_between(rem["day"], rem["p15"], rem["p85"], alpha=0.3, label="P15-P85 band")
    ax2.plot(rem["day"], rem["p50"], marker="o", label="median")
    ax2.axvline(n_days, color="grey", linewidth=1, label="sprint end")
    ax2.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole days only
    ax2.set_xlabel("end of working day (0 = before the first)")
    ax2.set_ylabel("remaining effort (SCH hours)")
    ax2.set_title("remaining effort")
    ax2.set_ylim(bottom=0)
    ax2.legend(loc="upper right", fontsize=7)
    fig.suptitle(f"Sprint {report['sprint_id']} ({report['n_sims']:,} simulations)")
    fig.text(
        0.01,
        0.01,
        SCH_IN_BRIEF,
        fontsize=7,
        color="dimgrey",
    )
    fig.tight_layout(rect=(0, 0.03, 1, 1))

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    data = buf.getvalue()
    return atomic_write(Path(path), lambda fh: fh.write(data))


def _tick(day: int, dates: list[str]) -> str:
    """``MM-DD`` of working day ``day`` (1 = the sprint's first); ``start`` for day 0."""
    if day <= 0:
        return "start"
    return dates[day - 1][5:] if day <= len(dates) else str(day)
