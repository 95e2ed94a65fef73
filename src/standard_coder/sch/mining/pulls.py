"""The commit times of GitHub squash merges' pull requests.

A "Squash and merge" commit carries the moment someone pressed the button (committer
``noreply@github.com``, author date = commit date: ``store.merge_stamped_commits``), so the
interval before it is the time between two merges, not coding. Its pull request's own commits
keep their author dates. GitHub publishes them as ``refs/pull/<n>/head``: a mirror clone holds
them, a plain clone after ``git fetch origin '+refs/pull/*/head:refs/pull/*/head'``, and a clone
of a mirror on this machine reaches them through its ``origin``. For each merge-stamped commit
whose subject ends in ``(#n)`` and whose ``refs/pull/n/head`` exists, this lists the pull
request's commits that are not in the squash's history (``git log <ref> --not <squash>^@``,
merges left out), authored no later than the squash. Only reads the repositories.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Collection, Iterable
from pathlib import Path

from standard_coder.sch.mining.filters import author_identity
from standard_coder.sch.mining.gitlog import GitError, decode, parse_tz_offset, run_git

__all__ = [
    "MAX_PULL_COMMITS",
    "PR_SUBJECT",
    "named_squashes",
    "pull_commits",
    "pull_refs",
    "pull_refs_digest",
]

log = logging.getLogger(__name__)
PR_SUBJECT = re.compile(r"\(#(\d+)\)\s*$")
"""GitHub's squash subject: the pull request's title, then `` (#<number>)``."""
MAX_PULL_COMMITS = 250
"""A pull request with more commits than this is left out (a long-lived branch merged as one,
whose commits are not one change's work)."""

PullCommit = tuple[str, str, int, int, str]
"""``(squash commit id, pull request commit id, authored_at, tz offset minutes, author id)``."""


def _pull_refs(repo: Path) -> bytes:
    return run_git(repo, "for-each-ref", "--format=%(objectname) %(refname)", "refs/pull/")


def named_squashes(stamped: Iterable[tuple[str, str, int]]) -> list[tuple[str, str, int]]:
    """The merge-stamped ``(commit id, subject, authored_at)`` rows that are squash merges of a
    pull request (subject ending in ``(#n)``); an edit made in GitHub's browser is stamped the
    same way but names none."""
    return [s for s in stamped if PR_SUBJECT.search(s[1])]


def _origin_path(path: Path) -> Path | None:
    """The clone's ``origin`` when it is a repository folder on this machine, else None."""
    url = decode(run_git(path, "config", "--get", "remote.origin.url", check=False)).strip()
    if url.startswith("file://"):
        url = url[len("file://") :]
    if not url or "://" in url or re.match(r"^[\w.-]+@[\w.-]+:", url):
        return None  # a network remote: never contacted
    origin = Path(url) if Path(url).is_absolute() else (path / url)
    return origin.resolve() if origin.is_dir() else None


def pull_refs(
    path: Path, warn: Callable[[str], None] | None = None
) -> tuple[Path, set[str]] | None:
    """Where to read pull request heads from, and their ref names: the clone itself when it has
    ``refs/pull/<n>/head`` refs, else its ``origin`` when that is a repository on this machine
    with them; None otherwise. The refs are listed once (a mirror holds thousands).

    An origin git cannot read is said through ``warn`` (one line naming the clone, the origin
    and git's cause); without one, a log warning."""
    heads = _head_refs(_pull_refs(path))
    if heads:
        return path, heads
    origin = _origin_path(path)
    if origin is None:
        return None
    try:
        heads = _head_refs(_pull_refs(origin))
    except GitError as exc:  # not a repository, or one git refuses (another user's: ownership)
        why = str(exc).strip().splitlines()[-1] if str(exc).strip() else "git failed"
        said = (f"{path}: its origin {origin} could not be read for pull request refs ({why}); "
                "squash merges stay timed by their merge")  # fmt: skip
        (warn or log.warning)(said)
        return None
    return (origin, heads) if heads else None


def _head_refs(refs: bytes) -> set[str]:
    """``refs/pull/<n>/head`` names with their ids (GitHub moves ``/merge`` refs with the base
    branch: never part of the key)."""
    return {decode(line) for line in refs.splitlines() if line.endswith(b"/head")}


def pull_refs_digest(found: tuple[Path, set[str]] | None, path: Path) -> str:
    """What the pull request times of the clone at ``path`` depend on besides its own refs: the
    pull request heads of the origin they are read from (``found``: :func:`pull_refs`; empty
    when they come from the clone or nowhere)."""
    if found is None or found[0] == path:
        return ""
    return "origin-pulls " + hashlib.sha256("\n".join(sorted(found[1])).encode()).hexdigest()


def pull_commits(
    found: tuple[Path, set[str]],
    squashes: Iterable[tuple[str, str, int]],
    known: Collection[str] = (),
) -> list[PullCommit]:
    """The pull request commits of each squash merge ``(commit id, subject, authored_at)`` that
    names its pull request and whose ref is among ``found`` (:func:`pull_refs`), oldest first
    per squash.

    Squash merges are taken oldest first and a commit belongs to the first that lists it (a
    pull request branched off another one that was squashed first still holds the other's
    commits); commits in ``known`` (the repository's mined commits: they reached the history
    some other way) are never pull request commits.
    """
    source = found[0]
    refs = {line.split(" ", 1)[1] for line in found[1]}
    taken = set(known)
    rows: list[PullCommit] = []
    for cid, subject, merged_at in sorted(squashes, key=lambda s: (s[2], s[0])):
        m = PR_SUBJECT.search(subject)
        ref = f"refs/pull/{m.group(1)}/head" if m else ""
        if ref not in refs:
            continue
        out = run_git(
            source,
            "log",
            "--no-merges",
            "-z",
            "--format=%H%x00%at%x00%ai%x00%aE%x00%aN",
            ref,
            "--not",
            f"{cid}^@",
            "--",
            check=False,
        )
        fields = out.split(b"\x00")
        own: list[PullCommit] = []
        for i in range(0, len(fields) - 4, 5):
            sha = fields[i].strip().decode("ascii", "replace")
            stamp = fields[i + 1].strip()
            if not stamp.isdigit() or sha in taken:  # a cut-short record, or not this PR's own
                continue
            if int(stamp) <= merged_at:
                tz = parse_tz_offset(decode(fields[i + 2]).rsplit(" ", 1)[-1])
                own.append(
                    (
                        cid,
                        sha,
                        int(stamp),
                        tz,
                        author_identity(decode(fields[i + 3]), decode(fields[i + 4])),
                    )
                )
        if 0 < len(own) <= MAX_PULL_COMMITS:
            rows.extend(sorted(own, key=lambda r: (r[2], r[1])))
            taken.update(r[1] for r in own)
    return rows
