"""Config sections for mining: ``[repos]`` and ``[filters.*]``."""

from __future__ import annotations

from pydantic import Field, model_validator

from standard_coder.config.base import StrictModel

DEFAULT_LANGUAGE_EXTENSIONS: dict[str, list[str]] = {
    "python": [".py", ".pyi"],
    "java": [".java"],
    "javascript": [".js", ".jsx", ".mjs", ".cjs"],
    "typescript": [".ts", ".tsx"],
    "go": [".go"],
    "rust": [".rs"],
    "c": [".c", ".h"],
    "cpp": [".cc", ".cpp", ".cxx", ".hpp", ".hh", ".hxx"],
    "csharp": [".cs"],
    "ruby": [".rb"],
    "kotlin": [".kt", ".kts"],
    "swift": [".swift"],
    "scala": [".scala"],
    "php": [".php"],
    "dart": [".dart"],
    "elixir": [".ex", ".exs"],
    "haskell": [".hs"],
    "lua": [".lua"],
}
"""Known languages (``[filters.languages] extensions``): what ``enabled`` may name, and what
``detect`` counts at HEAD (a Kotlin project's ``.kt`` files were no language, so detection
mined its Java alone)."""


class ReposSection(StrictModel):
    """Which git repositories to mine."""

    include_paths: list[str] = Field(
        default_factory=lambda: ["."],
        description="git repositories, folders of them, or globs ('~' expanded, relative to "
        'this file); the default is the repository this file sits in; e.g. ["~/code/*"]',
    )
    exclude_paths: list[str] = Field(default_factory=list, description="globs to leave out")
    max_commits_per_repo: int | None = Field(
        None, ge=1, description="mine only the most recent N non-merge commits (unset = all)"
    )
    include_github_repos: list[str] = Field(
        default_factory=list,
        description='"owner/name" repos mirrored into <base_dir>/repos/ (network; only when set)',
    )
    max_files_per_commit: int = Field(
        300,
        ge=1,
        description="files beyond this in one commit are dropped (commit flagged truncated)",
    )
    max_lines_per_commit: int = Field(
        20000, ge=1, description="diff lines beyond this are not stored (commit flagged truncated)"
    )
    store_contents: bool = Field(
        True, description="store before/after file contents (needed for AST features)"
    )
    max_blob_bytes: int = Field(
        1_000_000, ge=0, description="file contents larger than this are not stored"
    )
    pull_request_times: bool = Field(
        True,
        description="time GitHub squash merges by their pull request's commits, read from "
        "refs/pull/<n>/head in the clone (or in its origin when that is a folder on this "
        "machine; never the network)",
    )
    merge_times: bool = Field(
        True,
        description="read merge commits' author times: work inference counts a merge as its "
        "author's presence, so the next change's interval starts there (merges are never "
        "changes themselves)",
    )
    other_commit_times: bool = Field(
        False,
        description="read the author times of commits that touch no file of an enabled language "
        "(documentation, CI, configuration): work inference counts them as their author's work, "
        "so the next change's interval starts there (they are never changes themselves). Off by "
        "default: measured on 14 unseen histories it cost targets, with the shipped prior and "
        "with one refitted on such labels (docs/effort-models.md, 'Session 22')",
    )


class AuthorFilter(StrictModel):
    """Authors by name or email: case-insensitive substring, or 're:<regex>'."""

    include: list[str] = Field(default_factory=list, description="keep only matching authors")
    exclude: list[str] = Field(default_factory=list, description="drop matching authors")
    exclude_bots: bool = Field(
        True,
        description="drop dependabot, renovate, github-actions and other [bot] authors",
    )
    exclude_agents: bool = Field(
        True,
        description="drop the commits AI coding agents make under their own name (Claude, "
        "Copilot, Cursor Agent, aider): their times are the agent's. Kept (false), they are "
        "priced in team output and never fitted as labels (kind agent_assisted)",
    )
    merge_by_name: bool = Field(
        False,
        description="count the addresses one name commits under (work, personal, GitHub's "
        "private one) as one author: names of two or more words, and one-word names that are "
        "also the user part of one of the addresses (a handle); placeholder names ('Your "
        "Name', 'root') never join; `.mailmap` decides first (team output joins them by "
        "name in any case: team_output_by_name); off by default: on 40 public histories it "
        "moved the effort model's targets by noise, 119 to 116 of 160 "
        "(docs/effort-models.md, 'Session 31')",
    )
    team_output_by_name: bool = Field(
        True,
        description="team output lists a person once: the addresses one name commits under are "
        "one row (merge_by_name's rule, applied to the report only; the effort model's authors "
        "stay as mined). false: one row per address",
    )


class RepoFilter(StrictModel):
    """Repositories by folder name or path: substring, or 're:<regex>'."""

    include: list[str] = Field(default_factory=list, description="keep only matching repos")
    exclude: list[str] = Field(default_factory=list, description="drop matching repos")


class LanguageFilter(StrictModel):
    """Which languages count, by file extension."""

    enabled: list[str] = Field(
        default_factory=lambda: ["python"], description="languages whose files are mined"
    )
    extensions: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_LANGUAGE_EXTENSIONS.items()},
        description="language -> file extensions (data; add your own)",
    )
    exclude_paths: list[str] = Field(
        default_factory=lambda: ["vendor/", "third_party/", "node_modules/", "site-packages/"],
        description="path substrings never mined (vendored code)",
    )
    detect: bool = Field(
        True,
        description="when in every configured repository the enabled languages hold under 5 % "
        "of the files of known languages at HEAD, also count each language holding 5 % or more "
        "of them (a warning says which)",
    )

    @model_validator(mode="after")
    def _known_languages(self) -> LanguageFilter:
        from standard_coder.runner.suggest import did_you_mean

        known = sorted(self.extensions)
        for name in self.enabled:
            if not self.extensions.get(name):
                raise ValueError(
                    f"language {name!r} has no extensions{did_you_mean(name, known)} (known: "
                    f"{', '.join(known)}; add yours under [filters.languages.extensions])"
                )
        claimed: dict[str, str] = {}
        for name in self.enabled:
            for ext in self.extensions[name]:
                key = ext.lower() if ext.startswith(".") else "." + ext.lower()
                first = claimed.setdefault(key, name)
                if first != name:
                    raise ValueError(
                        f"extension {key!r} is listed for both {first!r} and {name!r}, and both "
                        "are enabled: a file counts as one language; keep it under one of them"
                    )
        return self


class FiltersSection(StrictModel):
    """What to leave out of the mined data."""

    authors: AuthorFilter = Field(default_factory=AuthorFilter)
    repos: RepoFilter = Field(default_factory=RepoFilter)
    languages: LanguageFilter = Field(default_factory=LanguageFilter)
