"""``estimate``: the flagship's config -> which repository, which model, which changes.

The pricing itself is :mod:`standard_coder.sch.estimate`; the model is loaded through
:func:`standard_coder.pipelines.sch_effort.load_effort_model`, the same path the forecast stage
uses for tickets with diffs or commit ids. Commits the mine stage stored are read from the mined
database (the exact features the model was trained on); others are read from git.
"""

from __future__ import annotations

import os
import re
import sys
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from standard_coder.config import FlagshipConfig
from standard_coder.pipelines.sch_layout import SchLayout
from standard_coder.pipelines.sch_options import languages_of


class EstimateInputError(ValueError):
    """Bad input or usage (exit 2): the message says what to do."""


@dataclass(frozen=True)
class Target:
    """What to price: one of a revision / range, a patch file, or the working tree."""

    rev: str | None = None
    diff: Path | None = None
    worktree: bool = False


def configured_repos(cfg: FlagshipConfig) -> list[Path]:
    """The local repositories the config mines (as the mine stage finds them)."""
    from standard_coder.pipelines.sch_mine import local_repositories
    from standard_coder.pipelines.sch_options import mine_options

    root = cfg.config_path.parent if cfg.config_path else None
    return local_repositories(
        mine_options(cfg.repos, cfg.filters, cfg.outputs.base_dir, root), cfg.outputs.base_dir
    )


def resolve_repo(cfg: FlagshipConfig, repo: Path | None, cwd: Path) -> Path:
    """``--repo``, else the configured repository that holds ``cwd``, else the only one (when
    ``cwd`` is in no other repository).

    Raises:
        EstimateInputError: no repository; several and none holds ``cwd`` (all are listed);
            ``cwd`` in a repository the config does not mine (both are named).
    """
    from standard_coder.sch.mining.discovery import repository_root

    if repo is not None:
        if not repo.is_dir():
            raise EstimateInputError(f"--repo {repo}: not a folder")
        top = repository_root(repo.resolve())
        if top is None:
            raise EstimateInputError(f"--repo {repo}: not a git repository")
        return top
    repos = [r.resolve() for r in configured_repos(cfg)]
    here = cwd.resolve()
    standing_in = repository_root(here)
    holding = [r for r in repos if here == r or r in here.parents]
    if holding:
        mined = max(holding, key=lambda r: len(r.parts))
        if standing_in is not None and mined in standing_in.parents:  # a submodule, a clone
            raise EstimateInputError(_not_mined(cfg, standing_in, mined, inside=True))
        return _checked(cfg, mined)
    if len(repos) == 1 and standing_in is None:
        return _checked(cfg, repos[0])
    if len(repos) == 1:  # never price another repository than the one the user stands in
        raise EstimateInputError(_not_mined(cfg, standing_in, repos[0]))
    if not repos:
        raise EstimateInputError(
            f"{cfg.config_path}: repos.include_paths names no repository; pass --repo PATH"
        )
    listing = "\n  ".join(str(r) for r in repos)
    inside = (
        f" (it is in the repository {standing_in}, which the config does not mine: --repo "
        f"{standing_in} prices it with the model trained on them)"
        if standing_in is not None
        else ""
    )
    raise EstimateInputError(
        f"{len(repos)} repositories in {cfg.config_path} and the current directory is in none "
        f"of them{inside}; choose one with --repo:\n  {listing}"
    )


def _checked(cfg: FlagshipConfig, path: Path) -> Path:
    """The configured repository ``path``, checked as ``--repo`` is: a folder in a repository
    (else git's own errors, or "no commits yet", would stand for a path moved or mistyped)."""
    from standard_coder.sch.mining.discovery import path_problem, repository_root

    why = None
    if not path.is_dir():  # the mine's words for it
        why = path_problem(path)
    elif repository_root(path) is None:  # a folder inside a repository stands for it
        why = "not a git repository"
    if why is not None:
        raise EstimateInputError(
            f"[repos] include_paths: {path}: {why} (fix it in {cfg.config_path}, or pass "
            "--repo PATH)"
        )
    return path


def _not_mined(cfg: FlagshipConfig, standing_in: Path | None, mined: Path, *,
               inside: bool = False) -> str:  # fmt: skip
    """The one line for a current directory in a repository the config does not mine."""
    where = f" (inside {mined}: a submodule or a nested clone)" if inside else ""
    return (
        f"the current directory is in the repository {standing_in}{where}, which "
        f"{cfg.config_path} does not mine; choose with --repo: --repo {standing_in} (priced by "
        f"the model trained on the other), or --repo {mined} (the mined one)"
    )


def load_model(cfg: FlagshipConfig, device: str = "cpu") -> tuple[Any, Any, SchLayout]:
    """The trained model, its representation and the layout.

    Raises:
        EstimateInputError: no trained model yet (names the stage to run).
    """
    from standard_coder.pipelines.sch_effort import load_effort_model

    layout = SchLayout(cfg.outputs.base_dir, cfg.training.predictor)
    if not layout.model.is_file() or not (layout.change_rep / "representation.json").is_file():
        raise EstimateInputError(
            f"{layout.model}: no trained effort model; run the train_sch stage first: "
            f"{cfg.pipeline_command('--to', 'train_sch')}"
        )
    model, rep = load_effort_model(
        layout.model, layout.change_rep, device, config_path=cfg.config_path
    )
    return model, rep, layout


def estimate(
    cfg: FlagshipConfig, target: Target, *, repo: Path | None, cwd: Path | None = None
) -> dict[str, Any]:
    """The estimate document for ``target`` (:func:`standard_coder.sch.estimate.estimate_changes`).

    Raises:
        EstimateInputError: bad input (unknown revision, unreadable patch, ambiguous repository,
            missing model).
    """
    from standard_coder.pipelines.sch_effort import model_caveats
    from standard_coder.sch.estimate import (
        EstimateError,
        estimate_changes,
        git_commit_records,
        untracked_files,
        worktree_record,
    )
    from standard_coder.sch.mining.store import commits_by_id
    from standard_coder.sch.patch_mail import patch_commit_id, split_patch_series

    # the user's input first (the repository, the revisions, then the model): a bad --repo or
    # an unknown revision is named as such, not hidden behind "no trained model"
    where: Path | None = None
    ids: list[str] = []
    merges: list[str] = []
    note = ""
    if target.diff is None:
        where = resolve_repo(cfg, repo, cwd or Path(os.getcwd()))
        if not target.worktree:
            try:
                ids, merges, note = _revisions(where, target.rev)
            except EstimateInputError as exc:
                raise EstimateInputError(
                    str(exc) + _held_elsewhere(cfg, where, target.rev)
                ) from None

    elif repo is not None:  # a patch reads --repo only for a hybrid model: checked all the same
        resolve_repo(cfg, repo, cwd or Path(os.getcwd()))
    model, rep, layout = load_model(cfg)
    contents = rep.kind == "hybrid"
    langs = languages_of(cfg.filters.languages)
    labels: list[tuple[str, str]]
    untracked: list[str] = []
    named: list[str | None] | None = None
    try:
        if target.diff is not None:
            try:
                text = (  # `git diff | standard-coder estimate --diff -`
                    sys.stdin.buffer.read().decode("utf-8", "replace")
                    if str(target.diff) == "-"
                    else target.diff.read_text(encoding="utf-8", errors="replace")
                )
            except OSError as exc:
                raise EstimateInputError(f"--diff {target.diff}: {exc.strerror or exc}") from None
            mails = split_patch_series(text)  # a format-patch series: one change per mail
            names = (
                [str(target.diff)]
                if len(mails) == 1
                else [f"{target.diff} [{i}/{len(mails)}]" for i in range(1, len(mails) + 1)]
            )
            reader = _pre_image_reader(cfg, repo, cwd) if contents else None
            records = _series_records(mails, names, langs, reader)
            labels = [("source", n) for n in names]
            named = [patch_commit_id(m) for m in mails]  # seeded as the commit it was made of
        else:
            assert where is not None  # resolved above, before the model
            if target.worktree:
                records = [worktree_record(where, langs, with_contents=contents)]
                labels = [("source", f"worktree:{where}")]
                untracked = untracked_files(where, langs)
            else:
                stored: dict[str, Any] = {}
                if layout.db.is_file():  # in chunks: each id is two SQL parameters
                    for i in range(0, len(ids), 500):
                        chunk = ids[i : i + 500]
                        stored.update(commits_by_id(layout.db, chunk, with_contents=contents))
                missing = [c for c in ids if c not in stored]
                from_git = {
                    r.commit_id: r
                    for r in git_commit_records(where, missing, langs, with_contents=contents)
                }
                records = [stored.get(c) or from_git[c] for c in ids]
                labels = [("commit_id", c) for c in ids]
    except EstimateError as exc:
        raise EstimateInputError(str(exc)) from None
    doc = estimate_changes(
        model,
        rep,
        records,
        labels=labels,
        model_name=f"{_chosen(cfg.training.predictor, layout.evaluation)} ({layout.model})",
        seed=cfg.runner.seed,
        named=named,
    )
    if contents and target.diff is not None:  # what a patch could not show, said
        from standard_coder.sch.estimate import files_without_contents

        for row, rec in zip(doc["changes"], records, strict=True):
            if missing := files_without_contents(rec):
                row["no_contents"] = missing
    if untracked:  # a working tree's new files not yet added: counted, and named
        doc["changes"][0]["untracked"] = untracked
    _say_left_out_authors(cfg, doc, records)
    if merges:  # what was not priced, and why (docs: README, "Estimating a change")
        doc.update(merges=merges)
    plain = [False] * len(records)  # commits: each one change
    if target.diff is not None or target.worktree:  # one change that may be many commits' work
        plain = [True] * len(records) if named is None else [n is None for n in named]
    note = " ".join([note, *_large_notes(doc, plain)]).strip()
    if note:
        doc.update(note=note)
    if layout.db.is_file():
        _say_reapplied(doc, records, layout.db, None if where is None else _mined_ids(cfg, where))
    if caveats := model_caveats(layout.evaluation):  # the run summary's, as the forecast's
        doc.update(model_warnings=list(caveats))
    return doc


def _chosen(predictor: str, evaluation: Path) -> str:
    """``auto: shift_w0``: the configured predictor, and the model ``auto`` chose where the
    evaluation says (the report named ``shift_w0`` where ``estimate`` said ``auto``)."""
    from standard_coder.runner.jsonfile import read_json_object_or_none

    ev = read_json_object_or_none(evaluation) if predictor == "auto" else None
    chosen = (ev or {}).get("model_selection", {}).get("chosen") if ev else None
    return f"{predictor}: {chosen}" if isinstance(chosen, str) and chosen else predictor


def _large_notes(doc: dict[str, Any], plain: list[bool]) -> list[str]:
    """A sentence for each change of a patch or working tree that changes more lines than 98 %
    of commits do: priced as one change, its SCH (at most 1 h) reads small for its work; and
    one for the commits that do (a commit is one change, but its SCH reads small beside its
    lines all the same: said of a diff and not of the same commit before session 60).
    ``plain[i]``: change ``i`` is not a commit or a commit's format-patch mail."""
    from standard_coder.sch.words import LARGE_CHANGE_LINES, large_change_note, large_commits_note

    out, commits, most = [], [], 0
    for row, own in zip(doc["changes"], plain, strict=True):
        lines = int(row.get("lines_added", 0)) + int(row.get("lines_deleted", 0))
        what = row.get("source") or row.get("commit_id") or "the change"
        if lines > LARGE_CHANGE_LINES and own:
            out.append(large_change_note(str(what), lines) + ".")
        elif lines > LARGE_CHANGE_LINES:
            commits.append(str(row.get("commit_id") or what)[:10])
            most = max(most, lines)
    return [*out, large_commits_note(commits, most) + "."] if commits else out


_HEX_ID = re.compile(r"[0-9a-fA-F]{7,40}")
"""A commit id, whole or abbreviated: the only revision that names one change in any repository."""


def _held_elsewhere(cfg: FlagshipConfig, where: Path, rev: str | None) -> str:
    """``"; it is in X (configured): --repo X"`` when another configured repository holds the
    revision ``where`` lacks (several repositories mined, --repo naming another one), else ""."""
    from standard_coder.sch.estimate import EstimateError, resolve_revisions

    # only a commit id names the same change everywhere: HEAD~4, a tag or a branch resolves in
    # most repositories, to another commit
    if not rev or not all(_HEX_ID.fullmatch(end) for end in re.split(r"\.\.\.?", rev) if end):
        return ""
    for other in configured_repos(cfg):
        if other.resolve() == where.resolve():
            continue
        try:
            if resolve_revisions(other, rev).ids:
                return f"; it is in {other}, also configured: --repo {other}"
        except (EstimateError, OSError):
            continue
    return ""


def _swapped(where: Path, rev: str) -> str:
    """``" (B..A holds N: the ends swapped?)"`` for an empty ``A..B`` whose reverse is not."""
    from standard_coder.sch.estimate import EstimateError, resolve_revisions

    first, dots, last = rev.partition("...") if "..." in rev else rev.partition("..")
    if not first or not last or dots != "..":
        return ""
    other = f"{last}..{first}"
    try:
        n = len(resolve_revisions(where, other).ids)
    except (EstimateError, OSError):
        return ""
    return f" ({other} holds {n} commit(s): are the ends swapped?)" if n else ""


def _revisions(where: Path, rev: str | None) -> tuple[list[str], list[str], str]:
    """The non-merge commits ``rev`` (default ``HEAD``, or a range) names in ``where``, the
    merges it names (not priced themselves) and a note: ``(ids, merges, note)``.

    Raises:
        EstimateInputError: an unknown revision; one that names only merge commits.
    """
    from standard_coder.sch.estimate import EstimateError, resolve_revisions

    try:
        revs = resolve_revisions(where, rev or "HEAD")
    except EstimateError as exc:
        raise EstimateInputError(str(exc)) from None
    ids, merges, note = revs.ids, revs.merges, revs.note
    if not ids and ".." in (rev or ""):  # main..HEAD with nothing new: 0 h
        note = note or f"{rev} holds no commit: nothing to price{_swapped(where, str(rev))}"
    elif not ids:
        raise EstimateInputError(
            f"{rev}: names no non-merge commit in {where}"
            + (f" ({len(merges)} merge commit(s), not priced themselves)" if merges else "")
        )
    return list(ids), list(merges), note


def _series_records(mails: list[str], names: list[str], langs: Any, head: Any) -> list[Any]:
    """One record per mail of a patch series; each mail's files are read as the mails before
    it left them (a series applies one mail after the other), the others at ``head``."""
    from standard_coder.sch.estimate import patch_record

    left: dict[str, str | None] = {}  # a file as the mails so far left it

    def before(path: str) -> str | None:
        return left[path] if path in left else head(path)

    records = []
    for mail, name in zip(mails, names, strict=True):
        rec = patch_record(mail, langs, name, before=None if head is None else before)
        for f in rec.files:
            if f.before is not None or f.after is not None:
                left[f.path] = f.after
        records.append(rec)
    return records


def _pre_image_reader(cfg: FlagshipConfig, repo: Path | None, cwd: Path | None) -> Any:
    """Files at ``HEAD`` of ``--repo``, else of the configured repository the current directory
    is in, else of the only one: a patch's changed files' contents before it (a patch of
    another base does not apply to them and goes without). None when there is none."""
    from standard_coder.sch.estimate import head_reader

    try:
        return head_reader(resolve_repo(cfg, repo, cwd or Path(os.getcwd())))
    except EstimateInputError:
        if repo is not None:
            raise
        return None


def _say_left_out_authors(cfg: FlagshipConfig, doc: dict[str, Any], records: list[Any]) -> None:
    """A commit whose author ``[filters.authors]`` leaves out (a bot, an AI coding agent, an
    excluded address) is priced as asked, and gets ``"author_left_out": AUTHOR``: team output
    does not count it, so a range's total and team output's can differ by it."""
    from standard_coder.pipelines.sch_options import mine_options

    rule = mine_options(cfg.repos, cfg.filters, Path(cfg.outputs.base_dir)).authors  # the mine's
    for row, rec in zip(doc["changes"], records, strict=True):
        name, address = rec.author_name, rec.author_id  # a worktree and a patch have none
        if address and not rule.allows(name, address):
            row["author_left_out"] = f"{name} <{address}>"


def _mined_ids(cfg: FlagshipConfig, where: Path) -> set[str]:
    """The mine's ids of repository ``where``: its own, and those of the configured paths that
    lead to it (a symlink, a relative path: the mine names a repository by the path it was
    given)."""
    from standard_coder.sch.mining.discovery import repo_id

    here = where.resolve()
    return {repo_id(where)} | {repo_id(r) for r in configured_repos(cfg) if r.resolve() == here}


def _say_reapplied(
    doc: dict[str, Any], records: list[Any], db: Path, repo_ids: set[str] | None
) -> None:
    """Each change that re-applies an earlier one of the mined history (a backport, a
    cherry-pick, a revert undone: ``sch.reapplied``'s rule, as team output names them) gets
    ``"reapplies": {"commit_id", "share", "lines"}``: it is priced as written, and says so.

    The history is the mined commits of the repository (``repo_ids``: its ids in the mine, and
    those of the records the mine stored; None, for a patch of no repository: every mined one),
    with those of the repositories its shared commits count under (a clone's upstream:
    :func:`~standard_coder.sch.mining.copies.repeated_rows`).
    """
    from standard_coder.sch.mining.copies import shared_histories
    from standard_coder.sch.mining.store import iter_commits, open_readonly
    from standard_coder.sch.reapplied import reapplied_in

    mined = {r.repo for r in records if r.repo != "patch"}
    repos = mined | repo_ids if repo_ids is not None else None
    if repos is not None:
        with closing(open_readonly(db)) as con:
            repos |= {first for repo, first, _ in shared_histories(con) if repo in repos}
    history = (r for r in iter_commits(db, with_files=True) if repos is None or r.repo in repos)
    found = reapplied_in(history, records, repo="history")
    for row, hit in zip(doc["changes"], found, strict=True):
        if hit is not None:
            row["reapplies"] = {
                "commit_id": hit.source_id, "share": hit.share, "lines": hit.lines
            }  # fmt: skip
