"""One person, one author: the addresses one name commits under count as one author.

A maintainer commits from a work address, a personal one and GitHub's private one; the mine
keys authors by address (``author_id``, :func:`filters.author_identity`), so each address is
an author of its own, its timeline missing the commits made under the others (the interval
before a commit runs back to the last commit *from the same address*, and team output lists
the person once per address). Counted on 40 public histories' last 2,000 commits, commits
under a name's other addresses are up to 31 % of a history (python-dotenv).

With ``[filters.authors] merge_by_name`` (opt-in: measured end to end, the effort model did
not gain from it; docs/mining.md), :func:`same_name_aliases` joins the addresses that share a
name into one author, named by the address with the most commits. A name joins addresses when
it is at least two words (a generic one such as "Your Name" never does), or when it is one
word that is also the user part of one of the addresses it joins (``delgan`` with
``delgan@users.noreply.github.com``: a handle, not a first name). ``.mailmap`` still decides
first: this reads mailmapped names and addresses.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar, cast

from standard_coder.sch.mining.filters import NO_ADDRESS, author_identity

__all__ = ["GENERIC_NAMES", "VERSION", "name_key", "resolve", "resolve_rows", "same_name_aliases"]

Row = TypeVar("Row", bound=tuple[Any, ...])

VERSION = 2
"""Bumped when the joining rule changes (part of every repository's refs key)."""

GENERIC_NAMES = frozenset(
    {
        "your name",
        "john doe",
        "jane doe",
        "no author",
        "no name",
        "unknown author",
        "github actions",
        "github action",
        "travis ci",
        "the author",
        "local user",
        "default user",
        "root",
        "admin",
        "administrator",
        "user",
        "ubuntu",
        "unknown",
        "anonymous",
        "nobody",
        "developer",
        "dev",
        "git",
        "github",
        "test",
        "vagrant",
    }
)
"""Names that placeholder and machine-default configurations commit under: never joined."""


def name_key(name: str) -> str | None:
    """The name as compared (case and spacing folded), or ``None`` when it joins nothing:
    empty or generic (:data:`GENERIC_NAMES`)."""
    key = " ".join(name.casefold().split())
    if not key or key in GENERIC_NAMES:
        return None
    return key


def _user_part(identity: str) -> str:
    return identity.split("@", 1)[0]


def _is_address(identity: str) -> bool:
    """Whether ``identity`` is an email (not a name known without one, ``name <>``)."""
    return "@" in identity and not identity.endswith(NO_ADDRESS)


def same_name_aliases(authors: Iterable[tuple[str, str]]) -> dict[str, str]:
    """``{identity: author}`` for every identity that another joins: ``authors`` holds one
    mailmapped ``(name, email)`` per commit; identities are :func:`filters.author_identity`'s;
    identities that share a name (:func:`name_key`) are one author, named by the identity with
    the most commits that is an address (has an ``@``; ties: the first in sort order).
    Identities joined with no other are left out."""
    commits: Counter[str] = Counter()
    by_name: dict[str, set[str]] = {}
    for name, email in authors:
        identity = author_identity(email, name)
        commits[identity] += 1
        key = name_key(name)
        if key is not None:
            by_name.setdefault(key, set()).add(identity)
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for key, ids in by_name.items():
        if len(ids) < 2:
            continue
        if " " not in key and not any(_user_part(i) == key for i in ids):
            continue  # one word and no address's user part: maybe two people's first name
        first, *rest = sorted(ids)
        for other in rest:
            a, b = find(first), find(other)
            if a != b:
                parent[max(a, b)] = min(a, b)
    groups: dict[str, list[str]] = {}
    for identity in parent:
        groups.setdefault(find(identity), []).append(identity)
    aliases: dict[str, str] = {}
    for root, members in groups.items():
        members.append(root)
        # the busiest address, an address first ("=" or an empty email, known by its name as
        # "name <>", is what a broken git configuration wrote, never what a person is listed under)
        author = min(members, key=lambda i: (not _is_address(i), -commits[i], i))
        aliases.update({i: author for i in members if i != author})
    return aliases


def resolve(aliases: Mapping[str, str], identity: str) -> str:
    """The author ``identity`` counts as (itself when it joins no other)."""
    return aliases.get(identity, identity)


def resolve_rows(aliases: Mapping[str, str], rows: Sequence[Row]) -> list[Row]:
    """``rows`` whose last field is an author id, each with :func:`resolve`'s author there
    (the rows themselves when nothing is joined)."""
    if not aliases:
        return list(rows)
    return [cast(Row, (*r[:-1], resolve(aliases, r[-1]))) for r in rows]
