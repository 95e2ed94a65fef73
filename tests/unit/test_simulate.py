"""Developer simulator: real git repos, stable ids, truth consistent with the schedule."""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from proctools import child_env
from standard_coder.sch.teamsim.schedule import simulate_coding
from standard_coder.sch.teamsim.team import (
    AuthorSpec,
    ScheduleSpec,
    TeamSpec,
    load_truth,
    simulate_small_team,
    simulate_team,
)


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


def test_small_team_repo_and_truth_agree(tmp_path: Path) -> None:
    res = simulate_small_team(tmp_path / "a", weeks=3, seed=3)
    assert res.seconds < 5
    truth = load_truth(res.truth_path)
    assert len(truth.commits) == res.n_commits > 100
    log = _git(res.repos[0], "log", "--format=%H %ae %at %ai", "main")
    ids = {line.split()[0] for line in log.splitlines()}
    assert ids == {c.commit_id for c in truth.commits}
    # the mailmap maps the alias back to the canonical author
    log_mm = _git(res.repos[0], "log", "--use-mailmap", "--format=%aE", "main")
    assert set(log_mm.split()) == set(res.authors)
    assert len(set(_git(res.repos[0], "log", "--format=%ae", "main").split())) == 4
    # dates and time zones as in the truth
    by_id = truth.by_commit_id()
    for line in log.splitlines()[:50]:
        cid, _email, at, _d, clock, tz = line.split()
        c = by_id[cid]
        assert int(at) == c.authored_at
        sign = 1 if tz[0] == "+" else -1
        assert sign * (int(tz[1:3]) * 60 + int(tz[3:])) == c.tz_offset_min
        hour = int(clock.split(":")[0])
        assert 9 <= hour < 17  # local working hours
    # intervals: first commit per author has none, later ones are consistent
    seen: dict[str, int] = {}
    for c in truth.commits:
        if c.author in seen:
            assert c.interval_minutes == pytest.approx((c.authored_at - seen[c.author]) / 60)
            assert 0 <= c.coding_minutes <= c.interval_minutes + 1
        else:
            assert c.interval_minutes is None
        seen[c.author] = c.authored_at


def test_same_seed_same_commit_ids(tmp_path: Path) -> None:
    a = load_truth(simulate_small_team(tmp_path / "a", weeks=2, seed=7).truth_path)
    b = load_truth(simulate_small_team(tmp_path / "b", weeks=2, seed=7).truth_path)
    c = load_truth(simulate_small_team(tmp_path / "c", weeks=2, seed=8).truth_path)
    assert [x.commit_id for x in a.commits] == [x.commit_id for x in b.commits]
    assert {x.commit_id for x in a.commits}.isdisjoint({x.commit_id for x in c.commits})


def test_content_depends_on_coding_time_and_parses(tmp_path: Path) -> None:
    res = simulate_team(tmp_path, TeamSpec(n_authors=2, weeks=4, n_repos=2), seed=1)
    truth = load_truth(res.truth_path)
    churn: dict[str, int] = {}
    files: dict[str, int] = {}
    for repo in res.repos:
        out = _git(repo, "log", "--format=@%H", "--numstat", "main")
        cur = ""
        for line in out.splitlines():
            if line.startswith("@"):
                cur = line[1:]
                churn[cur] = 0
                files[cur] = 0
            elif line.strip():
                add, dele, path = line.split("\t")
                if path.endswith(".py"):
                    churn[cur] += int(add) + int(dele)
                    files[cur] += 1
    minutes = np.array([c.coding_minutes for c in truth.commits], dtype=float)
    lines = np.array([churn[c.commit_id] for c in truth.commits], dtype=float)
    assert all(files[c.commit_id] >= 1 for c in truth.commits)  # never an empty change
    r = np.corrcoef(np.log1p(minutes), np.log1p(lines))[0, 1]
    assert r > 0.4
    assert np.median(lines[minutes >= 60]) > 3 * np.median(lines[minutes <= 5])
    n_bad = n_py = 0
    for repo in res.repos:
        for p in repo.rglob("*.py"):
            n_py += 1
            try:
                ast.parse(p.read_text())
            except SyntaxError:
                n_bad += 1
    assert n_py > 10 and n_bad <= max(2, n_py // 10)


def test_schedule_statistics_match_footnote_2() -> None:
    rng = np.random.default_rng(0)
    author = AuthorSpec(name="x", email="x@e")
    tr = simulate_coding(author, start=dt.date(2024, 1, 1), weeks=20, holidays=frozenset(), rng=rng)
    cod = tr.coding.reshape(-1, 1440)
    assert not cod[:, : 9 * 60].any() and not cod[:, 17 * 60 :].any()
    assert not cod[5::7].any() and not cod[6::7].any()  # weekends (start is a Monday)
    # commit rate per coding minute ~ 4%
    assert tr.commit_minutes.size / tr.coding.sum() == pytest.approx(0.04, rel=0.1)
    # morning coding blocks longer than afternoon ones -> higher coding share in the morning
    morning = cod[:, 9 * 60 : 12 * 60].mean()
    afternoon = cod[:, 13 * 60 : 17 * 60].mean()
    assert morning > afternoon + 0.1
    # mean block lengths
    x = tr.coding.astype(np.int8)
    starts = np.flatnonzero(np.diff(x) == 1) + 1
    ends = np.flatnonzero(np.diff(x) == -1) + 1
    lengths = ends - starts[: ends.size]
    start_tod = starts[: ends.size] % 1440
    assert lengths[(start_tod > 9 * 60) & (start_tod < 11 * 60)].mean() == pytest.approx(
        50, rel=0.25
    )
    assert lengths[start_tod > 13 * 60].mean() == pytest.approx(18, rel=0.3)  # 20, truncated at 17h


def test_holidays_time_zone_and_mirrored_switch(tmp_path: Path) -> None:
    sched = ScheduleSpec(start_hour=8, end_hour=12, weekdays=(0, 1, 2))
    author = AuthorSpec(
        name="Tz", email="tz@e.org", tz_offset_min=-300, schedule=sched, switch_after_weeks=2
    )
    spec = TeamSpec(authors=(author,), weeks=4, holidays=(dt.date(2024, 1, 2),))
    res = simulate_team(tmp_path, spec, seed=2)
    truth = load_truth(res.truth_path)
    for c in truth.commits:
        local = dt.datetime.fromtimestamp(c.authored_at, dt.UTC) + dt.timedelta(minutes=-300)
        assert local.weekday() in (0, 1, 2) and 8 <= local.hour < 12
        assert local.date() != dt.date(2024, 1, 2)
    assert sched.mirrored().coding_mean_morning == 20 and author.schedule_for_week(2) == (
        sched.mirrored()
    )


def test_cli_simulate(tmp_path: Path) -> None:
    """A relative output folder, as people type it (regression: git wrote the marks elsewhere)."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "standard_coder",
            "simulate",
            "s",
            "--weeks",
            "1",
            "--authors",
            "2",
            "--seed",
            "4",
        ],
        check=False,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=child_env(),
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    assert doc["commits"] > 10 and Path(doc["truth"]).exists()
    assert Path(doc["out_dir"]) == tmp_path / "s"


@pytest.mark.parametrize(
    ("target", "extra", "needle"),
    [
        ("s", ["--start", "2024-13-01"], "--start '2024-13-01': expected a date"),
        ("file.txt", [], "exists and is not a folder"),
        ("file.txt/below", [], "Not a directory"),
        ("s", ["--commit-rate", "0.02,0.005"], "--commit-rate '0.02,0.005': expected LOW,HIGH"),
        ("s", ["--commit-rate", "often"], "--commit-rate 'often': expected LOW,HIGH"),
        ("s", ["--commit-rate", "0.005,0.02", "--commit-prob", "0.01"], "give one"),
        ("s", ["--seed", "-1"], "--seed"),
    ],
)
def test_cli_simulate_user_errors_exit_2_without_traceback(
    tmp_path: Path, target: str, extra: list[str], needle: str
) -> None:
    (tmp_path / "file.txt").write_text("not a folder\n")
    out = subprocess.run(
        [sys.executable, "-m", "standard_coder", "simulate", str(tmp_path / target), *extra],
        check=False,
        capture_output=True,
        text=True,
        env=child_env(),
    )
    assert out.returncode == 2, out.stderr
    assert needle in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "s").exists()


def test_commit_rate_draws_each_authors_rate_and_keeps_the_rest(tmp_path: Path) -> None:
    """``commit_rate``: every generated author (families included) commits with its own draw in
    the range, the same per seed, and the rest of the author is as without it; the truth's
    author table records the rate; a range outside (0, 1) is refused."""
    fams = ("paper", "night_owl", "part_time")
    plain = TeamSpec(n_authors=3, weeks=2, schedule_families=fams)
    rated = dataclasses.replace(plain, commit_rate=(0.005, 0.02))
    authors, again = rated.resolved_authors(3), rated.resolved_authors(3)
    assert authors == again
    probs = [a.schedule.commit_prob for a in authors]
    assert all(0.005 <= p <= 0.02 for p in probs) and len(set(probs)) == 3
    for a, b in zip(authors, plain.resolved_authors(3), strict=True):
        assert a.family == b.family and a.schedule.day_windows() == b.schedule.day_windows()
        assert dataclasses.replace(a.schedule, commit_prob=b.schedule.commit_prob) == b.schedule
    res = simulate_team(tmp_path / "sim", rated, seed=3)
    table = load_truth(res.truth_path).authors
    assert sorted(v["commit_prob"] for v in table.values()) == sorted(probs)
    with pytest.raises(ValueError, match="commit_rate"):
        dataclasses.replace(plain, commit_rate=(0.0, 0.02)).resolved_authors(0)


def test_a_truth_file_that_cannot_be_read_is_one_line_naming_it(tmp_path: Path) -> None:
    from standard_coder.sch.teamsim.team import TruthFileError

    res = simulate_small_team(tmp_path / "sim", weeks=1, seed=3)
    doc = json.loads(res.truth_path.read_text())
    bad = tmp_path / "truth.json"
    cases = [
        ("{", "not valid JSON (it ends too early)"),
        ("[]", "is a JSON array, not an object"),
        (json.dumps({**doc, "schema_version": 9}), "unsupported truth schema_version 9"),
        (json.dumps({**doc, "commits": {}}), "'commits' is not a list"),
        (json.dumps({**doc, "commits": [1]}), "commits[0] is not an object"),
        (json.dumps({**doc, "commits": [{**doc["commits"][0], "authored_at": "x"}]}),
         "commits[0]: 'authored_at' is not an integer"),
    ]  # fmt: skip
    for text, cause in cases:
        bad.write_text(text)
        with pytest.raises(TruthFileError, match=re.escape(f"{bad}: ")) as err:
            load_truth(bad)
        assert cause in str(err.value) and "\n" not in str(err.value)
        assert err.value.exit_code == 2
    (tmp_path / "empty").mkdir()
    with pytest.raises(TruthFileError, match=r"no truth\.json under this folder"):
        load_truth(tmp_path / "empty")
    # a key the reader does not know (a later writer's) is no error
    bad.write_text(json.dumps({**doc, "commits": [{**c, "extra": 1} for c in doc["commits"]]}))
    assert len(load_truth(bad).commits) == len(doc["commits"])
