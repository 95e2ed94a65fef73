"""The work-inference benchmark runs (quick mode) and ends with the JSON the issue names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _quick(*args: str) -> subprocess.CompletedProcess[str]:
    """The benchmark in quick mode with ``args`` (not checked: the caller reads its code)."""
    cmd = [sys.executable, str(ROOT / "benchmarks" / "work_inference.py"), "--quick", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy(), timeout=120)


def _last_json(out: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert out.returncode == 0, out.stderr[-2000:]
    doc: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return doc


def test_benchmark_quick_last_line_json() -> None:
    doc = _last_json(_quick())
    for key in (
        "fit_seconds",
        "fit_cpu_seconds",
        "load_avg",
        "threads",
        "epochs",
        "n_minutes",
        "pearson_vs_truth",
        "gap_pearson_vs_truth",
    ):
        assert key in doc
    assert int(doc["n_minutes"]) > 40_000 and int(doc["threads"]) <= 2


def test_benchmark_no_break_state_fits_the_two_state_chain() -> None:
    """``--no-break-state``: the paper's two-state chain (no break rates in the table, JSON
    ``break_state`` false), other labels than the default three-state chain's."""
    three = _quick("--families", "none")
    two = _quick("--families", "none", "--no-break-state")
    doc3, doc2 = _last_json(three), _last_json(two)
    assert doc3["break_state"] is True and doc2["break_state"] is False
    row = "learned break (median over cells) / return per minute"
    (line3,) = [x for x in three.stdout.splitlines() if row in x]
    (line2,) = [x for x in two.stdout.splitlines() if row in x]
    assert line2.split()[-1] == "-" and "/" in line3.split(row)[1]
    assert doc3["pearson_vs_truth"] != doc2["pearson_vs_truth"]


def test_benchmark_break_by_clock_learns_a_break_table_per_minute() -> None:
    """``--break-by-clock``: the break probability per grid cell (JSON ``break_by_clock`` true),
    other labels than the default's one learned break rate."""
    one = _last_json(_quick("--families", "none"))
    by_clock = _last_json(_quick("--families", "none", "--break-by-clock"))
    assert one["break_by_clock"] is False and by_clock["break_by_clock"] is True
    assert one["break_state"] is True and by_clock["break_state"] is True
    assert one["pearson_vs_truth"] != by_clock["pearson_vs_truth"]


def test_benchmark_no_break_by_hour_learns_one_break_rate() -> None:
    """``--no-break-by-hour``: one break rate for the whole week (JSON ``break_by_hour``
    false, one value in the table's median), other labels than the default's rate per hour."""
    row = "learned break (median over cells) / return per minute"
    hourly, one = _quick("--families", "none"), _quick("--families", "none", "--no-break-by-hour")
    doc_h, doc_1 = _last_json(hourly), _last_json(one)
    assert doc_h["break_by_hour"] is True and doc_1["break_by_hour"] is False
    assert doc_h["break_by_clock"] is False and doc_1["break_by_clock"] is False
    assert [x for x in one.stdout.splitlines() if row in x]
    assert doc_h["pearson_vs_truth"] != doc_1["pearson_vs_truth"]


def test_benchmark_no_start_phase_gives_memoryless_sessions() -> None:
    """By default the four-state chain (JSON ``start_phase`` true, its learned rate in the
    table); ``--no-start-phase``: the three-state chain, other labels."""
    row = "opening phase ends, per minute"
    plain, phase = _quick("--families", "none", "--no-start-phase"), _quick("--families", "none")
    doc_p, doc_s = _last_json(plain), _last_json(phase)
    assert doc_p["start_phase"] is False and doc_s["start_phase"] is True
    rate = next(x for x in phase.stdout.splitlines() if row in x).split()[-1]
    assert 0.001 <= float(rate) <= 1.0
    assert next(x for x in plain.stdout.splitlines() if row in x).split()[-1] == "-"
    assert doc_p["pearson_vs_truth"] != doc_s["pearson_vs_truth"]


def test_benchmark_pools_family_authors_below_the_threshold_it_is_given() -> None:
    """``--min-commits-per-author`` sets the family teams' pooling threshold and the JSON says
    which was used (the default: the pipeline's); a threshold under 1 is one line, exit 2."""
    doc = _last_json(_quick("--families", "bursty_oss", "--min-commits-per-author", "7"))
    families = doc["families"]
    assert doc["min_commits_per_author"] == 7
    assert isinstance(families, dict) and "bursty_oss" in families
    bad = _quick("--min-commits-per-author", "0")
    assert bad.returncode == 2 and "--min-commits-per-author" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_benchmark_family_seeds_summarise_every_seed() -> None:
    """``--family-seeds 0-1``: each family's team once per seed; ``family_seeds`` holds both r
    per seed, their means and the seeds where the HMM is ahead, and ``families`` is ``--seed``'s
    run (recomputing a seed gives the same r); a bad list is one line, exit 2."""
    out = _quick("--families", "paper", "--family-seeds", "0-1", "--seed", "1")
    doc = _last_json(out)
    assert "over seeds 0-1 (2): team-wide r" in out.stdout  # the summary table's heading
    summary = doc["family_seeds"]
    assert isinstance(summary, dict)
    paper = summary["paper"]
    assert paper["seeds"] == [0, 1] and paper["n"] == 2
    assert len(paper["hmm"]) == len(paper["gap"]) == 2
    assert paper["ahead"] == sum(h > g for h, g in zip(paper["hmm"], paper["gap"], strict=True))
    assert paper["hmm_mean"] == round(sum(paper["hmm"]) / 2, 4)
    families = doc["families"]
    assert isinstance(families, dict)
    assert families["paper"]["hmm"] == paper["hmm"][1]  # --seed 1's run
    alone = _last_json(_quick("--families", "paper", "--seed", "1"))["families"]
    assert isinstance(alone, dict)
    for key in ("hmm", "gap", "n_commits", "by_length"):  # fit_seconds: wall time, not compared
        assert alone["paper"][key] == families["paper"][key]
    # where the r comes from: under 12 h and from 12 h on, and the reference beside them
    by = families["paper"]["by_length"]
    assert by["split_minutes"] == 720.0 and by["short"]["n"] > by["long"]["n"] > 0
    assert by["long"]["gap"] is None  # git-hours credits every long interval alike
    assert by["short"]["hmm"] is not None and -1 <= by["short"]["hmm"] <= 1
    assert paper["reference_min"] <= paper["reference_mean"] <= 1
    errors = [f["paper"]["by_length"]["long"]["hmm_error_minutes"] for f in (families, alone)]
    assert isinstance(paper["long_hmm_error_mean"], float) and errors[0] == errors[1]
    assert "ref min" in out.stdout
    for bad_list in ("x", "3-1", "1,1"):
        bad = _quick("--family-seeds", bad_list)
        assert bad.returncode == 2 and "--family-seeds" in bad.stderr, bad_list
        assert "Traceback" not in bad.stderr
