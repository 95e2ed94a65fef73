"""The ``mine`` stage: discover repositories and mine them into SQLite through the runner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from standard_coder.config import FlagshipConfig
from standard_coder.runner.context import StageContext


def _options(cfg: FlagshipConfig) -> Any:
    from standard_coder.sch.mining.mine import MineOptions

    config_dir = cfg.config_path.parent if cfg.config_path else None
    return MineOptions.from_sections(cfg.repos, cfg.filters, cfg.outputs.base_dir, config_dir)


def local_repositories(cfg: FlagshipConfig) -> list[Path]:
    """Repositories the stage will mine, found without touching the network (for fingerprints).

    Mirrors of ``include_github_repos`` count once they exist under ``<base_dir>/repos/``.
    """
    from standard_coder.sch.mining.discovery import discover_repos

    opts = _options(cfg)
    found = discover_repos(opts.include_paths, opts.exclude_paths, opts.repos)
    mirrors = cfg.outputs.base_dir / "repos"
    if cfg.repos.include_github_repos and mirrors.is_dir():
        found.extend(sorted(p for p in mirrors.glob("*.git") if p.is_dir()))
    return found


class NoRepositories(ValueError):
    """``[repos]`` names no repository (a glob matching nothing): bad input, exit 2."""

    exit_code = 2


def run(ctx: StageContext, *, cfg: FlagshipConfig) -> None:
    """Mine every configured repository; only new or changed history is read."""
    from standard_coder.pipelines.sch import paths
    from standard_coder.runner.console import make_console
    from standard_coder.sch.mining.integrity import CorruptDatabaseError
    from standard_coder.sch.mining.mine import MiningError, discover, mine_repositories
    from standard_coder.sch.mining.mine import summary_table as mining_table

    opts = _options(cfg)
    repos = discover(opts)
    if not repos:
        shown = ", ".join(repr(str(p)) for p in cfg.repos.include_paths) or "none given"
        raise NoRepositories(
            f"no repositories to mine: [repos] include_paths ({shown}) matched no git "
            f"repository; set it in the config ({cfg.config_path}) to repositories or globs"
        )
    db = paths(cfg)["db"]
    db.parent.mkdir(parents=True, exist_ok=True)
    _set_aside_if_corrupt(ctx, db, "every repository is mined again")
    tasks: dict[str, Any] = {}

    def on_progress(repo: str, done: int, total: int | None) -> None:
        task = tasks.get(repo)
        if task is None:
            task = tasks[repo] = ctx.progress(total, f"mine {repo}")
        task.update(completed=done, total=total)

    def on_event(name: str, fields: dict[str, Any]) -> None:
        ctx.emit(name, **fields)

    try:
        summary = mine_repositories(
            repos,
            db,
            opts,
            map_fn=(
                (lambda fn, items: ctx.map(fn, items, desc="mining chunks"))
                if cfg.runner.resolved_workers() > 1
                else None
            ),
            should_stop=ctx.should_stop,
            on_event=on_event,
            on_progress=on_progress,
        )
    except MiningError as exc:
        make_console(stderr=True).print(mining_table(exc.summary))
        raise
    make_console(stderr=True).print(mining_table(summary))
    found = _set_aside_if_corrupt(ctx, db, "rerun to mine it again")
    if found is not None:  # never record a corrupt file as the stage's output
        raise CorruptDatabaseError(db, found, hint="it was set aside; rerun to mine it again")
    ctx.set_summary(**summary.totals(), future_dated=_report_future_dated(ctx, db))


def _report_future_dated(ctx: StageContext, db: Path) -> int:
    """Warn about (and count) commits set aside for a date after the mining time."""
    from standard_coder.sch.mining.store import skipped_commits

    found = skipped_commits(db, "future_dated")
    if found:
        shown = ", ".join(f"{r}:{c[:12]}" for r, c in found[:5])
        more = f" and {len(found) - 5} more" if len(found) > 5 else ""
        ctx.log.warning(
            "%d commit%s dated after the mining time set aside (not used for work inference): %s%s",
            len(found),
            "" if len(found) == 1 else "s",
            shown,
            more,
        )
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
    ctx.log.warning("%s is corrupt (%s): set aside as %s; %s", db, reason, target, then)
    ctx.emit("state_corrupt", reason=reason, path=str(db), moved_to=str(target))
    return reason
