"""The report's "Team output" tables: distinct active weeks, the largest rows, the rest."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from standard_coder.pipelines.sch_layout import SchLayout
from standard_coder.reporting.team_output import SHOWN, render_team_output
from standard_coder.runner.report import SectionInput


def _write(base: Path, rows: list[tuple[str, str, str, int, float]]) -> None:
    path = SchLayout(base).team_output_csv
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["period", "author", "repo", "n_changes", "sch_hours", "sch_q10", "sch_q90"])
        for period, author, repo, n, h in rows:
            w.writerow([period, author, repo, n, h, h / 2, h * 2])


def _table(html: str, title: str) -> list[list[str]]:
    body = html.split(f"<h3>{title}</h3>")[1].split("</tbody>")[0].split("<tbody>")[1]
    return [re.findall(r"<td[^>]*>(.*?)</td>", tr) for tr in body.split("</tr>")[:-1]]


def test_active_weeks_are_distinct_weeks_and_the_rest_is_one_row(tmp_path: Path) -> None:
    # two authors in two repositories in the same weeks: a repository is active in 2 weeks,
    # not in one per author and week; an author in 2, not one per repository and week
    rows = [(w, a, r, 1, 1.0) for w in ("2025-W01", "2025-W02") for a in ("ada", "bob")
            for r in ("api", "web")]  # fmt: skip
    # and many small authors, more than the table shows
    rows += [("2025-W03", f"dev{i:02d}", "api", 1, 0.1) for i in range(SHOWN + 5)]
    _write(tmp_path, rows)
    html = render_team_output(SectionInput(tmp_path, None, None, {}))
    repos = {r[0]: r[1:] for r in _table(html, "Per repository")}
    assert repos["api"] == [str(4 + SHOWN + 5), "6.5", "3"] and repos["web"] == ["4", "4", "2"]
    authors = _table(html, "Per author")
    assert len(authors) == SHOWN + 1 and authors[0][0] in ("ada", "bob")
    assert authors[0][1:] == ["4", "4", "2"]
    assert authors[-1] == ["7 others", "7", "0.700", "1"]  # 25 devs: 18 shown, 7 summed
    assert f"lists the {SHOWN} largest" in html


def test_the_section_says_which_addresses_one_persons_row_holds(tmp_path: Path) -> None:
    from standard_coder.pipelines.sch_team import people_json

    layout = SchLayout(tmp_path)
    _write(tmp_path, [("2025-W01", "jane@work.example", "api", 3, 1.0)])

    def page() -> str:
        return render_team_output(SectionInput(tmp_path, None, None, {}))

    assert "An author is a person" not in page() and "its own author" not in page()  # no file
    layout.team_output_people.write_text(
        people_json({"jane@home.example": "jane@work.example"}, True)
    )
    html = page()
    assert "An author is a person" in html and "(1 address joined:" in html
    joined = html.split("<summary>Addresses joined by name</summary>")[1].split("</details>")[0]
    cells = re.findall(r"<td>(.*?)</td>", joined)
    assert cells == ["jane@home.example", "jane@work.example", "team output"]
    assert _table(html, "Per author")[0][0] == "jane@work.example"  # the tables are unchanged
    layout.team_output_people.write_text(people_json({}, True))
    assert "(0 addresses joined;" in page() and "<details>" not in page()
    layout.team_output_people.write_text(people_json({}, False))
    assert "Each address is its own author" in page() and "An author is a person" not in page()
    # the mine joined them already ([filters.authors] merge_by_name): said, and listed, with
    # or without team output's own join
    for by_name in (True, False):
        layout.team_output_people.write_text(
            people_json({}, by_name, {"jane@home.example": "jane@work.example"})
        )
        html = page()
        assert "(1 address joined, 1 by the mine" in html
        assert ("team_output_by_name = false</span> lists each address" in html) is by_name
        joined = html.split("Addresses joined by name</summary>")[1].split("</details>")[0]
        cells = re.findall(r"<td>(.*?)</td>", joined)
        assert cells == ["jane@home.example", "jane@work.example", "the mine"]
    layout.team_output_people.write_text('{"joined": [1, 2]')  # torn: said nothing of, no error
    assert "An author is a person" not in page() and "Per author" in page()


def test_the_section_names_the_changes_that_re_apply_an_earlier_one(tmp_path: Path) -> None:
    from standard_coder.pipelines.sch_team import reapplied_json
    from standard_coder.reporting.team_output import REAPPLIED_SHOWN

    layout = SchLayout(tmp_path)
    _write(tmp_path, [("2025-W01", "ada", "api", 3, 3.0), ("2025-W02", "bob", "api", 1, 1.0)])

    def change(i: int, week: str) -> dict[str, object]:
        ids = {"commit_id": f"{i:040x}", "source_commit_id": f"{i + 1:040x}"}
        return {"repo": "api", **ids, "share": 0.9, "lines": 12, "period": week, "author": "bob",
                "sch_hours": 0.25}  # fmt: skip

    def page() -> str:
        return render_team_output(SectionInput(tmp_path, None, None, {}))

    assert "re-appl" not in page()  # no file: nothing said
    layout.team_output_reapplied.write_text(reapplied_json([]))
    assert "re-appl" not in page()  # none found: nothing said
    layout.team_output_reapplied.write_text(
        reapplied_json([change(1, "2025-W02"), change(3, "2025-W01")])
    )
    html = page()
    assert "2 changes re-apply an earlier one" in html and "at least\n80 %" in html
    assert "0.500 of the\n4 SCH hours" in html
    table = html.split("<summary>Changes that re-apply an earlier one</summary>")[1]
    weeks = re.findall(r"<tr><td>(2025-W\d\d)</td>", table.split("</details>")[0])
    assert weeks == ["2025-W01", "2025-W02"]  # by the week each is counted in
    many = [change(i, "2025-W02") for i in range(REAPPLIED_SHOWN + 5)]
    layout.team_output_reapplied.write_text(reapplied_json(many))
    html = page()
    assert f"{REAPPLIED_SHOWN + 5} changes re-apply" in html
    assert f"(the first {REAPPLIED_SHOWN})" in html
    assert html.split("</details>")[0].count("<tr><td>2025-W02") == REAPPLIED_SHOWN
    layout.team_output_reapplied.write_text('{"changes": [{"period": 1}]}')  # torn
    assert "re-appl" not in page() and "Per author" in page()


def test_the_weeks_named_are_the_span_and_the_active_ones(tmp_path: Path) -> None:
    # changes in three weeks of 2015 and 2026: "over 3 weeks" read as a span of three weeks
    _write(tmp_path, [("2015-W53", "a", "r", 1, 1.0), ("2016-W01", "a", "r", 1, 1.0),
                      ("2016-W10", "a", "r", 1, 1.0)])  # fmt: skip
    html = render_team_output(SectionInput(tmp_path, None, None, {}))
    assert "over 11 weeks (2015-W53 to 2016-W10), 3 with a change;" in " ".join(html.split())


def test_an_empty_author_address_is_named_not_a_blank_cell(tmp_path: Path) -> None:
    """Session 38 (pint): "Carlos Pascual <>" commits have the identity "": the joined-addresses
    table and the per-author table showed an empty cell."""
    from standard_coder.pipelines.sch_team import people_json

    layout = SchLayout(tmp_path)
    _write(tmp_path, [("2025-W01", "cp@cells.example", "api", 3, 1.0),
                      ("2025-W02", "", "api", 1, 0.5)])  # fmt: skip
    layout.team_output_people.write_text(people_json({"": "cp@cells.example"}, True))
    html = render_team_output(SectionInput(tmp_path, None, None, {}))
    joined = html.split("<summary>Addresses joined by name</summary>")[1].split("</details>")[0]
    assert re.findall(r"<td>(.*?)</td>", joined) == [
        "(empty address)", "cp@cells.example", "team output"]  # fmt: skip
    assert [r[0] for r in _table(html, "Per author")] == ["cp@cells.example", "(empty address)"]


def test_the_section_says_when_hours_follow_the_count_of_changes(tmp_path: Path) -> None:
    """itsdangerous: the terminal said "(its hours follow how many changes each person made
    more than what the changes held ...)", the report's tables (31.7 h for 85 changes, 20.9
    for 56: changes x 0.37 h) said nothing of it."""
    import json

    layout = SchLayout(tmp_path)
    _write(tmp_path, [("2025-W01", "jane@work.example", "api", 85, 31.7)])

    def page() -> str:
        return render_team_output(SectionInput(tmp_path, None, None, {}))

    said = "follow how many changes they made more than what the changes held"
    assert said not in page()  # no evaluation: nothing to say
    layout.evaluation.parent.mkdir(parents=True, exist_ok=True)
    flat = {"sch_q10": 0.36, "sch_q90": 0.38, "label_q10": 0.05, "label_q90": 0.8}
    layout.evaluation.write_text(json.dumps(flat))
    assert said in page()
    layout.evaluation.write_text(json.dumps(flat | {"sch_q10": 0.1, "sch_q90": 0.6}))
    assert said not in page()  # estimates as spread as two thirds of the labels'


def test_hours_that_rank_people_as_their_count_of_changes_are_said_with_r(
    tmp_path: Path,
) -> None:
    """click (session 60): across 329 authors r = 0.9994 between hours and changes (7 changes
    of +968/-435 lines got 2.65 h, 7 of +157/-59 got 2.69), and the section said nothing: the
    estimates' spread was a hair above the flat share. The measured r is said itself."""
    people = [(f"p{i}@x.example", 3 + 2 * i) for i in range(6)]
    _write(tmp_path, [("2025-W01", who, "api", n, round(0.38 * n, 3)) for who, n in people])
    html = render_team_output(SectionInput(tmp_path, None, None, {}))
    said = "(across the 6 people, r = 1.000 between a person's hours and their count of changes)"
    assert said in html and "do not rank people by them" in html
    # hours that do not follow the count: nothing said
    _write(tmp_path, [("2025-W01", who, "api", n, float(7 - i)) for i, (who, n) in
                      enumerate(people)])  # fmt: skip
    assert "count of changes)" not in render_team_output(SectionInput(tmp_path, None, None, {}))


def test_the_per_author_table_names_each_person_beside_the_address(tmp_path: Path) -> None:
    """itsdangerous: the table read ``davidism@gmail.com | 85 | 31.7``; the people file names
    each listed address's person (the name their commits carry most often)."""
    from standard_coder.pipelines.sch_team import people_json

    layout = SchLayout(tmp_path)
    _write(tmp_path, [("2025-W01", "davidism@gmail.com", "api", 85, 31.7),
                      ("2025-W01", "bot@example.com", "api", 2, 0.5)])  # fmt: skip
    layout.team_output_people.write_text(
        people_json({}, True, names={"davidism@gmail.com": "David <Lord>"})
    )
    html = render_team_output(SectionInput(tmp_path, None, None, {}))
    authors = _table(html, "Per author")
    assert authors[0][0] == "David &lt;Lord&gt; <span class='muted'>davidism@gmail.com</span>"
    assert authors[1][0] == "bot@example.com"  # no name known: the address alone
    repos = _table(html, "Per repository")
    assert repos[0][0] == "api"
