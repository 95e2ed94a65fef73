"""Delivery metrics on held-out PRs, next to the SCH ones in ``sch_evaluation.json``.

* ``heldout_nll``: mean negative log-likelihood per PR on the ``log(1 + hours)`` axis
  (hours clipped to the bound); ``baseline_marginal_nll`` is the same for one normal fitted
  to the training PRs (no features): the model should be lower.
* ``coverage_80``: share of PRs whose (clipped) hours lie in the predicted 10-90 % interval.
* ``spearman``: rank correlation of the predicted median with the observed open -> merge
  hours; ``spearman_size_only`` ranks by lines changed instead (the size-only baseline);
  ``spearman_expected`` (simulated PRs) correlates with the simulator's noise-free time.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from standard_coder.runner.atomic import atomic_write_bytes
from standard_coder.sch.delivery.data import DeliveryData
from standard_coder.sch.delivery.distribution import DeliveryDistribution


def _rho(a: np.ndarray, b: np.ndarray) -> float | None:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
        return None
    return round(float(spearmanr(a[ok], b[ok]).statistic), 4)


def delivery_metrics(
    dist: DeliveryDistribution, test: DeliveryData, train: DeliveryData
) -> dict[str, Any]:
    """The metrics dict (module docstring) of ``dist`` (predicted for ``test``)."""
    n = len(test)
    out: dict[str, Any] = {"n_test_prs": n, "n_train_prs": len(train),
                           "bound_hours": dist.bound, "nll_axis": "log(1 + hours)"}  # fmt: skip
    if n == 0:
        return out
    hours = np.clip(test.hours, 0.0, dist.bound)
    q = dist.quantiles(np.array([0.1, 0.5, 0.9]))
    z_train = np.log1p(np.clip(train.hours, 0.0, dist.bound))
    mu, sd = float(z_train.mean()), max(float(z_train.std()), 1e-3)
    z = np.log1p(hours)
    marginal = 0.5 * ((z - mu) / sd) ** 2 + math.log(sd) + 0.5 * math.log(2 * math.pi)
    out.update(
        heldout_nll=round(float(-dist.log_prob(test.hours).mean()), 4),
        baseline_marginal_nll=round(float(marginal.mean()), 4),
        coverage_80=round(float(((hours >= q[:, 0]) & (hours <= q[:, 2])).mean()), 4),
        spearman=_rho(q[:, 1], hours),
        spearman_size_only=_rho(test.lines_changed, hours),
        median_hours_predicted=round(float(np.median(q[:, 1])), 3),
        median_hours_observed=round(float(np.median(hours)), 3),
    )
    if np.isfinite(test.expected_hours).any():
        out["spearman_expected"] = _rho(q[:, 1], test.expected_hours)
        out["spearman_expected_size_only"] = _rho(test.lines_changed, test.expected_hours)
    return out


def delivery_plot(dist: DeliveryDistribution, test: DeliveryData, path: Path) -> Path:
    """Predicted median (with the 10-90 % interval) against observed open -> merge hours."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    q = dist.quantiles(np.array([0.1, 0.5, 0.9]))
    hours = np.clip(test.hours, 0.0, dist.bound)
    fig = Figure(figsize=(5.5, 5))
    ax = fig.subplots()
    ax.errorbar(hours, q[:, 1], yerr=[q[:, 1] - q[:, 0], q[:, 2] - q[:, 1]], fmt="o", ms=3,
                alpha=0.6, lw=0.6, label="predicted median, 10-90 % interval")  # fmt: skip
    lo = max(0.1, float(min(hours.min(initial=1.0), q[:, 0].min(initial=1.0))))
    hi = float(max(hours.max(initial=1.0), q[:, 2].max(initial=1.0)))
    ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="predicted = observed")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("observed open -> merge hours (held-out PRs)")
    ax.set_ylabel("predicted delivery hours")
    ax.set_title("Delivery effort on held-out pull requests")
    ax.legend(loc="upper left")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return atomic_write_bytes(path, buf.getvalue())
