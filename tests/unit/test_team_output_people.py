"""Team output lists a person once (``join_names``, ``[filters.authors] team_output_by_name``)
and names the changes that re-apply an earlier one, the effort model untouched."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

import pytest
from test_commit_counts import LinearModel, _built

from standard_coder.sch.features.synthetic import SyntheticChanges, synthetic_changes
from standard_coder.sch.records import CommitRecord
from standard_coder.sch.team_output import team_output

WORK, HOME = "jane@work.example", "jane@home.example"


@pytest.fixture(scope="module")
def synth() -> SyntheticChanges:
    return synthetic_changes(60, n_samples=8, n_repos=2, seed=5)


def _jane_twice(commits: list[CommitRecord]) -> list[CommitRecord]:
    """The commits of ``a1@x.org`` made by Jane Roe, from work (the most) and from home; two
    other people share the placeholder name "Your Name" under their own addresses."""
    out = []
    for k, c in enumerate(commits):
        if c.author_id == "a1@x.org":
            c = replace(c, author_name="Jane Roe", author_id=HOME if k % 4 == 1 else WORK)
        elif c.author_id == "a2@x.org":
            c = replace(c, author_name="Your Name", author_id=f"p{k % 2}@x.org")
        out.append(c)
    return out


def test_one_person_under_two_addresses_is_one_row_with_both_addresses_work(
    synth: SyntheticChanges,
) -> None:
    rep, _, _ = _built(synth)
    commits = _jane_twice(synth.commits)
    assert {c.author_id for c in commits} >= {WORK, HOME, "p0@x.org", "p1@x.org"}
    apart = team_output(LinearModel(), rep, commits, seed=3, n_draws=200)
    joined = team_output(LinearModel(), rep, commits, seed=3, n_draws=200, join_names=True)
    assert apart.joined == {}
    assert joined.joined == {HOME: WORK}  # listed under the busier address; "Your Name" never
    assert {r["author"] for r in apart.rows} >= {WORK, HOME}
    assert HOME not in {r["author"] for r in joined.rows}
    assert {r["author"] for r in joined.rows} >= {"p0@x.org", "p1@x.org"}
    assert joined.per_commit == apart.per_commit  # every commit priced the same

    def cells(rows: list[dict]) -> dict[tuple[str, str, str], dict]:
        return {(r["period"], r["author"], r["repo"]): r for r in rows}

    want: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0, 0.0])
    both = []  # cells where Jane committed from both addresses
    for (period, author, repo), r in cells(apart.rows).items():
        key = (period, WORK if author == HOME else author, repo)
        want[key][0] += r["n_changes"]
        want[key][1] += r["sch_hours"]
        if author == HOME and (period, WORK, repo) in cells(apart.rows):
            both.append((key, r["sch_q90"], cells(apart.rows)[key]["sch_q90"]))
    got = cells(joined.rows)
    assert set(got) == set(want)
    for key, (n, sch) in want.items():
        assert got[key]["n_changes"] == n
        assert got[key]["sch_hours"] == pytest.approx(sch, abs=1e-5)
        assert got[key]["sch_q10"] <= got[key]["sch_q90"]
    assert both, "the fixture has a week with commits from both addresses"
    for key, q90_home, q90_work in both:  # the person's band is of the summed draws
        assert got[key]["sch_q90"] > max(q90_home, q90_work)
    other = {k: r for k, r in cells(apart.rows).items() if k[1] not in (WORK, HOME)}
    assert all(got[k] == r for k, r in other.items())  # nobody else's rows move


def _record(cid: str, author: str, ts: int, committed: int, lines: list[str]) -> CommitRecord:
    from standard_coder.sch.records import FileChange

    diff = f"@@ -0,0 +1,{len(lines)} @@\n" + "".join(f"+{x}\n" for x in lines)
    f = FileChange(path=f"{cid}.py", old_path=None, language="python", lines_added=len(lines),
                   lines_deleted=0, is_binary=False, diff=diff)  # fmt: skip
    return CommitRecord(repo="r", commit_id=cid, author_id=author, author_name="Jane Roe",
                        authored_at=ts, author_tz_offset_min=0, committed_at=committed,
                        files=(f,))  # fmt: skip


def test_a_backport_is_listed_in_the_row_team_output_counted_it_in() -> None:
    from standard_coder.sch.team_output import TeamOutput, iso_week, reapplied_rows

    fix = [f"value_{i} = compute({i}) * factor" for i in range(5)]
    week0, week9 = 1_700_000_000, 1_700_000_000 + 9 * 7 * 86400
    commits = [
        _record("fix", WORK, week0, week0, fix),
        _record(
            "new", WORK, week0 + 3600, week0 + 3600, [f"other_{i} = thing({i})" for i in range(5)]
        ),
        # a cherry-pick keeps the fix's author time: counted in the fix's week, committed later
        _record("pick", HOME, week0, week9, fix),
        _record("bot", "bot@x.example", week9, week9, fix),  # not priced: never listed
    ]
    priced = {("r", c): h for c, h in (("fix", 0.6), ("new", 0.5), ("pick", 0.55))}
    result = TeamOutput(rows=[], per_commit=priced, joined={HOME: WORK})
    rows = reapplied_rows(commits, result)
    assert rows == [{"repo": "r", "commit_id": "pick", "source_commit_id": "fix", "share": 1.0,
                     "lines": 5, "period": iso_week(week0), "author": WORK,
                     "sch_hours": 0.55}]  # fmt: skip
