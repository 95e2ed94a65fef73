"""Labels over the authored timeline: merge-stamped commits out of the fit, the last session a
commit closes, and the per-change label weight written into the dataset."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import numpy as np
import pytest

from standard_coder.sch.work_inference import AuthorHistory, HMMOptions, WorkInferenceOptions
from standard_coder.sch.work_inference.ffbs import interval_ffbs, interval_last_bout
from standard_coder.sch.work_inference.labels import infer_labels

T0 = 1_700_000_000
OPTS = WorkInferenceOptions(
    label_samples_per_commit=8, min_commits_per_author=10, hmm=HMMOptions(epochs=6)
)
LOCAL = dataclasses.replace(OPTS, stamped_out_of_timeline=True)


def _history(stamped: set[tuple[str, str]]) -> dict[str, AuthorHistory]:
    rng = np.random.default_rng(3)
    days = np.repeat(np.arange(12), 3) * 86400
    times = T0 + days + 9 * 3600 + np.sort(rng.integers(0, 8 * 3600, size=days.shape[0]))
    keys = [("r", f"c{i:02d}") for i in range(times.shape[0])]
    tz = np.zeros(times.shape[0], dtype=np.int64)
    return {"a@x": AuthorHistory.from_tuple("a@x", (times, tz, keys), stamped)}


STAMPED = {("r", f"c{i:02d}") for i in range(1, 36, 4)}


def test_stamped_commits_are_out_of_the_timeline_and_still_labelled(tmp_path: Path) -> None:
    full = _history(set())["a@x"]
    with_flags = _history(STAMPED)
    h = with_flags["a@x"]
    assert h.stamped_mask().sum() == len(STAMPED) and full.stamped is None
    assert h.digest() != full.digest()  # a flag change refits the author
    local = ~h.stamped_mask()
    kept = tuple(k for k, s in zip(h.keys, local, strict=True) if s)
    only_local = {"a@x": AuthorHistory("a@x", h.times[local], h.tz_offsets[local], kept)}
    for kind in ("gap", "hmm"):
        ls = infer_labels(with_flags, LOCAL, kind=kind, out_dir=tmp_path / "f", seed=1)
        ref = infer_labels(only_local, LOCAL, kind=kind, out_dir=tmp_path / "l", seed=1)
        rows = [ls.keys.index(k) for k in ref.keys]
        # the authored commits are labelled exactly as if the stamped ones did not exist
        np.testing.assert_allclose(ls.expected_minutes[rows], ref.expected_minutes)
        np.testing.assert_allclose(ls.samples_hours[rows], ref.samples_hours)
        np.testing.assert_allclose(ls.interval_minutes[rows], ref.interval_minutes)
        # a stamped commit's interval runs from the previous commit of any kind
        srow = [ls.keys.index(k) for k in sorted(STAMPED)]
        at = [h.keys.index(k) for k in sorted(STAMPED)]
        expect = [(h.times[i] - h.times[i - 1]) / 60 for i in at]
        np.testing.assert_allclose(ls.interval_minutes[srow], expect)
        assert np.isfinite(ls.expected_minutes[srow]).all() and (ls.samples_hours >= 0).all()
        assert ls.last_session_minutes is not None
        assert (ls.last_session_minutes <= ls.expected_minutes + 1e-6).all()
        if kind == "gap":  # git-hours credits the closing session only
            np.testing.assert_allclose(ls.last_session_minutes, ls.expected_minutes)
    # the default: the timeline keeps every commit, as before (flags or not)
    assert not OPTS.stamped_out_of_timeline
    for kind in ("gap", "hmm"):
        a = infer_labels(with_flags, OPTS, kind=kind, out_dir=tmp_path / "o", seed=1)
        b = infer_labels({"a@x": full}, OPTS, kind=kind, out_dir=tmp_path / "p", seed=1)
        np.testing.assert_allclose(a.expected_minutes, b.expected_minutes)
        np.testing.assert_allclose(a.samples_hours, b.samples_hours)


def _paths(cells: np.ndarray, s: np.ndarray, e: np.ndarray, c: float, p0: float):  # type: ignore[no-untyped-def]
    """Every state path of a tiny interval with its probability (0 coding, 1 not)."""
    n = cells.shape[0]
    for z in itertools.product((0, 1), repeat=n):
        if z[-1] != 0:
            continue
        for z0, pz0 in ((0, p0), (1, 1 - p0)):
            p, prev = pz0, z0
            for j in range(n):
                k = cells[j]
                a = (1 - e[k], e[k]) if prev == 0 else (s[k], 1 - s[k])
                p *= a[z[j]]
                if z[j] == 0:
                    p *= c if j == n - 1 else 1 - c
                prev = z[j]
            yield z, p


@pytest.mark.parametrize("p0", [1.0, 0.0, 0.4])
def test_last_bout_is_the_exact_expected_closing_run(p0: float) -> None:
    rng = np.random.default_rng(0)
    s, e = rng.uniform(0.05, 0.6, 3), rng.uniform(0.05, 0.6, 3)
    cells = np.array([0, 1, 2, 1, 0, 2], dtype=np.int32)
    c = 0.2
    total = last = norm = 0.0
    for z, p in _paths(cells, s, e, c, p0):
        run = len(z) - max((j + 1 for j, v in enumerate(z) if v == 1), default=0)
        total, last, norm = total + p * z.count(0), last + p * run, norm + p
    out = np.zeros(4)
    expected = interval_ffbs(cells, s, e, c, p0, 4, np.uint64(1), out)
    assert expected == pytest.approx(total / norm)
    assert interval_last_bout(cells, s, e, c, p0) == pytest.approx(last / norm)
    assert interval_last_bout(cells, s, e, c, p0) < expected


def test_label_weights_travel_in_the_dataset(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from standard_coder.pipelines.sch_train import session_weights
    from standard_coder.sch.dataset import Dataset, DatasetSchemaError

    keys = [("r", "a"), ("r", "b"), ("r", "c")]
    labels = SimpleNamespace(
        keys=keys,
        expected_minutes=np.array([40.0, 1.0, 0.0]),
        last_session_minutes=np.array([10.0, 1.0, 0.0]),
        interval_minutes=np.array([600.0, 1.0, np.nan]),
    )
    w = session_weights(labels, [[("r", "a"), ("r", "b")]])
    assert w[("r", "a")] == (pytest.approx(11 / 41), 600.0)  # the squashed group, summed
    assert ("r", "b") not in w and w[("r", "c")][0] == 1.0  # no coding: weight 1
    n = 3
    ds = Dataset(X=np.zeros((n, 2)), X_loc=np.zeros((n, 2)), Y=np.ones((n, 4)),
                 surface=np.zeros((n, 5)), repo=np.full(n, "r"), commit_id=np.array(list("abc")),
                 n_squashed=np.ones(n, np.int32), time=np.arange(n), split=np.zeros(n, np.int8),
                 feature_names=["f0", "f1"], meta={"kind": "loc", "checksum": "x"},
                 label_weight=np.array([0.25, 1.0, 0.5], np.float32),
                 label_interval_minutes=np.array([600.0, 3.0, np.nan]))  # fmt: skip
    back = Dataset.load(ds.save(tmp_path / "d.npz"))
    np.testing.assert_allclose(back.label_weight, [0.25, 1.0, 0.5])
    np.testing.assert_allclose(back.label_interval_minutes, [600.0, 3.0, np.nan])
    with np.load(tmp_path / "d.npz") as z:  # a dataset written before the columns
        old = {k: z[k] for k in z.files if k not in ("label_weight", "label_interval_minutes")}
        bad = {**{k: z[k] for k in z.files}, "label_weight": np.array([2.0, 1.0, 1.0], np.float32)}
    np.savez(tmp_path / "old.npz", **old)
    assert Dataset.load(tmp_path / "old.npz").label_weight.tolist() == [1.0, 1.0, 1.0]
    np.savez(tmp_path / "bad.npz", **bad)
    with pytest.raises(DatasetSchemaError, match="label_weight"):
        Dataset.load(tmp_path / "bad.npz")


def test_the_log_says_how_many_fits_serve_how_many_authors(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The progress bar counts fits ("0/6" on a history of 119 authors): the log says both."""
    big = _history(set())["a@x"]
    small = {
        f"s{i}@x": AuthorHistory.from_tuple(
            f"s{i}@x", (big.times[:3] + i * 60, big.tz_offsets[:3], list(big.keys[:3]))
        )
        for i in range(4)
    }
    with caplog.at_level("INFO", logger="standard_coder.sch.work_inference.labels"):
        infer_labels({"a@x": big, **small}, OPTS, kind="gap", out_dir=tmp_path, seed=1)
    (line,) = [r.getMessage() for r in caplog.records if "fits for" in r.getMessage()]
    assert line.startswith("work inference gap: 2 fits for 5 authors (1 with 10+ commits each")
    assert "4 with fewer in 1 pooled fit(s)" in line
