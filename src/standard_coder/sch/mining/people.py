"""Who the stored commits' authors are, as people: the name each address's commits carry most
often, and the addresses the mine joined to another by name (``[filters.authors]
merge_by_name``). Read by team output (``team_output_people.json``); read only."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

from standard_coder.sch.mining.filters import author_identity
from standard_coder.sch.mining.store import _corruption_named, open_readonly

__all__ = ["author_names", "name_joined_addresses"]


def name_joined_addresses(db_path: Path) -> dict[str, str]:
    """Address -> the author its commits were stored under, for the addresses the mine joined
    to another (``[filters.authors] merge_by_name``); empty when none were."""
    with _corruption_named(db_path), closing(open_readonly(db_path)) as con:
        rows = con.execute(
            "SELECT DISTINCT author_email, author_name, author_id FROM commits"
        ).fetchall()
    joined = {author_identity(str(email), str(name)): str(author) for email, name, author in rows}
    return {address: author for address, author in joined.items() if address != author}


def author_names(db_path: Path) -> dict[str, str]:
    """Each stored author (``author_id``) -> the name their commits carry most often (through
    ``.mailmap``; ties: the name that sorts first): how a person is shown beside the address."""
    with _corruption_named(db_path), closing(open_readonly(db_path)) as con:
        rows = con.execute(
            "SELECT author_id, author_name, COUNT(*) FROM commits GROUP BY author_id, author_name"
        ).fetchall()
    best: dict[str, tuple[int, str]] = {}
    for author, name, n in rows:
        key = (-int(n), str(name))
        if str(author) not in best or key < best[str(author)]:
            best[str(author)] = key
    return {author: name for author, (_, name) in best.items()}
