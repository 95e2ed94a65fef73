"""PNG of a forecast (matplotlib Agg): completion-day distribution and remaining effort."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from standard_coder.forecasting._io import atomic_write


def plot_forecast(report: dict[str, Any], path: Path) -> Path:
    """Write a two-panel PNG from a forecast report dict, atomically.

    Left: probability of completing on each working day (plus "after end"), with P50 and P85
    marked. Right: remaining effort (SCH) at the end of each day, median with a P15-P85 band.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.2), dpi=100)
    FigureCanvasAgg(fig)  # Agg only; no pyplot, no global backend state
    ax1, ax2 = fig.subplots(1, 2)
    dist = report["completion_day_distribution"]
    n_days = report["n_working_days"]
    horizon = len(dist["day"]) - 1
    xs = [*dist["day"], horizon + 1]
    ys = [*dist["probability"], dist["p_after_horizon"]]
    colors = ["tab:blue" if d <= n_days else "tab:orange" for d in dist["day"]] + ["tab:red"]
    ax1.bar(xs, ys, color=colors)
    ax1.set_xticks(xs, [*(str(d) for d in dist["day"]), "later"], fontsize=7)
    ax1.axvline(n_days + 0.5, color="grey", linewidth=1)
    for key, style in (("completion_day_p50", "--"), ("completion_day_p85", ":")):
        day = report[key]
        x = horizon + 1 if day is None else day
        label = f"{key[-3:].upper()}: " + ("later" if day is None else f"day {day}")
        ax1.axvline(x, color="black", linestyle=style, label=label)
    ax1.set_xlabel(f"working day the scope completes (sprint end: day {n_days})")
    ax1.set_ylabel("probability")
    ax1.set_title(f"P(complete by end) = {report['p_complete_by_end']:.1%}")
    ax1.legend(loc="upper left")

    rem = report["remaining_by_day"]
    ax2.fill_between(rem["day"], rem["p15"], rem["p85"], alpha=0.3, label="P15-P85")
    ax2.plot(rem["day"], rem["p50"], marker="o", label="median")
    ax2.axvline(n_days, color="grey", linewidth=1, label="sprint end")
    ax2.set_xlabel("end of working day (0 = start)")
    ax2.set_ylabel("remaining effort (SCH hours)")
    ax2.set_title("remaining effort")
    ax2.set_ylim(bottom=0)
    ax2.legend(loc="upper right")
    fig.suptitle(f"Sprint {report['sprint_id']} ({report['n_sims']:,} simulations)")
    fig.tight_layout()

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    data = buf.getvalue()
    return atomic_write(Path(path), lambda fh: fh.write(data))
