"""Ticket effort from the trained SCH model: the bridge between ``train_sch`` and ``forecast``.

A ticket's changes are its diff text, or its commit ids looked up in the mined database. Each
change is priced as ``estimate`` and team output price it: ``N_DRAWS`` draws from the
model's distribution truncated to [0, 1] h (whose mean is the change's SCH;
``sch.draws.sch_draws``), seeded as estimate seeds them (``runner.seed`` and the full commit
id, or a diff's files), so a ticket of one commit has that commit's ``estimate`` q10/mean/q90;
0 h for a change with no file in the mined languages. A ticket's changes are summed draw by draw
as ``estimate`` sums a range's, paired at the model's error correlation (``sch.totals``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from standard_coder.forecasting.effort import ModelPricing


class ModelUnreadable(ValueError):
    """A trained model file is truncated, corrupt or no effort model (the message names it).

    A stage that raises it fails with exit 2 (bad input), as the commands that load the model do.
    """

    exit_code = 2


def rebuild_hint(config_path: Path | None = None) -> str:
    """How to rebuild the effort model: rerun ``train_sch`` (it sees its changed output)."""
    if config_path is None:  # a stage of the pipeline: the run's own command, up to train_sch
        return "rebuild it: run the pipeline again with --to train_sch"
    return f"rebuild it: standard-coder pipeline --config {config_path} --to train_sch"


def read_effort_model(
    model_path: Path,
    device: str = "cpu",
    *,
    expected_vocabulary_checksum: str | None = None,
    expected_checksum: str | None = None,
    config_path: Path | None = None,
) -> Any:
    """``EffortModel.load``, with a truncated or foreign file named in one line.

    The one loader of ``model.pt`` for every command and stage (estimate, eval, team output,
    forecast).

    Raises:
        ModelUnreadable: the file is truncated, corrupt or not an effort-model checkpoint
            (the message says how to rebuild it).
        RepresentationMismatch: trained on another feature vocabulary or scaling.
    """
    import pickle
    import zipfile

    from standard_coder.sch.predictors.estimator import EffortModel

    try:
        return EffortModel.load(
            model_path,
            map_location=device,
            expected_vocabulary_checksum=expected_vocabulary_checksum,
            expected_checksum=expected_checksum,
        )
    except (
        RuntimeError,
        EOFError,
        OSError,
        zipfile.BadZipFile,
        pickle.UnpicklingError,
        IndexError,  # torch's weights-only unpickler on garbage: "pop from empty list"
        KeyError,
        TypeError,
        ValueError,
    ) as exc:
        from standard_coder.sch.features.representation import RepresentationMismatch

        if isinstance(exc, RepresentationMismatch):
            raise
        raise ModelUnreadable(
            f"{model_path}: corrupt or truncated, not a readable effort-model checkpoint "
            f"({type(exc).__name__}); {rebuild_hint(config_path)}"
        ) from None


def read_representation(rep_dir: Path, *, config_path: Path | None = None) -> Any:
    """``ChangeRepresentation.load``, with a missing, truncated or malformed file named in one
    line and a plain cause (``not valid JSON``, ``missing key 'kind'``).

    The one loader of ``change_rep/`` for every command and stage (estimate, eval, team output,
    forecast).

    Raises:
        ModelUnreadable: the representation cannot be read (the message says how to rebuild it).
    """
    from standard_coder.sch.features.representation import (
        ChangeRepresentation,
        RepresentationMismatch,
    )

    try:
        return ChangeRepresentation.load(rep_dir)
    except RepresentationMismatch as exc:
        raise ModelUnreadable(f"{exc}; {rebuild_hint(config_path)}") from None


def load_effort_model(
    model_path: Path, rep_dir: Path, device: str = "cpu", *, config_path: Path | None = None
) -> tuple[Any, Any]:
    """The trained model and its change representation (checksums checked against each other).

    Raises:
        CheckpointNotFound: no trained model at ``model_path`` (``models/<predictor>/model.pt``).
        ModelUnreadable: ``model_path`` is truncated or corrupt (:func:`read_effort_model`),
            or the representation in ``rep_dir`` (:func:`read_representation`).
    """
    from standard_coder.runner.errors import CheckpointNotFound

    if not model_path.exists():
        raise CheckpointNotFound(
            f"{model_path}: no trained effort model; run the train_sch stage first"
        )
    rep = read_representation(rep_dir, config_path=config_path)
    model = read_effort_model(
        model_path,
        device,
        expected_vocabulary_checksum=rep.vocabulary_checksum_,
        expected_checksum=rep.checksum_,
        config_path=config_path,
    )
    return model, rep


def model_effort_for(
    model_path: Path,
    rep_dir: Path,
    db: Path | None,
    *,
    seed: int,
    rng_seed: int,
    device: str = "cpu",
    ticket_effort: str = "coding",
    langs: Any = None,
    repos: Sequence[Path] = (),
    commits: TicketCommits | None = None,
    evaluation: Path | None = None,
) -> ModelPricing:
    """A ``model_effort`` callable for :func:`standard_coder.forecasting.run_forecast`.

    ``seed`` is estimate's (``runner.seed``): a change's draws are seeded by it and the change's
    label as in ``estimate`` (the full commit id; a diff's files and their changes), so a ticket
    whose only change is a commit has that commit's ``estimate`` q10/mean/q90. ``rng_seed`` (the
    forecast's) seeds the delivery head's draws.

    A ticket's commits come from ``db`` (None: no mined database is read, as for a forecast
    whose tickets list no commit), or from the first of ``repos`` that holds them
    (:class:`TicketCommits`; ``commits``, when given, is the one the input check used, so an id
    it resolved is not looked up again). Commit contents are read when the model's
    representation uses them (hybrid).
    A ticket's diff counts the files of ``langs`` (``sch.estimate.Languages``; Python when
    None), as ``estimate --diff`` does. ``ticket_effort="delivery"`` (a multitask model) prices
    each ticket as one PR of its changes by the delivery head (:func:`delivery_draws`) instead
    of summing coding effort. The pricing states the model's error correlation (its tickets
    are paired at it: :func:`pair_tickets`) and, from ``evaluation`` (``sch_evaluation.json``),
    the run summary's warnings about the model, which the forecast repeats naming the tickets.

    Raises:
        ValueError: delivery effort asked of a model that has no delivery head; a ticket's diff
            that is not a unified diff.
    """
    from standard_coder.forecasting.effort import ModelPricing, PricingNotes
    from standard_coder.forecasting.inputs import ForecastInputError
    from standard_coder.forecasting.validate import NOT_MINED_WHY
    from standard_coder.sch.draws import (
        N_DRAWS,  # estimate's count: a change has the q10/q90 estimate gives it
        change_seed,
        sch_draws,
    )
    from standard_coder.sch.estimate import (
        EstimateError,
        Languages,
        files_without_contents,
        patch_record,
        seed_label,
    )
    from standard_coder.sch.patch_mail import patch_commit_id
    from standard_coder.sch.totals import correlated_total, total_key
    from standard_coder.sch.words import (
        LARGE_CHANGE_LINES,
        large_change_note,
        no_contents_note,
    )

    model, rep = load_effort_model(model_path, rep_dir, device)
    if ticket_effort == "delivery" and model.predictor != "multitask":
        raise ValueError(
            f'[forecasting] ticket_effort = "delivery" needs a multitask model; {model_path} '
            f'is {model.predictor!r} (set [training] predictor = "multitask")'
        )
    rng = np.random.default_rng(rng_seed)
    contents = rep.kind == "hybrid"
    langs = Languages() if langs is None else langs
    finder = TicketCommits(db, repos) if commits is None else commits

    rho = float(getattr(model, "total_correlation_", 0.0)) if ticket_effort == "coding" else 0.0
    said = PricingNotes()

    def effort(tickets: list[Any]) -> dict[str, np.ndarray]:
        wanted = {cid for t in tickets for cid in t.commit_ids}
        found = finder.changes(wanted, langs=langs, with_contents=contents)
        said.notes.clear()
        out: dict[str, np.ndarray] = {}
        counts: dict[str, int] = {}  # the changes each ticket's total holds (priced > 0 h)
        keys: dict[str, list[int]] = {}
        blind: list[str] = []  # tickets whose diff changes files it cannot show whole
        for t in tickets:
            records: list[Any] = []
            labels: list[str] = []
            if t.diff:
                # a planned change is sketched by hand: its hunk counts need not add up
                try:
                    records.append(patch_record(t.diff, langs, f"ticket {t.id}: diff",
                                                strict=False))  # fmt: skip
                except EstimateError as exc:  # the user's sprint file: bad input, exit 2
                    raise ForecastInputError(str(exc)) from None
                named = patch_commit_id(t.diff)  # a format-patch mail: seeded as its commit
                labels.append(seed_label("source", f"ticket:{t.id}", records[-1], named))
                lines = sum(f.lines_added + f.lines_deleted for f in records[-1].files)
                if lines > LARGE_CHANGE_LINES:  # one change, as the model prices it
                    said.notes.append(large_change_note(f"ticket {t.id}'s diff", lines))
                if contents and files_without_contents(records[-1]):
                    blind.append(t.id)
            for cid in t.commit_ids:
                match = found.get(cid)
                if match is None:
                    where = "" if finder.db is None else f" ({finder.db})"
                    raise ForecastInputError(
                        f"ticket {t.id}: commit {cid} is not in the mined history{where} "
                        f"nor in a configured repository; {NOT_MINED_WHY}"
                    )
                records.append(match)
                labels.append(match.commit_id)  # estimate's label: the full id, not as listed
            if ticket_effort == "delivery":
                out[t.id] = delivery_draws(model, rep, records, rng)
                continue
            out[t.id] = np.zeros(N_DRAWS)
            if records:  # the same draws as estimate's for each change, summed as it sums
                seeds = [change_seed(seed, label) for label in labels]
                draws = sch_draws(model, rep.transform(records), N_DRAWS, seeds)
                counted = np.array([[1.0] if r.files else [0.0] for r in records])
                shared = total_key(seed, sorted(labels))  # its commits in any order: one total
                out[t.id] = correlated_total(counted * draws, rho, shared, seeds)
                counts[t.id], keys[t.id] = int(counted.sum()), shared
        if blind:  # estimate --diff says it per patch; here once for the sprint
            said.notes.append(no_contents_note(blind))
        said.paired_tickets = sum(1 for n in counts.values() if n > 0)
        said.paired_changes = sum(counts.values())
        return pair_tickets(out, counts, keys, rho, seed)

    # the coding model's warnings describe its SCH, not the delivery head's hours
    caveats = model_caveats(evaluation) if ticket_effort == "coding" else ()
    return ModelPricing(effort, rho, caveats, said)


def model_caveats(evaluation: Path | None) -> tuple[str, ...]:
    """The run summary's plain-language warnings about the model (``sch_evaluation.json``);
    none when there is no readable evaluation."""
    from standard_coder.pipelines.sch_warnings import warnings
    from standard_coder.runner.jsonfile import read_json_object_or_none

    ev = None if evaluation is None else read_json_object_or_none(evaluation)
    return () if ev is None else tuple(warnings(ev))


def pair_tickets(
    totals: dict[str, np.ndarray],
    counts: dict[str, int],
    keys: dict[str, list[int]],
    rho: float,
    seed: int,
) -> dict[str, np.ndarray]:
    """One sprint's ticket totals paired with each other as their changes are within a ticket:
    the tickets' changes are made close together, so the model's errors on them move together
    at ``rho`` too (``sch.totals``). Each ticket keeps exactly its own draws (its q10/q90 are
    estimate's for its commits); ticket ``t`` of ``counts[t]`` changes loads
    :func:`~standard_coder.sch.totals.sum_loading` on a factor common to the sprint, which pairs
    every change of the sprint with every other at ``rho``. ``keys[t]``: the ticket's own
    total key (with the ticket's id, its latent scores' seed words). ``rho`` 0 or one ticket:
    as given."""
    from standard_coder.sch.totals import common_factor, paired_draws, sum_loading, total_key

    ids = sorted(i for i, n in counts.items() if n > 0)  # a ticket priced 0 h pairs nothing
    if rho <= 0.0 or len(ids) < 2:
        return totals
    words = [str(w) for i in ids for w in ("ticket", i, *keys[i])]
    common = common_factor(total_key(seed, words), len(totals[ids[0]]))
    rows = np.stack([totals[i] for i in ids])
    loads = [sum_loading(counts[i], rho) for i in ids]
    # each ticket's own latent: its total's key and its id (two tickets of the same commits
    # are two tickets, paired at rho, not one)
    own = [total_key(seed, ["ticket", i, *map(str, keys[i])]) for i in ids]
    paired = paired_draws(rows, loads, common, own)
    return {**totals, **{i: paired[k] for k, i in enumerate(ids)}}


def delivery_draws(
    model: Any, rep: Any, records: list[Any], rng: np.random.Generator
) -> np.ndarray:
    """Open->merge hours of a ticket's changes as one PR: review rounds, comments and CI
    failures at the training PRs' mean (the model's stored statistics), commits and lines
    changed from the changes."""
    import torch

    from standard_coder.sch.delivery.data import PR_FEATURES, DeliveryData
    from standard_coder.sch.draws import N_DRAWS

    if not records:
        return np.zeros(N_DRAWS)
    reg = model.regressor_
    feats = reg.module_.pr_mean.detach().cpu().numpy().astype(np.float32).copy()
    lines = sum(f.lines_added + f.lines_deleted for r in records for f in r.files)
    feats[PR_FEATURES.index("commits")] = np.log1p(len(records))
    feats[PR_FEATURES.index("lines_changed")] = np.log1p(lines)
    X = rep.transform(records).astype(np.float32)
    pr = DeliveryData(X=X, owner=np.zeros(len(records), np.int64), pr_features=feats[None, :],
                      hours=np.zeros(1), ids=["ticket"], lines_changed=np.array([float(lines)]),
                      expected_hours=np.array([np.nan]))  # fmt: skip
    gen = torch.Generator().manual_seed(int(rng.integers(0, 2**62)))
    return np.asarray(reg.delivery(pr).sample(N_DRAWS, gen)[0], np.float64)


def mined_changes(db: Path, ids: Any, *, with_contents: bool = False) -> dict[str, Any]:
    """The mined change each id names (full or abbreviated): the stored commit, or for a
    commit the mine listed but did not store because it touches no file of the mined
    languages, a record without files (priced 0 h, as ``estimate`` prices it).

    Raises:
        AmbiguousCommitId: an abbreviated id matches two different commits.
        ValueError: an id names a merge commit (a ticket lists the commits it merged).
    """
    from standard_coder.sch.mining.store import commits_by_id, merge_commit_ids, skipped_commits
    from standard_coder.sch.records import CommitRecord

    found: dict[str, Any] = commits_by_id(db, ids, with_contents=with_contents)
    rest = [cid for cid in ids if cid not in found]
    if rest:
        for repo, full in skipped_commits(db, "no_language_files"):
            for cid in rest:
                if full.startswith(cid) and cid not in found:
                    found[cid] = CommitRecord(repo=repo, commit_id=full, author_id="",
                                              author_name="", authored_at=0,
                                              author_tz_offset_min=0, committed_at=0)  # fmt: skip
        merges = merge_commit_ids(db, [cid for cid in rest if cid not in found])
        if merges:
            cid, full = next(iter(merges.items()))
            raise MergeCommitId(cid, full)
    return found


class MergeCommitId(ValueError):
    """A ticket's commit id names a merge commit (``commit_id``: the id as listed, so the
    input check can say where the sprint file lists it)."""

    def __init__(self, commit_id: str, full: str) -> None:
        super().__init__(
            f"commit {commit_id} is a merge commit ({full[:12]}): list the commits it merged "
            f"instead (`standard-coder estimate {commit_id}` names and prices them)"
        )
        self.commit_id = commit_id


@dataclass(frozen=True)
class FoundCommit:
    """Where a ticket's commit id was found (:class:`TicketCommits`)."""

    commit_id: str
    """The full id (a ticket may abbreviate it)."""
    repo: Path | None = None
    """The repository it is read from, as ``estimate`` reads it; None: the mined database."""


class TicketCommits:
    """Tickets' commit ids, each resolved once, for the forecast's input check and its pricing.

    An id is looked up in the mined database ``db`` (:func:`mined_changes`), else in the first
    of ``repos`` that holds it, on any branch (``sch.estimate.commit_in``: a commit on a branch
    the mine does not read, or made since the last mine). The check calls it as a
    ``CommitLookup`` (ids -> :class:`FoundCommit`); pricing then reads the changes
    (:meth:`changes`) from what the check found, without asking git where they are again.

    Raises (both calls):
        AmbiguousCommitId: an abbreviated id matches two different mined commits.
        ValueError: an id names a merge commit (a ticket lists the commits it merged).
    """

    def __init__(self, db: Path | None, repos: Sequence[Path] = ()) -> None:
        self.db = db
        self.repos = tuple(repos)
        self._found: dict[str, FoundCommit] = {}
        self._asked: set[str] = set()  # resolved, found or not: never looked up again

    def __call__(self, ids: Collection[str]) -> dict[str, FoundCommit]:
        """Where each of ``ids`` is (an id found nowhere is left out)."""
        rest = [cid for cid in dict.fromkeys(ids) if cid not in self._asked]
        if rest:
            self._found.update(self._resolve(rest))
            self._asked.update(rest)
        return {cid: self._found[cid] for cid in ids if cid in self._found}

    def _resolve(self, ids: list[str]) -> dict[str, FoundCommit]:
        from standard_coder.sch.estimate import commit_in

        mined = mined_changes(self.db, ids) if self.db is not None and self.db.is_file() else {}
        found = {cid: FoundCommit(r.commit_id) for cid, r in mined.items()}
        for cid in [c for c in ids if c not in found]:
            for repo in self.repos:
                hit = commit_in(repo, cid)
                if hit is None:
                    continue
                full, merge = hit
                if merge:
                    raise MergeCommitId(cid, full)
                found[cid] = FoundCommit(full, repo)
                break
        return found

    def changes(
        self, ids: Collection[str], *, langs: Any = None, with_contents: bool = False
    ) -> dict[str, Any]:
        """The change (``CommitRecord``) each of ``ids`` names, read from where it was found:
        the mined database, or its repository as ``estimate`` reads it (``langs`` as
        ``sch.estimate.Languages``; Python when None). An id found nowhere is left out."""
        from standard_coder.sch.estimate import Languages, git_commit_records

        found = self(ids)
        fulls = {f.commit_id for f in found.values() if f.repo is None}
        mined: dict[str, Any] = {}
        if fulls and self.db is not None:  # found in the database: there is one
            mined = mined_changes(self.db, fulls, with_contents=with_contents)
        langs = Languages() if langs is None else langs
        out: dict[str, Any] = {}
        for cid, f in found.items():
            if f.repo is None:
                if f.commit_id in mined:  # (gone only if the database changed in between)
                    out[cid] = mined[f.commit_id]
            else:
                out[cid] = git_commit_records(
                    f.repo, [f.commit_id], langs, with_contents=with_contents
                )[0]
        return out


def commit_lookup(db: Path, repos: Sequence[Path] = ()) -> TicketCommits | None:
    """Tickets' commit ids -> where they are (:class:`TicketCommits`: the mined database
    ``db``, then ``repos``); None when there is neither (before the first mine).

    The forecast stage and ``forecast-check`` pass it to ``check_forecast_inputs``, so an unknown
    commit id is the same error in both; the stage passes the same one to
    :func:`model_effort_for`, so each id is resolved once.
    """
    if not db.is_file() and not repos:
        return None
    return TicketCommits(db, repos)
