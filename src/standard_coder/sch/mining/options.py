"""What the miner is told: :class:`MineOptions` and the digests that key a repository's rows.

The config schema never reaches this package: ``standard_coder.pipelines.sch_options.mine_options``
builds these options from ``[repos]`` and ``[filters.*]``.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from standard_coder.runner.fingerprint import code_version
from standard_coder.sch.mining import coauthors, file_stats, identities, message_body, schema
from standard_coder.sch.mining.extract import ExtractOptions
from standard_coder.sch.mining.filters import AuthorRule, RepoRule


@dataclass(frozen=True)
class MineOptions:
    """Everything the miner needs, built from ``[repos]`` and ``[filters.*]`` by the pipeline."""

    include_paths: tuple[str, ...] = ()
    exclude_paths: tuple[str, ...] = ()
    github_repos: tuple[str, ...] = ()
    mirror_dir: str | None = None
    max_commits_per_repo: int | None = None
    authors: AuthorRule = field(default_factory=AuthorRule)
    repos: RepoRule = field(default_factory=RepoRule)
    extract: ExtractOptions = field(
        default_factory=lambda: ExtractOptions(ext_map=((".py", "python"), (".pyi", "python")))
    )
    merge_by_name: bool = False
    """The addresses one name commits under are one author (``identities``; opt-in:
    ``[filters.authors] merge_by_name``)."""
    chunk_size: int = 500
    pull_requests: bool = True
    """Read GitHub squash merges' pull request commit times (``pulls``)."""
    merge_times: bool = True
    """Read merge commits' author times (``merges``): presence events for work inference."""
    other_commit_times: bool = False
    """Read the author times of commits that touch no enabled language (``merges``): work events
    for work inference (opt-in: ``[repos] other_commit_times``)."""

    commit_files: bool = False
    """Count every stored commit's files of any language (``file_stats``): what the effort
    model's ``files|...`` columns read (``[training.features] commit_files``, opt-in)."""
    commit_body: bool = False
    """Keep every stored commit's message body (``message_body``): what the effort model's
    ``body|...`` columns read (``[training.features] commit_body``)."""

    def extract_key(self) -> str:
        """Digest of what is extracted per commit and of the code that extracts it (a change
        remines every repository: the database always equals a clean mine)."""
        return digest(
            [schema.SCHEMA_VERSION, asdict(self.extract), _source_digest("gitlog.py", "extract.py")]
        )

    def filter_key(self) -> str:
        """Digest of what decides which commits are kept (part of every repo's refs key)."""
        return digest(
            [
                self.extract_key(),
                asdict(self.authors),
                self.max_commits_per_repo,
                self.pull_requests,
                self.merge_times,
                self.other_commit_times,
                file_stats.VERSION if self.commit_files else None,  # a new VERSION recounts
                # off: keys as they were before the option; a new VERSION reads bodies again
                *([["commit_body", message_body.VERSION]] if self.commit_body else []),
                ["coauthors", coauthors.VERSION],  # always read; a new VERSION reads them again
                # off: keys as they were before the option; on: a new VERSION joins again
                *([["merge_by_name", identities.VERSION]] if self.merge_by_name else []),
                _source_digest("filters.py", "pulls.py", "merges.py"),
            ]
        )


def digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


@functools.cache
def _source_digest(*names: str) -> str:
    """Digest of mining modules' source (e.g. the diff parser), by file name."""
    return code_version(Path(__file__).parent / name for name in names)
