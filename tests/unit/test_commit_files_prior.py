"""A cross-repository prior over the columns of files of every language (``files|...``): read
only where every history counted them, refused in one line where the representation would
not count them; and a diff's hunks read as their headers count them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from standard_coder.config import ConfigError
from standard_coder.pipelines.sch import check_builtin_prior, check_prior_file
from standard_coder.sch.dataset import TEST
from standard_coder.sch.features.change_files import FILE_NAMES
from standard_coder.sch.features.prior_corpus import History, PriorCorpus
from standard_coder.sch.predictors.stage import parse_unified_diff


def history(name: str, seed: int, n: int = 500) -> History:
    """Changes whose coding time follows lines added and, beyond it, the documentation lines
    written alongside (which no token count sees)."""
    rng = np.random.default_rng(seed)
    la = rng.negative_binomial(1, 0.05, n).astype(float)
    doc = rng.negative_binomial(1, 0.1, n) * (rng.random(n) < 0.3)
    names = ["surface|lines_added", *FILE_NAMES]
    counts = np.zeros((n, len(names)))
    counts[:, 0] = la
    counts[:, names.index("files|doc_lines_added")] = doc
    counts[:, names.index("files|other_lines_added")] = doc
    counts[:, names.index("files|files")] = 1 + (doc > 0)
    hours = np.exp(-1.5 + 0.3 * np.log1p(la) + 0.4 * np.log1p(doc) + rng.normal(0, 0.4, n))
    split = np.where(np.arange(n) >= 0.8 * n, TEST, 0)
    return History(name=name, feature_names=tuple(names), counts=counts, hours=hours,
                   split=split, kind=np.zeros(n), lines_added=la)  # fmt: skip


def test_a_prior_fitted_on_histories_with_file_counts_reads_them(tmp_path: Path) -> None:
    corpus = PriorCorpus([history("a", 0), history("b", 1), history("c", 2)])
    assert set(FILE_NAMES) <= set(corpus.names)
    assert not any(n.startswith("files|") for n in PriorCorpus(
        [history("a", 0), history("b", 1)], files=False).names)  # fmt: skip
    b = history("b", 1)
    without = replace(b, feature_names=b.feature_names[:1], counts=b.counts[:, :1])
    for which in ("common", "union"):  # only where every history counted them
        mixed = PriorCorpus([history("a", 0), without], which)  # type: ignore[arg-type]
        assert not any(n.startswith("files|") for n in mixed.names)
    prior = corpus.fit()
    assert prior.reads_files and not prior.reads_subjects
    row = np.zeros((2, len(corpus.names)))
    row[:, corpus.names.index("surface|lines_added")] = np.log1p(20)
    for name, v in (("files|doc_lines_added", 40), ("files|other_lines_added", 40),
                    ("files|files", 2)):  # fmt: skip
        row[1, corpus.names.index(name)] = np.log1p(v)
    low, high = prior.predict(row)
    assert high > low + 0.3
    prior.save(tmp_path / "p.npz")
    check_prior_file(tmp_path / "p.npz", tmp_path / "c.toml", commit_subject=True,
                     commit_files=True)  # fmt: skip
    with pytest.raises(ConfigError, match="commit_files = false") as err:
        check_prior_file(tmp_path / "p.npz", tmp_path / "c.toml", commit_subject=True,
                         commit_files=False)  # fmt: skip
    assert "training.features.cross_repo_prior_path" in str(err.value)
    assert "\n" not in str(err.value)


def test_commit_files_off_with_the_shipped_prior_is_refused_only_if_it_reads_them() -> None:
    from standard_coder.pipelines.sch import BUILTIN_PRIOR_READS
    from standard_coder.sch.features.cross_repo import CrossRepoPrior

    builtin = CrossRepoPrior.builtin()
    reads = {
        "commit_subject": builtin.reads_subjects,
        "commit_files": builtin.reads_files,
        "commit_body": builtin.reads_body,
    }
    assert {k for k, v in reads.items() if v} == BUILTIN_PRIOR_READS
    check_builtin_prior(Path("c.toml"), commit_subject=True, commit_files=True)
    if not builtin.reads_files:
        check_builtin_prior(Path("c.toml"), commit_subject=True, commit_files=False)
        return
    with pytest.raises(ConfigError, match="commit_files = false") as err:
        check_builtin_prior(Path("c.toml"), commit_subject=True, commit_files=False)
    assert "\n" not in str(err.value) and "cross_repo_prior = false" in str(err.value)


def test_a_hunk_holds_the_lines_its_header_counts_not_a_mail_signature() -> None:
    mail = (
        "Subject: [PATCH] x\n\n---\n"
        "diff --git a/a.py b/a.py\nindex 1..2 100644\n--- a/a.py\n+++ b/a.py\n"
        "@@ -1,2 +1,2 @@\n-x = 1\n+x = 2\n y = 3\n\\ No newline at end of file\n"
        "diff --git a/notes.md b/notes.md\n--- a/notes.md\n+++ b/notes.md\n"
        "@@ -1 +1,2 @@\n-- item\n+- item\n+- another\n-- \n2.39.5\n\n"
    )
    py, md = parse_unified_diff(mail)
    assert (py.path, py.lines_added, py.lines_deleted) == ("a.py", 1, 1)
    # "-- item" is a deleted markdown list item; the "-- " after the hunk is the signature
    assert (md.path, md.lines_added, md.lines_deleted) == ("notes.md", 2, 1)
    # a bare "@@" (a hand-written hunk) reads every line up to the next header, as before
    (bare,) = parse_unified_diff("diff --git a/a.py b/a.py\n@@\n+a\n+b\n-c\n")
    assert (bare.lines_added, bare.lines_deleted) == (2, 1)
