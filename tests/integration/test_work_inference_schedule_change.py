"""Paper Fig. 4: a schedule change after 13 weeks (mirrored morning/afternoon) is picked up.

The change is in the lengths of coding bouts (long in the morning, then in the afternoon), so
it shows in the chain's probability that coding stops, which follows the clock only where the
break probability does: ``[training.hmm] break_by_clock``. The default's one learned break
rate leaves the stop table flat inside the working day and labels this author as accurately
(r 0.810 against 0.813, seed 0; docs/work-inference.md, "One break rate for the whole week").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from standard_coder.sch.teamsim.team import TeamSpec, load_truth, simulate_team
from standard_coder.sch.work_inference import (
    HMMOptions,
    NeuralHMM,
    WorkInferenceOptions,
    histories_from_truth,
    make_model,
)

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def test_schedule_switch_after_13_weeks_is_learned(tmp_path: Path) -> None:
    res = simulate_team(tmp_path, TeamSpec(n_authors=1, weeks=26, switch_after_weeks=13), seed=0)
    (h,) = histories_from_truth(load_truth(res.truth_path)).values()
    span_days = float(h.times[-1] - h.times[0]) / 86400
    options = WorkInferenceOptions(hmm=HMMOptions(break_by_clock=True))
    model = make_model("hmm", options, random_state=0, span_days=span_days)
    assert isinstance(model, NeuralHMM) and model.time_bins >= 3
    model.fit(h.times, h.tz_offsets)
    k = model.time_bins
    # a coding minute stops: the session ends (E) or, with the break state (the default),
    # coding breaks off inside it (b, here per grid cell)
    assert model.b_table_ is not None
    stop = (model.e_table_ + (1 - model.e_table_) * model.b_table_).reshape(10080, k)
    start = model.s_table_.reshape(10080, k)
    week = np.arange(10080)
    tod, weekday = week % 1440, week // 1440 < 5
    morning = weekday & (tod >= 570) & (tod < 690)  # 9:30-11:30 local
    afternoon = weekday & (tod >= 780) & (tod < 990)  # 13:00-16:30 local
    night = weekday & (tod < 6 * 60)
    # first regime: long morning blocks (mean 50) -> stops rarer in the morning
    assert stop[morning, 0].mean() < stop[afternoon, 0].mean()
    # mirrored regime: long afternoon blocks -> stops rarer in the afternoon
    assert stop[morning, k - 1].mean() > stop[afternoon, k - 1].mean()
    # office hours are learned in both regimes
    for b in (0, k - 1):
        assert start[morning, b].mean() > 10 * start[night, b].mean()
