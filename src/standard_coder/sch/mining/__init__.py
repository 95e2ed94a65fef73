"""Git mining for the Standard Coder: repositories -> ``mined_commits.sqlite``.

Public API: :class:`MineOptions`, :func:`discover`, :func:`mine_repositories`,
:class:`MineSummary`, :func:`summary_table`, :class:`MiningError`, and the readers
:func:`iter_commits`, :func:`load_commit_times`, :func:`canonical_dump`.
"""

from standard_coder.sch.mining.canonical import canonical_dump
from standard_coder.sch.mining.discovery import discover_repos, repo_id
from standard_coder.sch.mining.extract import ChunkResult, ChunkTask, ExtractOptions, mine_chunk
from standard_coder.sch.mining.filters import DEFAULT_BOT_PATTERNS, AuthorRule, RepoRule
from standard_coder.sch.mining.mine import discover, mine_repositories, thread_map
from standard_coder.sch.mining.options import MineOptions
from standard_coder.sch.mining.store import iter_commits, load_commit_times
from standard_coder.sch.mining.summary import MineSummary, MiningError, RepoSummary, summary_table

__all__ = [
    "DEFAULT_BOT_PATTERNS",
    "AuthorRule",
    "ChunkResult",
    "ChunkTask",
    "ExtractOptions",
    "MineOptions",
    "MineSummary",
    "MiningError",
    "RepoRule",
    "RepoSummary",
    "canonical_dump",
    "discover",
    "discover_repos",
    "iter_commits",
    "load_commit_times",
    "mine_chunk",
    "mine_repositories",
    "repo_id",
    "summary_table",
    "thread_map",
]
