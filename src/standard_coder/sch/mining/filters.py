"""Author, repository and path/language filters (pure functions over strings)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

AGENT_PATTERNS: tuple[str, ...] = (
    "re:^(noreply|claude)@anthropic\\.com$",  # Claude Code ("Claude Opus 4.8 <noreply@...>")
    "re:^[0-9]+\\+copilot@users\\.noreply\\.github\\.com$",  # GitHub Copilot
    "re:^copilot@github\\.com$",
    "re:^(cursoragent|composer)@cursor\\.com$",  # Cursor's agent and Composer
    "re:^ai@cursor\\.sh$",
    "noreply@aider.chat",  # aider's --attribute-co-authored-by
    "re:\\(aider\\)$",  # aider's --attribute-author: "Jane Doe (aider)"
    "copilot-swe-agent",  # agents with [bot] accounts (bots as authors anyway)
    "devin-ai-integration",
    "google-labs-jules",
    "chatgpt-codex-connector",
)
"""AI coding agents that write commits under their own name or as a ``Co-authored-by:``
trailer (matched against a name and an email; the addresses seen in public histories)."""

BOT_PATTERNS: tuple[str, ...] = (
    "[bot]",
    "dependabot",
    "renovate",
    "github-actions",
    "pre-commit-ci",
    "greenkeeper",
    "snyk-bot",
    "allcontributors",
    "re:^bot@",
    "re:noreply@(github\\.com|gitlab\\.com)$",
    "re:(^|[\\s_.-])bot$",  # a name ending in a word "bot": "pyup.io bot", "changelog-bot"
)
"""Authors dropped when ``exclude_bots`` is on (matched against name and email)."""

DEFAULT_BOT_PATTERNS: tuple[str, ...] = (*BOT_PATTERNS, *AGENT_PATTERNS)
"""Every author the defaults drop: bots (``exclude_bots``) and AI coding agents
(``exclude_agents``: an agent's own commit times are the agent's, not a person's coding)."""


@dataclass(frozen=True)
class Pattern:
    """A case-insensitive substring, or a regex when written ``re:<regex>``."""

    text: str

    def matches(self, value: str) -> bool:
        if self.text.startswith("re:"):
            return re.search(self.text[3:], value, flags=re.IGNORECASE) is not None
        return self.text.lower() in value.lower()


def _any(patterns: Sequence[str], values: Sequence[str]) -> bool:
    return any(Pattern(p).matches(v) for p in patterns for v in values)


GITHUB_NOREPLY_ID = re.compile(r"^[0-9]+\+(?=[^@]+@users\.noreply\.github\.com$)")
"""The ``<id>+`` GitHub puts before a login in the private addresses it made after 2017."""


NO_ADDRESS = " <>"
"""How an identity without an address ends: ``niemeyer <>`` (no email has ``<`` or ``>``)."""


def author_identity(email: str, name: str) -> str:
    """The identity an author counts as (``author_id``): the email, lower-cased, and a GitHub
    private address without its account number, since ``123+jane@users.noreply.github.com`` and
    the older ``jane@users.noreply.github.com`` are the same GitHub account (one person's commits
    under both were two authors, each with the other's commits missing from its timeline).

    A commit with an empty address (``Name <>``, what some old or hand-made histories hold) is
    known by its name instead, lower-cased and spaced once, as ``name <>``: keyed by the empty
    address, everyone who committed without one was one author (dateutil's ``niemeyer <>`` and
    ``gl@clarisys.fr <>``). With neither name nor address the identity is empty."""
    address = email.strip().lower()
    if address:
        return GITHUB_NOREPLY_ID.sub("", address)
    folded = " ".join(name.lower().split())
    return folded + NO_ADDRESS if folded else ""


IDENTITY = re.compile(r"^(?P<name>.*?)\s*<(?P<email>[^<>]*)>\s*$")


def is_agent(identity: str) -> bool:
    """Whether ``identity`` (``Name <email>``, as a ``Co-authored-by:`` trailer gives it, or a
    bare name) is an AI coding agent (:data:`AGENT_PATTERNS`)."""
    m = IDENTITY.match(identity.strip())
    values = (m["name"], m["email"]) if m else (identity.strip(),)
    return _any(AGENT_PATTERNS, values)


def validate_patterns(patterns: Sequence[str]) -> None:
    """Raise ``ValueError`` naming the first ``re:`` pattern that is not a valid regex."""
    for p in patterns:
        if p.startswith("re:"):
            try:
                re.compile(p[3:])
            except re.error as exc:
                raise ValueError(f"invalid regex {p!r}: {exc}") from None


@dataclass(frozen=True)
class AuthorRule:
    """Which authors are kept: include (empty = all), exclude, and the bot and agent defaults."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    exclude_bots: bool = True
    exclude_agents: bool = True

    def allows(self, name: str, email: str) -> bool:
        values = (name, email)
        if self.include and not _any(self.include, values):
            return False
        if self.exclude and _any(self.exclude, values):
            return False
        if self.exclude_bots and _any(BOT_PATTERNS, values):
            return False
        return not (self.exclude_agents and _any(AGENT_PATTERNS, values))


@dataclass(frozen=True)
class RepoRule:
    """Which repositories are kept, by folder name or path."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def allows(self, name: str, path: str) -> bool:
        values = (name, path)
        if self.include and not _any(self.include, values):
            return False
        return not (self.exclude and _any(self.exclude, values))


def extension_map(
    enabled: Sequence[str], extensions: Mapping[str, Sequence[str]]
) -> dict[str, str]:
    """Lower-cased extension (with dot) -> language, for the enabled languages only.

    Raises:
        ValueError: an enabled language has no extension list.
    """
    out: dict[str, str] = {}
    for lang in enabled:
        if lang not in extensions:
            known = ", ".join(sorted(extensions))
            raise ValueError(f"language {lang!r} has no extensions (known: {known})")
        for ext in extensions[lang]:
            e = ext.lower() if ext.startswith(".") else "." + ext.lower()
            out.setdefault(e, lang)
    return out


def language_of(
    path: str, ext_map: Mapping[str, str], exclude_substrings: Sequence[str]
) -> str | None:
    """The configured language of ``path``, or None (other extension, or an excluded path)."""
    lang = ext_map.get(extension_of(path))
    if lang is None:
        return None
    for sub in exclude_substrings:
        if sub in path:
            return None
    return lang


def extension_of(path: str) -> str:
    """``path``'s lower-cased extension with its dot (``""`` when its file name has none)."""
    dot = path.rfind(".")
    return "" if dot < 0 or "/" in path[dot:] else path[dot:].lower()


def count_languages(
    paths: Sequence[str], extensions: Mapping[str, Sequence[str]], exclude_substrings: Sequence[str]
) -> dict[str, int]:
    """How many of ``paths`` each language of ``extensions`` (every one, enabled or not) has,
    most first; vendored paths (``exclude_substrings``) are not counted."""
    ext_map = extension_map(list(extensions), extensions)
    counts: dict[str, int] = {}
    for path in paths:
        lang = language_of(path, ext_map, exclude_substrings)
        if lang is not None:
            counts[lang] = counts.get(lang, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def count_other_extensions(
    paths: Sequence[str], extensions: Mapping[str, Sequence[str]], exclude_substrings: Sequence[str]
) -> list[tuple[str, int]]:
    """The extensions of ``paths`` that no language of ``extensions`` has, with how many files
    each, most first (notebooks, images, data); vendored paths and names without one left out."""
    ext_map = extension_map(list(extensions), extensions)
    counts = Counter(
        ext
        for path in paths
        if (ext := extension_of(path)) and ext not in ext_map
        and not any(sub in path for sub in exclude_substrings)
    )  # fmt: skip
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def pathspec_for(ext_map: Mapping[str, str], exclude_substrings: Sequence[str]) -> list[str]:
    """git pathspecs restricting a diff to the configured extensions (an optimisation only)."""
    specs = [f":(icase)*{ext}" for ext in sorted(ext_map) if not set("*?[]\\") & set(ext)]
    if len(specs) != len(ext_map):
        return []  # odd extension: let git diff everything, Python filters
    for sub in exclude_substrings:
        if sub and not set("*?[]\\") & set(sub):
            specs.append(f":(exclude)*{sub}*")
    return specs
