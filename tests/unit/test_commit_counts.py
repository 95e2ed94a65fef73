"""``features/commit_counts.npz``: ``train_sch``'s counts of every commit, for ``team_output``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from standard_coder.sch.dataset import build_dataset
from standard_coder.sch.features.commit_counts import (
    CommitCountsError,
    load_commit_counts,
    save_commit_counts,
)
from standard_coder.sch.features.raw_change import RawChange, extract_raw
from standard_coder.sch.features.representation import ChangeRepresentation
from standard_coder.sch.features.synthetic import SyntheticChanges, synthetic_changes
from standard_coder.sch.team_output import csv_text, team_output


@pytest.fixture(scope="module")
def synth() -> SyntheticChanges:
    return synthetic_changes(60, n_samples=8, n_repos=2, seed=5)


class LinearModel:
    """A fixed linear pricing of the rows (what a team-output test compares is its input rows
    and how they are summed, not a trained model's answer)."""

    def distribution(self, X: np.ndarray) -> LinearModel:
        self.x = np.abs(X).sum(axis=1) / 100
        return self

    def sch(self) -> np.ndarray:
        return self.x

    def sample(self, X: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        return np.abs(X).sum(axis=1, keepdims=True) / 100 * rng.random((len(X), n))


def _built(synth: SyntheticChanges) -> tuple[ChangeRepresentation, dict, list]:
    raws: dict[tuple[str, str], RawChange] = {}
    group = [synth.keys[0], synth.keys[2]]  # a squashed group: its members keep their own counts
    _, rep = build_dataset(synth.commits, (synth.keys, synth.samples), representation="hybrid",
                           groups=[group], commit_raws=raws)  # fmt: skip
    return rep, raws, group


def test_every_commit_keeps_its_own_counts_and_groups_still_sum(synth: SyntheticChanges) -> None:
    rep, raws, group = _built(synth)
    assert list(raws) == [(c.repo, c.commit_id) for c in synth.commits]  # unlabelled ones too
    fresh = extract_raw(synth.commits, with_ast=True)
    np.testing.assert_array_equal(rep.raw_matrix(list(raws.values())), rep.raw_matrix(fresh))
    # the group's row is the sum of its members, and summing left the members untouched
    ds, _ = build_dataset(synth.commits, (synth.keys, synth.samples), representation="hybrid",
                          groups=[group])  # fmt: skip
    i = int(np.flatnonzero(ds.commit_id == group[1][1])[0])
    a, b = synth.commits[0], synth.commits[2]
    assert ds.surface_column("lines_added")[i] == a.lines_added + b.lines_added
    assert raws[group[0]].tokens.surface == fresh[0].tokens.surface


def test_saved_counts_give_the_same_rows_and_the_same_team_output(
    synth: SyntheticChanges, tmp_path: Path
) -> None:
    rep, raws, _ = _built(synth)
    path = save_commit_counts(tmp_path / "commit_counts.npz", rep, raws)
    counts = load_commit_counts(path, rep)
    keys = [(c.repo, c.commit_id) for c in synth.commits]
    assert len(counts) == len(keys) and keys[3] in counts
    X = rep.scale_counts(counts.rows(keys))
    assert X.tobytes() == rep.transform(synth.commits).tobytes()  # bit for bit

    fresh = csv_text(team_output(LinearModel(), rep, synth.commits, seed=3, n_draws=20).rows)
    reused = team_output(LinearModel(), rep, synth.commits, seed=3, n_draws=20,
                         features=lambda b: rep.scale_counts(
                             counts.rows([(r.repo, r.commit_id) for r in b])))  # fmt: skip
    assert csv_text(reused.rows) == fresh and fresh.count("\n") > 5


def test_counts_of_another_vocabulary_or_a_bad_file_are_refused(
    synth: SyntheticChanges, tmp_path: Path
) -> None:
    rep, raws, _ = _built(synth)
    path = save_commit_counts(tmp_path / "commit_counts.npz", rep, raws)
    other = ChangeRepresentation(kind="tokens").fit(extract_raw(synth.commits[:30]))
    with pytest.raises(CommitCountsError, match="another vocabulary"):
        load_commit_counts(path, other)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(CommitCountsError, match=r"bad\.npz: unreadable"):
        load_commit_counts(bad, rep)
    with pytest.raises(CommitCountsError, match="unreadable"):
        load_commit_counts(tmp_path / "missing.npz", rep)
    empty = save_commit_counts(tmp_path / "empty.npz", rep, {})
    assert len(load_commit_counts(empty, rep)) == 0


def test_counts_written_in_blocks_are_the_same(
    synth: SyntheticChanges, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from standard_coder.sch.features import commit_counts

    rep, raws, _ = _built(synth)
    whole = load_commit_counts(save_commit_counts(tmp_path / "a.npz", rep, raws), rep)
    monkeypatch.setattr(commit_counts, "ROWS_PER_BLOCK", 7)  # 60 commits: 9 blocks
    blocks = load_commit_counts(save_commit_counts(tmp_path / "b.npz", rep, raws), rep)
    keys = list(raws)
    assert blocks.rows(keys).tobytes() == whole.rows(keys).tobytes()
    np.testing.assert_array_equal(blocks.indptr, whole.indptr)


def test_a_stop_between_batches_prices_no_more_and_keeps_nothing(
    synth: SyntheticChanges, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``team_output`` asks ``should_stop`` after each batch: a Ctrl-C waited for every commit
    to be priced (17 s on the tiny demo) and the stage then threw the result away. Asked and
    never told to stop, it prices all, as before."""
    import standard_coder.sch.team_output as priced

    rep, _, _ = _built(synth)
    monkeypatch.setattr(priced, "BATCH", 8)  # 60 commits: seven checks
    asked: list[int] = []

    def stop_at_second() -> bool:
        asked.append(1)
        return len(asked) == 2

    assert team_output(LinearModel(), rep, synth.commits, n_draws=5,
                       should_stop=stop_at_second) is None  # fmt: skip
    assert len(asked) == 2  # no batch priced after the stop
    full = team_output(LinearModel(), rep, synth.commits, n_draws=5, should_stop=lambda: False)
    plain = team_output(LinearModel(), rep, synth.commits, n_draws=5)
    assert full is not None and plain is not None and full.rows == plain.rows
