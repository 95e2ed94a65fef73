"""The mine stage's domain API: mine git repositories into the SQLite database.

Usage (the stage wiring)::

    opts = MineOptions.from_sections(cfg.repos, cfg.filters, base_dir=..., config_dir=...)
    repos = discover(opts)
    summary = mine_repositories(repos, db_path, opts, map_fn=ctx.map, should_stop=ctx.should_stop)

Per repository the parent process: checks the repo is a git repository; computes its refs key
(HEAD, every ref, ``.mailmap``, shallow boundary, options) and skips it when unchanged; lists
its non-merge commits with mailmapped authors (``git log --format``, no diffs); reconciles the
database with that list (unreachable commits, newly excluded authors, changed identities);
then hands the missing commits to ``map_fn`` in chunks. Each chunk's rows are written in one
transaction, so an interrupted mine resumes exactly where it stopped.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from standard_coder.runner.fingerprint import code_version
from standard_coder.sch.mining import store
from standard_coder.sch.mining.discovery import discover_repos, repo_id, sync_github_mirrors
from standard_coder.sch.mining.extract import (
    BlobFetcher,
    ChunkResult,
    ChunkTask,
    ExtractOptions,
    mine_chunk,
)
from standard_coder.sch.mining.filters import (
    AuthorRule,
    RepoRule,
    extension_map,
    pathspec_for,
    validate_patterns,
)
from standard_coder.sch.mining.gitlog import GitError, decode, run_git

if TYPE_CHECKING:
    from rich.table import Table

    from standard_coder.config.mining import FiltersSection, ReposSection

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")
MapFn = Callable[
    [Callable[[ChunkTask], ChunkResult], Iterable[ChunkTask]],
    Iterator[tuple[ChunkTask, ChunkResult]],
]


class MiningError(RuntimeError):
    """Some configured repositories could not be mined (the others were mined and committed).

    ``summary`` holds the full :class:`MineSummary`; ``failed`` maps path -> reason.
    """

    def __init__(self, summary: MineSummary) -> None:
        self.summary = summary
        self.failed = {r.path: r.error or "" for r in summary.repos if r.status == "error"}
        lines = "\n".join(f"  {p}: {e}" for p, e in self.failed.items())
        super().__init__(
            f"{len(self.failed)} repositor{'y' if len(self.failed) == 1 else 'ies'}"
            f" could not be mined (retried next run):\n{lines}"
        )


@dataclass(frozen=True)
class MineOptions:
    """Everything the miner needs, built from ``[repos]`` and ``[filters.*]``."""

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
    chunk_size: int = 500

    @classmethod
    def from_sections(
        cls,
        repos: ReposSection,
        filters: FiltersSection,
        base_dir: Path,
        config_dir: Path | None = None,
        *,
        chunk_size: int = 500,
    ) -> MineOptions:
        """Build from the config sections; relative globs are anchored at ``config_dir``.

        Raises:
            ValueError: an invalid ``re:`` pattern or a language without extensions.
        """
        cdir = Path(config_dir) if config_dir is not None else Path.cwd()

        def anchor(pat: str) -> str:
            p = os.path.expanduser(pat)
            return p if os.path.isabs(p) else str(cdir / p)

        for pats in (
            filters.authors.include,
            filters.authors.exclude,
            filters.repos.include,
            filters.repos.exclude,
        ):
            validate_patterns(pats)
        ext_map = extension_map(filters.languages.enabled, filters.languages.extensions)
        excl = tuple(filters.languages.exclude_paths)
        return cls(
            include_paths=tuple(anchor(p) for p in repos.include_paths),
            exclude_paths=tuple(anchor(p) for p in repos.exclude_paths),
            github_repos=tuple(repos.include_github_repos),
            mirror_dir=str(Path(base_dir) / "repos"),
            max_commits_per_repo=repos.max_commits_per_repo,
            authors=AuthorRule(
                include=tuple(filters.authors.include),
                exclude=tuple(filters.authors.exclude),
                exclude_bots=filters.authors.exclude_bots,
            ),
            repos=RepoRule(
                include=tuple(filters.repos.include), exclude=tuple(filters.repos.exclude)
            ),
            extract=ExtractOptions(
                ext_map=tuple(sorted(ext_map.items())),
                exclude_substrings=excl,
                pathspec=tuple(pathspec_for(ext_map, excl)),
                max_files_per_commit=repos.max_files_per_commit,
                max_lines_per_commit=repos.max_lines_per_commit,
                store_contents=repos.store_contents,
                max_blob_bytes=repos.max_blob_bytes,
            ),
            chunk_size=chunk_size,
        )

    def extract_key(self) -> str:
        """Digest of what is extracted per commit and of the code that extracts it (a change
        remines every repository: the database always equals a clean mine)."""
        return _digest(
            [store.SCHEMA_VERSION, asdict(self.extract), _source_digest("gitlog.py", "extract.py")]
        )

    def filter_key(self) -> str:
        """Digest of what decides which commits are kept (part of every repo's refs key)."""
        return _digest(
            [
                self.extract_key(),
                asdict(self.authors),
                self.max_commits_per_repo,
                _source_digest("filters.py"),
            ]
        )


def discover(options: MineOptions) -> list[Path]:
    """The repositories to mine: include globs minus excludes, repo filter, GitHub mirrors.

    GitHub mirrors are cloned/fetched (network) only when ``github_repos`` is set.
    """
    paths = discover_repos(options.include_paths, options.exclude_paths, options.repos)
    if options.github_repos and options.mirror_dir:
        for p in sync_github_mirrors(options.github_repos, Path(options.mirror_dir)):
            if options.repos.allows(p.name, str(p)) and p not in paths:
                paths.append(p)
    return paths


@dataclass
class RepoSummary:
    """One row of the end-of-stage table."""

    repo: str
    path: str
    status: str = "pending"
    """mined | unchanged | error | interrupted"""
    commits_listed: int = 0
    commits_stored: int = 0
    authors: int = 0
    skipped_by_filter: int = 0
    truncated: int = 0
    missing_objects: int = 0
    mined_now: int = 0
    chunks_mined: int = 0
    is_shallow: bool = False
    seconds: float = 0.0
    error: str | None = None


@dataclass
class MineSummary:
    """Result of :func:`mine_repositories`."""

    repos: list[RepoSummary] = field(default_factory=list)
    interrupted: bool = False
    seconds: float = 0.0

    @property
    def errors(self) -> dict[str, str]:
        """path -> error for repositories that could not be mined."""
        return {r.path: r.error or "" for r in self.repos if r.status == "error"}

    @property
    def chunks_mined(self) -> int:
        return sum(r.chunks_mined for r in self.repos)

    @property
    def commits_mined(self) -> int:
        """Commits extracted in this run (stored or skipped for no language files)."""
        return sum(r.mined_now for r in self.repos)

    def totals(self) -> dict[str, int]:
        """Key figures for ``ctx.set_summary``."""
        return {
            "repos": len(self.repos),
            "repos_failed": len(self.errors),
            "commits_stored": sum(r.commits_stored for r in self.repos),
            "commits_mined_now": self.commits_mined,
            "skipped_by_filter": sum(r.skipped_by_filter for r in self.repos),
            "truncated": sum(r.truncated for r in self.repos),
            "missing_objects": sum(r.missing_objects for r in self.repos),
        }


def summary_table(summary: MineSummary) -> Table:
    """A Rich table: one row per repository plus a total row (an error column when any failed)."""
    from rich.table import Table

    errors = any(r.error for r in summary.repos)
    t = Table(title="mine: repositories", title_justify="left")
    t.add_column("repo", no_wrap=True)
    t.add_column("status")
    for col in ("stored", "authors", "filtered", "truncated", "missing obj.", "new", "commits/s"):
        t.add_column(col, justify="right", no_wrap=True)
    if errors:
        t.add_column("error", overflow="fold")

    def row(*cells: str, error: str = "") -> None:
        t.add_row(*cells, *((error,) if errors else ()))

    for r in summary.repos:
        cps = f"{r.mined_now / r.seconds:,.0f}" if r.seconds > 0 and r.mined_now else ""
        status = r.status + (" (shallow)" if r.is_shallow else "")
        row(
            r.repo,
            status,
            f"{r.commits_stored:,}",
            f"{r.authors:,}",
            f"{r.skipped_by_filter:,}",
            f"{r.truncated:,}",
            f"{r.missing_objects:,}",
            f"{r.mined_now:,}",
            cps,
            error=r.error or "",
        )
    tot = summary.totals()
    row(
        "total",
        "interrupted" if summary.interrupted else "",
        f"{tot['commits_stored']:,}",
        "",
        f"{tot['skipped_by_filter']:,}",
        f"{tot['truncated']:,}",
        f"{tot['missing_objects']:,}",
        f"{tot['commits_mined_now']:,}",
        "",
        error=f"{tot['repos_failed']} failed" if tot["repos_failed"] else "",
    )
    return t


def thread_map(
    fn: Callable[[T], R], items: Iterable[T], *, workers: int = 2
) -> Iterator[tuple[T, R]]:
    """The default ``map_fn``: ``workers`` items in threads, yielded in completion order.

    A chunk's work is mostly git subprocesses, pipe reads, zlib and SQLite, all of which release
    the GIL, so threads overlap mining the next chunks with the parent writing this one.
    """
    it = iter(items)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mine") as ex:
        pending: dict[Future[R], T] = {}

        def submit_next() -> None:
            for item in it:
                pending[ex.submit(fn, item)] = item
                return

        for _ in range(workers + 1):
            submit_next()
        while pending:
            done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for fut in done:
                item = pending.pop(fut)
                yield item, fut.result()
                submit_next()


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


@functools.cache
def _source_digest(*names: str) -> str:
    """Digest of mining modules' source (e.g. the diff parser), by file name."""
    return code_version(Path(__file__).parent / name for name in names)


@dataclass
class _RepoPlan:
    summary: RepoSummary
    key: str
    head: str | None
    chunks: list[ChunkTask]
    remaining: int = 0


def _inspect(path: Path) -> tuple[Path, bool, bool]:
    """(git dir, is bare, is shallow); raises GitError when ``path`` is not a repository root."""
    if not path.is_dir():
        what = "is a file, not a directory" if path.exists() else "no such directory"
        raise GitError(f"{path}: {what}")
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
            raise GitError(f"{path}: not the top of a git repository (top is {top})")
    return git_dir, bare, shallow


def _refs_state(path: Path, git_dir: Path, bare: bool) -> tuple[str | None, str]:
    """(HEAD id or None for an empty repo, digest of refs + .mailmap + shallow boundary)."""
    head_raw = run_git(path, "rev-parse", "--verify", "-q", "HEAD^{commit}", check=False).strip()
    head = head_raw.decode("ascii") if head_raw else None
    refs = run_git(path, "for-each-ref", "--format=%(objectname) %(refname)")
    h = hashlib.sha256()
    h.update((head or "-").encode() + b"\n" + refs)
    mailmap = path / ".mailmap"
    if not bare and mailmap.is_file():
        h.update(b"mailmap\n" + mailmap.read_bytes())
    shallow = git_dir / "shallow"
    if shallow.is_file():
        h.update(b"shallow\n" + shallow.read_bytes())
    return head, h.hexdigest()


def _list_commits(path: Path, max_count: int | None) -> list[tuple[str, str, str]]:
    """(id, mailmapped name, mailmapped email) of HEAD's non-merge commits, newest first."""
    args = ["log", "--no-merges", "-z", "--format=%H%x00%aN%x00%aE"]
    if max_count:
        args.append(f"--max-count={max_count}")
    fields = run_git(path, *args, "HEAD", "--").split(b"\x00")
    out = []
    for i in range(0, len(fields) - 2, 3):
        sha = fields[i].strip().decode("ascii")
        out.append((sha, decode(fields[i + 1]), decode(fields[i + 2])))
    return out


def _plan_repo(
    con: Any, path: Path, options: MineOptions, extract_key: str, filter_key: str
) -> _RepoPlan:
    """Reconcile one repository's rows with its current history; return the chunks to mine."""
    rid = repo_id(path)
    summ = RepoSummary(repo=rid, path=str(path))
    git_dir, bare, shallow = _inspect(path)
    summ.is_shallow = shallow
    head, refs_digest = _refs_state(path, git_dir, bare)
    key = _digest([refs_digest, filter_key])
    state = con.execute(
        "SELECT refs_key, extract_key FROM mine_state WHERE repo = ?", (rid,)
    ).fetchone()
    if state is not None and state[0] == key:
        summ.status = "unchanged"
        return _RepoPlan(summ, key, head, [])
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
                updates.append((n, e, e.strip().lower(), rid, cid))
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
    todo = [
        sha for sha, _, _ in listed if sha in allowed and sha not in boundary and sha not in stored
    ]
    size = max(1, options.chunk_size)
    chunks = [
        ChunkTask(rid, str(path), tuple(todo[i : i + size]), options.extract)
        for i in range(0, len(todo), size)
    ]
    summ.status = "mined"
    return _RepoPlan(summ, key, head, chunks, remaining=len(chunks))


def _fill_counts(con: Any, summ: RepoSummary) -> None:
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
    st = con.execute("SELECT n_author_filtered FROM mine_state WHERE repo = ?", (rid,)).fetchone()
    summ.skipped_by_filter = skipped + (int(st[0]) if st else 0)


def mine_repositories(
    repos: Sequence[Path],
    db_path: Path,
    options: MineOptions,
    *,
    map_fn: MapFn | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    on_event: Callable[[str, dict[str, Any]], None] | None = None,
    on_progress: Callable[[str, int, int | None], None] | None = None,
    raise_on_error: bool = True,
) -> MineSummary:
    """Mine ``repos`` into ``db_path`` so that it equals a clean mine of ``options``.

    Args:
        repos: repository folders (from :func:`discover`); rows of repositories not in this
            list are deleted.
        db_path: the SQLite database (created if needed).
        options: see :meth:`MineOptions.from_sections`.
        map_fn: the runner's ``ctx.map``; ``map_fn(mine_chunk, tasks)`` yields
            ``(task, result)``. Default: :func:`thread_map` (two chunks at a time in threads).
        should_stop: polled between chunks; when true no new chunk is started.
        on_event: ``(name, fields)`` for ``mine_repo_started``, ``mine_repo_skipped``,
            ``mine_chunk_done``, ``mine_repo_done``, ``mine_repo_failed``.
        on_progress: ``(repo id, commits done, commits to do)`` after each chunk.
        raise_on_error: raise :class:`MiningError` at the end when a repository failed.

    Returns:
        The per-repository summary (``summary.interrupted`` when stopped early).

    Raises:
        MiningError: some repositories failed (after every good one was committed);
            ``exc.summary`` is the summary.
    """
    t0 = time.perf_counter()
    emit = on_event or (lambda _n, _f: None)
    progress = on_progress or (lambda _r, _d, _t: None)
    summary = MineSummary()
    extract_key, filter_key = options.extract_key(), options.filter_key()
    repos = list(dict.fromkeys(Path(os.path.abspath(os.path.expanduser(str(p)))) for p in repos))
    con = store.connect(Path(db_path))
    try:
        wanted = {repo_id(p) for p in repos}
        with store.transaction(con):
            old = [
                r
                for (r,) in con.execute(
                    "SELECT repo FROM repos UNION SELECT repo FROM"
                    " mine_state UNION SELECT repo FROM commits"
                )
            ]
            for rid in old:
                if rid not in wanted:
                    store.delete_repo_rows(con, rid)
            if any(r not in wanted for r in old):
                store.gc_blobs(con)
        plans: dict[str, _RepoPlan] = {}
        for path in repos:
            path = Path(path)
            t_repo = time.perf_counter()
            try:
                plan = _plan_repo(con, path, options, extract_key, filter_key)
            except (GitError, OSError, ValueError) as exc:
                rs = RepoSummary(repo=repo_id(path), path=str(path), status="error", error=str(exc))
                summary.repos.append(rs)
                emit("mine_repo_failed", {"repo": rs.repo, "path": rs.path, "error": rs.error})
                log.error("mine: %s", exc)
                continue
            plan.summary.seconds = time.perf_counter() - t_repo
            summary.repos.append(plan.summary)
            plans[plan.summary.repo] = plan
            if plan.summary.status == "unchanged":
                emit("mine_repo_skipped", {"repo": plan.summary.repo, "reason": "refs unchanged"})
            else:
                n_todo = sum(len(c.ids) for c in plan.chunks)
                emit(
                    "mine_repo_started",
                    {
                        "repo": plan.summary.repo,
                        "path": str(path),
                        "commits_to_mine": n_todo,
                        "chunks": len(plan.chunks),
                    },
                )
                progress(plan.summary.repo, 0, n_todo)
                if not plan.chunks:
                    _try_finish(con, plan, options, emit)

        def tasks() -> Iterator[ChunkTask]:
            for plan in plans.values():
                for task in plan.chunks:
                    if should_stop():
                        return
                    yield task

        mapper = map_fn or thread_map
        totals = {rid: sum(len(c.ids) for c in p.chunks) for rid, p in plans.items()}
        for task, res in mapper(mine_chunk, tasks()):
            plan = plans[task.repo]
            rs = plan.summary
            rs.seconds += res.seconds
            if res.error is not None:
                if rs.status != "error":
                    rs.status, rs.error = "error", res.error
                    emit("mine_repo_failed", {"repo": rs.repo, "path": rs.path, "error": res.error})
                    log.error("mine: %s: %s", rs.path, res.error)
                plan.remaining -= 1
                continue
            store.write_chunk(con, task.repo, res.commits, res.files, res.blobs, res.skipped)
            rs.mined_now += len(task.ids)
            rs.chunks_mined += 1
            plan.remaining -= 1
            emit(
                "mine_chunk_done",
                {
                    "repo": rs.repo,
                    "commits": len(task.ids),
                    "stored": len(res.commits),
                    "seconds": round(res.seconds, 3),
                },
            )
            progress(rs.repo, rs.mined_now, totals[rs.repo])
            if plan.remaining == 0 and rs.status != "error":
                _try_finish(con, plan, options, emit)
        for plan in plans.values():
            if plan.summary.status == "mined" and plan.remaining > 0:
                plan.summary.status = "interrupted"
                summary.interrupted = True
        if should_stop():
            summary.interrupted = True
        for rs in summary.repos:
            if rs.repo in plans:
                _fill_counts(con, rs)
    finally:
        con.close()
    summary.seconds = time.perf_counter() - t0
    if raise_on_error and summary.errors:
        raise MiningError(summary)
    return summary


def _try_finish(
    con: Any, plan: _RepoPlan, options: MineOptions, emit: Callable[[str, dict[str, Any]], None]
) -> None:
    """:func:`_finish`, turning a failure into a repo error (not marked done, retried)."""
    try:
        _finish(con, plan, options, emit)
    except (GitError, OSError) as exc:
        rs = plan.summary
        rs.status, rs.error = "error", f"content backfill failed: {exc}"
        emit("mine_repo_failed", {"repo": rs.repo, "path": rs.path, "error": rs.error})
        log.error("mine: %s: %s", rs.path, rs.error)


def _finish(
    con: Any, plan: _RepoPlan, options: MineOptions, emit: Callable[[str, dict[str, Any]], None]
) -> None:
    """All chunks of a repo are stored: backfill contents no chunk fetched, then record the
    refs key (the next run skips the repo if unchanged)."""
    rid = plan.summary.repo
    if options.extract.store_contents:
        want = store.missing_blob_ids(con, rid)
        if want:
            fetcher = BlobFetcher(Path(plan.summary.path), options.extract.max_blob_bytes)
            for oid in want:
                fetcher.request(oid)
            blobs = fetcher.close()
            with store.transaction(con):
                con.executemany("INSERT OR IGNORE INTO blobs VALUES (?,?,?)", blobs)
    with store.transaction(con):
        con.execute("UPDATE mine_state SET refs_key = ? WHERE repo = ?", (plan.key, rid))
        con.execute("UPDATE repos SET head = ? WHERE repo = ?", (plan.head, rid))
    emit("mine_repo_done", {"repo": rid, "commits_mined": plan.summary.mined_now})
