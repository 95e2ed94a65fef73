"""How a flagship run ends on the terminal (``pipeline`` and ``demo`` alike): the metric table,
plain-language warnings, the report path and the forecast dates (on stderr: logs, not results).

:func:`summary` reads the figures back from the run's artifacts;
:func:`~standard_coder.pipelines.sch_warnings.warnings` turns the evaluation into sentences a
user acts on; :func:`print_summary` prints both. ``pipelines.sch``
registers :func:`finish` as the pipeline's ``on_finish`` hook.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

from standard_coder.pipelines.sch_layout import SchLayout
from standard_coder.pipelines.sch_summary_sprint import forecast_under_way
from standard_coder.pipelines.sch_warnings import (
    changes_counted,
    interval_end,
    interval_words,
    warnings,
)
from standard_coder.runner.jsonfile import read_json_object_or_none
from standard_coder.runner.report.kit import num as _num


def summary(base_dir: Path, elapsed_s: float | None = None) -> dict[str, Any]:
    """Key figures of a finished run, read back from its artifacts."""
    layout = SchLayout(base_dir)
    out: dict[str, Any] = {"base_dir": str(base_dir)}
    if elapsed_s is not None:
        out["elapsed_s"] = round(elapsed_s, 1)
    evaluation = read_json_object_or_none(layout.evaluation)
    if evaluation is not None:
        out["evaluation"] = evaluation
    # the latest sprint's file is the current one (files of earlier sprints stay in the folder)
    forecasts = forecast_files(layout.forecasts)
    if forecasts and forecasts[0].doc is not None:
        out["forecast"], out["forecast_path"] = forecasts[0].doc, str(forecasts[0].path)
    if layout.team_output_csv.is_file():
        out["team_output"] = str(layout.team_output_csv)
    predictor = (evaluation or {}).get("predictor")
    if isinstance(predictor, str) and (model := SchLayout(base_dir, predictor).model).is_file():
        out["model"] = str(model)  # what ``eval --checkpoint`` and a notebook load
    out["report"] = str(layout.reports / "index.html")
    return out


class ForecastFile(NamedTuple):
    """One ``*_forecast.json`` of a forecasts folder, read once: its path and its JSON object
    (None when the file is unreadable or holds no object)."""

    path: Path
    doc: dict[str, Any] | None


def forecast_files(fdir: Path) -> list[ForecastFile]:
    """``fdir``'s ``*_forecast.json``, each read once, the current forecast first: by the
    sprint's ``start_date`` inside the file (latest first), then, for equal dates and for files
    without a readable one, by modification time and name (newest first).

    The order is in the content, so touching or copying an old sprint's file does not make it
    current, and a rerun writes the same bytes (a ``made_at`` time stamp would not). Callers
    take the parsed object from here (the run summary and the report read no file twice).
    """
    if not fdir.is_dir():
        return []

    def key(file: ForecastFile) -> tuple[date, int, str]:
        start = date.min
        # an unreadable file, or one without a start date, sorts as the oldest sprint
        with contextlib.suppress(ValueError, KeyError):
            start = date.fromisoformat(str((file.doc or {})["start_date"]))
        try:
            mtime = file.path.stat().st_mtime_ns
        except OSError:
            mtime = 0
        return start, mtime, file.path.name

    files = [ForecastFile(p, read_json_object_or_none(p)) for p in fdir.glob("*_forecast.json")]
    return sorted(files, key=key, reverse=True)


def _fmt(v: Any, digits: int = 3) -> str:
    return f"{v:.{digits}f}" if isinstance(v, int | float) else "-"


def _probability(p: Any) -> str:
    """``0.95``; under 0.05 one more digit (0.0059 read ``0.01`` beside the table's ``0.6%``)."""
    small = isinstance(p, int | float) and 0 < p < 0.05
    return _fmt(p, 3 if small else 2)


MIN_NAMES = 16
"""A narrow terminal folds the metric names down to this width beside the figures; under it,
each metric is a block: its name, then a line per figure."""


def _table(title: str, header: list[str], rows: list[list[str]], width: int | None = None) -> str:
    """A plain aligned text table (no Rich: a no-op rerun prints this without heavy imports).

    ``width``: the terminal's columns (None off a terminal: every row one line). Where the
    table is wider, the first column's names break between words (down to :data:`MIN_NAMES`),
    then each row is a block (the name, then ``header  value`` lines), so a terminal never
    breaks a figure across two lines (``0.1`` / ``64`` at 54 columns)."""
    import textwrap

    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    rest = sum(widths[1:]) + 2 * (len(widths) - 1)
    if width is not None and widths[0] + rest > width and width - rest < MIN_NAMES:
        label = max(len(h) for h in header[1:])
        out = textwrap.wrap(title, width) or [title]
        for r in rows:
            out += textwrap.wrap(r[0], width, break_long_words=False, break_on_hyphens=False)
            out += [f"  {h.ljust(label)}  {c}" for h, c in zip(header[1:], r[1:], strict=True) if c]
        return "\n".join(out)
    names = widths[0] if width is None else min(widths[0], width - rest)
    widths[0] = names

    def line(cells: list[str]) -> list[str]:
        first = (
            [cells[0]]
            if len(cells[0]) <= names
            else textwrap.wrap(cells[0], names, break_long_words=False, break_on_hyphens=False)
        )
        figures = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return ["  ".join([first[0].ljust(names), *figures]).rstrip(), *first[1:]]

    rule = "  ".join("-" * w for w in widths)
    heading = [title] if width is None or len(title) <= width else textwrap.wrap(title, width)
    body = [x for r in rows for x in line(r)]
    return "\n".join([*heading, *line(header), rule, *body])


def metric_table(
    ev: dict[str, Any], title: str, width: int | None = None, model: str = "SCH model"
) -> str:
    """The evaluation's key figures beside the LOC baseline's (``-`` where it has none), for a
    terminal ``width`` columns wide (None: off a terminal; see :func:`_table`); ``model``: the
    scored column's heading."""
    rows = [
        [name, _fmt(ev.get(key)), _fmt(ev.get(f"baseline_loc_{key}"))]
        for name, key in [
            ("neg. log-likelihood / label (lower is better)", "heldout_nll"),
            ("CRPS, hours (lower is better)", "crps"),
            ("80% interval coverage (target 0.80)", "coverage_80"),
        ]
    ]
    rows.append(
        [
            "Spearman vs inferred coding time",
            _fmt(ev.get("spearman_sch")),
            f"lines added {_fmt(ev.get('spearman_lines_added'))}",
        ]
    )
    rows.append(["binned calibration R² (paper Fig. 6)", _fmt(ev.get("binned_calibration_r2")), ""])
    return _table(title, ["metric", model, "LOC baseline"], rows, width)


SURE_NAMES = {
    "sch_above_lines_added": "ranks above lines added",
    "nll_below_loc": "NLL below the LOC baseline",
    "coverage_80_in_0_70_0_90": "80% coverage in 0.70-0.90",
    "calibration_r2_positive": "calibration R² > 0",
}


DIFFERENCES = ("sch_above_lines_added", "nll_below_loc")
"""Targets whose figure is a difference (shown with its sign)."""

COVERAGE_BAND = (0.70, 0.90)
"""The 80 % coverage target's band (``sch/target_intervals.COVERAGE_BAND``, not imported: this
module stays light for a no-op rerun)."""


def figure_meets(target: str, value: float) -> bool:
    """Whether a target's figure on every held-out change meets it (what a verdict of
    ``undecided`` leaves unsaid: met or missed, within the held-out changes' noise)."""
    if target == "coverage_80_in_0_70_0_90":
        return COVERAGE_BAND[0] <= value <= COVERAGE_BAND[1]
    return value > 0


def verdict_words(target: str, verdict: str, value: float) -> str:
    """``met``, ``missed``, or for ``undecided`` ``met on its figure, within noise`` / ``missed
    on its figure, within noise`` (the figure's side of the target, which the interval cannot
    confirm)."""
    if verdict != "undecided":
        return verdict
    return ("met" if figure_meets(target, value) else "missed") + " on its figure, within noise"


def sure_line(ev: dict[str, Any]) -> str:
    """One line: each target's verdict on the held-out changes (``target_intervals``), e.g.
    ``ranks above lines added: met (+0.08, 90% interval 0.06 to 0.10)``; ``""`` without."""
    sure = ev.get("target_intervals") or {}
    parts = []
    for key, name in SURE_NAMES.items():
        t = sure.get(key) or {}
        value = _num(t.get("value"))
        if value is None or not t.get("verdict"):
            continue
        verdict = verdict_words(key, str(t["verdict"]), value)
        figure = interval_end(value, signed=key in DIFFERENCES)
        parts.append(f"{name}: {verdict} ({figure}, {interval_words(t)})")
    if not parts:
        return ""
    return f"How sure, on {changes_counted(sure)}: " + "; ".join(parts)


FLAT_SHARE = 1 / 2
"""Estimates whose 10th-90th percentile span is under this share of the labels' are said to be
near the typical change (the model orders changes more than it separates their hours). Half,
since session 60: at a third, click's held-out estimates (0.29-0.47 h against 0.09-0.64 h, a
share of 0.335) went without it, a typo fix priced 0.26 h and the initial commit 0.49 h; a
calibrated model's share is about its correlation with the labels, 0.3-0.4 on real histories."""


TOTALS_MIN_WINDOWS = 5
"""Held-out windows under which the totals' coverage is not said (a handful says little)."""


def totals_line(ev: Mapping[str, Any]) -> str:
    """How the ranges of totals held on the held-out changes (``totals``), or "" with under
    :data:`TOTALS_MIN_WINDOWS` windows."""
    t = ev.get("totals") or {}
    n, paired, alone = (
        _num(t.get("windows")),
        _num(t.get("coverage_80")),
        _num(t.get("coverage_80_independent")),
    )
    if n is None or n < TOTALS_MIN_WINDOWS or paired is None or alone is None:
        return ""
    rho = _num(t.get("correlation")) or 0.0
    return (
        f"Totals of {t.get('window')} consecutive held-out changes: the 80 % range held "
        f"{round(paired * n)} of {int(n)} (the changes' errors paired at the correlation "
        f"{rho:.2f} training measured; as if independent, {round(alone * n)})"
    )


def estimates_flat(ev: Mapping[str, Any]) -> bool:
    """The held-out estimates' 10-90 % span is under :data:`FLAT_SHARE` of the labels'."""
    sq = _num(ev.get("sch_q10")), _num(ev.get("sch_q90"))
    lq = _num(ev.get("label_q10")), _num(ev.get("label_q90"))
    if sq[0] is None or sq[1] is None or lq[0] is None or lq[1] is None:
        return False
    return sq[1] - sq[0] < FLAT_SHARE * (lq[1] - lq[0])


def spread_line(ev: Mapping[str, Any]) -> str:
    """How far apart the held-out estimates lie beside the labels (both within [0, 1] h), and,
    when they lie close together, what that means for a single change's hours; "" without."""
    sq = _num(ev.get("sch_q10")), _num(ev.get("sch_q90"))
    lq = _num(ev.get("label_q10")), _num(ev.get("label_q90"))
    if sq[0] is None or sq[1] is None or lq[0] is None or lq[1] is None:
        return ""
    line = (
        f"Estimates of the held-out changes run from {sq[0]:.2f} to {sq[1]:.2f} h (10th to 90th "
        f"percentile); their inferred coding times (within 1 h) from {lq[0]:.2f} to {lq[1]:.2f} h"
    )
    if estimates_flat(ev):
        chance = (ev.get("target_intervals") or {}).get("sch_ranks_above_chance") or {}
        if chance.get("verdict") in ("undecided", "missed"):  # its ranking is in doubt too
            line += (
                ": a single change's estimate stays near this history's typical change, and "
                "which of two changes took longer is not told either (its ranking is in doubt: "
                "see the warnings): add up many changes, do not size or rank one"
            )
        else:
            line += (
                ": the model orders changes more than it tells their hours apart, so a single "
                "change's estimate stays near this history's typical change (use it to rank "
                "and to add up many changes, not to size one)"
            )
    return line


def summary_lines(s: dict[str, Any], width: int | None = None) -> list[str]:
    """The summary as text lines: metric table (laid out for a terminal ``width`` columns wide:
    :func:`metric_table`), warnings, forecast dates, where things are."""
    out: list[str] = []
    ev = s.get("evaluation") or {}
    if ev:
        out.append(metric_table(ev, "What the effort model learned (held-out commits)", width))
        if line := sure_line(ev):
            out.append(line)
        if line := spread_line(ev):
            out.append(line)
        if line := totals_line(ev):
            out.append(line)
        truth = ev.get("work_inference_pearson_vs_truth") or {}
        if truth:
            out.append(
                "Work inference vs the simulator's true coding time (Pearson r): "
                f"neural HMM {_fmt(truth.get('hmm'))}, "
                f"git-hours gap heuristic {_fmt(truth.get('gap'))} (paper: HMM > 0.69)"
            )
        dl = ev.get("delivery") or {}
        if dl.get("n_test_prs"):
            out.append(
                f"Delivery effort ({dl['n_test_prs']} held-out PRs): "
                f"NLL {_fmt(dl.get('heldout_nll'))} "
                f"(no features {_fmt(dl.get('baseline_marginal_nll'))}), 80% coverage "
                f"{_fmt(dl.get('coverage_80'))}, Spearman vs open->merge hours "
                f"{_fmt(dl.get('spearman'))} "
                f"(lines changed only {_fmt(dl.get('spearman_size_only'))})"
            )
        left = ev.get("left_out") or {}
        if left.get("generated_files") or left.get("formatting_files"):
            out.append(
                "Not counted as work (tool-made): "
                f"{left.get('generated_files', 0)} generated files "
                f"(+{left.get('generated_lines_added', 0)} lines), "
                f"{left.get('formatting_files', 0)} formatting-only file changes "
                f"(+{left.get('formatting_lines_added', 0)} lines)"
            )
        out.extend(f"warning: {w}" for w in warnings(ev))
    fc = s.get("forecast") or {}
    if fc:
        done = f"done {_done_by(fc, 'p50')} (P50) / {_done_by(fc, 'p85')} (P85)"
        if completion_text(fc, "p85") == "nothing left":  # every ticket done: no date to say
            done = "nothing left to do"
        out.append(
            f"Sprint {fc.get('sprint_id')} (ends {fc.get('end_date')}): "
            f"P(complete by end) = {_probability(fc.get('p_complete_by_end'))}, {done}"
        )
        if note := forecast_under_way(fc):
            out.append(note)
    out.append(f"Report: {s['report']}")
    if s.get("team_output"):
        out.append(f"Team output: {s['team_output']}")
        if ev and estimates_flat(ev):  # a person's hours are then mostly their count of changes
            out.append(
                "(its hours follow how many changes each person made more than what the "
                "changes held: the estimates sit near the typical change, above)"
            )
    if s.get("forecast_path"):
        out.append(f"Forecast: {s['forecast_path']}")
    if s.get("model"):
        out.append(f"Model: {s['model']}")
    return out


PATH_LINES = ("Report: ", "Team output: ", "Forecast: ", "Model: ")
"""Lines that name a file: never wrapped (the path stays on its label's line, whole)."""


def wrap_lines(lines: list[str], width: int | None) -> list[str]:
    """``lines`` for a terminal ``width`` columns wide: a sentence (``How sure, ...``,
    ``warning: ...``) longer than that is broken at spaces outside parentheses
    (``runner.console.wrap_outside_parentheses``: ``(+0.08, 90% interval 0.06 to 0.10)`` is
    read whole), its next lines indented by two spaces; tables (text with line breaks) and
    :data:`PATH_LINES` stay as they are. ``width`` None (not a terminal): every line whole."""
    if width is None:
        return list(lines)
    from standard_coder.runner.console import wrap_outside_parentheses

    out: list[str] = []
    for line in lines:
        if len(line) <= width or "\n" in line or line.startswith(PATH_LINES):
            out.append(line)
            continue
        first, *rest = wrap_outside_parentheses(line, width - 2)
        out += [first, *(f"  {r}" for r in rest)]
    return out


def print_summary(s: dict[str, Any]) -> None:
    """Print the summary on stderr (logs, so ``> file`` keeps only results), its sentences
    wrapped at the terminal's width (:func:`wrap_lines`; whole lines off a terminal)."""
    import sys

    from standard_coder.runner.console import terminal_columns

    width = terminal_columns(sys.stderr)
    lines = wrap_lines(summary_lines(s, width), width)
    sys.stderr.write("\n".join(lines) + "\n")
    sys.stderr.flush()


def finish(base_dir: Path) -> None:
    """The pipeline's ``on_finish`` hook: print the summary of what the run left behind."""
    print_summary(summary(base_dir))


def _done_by(forecast: dict[str, Any], q: str) -> str:
    """When the forecast is done at quantile ``q``, after "done" in the summary line
    (:func:`completion_text`): "by <date>", "after <last simulated day>", "at once"."""
    text = completion_text(forecast, q) or "later"
    if text.startswith("later than "):
        return "after " + text.removeprefix("later than ")
    if text == "nothing left":
        return "at once"
    return text if text.startswith("later") else f"by {text}"


def _last_day(doc: Mapping[str, Any]) -> str | None:
    """The forecast's horizon as its last date: ``horizon_end``; for a file written before
    session 38, the last of the sprint's working days and the days simulated after its end;
    None when the file gives neither."""
    end = doc.get("horizon_end")
    if isinstance(end, str) and end:
        return end
    days = [d for key in ("working_days", "days_after_end") for d in doc.get(key) or []]
    return str(days[-1]) if days else None


def completion_text(doc: Mapping[str, Any], needle: str) -> str | None:
    """The forecast's completion at quantile ``needle`` (``p50``/``p85``) in words, for the run
    summary and the report's tiles: a date ("(late)" past the sprint's end), "nothing left"
    (day 0), or "later than <last simulated day>" beyond the horizon (a None day); None when
    the file holds neither field. Only ``completion_date_*``/``completion_day_*`` are read:
    another number (such as ``remaining_sch.p85``, SCH hours) is never shown as a day."""
    when = doc.get(f"completion_date_{needle}")
    day_key = f"completion_day_{needle}"
    day = doc.get(day_key)
    if day == 0:
        return "nothing left"
    if isinstance(when, str):
        n_days = _num(doc.get("n_working_days"))
        day_n = _num(day)
        late = day_n is not None and n_days is not None and day_n > n_days
        return f"{when} (late)" if late else when
    if day_key in doc and day is None:
        last = _last_day(doc)
        return f"later than {last}" if last else "later (beyond the simulated days)"
    if _num(day) is not None:
        return f"day {day}"
    return None
