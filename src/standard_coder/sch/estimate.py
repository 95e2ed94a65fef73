"""Price changes with a trained effort model: commits, ranges, patch files, a working tree.

Domain code only (no CLI, no config schema): the caller gives the fitted model, its change
representation and the change records. :func:`git_commit_records`, :func:`worktree_record` and
:func:`patch_record` turn git objects or diff text into :class:`CommitRecord` s;
:func:`estimate_changes` prices them.

Per change the model gives the SCH (mean of the predictive distribution truncated to [0, 1] h,
the paper's standard-coder hours) and the q10/q50/q90 of that same truncated distribution
(:mod:`standard_coder.sch.draws`). A set of changes is priced as the sum of draws from each
change's distribution, paired at the model's error correlation (:mod:`standard_coder.sch.totals`:
changes' errors move together, so a total's range does not narrow as if they were independent),
so ``total.q*`` are quantiles of the sum (not sums of quantiles), while ``total.sch_hours`` is
the sum of the changes' ``sch_hours`` (the mean of that sum).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from standard_coder.sch.draws import N_DRAWS, change_sch, change_seed, draw_quantiles, sch_draws
from standard_coder.sch.features.describe import describe_feature
from standard_coder.sch.features.raw_change import left_out_counts
from standard_coder.sch.mining.file_stats import file_stats
from standard_coder.sch.mining.filters import author_identity, language_of
from standard_coder.sch.mining.gitlog import git_command
from standard_coder.sch.patch_mail import patch_body, patch_subject
from standard_coder.sch.predictors.stage import TruncatedDiff, parse_unified_diff
from standard_coder.sch.records import FILE_STAT_NAMES, CommitRecord, FileChange
from standard_coder.sch.totals import correlated_total, total_key

TOP_FEATURES = 5


class EstimateError(ValueError):
    """Bad input for an estimate (unknown revision, unreadable patch, not a git repository)."""


@dataclass(frozen=True)
class Languages:
    """Which files count (the mining's ``[filters.languages]``): extension -> language."""

    ext_map: Mapping[str, str] = field(default_factory=lambda: {".py": "python", ".pyi": "python"})
    exclude_substrings: Sequence[str] = ()

    def of(self, path: str) -> str | None:
        return language_of(path, self.ext_map, self.exclude_substrings)

    def excluded(self, path: str) -> bool:
        """``path`` is of an enabled language but under an excluded path (vendored code)."""
        return self.of(path) is None and language_of(path, self.ext_map, ()) is not None


def _git(repo: Path, *args: str, check: bool = True) -> str:
    """``git args`` in ``repo`` with the mine's config pins (no signatures in ``show``, git's
    default diff prefixes and algorithm whatever the user's config): a commit reads as mined."""
    proc = subprocess.run(git_command(repo, *args), capture_output=True, check=False, env=None)
    if check and proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise EstimateError(f"{repo}: git {' '.join(args)}: {msg[-1] if msg else 'failed'}")
    return proc.stdout.decode("utf-8", "surrogateescape")


def _show(repo: Path, rev: str, path: str) -> str | None:
    proc = subprocess.run(
        ["git", "-C", str(repo), "show", f"{rev}:{path}"], capture_output=True, check=False
    )
    return proc.stdout.decode("utf-8", "replace") if proc.returncode == 0 else None


def _reader(repo: Path, rev: str) -> Any:
    return lambda path: _show(repo, rev, path)


def head_reader(repo: Path) -> Callable[[str], str | None]:
    """A file's contents at ``HEAD`` of ``repo`` (None: no such file, or no commit yet)."""
    return _reader(repo, "HEAD")  # type: ignore[no-any-return]


def _files(
    diff_text: str,
    langs: Languages,
    *,
    before: Any = None,
    after: Any = None,
    strict: bool = False,
) -> tuple[tuple[FileChange, ...], tuple[int, ...], tuple[str, ...]]:
    """Per-file changes of ``diff_text`` in configured languages, with contents when the
    ``before(path)``/``after(path)`` readers are given (AST features need them), the counts
    over its files of every language (``mining.file_stats``), and its files of an enabled
    language under an excluded path."""
    out: list[FileChange] = []
    parsed = parse_unified_diff(diff_text, strict=strict)
    counts = file_stats([(f.path, f.lines_added, f.lines_deleted) for f in parsed],
                        lambda p: langs.of(p) is not None)  # fmt: skip
    excluded = tuple(f.path for f in parsed if langs.excluded(f.path))
    for f in parsed:
        lang = langs.of(f.path)
        if lang is None:
            continue
        out.append(
            FileChange(
                path=f.path,
                old_path=f.old_path,
                language=lang,
                lines_added=f.lines_added,
                lines_deleted=f.lines_deleted,
                is_binary=False,
                diff=f.diff,
                before=before(f.old_path or f.path) if before else None,
                after=after(f.path) if after else None,
            )
        )
    return tuple(out), counts, excluded


@dataclass(frozen=True)
class Revisions:
    """The commits a revision spec names, as ``estimate`` prices them.

    Attributes:
        ids: full ids of the non-merge commits to price, oldest first.
        merges: merge commits the spec names or whose range holds them; none is priced itself.
        note: one sentence for the user when there were merges (else ``""``).
    """

    ids: list[str]
    merges: list[str] = field(default_factory=list)
    note: str = ""


MERGE_WHY = (
    "a merge's own diff repeats the work of the commits it merged (a conflict resolution goes "
    "unpriced), and mining stores no merge (git log --no-merges)"
)


def resolve_revisions(repo: Path, spec: str) -> Revisions:
    """The commits ``spec`` names: one commit (``REV``) or a range (``A..B``: reachable from B,
    not from A), priced as mining counts them, one change per non-merge commit.

    A merge commit ``REV`` stands for the commits it merged: ``REV^1..REV`` (its other parents'
    commits not already on its first parent; an octopus merge's too). A range's merges are left
    out: the commits they merged are in the range.

    Raises:
        EstimateError: ``spec`` names no commit.
    """
    if ".." in spec:
        for end in filter(None, re.split(r"\.\.\.?", spec, maxsplit=1)):  # A..B, A...B, A.., ..B
            if not _git(repo, "rev-parse", "--verify", "--quiet", f"{end}^{{commit}}", check=False):
                raise EstimateError(f"{spec}: {end!r} names no commit in {repo}")
        ids = _git(repo, "rev-list", "--no-merges", "--reverse", spec, "--").split()
        merges = _git(repo, "rev-list", "--merges", "--reverse", spec, "--").split()
        note = ""
        if merges:
            note = (
                f"{len(merges)} merge commit(s) in {spec} not priced themselves (the commits "
                f"they merged that the range holds are), because {MERGE_WHY}"
            )
        return Revisions(ids, merges, note)
    cid = _git(repo, "rev-parse", "--verify", "--quiet", f"{spec}^{{commit}}", check=False)
    if not cid.strip():
        if not _git(repo, "rev-parse", "--verify", "--quiet", "HEAD", check=False).strip():
            raise EstimateError(f"{repo} has no commits yet: nothing to price as {spec} "
                                "(--worktree prices what is staged, changed and untracked)"
                                )  # fmt: skip
        raise EstimateError(f"{spec}: no such commit in {repo}")
    cid = cid.strip()
    parents = _git(repo, "rev-list", "--parents", "-n", "1", cid).split()[1:]
    if len(parents) < 2:
        return Revisions([cid])
    merged = f"{cid}^1..{cid}"
    ids = _git(repo, "rev-list", "--no-merges", "--reverse", merged, "--").split()
    inner = _git(repo, "rev-list", "--merges", "--reverse", merged, "--").split()
    named = spec if cid.startswith(spec.lower()) else f"{spec} ({cid[:10]})"  # no id twice
    note = (
        f"{named} is a merge, priced as the {len(ids)} commit(s) it merged "
        f"({cid[:10]}^1..{cid[:10]}), because {MERGE_WHY}{_others_work(repo, cid, merged)}"
    )
    return Revisions(ids, inner, note)


def _others_work(repo: Path, cid: str, merged: str) -> str:
    """``; 130 of them by 12 people other than the merge's author: ...`` when people other than
    the merge's author wrote commits it merged: a merge that brings another branch in (``git
    merge main`` on a feature branch) is priced as that branch's work, which is not the merging
    branch's (click: a back-merge of 'stable' priced 13.7 h from 138 commits, said as a merge
    alone). "" when its author wrote them all."""
    me = _git(repo, "log", "-1", "--format=%ae", cid).strip().lower()
    them = [a.strip().lower() for a in _git(repo, "log", "--no-merges", "--format=%ae", merged,
                                            "--").splitlines() if a.strip()]  # fmt: skip
    others = [a for a in them if a != me]
    if not others:
        return ""
    people = len(set(others))
    return (
        f"; {len(others)} of them by {people} {'person' if people == 1 else 'people'} other than "
        "the merge's author: where it brought another branch's work in (a merge of main or a "
        "release branch into a feature branch), that work is theirs, not the merging branch's"
    )


def commit_in(repo: Path, rev: str) -> tuple[str, bool] | None:
    """The full id of the commit ``rev`` names in ``repo`` and whether it is a merge; None when
    it names no commit there (or an abbreviation matches several objects)."""
    cid = _git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False).strip()
    if not cid:
        return None
    parents = _git(repo, "rev-list", "--parents", "-n", "1", cid, check=False).split()[1:]
    return cid, len(parents) > 1


def git_commit_records(
    repo: Path, ids: Sequence[str], langs: Languages, *, with_contents: bool
) -> list[CommitRecord]:
    """Records for commits read straight from git (for commits the mine stage never stored)."""
    out: list[CommitRecord] = []
    for cid in ids:
        meta = _git(repo, "show", "-s", "--format=%aE%x00%aN%x00%at%x00%ct%x00%s%x00%b", cid)
        email, name, at, ct, subject, body = (meta.split("\x00", 5) + [""] * 6)[:6]
        diff = _git(
            repo,
            "diff-tree",
            "-p",
            "--no-ext-diff",
            "--no-textconv",
            "--no-commit-id",
            "--root",
            "-M",
            cid,
        )
        parent = f"{cid}^"
        has_parent = bool(_git(repo, "rev-parse", "--quiet", "--verify", parent, check=False))
        files, counts, excluded = _files(
            diff,
            langs,
            before=_reader(repo, parent) if with_contents and has_parent else None,
            after=_reader(repo, cid) if with_contents else None,
        )
        out.append(
            CommitRecord(repo=repo.name, commit_id=cid, author_id=author_identity(email, name),
                         author_name=name, authored_at=int(at or 0), author_tz_offset_min=0,
                         committed_at=int(ct or 0), subject=subject, files=files,
                         file_stats=counts, body=body.replace("\r\n", "\n").strip("\n"),
                         excluded_files=excluded)
        )  # fmt: skip
    return out


def untracked_files(repo: Path, langs: Languages) -> list[str]:
    """The untracked files of ``repo`` in the enabled languages (``.gitignore`` respected), as
    ``git status`` lists them: part of the working tree's change, before the first commit too."""
    listed = _git(repo, "ls-files", "--others", "--exclude-standard", "-z").split("\0")
    return [p for p in listed if p and langs.of(p) is not None]


def worktree_record(repo: Path, langs: Languages, *, with_contents: bool) -> CommitRecord:
    """The uncommitted changes of a working tree (staged, unstaged and untracked files) against
    ``HEAD`` (before the first commit: the empty tree) as one change (untracked files of no
    enabled language are not read: its file counts see only the tracked ones)."""
    has_head = bool(_git(repo, "rev-parse", "--quiet", "--verify", "HEAD", check=False))
    # before the first commit, against the empty tree: what is staged is the change
    base = "HEAD" if has_head else _git(repo, "hash-object", "-t", "tree", "/dev/null").strip()
    diff = _git(repo, "diff", "--no-ext-diff", "--no-textconv", base, "-M", "--")
    for path in untracked_files(repo, langs):
        # --no-index exits 1 when the files differ, which they do
        diff += _git(
            repo,
            "diff",
            "--no-ext-diff",
            "--no-textconv",
            "--no-index",
            "--",
            "/dev/null",
            path,
            check=False,
        )

    def read(path: str) -> str | None:
        try:
            return (repo / path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None

    files, counts, excluded = _files(
        diff,
        langs,
        before=(lambda p: _show(repo, "HEAD", p)) if with_contents and has_head else None,
        after=read if with_contents else None,
    )
    return CommitRecord(repo=repo.name, commit_id="worktree", author_id="", author_name="",
                        authored_at=0, author_tz_offset_min=0, committed_at=0,
                        files=files, file_stats=counts, excluded_files=excluded)  # fmt: skip


def patch_record(
    text: str,
    langs: Languages,
    source: str,
    *,
    strict: bool = True,
    before: Callable[[str], str | None] | None = None,
) -> CommitRecord:
    """A patch file (``git diff``/``git format-patch`` output) as one change.

    Its files' contents (the AST features need them) are rebuilt where the patch allows, so a
    patch prices as the same change committed or in a working tree: a new file's is its added
    lines; a changed or deleted file's is ``before(path)`` (e.g. the file at ``HEAD`` of the
    repository) with the hunks applied, when every context and removed line matches it. Other
    files have none (their AST features stay zero, as for forecast tickets that carry a diff):
    :func:`files_without_contents` names them.

    ``strict``: a hunk cut short of its header's counts is an error (a patch file made by git
    is whole); off for a sprint ticket's hand-written sketch of a planned change.
    """
    try:
        files, counts, excluded = _files(text, langs, strict=strict)
    except TruncatedDiff as exc:
        raise EstimateError(f"{source}: {exc}") from None
    if not files and "@@" not in text:
        raise EstimateError(f"{source}: not a unified diff (no 'diff --git' or '@@' hunks)")
    files = tuple(_with_contents(f, before) for f in files)
    return CommitRecord(repo="patch", commit_id=source, author_id="", author_name="",
                        authored_at=0, author_tz_offset_min=0, committed_at=0,
                        subject=patch_subject(text), files=files,
                        file_stats=counts, body=patch_body(text),
                        excluded_files=excluded)  # fmt: skip


_HUNK_AT = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def apply_hunks(before: str, hunks: str) -> str | None:
    """``before`` with the unified-diff ``hunks`` (headerless, as ``FileChange.diff``) applied;
    None when a context or removed line does not match ``before`` or a hunk has no header."""
    if not hunks.startswith("@@"):
        return None
    old = before.splitlines(keepends=True)
    out: list[str] = []
    pos = 0  # lines of ``old`` consumed
    last: list[str] | None = None  # the list the previous line went to (for "\ No newline")
    for line in hunks.splitlines():
        if line.startswith("@@"):
            m = _HUNK_AT.match(line)
            if m is None:
                return None
            start = int(m.group(1)) - (0 if m.group(2) == "0" else 1)
            if start < pos or start > len(old):
                return None
            out.extend(old[pos:start])
            pos = start
            continue
        if line.startswith("\\"):  # "\ No newline at end of file": the line before has none
            if last:
                last[-1] = last[-1].rstrip("\n")
            continue
        tag, body = line[:1], line[1:] + "\n"
        if tag in (" ", "-", ""):  # a context or removed line must be the file's next
            if pos >= len(old) or old[pos].rstrip("\n") != body.rstrip("\n"):
                return None
            pos += 1
            if tag != "-":
                out.append(old[pos - 1])
                last = out
            else:
                last = None
        elif tag == "+":
            out.append(body)
            last = out
        else:
            return None
    out.extend(old[pos:])
    return "".join(out)


def _with_contents(f: FileChange, before: Callable[[str], str | None] | None) -> FileChange:
    """``f`` with ``before``/``after`` rebuilt from its hunks (:func:`patch_record`)."""
    new_file = f.lines_deleted == 0 and f.diff.startswith("@@ -0,0 ")
    was = None if new_file or before is None else before(f.old_path or f.path)
    if not new_file and was is None:
        return f
    if not f.diff.strip():  # no hunk (a pure rename, a mode change): the file as it was
        return replace(f, before=was, after=was)
    after = apply_hunks(was or "", f.diff)
    if after is None:
        return f
    # as a working tree reads them: a new file has no before, a deleted one no after
    return replace(f, before=was, after=after if after or not was else None)


def files_without_contents(record: CommitRecord) -> list[str]:
    """The files of ``record`` that carry no contents (syntax features and the formatting-only
    check need them)."""
    return [f.path for f in record.files
            if not f.is_binary and f.before is None and f.after is None]  # fmt: skip


def typical_sch(model: Any, rep: Any) -> float:
    """SCH of a change whose every count is its training mean (the point ``top_features``
    measures each feature's effect towards): what "weighs most" is read against."""
    counts = np.expm1(np.asarray(rep.mean_, dtype=float))[None, :]
    return float(change_sch(model, rep.scale_counts(counts))[0])


def top_features(
    model: Any,
    rep: Any,
    records: Sequence[CommitRecord],
    k: int = TOP_FEATURES,
    *,
    counts: np.ndarray | None = None,
    base: np.ndarray | None = None,
) -> list[list[dict[str, Any]]]:
    """Per change, the ``k`` features present in it that weigh most: the SCH lost (or gained)
    when that one feature is set to the training mean (occlusion; the cross-repository prior's
    score, a column of no count, is rescored), largest effect first. A change with no file in
    the mined languages is priced 0 h by rule: nothing of it weighs, and none is computed.

    ``counts`` (``rep.raw_matrix(records)``) and ``base`` (the changes' SCH) when the caller
    has them already: the features are not extracted, nor the SCH computed, a second time."""
    if not records:
        return []
    counts = rep.raw_matrix(records) if counts is None else counts
    X = rep.scale_counts(counts)
    base = change_sch(model, X) if base is None else base
    names = rep.feature_names_
    out: list[list[dict[str, Any]]] = []
    for i in range(len(records)):
        present = np.flatnonzero(counts[i] > 0)
        if present.size == 0 or not records[i].files:
            out.append([])
            continue
        # the count set to the training mean, then scaled: a column computed from the counts
        # (the cross-repository prior's score) follows; scaled 0 is exactly the mean
        occluded = np.repeat(counts[i : i + 1], present.size, axis=0)
        occluded[np.arange(present.size), present] = np.expm1(rep.mean_[present])
        Xo = rep.scale_counts(occluded)
        Xo[np.arange(present.size), present] = 0.0
        effect = base[i] - change_sch(model, Xo)
        order = np.argsort(-np.abs(effect), kind="stable")[:k]
        out.append(
            [
                {
                    "feature": names[present[j]],
                    "what": describe_feature(names[present[j]]),
                    "count": float(counts[i, present[j]]),
                    "sch_hours": round(float(effect[j]), 4) + 0.0,  # -0.0 -> 0.0
                }
                for j in order
            ]
        )
    return out


def seed_label(key: str, value: str, record: CommitRecord, named: str | None = None) -> str:
    """A commit's id; for a patch or a working tree, its files' changes: the same change gives
    the same draws whichever way it is given (``--diff`` of ``--worktree``'s diff, say). A
    ``git format-patch`` mail names its commit (``named``, :func:`patch_commit_id`): it is
    seeded as that commit, so it has the figures ``estimate <commit>`` gives."""
    if key == "commit_id":
        return value
    if named:
        return named
    return "\0".join(f"{f.path}\0{f.diff}" for f in record.files) or value


def estimate_changes(
    model: Any,
    rep: Any,
    records: Sequence[CommitRecord],
    *,
    labels: Sequence[tuple[str, str]],
    model_name: str,
    seed: int = 0,
    n_draws: int = N_DRAWS,
    explain: bool = True,
    named: Sequence[str | None] | None = None,
) -> dict[str, Any]:
    """The estimate document: ``{"model", "total": {sch_hours, q10, q50, q90, correlation},
    "changes": [...]}`` (``correlation``: the one the total's draws are paired at).

    ``labels[i]`` is ``("commit_id", id)`` or ``("source", name)`` for ``records[i]``. Draws are
    seeded, so the same changes give the same numbers; ``named[i]``: the commit a patch mail
    names (:func:`seed_label`).
    """
    changes: list[dict[str, Any]] = []
    total_draws = np.zeros(n_draws)
    total_sch = 0.0
    priced: list[np.ndarray] = []
    if records:
        raws = rep.raw_changes(records)
        counts = rep.raw_matrix(raws)
        X = rep.scale_counts(counts)  # = rep.transform(records), extracted once
        sch_all = change_sch(model, X)
        names = list(named) if named is not None else [None] * len(records)
        seeds = [change_seed(seed, seed_label(k, v, r, c)) for (k, v), r, c in zip(labels, records,
                 names, strict=True)]  # fmt: skip
        draws = sch_draws(model, X, n_draws, seeds)
        weigh = (
            top_features(model, rep, records, counts=counts, base=sch_all)
            if explain
            else [[] for _ in records]
        )
        for i, rec in enumerate(records):
            key, value = labels[i]
            # a change without code in the configured languages costs no coding time
            some = 1.0 if rec.files else 0.0
            sch = float(sch_all[i]) * some
            total_sch += sch
            priced.append(draws[i] * some)
            row: dict[str, Any] = {
                key: value,
                "sch_hours": sch,
                **{k: v * some for k, v in draw_quantiles(draws[i]).items()},
                "lines_added": rec.lines_added,
                "lines_deleted": rec.lines_deleted,
            }
            if rec.subject:
                row["subject"] = rec.subject
            if not rec.files:  # priced 0 h: say so rather than look like a measured nothing
                stats = dict(zip(FILE_STAT_NAMES, rec.file_stats or (), strict=False))
                # a working tree or an empty commit with no file changed is no change at all
                if rec.excluded_files:  # vendored code only: say which path rule left it out
                    row["excluded_files"] = list(rec.excluded_files)
                else:
                    row["no_change" if stats.get("files") == 0 else "no_language_files"] = True
            if raws[i].left_out.any():  # generated or formatting-only files: not counted
                row["left_out"] = left_out_counts([raws[i]])
                counted = len(rec.files) - row["left_out"]["generated_files"]
                if counted - row["left_out"]["formatting_files"] <= 0:
                    # no counted code left: priced at the model's level for such a change
                    row["only_left_out"] = sch
            if weigh[i]:
                row["top_features"] = weigh[i]
            changes.append(row)
        rho = getattr(model, "total_correlation_", 0.0)
        shared = total_key(seed, sorted(value for _, value in labels))  # any order, one total
        total_draws = correlated_total(np.array(priced), rho, shared, seeds)
    if any(c.get("top_features") for c in changes):  # what each change's effects are read against
        typical = typical_sch(model, rep)
        for c in changes:
            if c.get("top_features"):
                c["typical_sch_hours"] = typical
    rho = float(getattr(model, "total_correlation_", 0.0))
    total = {"sch_hours": total_sch, **draw_quantiles(total_draws), "correlation": rho}
    return {"model": model_name, "total": total, "changes": changes}
