"""The cross-repository prior (``sch/features/cross_repo.py``): its flattened trees predict as
scikit-learn's ensemble does, it is saved pickle-free and refused when edited, it becomes the
``prior|cross_repo`` column of a representation (rescored from the counts at every scaling)
and the shift model's default backbone; the benchmark that builds it scores it leave one
history out."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from tests.benchmodule import load_benchmark
from tests.prior_outputs import fake_run, raw

from standard_coder.config import ConfigError
from standard_coder.pipelines.sch import check_prior_file
from standard_coder.sch.dataset import build_dataset, dataset_stats
from standard_coder.sch.features.cross_repo import (
    COLUMN,
    ID_TOTAL,
    MONOTONE,
    CrossRepoPrior,
    CrossRepoPriorError,
    average_priors,
    fit_prior,
)
from standard_coder.sch.features.raw_change import RawChange
from standard_coder.sch.features.representation import (
    PRIOR_FILE,
    ChangeRepresentation,
    RepresentationMismatch,
)
from standard_coder.sch.features.synthetic import synthetic_changes
from standard_coder.sch.features.tokens import SURFACE_NAMES, TokenCounts
from standard_coder.sch.predictors.estimator import (
    PRIOR_BACKBONE,
    UNMOVED_BACKBONE,
    ShiftRegressor,
)

ROOT = Path(__file__).resolve().parents[2]
NAMES = ["surface|lines_added", "python|kw|def", "python|kw|if", ID_TOTAL]


def synthetic(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """log1p counts of NAMES and a target that rises with lines added and with ``def``s."""
    rng = np.random.default_rng(seed)
    Z = np.log1p(rng.negative_binomial(1, 0.05, (n, len(NAMES))).astype(float))
    t = 0.6 * Z[:, 0] + 0.3 * Z[:, 1] - 0.1 * Z[:, 2] + rng.normal(0, 0.5, n)
    return Z, (t - t.mean()) / t.std()


@pytest.fixture(scope="module")
def prior() -> CrossRepoPrior:
    Z, t = synthetic()
    return fit_prior(Z, t, NAMES, meta={"trained_on": ["synthetic"]})


def test_flattened_trees_predict_as_the_fitted_ensemble(prior: CrossRepoPrior) -> None:
    from sklearn.ensemble import HistGradientBoostingRegressor

    Z, t = synthetic()
    est = HistGradientBoostingRegressor(max_iter=300, learning_rate=0.05, max_leaf_nodes=15,
                                        min_samples_leaf=40, l2_regularization=1.0,
                                        monotonic_cst=[1, 0, 0, 0], early_stopping=True,
                                        validation_fraction=0.1, n_iter_no_change=10,
                                        random_state=0).fit(Z, t)  # fmt: skip
    fresh, _ = synthetic(500, seed=1)
    assert np.allclose(prior.predict(fresh), est.predict(fresh), atol=1e-9)
    assert np.corrcoef(prior.predict(Z), t)[0, 1] > 0.6  # it learnt the signal


def test_the_score_never_falls_with_lines_added(prior: CrossRepoPrior) -> None:
    Z, _ = synthetic(200, seed=2)
    more = Z.copy()
    more[:, NAMES.index("surface|lines_added")] += 1.0
    assert NAMES[0] in MONOTONE
    assert (prior.predict(more) >= prior.predict(Z) - 1e-12).all()


def test_inputs_come_from_a_representations_counts_by_name(prior: CrossRepoPrior) -> None:
    names = ["python|id|foo", "python|id|<other>", "surface|lines_added", "python|kw|def"]
    counts = np.array([[2.0, 3.0, 10.0, 1.0]])
    Z = prior.inputs(counts, names)
    # lines added, def, if (absent from the representation: 0), every identifier (2 + 3)
    assert np.allclose(Z, np.log1p([[10.0, 1.0, 0.0, 5.0]]))


def test_saved_prior_round_trips_and_an_edited_one_is_refused(
    prior: CrossRepoPrior, tmp_path: Path
) -> None:
    path = prior.save(tmp_path / "p.npz")
    again = CrossRepoPrior.load(path)
    assert again.checksum == prior.checksum and again.meta == {"trained_on": ["synthetic"]}
    Z, _ = synthetic(50, seed=3)
    assert np.array_equal(again.predict(Z), prior.predict(Z))
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: np.array(z[k]) for k in z.files}
    arrays["value"] = arrays["value"] * 2  # edited trees, old checksum
    np.savez(tmp_path / "edited.npz", **arrays)
    with pytest.raises(CrossRepoPriorError, match=r"edited\.npz: checksum mismatch"):
        CrossRepoPrior.load(tmp_path / "edited.npz")
    import dataclasses

    dangling = dataclasses.replace(prior, left=prior.left + len(prior.feature))  # off the end
    dangling.save(tmp_path / "dangling.npz")  # a valid checksum over broken links
    with pytest.raises(CrossRepoPriorError, match=r"dangling\.npz: malformed trees"):
        CrossRepoPrior.load(tmp_path / "dangling.npz")
    (tmp_path / "junk.npz").write_bytes(b"not an npz")
    with pytest.raises(CrossRepoPriorError, match=r"junk\.npz: unreadable"):
        CrossRepoPrior.load(tmp_path / "junk.npz")


def test_a_bag_scores_the_mean_of_its_ensembles_and_stays_monotone(tmp_path: Path) -> None:
    Z, t = synthetic()
    fits = [fit_prior(Z, t, NAMES, seed=s) for s in (0, 1, 2)]
    bag = average_priors(fits, meta={"bag_seeds": [0, 1, 2]})
    fresh, _ = synthetic(300, seed=4)
    mean = np.mean([f.predict(fresh) for f in fits], axis=0)
    assert np.allclose(bag.predict(fresh), mean, atol=1e-12)
    assert len(bag.roots) == sum(len(f.roots) for f in fits)
    assert not np.allclose(fits[0].predict(fresh), fits[1].predict(fresh))  # seeds differ
    more = fresh.copy()
    more[:, 0] += 1.0
    assert (bag.predict(more) >= bag.predict(fresh) - 1e-12).all()
    again = CrossRepoPrior.load(bag.save(tmp_path / "bag.npz"))
    assert np.array_equal(again.predict(fresh), bag.predict(fresh))
    assert again.meta == {"bag_seeds": [0, 1, 2]}
    assert average_priors(fits[:1]).checksum == fits[0].checksum  # a bag of one is the one


def test_a_weighted_mix_of_priors_reading_different_inputs_scores_the_weighted_mean() -> None:
    Z, t = synthetic()
    narrow = fit_prior(Z[:, 1:4], t, NAMES[1:4], seed=0)  # reads fewer inputs, in other places
    wide = fit_prior(Z, t, NAMES, seed=1)
    mix = average_priors([narrow, wide], weights=[3.0, 1.0])
    assert mix.names == (*NAMES[1:4], NAMES[0], *NAMES[4:])  # the union, first prior's first
    fresh, _ = synthetic(300, seed=4)
    in_mix = fresh[:, [NAMES.index(n) for n in mix.names]]
    expected = 0.75 * narrow.predict(fresh[:, 1:4]) + 0.25 * wide.predict(fresh)
    assert np.allclose(mix.predict(in_mix), expected, atol=1e-12)
    only_wide = average_priors([narrow, wide], weights=[0.0, 2.0])  # narrow's trees left out
    assert only_wide.names == tuple(NAMES) and len(only_wide.roots) == len(wide.roots)
    assert np.allclose(only_wide.predict(fresh), wide.predict(fresh), atol=1e-12)
    for bad in ([1.0], [-1.0, 2.0], [0.0, 0.0], [float("nan"), 1.0]):
        with pytest.raises(ValueError, match="weights"):
            average_priors([narrow, wide], weights=bad)


def test_the_shipped_prior_loads_and_ranks_size() -> None:
    shipped = CrossRepoPrior.builtin()
    assert len(shipped.meta["trained_on"]) >= 20 and ID_TOTAL in shipped.names
    assert set(MONOTONE) <= set(shipped.names)
    names = list(shipped.names)
    small, big = np.zeros((1, len(names))), np.zeros((1, len(names)))
    for col, (a, b) in {"surface|lines_added": (2, 200), "surface|lines_added_unmoved": (2, 200),
                        "surface|lines_added_source": (2, 200), "surface|files_touched": (1, 1),
                        "surface|tokens": (10, 1000)}.items():  # fmt: skip
        small[0, names.index(col)], big[0, names.index(col)] = np.log1p(a), np.log1p(b)
    assert shipped.predict(big)[0] > shipped.predict(small)[0]


def test_a_representation_carries_the_prior_as_a_rescored_column(
    prior: CrossRepoPrior, tmp_path: Path
) -> None:
    raws = [raw(la, d) for la, d in [(1, 0), (5, 1), (40, 2), (300, 5), (12, 0), (80, 3)]]
    rep = ChangeRepresentation(kind="tokens", cross_repo_prior=prior).fit(raws)
    assert rep.feature_names_[-1] == COLUMN
    counts = rep.raw_matrix(raws)
    assert (counts[:, -1] == 0).all()  # no count of its own: scored at every scaling
    X = rep.transform(raws)
    score = prior.score(counts, rep.feature_names_)
    assert np.allclose(X[:, -1], (score - rep.mean_[-1]) / rep.scale_[-1], atol=1e-5)
    summed = counts[:2].sum(axis=0, keepdims=True)  # a squashed pair: its own score
    assert np.isclose(rep.scale_counts(summed)[0, -1],
                      (prior.score(summed, rep.feature_names_)[0] - rep.mean_[-1])
                      / rep.scale_[-1], atol=1e-5)  # fmt: skip
    plain = ChangeRepresentation(kind="tokens").fit(raws)
    assert COLUMN not in plain.feature_names_ and plain.checksum_ != rep.checksum_
    assert ChangeRepresentation(kind="loc", cross_repo_prior=prior).cross_repo_prior is None

    rep.save(tmp_path / "rep")
    again = ChangeRepresentation.load(tmp_path / "rep")
    assert again.checksum_ == rep.checksum_
    assert np.array_equal(again.transform(raws), X)
    other = fit_prior(*synthetic(seed=5), NAMES)
    other.save(tmp_path / "rep" / PRIOR_FILE)  # a valid prior, but not this one
    with pytest.raises(RepresentationMismatch, match="not the cross-repository prior"):
        ChangeRepresentation.load(tmp_path / "rep")


def js_raw(lines_added: int) -> RawChange:
    """A JavaScript change: its tokens are none of the prior's (Python) inputs."""
    surface = [0.0] * len(SURFACE_NAMES)
    surface[SURFACE_NAMES.index("lines_added")] = float(lines_added)
    bag = Counter({"javascript|kw|function": 1, "javascript|id|x": lines_added})
    return RawChange(tokens=TokenCounts(bag=bag, surface=surface))


def test_the_prior_is_left_out_where_its_language_is_a_minority(
    prior: CrossRepoPrior, tmp_path: Path
) -> None:
    assert prior.languages == {"python"}
    js = [js_raw(la) for la in (1, 5, 40, 300, 12, 80)]
    # without commit subjects: left out, the size backbone instead
    rep = ChangeRepresentation(kind="tokens", commit_subject=False, cross_repo_prior=prior).fit(js)
    assert rep.cross_repo_prior is None and COLUMN not in rep.feature_names_
    assert rep.prior_unused_ is not None and "0% of this history's tokens" in rep.prior_unused_
    assert (
        rep.checksum_ == ChangeRepresentation(kind="tokens", commit_subject=False).fit(js).checksum_
    )
    rep.save(tmp_path / "rep")  # the reason is kept with the representation
    assert ChangeRepresentation.load(tmp_path / "rep").prior_unused_ == rep.prior_unused_
    assert not (tmp_path / "rep" / PRIOR_FILE).exists()
    # with them (the default): the shipped prior of every language, kept with it
    anyp = CrossRepoPrior.builtin(any_language=True)
    assert anyp.languages == frozenset() and anyp.reads_subjects and not anyp.reads_body
    rep = ChangeRepresentation(kind="tokens", cross_repo_prior=prior).fit(js)
    assert rep.cross_repo_prior is not None and rep.cross_repo_prior.checksum == anyp.checksum
    assert rep.feature_names_[-1] == COLUMN
    assert rep.prior_unused_ is not None and rep.prior_unused_.endswith(
        "; the shipped prior of every language (sizes and commit subjects) is used instead"
    )
    rep.save(tmp_path / "rep2")
    again = ChangeRepresentation.load(tmp_path / "rep2")
    assert again.cross_repo_prior is not None and again.cross_repo_prior.checksum == anyp.checksum
    assert np.array_equal(again.transform(js), rep.transform(js))
    # a prior of no language is used for every history (it reads none of their tokens)
    assert ChangeRepresentation(kind="tokens", cross_repo_prior=anyp).fit(js).prior_unused_ is None

    # a Python history with some JavaScript keeps it (its tokens are mostly Python)
    mixed = [raw(la, d) for la, d in [(30, 1), (50, 2), (40, 2), (300, 5)]] + js[:2]
    kept = ChangeRepresentation(kind="tokens", cross_repo_prior=prior).fit(mixed)
    assert kept.cross_repo_prior is prior and kept.prior_unused_ is None
    assert kept.feature_names_[-1] == COLUMN

    # just under half: 10 Python tokens against 11 JavaScript ones (47.6 %) leaves it out, and
    # says 47 %, not a rounded 48 % or 50 %; fitted again on Python alone, it is back
    near = ChangeRepresentation(kind="tokens", commit_subject=False, cross_repo_prior=prior)
    near.fit([raw(10, 0), js_raw(10)])
    assert near.cross_repo_prior is None and near.prior_unused_ is not None
    assert "47% of this history's tokens are python (it is used from 50%)" in near.prior_unused_
    near.fit([raw(10, 0), raw(20, 1)])
    assert near.cross_repo_prior is prior and near.prior_unused_ is None


def test_a_dataset_of_another_language_says_why_the_prior_was_left_out() -> None:
    """Built as ``train_sch`` builds it, with the shipped prior: the same changes written in
    Go leave the Python prior out for the prior of every language, and the dataset's meta and
    stats say why; in Python they keep it."""
    synth = synthetic_changes(40, n_samples=4, seed=3)
    as_go = [replace(c, files=tuple(replace(f, language="go", path=f.path[:-3] + ".go")
                                    for f in c.files)) for c in synth.commits]  # fmt: skip
    shipped = CrossRepoPrior.builtin()
    go, _ = build_dataset(as_go, (synth.keys, synth.samples), representation="tokens",
                          cross_repo_prior=shipped)  # fmt: skip
    reason = go.meta["cross_repo_prior_unused"]
    assert "0% of this history's tokens are python" in reason and "used instead" in reason
    assert COLUMN in go.feature_names  # the prior of every language's score
    assert dataset_stats(go)["cross_repo_prior_unused"] == reason
    py, _ = build_dataset(synth.commits, (synth.keys, synth.samples), representation="tokens",
                          cross_repo_prior=shipped)  # fmt: skip
    assert "cross_repo_prior_unused" not in py.meta and COLUMN in py.feature_names
    assert "cross_repo_prior_unused" not in dataset_stats(py)


def test_the_shift_model_takes_the_prior_as_backbone_and_falls_back_without_it() -> None:
    rng = np.random.default_rng(0)
    n = 400
    X = rng.normal(size=(n, 3))
    Y = np.exp(-1.0 + 0.5 * X[:, 2:3] + rng.normal(0, 0.3, (n, 20)))
    names = [UNMOVED_BACKBONE, "surface|lines_added_source", PRIOR_BACKBONE]
    with_prior = ShiftRegressor(shrink=[0.0], spreads=[]).fit(X, Y, feature_names=names)
    assert with_prior.backbone_used_ == PRIOR_BACKBONE
    without = ShiftRegressor(shrink=[0.0], spreads=[]).fit(X[:, :2], Y, feature_names=names[:2])
    assert without.backbone_used_ == UNMOVED_BACKBONE


def test_an_unreadable_configured_prior_is_one_config_error(tmp_path: Path) -> None:
    (tmp_path / "mine.npz").write_text("oops")
    with pytest.raises(ConfigError) as err:
        check_prior_file(tmp_path / "mine.npz", tmp_path / "pipeline_config.toml",
                         commit_subject=True)  # fmt: skip
    msg = str(err.value)
    assert "training.features.cross_repo_prior_path" in msg and "mine.npz" in msg
    assert "\n" not in msg


def test_the_benchmark_scores_each_history_left_out_and_writes_priors(tmp_path: Path) -> None:
    for i, name in enumerate(("00-alpha", "01-beta", "02-gamma")):
        fake_run(tmp_path / "runs" / name, seed=i)
    bench = load_benchmark("cross_repo_prior")
    assert bench.main([str(tmp_path / "runs"), "--write", str(tmp_path / "all.npz"),
                       "--write-loro", str(tmp_path / "loro")]) == 0  # fmt: skip
    loro = CrossRepoPrior.load(tmp_path / "loro" / "beta.npz")
    assert loro.meta["trained_on"] == ["alpha", "gamma"]
    shipped = CrossRepoPrior.load(tmp_path / "all.npz")
    assert shipped.meta["trained_on"] == ["alpha", "beta", "gamma"]
    assert "python|kw|def" in shipped.names and ID_TOTAL in shipped.names
    assert {f"surface|{s}" for s in SURFACE_NAMES} <= set(shipped.names)
    cmd = [sys.executable, str(ROOT / "benchmarks/cross_repo_prior.py"), str(tmp_path / "runs")]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT / "src")})  # fmt: skip
    last = json.loads(out.stdout.strip().splitlines()[-1])
    assert [r["history"] for r in last["cross_repo_prior"]] == ["alpha", "beta", "gamma"]
    assert last["summary"]["histories"] == 3 and last["summary"]["ratio"] > 0
    # the defs carry signal lines added lacks: the prior ranks the fitted periods better
    assert last["summary"]["fit_period_mean_diff"] > 0
    (tmp_path / "nothing").mkdir()
    empty = subprocess.run([*cmd[:2], str(tmp_path / "nothing")], capture_output=True,
                           text=True, env={"PYTHONPATH": str(ROOT / "src")})  # fmt: skip
    assert empty.returncode == 2 and "no trained output" in empty.stderr


def test_the_benchmark_bags_and_scores_prior_files_on_histories(tmp_path: Path) -> None:
    for i, name in enumerate(("00-alpha", "01-beta", "02-gamma", "03-delta")):
        fake_run(tmp_path / "runs" / name, seed=i)
    bench = load_benchmark("cross_repo_prior")
    runs = [str(tmp_path / "runs" / n) for n in ("00-alpha", "01-beta", "02-gamma")]
    assert bench.main([*runs, "--write", str(tmp_path / "bag.npz"), "--bag", "3",
                       "--no-leave-one-out"]) == 0  # fmt: skip
    bag = CrossRepoPrior.load(tmp_path / "bag.npz")
    assert bag.meta["bag_seeds"] == [0, 1, 2] and bag.meta["trained_on"] == [
        "alpha", "beta", "gamma"]  # fmt: skip
    assert bench.main([*runs, "--write", str(tmp_path / "one.npz"), "--no-leave-one-out",
                       "--bag", "1"]) == 0  # fmt: skip
    assert "bag_seeds" not in CrossRepoPrior.load(tmp_path / "one.npz").meta
    with pytest.raises(SystemExit) as usage:  # argparse: exit 2, nothing written
        bench.main([*runs, "--write", str(tmp_path / "none.npz"), "--bag", "0"])
    assert usage.value.code == 2 and not (tmp_path / "none.npz").exists()
    cmd = [sys.executable, str(ROOT / "benchmarks/cross_repo_prior.py"),
           str(tmp_path / "runs" / "03-delta"), "--score", str(tmp_path / "bag.npz"),
           str(tmp_path / "one.npz")]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT / "src")})  # fmt: skip
    last = json.loads(out.stdout.strip().splitlines()[-1])
    scored = last["score"][str(tmp_path / "bag.npz")]
    assert [r["history"] for r in scored] == ["delta"] and len(last["summary"]) == 2
    # the defs carry signal lines added lacks, on a history neither prior saw
    assert all(r["fit_spearman_prior"] > r["fit_spearman_lines_added"]
               for rows in last["score"].values() for r in rows)  # fmt: skip
    env = {"PYTHONPATH": str(ROOT / "src")}
    bad = subprocess.run([*cmd[:3], "--score", str(tmp_path / "missing.npz")],
                         capture_output=True, text=True, env=env)  # fmt: skip
    assert bad.returncode == 2 and "missing.npz" in bad.stderr and "Traceback" not in bad.stderr


def test_the_benchmark_mixes_in_the_fit_without_bodies_by_the_weight_asked(
    tmp_path: Path,
) -> None:
    runs = []
    for i, name in enumerate(("00-alpha", "01-beta", "02-gamma")):
        fake_run(tmp_path / "runs" / name, seed=i, body=True)
        runs.append(str(tmp_path / "runs" / name))
    bench = load_benchmark("cross_repo_prior")
    for weight, path in (("1", "alone.npz"), ("0.5", "half.npz")):
        assert bench.main([*runs, "--write", str(tmp_path / path), "--no-leave-one-out",
                           "--bag", "1", "--body-weight", weight]) == 0  # fmt: skip
    alone, half = CrossRepoPrior.load(tmp_path / "alone.npz"), CrossRepoPrior.load(
        tmp_path / "half.npz")  # fmt: skip
    assert alone.reads_body and "body_weight" not in alone.meta
    assert half.reads_body and half.meta["body_weight"] == 0.5
    assert len(half.roots) > len(alone.roots)  # the fit without bodies is in it
    for bad in ("1.5", "-0.1"):
        with pytest.raises(SystemExit) as usage:  # argparse: exit 2, nothing written
            bench.main([*runs, "--write", str(tmp_path / "x.npz"), "--body-weight", bad])
        assert usage.value.code == 2 and not (tmp_path / "x.npz").exists()


def test_a_prior_path_without_the_prior_is_a_config_error(tmp_path: Path) -> None:
    from standard_coder.config.schema import load_config

    path = tmp_path / "pipeline_config.toml"
    path.write_text(
        '[training.features]\ncross_repo_prior = false\ncross_repo_prior_path = "m.npz"\n'
    )
    with pytest.raises(ConfigError, match="set cross_repo_prior = true to use it"):
        load_config(path)
    path.write_text(
        '[training.features]\ncross_repo_prior = true\ncross_repo_prior_path = "m.npz"\n'
    )
    features = load_config(path).training.features
    assert features.cross_repo_prior and features.cross_repo_prior_path == tmp_path / "m.npz"
    path.write_text("[training]\n")
    assert load_config(path).training.features.cross_repo_prior  # on by default
