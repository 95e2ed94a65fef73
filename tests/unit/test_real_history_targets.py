"""``benchmarks/real_history.py`` says which of issue 12's targets each repository meets."""

from __future__ import annotations

from pathlib import Path

from tests.benchmodule import load_benchmark

bench = load_benchmark("real_history")


def test_targets_and_their_count() -> None:
    ev = {"spearman_sch": 0.42, "spearman_lines_added": 0.37, "heldout_nll": 1.09,
          "baseline_loc_heldout_nll": 1.15, "coverage_80": 0.803,
          "binned_calibration_r2": 0.64}  # fmt: skip
    row = bench.table_row("click", ev)
    assert row["targets"] == {"sch_above_lines_added": True, "nll_below_loc": True,
                              "coverage_80_in_0_70_0_90": True,
                              "calibration_r2_positive": True}  # fmt: skip
    assert bench._met(row) == "4/4"
    ev.update(spearman_sch=None, spearman_lines_added=None, coverage_80=0.901,
              binned_calibration_r2=-0.07)  # fmt: skip
    row = bench.table_row("typer", ev)
    assert row["targets"]["sch_above_lines_added"] is None  # undefined: not counted
    assert row["targets"]["coverage_80_in_0_70_0_90"] is False
    assert bench._met(row) == "1/3"


def test_the_a_b_flag_switches_pull_request_times_off_in_a_valid_config(tmp_path: Path) -> None:
    from standard_coder.config.schema import load_config

    for on in (True, False):
        path = tmp_path / f"{on}.toml"
        path.write_text(bench.config_text(tmp_path, quick=True, max_commits=None, workers=1,
                                          pull_times=on))  # fmt: skip
        assert load_config(path).repos.pull_request_times is on
