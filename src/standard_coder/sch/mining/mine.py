"""The mine stage's domain API: mine git repositories into the SQLite database.

Usage (the stage wiring)::

    opts = MineOptions(...)          # the pipeline builds it from [repos] and [filters.*]
    repos = discover(opts).repos
    summary = mine_repositories(repos, db_path, opts, map_fn=ctx.map, should_stop=ctx.should_stop)

Per repository the parent process: checks the repo is a git repository; computes its refs key
(HEAD, every ref, ``.mailmap``, shallow boundary, options) and skips it when unchanged; lists
its non-merge commits with mailmapped authors (``git log --format``, no diffs); reconciles the
database with that list (unreachable commits, newly excluded authors, changed identities);
then hands the missing commits to ``map_fn`` in chunks. Each chunk's rows are written in one
transaction, so an interrupted mine resumes exactly where it stopped.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, TypeVar

from standard_coder.runner.executor import ItemStopped, stop_polling
from standard_coder.sch.mining import (
    canonical,
    coauthors,
    file_stats,
    identities,
    merges,
    message_body,
    pulls,
    store,
)
from standard_coder.sch.mining.discovery import (
    Discovery,
    explain_repos,
    repo_id,
    sync_github_mirrors,
)
from standard_coder.sch.mining.extract import BlobFetcher, ChunkResult, ChunkTask, mine_chunk
from standard_coder.sch.mining.filters import language_of
from standard_coder.sch.mining.gitlog import GitError, NotARepository
from standard_coder.sch.mining.options import MineOptions
from standard_coder.sch.mining.reconcile import RepoPlan, fill_counts, plan_repo
from standard_coder.sch.mining.summary import MineSummary, MiningError, RepoSummary, summary_table

__all__ = [
    "MineOptions",
    "MineSummary",
    "MiningError",
    "RepoSummary",
    "discover",
    "mine_repositories",
    "summary_table",
    "thread_map",
]

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")
MapFn = Callable[
    [Callable[[ChunkTask], ChunkResult], Iterable[ChunkTask]],
    Iterator[tuple[ChunkTask, ChunkResult]],
]


def discover(options: MineOptions) -> Discovery:
    """The repositories to mine (include globs minus excludes, repo filter, GitHub mirrors),
    with a note per configured path read as another (:func:`explain_repos`).

    GitHub mirrors are cloned/fetched (network) only when ``github_repos`` is set.
    """
    found = explain_repos(options.include_paths, options.exclude_paths, options.repos)
    if options.github_repos and options.mirror_dir:
        for p in sync_github_mirrors(options.github_repos, Path(options.mirror_dir)):
            if options.repos.allows(p.name, str(p)) and p not in found.repos:
                found.repos.append(p)
    return found


def thread_map(
    fn: Callable[[T], R], items: Iterable[T], *, workers: int = 2
) -> Iterator[tuple[T, R]]:
    """The default ``map_fn``: ``workers`` items in threads, yielded in completion order.

    An item that raises :class:`ItemStopped` (a stop was requested) is not yielded. A chunk's
    work is mostly git subprocesses, pipe reads, zlib and SQLite, all of which release the GIL,
    so threads overlap mining the next chunks with the parent writing this one.
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
                try:
                    result = fut.result()
                except ItemStopped:
                    continue  # not done: mined again by the next run
                yield item, result
                submit_next()


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
        options: what to mine (``pipelines.sch_options.mine_options`` builds them).
        map_fn: the runner's ``ctx.map``; ``map_fn(mine_chunk, tasks)`` yields
            ``(task, result)``. Default: :func:`thread_map` (two chunks at a time in threads).
        should_stop: polled between chunks; when true no new chunk is started.
        on_event: ``(name, fields)`` for ``mine_repo_started``, ``mine_repo_skipped``,
            ``mine_chunk_done``, ``mine_repo_done``, ``mine_repo_failed``, and
            ``stage_warning`` (``reason``: a line for the user, such as an origin git cannot
            read; a log warning when there is no ``on_event``).
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

    def say(text: str) -> None:
        if on_event is None:
            log.warning("%s", text)
        else:
            emit("stage_warning", {"reason": text})

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
        plans: dict[str, RepoPlan] = {}
        for path in repos:
            path = Path(path)
            t_repo = time.perf_counter()
            try:
                plan = plan_repo(con, path, options, extract_key, filter_key, warn=say)
            except (GitError, OSError, ValueError) as exc:
                rs = RepoSummary(repo=repo_id(path), path=str(path), status="error", error=str(exc),
                                 bad_path=isinstance(exc, NotARepository))  # fmt: skip
                summary.repos.append(rs)
                emit("mine_repo_failed", {"repo": rs.repo, "path": rs.path, "error": rs.error})
                # said once, by the summary table and MiningError (which names every path)
                log.debug("mine: %s", exc)
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
                progress(plan.summary.repo, plan.done_before, plan.done_before + n_todo)
                if not plan.chunks:
                    _try_finish(con, plan, options, emit)

        def tasks() -> Iterator[ChunkTask]:
            for plan in plans.values():
                for task in plan.chunks:
                    if should_stop():
                        return
                    yield task

        mapper = map_fn or thread_map
        totals = {rid: p.done_before + sum(len(c.ids) for c in p.chunks)
                  for rid, p in plans.items()}  # fmt: skip
        # The runner's map tells its items itself; our threads learn a stop through this.
        polling = stop_polling(should_stop) if map_fn is None else contextlib.nullcontext()
        # Nothing to mine (every repository failed before mining, or is unchanged): no map, so
        # no "mining chunks: 0" progress line above the failure or the summary.
        work: Iterable[tuple[ChunkTask, ChunkResult]] = (
            mapper(mine_chunk, tasks()) if any(p.chunks for p in plans.values()) else ()
        )
        with polling:  # a chunk in flight sees a Ctrl-C between two commits
            for task, res in work:
                plan = plans[task.repo]
                rs = plan.summary
                rs.seconds += res.seconds
                if res.error is not None:
                    if rs.status != "error":
                        rs.status, rs.error = "error", res.error
                        emit(
                            "mine_repo_failed",
                            {"repo": rs.repo, "path": rs.path, "error": res.error},
                        )
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
                progress(rs.repo, plan.done_before + rs.mined_now, totals[rs.repo])
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
                fill_counts(con, rs)
        # rows went in as chunks finished (this run or one that was killed): rewrite them in
        # canonical order, so the same history gives the same bytes
        rewrite = not summary.interrupted and not canonical.is_canonical(con)
    finally:
        con.close()
    if rewrite:
        canonical.rewrite_canonical(Path(db_path))
    summary.seconds = time.perf_counter() - t0
    if raise_on_error and summary.errors:
        raise MiningError(summary)
    return summary


class PullTimesError(RuntimeError):
    """Reading a repository's pull request commit times failed (the repo is retried)."""


class EventTimesError(RuntimeError):
    """Reading a repository's merge or other commits' times failed (the repo is retried)."""


def _try_finish(
    con: Any, plan: RepoPlan, options: MineOptions, emit: Callable[[str, dict[str, Any]], None]
) -> None:
    """:func:`_finish`, turning a failure into a repo error (not marked done, retried)."""
    try:
        _finish(con, plan, options, emit)
    except (GitError, OSError, PullTimesError, EventTimesError) as exc:
        rs = plan.summary
        rs.status = "error"
        rs.error = (
            str(exc)
            if isinstance(exc, (PullTimesError, EventTimesError))
            else f"content backfill failed: {exc}"
        )
        emit("mine_repo_failed", {"repo": rs.repo, "path": rs.path, "error": rs.error})
        log.error("mine: %s: %s", rs.path, rs.error)


def _pull_rows(con: Any, plan: RepoPlan, options: MineOptions) -> list[pulls.PullCommit]:
    """The repo's squash merges' pull request commits (``pulls``), none when switched off."""
    if not options.pull_requests:
        return []
    rid = plan.summary.repo
    try:
        squashes = pulls.named_squashes(store.merge_stamped_rows(con, rid))
        # an origin git cannot read was said when the repository was planned
        found = pulls.pull_refs(Path(plan.summary.path), log.debug) if squashes else None
        if found is None:
            return []
        rows = pulls.pull_commits(found, squashes, known=store.stored_ids(con, rid))
    except (GitError, OSError, ValueError) as exc:
        raise PullTimesError(f"reading pull request commit times failed: {exc}") from exc
    timed = len({r[0] for r in rows})
    log.info("%s: %d of %d squash merges timed by their pull request's commits (refs in %s)",
             rid, timed, len(squashes), found[0])  # fmt: skip
    return rows


def _merge_rows(con: Any, plan: RepoPlan, options: MineOptions) -> list[merges.EventCommit]:
    """The repo's merge commits (``merges``) from its oldest mined commit on; none when switched
    off or when nothing is mined."""
    if not options.merge_times or plan.head is None:
        return []
    rid = plan.summary.repo
    oldest = con.execute("SELECT MIN(authored_at) FROM commits WHERE repo = ?", (rid,)).fetchone()
    if oldest is None or oldest[0] is None:
        return []
    try:
        return merges.merge_times(Path(plan.summary.path), options.authors, int(oldest[0]))
    except (GitError, OSError) as exc:
        raise EventTimesError(f"reading merge commit times failed: {exc}") from exc


def _other_rows(con: Any, plan: RepoPlan, options: MineOptions) -> list[merges.EventCommit]:
    """The repo's commits skipped as touching no enabled language (``merges``), with their
    authors' times; none when switched off."""
    if not options.other_commit_times or plan.head is None:
        return []
    rid = plan.summary.repo
    ids = [
        str(r[0])
        for r in con.execute(
            "SELECT commit_id FROM skipped_commits WHERE repo = ? AND reason = 'no_language_files'"
            " ORDER BY commit_id",
            (rid,),
        )
    ]
    try:
        return merges.other_commit_times(Path(plan.summary.path), ids, options.authors)
    except (GitError, OSError) as exc:
        raise EventTimesError(f"reading other commits' times failed: {exc}") from exc


def _file_rows(
    con: Any, plan: RepoPlan, options: MineOptions
) -> tuple[list[str], list[file_stats.FileStatRow]]:
    """The stored commits not yet counted over all the files they touch (``file_stats``), and
    their counts."""
    ids = file_stats.uncounted_ids(con, plan.summary.repo)
    ext_map, excluded = dict(options.extract.ext_map), options.extract.exclude_substrings
    try:
        return ids, file_stats.commit_file_stats(
            Path(plan.summary.path), ids, lambda p: language_of(p, ext_map, excluded) is not None
        )
    except (GitError, OSError) as exc:
        raise EventTimesError(f"reading the commits' files failed: {exc}") from exc


def _message_rows(
    con: Any,
    plan: RepoPlan,
    unread: Callable[[Any, str], list[str]],
    read: Callable[[Path, list[str]], list[tuple[str, str]]],
    what: str,
) -> tuple[list[str], list[tuple[str, str]]]:
    """The stored commits a message pass has not yet read (``unread``), and what ``read`` reads
    of them (``message_body``: bodies; ``coauthors``: trailers); a git failure names ``what``."""
    ids = unread(con, plan.summary.repo)
    try:
        return ids, read(Path(plan.summary.path), ids)
    except (GitError, OSError) as exc:
        raise EventTimesError(f"reading the commits' {what} failed: {exc}") from exc


def _finish(
    con: Any, plan: RepoPlan, options: MineOptions, emit: Callable[[str, dict[str, Any]], None]
) -> None:
    """All chunks of a repo are stored: backfill contents no chunk fetched, read its squash
    merges' pull request commit times, then record the refs key (the next run skips the repo
    if unchanged)."""
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
    pull_rows = _pull_rows(con, plan, options)
    merge_rows = _merge_rows(con, plan, options)
    other_rows = _other_rows(con, plan, options)
    counted_ids, file_rows = _file_rows(con, plan, options) if options.commit_files else ([], [])
    read_ids, body_rows = (
        _message_rows(con, plan, message_body.unread_ids, message_body.commit_bodies, "messages")
        if options.commit_body
        else ([], [])
    )
    coauthor_ids, coauthor_rows = _message_rows(
        con, plan, coauthors.unread_ids, coauthors.commit_coauthors, "co-authors"
    )
    # one author per person (``identities``): every such row ends with its author
    pull_rows = identities.resolve_rows(plan.aliases, pull_rows)
    merge_rows = identities.resolve_rows(plan.aliases, merge_rows)
    other_rows = identities.resolve_rows(plan.aliases, other_rows)
    with store.transaction(con):
        joined = store.set_author_ids(con, rid, plan.author_of)
        coauthors.store_commit_coauthors(con, rid, coauthor_ids, coauthor_rows)
        store.replace_pull_commits(con, rid, pull_rows)
        merges.replace_merge_commits(con, rid, merge_rows)
        merges.replace_other_commits(con, rid, other_rows)
        if options.commit_files:
            file_stats.store_commit_files(con, rid, counted_ids, file_rows)
        else:  # off: none kept, as a clean mine without it
            con.execute("DELETE FROM commit_files WHERE repo = ?", (rid,))
        if options.commit_body:
            message_body.store_commit_bodies(con, rid, read_ids, body_rows)
        else:
            con.execute("DELETE FROM commit_bodies WHERE repo = ?", (rid,))
        con.execute("UPDATE mine_state SET refs_key = ? WHERE repo = ?", (plan.key, rid))
        con.execute("UPDATE repos SET head = ? WHERE repo = ?", (plan.head, rid))
    if joined:
        log.info("%s: %d commits' author set by name (%d addresses joined another)",
                 rid, joined, len(plan.aliases))  # fmt: skip
    emit("mine_repo_done", {"repo": rid, "commits_mined": plan.summary.mined_now})
