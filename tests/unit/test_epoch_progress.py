"""A training bar in a log (no terminal) ends with the fit's last epoch, early stopping too."""

from __future__ import annotations

import io
from types import SimpleNamespace

from standard_coder.pipelines.sch_progress import EpochProgress
from standard_coder.runner.progress import ProgressDisplay
from standard_coder.sch.predictors.train import TrainResult


def _fitted(epochs_run: int, stopped: str) -> SimpleNamespace:
    result = TrainResult(best_val=0.5, best_epoch=epochs_run - 8, epochs_run=epochs_run,
                         steps=epochs_run, stopped=stopped)  # fmt: skip
    return SimpleNamespace(regressor_=SimpleNamespace(train_result_=result))


def test_an_early_stopped_fit_says_its_last_epoch_in_a_log() -> None:
    # colorama's log read "training LOC baseline (epochs): 0/60" and then "[done]": the fit
    # stopped early at epoch 26 within the 5 s between two plain lines, and never said so
    out = io.StringIO()
    display = ProgressDisplay(enabled=False, stream=out)
    bar = display.task(60, "training LOC baseline (epochs)")
    progress = EpochProgress(SimpleNamespace(every_n_steps=200), bar, "LOC baseline", 60)
    progress.finish(_fitted(26, "early_stopping"))
    assert out.getvalue().splitlines() == [
        "  training LOC baseline (epochs): 0/60",
        "  training LOC baseline: stopped at epoch 26 of 60 (early stopping): 26/26",
    ]


def test_a_fit_that_ran_every_epoch_or_none_is_left_as_it_was() -> None:
    out = io.StringIO()
    bar = ProgressDisplay(enabled=False, stream=out).task(60, "training mdn (epochs)")
    progress = EpochProgress(SimpleNamespace(every_n_steps=200), bar, "mdn", 60)
    progress.finish(_fitted(60, "completed"))
    progress.finish(SimpleNamespace())  # a model fitted in closed form: no training result
    assert out.getvalue().splitlines() == ["  training mdn (epochs): 0/60"]


def test_a_fit_in_closed_form_says_what_was_fitted_in_a_log() -> None:
    # the LOC baseline of an auto run is fitted like the model (session 41): no epoch moves its
    # bar, which says what auto chose instead of ending at 0/60
    out = io.StringIO()
    bar = ProgressDisplay(enabled=False, stream=out).task(60, "training LOC baseline (epochs)")
    progress = EpochProgress(SimpleNamespace(every_n_steps=200), bar, "LOC baseline", 60)
    model = _fitted(1, "closed_form")
    model.selection_ = {"chosen": "shift_w0"}
    progress.finish(model)
    assert out.getvalue().splitlines()[-1] == (
        "  training LOC baseline: shift_w0, fitted in closed form (one step, no epochs): 1/1"
    )
