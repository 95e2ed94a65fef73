"""One unit per forecast: SCH hours (default) or story points (the reverse conversion)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from standard_coder.config.forecasting import ForecastingSection
from standard_coder.forecasting import ForecastOptions, Ticket, run_forecast
from standard_coder.forecasting.report import forecast_table
from standard_coder.pipelines.sch_options import forecast_options
from standard_coder.reporting.forecasts import _card

ROOT = Path(__file__).resolve().parents[2]
SPRINT = ROOT / "examples" / "forecasting" / "sprint_inputs.example.json"
HISTORY = ROOT / "examples" / "forecasting" / "historical_outcomes.example.json"


def _model(tickets: list[Ticket]) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {t.id: rng.lognormal(1.0, 0.5, 300) for t in tickets}


def _text(report: dict[str, object]) -> str:
    buf = io.StringIO()
    Console(file=buf, width=200, force_terminal=False).print(forecast_table(report))
    return buf.getvalue()


def test_story_points_unit_is_sch_over_the_learned_ratio_and_stated(tmp_path: Path) -> None:
    sch = run_forecast(SPRINT, HISTORY, options=ForecastOptions(n_sims=2_000),
                       out_dir=tmp_path / "h", model_effort=_model, seed=3)  # fmt: skip
    opts = forecast_options(ForecastingSection(unit="story_points", n_sims=2_000))
    pts = run_forecast(SPRINT, HISTORY, options=opts, out_dir=tmp_path / "p",
                       model_effort=_model, seed=3)  # fmt: skip
    unit = pts.report["effort_unit"]
    assert unit["unit"] == "story_points" and sch.report["effort_unit"]["unit"] == "sch_hours"
    # the past sprints of the example give committed_story_points: the ratio is learned
    assert unit["story_points_ratio_source"] == "learned"
    ratio = unit["story_points_to_sch"]
    # the same simulation: probabilities and dates do not depend on the unit
    assert pts.report["p_complete_by_end"] == sch.report["p_complete_by_end"]
    assert pts.report["completion_date_p85"] == sch.report["completion_date_p85"]
    rem = pts.report["remaining_story_points"]
    assert abs(rem["mean"] - pts.report["remaining_sch"]["mean"] / ratio) < 1e-2
    for t in pts.report["tickets"]:
        assert abs(t["mean_remaining_story_points"] * ratio - t["mean_remaining_sch"]) < 1e-2
    assert "remaining_story_points" not in sch.report
    saved = json.loads(pts.json_path.read_text())
    assert saved["effort_unit"]["unit"] == "story_points"

    text = _text(pts.report)
    assert "story points" in text and "Effort in story points" in text
    assert f"1 point = {ratio:.2f} h" in text
    assert "SCH hours" not in _text(pts.report).split("\n")[2]  # the header names the unit
    assert "Story points are converted to SCH hours" in _text(sch.report)
    # the example's 14 sprints give 2.01-2.59 h a point: that spread is drawn and said
    assert unit["story_points_ratio_spread"] == pytest.approx(0.0714, abs=1e-3)
    assert "it moves about 7% from sprint to sprint, drawn once per simulation" in " ".join(
        _text(sch.report).split()
    )
    card = _card(saved, "PAY-55", [])
    assert card["left_unit"] == "story points left"
    assert card["unit"].startswith("Effort is stated in story points")


def test_delivery_pricing_is_stated_under_the_table(tmp_path: Path) -> None:
    opts = forecast_options(ForecastingSection(ticket_effort="delivery", n_sims=2_000))
    res = run_forecast(SPRINT, HISTORY, options=opts, out_dir=tmp_path, model_effort=_model,
                       seed=3)  # fmt: skip
    assert res.report["effort_unit"]["ticket_effort"] == "delivery"
    assert "priced by delivery effort" in _text(res.report)


def test_report_tiles_say_later_not_remaining_hours_when_past_the_horizon() -> None:
    """A P85 day beyond the horizon (None) reads "later than <last day>", as the console does;
    remaining_sch.p85 (SCH hours) was shown as the "P85 completion day"."""
    doc = {
        "sprint_id": "TDB-7",
        "n_working_days": 2,
        "working_days": ["2026-12-07", "2026-12-08"],
        "days_after_end": ["2026-12-09", "2026-12-10"],
        "completion_day_p50": 3,
        "completion_day_p85": None,
        "completion_date_p50": "2026-12-09",
        "completion_date_p85": None,
        "expected_completed_sch": 1.743,
        "expected_remaining_sch": 6.222,
        "remaining_sch": {"mean": 6.222, "p15": 3.798, "p50": 5.684, "p85": 8.666},
    }
    tiles = {name: value for name, value, _ in _card(doc, "TDB-7", [])["tiles"]}
    assert tiles["P50 completion day"] == "2026-12-09 (late)"
    assert tiles["P85 completion day"] == "later than 2026-12-10"
    assert tiles["SCH expected done by the end"] == "1.743"  # was "expected completed SCH"
    assert "8.666" not in tiles.values() and "5.684" not in tiles.values()


def test_the_legend_under_the_table_names_only_the_marks_it_shows(tmp_path: Path) -> None:
    """Session 38: every forecast table ended with "'(late)': ...; 'later': ..." though no cell
    said either (a sprint done in time): a legend of marks that are not there."""
    res = run_forecast(SPRINT, HISTORY, options=ForecastOptions(n_sims=2_000),
                       out_dir=tmp_path, model_effort=_model, seed=3)  # fmt: skip
    text = " ".join(_text(res.report).split())  # the legend's line may wrap
    late, later = "(late)" in text.split("SCH = ")[0], "later" in text.split("SCH = ")[0]
    assert ("'(late)': after the sprint's last day" in text) == late
    assert ("'later': not even within" in text) == later
    # every ticket and the sprint done on day 1: neither mark
    tickets = [{**t, "completion_day_p50": 1, "completion_day_p85": 1}
               for t in res.report["tickets"]]  # fmt: skip
    quick = {**res.report, "tickets": tickets, "completion_day_p50": 1, "completion_day_p85": 1}
    assert "'(late)'" not in _text(quick) and "'later'" not in _text(quick)
    slow = {**quick, "completion_day_p85": None}  # past the horizon: 'later' only
    assert "'later': not even within" in _text(slow) and "'(late)'" not in _text(slow)


def test_the_baseline_effort_reads_as_expected_by_the_end_not_done(tmp_path: Path) -> None:
    """Session 40: the baseline row said ``74.7 done`` in the effort column under tickets' ``…
    left``, read as work already done; it is the SCH expected done by the sprint's end."""
    from standard_coder.config.forecasting import Scenario

    opts = forecast_options(ForecastingSection(
        n_sims=2_000, scenarios=[Scenario(name="more scope", scope_growth_percent=30)]
    ))  # fmt: skip
    res = run_forecast(SPRINT, HISTORY, options=opts, out_dir=tmp_path, model_effort=_model,
                       seed=3)  # fmt: skip
    for width in (80, 200):
        buf = io.StringIO()
        Console(file=buf, width=width, force_terminal=False).print(forecast_table(res.report))
        lines = buf.getvalue().splitlines()
        assert all(len(line) <= width for line in lines), width
        cells = [line.rsplit("│", 2)[1].strip() for line in lines if line.count("│") > 2]
        expected = f"{res.report['expected_completed_sch']:.1f} expected"
        at = cells.index(expected)  # the baseline row, then its second line
        assert cells[at + 1] == "by the end", cells
        scope = res.report["scenarios"][0]["expected_completed_sch"]
        assert f"{scope:.1f} expected" in cells and cells.count("by the end") == 2
        assert not any(c.endswith(" done") for c in cells), cells
        # a ticket's effort says "left" (on 80 columns marks may follow: "10.0 left*")
        assert sum(" left" in c for c in cells) == len(res.report["tickets"])
        if width == 80:  # the titles column keeps room for a word
            assert any("1. PAY-301" in line for line in lines), lines
            # session 40: "P(done by end)" takes two lines there, the titles 7 more characters
            head = [line.split("┃")[2].strip() for line in lines if line.count("┃") > 2]
            assert head[-2:] == ["P(done", "by end)"], lines
            # session 41: one line a ticket (the baseline and the scenario two each)
            rows = cells_lines(lines)
            assert len(rows) == 2 * 2 + len(res.report["tickets"]), lines
            from standard_coder.forecasting.report import _ForecastTable

            before = io.StringIO()
            _ForecastTable.NARROW, narrow = 0, _ForecastTable.NARROW  # the whole-title layout
            try:
                Console(file=before, width=80, force_terminal=False).print(
                    forecast_table(res.report)
                )
            finally:
                _ForecastTable.NARROW = narrow
            titles = len(cells_lines(lines)[0].split("│")[1])
            was = cells_lines(before.getvalue().splitlines())
            assert titles >= len(was[0].split("│")[1]) + 4, (titles, was)  # 15 -> 31 in the demo
            assert len(was) > len(rows) + len(res.report["tickets"])  # 3 to 5 lines a ticket
        else:
            assert any("P(done by end)" in line for line in lines), lines


def cells_lines(lines: list[str]) -> list[str]:
    """The table's rows (not its header, title or caption)."""
    return [line for line in lines if line.startswith("│")]


def test_the_table_says_the_team_pace_it_simulates(tmp_path: Path) -> None:
    """30 h of capacity against 2.1 h left with P = 13 % looked wrong without the pace the
    days are simulated at: the caption says it, from the past sprints' rates."""
    res = run_forecast(SPRINT, HISTORY, options=ForecastOptions(n_sims=500),
                       out_dir=tmp_path, model_effort=_model, seed=3)  # fmt: skip
    rates = sorted(res.report["throughput"]["history_sch_per_day"])
    said = " ".join(_text(res.report).split())
    drawn = res.report["throughput"]["simulated_sch_per_day"]
    assert f"Team pace: the simulations draw {drawn['p50']:.2f} SCH h finished per working" in said
    assert f"80% of simulated sprints {drawn['p10']:.2f} to {drawn['p90']:.2f}" in said
    assert (f"from the paces of {len(rates)} past sprints ({rates[0]:.2f} to {rates[-1]:.2f}, "
            f"median {float(np.median(rates)):.2f})") in said  # fmt: skip
    # itsdangerous: paces 0.02 to 0.17, median 0.15; the lognormal fitted to them draws a
    # median near their geometric mean (0.08), which the line now says
    logs = np.log(rates)
    assert drawn["p50"] == pytest.approx(float(np.exp(logs.mean())), rel=0.15)
    # a forecast written before the drawn pace was kept: the line it had
    del res.report["throughput"]["simulated_sch_per_day"]
    said = " ".join(_text(res.report).split())
    assert f"Team pace: {float(np.median(rates)):.2f} SCH h finished per working day" in said
    assert f"median of {len(rates)} past sprints, {rates[0]:.2f} to {rates[-1]:.2f}" in said


def test_paired_model_tickets_widen_the_sprint_and_say_so(tmp_path: Path) -> None:
    """Tickets a model prices with paired draws (its errors on changes made close together
    are alike) keep that pairing through the forecast's resampling: the sprint's remaining
    range is wider than the same tickets' drawn independently, each ticket's own range is the
    same, and the correlation is stated in the JSON and under the table."""
    from standard_coder.forecasting import ModelPricing, PricingNotes

    def paired(tickets: list[Ticket]) -> dict[str, np.ndarray]:
        z = np.random.default_rng(0).standard_normal((len(tickets), 3000))
        common = np.random.default_rng(1).standard_normal(3000)
        return {t.id: np.exp(3.0 + 0.6 * (0.8 * common + 0.6 * z[i]))
                for i, t in enumerate(tickets)}  # fmt: skip

    def alone(tickets: list[Ticket]) -> dict[str, np.ndarray]:  # the same draws, unpaired
        got = paired(tickets)
        return {t: np.random.default_rng(k).permutation(v) for k, (t, v) in enumerate(got.items())}

    opts = ForecastOptions(n_sims=20_000)
    both = run_forecast(SPRINT, HISTORY, options=opts, out_dir=tmp_path / "p",
                        model_effort=ModelPricing(paired, 0.64, (), PricingNotes(4, 8)),
                        seed=3)  # fmt: skip
    apart = run_forecast(SPRINT, HISTORY, options=opts, out_dir=tmp_path / "a",
                         model_effort=alone, seed=3)  # fmt: skip
    model_tickets = [t for t in both.report["tickets"] if t["effort_source"] == "model"]
    assert len(model_tickets) >= 2
    width = {k: r.report["remaining_sch"]["p85"] - r.report["remaining_sch"]["p15"]
             for k, r in (("paired", both), ("apart", apart))}  # fmt: skip
    assert width["paired"] > 1.1 * width["apart"]
    for a, b in zip(both.report["tickets"], apart.report["tickets"], strict=True):
        assert abs(a["mean_remaining_sch"] - b["mean_remaining_sch"]) < 0.05 * (
            1 + b["mean_remaining_sch"]
        )
    assert both.report["effort_unit"]["model_correlation"] == 0.64
    assert both.report["effort_unit"]["model_changes"] == 8
    assert "model_correlation" not in apart.report["effort_unit"]
    # 8 changes at 0.64: sqrt(1 + 7 * 0.64) = 2.3 times as wide as independent
    line = " ".join(_text(both.report).split())
    assert "Model-priced tickets: their changes paired at the error correlation 0.64" in line
    assert "over 8 changes the range is about 2.3 times as wide" in line
    card = _card(json.loads(both.json_path.read_text()), "PAY-55", [])
    assert "error correlation 0.64" in card["unit"]
    assert "paired" not in (_card(json.loads(apart.json_path.read_text()), "x", [])["unit"])
    # a pricing that paired fewer than two tickets states no correlation
    one = run_forecast(SPRINT, HISTORY, options=opts, out_dir=tmp_path / "o",
                       model_effort=ModelPricing(paired, 0.64, (), PricingNotes(1, 3)),
                       seed=3)  # fmt: skip
    assert "model_correlation" not in one.report["effort_unit"]


def test_the_model_s_warnings_are_said_with_the_tickets_it_prices(tmp_path: Path) -> None:
    """An engineering lead's forecast said nothing of a model whose run summary warned "do
    not size or rank one": the pricing's caveats (the summary's warnings, read from
    ``sch_evaluation.json``) become forecast warnings naming the model-priced tickets."""
    from standard_coder.forecasting import ModelPricing
    from standard_coder.pipelines.sch_effort import model_caveats
    from standard_coder.pipelines.sch_warnings import warnings

    ev = {"n_train": 120, "spearman_sch": 0.31, "spearman_lines_added": 0.52,
          "binned_calibration_r2": -0.4}  # fmt: skip
    path = tmp_path / "sch_evaluation.json"
    path.write_text(json.dumps(ev))
    caveats = model_caveats(path)
    assert caveats == tuple(warnings(ev)) and len(caveats) >= 2
    assert model_caveats(None) == () and model_caveats(tmp_path / "missing.json") == ()
    res = run_forecast(SPRINT, HISTORY, options=ForecastOptions(n_sims=2_000),
                       out_dir=tmp_path / "f", model_effort=ModelPricing(_model, 0.0, caveats),
                       seed=3)  # fmt: skip
    (said,) = [w for w in res.report["warnings"] if w.startswith("the effort model that prices ")]
    priced = [t["id"] for t in res.report["tickets"] if t["effort_source"] == "model"]
    assert said.startswith(f"the effort model that prices {', '.join(priced)} is weak here: only")
    more = f"({len(caveats) - 1} more caveats about the model: the run summary's warnings, "
    assert said.endswith(more + "and effort_unit.model_warnings in the forecast's JSON)")
    assert res.report["effort_unit"]["model_warnings"] == list(caveats)
    plain = run_forecast(SPRINT, HISTORY, options=ForecastOptions(n_sims=2_000),
                         out_dir=tmp_path / "g", model_effort=_model, seed=3)  # fmt: skip
    assert not [w for w in plain.report["warnings"] if "effort model that prices" in w]
