"""Plain-language warnings about an effort model's evaluation (``sch_evaluation.json``): what
a user should not trust it for, and why. The run summary, the report's evaluation section,
``eval`` and a forecast whose tickets the model prices all say these same sentences."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from standard_coder.runner.report.kit import num as _num

MIN_TRAIN_CHANGES = 200
"""Below this many training changes the model's numbers are mostly noise."""


NEAR_ZERO_SPEARMAN = 0.1
"""SCH's held-out Spearman under which a ranking that cannot be told from chance is said to
follow nothing of the change (above it, the held-out changes are too few to tell)."""
MERGE_STAMPED_SHARE = 0.25
"""Share of merge-stamped held-out changes from which the summary warns."""
AGENT_ASSISTED_SHARE = 0.10
"""Share of held-out changes an AI coding agent helped write from which the summary says so."""


def warnings(ev: Mapping[str, Any]) -> list[str]:
    """Plain-language warnings about an evaluation (``sch_evaluation.json``); empty when fine."""
    out: list[str] = []
    n_train = _num(ev.get("n_train"))
    if n_train is not None and n_train < MIN_TRAIN_CHANGES:
        out.append(
            f"only {int(n_train)} changes to train on (fewer than {MIN_TRAIN_CHANGES}): the "
            "model's numbers are mostly noise; mine more history or more repositories"
        )
    n_test, n_normal = _num(ev.get("n_test")), _num(ev.get("n_test_normal"))
    if n_test and not n_normal:  # every figure is "-": say why rather than leave dashes
        kinds = ev.get("label_kinds") or {}
        which = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in kinds.items() if v) or "none"
        out.append(
            f"none of the {int(n_test)} held-out changes has a normal-interval label ({which}: "
            "a first commit or one after a long gap has no coding time to measure), so no "
            "figure can be computed; mine more history"
        )
    sure = ev.get("target_intervals") or {}
    sch, lines = _num(ev.get("spearman_sch")), _num(ev.get("spearman_lines_added"))
    ranking = sure.get("sch_above_lines_added") or {}
    chance = sure.get("sch_ranks_above_chance") or {}
    by_chance = sch is not None and chance.get("verdict") in ("undecided", "missed")
    if sch is not None and lines is not None and sch < lines:
        if ranking.get("verdict") == "undecided":
            if not by_chance:  # else said with the chance sentence below, as one
                out.append(
                    f"the model ranks changes no better than counting lines added here "
                    f"(Spearman {sch:.2f} against {lines:.2f}), though {changes_counted(sure)} "
                    f"cannot tell the two apart{_paren(interval_words(ranking))}"
                )
        else:
            difference = _lead("; the difference's", interval_words(ranking))
            out.append(
                f"the model ranks changes worse than counting lines added (Spearman {sch:.2f} < "
                f"{lines:.2f}{difference}): its estimates add nothing over lines of code here"
            )
    near_zero = False  # the labels follow nothing the model sees of a change
    if sch is not None and by_chance:
        near_zero = sch < NEAR_ZERO_SPEARMAN
        where = "is below chance" if chance["verdict"] == "missed" else "cannot be told from chance"
        figure = f"(Spearman {sch:.2f}{_lead(',', interval_words(chance))}"
        if lines is not None and sch < lines and ranking.get("verdict") == "undecided":
            # nor, within the same noise, from lines added, which ranks higher: one sentence
            difference = _lead("; the difference's", interval_words(ranking))
            joined = ") nor from" if chance["verdict"] == "undecided" else "), no better than"
            figure += f"{joined} counting lines added ({lines:.2f}{difference})"
        elif lines is not None:
            figure += f"; lines added {lines:.2f})"
        else:
            figure += ")"
        why = (
            "here the inferred coding time barely follows what a change holds, so a single "
            "change's estimate says little"
            if near_zero
            else "more held-out history would tell; until then take a single change's "
            "estimate as rough"
        )
        out.append(f"on {changes_counted(sure)} the model's ranking {where} {figure}: {why}")
    kinds = ev.get("label_kinds") or {}
    stamped, n_test = _num(kinds.get("merge_stamped")), _num(ev.get("n_test"))
    if stamped is not None and n_test and stamped / n_test >= MERGE_STAMPED_SHARE:
        out.append(
            f"{stamped / n_test:.0%} of the held-out changes are GitHub squash merges: their "
            "commit time is when the pull request was merged, not when it was written, so the "
            "coding time between commits is unknown for them; the metrics leave them out"
            f" (they are scored on the {int(_num(ev.get('n_test_normal')) or 0)} held-out "
            "changes with a normal-interval label). Fetch the pull requests' commits and the "
            "next run times them: in each repository of [repos], git fetch origin "
            "'+refs/pull/*/head:refs/pull/*/head'"
        )
    assisted = _num(kinds.get("agent_assisted"))
    if assisted is not None and n_test and assisted / n_test >= AGENT_ASSISTED_SHARE:
        out.append(
            f"{assisted / n_test:.0%} of the held-out changes were written with an AI coding "
            "agent (a Co-authored-by trailer names one): their commit times time a person "
            "directing the agent, not writing the change, so the model neither learns from "
            "nor is scored on them (the metrics are scored on the "
            f"{int(_num(ev.get('n_test_normal')) or 0)} held-out changes with a normal-interval "
            "label)"
        )
    nll, loc = _num(ev.get("heldout_nll")), _num(ev.get("baseline_loc_heldout_nll"))
    nll_sure = sure.get("nll_below_loc") or {}
    if nll is not None and loc is not None and nll > loc and nll_sure.get("verdict") == "missed":
        low, high = _num(nll_sure.get("low")), _num(nll_sure.get("high"))
        # the interval is of the LOC baseline's NLL minus the model's (the "How sure" line's
        # figure): turned round and said as "worse", so no sign is read two ways
        worse = (
            f": {nll - loc:.2f} worse, 90% interval {-high:.2f} to {-low:.2f}"
            if low is not None and high is not None
            else ""
        )
        out.append(
            f"the predicted hour ranges fit the held-out changes worse than the LOC baseline's, "
            f"a model of lines added and deleted alone (NLL {nll:.2f} against {loc:.2f}{worse}): "
            "take the ranges, and forecasts drawn from them, as rough here"
        )
    cov = _num(ev.get("coverage_80"))
    if cov is not None and (sure.get("coverage_80_in_0_70_0_90") or {}).get("verdict") == "missed":
        side = "too narrow" if cov < 0.70 else "too wide"
        out.append(
            f"the 80% ranges hold {cov:.0%} of the held-out changes' inferred coding time: "
            f"they are {side}{_paren(interval_words(sure['coverage_80_in_0_70_0_90']))}"
        )
    r2 = _num(ev.get("binned_calibration_r2"))
    if r2 is not None and r2 < 0:
        calibration = sure.get("calibration_r2_positive") or {}
        noise = (
            f"; {changes_counted(sure)} cannot say whether that is more than noise"
            if calibration.get("verdict") == "undecided"
            else ""
        )
        advice = "" if near_zero else "; treat the estimates as a ranking at best"
        out.append(
            f"calibration is negative (binned R² {r2:.2f}"
            f"{_lead(',', interval_words(calibration))}): predicted hours do not track the "
            f"inferred coding time{advice}{noise}" + _sparser(ev)
        )
    return out


def changes_counted(sure: dict[str, Any]) -> str:
    """``"53 held-out changes"`` (how many the intervals were drawn from)."""
    n = sure.get("n")
    return f"{n} held-out changes" if isinstance(n, int) else "the held-out changes"


def interval_words(target: dict[str, Any]) -> str:
    """``"90% interval -0.21 to 0.02"``: a target's bootstrap interval; ``""`` without one."""
    low, high = _num(target.get("low")), _num(target.get("high"))
    if low is None or high is None:
        return ""
    return f"90% interval {interval_end(low)} to {interval_end(high)}"


def interval_end(x: float, *, signed: bool = False, digits: int = 2) -> str:
    """An interval's end (or a target's figure) to ``digits`` decimals, or to one significant
    digit when that would read as zero (``-0.0009``, not ``-0.00``: which side of 0 it is on is
    the verdict); ``signed``: with its sign, ``+`` too (a difference)."""
    sign = "+" if signed else ""
    near_zero = 0 < abs(x) < 0.5 * 10.0**-digits
    return f"{x:{sign}.1g}" if near_zero else f"{x:{sign}.{digits}f}"


def _paren(text: str) -> str:
    return f" ({text})" if text else ""


def _lead(lead: str, text: str) -> str:
    return f"{lead} {text}" if text else ""


SPARSER_BY = 0.05
"""Drop in the share of short intervals from which the calibration warning names it."""

SHIFT_SHARE = 0.2
"""Least share of the calibration's level error (SCH under the actual per bin) that the rise of
the held-out period's actual must be for the warning to name the shift as part of the miss."""


def _sparser(ev: Mapping[str, Any]) -> str:
    """Why calibration may miss, when the held-out period's commits are sparser (``""`` if not):
    only when its actual rose, and, where the level error is known, when SCH falls short of the
    actual (the direction the shift pulls) by no more than the rise can be a fair part of."""
    shift = ev.get("held_out_shift") or {}
    fit, held = (_num(shift.get(f"share_short_intervals_{k}")) for k in ("fitted", "held_out"))
    a_fit, a_held = (_num(shift.get(f"mean_actual_{k}")) for k in ("fitted", "held_out"))
    if fit is None or held is None or a_fit is None or a_held is None:
        return ""
    if fit - held < SPARSER_BY or a_held <= a_fit:
        return ""
    rise, bias = a_held - a_fit, _num(ev.get("binned_calibration_bias"))
    if bias is not None and (bias >= 0 or rise < SHIFT_SHARE * -bias):
        return ""  # SCH above the actual, or the rise too small a part of how far it is under
    d = 2 if rise >= 0.05 else 3  # 0.474 against 0.462, not 0.47 against 0.46
    part = (
        f": that rise is {min(rise / -bias, 1.0):.0%} of the {-bias:.{d}f} h by which SCH falls "
        "short of the actual per bin, the part of the miss no model of the change alone can see"
        if bias is not None
        else ": part of the miss is that shift, which no model of the change alone can see"
    )
    return (
        f". The held-out period's commits are sparser ({held:.0%} of its intervals under an "
        f"hour, {fit:.0%} before), and the inferred coding per change, which grows with the "
        f"time between commits, is higher ({a_held:.{d}f} h on average, at most an hour a "
        f"change counted, against {a_fit:.{d}f} h before){part}"
    )
