"""The ``mine`` stage: discover repositories and mine them into SQLite through the runner."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from contextlib import closing, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from standard_coder.runner.context import StageContext, warn

if TYPE_CHECKING:
    from standard_coder.config.mining import LanguageFilter
    from standard_coder.sch.mining.mine import MapFn
    from standard_coder.sch.mining.options import MineOptions
    from standard_coder.sch.mining.summary import MineSummary


def local_repositories(opts: MineOptions, base_dir: Path) -> list[Path]:
    """Repositories the stage will mine, found without touching the network (for fingerprints).

    Mirrors of ``include_github_repos`` count once they exist under ``<base_dir>/repos/``.
    """
    from standard_coder.sch.mining.discovery import discover_repos

    found = discover_repos(opts.include_paths, opts.exclude_paths, opts.repos)
    mirrors = base_dir / "repos"
    if opts.github_repos and mirrors.is_dir():
        found.extend(sorted(p for p in mirrors.glob("*.git") if p.is_dir()))
    return found


def no_repositories(given: Sequence[object], root: object) -> str:
    """What the mine says when ``[repos] include_paths`` matched no repository (``status``
    says it too, before any stage runs)."""
    shown = ", ".join(repr(str(p)) for p in given) or "none given"
    return (
        f"no repositories to mine: [repos] include_paths ({shown}) matched no git "
        f"repository; set it in the config (in {root}) to repositories or globs"
    )


class NoRepositories(ValueError):
    """``[repos]`` names no repository (a glob matching nothing): bad input, exit 2."""

    exit_code = 2


class NothingMined(ValueError):
    """No commit of any configured repository was kept (every one touched no file of the
    enabled languages, or was filtered out): bad input, exit 2."""

    exit_code = 2


def options_from_params(ctx: StageContext) -> MineOptions:
    """The miner's options from the stage's params (``repos``, ``filters``, and
    ``commit_files`` and ``commit_body`` when on)."""
    from standard_coder.config.mining import FiltersSection, ReposSection
    from standard_coder.pipelines.sch_options import mine_options
    from standard_coder.pipelines.wiring import section_from_params

    return mine_options(
        section_from_params(ReposSection, ctx.params["repos"], ctx.root_dir),
        section_from_params(FiltersSection, ctx.params["filters"], ctx.root_dir),
        ctx.base_dir,
        ctx.root_dir,
        commit_files=bool(ctx.params.get("commit_files", False)),
        commit_body=bool(ctx.params.get("commit_body", False)),
    )


def mine(
    repos: Sequence[Path],
    db: Path,
    opts: MineOptions,
    *,
    map_fn: MapFn | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    on_event: Callable[[str, dict[str, Any]], None] | None = None,
    on_progress: Callable[[str, int, int | None], None] | None = None,
    show_table: bool = True,
) -> MineSummary:
    """Mine ``repos`` into ``db``; ``show_table`` prints the per-repository table to stderr
    (also when some failed).

    Raises:
        MiningError: some repositories could not be mined (the others are committed).
    """
    from standard_coder.runner.console import make_console
    from standard_coder.sch.mining.mine import MiningError, mine_repositories, summary_table

    db.parent.mkdir(parents=True, exist_ok=True)
    try:
        summary = mine_repositories(
            repos,
            db,
            opts,
            map_fn=map_fn,
            should_stop=should_stop,
            on_event=on_event,
            on_progress=on_progress,
        )
    except MiningError as exc:
        if show_table:
            make_console(stderr=True).print(summary_table(exc.summary))
        raise
    if show_table:
        make_console(stderr=True).print(summary_table(summary))
    return summary


def run(ctx: StageContext) -> None:
    """Mine every configured repository; only new or changed history is read."""
    from standard_coder.sch.mining.integrity import CorruptDatabaseError
    from standard_coder.sch.mining.mine import discover

    opts = options_from_params(ctx)
    discovered = discover(opts)
    repos = discovered.repos
    for note in discovered.notes:
        warn(ctx, f"[repos] include_paths: {note}")
    if not repos:
        given = ctx.params["repos"].get("include_paths") or []
        raise NoRepositories(no_repositories(given, ctx.root_dir))
    db = ctx.outputs["db"]
    db.parent.mkdir(parents=True, exist_ok=True)
    _set_aside_if_corrupt(ctx, db, "every repository is mined again")
    tasks: dict[str, Any] = {}

    def on_progress(repo: str, done: int, total: int | None) -> None:
        task = tasks.get(repo)
        if task is None:
            task = tasks[repo] = ctx.progress(total, f"mine {repo}")
        task.update(completed=done, total=total)

    def on_event(name: str, fields: dict[str, Any]) -> None:
        if name == "stage_warning":  # a [warn] line, with its copy in the run log
            warn(ctx, str(fields.pop("reason")), **fields)
        else:
            ctx.emit(name, **fields)

    # the last key moves aside while the database changes: a mine killed half-way leaves none,
    # so no reader takes the new rows for the old ones (the next run mines and writes it)
    key = ctx.outputs["db_key"]
    previous = _move_key_aside(key)
    try:
        summary = mine(
            repos,
            db,
            opts,
            map_fn=(
                (lambda fn, items: ctx.map(fn, items, desc="mining chunks"))
                if ctx.workers > 1 or getattr(ctx, "executor", None)  # a Dask cluster: always
                else None
            ),
            should_stop=ctx.should_stop,
            on_event=on_event,
            on_progress=on_progress,
        )
    except BaseException:  # a repository failed after the others were stored: say what is there
        if not ctx.should_stop():  # a stop that surfaced as an error leaves no key, as a stop
            with suppress(Exception):  # the failure is what is said, not this
                _write_content_key(db, key, previous)
        raise
    found = _set_aside_if_corrupt(ctx, db, "rerun to mine it again")
    if found is not None:  # never record a corrupt file as the stage's output
        raise CorruptDatabaseError(db, found, hint="it was set aside; rerun to mine it again")
    if not summary.interrupted:  # a stopped mine leaves no key, as a killed one: the rerun does
        _write_content_key(db, key, previous)
    shared = _say_shared_histories(ctx, db) if not summary.interrupted else 0
    ctx.set_summary(
        **summary.totals(), future_dated=_report_future_dated(ctx, db), shared_commits=shared
    )
    _say_what_was_left_out(ctx, db, summary)


def _move_key_aside(key: Path) -> Path:
    """Move ``key`` to ``<key>.previous`` (kept there when a killed mine left it) and return
    that path."""
    previous = key.with_name(key.name + ".previous")
    if key.is_file():
        os.replace(key, previous)
    return previous


def _write_content_key(db: Path, key: Path, previous: Path) -> None:
    """``key``: the digest of what the learning stages read of ``db`` (they read it through
    the key: ``Stage.input_keys``), written atomically; the ``previous`` key's file put back
    when it says the same (its time kept, so they show ``up to date``, not ``mtime changed,
    content same``)."""
    from standard_coder.runner.atomic import atomic_write_json
    from standard_coder.runner.jsonfile import read_json_object_or_none
    from standard_coder.sch.mining.content_key import KEY_VERSION, content_key

    doc = {"version": KEY_VERSION, "sha256": content_key(db), "of": db.name}
    if read_json_object_or_none(previous) == doc:
        os.replace(previous, key)
        return
    atomic_write_json(key, doc)
    previous.unlink(missing_ok=True)


def _say_shared_histories(ctx: StageContext, db: Path) -> int:
    """Name each repository whose commits are also stored under another (a clone, worktree or
    fork of one history, which ``~/code/*`` often holds): every reader counts such a commit
    once, under the repository whose path sorts first, so a person's hours are not counted twice.
    Returns how many stored rows repeat a commit."""
    from standard_coder.sch.mining.copies import shared_histories
    from standard_coder.sch.mining.store import open_readonly

    with closing(open_readonly(db)) as con:  # checked just before (_set_aside_if_corrupt)
        pairs = shared_histories(con)
    for repo, first, n in pairs:
        warn(
            ctx,
            f"{n:,} commits of {repo} are also stored under {first} (a clone, worktree or fork "
            f"of one history): each counts once, under {first}",
        )
    return sum(n for _, _, n in pairs)


def _say_what_was_left_out(ctx: StageContext, db: Path, summary: MineSummary) -> None:
    """Name each repository that gave no commit, and why (:func:`why_nothing_mined`): a
    warning when others gave commits, else :class:`NothingMined` (train_sch would have nothing
    to learn from). Not after a stop: the rerun continues the mine."""
    from standard_coder.config.mining import FiltersSection
    from standard_coder.pipelines.wiring import section_from_params

    if summary.interrupted or ctx.should_stop():
        return
    done = [r for r in summary.repos if r.status in ("mined", "unchanged")]
    empty = [r for r in done if r.commits_stored == 0]
    langs = section_from_params(FiltersSection, ctx.params["filters"], ctx.root_dir).languages
    for r in done:
        if r.commits_stored:
            _warn_if_mostly_other_languages(
                ctx, db, r.repo, Path(r.path), r.commits_stored, langs, shallow=r.is_shallow
            )
    if not empty:
        return
    reasons = [f"{r.path}: {why_nothing_mined(db, r.repo, Path(r.path), langs)}" for r in empty]
    for r, reason in zip(empty, reasons, strict=True):
        warn(ctx, f"nothing mined from {reason}", repo=r.repo)
    if not any(r.commits_stored for r in summary.repos):
        more = f" (and {len(reasons) - 1} more repositories)" if len(reasons) > 1 else ""
        raise NothingMined(f"nothing to learn from: {reasons[0]}{more}")


def why_nothing_mined(db: Path, repo: str, path: Path, langs: LanguageFilter) -> str:
    """Why ``repo`` (at ``path``) stored no commit, from what the database says of its listed
    commits; for commits that touch no enabled language, the languages of its files at HEAD
    and the ``enabled`` list that would count them."""
    from standard_coder.sch.mining.gitlog import run_git
    from standard_coder.sch.mining.store import unstored_counts

    if not run_git(path, "rev-parse", "--verify", "-q", "HEAD", check=False).strip():
        return "it has no commit to mine"
    n = unstored_counts(db, repo)
    parts: list[str] = []
    if n.get("no_language_files"):
        parts.append(_other_languages(n["no_language_files"], path, langs, db, repo))
    if n.get("author_filtered"):
        parts.append(f"{_commits(n['author_filtered'])} by excluded authors ([filters.authors])")
    if n.get("shallow_boundary"):
        parts.append(f"{_commits(n['shallow_boundary'])} at a shallow clone's boundary "
                     "(fetch its history: git fetch --unshallow)")  # fmt: skip
    if n.get("future_dated"):
        parts.append(f"{_commits(n['future_dated'])} dated after the mining time")
    return "; ".join(parts) or "every commit was left out ([filters], [repos])"


MOSTLY_OTHER_LANGUAGES = 0.5
"""Share of a repository's read commits touching no enabled language from which mine says so
(a warning when it can say what to do about it, else a line in the run log)."""

MOSTLY_OTHER_LANGUAGES_SHALLOW = 0.75
"""The share from which a shallow clone's window warns for want of history: its last commits
are often documentation, CI and dependency changes (50 to 58% of tinydb's last 10, 20, 50 or
200 commits, 41% of its whole history), so only a window that is mostly of other files says
something of the repository."""


def _warn_if_mostly_other_languages(
    ctx: StageContext,
    db: Path,
    repo: str,
    path: Path,
    stored: int,
    langs: LanguageFilter,
    *,
    shallow: bool = False,
) -> None:
    """Say when most of ``repo``'s commits were left out for touching no enabled language.

    A ``[warn]`` line (event ``stage_warning``) only when the user can act on it: some of those
    commits change files of a known language that is not enabled (the setting that counts them
    is named), or a shallow clone's window is :data:`MOSTLY_OTHER_LANGUAGES_SHALLOW` other
    files (fetch its history). Commits of documentation, CI, release or data files only (most
    Python libraries' other commits) get a line in the run log: no setting would count them.
    """
    from standard_coder.sch.mining.store import unstored_counts

    other = unstored_counts(db, repo).get("no_language_files", 0)
    total = other + stored
    if not other or other < MOSTLY_OTHER_LANGUAGES * total:
        return
    enabled = ", ".join(langs.enabled)
    touch = _verb(other, "touches", "touch")
    said = (f"{path}: stored {stored} of the {total} commits read: the other {other} {touch} "
            f"no file of the enabled languages ({enabled})")  # fmt: skip
    changed = _left_out_files(path, db, repo)
    countable = _countable_languages(changed, langs)
    if countable:
        k = sum(1 for files in changed if _countable_languages([files], langs))
        listed = ", ".join(f"{lang} ({_commits(n)})" for lang, n in countable[:3])
        suggest = json.dumps([*langs.enabled, *(lang for lang, _ in countable[:3])])
        said += (f"; {k} of them {_verb(k, 'changes', 'change')} files of {listed}: to count "
                 f"them, set [filters.languages] enabled = {suggest} (or --set "
                 f"'filters.languages.enabled={suggest}')")  # fmt: skip
    else:
        said += _what_they_change(changed, langs)
    window = _shallow_window(path) if shallow else None
    said += _shallow_note(window)
    if countable or (window is not None and other >= MOSTLY_OTHER_LANGUAGES_SHALLOW * total):
        warn(ctx, said, repo=repo, stored=stored, read=total)
        return
    share = f"{MOSTLY_OTHER_LANGUAGES_SHALLOW:.0%}"
    why = (f"a shallow window under {share} other files" if window is not None
           else "no language a setting would count")  # fmt: skip
    ctx.log.info("%s (%s: no warning)", said, why)


def _left_out_files(path: Path, db: Path, repo: str) -> list[list[str]]:
    """The files each of ``repo``'s commits left out for touching no enabled language changes
    (the first 1000 such commits), read from git."""
    from standard_coder.sch.mining.gitlog import run_git
    from standard_coder.sch.mining.store import skipped_commit_ids

    ids = skipped_commit_ids(db, repo, "no_language_files")
    if not ids:
        return []
    listed = "\n".join(ids).encode() + b"\n"
    out = run_git(path, "log", "--no-walk=unsorted", "--stdin", "--no-renames", "--name-only",
                  "-z", "--format=%x01%H", stdin=listed, check=False)  # fmt: skip
    commits: list[list[str]] = []
    for chunk in out.split(b"\x01")[1:]:
        names = (p.decode("utf-8", "replace").strip("\n") for p in chunk.split(b"\0")[1:])
        commits.append([p for p in names if p])
    return commits


def _countable_languages(changed: list[list[str]], langs: LanguageFilter) -> list[tuple[str, int]]:
    """Known languages (``extensions``) that are not enabled, with how many of the commits
    (``changed``: each commit's files) change a file of each, most first."""
    from standard_coder.sch.mining.filters import count_languages

    counts: dict[str, int] = {}
    for files in changed:
        for lang in count_languages(files, langs.extensions, langs.exclude_paths):
            if lang not in langs.enabled:
                counts[lang] = counts.get(lang, 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def _what_they_change(changed: list[list[str]], langs: LanguageFilter) -> str:
    """``"; they change .rst (7 files), ... and other files of no enabled language"`` (distinct
    files per extension), or ``""`` when those commits change no file with an extension."""
    from standard_coder.sch.mining.filters import count_other_extensions

    paths = sorted({p for files in changed for p in files})
    extensions = count_other_extensions(paths, langs.extensions, langs.exclude_paths)
    if not extensions:
        return ""
    listed = ", ".join(f"{ext} ({file_count(k)})" for ext, k in extensions[:3])
    return f"; they change {listed} and other files of no enabled language"


def _shallow_note(window: str | None) -> str:
    """``"; the clone is shallow (only its last N commits) ..."``, or ``""`` when not shallow."""
    if window is None:
        return ""
    return (f"; the clone is shallow (only its last {window} commits), a window too short to "
            "say what the history is: fetch the rest (git fetch --unshallow)")  # fmt: skip


def _shallow_window(path: Path) -> str | None:
    """How many commits a shallow clone lists (``"?"`` when git cannot count), else None."""
    from standard_coder.sch.mining.gitlog import run_git

    if run_git(path, "rev-parse", "--is-shallow-repository", check=False).strip() != b"true":
        return None
    listed = run_git(path, "rev-list", "--count", "--no-merges", "HEAD", check=False)
    return listed.decode().strip() or "?"


def _other_languages(n: int, path: Path, langs: LanguageFilter, db: Path, repo: str) -> str:
    """``"N commits touch no file of [filters.languages] enabled = [...]"``, with the languages
    of ``path``'s files at HEAD that would count them, else the file extensions those commits
    change; on a shallow clone, that only its last commits were there to mine."""
    enabled = json.dumps(list(langs.enabled))
    verb = "touches" if n == 1 else "touch"
    part = f"{_commits(n)} {verb} no file of [filters.languages] enabled = {enabled}"
    found = languages_at_head(path, langs.extensions, langs.exclude_paths)
    others = [lang for lang in found if lang not in langs.enabled][:3]
    if others:
        listed = ", ".join(f"{lang} ({file_count(found[lang])})" for lang in others)
        suggest = json.dumps([*langs.enabled, *others])
        part += (f"; its files at HEAD are {listed}: to count them, set enabled = "
                 f"{suggest} (or --set 'filters.languages.enabled={suggest}')")  # fmt: skip
    else:
        part += _what_they_change(_left_out_files(path, db, repo), langs)
    return part + _shallow_note(_shallow_window(path))


def _commits(n: int) -> str:
    return f"{n} commit" if n == 1 else f"{n} commits"


def _verb(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


def file_count(n: int) -> str:
    """``1 file`` / ``N files``."""
    return f"{n} file" if n == 1 else f"{n} files"


def languages_at_head(
    repo: Path, extensions: dict[str, list[str]], exclude: list[str]
) -> dict[str, int]:
    """Files per known language in ``repo``'s HEAD tree (empty when git cannot list it)."""
    from standard_coder.sch.mining.filters import count_languages

    return count_languages(paths_at_head(repo), extensions, exclude)


def paths_at_head(repo: Path) -> list[str]:
    """The file paths of ``repo``'s HEAD tree (empty when git cannot list it)."""
    from standard_coder.sch.mining.gitlog import run_git

    listing = run_git(repo, "ls-tree", "-r", "-z", "--name-only", "HEAD", check=False)
    return [p.decode("utf-8", "replace") for p in listing.split(b"\0") if p]


def _report_future_dated(ctx: StageContext, db: Path) -> int:
    """Warn about (and count) commits set aside for a date after the mining time."""
    from standard_coder.sch.mining.store import skipped_commits

    found, seen = [], set()  # a commit stored under several clones once
    for repo, cid in skipped_commits(db, "future_dated"):
        if cid not in seen:
            seen.add(cid)
            found.append((repo, cid))
    if found:
        shown = ", ".join(f"{r}:{c[:12]}" for r, c in found[:5])
        more = f" and {len(found) - 5} more" if len(found) > 5 else ""
        s = "" if len(found) == 1 else "s"
        warn(ctx, f"{len(found)} commit{s} dated after the mining time set aside (not used for "
                  f"work inference): {shown}{more}")  # fmt: skip
        ctx.emit("mine_future_dated", count=len(found), commits=[c for _, c in found[:20]])
    return len(found)


def _set_aside_if_corrupt(ctx: StageContext, db: Path, then: str) -> str | None:
    """Quarantine ``db`` when it fails its integrity check; returns the reason, else None."""
    from standard_coder.runner.quarantine import quarantine
    from standard_coder.sch.mining.integrity import set_aside_if_corrupt

    found = set_aside_if_corrupt(db, lambda p: quarantine(p, ctx.base_dir / "quarantine"))
    if found is None:
        return None
    reason, target = found
    # the event is the [warn] line (file, cause, where it went, what happens next)
    ctx.log.warning("%s is corrupt (%s): set aside as %s; %s", db, reason, target, then,
                    extra={"on_console": False})  # fmt: skip
    said = f"mined database is corrupt ({reason})"  # as CorruptDatabaseError says it
    ctx.emit("state_corrupt", reason=said, path=str(db), moved_to=str(target), then=then)
    return reason
