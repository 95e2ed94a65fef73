"""Commit subjects as change features: what is counted, and what a change without one gets."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from standard_coder.config import ConfigError
from standard_coder.pipelines.sch import check_prior_file
from standard_coder.sch.dataset import TEST
from standard_coder.sch.estimate import patch_record
from standard_coder.sch.features import ChangeRepresentation, RepresentationMismatch, extract_raw
from standard_coder.sch.features.prior_corpus import History, PriorCorpus
from standard_coder.sch.features.raw_change import RawChange
from standard_coder.sch.features.subject import SUBJECT_NAMES, subject_counts
from standard_coder.sch.features.synthetic import synthetic_changes
from standard_coder.sch.patch_mail import patch_subject
from standard_coder.sch.records import CommitRecord


def counts(subject: str) -> dict[str, float]:
    return {n.split("|")[1]: v for n, v in zip(SUBJECT_NAMES, subject_counts(subject), strict=True)}


def test_subject_counts_words_and_kinds_of_work() -> None:
    c = counts("Fix typo in the docs (#1234)")
    assert c["words"] == 6
    assert {k for k, v in c.items() if v == 1.0 and k != "words"} == {
        "fix", "typo", "doc", "pull_request"}  # fmt: skip
    c = counts("feat(cli): add --json output to estimate")
    assert c["conventional"] == 1 and c["add"] == 1 and c["fix"] == 0
    assert counts("Release 2.3.1")["release"] == 1
    assert counts("Prefix handling")["fix"] == 0  # whole words only
    assert counts("first line only\n\nfix the body")["fix"] == 0


def test_an_empty_subject_is_unknown_not_short() -> None:
    assert np.isnan(subject_counts("")).all()
    assert np.isnan(subject_counts("  \n")).all()


SUBJECTS = ("Fix typo in docs", "Add a --json flag to the CLI (#12)", "Release 1.2.0",
            "Refactor the parser into two passes", "tests: cover empty input")  # fmt: skip


def commits() -> list[CommitRecord]:
    """Synthetic changes with subjects of several lengths and kinds."""
    cs = synthetic_changes(90, seed=3).commits
    return [replace(c, subject=SUBJECTS[i % len(SUBJECTS)]) for i, c in enumerate(cs)]


def test_unknown_subject_gets_the_fitted_mean_and_scales_to_zero() -> None:
    cs = commits()
    rep = ChangeRepresentation(kind="tokens", top_n_identifiers=4).fit(cs[:60])
    cols = [rep.feature_names_.index(n) for n in SUBJECT_NAMES]
    without = [replace(c, subject="") for c in cs[60:]]
    X = rep.transform(without)
    np.testing.assert_allclose(X[:, cols], 0.0, atol=1e-6)
    with_subject = rep.transform(cs[60:])
    others = [j for j in range(X.shape[1]) if j not in cols]
    np.testing.assert_array_equal(X[:, others], with_subject[:, others])
    assert not np.allclose(with_subject[:, cols], 0.0)


def test_fitting_with_some_unknown_subjects_uses_the_known_ones() -> None:
    cs = commits()[:60]
    mixed = [c if i % 3 else replace(c, subject="") for i, c in enumerate(cs)]
    rep = ChangeRepresentation(kind="tokens", top_n_identifiers=4).fit(mixed)
    words = rep.feature_names_.index("subject|words")
    known = [np.log1p(subject_counts(c.subject)[0]) for c in mixed if c.subject]
    assert rep.mean_[words] == pytest.approx(np.mean(known))
    assert np.isfinite(rep.transform(mixed)).all()


def test_squashed_group_takes_the_longest_subject_and_every_kind() -> None:
    a, b = commits()[:2]
    a, b = replace(a, subject="fix parser"), replace(b, subject="add tests for the new parser")
    (group,) = extract_raw([[a, b]], with_ast=False)
    c = dict(zip(SUBJECT_NAMES, group.subject, strict=True))
    assert c["subject|words"] == 6 and c["subject|fix"] == 1 and c["subject|test"] == 1
    (alone,) = extract_raw([[replace(a, subject=""), b]], with_ast=False)
    assert alone.subject[0] == 6


def test_raw_change_json_roundtrip_keeps_unknown_and_reads_old_records() -> None:
    raw = extract_raw(commits()[:1], with_ast=False)[0]
    back = RawChange.from_json(json.loads(json.dumps(raw.to_json())))
    np.testing.assert_array_equal(back.subject, raw.subject)
    unknown = RawChange()
    assert unknown.to_json()[-1] is None
    assert np.isnan(RawChange.from_json(unknown.to_json()).subject).all()
    assert np.isnan(RawChange.from_json(raw.to_json()[:4]).subject).all()  # before subjects


def test_off_and_loc_have_no_subject_columns_and_old_saves_load_off(tmp_path: Path) -> None:
    cs = commits()[:60]
    off = ChangeRepresentation(kind="tokens", commit_subject=False).fit(cs)
    assert not any(n.startswith("subject|") for n in off.feature_names_)
    loc = ChangeRepresentation(kind="loc").fit(cs)
    assert not loc.commit_subject and loc.feature_names_ == [
        "surface|lines_added", "surface|lines_deleted"]  # fmt: skip
    on = ChangeRepresentation(kind="tokens").fit(cs)
    assert on.checksum_ != off.checksum_
    on.save(tmp_path / "on")
    back = ChangeRepresentation.load(tmp_path / "on")
    assert back.commit_subject and back.checksum_ == on.checksum_
    unknown = [replace(c, subject="") for c in cs[:5]]
    np.testing.assert_array_equal(back.transform(unknown), on.transform(unknown))
    off.save(tmp_path / "off")
    meta_path = tmp_path / "off" / "representation.json"
    meta = json.loads(meta_path.read_text())
    del meta["commit_subject"]  # a representation saved before the option existed
    meta_path.write_text(json.dumps(meta))
    assert not ChangeRepresentation.load(tmp_path / "off").commit_subject


def test_a_format_patch_mail_gives_its_subject_a_plain_diff_none() -> None:
    diff = "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -0,0 +1 @@\n+x = 1\n"
    mail = (
        "From 1234 Mon Sep 17 00:00:00 2001\nFrom: A <a@x>\n"
        "Subject: [PATCH 2/3] Fix the parser when a line\n ends in a comment\n\n---\n" + diff
    )
    assert patch_subject(mail) == "Fix the parser when a line ends in a comment"
    assert patch_subject(diff) == ""
    assert patch_subject("Subject: not a header\n" + diff) == "not a header"
    assert patch_subject("Subject: [RFC PATCH] Try\r\n it\r\n\r\n" + diff) == "Try it"
    encoded = "Subject: [PATCH] =?UTF-8?q?Fix=20na=C3=AFve=20parser?=\n\n"
    assert patch_subject(encoded + diff) == "Fix naïve parser"
    from standard_coder.sch.estimate import Languages

    assert patch_record(mail, Languages(), "m.patch").subject.startswith("Fix the parser")


def test_a_cut_off_patch_is_named_not_priced_short() -> None:
    """A hunk that ends before the lines its header counts (a paste cut short) is an error
    naming the file and the hunk; a mail's signature after a whole hunk is no change."""
    from standard_coder.sch.estimate import EstimateError, Languages

    whole = (
        "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -1,3 +1,4 @@\n x = 1\n+y = 2\n"
        " z = 3\n w = 4\n"
    )
    assert patch_record(whole + "-- \n2.43.0\n", Languages(), "ok.patch").lines_added == 1
    with pytest.raises(EstimateError, match=r"cut.patch: a.py: the hunk @@ -1,3 \+1,4 @@ ends"):
        patch_record(whole.rsplit(" w = 4\n", 1)[0], Languages(), "cut.patch")


def test_a_format_patch_series_is_one_change_per_mail() -> None:
    from standard_coder.sch.patch_mail import split_patch_series

    diff = "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -0,0 +1 @@\n+x = 1\n"
    mail = "From {} Mon Sep 17 00:00:00 2001\nFrom: A <a@x>\nSubject: [PATCH {}/2] {}\n\n---\n"
    series = mail.format("1" * 40, 1, "One") + diff + mail.format("2" * 40, 2, "Two") + diff
    parts = split_patch_series(series)
    assert [patch_subject(p) for p in parts] == ["One", "Two"]
    assert split_patch_series(diff) == [diff] and split_patch_series(parts[0]) == [parts[0]]


def history(name: str, seed: int, n: int = 500) -> History:
    """Changes whose coding time follows lines added and, beyond it, whether the subject names
    a pull request (which no count sees)."""
    rng = np.random.default_rng(seed)
    la = rng.negative_binomial(1, 0.05, n).astype(float)
    pr = (rng.random(n) < 0.4).astype(float)
    names = ["surface|lines_added", *SUBJECT_NAMES]
    counts = np.zeros((n, len(names)))
    counts[:, 0] = la
    counts[:, 1] = rng.integers(2, 12, n)
    counts[:, names.index("subject|pull_request")] = pr
    hours = np.exp(-1.5 + 0.3 * np.log1p(la) + 0.8 * pr + rng.normal(0, 0.4, n))
    split = np.where(np.arange(n) >= 0.8 * n, TEST, 0)
    return History(name=name, feature_names=tuple(names), counts=counts, hours=hours,
                   split=split, kind=np.zeros(n), lines_added=la)  # fmt: skip


def test_a_prior_fitted_on_histories_with_subjects_reads_them(tmp_path: Path) -> None:
    corpus = PriorCorpus([history("a", 0), history("b", 1), history("c", 2)])
    assert "subject|pull_request" in corpus.names
    older = PriorCorpus([history("a", 0), history("b", 1)], subjects=False)
    assert not any(n.startswith("subject|") for n in older.names)
    b = history("b", 1)
    without = replace(b, feature_names=b.feature_names[:1], counts=b.counts[:, :1])
    for which in ("common", "union"):  # subjects only where every history counted them
        mixed = PriorCorpus([history("a", 0), without], which)  # type: ignore[arg-type]
        assert not any(n.startswith("subject|") for n in mixed.names)
    prior = corpus.fit()
    row = np.zeros((2, len(corpus.names)))
    row[:, corpus.names.index("surface|lines_added")] = np.log1p(20)
    row[1, corpus.names.index("subject|pull_request")] = np.log1p(1)
    low, high = prior.predict(row)
    assert high > low + 0.3
    prior.save(tmp_path / "p.npz")
    check_prior_file(tmp_path / "p.npz", tmp_path / "c.toml", commit_subject=True)
    with pytest.raises(ConfigError, match="commit_subject") as err:
        check_prior_file(tmp_path / "p.npz", tmp_path / "c.toml", commit_subject=False)
    assert "training.features.cross_repo_prior_path" in str(err.value)


def test_an_unknown_subject_is_scored_by_a_subject_prior_as_its_mean_over_the_history() -> None:
    prior = PriorCorpus([history("a", 0), history("b", 1), history("c", 2)]).fit()
    cs = commits()
    rep = ChangeRepresentation(kind="tokens", cross_repo_prior=prior).fit(cs[:60])
    col = rep.feature_names_.index("prior|cross_repo")
    change = cs[60]
    as_pr = replace(change, subject="Add a --json flag to the CLI (#12)")
    plain = replace(change, subject="Add a --json flag to the CLI")
    unknown = replace(change, subject="")
    pr_score, plain_score, unknown_score = rep.transform([as_pr, plain, unknown])[:, col]
    assert pr_score > plain_score  # the prior reads the pull request flag
    assert plain_score < unknown_score < pr_score  # one in five of the fitted subjects has it
    counts = rep.raw_matrix([unknown])
    assert np.isnan(counts[0, [rep.feature_names_.index(n) for n in SUBJECT_NAMES]]).all()
    expected = sum(
        w * rep.transform([replace(change, subject=s)])[0, col]
        for s, w in zip(SUBJECTS, [1 / len(SUBJECTS)] * len(SUBJECTS), strict=True)
    )
    assert unknown_score == pytest.approx(expected, abs=1e-5)


def test_the_subject_references_are_saved_and_checked(tmp_path: Path) -> None:
    prior = PriorCorpus([history("a", 0), history("b", 1)]).fit()
    rep = ChangeRepresentation(kind="tokens", cross_repo_prior=prior).fit(commits()[:60])
    rep.save(tmp_path / "rep")
    back = ChangeRepresentation.load(tmp_path / "rep")
    unknown = [replace(c, subject="") for c in commits()[60:65]]
    np.testing.assert_array_equal(back.transform(unknown), rep.transform(unknown))
    with np.load(tmp_path / "rep" / "scaling.npz") as z:
        arrays = {k: np.array(z[k]) for k in z.files}
    arrays["subject_ref_weight"][0] += 0.1  # an edited share
    np.savez(tmp_path / "rep" / "scaling.npz", **arrays)
    with pytest.raises(RepresentationMismatch, match="checksum"):
        ChangeRepresentation.load(tmp_path / "rep")


def test_commit_subject_off_with_the_shipped_prior_reading_subjects_is_one_config_error() -> None:
    from standard_coder.pipelines.sch import check_builtin_prior
    from standard_coder.sch.features.cross_repo import CrossRepoPrior

    check_builtin_prior(Path("c.toml"), commit_subject=True)
    if not CrossRepoPrior.builtin().reads_subjects:
        check_builtin_prior(Path("c.toml"), commit_subject=False)  # nothing to refuse
        return
    with pytest.raises(ConfigError, match="commit_subject = false") as err:
        check_builtin_prior(Path("c.toml"), commit_subject=False)
    assert "\n" not in str(err.value) and "cross_repo_prior = false" in str(err.value)
