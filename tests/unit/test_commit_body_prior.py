"""A message body's counts (``body|...``): trailers are not prose, an unknown message is NaN;
a cross-repository prior reads them only where every history counted them, and is refused in
one line where the representation would not count them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from standard_coder.config import ConfigError
from standard_coder.pipelines.sch import check_builtin_prior, check_prior_file
from standard_coder.sch.dataset import TEST
from standard_coder.sch.features.cross_repo import CrossRepoPrior
from standard_coder.sch.features.message_body import BODY_NAMES, BODY_PREFIX, body_counts
from standard_coder.sch.features.prior_corpus import RECIPE_BODY_WEIGHT, History, PriorCorpus


def test_counts_leave_trailer_blocks_out_and_an_unknown_message_is_nan() -> None:
    assert np.isnan(body_counts(None)).all()
    assert body_counts("").tolist() == [0, 0, 0]
    # a last paragraph of "Token: value" lines is trailers, whatever the tokens
    body = "Explain the change\nin two lines.\n\nFixes: #12\nAcked-by: Carol <c@example.com>"
    assert body_counts(body).tolist() == [2, 6, 0]
    # a last paragraph with prose in it is prose; the known trailer names never count as lines
    prose = "Note: this is prose.\nIt goes on.\n\nCo-authored-by: D <d@example.com>\n" \
            "co-authored-by: E <e@example.com>"  # fmt: skip
    assert body_counts(prose).tolist() == [2, 7, 2]
    mixed = "Why.\n\nSee: the thread\nand more words here"
    assert body_counts(mixed).tolist() == [3, 8, 0]


def history(name: str, seed: int, n: int = 500) -> History:
    """Changes whose coding time follows lines added and, beyond it, how much their author
    wrote about them."""
    rng = np.random.default_rng(seed)
    la = rng.negative_binomial(1, 0.05, n).astype(float)
    lines = rng.negative_binomial(1, 0.3, n) * (rng.random(n) < 0.5)
    names = ["surface|lines_added", *BODY_NAMES]
    counts = np.zeros((n, len(names)))
    counts[:, 0] = la
    counts[:, names.index("body|lines")] = lines
    counts[:, names.index("body|words")] = 9 * lines
    hours = np.exp(-1.5 + 0.3 * np.log1p(la) + 0.4 * np.log1p(lines) + rng.normal(0, 0.4, n))
    split = np.where(np.arange(n) >= 0.8 * n, TEST, 0)
    return History(name=name, feature_names=tuple(names), counts=counts, hours=hours,
                   split=split, kind=np.zeros(n), lines_added=la)  # fmt: skip


def test_a_prior_fitted_on_histories_with_bodies_reads_them(tmp_path: Path) -> None:
    corpus = PriorCorpus([history("a", 0), history("b", 1), history("c", 2)])
    assert set(BODY_NAMES) <= set(corpus.names)
    assert not any(n.startswith("body|") for n in PriorCorpus(
        [history("a", 0), history("b", 1)], body=False).names)  # fmt: skip
    b = history("b", 1)
    without = b.without((BODY_PREFIX,))
    assert b.counted_bodies and not without.counted_bodies
    assert without.feature_names == ("surface|lines_added",)
    assert np.array_equal(without.counts, b.counts[:, :1]) and without.hours is b.hours
    for which in ("common", "union"):  # only where every history counted them
        mixed = PriorCorpus([history("a", 0), without], which)  # type: ignore[arg-type]
        assert not any(n.startswith("body|") for n in mixed.names)
    prior = corpus.fit()
    assert prior.reads_body and not prior.reads_files and not prior.reads_subjects

    def gap(p: CrossRepoPrior) -> float:  # a change with a six-line body against one without
        names = list(p.names)
        row = np.zeros((2, len(names)))
        row[:, names.index("surface|lines_added")] = np.log1p(20)
        row[1, names.index("body|lines")] = np.log1p(6)
        row[1, names.index("body|words")] = np.log1p(54)
        low, high = p.predict(row)
        return float(high - low)

    alone = gap(corpus.fit(body_weight=1.0))
    assert alone > 0.3  # the body fit alone reads the body
    assert gap(prior) == pytest.approx(RECIPE_BODY_WEIGHT * alone)  # the recipe: its share
    prior.save(tmp_path / "p.npz")
    check_prior_file(tmp_path / "p.npz", tmp_path / "c.toml", commit_subject=True,
                     commit_body=True)  # fmt: skip
    with pytest.raises(ConfigError, match="commit_body = false") as err:
        check_prior_file(tmp_path / "p.npz", tmp_path / "c.toml", commit_subject=True,
                         commit_body=False)  # fmt: skip
    assert "training.features.cross_repo_prior_path" in str(err.value)
    assert "body|" in str(err.value) and "\n" not in str(err.value)


def test_the_recipe_shrinks_the_body_fit_toward_the_fit_without_bodies() -> None:
    corpus = PriorCorpus([history("a", 0), history("b", 1), history("c", 2)])
    plain = PriorCorpus([history("a", 0), history("b", 1), history("c", 2)], body=False)
    alone, without = corpus.fit(body_weight=1.0), plain.fit()
    assert alone.reads_body and not without.reads_body and "body_weight" not in alone.meta
    mix = corpus.fit()
    assert mix.meta["body_weight"] == RECIPE_BODY_WEIGHT and 0 < RECIPE_BODY_WEIGHT < 1
    assert mix.reads_body and len(mix.roots) == len(alone.roots) + len(without.roots)
    h = history("d", 3)
    names = list(h.feature_names)
    w = RECIPE_BODY_WEIGHT
    expected = w * alone.score(h.counts, names) + (1 - w) * without.score(h.counts, names)
    assert np.allclose(mix.score(h.counts, list(h.feature_names)), expected, atol=1e-9)
    none_of_it = corpus.fit(body_weight=0.0)
    assert not none_of_it.reads_body
    assert np.array_equal(none_of_it.score(h.counts, list(h.feature_names)),
                          without.score(h.counts, list(h.feature_names)))  # fmt: skip
    with pytest.raises(ValueError, match="body_weight"):
        corpus.fit(body_weight=-0.5)


def test_the_shipped_body_prior_is_the_shipped_recipe_with_the_body_columns_mixed_in() -> None:
    plain, body = CrossRepoPrior.builtin(), CrossRepoPrior.builtin(body=True)
    assert body.reads_body and body.reads_subjects and not body.reads_files
    assert set(body.names) == set(plain.names) | set(BODY_NAMES)
    assert body.meta["trained_on"] == plain.meta["trained_on"]
    assert body.meta["bag_seeds"] == plain.meta["bag_seeds"]
    assert body.meta["body_weight"] == RECIPE_BODY_WEIGHT  # the recipe's mix, as fit-prior's
    # its first trees are the shipped prior's (the same fit without bodies), at its share
    n = len(plain.feature)  # the plain prior's nodes come first
    assert np.array_equal(body.roots[: len(plain.roots)], plain.roots)
    assert np.array_equal(body.threshold[:n], plain.threshold)
    assert np.array_equal(body.feature[:n] >= 0, plain.feature >= 0)
    assert [body.names[j] for j in body.feature[:n][body.feature[:n] >= 0]] == [
        plain.names[j] for j in plain.feature[plain.feature >= 0]]  # fmt: skip
    assert np.allclose(body.value[:n], (1 - RECIPE_BODY_WEIGHT) * plain.value, atol=1e-15)
    assert len(body.roots) > len(plain.roots)  # and the body fit's after them


def test_commit_body_off_with_the_shipped_prior_is_refused_only_if_it_reads_them() -> None:
    builtin = CrossRepoPrior.builtin()
    check_builtin_prior(Path("c.toml"), commit_subject=True, commit_body=True)
    if not builtin.reads_body:
        check_builtin_prior(Path("c.toml"), commit_subject=True, commit_body=False)
        return
    with pytest.raises(ConfigError, match="commit_body = false") as err:
        check_builtin_prior(Path("c.toml"), commit_subject=True, commit_body=False)
    assert "\n" not in str(err.value) and "cross_repo_prior = false" in str(err.value)
