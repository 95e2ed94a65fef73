"""The effort dataset: time split per repo, no replicated rows, squashes, schema-checked npz."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from standard_coder.sch.dataset import (
    TEST,
    TRAIN,
    VAL,
    Dataset,
    DatasetSchemaError,
    DatasetStopped,
    build_dataset,
    dataset_stats,
    extract_in_batches,
    time_split,
    write_stats,
)
from standard_coder.sch.features.synthetic import SyntheticChanges, synthetic_changes


@pytest.fixture(scope="module")
def synth() -> SyntheticChanges:
    return synthetic_changes(100, n_samples=8, n_repos=2, seed=2)


def test_time_split_holds_out_most_recent_per_repo() -> None:
    repo = np.array(["a"] * 10 + ["b"] * 5)
    time = np.concatenate([np.arange(10)[::-1], np.arange(5)])
    split = time_split(repo, time, 0.2, 0.25, seed=0)
    a_test = np.flatnonzero((repo == "a") & (split == TEST))
    assert sorted(time[a_test]) == [8, 9]
    b_test = np.flatnonzero((repo == "b") & (split == TEST))
    assert sorted(time[b_test]) == [4]
    assert ((repo == "a") & (split == VAL)).sum() == 2
    for r in "ab":  # every test row is newer than every train/val row of its repo
        m = repo == r
        assert time[m & (split == TEST)].min() > time[m & (split != TEST)].max()


def test_time_split_reaches_back_for_normal_interval_changes() -> None:
    """A squash-merged recent history: the last fifth holds no normal-interval change, so the
    held-out period reaches back until it holds a fifth of them; still strictly the newest."""
    n = 50
    repo = np.array(["a"] * n + ["b"] * n)
    time = np.concatenate([np.arange(n), np.arange(n)])
    normal = np.concatenate([np.arange(n) < 30, np.ones(n, bool)])  # a: 30..49 merge-stamped
    plain = time_split(repo, time, 0.2, 0.1, seed=0)
    split = time_split(repo, time, 0.2, 0.1, seed=0, normal=normal)
    a = repo == "a"
    assert (a & (plain == TEST) & normal).sum() == 0  # what the evaluation had to score
    assert (a & (split == TEST) & normal).sum() == 6  # ceil(0.2 * 30)
    assert sorted(time[a & (split == TEST)]) == list(range(24, n))
    assert time[a & (split == TEST)].min() > time[a & (split != TEST)].max()
    b = repo == "b"  # normal throughout: the plain held-out period (the seeded validation
    # draw goes on from repo a's, whose fitted period is shorter)
    np.testing.assert_array_equal(split[b] == TEST, plain[b] == TEST)
    assert (split[b] == VAL).sum() == (plain[b] == VAL).sum() == 4
    # never every change: one normal change, the oldest, stays in the fitted period
    one = time_split(np.array(["c"] * 5), np.arange(5), 0.2, 0.0, seed=0,
                     normal=np.array([True, False, False, False, False]))  # fmt: skip
    assert list(one) == [TRAIN, TEST, TEST, TEST, TEST]


def test_build_dataset_rows_labels_and_split(synth: SyntheticChanges) -> None:
    ds, rep = build_dataset(synth.commits, (synth.keys, synth.samples), representation="tokens",
                            top_n_identifiers=4, test_fraction=0.2,
                            validation_fraction=0.1)  # fmt: skip
    assert len(ds) == 100 and ds.Y.shape == (100, 8)  # one row per commit, never replicated
    by_key = dict(zip(synth.keys, synth.samples, strict=True))
    for i in range(0, 100, 17):
        np.testing.assert_array_equal(ds.Y[i], by_key[(str(ds.repo[i]), str(ds.commit_id[i]))])
    assert (ds.split == TEST).sum() == 20 and (ds.split == VAL).sum() == 8
    assert ds.feature_checksum == rep.checksum_
    # representation fitted on train+val only: the train part is standardised
    assert np.abs(ds.X[ds.split != TEST].mean(axis=0)).max() < 1e-4
    loc = ds.loc_view()
    assert loc.X.shape == (100, 2) and loc.feature_kind == "loc"
    assert loc.feature_checksum != ds.feature_checksum


def test_squashed_groups_sum_features_and_take_the_newest_label(synth: SyntheticChanges) -> None:
    c = synth.commits
    group = [synth.keys[0], synth.keys[2]]  # same repo (2 repos interleaved)
    ds, _ = build_dataset(c, (synth.keys[1:], synth.samples[1:]), representation="tokens",
                          groups=[group])  # fmt: skip
    assert len(ds) == 99  # commit 0 has no label of its own but is squashed into commit 2
    i = int(np.flatnonzero(ds.commit_id == synth.keys[2][1])[0])
    assert ds.n_squashed[i] == 2
    assert ds.surface_column("lines_added")[i] == c[0].lines_added + c[2].lines_added
    np.testing.assert_array_equal(ds.Y[i], synth.samples[2])


def test_label_kinds_and_pooled_follow_each_change_and_its_first_commit(
    synth: SyntheticChanges, tmp_path: Path
) -> None:
    keys = synth.keys
    group = [keys[0], keys[2]]  # the group's label spans from before its first member
    kinds = {keys[0]: 1, keys[2]: 0, keys[5]: 2, keys[7]: 0}
    pooled = {keys[5]: True}
    ds, _ = build_dataset(synth.commits, (keys, synth.samples), representation="loc",
                          groups=[group], label_kinds=kinds, pooled=pooled)  # fmt: skip
    row = {str(c): i for i, c in enumerate(ds.commit_id)}
    assert ds.label_kind[row[keys[2][1]]] == 1  # newest member, first member's kind
    assert ds.label_kind[row[keys[5][1]]] == 2 and bool(ds.pooled[row[keys[5][1]]])
    assert int(ds.label_kind.sum()) == 3 and int(ds.pooled.sum()) == 1  # the rest: normal
    assert dataset_stats(ds)["label_kinds"] == {
        "normal": 97,
        "first": 1,
        "after_gap": 1,
        "merge_stamped": 0,
        "agent_assisted": 0,
    }
    back = Dataset.load(ds.save(tmp_path / "d.npz"))
    np.testing.assert_array_equal(back.label_kind, ds.label_kind)
    np.testing.assert_array_equal(back.pooled, ds.pooled)
    # a dataset written before the kinds existed reads as all normal, none pooled
    with np.load(tmp_path / "d.npz") as z:
        old = {k: z[k] for k in z.files if k not in ("label_kind", "pooled")}
    np.savez(tmp_path / "old.npz", **old)
    legacy = Dataset.load(tmp_path / "old.npz")
    assert not legacy.label_kind.any() and not legacy.pooled.any()
    bad = {**old, "label_kind": np.full(len(ds), 7, np.int8)}
    np.savez(tmp_path / "bad_kind.npz", **bad)
    with pytest.raises(DatasetSchemaError, match="label_kind"):
        Dataset.load(tmp_path / "bad_kind.npz")


def test_unlabelled_commits_are_dropped_and_no_labels_is_an_error(synth: SyntheticChanges) -> None:
    ds, _ = build_dataset(synth.commits, (synth.keys[:50], synth.samples[:50]),
                          representation="loc")  # fmt: skip
    assert len(ds) == 50
    with pytest.raises(ValueError, match="no change has a label"):
        build_dataset(synth.commits, ([("x", "y")], synth.samples[:1]), representation="loc")


def test_save_load_schema_check_and_stats(synth: SyntheticChanges, tmp_path: Path) -> None:
    ds, _ = build_dataset(synth.commits, (synth.keys, synth.samples), representation="tokens")
    path = ds.save(tmp_path / "labels" / "datasets" / "coding_train.npz")
    back = Dataset.load(path)
    np.testing.assert_array_equal(back.X, ds.X)
    np.testing.assert_array_equal(back.Y, ds.Y)
    assert back.meta["checksum"] == ds.meta["checksum"] and list(back.commit_id) == list(
        ds.commit_id
    )
    st = dataset_stats(back)
    assert st["n_changes"] == 100 and st["n_train"] + st["n_validation"] + st["n_test"] == 100
    write_stats(back, tmp_path / "stats.json")
    assert json.loads((tmp_path / "stats.json").read_text())["n_samples_per_change"] == 8
    # corrupt: truncated file, and a file with a negative label
    (tmp_path / "bad.npz").write_bytes(path.read_bytes()[:200])
    with pytest.raises(DatasetSchemaError, match=r"bad\.npz"):
        Dataset.load(tmp_path / "bad.npz")
    ds.Y[0, 0] = -1.0
    ds.save(tmp_path / "neg.npz")
    with pytest.raises(DatasetSchemaError, match="negative"):
        Dataset.load(tmp_path / "neg.npz")
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files if k != "split"}
    np.savez(tmp_path / "missing.npz", **arrays)
    with pytest.raises(DatasetSchemaError, match="missing arrays"):
        Dataset.load(tmp_path / "missing.npz")
    assert TRAIN == 0


def test_a_dataset_from_before_the_unmoved_count_loads_with_that_column_unknown(
    synth: SyntheticChanges, tmp_path: Path
) -> None:
    ds, _ = build_dataset(synth.commits, (synth.keys, synth.samples), representation="tokens")
    path = ds.save(tmp_path / "new.npz")
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    full = arrays["surface"]
    arrays["surface"] = full[:, :5]  # the five Table I counts of older datasets
    np.savez(tmp_path / "old.npz", **arrays)
    old = Dataset.load(tmp_path / "old.npz")
    la = ds.surface_column("lines_added")
    np.testing.assert_array_equal(old.surface_column("lines_added"), la)
    assert np.isnan(old.surface_column("lines_added_unmoved")).all()
    assert np.isnan(old.surface_column("lines_added_source")).all()
    arrays["surface"] = full[:, :6]  # written before lines_added_source
    np.savez(tmp_path / "six.npz", **arrays)
    six = Dataset.load(tmp_path / "six.npz")
    np.testing.assert_array_equal(six.surface_column("lines_added_unmoved"),
                                  ds.surface_column("lines_added_unmoved"))  # fmt: skip
    assert np.isnan(six.surface_column("lines_added_source")).all()
    arrays["surface"] = full[:, :3]
    np.savez(tmp_path / "bad_surface.npz", **arrays)
    with pytest.raises(DatasetSchemaError, match=r"surface \(n, 7\)"):
        Dataset.load(tmp_path / "bad_surface.npz")


def test_batched_extraction_in_worker_processes_gives_the_same_dataset(
    synth: SyntheticChanges,
) -> None:
    """Features counted in batches by two worker processes (finishing in any order) give the
    same dataset as one in-process pass."""
    from standard_coder.runner.executor import LocalPoolExecutor

    args = ((synth.keys, synth.samples),)
    kw: dict[str, Any] = {"representation": "hybrid", "top_n_identifiers": 4}
    serial, _ = build_dataset(synth.commits, *args, **kw)
    with LocalPoolExecutor(2) as pool:
        pooled, _ = build_dataset(
            synth.commits, *args, **kw, batch_size=7,
            map_fn=lambda fn, items: pool.map(fn, items, lambda: False),
        )  # fmt: skip
    for name in ("X", "X_loc", "Y", "surface", "repo", "commit_id", "split", "time"):
        np.testing.assert_array_equal(getattr(serial, name), getattr(pooled, name), name)
    assert serial.meta == pooled.meta


def test_batches_finishing_out_of_order_are_put_back_in_order(synth: SyntheticChanges) -> None:
    def backwards(fn: Any, items: Any) -> Iterator[tuple[Any, Any]]:
        jobs = list(items)
        for job in reversed(jobs):
            yield job, fn(job)

    got = [k for (k, _t), _raw in extract_in_batches(
        synth.commits, with_ast=False, map_fn=backwards, batch_size=9)]  # fmt: skip
    assert got == [(c.repo, c.commit_id) for c in synth.commits]


def test_a_stop_during_extraction_raises_dataset_stopped(synth: SyntheticChanges) -> None:
    def stops_after_two(fn: Any, items: Any) -> Iterator[tuple[Any, Any]]:
        for n, job in enumerate(items):
            if n == 2:
                return  # what ctx.map does once a stop was requested
            yield job, fn(job)

    with pytest.raises(DatasetStopped):
        build_dataset(synth.commits, (synth.keys, synth.samples), batch_size=10,
                      map_fn=stops_after_two)  # fmt: skip


def test_an_interrupted_extraction_resumes_from_the_ledger(
    synth: SyntheticChanges, tmp_path: Path
) -> None:
    """Batches finished before a stop are recorded with their counts; the rerun counts only
    the others and builds exactly the dataset of an uninterrupted run."""
    from standard_coder.runner.ledger import SqliteLedger

    args = ((synth.keys, synth.samples),)
    kw: dict[str, Any] = {"representation": "hybrid", "top_n_identifiers": 4, "batch_size": 9}
    clean, _ = build_dataset(synth.commits, *args, **kw)
    counted: list[int] = []

    def stops_after(n: int) -> Any:
        def run(fn: Any, items: Any) -> Iterator[tuple[Any, Any]]:
            for job in items:
                if len(counted) == n:
                    return
                counted.append(job[0])
                yield job, fn(job)

        return run

    with SqliteLedger(tmp_path / "features.sqlite") as ledger:
        with pytest.raises(DatasetStopped):
            build_dataset(synth.commits, *args, **kw, ledger=ledger, map_fn=stops_after(4))
        assert len(ledger) == 4
        resumed, _ = build_dataset(
            synth.commits, *args, **kw, ledger=ledger, map_fn=stops_after(10**6)
        )
        assert sorted(counted) == list(range(12))  # 100 commits in 12 batches, each once
        # records of other batches (another batch size) are never mixed in
        counted.clear()
        other, _ = build_dataset(synth.commits, *args, **{**kw, "batch_size": 10},
                                 ledger=ledger, map_fn=stops_after(10**6))  # fmt: skip
        assert sorted(counted) == list(range(10))
        np.testing.assert_array_equal(other.X, clean.X)
    for name in ("X", "X_loc", "Y", "surface", "split"):
        np.testing.assert_array_equal(getattr(clean, name), getattr(resumed, name), name)
    assert clean.meta == resumed.meta
