"""``benchmarks/compare_real_history.py`` pairs two sets of ``real_history.py`` runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.benchmodule import load_benchmark

cmp = load_benchmark("compare_real_history")


def _row(repo: str, sch: float, la: float, nll: float = 1.0, cov: float = 0.8,
         r2: float = 0.2) -> dict[str, object]:  # fmt: skip
    return {"repo": repo, "spearman_sch": sch, "spearman_lines_added": la, "heldout_nll": nll,
            "baseline_loc_heldout_nll": 1.1, "coverage_80": cov, "binned_calibration_r2": r2,
            "n_test_normal": 50}  # fmt: skip


def _log(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("a table first\n" + json.dumps({"repositories": rows}) + "\n")
    return path


def test_pairs_histories_by_name_and_counts_flips(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _log(tmp_path / "before.log", [
        _row("a", 0.30, 0.20), _row("b", 0.10, 0.20, cov=0.95), _row("c", 0.40, 0.10),
        _row("gone", 0.5, 0.1), {"repo": "failed", "error": "exit 1"},
    ])  # fmt: skip
    # the after set comes from a --work-dir folder: NN-name/sc-output/reports/...
    work = tmp_path / "runs"
    for i, row in enumerate([_row("a", 0.25, 0.20), _row("b", 0.30, 0.20, r2=-1.0),
                             _row("c", 0.45, 0.10), _row("new", 0.2, 0.1)]):  # fmt: skip
        ev = work / f"{i:02d}-{row['repo']}" / "sc-output" / "reports" / "sch_evaluation.json"
        ev.parent.mkdir(parents=True)
        ev.write_text(json.dumps(row))
    assert cmp.main([str(before), str(work)]) == 0
    text = capsys.readouterr().out
    out = json.loads(text.strip().splitlines()[-1])
    assert out["histories"] == 3
    assert (out["only_before"], out["only_after"]) == (["gone"], ["new"])
    assert out["flips"]["sch_above_lines_added"] == {"gained": ["b"], "lost": []}
    assert out["flips"]["coverage_80_in_0_70_0_90"] == {"gained": ["b"], "lost": []}
    assert out["flips"]["calibration_r2_positive"] == {"gained": [], "lost": ["b"]}
    met = out["targets_met"]
    assert (met["before"]["total"], met["after"]["total"]) == (10, 11)
    margin = out["paired"]["sch_minus_lines_added"]
    # a: -0.05, b: +0.20, c: +0.05
    assert margin["n"] == 3 and margin["mean"] == pytest.approx(0.0667, abs=1e-4)
    assert (margin["up"], margin["down"]) == (2, 1) and margin["se"] > 0
    line_b = next(ln for ln in text.splitlines() if ln.startswith("b "))
    assert line_b.split()[2:] == ["-0.100", "+0.100", "+0.200", "2", "->", "3"]


def test_a_path_without_runs_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = _log(tmp_path / "good.log", [_row("a", 0.3, 0.2)])
    (tmp_path / "empty").mkdir()
    (tmp_path / "plain.log").write_text("no json here\n")
    for bad in ("missing.log", "empty", "plain.log"):
        assert cmp.main([str(good), str(tmp_path / bad)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and bad in err and "\n" not in err


def test_more_seeds_average_each_historys_figures_before_pairing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _log(tmp_path / "b42.log", [_row("a", 0.30, 0.20), _row("b", 0.10, 0.20)])
    after42 = _log(tmp_path / "a42.log", [_row("a", 0.30, 0.20), _row("b", 0.24, 0.20)])
    # seed 43: b's SCH falls back below lines added, and its coverage leaves the range
    after43 = _log(tmp_path / "a43.log", [_row("a", 0.34, 0.20),
                                          _row("b", 0.14, 0.20, cov=0.99)])  # fmt: skip
    args = [str(before), str(after42), "--after-seed", str(after43)]
    assert cmp.main(args) == 0
    text = capsys.readouterr().out
    out = json.loads(text.strip().splitlines()[-1])
    assert out["seeds"] == {"before": 1, "after": 2}
    # b after: SCH (0.24 + 0.14) / 2 = 0.19 < 0.20, coverage (0.8 + 0.99) / 2 = 0.895 in range
    assert out["flips"]["sch_above_lines_added"] == {"gained": [], "lost": []}
    assert out["targets_met"]["after"]["coverage_80_in_0_70_0_90"] == 2
    margin = out["paired"]["sch_minus_lines_added"]  # a: +0.02, b: +0.09
    assert margin["mean"] == pytest.approx(0.055, abs=1e-4) and margin["up"] == 2
    assert "the mean of 1 seed(s) before, 2 after" in text
    # a seed's path that holds no runs is the same one-line error
    assert cmp.main([str(before), str(after42), "--after-seed", str(tmp_path / "x.log")]) == 2
    assert "x.log" in capsys.readouterr().err


def test_rankings_that_did_not_move_are_said_so_not_as_infinite_standard_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # an effort-model refit on the same labels: SCH and lines added rank exactly as before
    before = _log(tmp_path / "before.log", [_row("a", 0.30, 0.20), _row("b", 0.10, 0.20)])
    after = _log(tmp_path / "after.log", [_row("a", 0.30, 0.20, nll=0.9),
                                          _row("b", 0.10, 0.20, nll=1.2)])  # fmt: skip
    assert cmp.main([str(before), str(after)]) == 0
    text = capsys.readouterr().out
    assert "SCH − lines added did not move on any history" in text
    assert "inf" not in text.split("\n{")[0]
