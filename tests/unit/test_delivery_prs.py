"""The PR file: merged PRs read, unmerged ones counted, bad input named in one line; the PR
simulator's delivery time follows its known factors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from standard_coder.sch.delivery.prs import PullRequestFileError, load_pull_requests

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "delivery" / "prs.example.json"


def _write(tmp_path: Path, prs: list[dict[str, object]]) -> Path:
    path = tmp_path / "prs.json"
    path.write_text(json.dumps({"schema_version": 1, "pull_requests": prs}))
    return path


def test_the_example_reads() -> None:
    f = load_pull_requests(EXAMPLE)
    assert len(f.merged) == 3 and f.n_unmerged == 1
    first = f.merged[0]
    assert first.hours == pytest.approx(30.4667, abs=1e-3)
    assert first.review_rounds == 2 and first.ci_failures == 1 and len(first.commit_ids) == 2
    assert f.merged[2].hours == 5.5  # open_to_merge_hours instead of timestamps


@pytest.mark.parametrize(
    ("pr", "needle"),
    [
        (
            {
                "id": "a",
                "commit_ids": ["c"],
                "opened_at": "2025-01-01T00:00:00+00:00",
                "merged_at": "2024-12-31T00:00:00+00:00",
            },
            "merged_at is before",
        ),
        ({"id": "a", "commit_ids": [], "open_to_merge_hours": 1}, "pull_requests[0].commit_ids"),
        (
            {"id": "a", "commit_ids": ["c"], "open_to_merge_hours": 1, "review_round": 1},
            "pull_requests[0].review_round: Extra inputs",
        ),
        ({"id": "a", "commit_ids": ["c"], "opened_at": "2025-01-01T00:00:00"}, "time zone"),
        (
            {"id": "a", "commit_ids": ["c"], "open_to_merge_hours": 1, "ci_failures": -1},
            "pull_requests[0].ci_failures",
        ),
    ],
)
def test_bad_prs_are_one_line_naming_file_and_key(
    tmp_path: Path, pr: dict[str, object], needle: str
) -> None:
    path = _write(tmp_path, [pr])
    with pytest.raises(PullRequestFileError) as err:
        load_pull_requests(path)
    msg = str(err.value)
    assert msg.startswith(str(path)) and needle in msg and "\n" not in msg


def test_missing_file_duplicate_id_and_version(tmp_path: Path) -> None:
    with pytest.raises(PullRequestFileError, match="not found"):
        load_pull_requests(tmp_path / "nope.json")
    pr = {"id": "a", "commit_ids": ["c"], "open_to_merge_hours": 1}
    with pytest.raises(PullRequestFileError, match=r"pull_requests\[1\].id: duplicate"):
        load_pull_requests(_write(tmp_path, [pr, pr]))
    (tmp_path / "v.json").write_text(json.dumps({"schema_version": 9, "pull_requests": []}))
    with pytest.raises(PullRequestFileError, match="schema_version 9"):
        load_pull_requests(tmp_path / "v.json")


def test_simulated_delivery_follows_the_known_factors(tmp_path: Path) -> None:
    from standard_coder.sch.teamsim.prs import B_CI, B_REVIEW, write_pull_requests
    from standard_coder.sch.teamsim.team import load_truth, simulate_small_team

    sim = simulate_small_team(tmp_path / "sim", n_authors=2, weeks=3, seed=1)
    truth = load_truth(sim.truth_path)
    f = load_pull_requests(write_pull_requests(truth, tmp_path / "prs.json", seed=1))
    ids = [c for pr in f.merged for c in pr.commit_ids]
    assert sorted(ids) == sorted(c.commit_id for c in truth.commits)  # each commit in one PR
    # log-hours regressed on the known factors recovers the simulator's coefficients
    y = np.log([pr.hours for pr in f.merged])
    X = np.array([[1.0, pr.review_rounds, pr.ci_failures] for pr in f.merged])
    size = np.log([pr.expected_hours for pr in f.merged]) - X[:, 1] * B_REVIEW - X[:, 2] * B_CI
    coef = np.linalg.lstsq(np.c_[X, size], y, rcond=None)[0]
    assert coef[1] == pytest.approx(B_REVIEW, abs=0.12)
    assert coef[2] == pytest.approx(B_CI, abs=0.12)


def test_an_empty_pr_file_is_named_as_empty(tmp_path: Path) -> None:
    f = tmp_path / "prs.json"
    for text in ("", "\n  \n"):
        f.write_text(text)
        with pytest.raises(PullRequestFileError) as info:
            load_pull_requests(f)
        assert str(info.value) == f"{f}: the PR file is empty (expected a JSON object)"
