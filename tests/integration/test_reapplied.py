"""Changes that re-apply an earlier one (``sch/reapplied.py``) on a real git history: a
cherry-pick onto a release branch merged back, and a revert undone; the originals, the revert
and new work are not flagged."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gitrepos import BASE_TS, commit, git, init
from test_mining_repos import options

from standard_coder.sch.mining import mine_repositories
from standard_coder.sch.mining.store import iter_commits
from standard_coder.sch.reapplied import find_reapplied
from standard_coder.sch.records import CommitRecord

pytestmark = pytest.mark.integration

H = 3600
FIX = "".join(f"def fixed_{i}(value):\n    return value * {i} + {i * i}\n" for i in range(6))
NEW = "".join(f"def feature_{i}(items):\n    return sorted(items)[{i}:]\n" for i in range(6))
# every change also writes the same boilerplate: lines many changes insert prove no copy
COMMON = "".join(f"import common_module_{i}\n" for i in range(4))


def _env(ts: int) -> dict[str, str]:
    return {"GIT_AUTHOR_DATE": f"{ts} +0000", "GIT_COMMITTER_DATE": f"{ts} +0000"}


def _history(root: Path) -> dict[str, str]:
    repo = init(root / "r")
    ids = {"base": commit(repo, {"a.py": "x = 1\n"}, "start", ts=BASE_TS)}
    git(repo, "branch", "release")
    ids["fix"] = commit(repo, {"fix.py": FIX}, "fix a bug", ts=BASE_TS + H)
    ids["new"] = commit(repo, {"new.py": NEW}, "new work", ts=BASE_TS + 2 * H)
    # the fix backported: cherry-picked onto the release branch a day later, merged back
    git(repo, "checkout", "-q", "release")
    git(repo, "cherry-pick", "-x", ids["fix"], env=_env(BASE_TS + 24 * H))
    ids["backport"] = git(repo, "rev-parse", "HEAD").decode().strip()
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-ff", "-m", "merge release", "release",
        env=_env(BASE_TS + 25 * H))  # fmt: skip
    # the fix reverted, then the revert reverted: the second re-applies the fix's lines
    git(repo, "revert", "--no-edit", ids["fix"], env=_env(BASE_TS + 26 * H))
    ids["revert"] = git(repo, "rev-parse", "HEAD").decode().strip()
    git(repo, "revert", "--no-edit", ids["revert"], env=_env(BASE_TS + 27 * H))
    ids["unrevert"] = git(repo, "rev-parse", "HEAD").decode().strip()
    for k in range(3):  # new work that shares only the boilerplate
        body = COMMON + f"def other_{k}(a, b):\n    return a ** {k + 2} - b // {k + 3}\n"
        ids[f"other{k}"] = commit(repo, {f"o{k}.py": body}, f"other {k}", ts=BASE_TS + (30 + k) * H)
    return ids


def test_a_backport_and_a_revert_undone_re_apply_the_fix_and_nothing_else_does(
    tmp_path: Path,
) -> None:
    ids = _history(tmp_path)
    db = tmp_path / "out" / "mined.sqlite"
    mine_repositories([tmp_path / "r"], db, options(tmp_path))
    commits = list(iter_commits(db, with_files=True))
    assert {c.commit_id for c in commits} >= {ids["fix"], ids["backport"], ids["unrevert"]}
    found = {f.commit_id: f for f in find_reapplied(commits)}
    assert set(found) == {ids["backport"], ids["unrevert"]}
    assert found[ids["backport"]].source_id == ids["fix"]  # committed a day after the fix
    assert found[ids["backport"]].share == 1.0 and found[ids["backport"]].lines == 12
    # the lines were last added before the undo by the backport: the most recent earlier one
    assert found[ids["unrevert"]].source_id == ids["backport"]
    # the three others share their boilerplate (4 of their 6 lines): under the share by default;
    # a loose share flags them, unless lines three changes insert are not distinctive
    others = {ids[f"other{k}"] for k in range(3)}
    loose = {f.commit_id for f in find_reapplied(commits, min_share=0.5)}
    assert others - {ids["other0"]} <= loose  # each later one shares 4 of 6 with an earlier
    strict_lines = find_reapplied(commits, min_share=0.5, max_changes_per_line=2)
    assert not {f.commit_id for f in strict_lines} & others
    assert find_reapplied(commits, min_lines=13) == []  # the fix has 12 distinctive lines


def test_a_change_estimated_alone_is_judged_against_the_history_before_it(
    tmp_path: Path,
) -> None:
    """``reapplied_in`` (what ``estimate`` says): a mined commit in its place, a commit the mine
    never stored and a patch (no commit time: after all of the history)."""
    from dataclasses import replace

    from standard_coder.sch.reapplied import reapplied_in

    ids = _history(tmp_path)
    db = tmp_path / "out" / "mined.sqlite"
    mine_repositories([tmp_path / "r"], db, options(tmp_path))
    history = list(iter_commits(db, with_files=True))
    by_id = {c.commit_id: c for c in history}
    fix, backport, new = by_id[ids["fix"]], by_id[ids["backport"]], by_id[ids["new"]]
    found = reapplied_in(history, [fix, backport, new], repo="r")
    assert found[0] is None and found[2] is None  # the original and new work
    assert found[1] is not None and found[1].source_id == ids["fix"]
    # the backport as a patch of no commit time, the history without it: re-applies the most
    # recent earlier change adding those lines (the revert undone)
    rest = [c for c in history if c.commit_id != ids["backport"]]
    patch = replace(backport, repo="patch", commit_id="fix.patch", committed_at=0)
    (hit,) = reapplied_in(rest, [patch], repo="r")
    assert hit is not None and hit.source_id == ids["unrevert"] and hit.share == 1.0
    # before the fix existed, the same lines re-apply nothing
    early = [c for c in history if c.committed_at < fix.committed_at]
    assert reapplied_in(early, [patch], repo="r") == [None]
    # new work as a patch: nothing before it adds its lines; the history holding the same
    # change already: a copy of it
    fresh = replace(new, commit_id="new.patch", committed_at=0)
    without_new = [c for c in history if c.commit_id != ids["new"]]
    assert reapplied_in(without_new, [fresh], repo="r") == [None]
    (copy,) = reapplied_in(history, [fresh], repo="r")
    assert copy is not None and copy.source_id == ids["new"]

    def unread() -> Iterator[CommitRecord]:
        raise AssertionError("the history was read")
        yield  # a generator

    # a change of too few lines to judge: the history is never read
    tiny = replace(new, commit_id="tiny.patch", files=new.files[:0])
    assert reapplied_in(unread(), [tiny], repo="r") == [None]
