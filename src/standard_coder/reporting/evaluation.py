"""The "Evaluation" report section of the ``sch`` pipeline: the effort model against the
LOC-only baseline (``reports/sch_evaluation.json``), Spearman correlations (the paper's
Table I), work inference against the simulated truth, other JSON reports (e.g. the forecast
backtest), ``standard-coder eval`` runs and the figures in ``reports/``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from standard_coder.pipelines.sch_layout import EVALUATION_FILE, SchLayout
from standard_coder.pipelines.sch_summary import DIFFERENCES, figure_meets
from standard_coder.pipelines.sch_warnings import interval_end, warnings
from standard_coder.reporting.forecasts import BACKTEST_FILE, backtest_view
from standard_coder.runner.jsonfile import read_json_object_or_none
from standard_coder.runner.report import ReportSection, SectionInput
from standard_coder.runner.report.kit import figures, flatten, fmt_value, label, num
from standard_coder.runner.report.kit import render as render_template

PACKAGE = "standard_coder.reporting"
BASELINE_PREFIX = "baseline_loc_"
_LOWER_BETTER = ("nll", "crps", "mae", "rmse", "brier", "loss", "pinball")
_HIGHER_BETTER = ("r2", "spearman", "pearson", "accuracy", "skill")
_TILES = {  # the counts' tiles, in this order; another n_* key follows, its name spaced
    "n_train": "changes fitted",
    "n_validation": "changes for early stopping",
    "n_test": "held-out changes",
    "n_test_normal": "held out, normal interval (the figures below)",
    "n_test_pooled": "held out, of authors in the pooled work-inference model",
    "n_test_r3": "held out, normal, raw interval under 1 h (R3 calibration)",
    "n_test_r3_all": "held out, raw interval under 1 h (R3, every change)",
}

_METRICS = {  # the calibration extras in words; another row is its key spaced
    "binned_calibration_r2": "binned calibration R² (paper Fig. 6)",
    "binned_calibration_r2_centered": "binned calibration R², its level error taken off",
    "binned_calibration_r2_r3": "binned calibration R², the paper's R3 (changes whose raw "
    "commit interval is under 1 h, scored against that interval, not the inferred coding time)",
    "binned_calibration_bias": "calibration level error, SCH minus actual (h per bin)",
    "binned_calibration_slope": "calibration slope, actual on SCH per bin (1: SCH spreads as "
    "the actual does)",
    "calibration_bins": "calibration bins",
    "calibration_bins_r3": "calibration bins, R3",
    "mean_sch": "mean SCH per change (h)",
}

_PREDICTORS = {  # the Spearman table's rows that are no count: another row is its key spaced
    "mean": "the model's mean, not truncated at 1 h (SCH is)",
}

_TITLES = {
    "work_inference_pearson_vs_truth": "Work inference against the simulated truth (Pearson r)",
    "left_out": "Not counted as work: generated and formatting-only files (and their lines added)",
    "label_kinds": "Held-out changes by label kind (only normal intervals are scored)",
    "held_out_shift": (
        "How the held-out period differs from the fitted one (share of intervals under an hour;"
        " mean inferred coding per change, hours, at most 1 h counted)"
    ),
    "model_selection": 'Which effort model predictor = "auto" chose, on the validation split',
    "shift_fit": "The location-shift model as fitted (log-hours location, SCH map)",
    "distribution_pool": "The predictive distribution pooled with a size-only MDN",
    "totals": (
        "Ranges of totals: how often the 80 % range of the total of a window of consecutive"
        " held-out changes held their total, their draws paired at the model's error"
        " correlation and as if independent (a handful of windows says little)"
    ),
}
TARGETS = {
    "sch_above_lines_added": "SCH ranks above lines added (Spearman difference > 0)",
    "nll_below_loc": "NLL below the LOC baseline (baseline minus model > 0)",
    "coverage_80_in_0_70_0_90": "80% interval coverage in 0.70–0.90",
    "calibration_r2_positive": "binned calibration R² > 0",
    "sch_ranks_above_chance": "SCH ranks above chance (its Spearman > 0)",
}
"""The targets of ``target_intervals`` (``sch/target_intervals.py``), in words (the last is
not one of issue 12's: what the chance warning reads)."""


def _figure(value: Any, *, signed: bool = False) -> str:
    """A target's figure or interval end to three decimals, near 0 to one significant digit
    (``-0.0009``, not ``-9.000e-04``: the side of 0 is the verdict); "—" without one."""
    x = num(value)
    return "—" if x is None else interval_end(x, signed=signed, digits=3)


def _targets(sure: Any) -> dict[str, Any] | None:
    """``target_intervals`` as table rows: target, figure, interval, verdict; None without."""
    if not isinstance(sure, Mapping):
        return None
    rows = [
        {
            "label": text,
            "value": _figure(t.get("value"), signed=key in DIFFERENCES),
            "low": _figure(t.get("low")),
            "high": _figure(t.get("high")),
            "verdict": str(t.get("verdict", "")),
            # an undecided target's figure is still on one side of it: say which
            "figure_met": None if (v := num(t.get("value"))) is None else figure_meets(key, v),
        }
        for key, text in TARGETS.items()
        if isinstance(t := sure.get(key), Mapping)
    ]
    if not rows:
        return None
    level = num(sure.get("level"))
    return {"rows": rows, "n": sure.get("n"), "level": f"{level:.0%}" if level else "90%"}


def nominal_coverage(metric: str) -> str | None:
    """The nominal level of a coverage key, in percent: ``coverage_80`` and its every-change
    twin ``coverage_80_all`` are "80"; None for any other key."""
    m = re.fullmatch(r"coverage_(\d+)(?:_all)?", metric.lower())
    return m[1] if m else None


def better(metric: str, model: float, base: float) -> bool | None:
    """Is the model better than the baseline on ``metric``? None when the metric has no sense."""
    m = metric.lower()
    if m.startswith("coverage_"):
        level = nominal_coverage(m)
        if level is None:
            return None
        nominal = float(level) / 100.0
        return abs(model - nominal) < abs(base - nominal)
    if any(t in m for t in _LOWER_BETTER):
        return model < base
    if any(t in m for t in _HIGHER_BETTER):
        return model > base
    return None


ALL_SUFFIX = "_all"
"""The same metric over every held-out change (issue 12: the plain key is normal intervals')."""


def _twin(doc: Mapping[str, Any], key: str) -> str | None:
    """``key``'s every-change twin (``key + "_all"``) when ``doc`` has a number there."""
    twin = key + ALL_SUFFIX
    return twin if num(doc.get(twin)) is not None else None


def _corr(value: float | None) -> float | None:
    """A correlation as the report shows it: three decimals (None stays None)."""
    return None if value is None else round(value, 3)


def _model_vs_baseline(doc: Mapping[str, Any]) -> dict[str, Any]:
    order = {k: i for i, k in enumerate(_TILES)}
    tiles = sorted(
        ((k, v) for k, v in doc.items() if k.startswith("n_") and num(v) is not None),
        key=lambda kv: (order.get(kv[0], len(order)), kv[0]),
    )
    used: set[str] = {k for k, _ in tiles}
    # a metric and its every-change twin share a row: the twin is not a row of its own
    twins = {t for k in doc if not k.endswith(ALL_SUFFIX) and (t := _twin(doc, k))}
    rows: list[dict[str, Any]] = []
    for key in sorted(doc):
        if key.startswith(BASELINE_PREFIX) or key in used or key.startswith("spearman_"):
            continue
        if key in twins:
            continue
        model = num(doc[key])
        if model is None:
            continue
        base = num(doc.get(BASELINE_PREFIX + key))
        twin = _twin(doc, key)
        used.update({key, BASELINE_PREFIX + key})
        if twin:
            used.update({twin, BASELINE_PREFIX + twin})
        rows.append(
            {
                "label": _METRICS.get(key, label(key)),
                "nominal": nominal_coverage(key),
                "model": model,
                "base": base,
                "verdict": better(key, model, base) if base is not None else None,
                # figures that read the same are level, whichever digit beyond them differs
                "level": base is not None and fmt_value(model) == fmt_value(base),
                "model_all": num(doc[twin]) if twin else None,
                "base_all": num(doc.get(BASELINE_PREFIX + twin)) if twin else None,
            }
        )
    sp = [(k, num(doc[k])) for k in doc if k.startswith("spearman_")]
    used.update(k for k, _ in sp)
    ranked = sorted(
        ((k, v) for k, v in sp if v is not None and k not in twins), key=lambda kv: -kv[1]
    )
    sp_base = {k: num(doc.get(BASELINE_PREFIX + k)) for k, _ in ranked}
    used.update(BASELINE_PREFIX + k for k, b in sp_base.items() if b is not None)
    # the baseline's every-change figure sits in the row too, not under "Other metrics"
    sp_base_all = {k: num(doc.get(BASELINE_PREFIX + k + ALL_SUFFIX)) for k, _ in ranked}
    used.update(BASELINE_PREFIX + k + ALL_SUFFIX for k, b in sp_base_all.items() if b is not None)
    spearman = [  # correlations to three decimals: -0.0002 is "-0.000", not "-2.484e-04"
        {
            "label": _PREDICTORS.get(k[len("spearman_") :], label(k[len("spearman_") :])),
            "value": _corr(v),
            "width": f"{max(0.0, min(100.0, abs(v) * 100)):.0f}",
            "base": _corr(sp_base[k]),
            "all": _corr(num(doc[twin])) if (twin := _twin(doc, k)) else None,
            "base_all": _corr(sp_base_all[k]),
        }
        for k, v in ranked
    ]
    groups = []
    used.add("target_intervals")  # a table of its own
    for key in sorted(k for k, v in doc.items() if k not in used and isinstance(v, dict)):
        used.add(key)
        note = selection_words(doc[key]) if key == "model_selection" else None
        pairs = [(label(k), v) for k, v in flatten(doc[key])]
        groups.append((_TITLES.get(key, label(key)), note, pairs))
    used.add("plots")  # the plots themselves are embedded below
    rest = [(label(k), v) for k, v in flatten({k: v for k, v in doc.items() if k not in used})]
    return {
        "tiles": [(_TILES.get(k, label(k)), fmt_value(v), "") for k, v in tiles],
        "rows": rows,
        "rows_all": any(r["model_all"] is not None for r in rows),
        "spearman": spearman,
        "spearman_all": any(r["all"] is not None for r in spearman),
        "spearman_base": any(b is not None for b in sp_base.values()),
        "spearman_base_all": any(b is not None for b in sp_base_all.values()),
        "groups": groups,
        "rest": rest,
        "targets": _targets(doc.get("target_intervals")),
        # the end-of-run summary's plain-language warnings: the page a lead shares says them too
        "warnings": warnings(doc),
    }


def selection_words(ms: Any) -> str | None:
    """Why ``predictor = "auto"`` chose what it chose, in one sentence (``model_selection``'s
    numbers say it only to a reader who knows the rule); None without a selection."""
    if not isinstance(ms, Mapping) or not isinstance(ms.get("validation"), Mapping):
        return None
    scores = {k: v for k, v in ms["validation"].items() if isinstance(v, Mapping)}
    rho = {k: r for k, v in scores.items() if (r := num(v.get("spearman"))) is not None}
    nll = {k: x for k, v in scores.items() if (x := num(v.get("nll"))) is not None}
    chosen, n = ms.get("chosen"), ms.get("n_validation")
    if chosen not in rho or len(rho) < 2:
        return None
    top = max(rho, key=lambda k: rho[k])
    on = f"the {n} validation changes" if isinstance(n, int) else "the validation changes"
    rule = ms.get("rule", "spearman_se")  # an evaluation made before the key: the default's
    if rule == "nll" and chosen in nll:
        others = "; ".join(f"{k} {x:.3f}" for k, x in nll.items() if k != chosen)
        return (f"{chosen} chosen: it fitted {on} best (NLL {nll[chosen]:.3f}; {others}; "
                f"the rule is nll).")  # fmt: skip
    if top == chosen:
        others = "; ".join(f"{k} {r:.3f}" for k, r in rho.items() if k != chosen)
        return f"{chosen} chosen: it ranked {on} best (Spearman {rho[chosen]:.3f}; {others})."
    if rule == "both" and top in nll and nll:
        best = min(nll, key=lambda k: nll[k])
        slack = num(ms.get("nll_slack"))
        allows = f"{slack:g} " if slack is not None else ""
        return (f"{chosen} chosen: {top} ranked {on} better (Spearman {rho[top]:.3f} against "
                f"{rho[chosen]:.3f}) but fitted them more than the {allows}NLL the rule both "
                f"allows above the best fit ({top} {nll[top]:.3f}, {best} "
                f"{nll[best]:.3f}).")  # fmt: skip
    said = (f"{chosen} kept: {top} ranked {on} better (Spearman {rho[top]:.3f} against "
            f"{rho[chosen]:.3f})")  # fmt: skip
    margin, se = num(ms.get("margin_spearman")), num(ms.get("margin_se"))
    why = []
    if margin is not None and se is not None and rho[top] - rho[chosen] <= margin:
        why.append(f"by less than the lead a switch from it needs ({se:g} standard errors: "
                   f"{margin:.3f})")  # fmt: skip
    if top in nll and chosen in nll and nll[top] > nll[chosen]:
        why.append(f"fitted them worse (NLL {nll[top]:.3f} against {nll[chosen]:.3f})")
    return said + (", but " + " and ".join(why) if why else "") + "."


EVAL_RUN_FIGURES = (
    ("n_test_normal", "changes"),
    ("spearman_sch", "Spearman SCH"),
    ("spearman_lines_added", "Spearman lines added"),
    ("heldout_nll", "NLL"),
    ("baseline_loc_heldout_nll", "LOC baseline NLL"),
    ("coverage_80", "80% coverage"),
    ("binned_calibration_r2", "calibration R²"),
)
"""The figures the table of ``eval`` runs shows, the run summary's (every one stays in each
run's ``metrics.json``); the first ten keys in alphabetical order were all the baseline's."""


def _eval_runs(base_dir: Path) -> dict[str, Any] | None:
    """``standard-coder eval`` results: ``<base_dir>/eval/<eval_id>/metrics.json``, each with
    which checkpoint it scored (and whether that file has been retrained since) and on what."""
    layout = SchLayout(base_dir)
    files = sorted(layout.eval_runs.glob("*/metrics.json"))
    rows: list[tuple[str, str, str, list[Any]]] = []
    now: dict[str, str | None] = {}  # a checkpoint path -> the sha256 of the file there now
    for path in files[-20:]:
        doc = read_json_object_or_none(path)
        if not isinstance(doc, dict):
            continue
        rows.append((path.parent.name, _scored_model(doc, now), _scored_on(doc),
                     [doc.get(k) if num(doc.get(k)) is not None else None
                      for k, _ in EVAL_RUN_FIGURES]))  # fmt: skip
    if not rows:
        return None
    return {"keys": [name for _, name in EVAL_RUN_FIGURES], "rows": rows}


def _scored_model(doc: Mapping[str, Any], now: dict[str, str | None]) -> str:
    """The checkpoint's ``models/<name>`` folder name (``auto``, ``baseline_loc``), and
    ``(retrained since)`` when the file at its path is no longer the one scored."""
    import hashlib

    given = doc.get("checkpoint")
    if not isinstance(given, str):
        return "?"
    where = Path(given)
    name = where.parent.name or where.name
    if given not in now:
        try:
            now[given] = hashlib.sha256(where.read_bytes()).hexdigest()
        except OSError:
            now[given] = None
    sha = doc.get("checkpoint_sha256")
    if isinstance(sha, str) and now[given] is not None and now[given] != sha:
        return f"{name} (retrained since)"
    return name if now[given] is not None or not isinstance(sha, str) else f"{name} (gone)"


def _scored_on(doc: Mapping[str, Any]) -> str:
    """``held-out (test)`` or the repositories given (``--repos``), by folder name."""
    repos = doc.get("repos")
    if isinstance(repos, list) and repos:
        names = [Path(str(r)).name for r in repos]
        return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    split = doc.get("split")
    return str(split) if isinstance(split, str) else "?"


def render_evaluation(given: SectionInput) -> str:
    """The section body (or a line saying there is no evaluation yet)."""
    reports = SchLayout(given.base_dir).reports
    doc = read_json_object_or_none(reports / EVALUATION_FILE)
    pngs = sorted(reports.glob("*.png")) if reports.is_dir() else []
    others = sorted(reports.glob("*.json")) if reports.is_dir() else []
    layout = SchLayout(given.base_dir)
    # the Team output section shows these as sentences and tables of its own
    elsewhere = {EVALUATION_FILE, layout.team_output_people.name, layout.team_output_reapplied.name}
    others = [p for p in others if p.name not in elsewhere]
    runs = _eval_runs(given.base_dir)
    if not isinstance(doc, dict) and not pngs and not others and runs is None:
        return render_template(PACKAGE, "evaluation.html.j2", absent=str(reports / EVALUATION_FILE))
    extras = []
    for extra in others:
        data = read_json_object_or_none(extra)
        if extra.name == BACKTEST_FILE and backtest_view(data) is not None:
            continue  # the Sprint forecasts section shows it as a table
        if isinstance(data, dict) and data:
            extras.append((extra.stem.replace("_", " "), [(label(k), v) for k, v in flatten(data)]))
    return render_template(
        PACKAGE,
        "evaluation.html.j2",
        absent=None,
        doc=_model_vs_baseline(doc) if isinstance(doc, dict) else None,
        extras=extras,
        runs=runs,
        figures=figures(pngs),
    )


SECTION = ReportSection("Evaluation", render_evaluation)
