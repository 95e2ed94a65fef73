"""The pull-request file (``[training.multitask] pull_requests_path``): schema and reader.

.. code-block:: json

    {"schema_version": 1,
     "pull_requests": [
       {"id": "repo-0#12", "repo": "repo-0",
        "opened_at": "2025-02-03T10:12:00+00:00", "merged_at": "2025-02-04T16:40:00+00:00",
        "review_rounds": 2, "comments": 5, "ci_failures": 1,
        "commit_ids": ["3f2a...", "9bc1..."]}]}

``open_to_merge_hours`` may replace ``opened_at``/``merged_at``; a PR with ``merged_at`` null
(not merged) is left out of training and evaluation. ``truth`` (the simulator's noise-free
expectation) is carried along for reports and never read by the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from standard_coder.runner.jsonfile import read_json_object

SCHEMA_VERSION = 1


class PullRequestFileError(ValueError):
    """The PR file is missing or invalid; the message names the file, the key and the cause."""

    exit_code = 2


class _PR(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)

    id: str = Field(min_length=1)
    repo: str | None = None
    title: str | None = None
    opened_at: datetime | None = None
    merged_at: datetime | None = None
    open_to_merge_hours: float | None = Field(None, ge=0, allow_inf_nan=False)
    review_rounds: int = Field(0, ge=0)
    comments: int = Field(0, ge=0)
    ci_failures: int = Field(0, ge=0)
    commit_ids: list[str] = Field(min_length=1)
    truth: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _times(self) -> _PR:
        if self.open_to_merge_hours is None and self.opened_at is None:
            raise ValueError("give opened_at (with merged_at) or open_to_merge_hours")
        for stamp in (self.opened_at, self.merged_at):
            if stamp is not None and stamp.tzinfo is None:
                raise ValueError("timestamps need a time zone, e.g. 2025-02-03T10:12:00+00:00")
        if self.opened_at and self.merged_at and self.merged_at < self.opened_at:
            raise ValueError("merged_at is before opened_at")
        return self


class _PRFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: int
    pull_requests: list[_PR]


@dataclass(frozen=True)
class PullRequest:
    """One merged pull request."""

    id: str
    commit_ids: tuple[str, ...]
    hours: float
    """Open -> merge time in hours (unclipped; the model clips at its bound)."""
    review_rounds: int
    comments: int
    ci_failures: int
    repo: str | None = None
    expected_hours: float | None = None
    """The simulator's noise-free delivery time (``truth.expected_hours``), when known."""


@dataclass(frozen=True)
class PullRequestFile:
    merged: tuple[PullRequest, ...]
    n_unmerged: int


def load_pull_requests(path: Path) -> PullRequestFile:
    """Read and validate a PR file.

    Raises:
        PullRequestFileError: missing, not JSON, another schema version, or an invalid PR
            (one line: file, ``pull_requests[i].key``, cause).
    """
    path = Path(path)
    raw = read_json_object(path, PullRequestFileError, "PR")
    if raw.get("schema_version") not in (None, SCHEMA_VERSION):
        raise PullRequestFileError(
            f"{path}: schema_version {raw.get('schema_version')!r} is not {SCHEMA_VERSION}"
        )
    try:
        doc = _PRFile.model_validate(raw)
    except ValidationError as exc:
        e = exc.errors()[0]
        key = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in e["loc"]).replace(
            ".[", "["
        )
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise PullRequestFileError(f"{path}: {key or '(root)'}: {e['msg']}{more}") from None
    seen: set[str] = set()
    merged: list[PullRequest] = []
    unmerged = 0
    for i, pr in enumerate(doc.pull_requests):
        if pr.id in seen:
            raise PullRequestFileError(f"{path}: pull_requests[{i}].id: duplicate id {pr.id!r}")
        seen.add(pr.id)
        if pr.open_to_merge_hours is not None:
            hours = pr.open_to_merge_hours
        elif pr.merged_at is None or pr.opened_at is None:
            unmerged += 1
            continue
        else:
            hours = (pr.merged_at - pr.opened_at).total_seconds() / 3600.0
        expected = (pr.truth or {}).get("expected_hours")
        merged.append(
            PullRequest(
                id=pr.id,
                commit_ids=tuple(pr.commit_ids),
                hours=float(hours),
                review_rounds=pr.review_rounds,
                comments=pr.comments,
                ci_failures=pr.ci_failures,
                repo=pr.repo,
                expected_hours=float(expected) if isinstance(expected, int | float) else None,
            )
        )
    return PullRequestFile(merged=tuple(merged), n_unmerged=unmerged)
