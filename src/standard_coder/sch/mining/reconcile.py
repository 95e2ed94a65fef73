"""Per-repository planning: inspect the repository, reconcile its stored rows with its current
history (unreachable commits, newly excluded authors, changed identities, shallow boundaries)
and cut the commits still to mine into chunks."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from standard_coder.runner.gitrefs import mailmap_settings
from standard_coder.sch.mining import identities, store
from standard_coder.sch.mining.discovery import path_problem, repo_id
from standard_coder.sch.mining.extract import ChunkTask
from standard_coder.sch.mining.filters import author_identity
from standard_coder.sch.mining.gitlog import NotARepository, decode, git_env, run_git
from standard_coder.sch.mining.options import MineOptions, digest
from standard_coder.sch.mining.pulls import pull_refs, pull_refs_digest
from standard_coder.sch.mining.summary import RepoSummary

# Same logger as the rest of a mine (its lines in logs/run.log keep their origin).
log = logging.getLogger("standard_coder.sch.mining.mine")


@dataclass
class RepoPlan:
    summary: RepoSummary
    key: str
    head: str | None
    chunks: list[ChunkTask]
    remaining: int = 0
    aliases: dict[str, str] = field(default_factory=dict)
    """``identities.same_name_aliases`` of the listed commits (empty when switched off)."""
    done_before: int = 0
    """Commits of this mine already stored (an earlier or stopped run's): progress counts from
    here, as the ``[resume]`` line does."""

    def author_of(self, email: str, name: str) -> str:
        """The author a mailmapped address (and name) counts as."""
        return identities.resolve(self.aliases, author_identity(email, name))


def _inspect(path: Path) -> tuple[Path, bool, bool]:
    """(git dir, is bare, is shallow); raises GitError when ``path`` is not a repository root."""
    problem = path_problem(path)
    if problem is not None:
        raise NotARepository(f"{path}: {problem}")
    out = decode(
        run_git(
            path,
            "rev-parse",
            "--absolute-git-dir",
            "--is-bare-repository",
            "--is-shallow-repository",
        )
    ).split("\n")
    git_dir = Path(out[0].strip())
    bare = out[1].strip() == "true"
    shallow = out[2].strip() == "true"
    if not bare:
        top = decode(run_git(path, "rev-parse", "--show-toplevel")).strip()
        if Path(top).resolve() != path.resolve():
            raise NotARepository(f"{path}: not the top of a git repository (top is {top})")
    return git_dir, bare, shallow


def _refs_state(path: Path, git_dir: Path, bare: bool) -> tuple[str | None, str]:
    """(HEAD id or None for an empty repo, digest of what the mined rows follow: HEAD, the
    ``refs/pull/*`` refs (pull requests' commits), ``refs/replace/*`` (``git replace``
    rewrites the history ``git log`` walks), ``.mailmap``, the ``mailmap.file`` and
    ``mailmap.blob`` settings and the shallow boundary). Other refs are not read: a branch or a
    tag made or moved leaves the mine "unchanged" and the database's bytes as they were, so
    nothing downstream reruns for it."""
    head_raw = run_git(path, "rev-parse", "--verify", "-q", "HEAD^{commit}", check=False).strip()
    head = head_raw.decode("ascii") if head_raw else None
    refs = run_git(path, "for-each-ref", "--format=%(objectname) %(refname)", "refs/pull/",
                   "refs/replace/")  # fmt: skip
    h = hashlib.sha256()
    h.update((head or "-").encode() + b"\n" + refs)
    mailmap = path / ".mailmap"
    if not bare and mailmap.is_file():
        h.update(b"mailmap\n" + mailmap.read_bytes())
    for line in mailmap_settings(path, git_env(path)):  # only when set: digests stay as they were
        h.update(b"\n" + line.encode())
    shallow = git_dir / "shallow"
    if shallow.is_file():
        h.update(b"shallow\n" + shallow.read_bytes())
    return head, h.hexdigest()


def _list_commits(
    path: Path, max_count: int | None, *, merges: bool = False
) -> list[tuple[str, str, str]]:
    """(id, mailmapped name, mailmapped email) of HEAD's non-merge commits (``merges``: its
    merge commits), newest first."""
    args = ["log", "--merges" if merges else "--no-merges", "-z", "--format=%H%x00%aN%x00%aE"]
    if max_count:
        args.append(f"--max-count={max_count}")
    fields = run_git(path, *args, "HEAD", "--").split(b"\x00")
    out = []
    for i in range(0, len(fields) - 2, 3):
        sha = fields[i].strip().decode("ascii")
        out.append((sha, decode(fields[i + 1]), decode(fields[i + 2])))
    return out


def _aliases(path: Path, options: MineOptions, authors: list[tuple[str, str]]) -> dict[str, str]:
    """``identities.same_name_aliases`` of the kept commits' authors and, when merges are read
    (``merge_times``), of the merges' authors too (a maintainer who merges under another
    address than the one they commit with; as many merges as commits at most)."""
    if options.merge_times and authors:
        for _, n, e in _list_commits(path, options.max_commits_per_repo, merges=True):
            if options.authors.allows(n, e):
                authors.append((n, e))
    return identities.same_name_aliases(authors)


def plan_repo(
    con: Any,
    path: Path,
    options: MineOptions,
    extract_key: str,
    filter_key: str,
    warn: Callable[[str], None] | None = None,
) -> RepoPlan:
    """Reconcile one repository's rows with its current history; return the chunks to mine
    (``warn``: what the user should know, such as an origin git cannot read)."""
    rid = repo_id(path)
    summ = RepoSummary(repo=rid, path=str(path))
    git_dir, bare, shallow = _inspect(path)
    summ.is_shallow = shallow
    head, refs_digest = _refs_state(path, git_dir, bare)
    origin_pulls = pull_refs_digest(pull_refs(path, warn), path) if options.pull_requests else ""
    key = digest([refs_digest, filter_key, origin_pulls])
    state = con.execute(
        "SELECT refs_key, extract_key FROM mine_state WHERE repo = ?", (rid,)
    ).fetchone()
    if state is not None and state[0] == key:
        summ.status = "unchanged"
        return RepoPlan(summ, key, head, [])
    name = path.name
    with store.transaction(con):
        if state is not None and state[1] != extract_key:
            store.delete_repo_rows(con, rid, keep_repo_row=True)
            state = None
        con.execute(
            "INSERT INTO repos VALUES (?,?,?,?,?,NULL) ON CONFLICT(repo) DO UPDATE SET"
            " path=excluded.path, name=excluded.name, is_shallow=excluded.is_shallow,"
            " is_bare=excluded.is_bare",
            (rid, str(path), name, int(shallow), int(bare)),
        )
        if state is None:
            con.execute(
                "INSERT INTO mine_state (repo, refs_key, extract_key) VALUES (?,NULL,?)",
                (rid, extract_key),
            )
        else:
            con.execute("UPDATE mine_state SET refs_key = NULL WHERE repo = ?", (rid,))
    listed = _list_commits(path, options.max_commits_per_repo) if head else []
    summ.commits_listed = len(listed)
    boundary: set[str] = set()
    if shallow and (git_dir / "shallow").is_file():
        boundary = set((git_dir / "shallow").read_text("ascii", "replace").split())
    verdict: dict[tuple[str, str], bool] = {}
    allowed: dict[str, tuple[str, str]] = {}
    for sha, n, e in listed:
        ok = verdict.get((n, e))
        if ok is None:
            ok = verdict[(n, e)] = options.authors.allows(n, e)
        if ok:
            allowed[sha] = (n, e)
    n_filtered = len(listed) - len(allowed)
    aliases = _aliases(path, options, list(allowed.values())) if options.merge_by_name else {}
    stored = store.stored_ids(con, rid)
    with store.transaction(con):
        # unreachable / over max_commits / newly excluded author / no longer a shallow boundary
        gone = [
            cid
            for cid, val in stored.items()
            if cid not in allowed or (val == "shallow_boundary" and cid not in boundary)
        ]
        store.delete_commits(con, rid, gone)
        for cid in gone:
            del stored[cid]
        updates = []
        for cid, val in stored.items():
            if isinstance(val, tuple) and allowed[cid] != val:
                n, e = allowed[cid]
                updates.append((n, e, author_identity(e, n), rid, cid))  # joined in _finish
        con.executemany(
            "UPDATE commits SET author_name=?, author_email=?, author_id=?"
            " WHERE repo=? AND commit_id=?",
            updates,
        )
        bound = [
            cid for cid in allowed if cid in boundary and stored.get(cid) != "shallow_boundary"
        ]
        store.delete_commits(con, rid, bound)
        con.executemany(
            "INSERT INTO skipped_commits VALUES (?,?,'shallow_boundary')",
            [(rid, cid) for cid in bound],
        )
        con.execute("UPDATE mine_state SET n_author_filtered = ? WHERE repo = ?", (n_filtered, rid))
        if gone or bound:
            store.gc_blobs(con)
    if gone or updates:
        log.info("%s: %d commits dropped, %d identities updated", rid, len(gone), len(updates))
    eligible = [sha for sha, _, _ in listed if sha in allowed and sha not in boundary]
    todo = [sha for sha in eligible if sha not in stored]
    size = max(1, options.chunk_size)
    chunks = [
        ChunkTask(rid, str(path), tuple(todo[i : i + size]), options.extract)
        for i in range(0, len(todo), size)
    ]
    summ.status = "mined"
    return RepoPlan(summ, key, head, chunks, remaining=len(chunks), aliases=aliases,
                    done_before=len(eligible) - len(todo))  # fmt: skip


def fill_counts(con: Any, summ: RepoSummary) -> None:
    rid = summ.repo
    row = con.execute(
        "SELECT COUNT(*), COUNT(DISTINCT author_id), COALESCE(SUM(truncated), 0) FROM commits"
        " WHERE repo = ?",
        (rid,),
    ).fetchone()
    summ.commits_stored, summ.authors, summ.truncated = int(row[0]), int(row[1]), int(row[2])
    summ.missing_objects = int(
        con.execute(
            "SELECT COUNT(*) FROM file_changes WHERE repo = ? AND missing_object = 1", (rid,)
        ).fetchone()[0]
    )
    skipped = int(
        con.execute("SELECT COUNT(*) FROM skipped_commits WHERE repo = ?", (rid,)).fetchone()[0]
    )
    summ.squash_merges, summ.squash_timed = store.squash_counts(con, rid)
    summ.merges = int(
        con.execute("SELECT COUNT(*) FROM merge_commits WHERE repo = ?", (rid,)).fetchone()[0]
    )
    summ.others = int(
        con.execute("SELECT COUNT(*) FROM other_commits WHERE repo = ?", (rid,)).fetchone()[0]
    )
    st = con.execute("SELECT n_author_filtered FROM mine_state WHERE repo = ?", (rid,)).fetchone()
    summ.author_filtered = int(st[0]) if st else 0
    summ.skipped_by_filter = skipped + summ.author_filtered
