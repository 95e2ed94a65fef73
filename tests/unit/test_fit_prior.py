"""``standard-coder fit-prior``: a cross-repository prior fitted on your own trained outputs,
each history first scored by a prior fitted on the others; bad input in one line, exit 2,
nothing written. Outputs are real representations and datasets of synthetic changes
(``tests/prior_outputs.py``); the command runs as a subprocess."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.prior_outputs import fake_run

from proctools import child_env
from standard_coder.pipelines.sch_prior import load_history
from standard_coder.sch.features.cross_repo import CrossRepoPrior
from standard_coder.sch.features.prior_corpus import (
    RECIPE_BODY_WEIGHT,
    History,
    PriorCorpus,
    PriorCorpusError,
    score_history,
)


def fit_prior_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "standard_coder", "fit-prior", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=child_env(),
    )


def strict_json(text: str) -> Any:
    def refuse(token: str) -> None:
        raise ValueError(f"not strict JSON: {token}")

    return json.loads(text, parse_constant=refuse)


def one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    for needle in needles:
        assert needle in proc.stderr, proc.stderr


def test_a_history_is_the_counts_the_representation_scaled(tmp_path: Path) -> None:
    rep, raws = fake_run(tmp_path / "a", seed=3, n=50)
    h = load_history(tmp_path / "a" / "sc-output")
    # the fake changes have no subject: their subject columns are left out of the history
    keep = [j for j, n in enumerate(rep.feature_names_) if not n.startswith("subject|")]
    assert h.name == "a" and h.feature_names == tuple(rep.feature_names_[j] for j in keep)
    assert np.allclose(h.counts, rep.raw_matrix(raws)[:, keep], rtol=1e-5, atol=1e-4)


def test_fit_prior_fits_on_your_outputs_and_checks_each_left_out(tmp_path: Path) -> None:
    for i, folder in enumerate(("team-a", "team-b", "outputs/c")):
        fake_run(tmp_path / folder, seed=10 + i)
    out = tmp_path / "priors" / "ours.npz"  # a missing folder is made
    team_a = str(tmp_path / "team-a" / "sc-output")
    args = [team_a, str(tmp_path / "team-b"), str(tmp_path / "outputs")]
    proc = fit_prior_cli(*args, team_a, "--out", str(out), "--json")  # team-a twice: once
    assert proc.returncode == 0, proc.stderr
    doc = strict_json(proc.stdout)
    assert doc["histories"] == ["team-a", "team-b", "c"]
    assert doc["changes"] == 3 * 480 and doc["held_out_changes_fitted"] is False
    prior = CrossRepoPrior.load(out)
    assert prior.checksum == doc["checksum"]
    assert prior.meta["trained_on"] == ["c", "team-a", "team-b"]
    assert prior.meta["held_out_changes"] == "left out"
    rows = {r["history"]: r for r in doc["leave_one_out"]}
    assert set(rows) == {"team-a", "team-b", "c"}
    for r in rows.values():  # the defs carry what lines added lacks: the prior ranks better
        assert r["spearman_prior"] > r["spearman_lines_added"] and r["n_test_normal"] == 120
        assert -1 <= r["spearman_shipped_prior"] <= 1
    assert doc["summary"]["held_out_above_lines_added"] == 3

    again = fit_prior_cli(*args, "--out", str(tmp_path / "again.npz"), "--no-check")
    assert again.returncode == 0 and "wrote" in again.stdout and "scored by" not in again.stdout
    assert CrossRepoPrior.load(tmp_path / "again.npz").checksum == prior.checksum  # same seed
    every = fit_prior_cli(*args, "--out", str(tmp_path / "all.npz"), "--include-held-out",
                          "--no-check", "--json")  # fmt: skip
    assert strict_json(every.stdout)["changes"] == 3 * 600
    assert "held_out_changes" not in CrossRepoPrior.load(tmp_path / "all.npz").meta
    bagged = fit_prior_cli(*args, "--out", str(tmp_path / "bag.npz"), "--no-check", "--bag", "3")
    assert bagged.returncode == 0, bagged.stderr
    bag = CrossRepoPrior.load(tmp_path / "bag.npz")
    assert bag.meta["bag_seeds"] == [0, 1, 2] and len(bag.roots) < len(prior.roots)
    assert prior.meta["bag_seeds"] == [0, 1, 2, 3, 4]  # the shipped recipe by default
    zero = fit_prior_cli(*args, "--out", str(tmp_path / "zero.npz"), "--bag", "0")
    assert zero.returncode == 2 and "--bag" in zero.stderr and not (tmp_path / "zero.npz").exists()
    human = fit_prior_cli(str(tmp_path), "--out", str(tmp_path / "h.npz"))
    assert "this prior ranks better than lines added on 3 of 3" in human.stdout
    assert "cross_repo_prior_path" in human.stdout
    # which to use, by the two priors' mean held-out Spearman in the same check
    s = strict_json(proc.stdout)["summary"]
    assert s["held_out_compared_with_shipped"] == 3
    better = (
        s["held_out_mean_spearman_prior_vs_shipped"] > s["held_out_mean_spearman_shipped_prior"]
    )
    said = ("ranks your histories better than the shipped one: use it" if better
            else "the shipped prior ranks your histories as well or better: keep it")  # fmt: skip
    assert said in human.stdout


def _summary(own: float | None, shipped: float | None) -> dict[str, float | None]:
    return {
        "held_out_mean_spearman_prior_vs_shipped": own,
        "held_out_mean_spearman_shipped_prior": shipped,
    }


def test_the_verdict_follows_the_two_means() -> None:
    from standard_coder.cli.prior_cmd import _verdict

    assert "use it" in _verdict(_summary(0.31, 0.29))
    assert "keep it" in _verdict(_summary(0.29, 0.31))
    assert "keep it" in _verdict(_summary(0.3, 0.3)) and _verdict(_summary(None, 0.3)) == ""


def test_the_verdict_compares_the_two_priors_on_the_same_histories(tmp_path: Path) -> None:
    """A history only one prior scores (an undefined Spearman) is left out of both means."""
    from standard_coder.cli.prior_cmd import _verdict
    from standard_coder.pipelines.sch_prior import PriorFit
    from standard_coder.sch.features.prior_corpus import LeaveOneOut

    nan = float("nan")

    def row(name: str, prior: float, lines: float) -> LeaveOneOut:
        return LeaveOneOut(name, 50, lines, prior, lines, prior)

    fit = PriorFit(
        path=tmp_path / "p.npz",
        histories=["a", "b", "c"],
        changes=150,
        checksum="0" * 64,
        held_out=False,
        # a: only ours scores it (and well); c: only the shipped one (and well); b: both
        leave_one_out=[row("a", 0.9, 0.1), row("b", 0.2, 0.1), row("c", nan, 0.7)],
        shipped={"a": nan, "b": 0.3, "c": 0.5},
        skipped=[],
    )
    s = fit.to_json()["summary"]
    assert s["held_out_compared_with_shipped"] == 1
    assert s["held_out_mean_spearman_prior_vs_shipped"] == 0.2
    assert s["held_out_mean_spearman_shipped_prior"] == 0.3
    # each over the histories it scored, ours (0.55) beat the shipped one (0.4): not like for like
    assert "keep it" in _verdict(s)
    # prior vs lines added: the same histories on both sides too (c has no prior Spearman)
    assert s["held_out_mean_spearman_prior"] == 0.55
    assert s["held_out_mean_spearman_lines_added"] == 0.1


def test_outputs_that_counted_bodies_get_the_body_recipe_and_meet_the_body_prior(
    tmp_path: Path,
) -> None:
    for i in range(3):
        fake_run(tmp_path / f"t{i}", seed=20 + i, body=True)
    proc = fit_prior_cli(str(tmp_path), "--out", str(tmp_path / "b.npz"), "--json", "--bag", "2")
    assert proc.returncode == 0, proc.stderr
    prior = CrossRepoPrior.load(tmp_path / "b.npz")
    assert prior.reads_body and prior.meta["body_weight"] == RECIPE_BODY_WEIGHT
    shipped = CrossRepoPrior.builtin(body=True)  # what these outputs get without their own
    for r in strict_json(proc.stdout)["leave_one_out"]:
        h = load_history(tmp_path / r["history"] / "sc-output")
        assert r["spearman_shipped_prior"] == pytest.approx(
            score_history(h, shipped).spearman_prior, abs=1e-12
        )
    # with an output that did not count them, the prior reads no body (not every history has
    # one), but each output is still compared with the shipped prior it would get
    fake_run(tmp_path / "plain", seed=30)
    mixed = fit_prior_cli(str(tmp_path), "--out", str(tmp_path / "m.npz"), "--json", "--bag", "1")
    assert mixed.returncode == 0, mixed.stderr
    assert not CrossRepoPrior.load(tmp_path / "m.npz").reads_body
    plain = CrossRepoPrior.builtin()
    for r in strict_json(mixed.stdout)["leave_one_out"]:
        h = load_history(tmp_path / r["history"] / "sc-output")
        expected = shipped if r["history"] != "plain" else plain
        assert r["spearman_shipped_prior"] == pytest.approx(
            score_history(h, expected).spearman_prior, abs=1e-12
        )


def test_outputs_are_told_apart_by_the_folder_above(tmp_path: Path) -> None:
    fake_run(tmp_path / "a", seed=1, base="x")
    fake_run(tmp_path / "b", seed=2, base="x")
    fake_run(tmp_path / "c" / "one", seed=3, base="out")
    fake_run(tmp_path / "c" / "two", seed=4, base="out")
    proc = fit_prior_cli(str(tmp_path), "--out", str(tmp_path / "p.npz"), "--no-check", "--json")
    assert proc.returncode == 0, proc.stderr
    assert strict_json(proc.stdout)["histories"] == ["a/x", "b/x", "one/out", "two/out"]


def test_a_history_without_held_out_normal_changes_is_null_in_json(tmp_path: Path) -> None:
    fake_run(tmp_path / "a", seed=1)
    fake_run(tmp_path / "b", seed=2, held_out_kind=1)  # every held-out change a first commit
    proc = fit_prior_cli(str(tmp_path), "--out", str(tmp_path / "p.npz"), "--json")
    assert proc.returncode == 0, proc.stderr
    rows = {r["history"]: r for r in strict_json(proc.stdout)["leave_one_out"]}
    assert rows["b"]["n_test_normal"] == 0 and rows["b"]["spearman_prior"] is None
    human = fit_prior_cli(str(tmp_path), "--out", str(tmp_path / "p.npz"))
    assert human.returncode == 0 and "ranks better than lines added on" in human.stdout


def test_fit_prior_refuses_bad_input_in_one_line_and_writes_nothing(tmp_path: Path) -> None:
    fake_run(tmp_path / "a", seed=1)
    fake_run(tmp_path / "b", seed=2)
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    out = tmp_path / "p.npz"
    one_line_error(fit_prior_cli(a, "--out", str(out)), "at least 2 histories, got 1")
    one_line_error(
        fit_prior_cli(a, str(tmp_path / "gone"), "--out", str(out)), "gone: not a folder"
    )
    (tmp_path / "empty").mkdir()
    one_line_error(fit_prior_cli(a, str(tmp_path / "empty"), "--out", str(out)),
                   "empty: no trained output")  # fmt: skip
    one_line_error(fit_prior_cli(a, b, "--out", str(tmp_path)), "is a folder")
    inside = tmp_path / "a" / "sc-output" / "labels" / "datasets" / "coding_train.npz"
    one_line_error(fit_prior_cli(a, b, "--out", str(inside)), "inside the output")
    (tmp_path / "file").write_text("")
    one_line_error(fit_prior_cli(a, b, "--out", str(tmp_path / "file" / "p.npz")),
                   "is not a folder")  # fmt: skip

    fake_run(tmp_path / "tiny", seed=3, n=11)  # 9 fitted-period changes
    one_line_error(fit_prior_cli(a, str(tmp_path / "tiny"), "--out", str(out)),
                   "fewer than 10 normal-interval changes", "tiny")  # fmt: skip
    fake_run(tmp_path / "loc", seed=4, kind="loc")
    one_line_error(fit_prior_cli(a, str(tmp_path / "loc"), "--out", str(out)),
                   "representation kind loc")  # fmt: skip

    stale = tmp_path / "stale"
    fake_run(stale, seed=5)
    shutil.rmtree(stale / "sc-output" / "features" / "change_rep")
    shutil.copytree(tmp_path / "b" / "sc-output" / "features" / "change_rep",
                    stale / "sc-output" / "features" / "change_rep")  # fmt: skip
    one_line_error(fit_prior_cli(a, str(stale), "--out", str(out)),
                   "stale: the representation is not the one that built the dataset")  # fmt: skip

    rep_json = tmp_path / "b" / "sc-output" / "features" / "change_rep" / "representation.json"
    meta = json.loads(rep_json.read_text())
    rep_json.write_text(json.dumps([1, 2]))
    one_line_error(fit_prior_cli(a, b, "--out", str(out)), "representation.json")
    rep_json.write_text(json.dumps({k: v for k, v in meta.items() if k != "kind"}))
    one_line_error(
        fit_prior_cli(a, b, "--out", str(out)), "representation.json: missing key 'kind'"
    )
    rep_json.write_text(json.dumps(meta))

    dataset = tmp_path / "b" / "sc-output" / "labels" / "datasets" / "coding_train.npz"
    dataset.write_bytes(b"garbage")
    one_line_error(fit_prior_cli(a, b, "--out", str(out)), "coding_train.npz")
    assert not out.exists()


def test_an_unfinished_output_below_a_folder_is_skipped_and_said(tmp_path: Path) -> None:
    fake_run(tmp_path / "runs" / "a", seed=1)
    fake_run(tmp_path / "runs" / "b", seed=2)
    fake_run(tmp_path / "runs" / "c", seed=3)
    shutil.rmtree(tmp_path / "runs" / "c" / "sc-output" / "features")
    proc = fit_prior_cli(str(tmp_path / "runs"), "--out", str(tmp_path / "p.npz"), "--no-check")
    assert proc.returncode == 0, proc.stderr
    assert "skipped" in proc.stderr and str(tmp_path / "runs" / "c") in proc.stderr
    assert CrossRepoPrior.load(tmp_path / "p.npz").meta["trained_on"] == ["a", "b"]


def test_a_corpus_needs_enough_normal_interval_changes_and_distinct_names() -> None:
    def history(name: str, kind: int, n: int = 20) -> History:
        z = np.zeros(n)
        return History(name=name, feature_names=("surface|lines_added",), counts=np.ones((n, 1)),
                       hours=z + 1, split=z, kind=z + kind, lines_added=z + 1)  # fmt: skip

    with pytest.raises(PriorCorpusError, match=r"fewer than 10 .* in \['b'\]"):
        PriorCorpus([history("a", 0), history("b", 2)])
    with pytest.raises(PriorCorpusError, match=r"history names repeat: \['a'\]"):
        PriorCorpus([history("a", 0), history("a", 0)])
    corpus = PriorCorpus([history("a", 0), history("b", 0, n=10)])
    assert len(corpus) == 2
    with pytest.raises(ValueError, match="bag: at least 1 ensemble, got 0"):
        corpus.fit(bag=0)
