"""``estimate`` prices a change with the SCH the evaluation reports for it (the location-shift
model's stored SCH map included), and merge commits as the commits they merged.

Real synthetic commits, a real shift model saved to and loaded from ``model.pt``, real git
repositories in tmp folders.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from tests.unit.gitfix import git

from standard_coder.sch.dataset import TRAIN, build_dataset
from standard_coder.sch.estimate import (
    Languages,
    change_sch,
    estimate_changes,
    git_commit_records,
    resolve_revisions,
)
from standard_coder.sch.evaluation import _point_prediction
from standard_coder.sch.features.synthetic import synthetic_changes
from standard_coder.sch.predictors.distributions import MixtureDistribution
from standard_coder.sch.predictors.estimator import EffortModel
from standard_coder.sch.predictors.sch_map import apply_sch_map
from standard_coder.sch.records import CommitRecord
from standard_coder.sch.team_output import iso_week, team_output

SCH_MAP = (0.4, 1.7)
Fitted = tuple[EffortModel, Any, list[CommitRecord]]


@pytest.fixture(scope="module")
def shift_model(tmp_path_factory: pytest.TempPathFactory) -> Fitted:
    """A shift model whose SCH map is far from the identity, through ``model.pt``."""
    torch.set_num_threads(1)
    synth = synthetic_changes(80, n_samples=8, n_repos=2, seed=3)
    ds, rep = build_dataset(synth.commits, (synth.keys, synth.samples), representation="hybrid")
    tr = ds.index(TRAIN)
    model = EffortModel(predictor="shift", params={"shrink": [0.0]})
    model.fit(ds.X[tr], ds.Y[tr], feature_names=ds.feature_names)
    model.regressor_.module_.sch_map.copy_(torch.tensor(SCH_MAP, dtype=torch.float64))  # type: ignore[operator]
    path = model.save(tmp_path_factory.mktemp("model") / "model.pt")
    return EffortModel.load(path), rep, synth.commits


def test_estimate_prices_with_the_evaluations_sch_map_included(
    shift_model: Fitted,
) -> None:
    model, rep, commits = shift_model
    kept = model.regressor_.module_.sch_map.tolist()  # type: ignore[operator]
    assert kept == list(SCH_MAP)  # model.pt kept it
    some = [c for c in commits if c.files][:6]
    X = rep.transform(some)
    dist = model.distribution(X)
    evaluation = _point_prediction(dist).sch  # what sch_evaluation.json's metrics use
    doc = estimate_changes(
        model, rep, some, labels=[("commit_id", c.commit_id) for c in some], model_name="shift"
    )
    got = np.array([c["sch_hours"] for c in doc["changes"]])
    np.testing.assert_array_equal(got, evaluation)
    np.testing.assert_array_equal(change_sch(model, X), evaluation)
    # the same as team_output's per-commit price and predict()'s, and not the unmapped mean
    priced = team_output(model, rep, some, seed=0)
    assert [priced.per_commit[(c.repo, c.commit_id)] for c in some] == got.tolist()
    np.testing.assert_allclose(model.predict(X).sch, got, rtol=0, atol=0)
    assert isinstance(dist, MixtureDistribution)
    dist.sch_map = (0.0, 1.0)  # the raw truncated mean, without the model's map
    unmapped = dist.sch()
    assert np.abs(unmapped - got).max() > 0.01
    np.testing.assert_allclose(apply_sch_map(unmapped, *SCH_MAP), got, rtol=1e-12)
    # the features that weigh most are occlusion effects on that same SCH
    for change in doc["changes"]:
        assert change["top_features"] and all(
            isinstance(f["sch_hours"], float) for f in change["top_features"]
        )
    # ... towards the change whose every count is its training mean: a change's SCH with one
    # feature set to its mean moves towards it, and with all of them set it is that change
    mean_counts = np.expm1(rep.mean_)[None, :].repeat(len(some), axis=0)
    typical = {c["typical_sch_hours"] for c in doc["changes"]}  # one change, every row's
    assert len(typical) == 1
    np.testing.assert_allclose(change_sch(model, rep.scale_counts(mean_counts)),
                               typical.pop(), rtol=1e-12)  # fmt: skip
    assert 0 < doc["changes"][0]["typical_sch_hours"] < 1
    bare = estimate_changes(model, rep, some, labels=[("commit_id", c.commit_id) for c in some],
                            model_name="shift", explain=False)  # fmt: skip
    assert all("typical_sch_hours" not in c for c in bare["changes"])  # nothing weighed


def test_the_draws_average_the_mapped_sch_so_totals_sit_inside_their_range(
    shift_model: Fitted,
) -> None:
    """With a calibration map far from the identity the raw draws' mean is not the SCH: the
    draws are moved to it, so a range's total SCH lies inside its q10-q90, and team output's
    and the forecast's draws add up to the same SCH."""
    from standard_coder.sch.draws import sch_draws
    from standard_coder.sch.predictors.sch_map import match_mean

    model, rep, commits = shift_model
    some = [c for c in commits if c.files][:20]
    X = rep.transform(some)
    sch = change_sch(model, X)
    draws = sch_draws(model, X, 400, [[0, i] for i in range(len(some))])
    np.testing.assert_allclose(draws.mean(axis=1), sch, atol=1e-8)
    assert draws.min() >= 0.0 and draws.max() <= 1.0
    doc = estimate_changes(model, rep, some, labels=[("commit_id", c.commit_id) for c in some],
                           model_name="shift", explain=False)  # fmt: skip
    total = doc["total"]
    assert total["q10"] < total["sch_hours"] < total["q90"]
    # the shift keeps each row's order (its quantiles' ranks), and reaches any mean in (0, 1)
    rng = np.random.default_rng(0)
    raw = rng.uniform(0, 1, (5, 300))
    moved = match_mean(raw, np.array([0.01, 0.2, 0.5, 0.8, 0.99]))
    np.testing.assert_allclose(moved.mean(axis=1), [0.01, 0.2, 0.5, 0.8, 0.99], atol=1e-8)
    assert (np.argsort(moved, axis=1) == np.argsort(raw, axis=1)).all()


def _commit(repo: Path, files: dict[str, str], msg: str) -> str:
    for name, text in files.items():
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", msg)
    return git(repo, "rev-parse", "HEAD")


def _body(k: int) -> str:
    return "".join(
        f"def f{k}_{i}(x):\n    return [y * {i} for y in x if y > {k}]\n" for i in range(3)
    )


@pytest.fixture(scope="module")
def merged_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """base - main1 - M(feat) - O(octo1, octo2); feat: feat1, feat2; one commit per branch."""
    repo = tmp_path_factory.mktemp("merges") / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    ids = {"base": _commit(repo, {"a.py": "A = 1\n"}, "base")}
    git(repo, "checkout", "-qb", "feat")
    ids["feat1"] = _commit(repo, {"f1.py": _body(1)}, "feat1")
    ids["feat2"] = _commit(repo, {"f2.py": _body(2)}, "feat2")
    git(repo, "checkout", "-q", "main")
    ids["main1"] = _commit(repo, {"m.py": _body(3)}, "main1")
    who = ("-c", "user.name=t", "-c", "user.email=t@t")
    git(repo, *who, "merge", "-q", "--no-ff", "feat", "-m", "merge feat")
    ids["M"] = git(repo, "rev-parse", "HEAD")
    for k in (1, 2):
        git(repo, "checkout", "-qb", f"octo{k}", ids["M"])
        ids[f"octo{k}"] = _commit(repo, {f"o{k}.py": _body(10 + k)}, f"octo{k}")
    git(repo, "checkout", "-q", "main")
    git(repo, *who, "merge", "-q", "--no-ff", "octo1", "octo2", "-m", "octopus")
    ids["O"] = git(repo, "rev-parse", "HEAD")
    return repo, ids


def test_a_merge_of_others_work_says_whose_it_is(tmp_path: Path) -> None:
    """click: a back-merge of 'stable' into a feature branch was priced 13.7 h from the 138
    commits it brought in, said only as "a merge": the commits' authors are said."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    _commit(repo, {"a.py": "A = 1\n"}, "base")
    git(repo, "checkout", "-qb", "stable")
    for k in (1, 2):
        _commit(repo, {f"s{k}.py": _body(k)}, f"fix {k}")  # by t@t
    git(repo, "checkout", "-q", "main")
    lead = ("-c", "user.name=Lead", "-c", "user.email=lead@example.com")
    git(repo, *lead, "merge", "-q", "--no-ff", "stable", "-m", "Merge branch 'stable'")
    note = resolve_revisions(repo, "HEAD").note
    assert "; 2 of them by 1 person other than the merge's author: where it brought" in note
    git(repo, "checkout", "-qb", "own", "HEAD~1")  # the same commits merged by their author
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "merge", "-q", "--no-ff", "stable",
        "-m", "merge")  # fmt: skip
    assert "other than the merge's author" not in resolve_revisions(repo, "HEAD").note


def test_a_merge_is_priced_as_the_commits_it_merged_and_a_range_skips_merges(
    merged_repo: tuple[Path, dict[str, str]], shift_model: Fitted
) -> None:
    repo, ids = merged_repo
    one = resolve_revisions(repo, ids["M"])
    assert one.ids == [ids["feat1"], ids["feat2"]] and one.merges == [ids["M"]]
    assert "is a merge, priced as the 2 commit(s) it merged" in one.note
    assert "), because a merge's own diff repeats the work" in one.note
    assert "--no-merges" in one.note
    short = resolve_revisions(repo, ids["M"][:8]).note  # an id is said once, not "x (x...)"
    assert short.startswith(f"{ids['M'][:8]} is a merge")
    octo = resolve_revisions(repo, "HEAD")  # an octopus merge: every other parent's commits
    assert sorted(octo.ids) == sorted([ids["octo1"], ids["octo2"]]) and octo.merges == [ids["O"]]
    whole = resolve_revisions(repo, f"{ids['base']}..HEAD")
    assert sorted(whole.ids) == sorted(ids[k] for k in ("feat1", "feat2", "main1", "octo1",
                                                        "octo2"))  # fmt: skip
    assert whole.merges == [ids["M"], ids["O"]] and whole.note.startswith(
        f"2 merge commit(s) in {ids['base']}..HEAD not priced themselves (the commits they "
        "merged that the range holds are), because a merge's own diff repeats the work"
    )
    plain = resolve_revisions(repo, ids["main1"])
    assert plain.ids == [ids["main1"]] and plain.merges == [] and plain.note == ""
    # priced: the merge costs what its merged commits cost, each on its own
    model, rep, _ = shift_model
    langs = Languages()
    records = git_commit_records(repo, one.ids, langs, with_contents=True)
    assert [r.lines_added for r in records] == [6, 6]
    doc = estimate_changes(
        model, rep, records, labels=[("commit_id", c) for c in one.ids], model_name="shift"
    )
    singles = [
        estimate_changes(model, rep, [r], labels=[("commit_id", r.commit_id)], model_name="s")
        for r in records
    ]
    assert doc["total"]["sch_hours"] > 0
    assert doc["total"]["sch_hours"] == pytest.approx(
        sum(s["total"]["sch_hours"] for s in singles), rel=1e-9
    )


def test_a_commit_read_from_git_has_the_mines_author(tmp_path: Path) -> None:
    # the mine's identity: .mailmap applied, GitHub's account number dropped, lower-cased
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "m.py").write_text("x = 1\n")
    (repo / ".mailmap").write_text("Jane Roe <4711+Jane@users.noreply.github.com> <jr@old>\n")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=jr", "-c", "user.email=jr@old", "commit", "-qm", "c1")
    (record,) = git_commit_records(repo, [git(repo, "rev-parse", "HEAD")], Languages(),
                                   with_contents=False)  # fmt: skip
    assert record.author_id == "jane@users.noreply.github.com"
    assert record.author_name == "Jane Roe"


def test_a_change_draws_the_same_alone_or_in_a_batch(shift_model: Fitted) -> None:
    """A change inside a range or a team-output batch gets bit-for-bit the draws it gets alone
    (``estimate`` of one commit): a batched forward pass and mean matching differed by ~1e-7."""
    from standard_coder.sch.draws import sch_draws

    model, rep, commits = shift_model
    some = [c for c in commits if c.files][:12]
    X = rep.transform(some)
    seeds = [[0, i] for i in range(len(some))]
    together = sch_draws(model, X, 200, seeds)
    for i in (0, 5, 11):
        alone = sch_draws(model, X[i : i + 1], 200, seeds[i : i + 1])
        np.testing.assert_array_equal(together[i], alone[0])


def test_apply_hunks_rebuilds_a_file_and_refuses_another_base() -> None:
    from standard_coder.sch.estimate import apply_hunks

    before = "a\nb\nc\nd\n"
    hunks = "@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n@@ -4 +4,2 @@\n d\n+e\n\\ No newline at end of file\n"
    assert apply_hunks(before, hunks) == "a\nB\nc\nd\ne"
    assert apply_hunks("", "@@ -0,0 +1,2 @@\n+x\n+y\n") == "x\ny\n"  # a new file
    assert apply_hunks("a\nb\n", "@@ -1,2 +0,0 @@\n-a\n-b\n") == ""  # a deleted one
    assert apply_hunks("a\nX\nc\nd\n", hunks) is None  # the removed line is not there
    assert apply_hunks(before, "+x\n") is None  # no header


def test_a_patch_of_a_pure_rename_keeps_the_files_contents() -> None:
    # `git diff -M` of `git mv a.py b.py`: no hunk. It was priced "without the contents of
    # b.py (... not what the patch changes)" though a.py at HEAD is exactly what it renames
    from standard_coder.sch.estimate import Languages, files_without_contents, patch_record

    diff = ("diff --git a/a.py b/b.py\nsimilarity index 100%\nrename from a.py\n"
            "rename to b.py\n")  # fmt: skip
    head = {"a.py": "x = 1\n"}
    rec = patch_record(diff, Languages(), "mv.diff", before=head.get)
    assert files_without_contents(rec) == []
    (f,) = rec.files
    assert (f.path, f.old_path, f.before, f.after) == ("b.py", "a.py", "x = 1\n", "x = 1\n")


def test_team_output_week_of_one_change_equals_its_estimate(shift_model: Fitted) -> None:
    """Team output's q10/q90 of a week with one change are estimate's of that commit, exactly."""
    from standard_coder.sch.estimate import estimate_changes

    model, rep, commits = shift_model
    some = [c for c in commits if c.files][:6]
    rows = team_output(model, rep, some, seed=7).rows
    one = next(r for r in rows if r["n_changes"] == 1)
    (rec,) = [c for c in some if c.author_id == one["author"] and c.repo == one["repo"]
              and one["period"] == iso_week(c.authored_at, c.author_tz_offset_min)]  # fmt: skip
    doc = estimate_changes(model, rep, [rec], labels=[("commit_id", rec.commit_id)],
                           model_name="m", seed=7, explain=False)  # fmt: skip
    (change,) = doc["changes"]
    assert one["sch_q10"] == round(change["q10"], 6) and one["sch_q90"] == round(change["q90"], 6)


def test_a_bad_repository_is_named_before_a_missing_model(tmp_path: Path) -> None:
    """estimate checks the repository before it loads the model: with neither, the one line
    names the path that is no repository (exit 2), not "no trained model"."""
    import subprocess
    import sys

    from tests.unit.gitfix import committed_repo

    from standard_coder.config import load_config
    from standard_coder.pipelines.sch_estimate import EstimateInputError, Target, estimate

    config = tmp_path / "c.toml"
    config.write_text('[outputs]\nbase_dir = "out"\n')  # no model under it
    cfg = load_config(config, [])
    plain = tmp_path / "plain"
    plain.mkdir()
    patch = tmp_path / "p.diff"
    patch.write_text("")
    for target in (Target(), Target(rev="HEAD~1..HEAD"), Target(worktree=True),
                   Target(diff=patch)):  # fmt: skip
        with pytest.raises(EstimateInputError, match="plain: not a git repository"):
            estimate(cfg, target, repo=plain)
    with pytest.raises(EstimateInputError, match="no-such: not a folder"):
        estimate(cfg, Target(), repo=tmp_path / "no-such")
    repo = committed_repo(tmp_path)  # a good repository: an unknown revision is said next
    with pytest.raises(EstimateInputError, match="no-such-rev"):
        estimate(cfg, Target(rev="no-such-rev"), repo=repo)
    with pytest.raises(EstimateInputError, match="'nosuch' names no commit"):
        estimate(cfg, Target(rev="HEAD..nosuch"), repo=repo)
    empty = tmp_path / "empty"
    git(tmp_path, "init", "-q", str(empty))
    with pytest.raises(EstimateInputError, match="has no commits yet"):
        estimate(cfg, Target(), repo=empty)
    # then the missing model (an empty range is a good input: it needs the model all the same)
    with pytest.raises(EstimateInputError, match=r"no trained effort model.*train_sch"):
        estimate(cfg, Target(rev="HEAD..HEAD"), repo=repo)
    for target in (Target(), Target(worktree=True), Target(diff=patch)):
        with pytest.raises(EstimateInputError, match=r"no trained effort model.*train_sch"):
            estimate(cfg, target, repo=repo)
    proc = subprocess.run(
        [sys.executable, "-m", "standard_coder", "estimate", "-c", str(config), "--repo",
         str(plain)], capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [f"error: --repo {plain}: not a git repository"]


def test_a_format_patch_mail_names_its_commit_and_a_plain_diff_none() -> None:
    from standard_coder.sch.patch_mail import patch_commit_id

    sha = "0123456789abcdef0123456789abcdef01234567"
    mail = f"From {sha} Mon Sep 17 00:00:00 2001\nFrom: A <a@x>\nSubject: [PATCH] s\n\n---\n"
    assert patch_commit_id(mail) == sha
    assert patch_commit_id("diff --git a/x.py b/x.py\n") is None
    assert patch_commit_id(f"see From {sha} Mon Sep 17 00:00:00 2001\n") is None
