"""The effort training set: one row per change (a commit or a squashed group), never replicated.

``labels/datasets/coding_train.npz`` holds the scaled features (main representation and the LOC
baseline), the label-sample matrix (changes x samples, hours), the raw surface counts, keys, times,
the split (0 train, 1 validation, 2 test), and per change its label's interval kind (0 normal,
1 an author's first commit, 2 after a long inactivity gap: the kind of the change's first commit)
and whether its author was fitted by the pooled work-inference model. The split is by time
within each repo: the most recent ``test_fraction`` of each repo's changes is held out, reaching
back until it also holds ``test_fraction`` of the repo's normal-interval changes
(:func:`time_split`); a seeded ``validation_fraction`` of the remaining changes drives early
stopping. A change's samples never straddle splits.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import numpy as np

from standard_coder.runner.context import Ledger
from standard_coder.runner.executor import ItemStopped, MapFn, in_process_map, stop_requested
from standard_coder.sch.features._io import atomic_write_bytes, atomic_write_text, npz_bytes
from standard_coder.sch.features.ast_edits import AstCache
from standard_coder.sch.features.cross_repo import CrossRepoPrior
from standard_coder.sch.features.raw_change import RawChange, extract_raw, left_out_counts
from standard_coder.sch.features.representation import ChangeRepresentation, Kind
from standard_coder.sch.features.tokens import SURFACE_NAMES, TABLE_I_SURFACE
from standard_coder.sch.records import CommitRecord

DATASET_FORMAT = "standard_coder.effort_dataset/1"
TRAIN, VAL, TEST = 0, 1, 2
Key = tuple[str, str]


class DatasetStopped(Exception):
    """A stop was requested while features were being extracted; nothing was written."""


class DatasetSchemaError(ValueError):
    """``coding_train.npz`` failed its schema check (message names the path and the reason)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class LabelMatrixLike(Protocol):
    """Work-inference output: ``keys[i] = (repo, commit_id)``, ``samples[i]`` hours."""

    @property
    def keys(self) -> Sequence[Key]: ...
    @property
    def samples(self) -> np.ndarray: ...


@dataclass
class Dataset:
    """Rows are changes; ``Y`` is (changes x label samples) in hours."""

    X: np.ndarray
    X_loc: np.ndarray
    Y: np.ndarray
    surface: np.ndarray
    repo: np.ndarray
    commit_id: np.ndarray
    n_squashed: np.ndarray
    time: np.ndarray
    split: np.ndarray
    feature_names: list[str]
    meta: dict[str, Any]
    """kind, checksum, vocabulary_checksum, loc_checksum, loc_vocabulary_checksum, ..."""
    label_kind: np.ndarray | None = None
    """int8 interval kind of each change's label (0 normal, 1 first, 2 after a long gap);
    all normal when not given (and in datasets written before it existed)."""
    pooled: np.ndarray | None = None
    """bool: the change's author was fitted by the pooled work-inference model."""
    label_weight: np.ndarray | None = None
    """float32 in [0, 1]: share of the change's inferred coding that lies in the session the
    change closes (``LabelSet.last_session_minutes / expected_minutes`` summed over a squashed
    group); 1 when not given. Low: most of the label is coding of earlier sessions."""
    label_interval_minutes: np.ndarray | None = None
    """float64 wall-clock minutes since the author's previous (authored) commit before the
    change; NaN for a first commit and when not given."""

    def __post_init__(self) -> None:
        n = self.X.shape[0]
        if self.label_kind is None:
            self.label_kind = np.zeros(n, np.int8)
        if self.pooled is None:
            self.pooled = np.zeros(n, bool)
        if self.label_weight is None:
            self.label_weight = np.ones(n, np.float32)
        if self.label_interval_minutes is None:
            self.label_interval_minutes = np.full(n, np.nan)
        for name in ("X_loc", "Y", "surface", "repo", "commit_id", "n_squashed", "time", "split",
                     "label_kind", "pooled", "label_weight", "label_interval_minutes"):  # fmt: skip
            if getattr(self, name).shape[0] != n:
                raise ValueError(f"dataset column {name} has {getattr(self, name).shape[0]} rows, "
                                 f"expected {n}")  # fmt: skip

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def index(self, split: int) -> np.ndarray:
        return np.flatnonzero(self.split == split)

    @property
    def feature_kind(self) -> str:
        return str(self.meta["kind"])

    @property
    def feature_checksum(self) -> str:
        return str(self.meta["checksum"])

    @property
    def vocabulary_checksum(self) -> str:
        return str(self.meta["vocabulary_checksum"])

    def features_for(self, model: Any) -> np.ndarray:
        """The columns ``model`` reads (``X``; ``X_loc`` for an LOC model), checked against the
        vocabulary it was trained on (:class:`RepresentationMismatch` when it differs)."""
        if model.feature_kind == "loc":
            X, ck = self.X_loc, self.meta["loc_vocabulary_checksum"]
        else:
            X, ck = self.X, self.vocabulary_checksum
        if model.vocabulary_checksum and model.vocabulary_checksum != ck:
            from standard_coder.sch.features.representation import RepresentationMismatch

            where = getattr(model, "path_", "<in-memory model>")
            raise RepresentationMismatch(
                f"{where}: model features ({model.vocabulary_checksum[:12]}) do not match the "
                f"dataset's ({ck[:12]}); rebuild the dataset or retrain the model"
            )
        return X

    def loc_view(self) -> Dataset:
        """The same rows with the LOC-only features as ``X`` (for the baseline)."""
        meta = {**self.meta, "kind": "loc", "checksum": self.meta["loc_checksum"],
                "vocabulary_checksum": self.meta["loc_vocabulary_checksum"]}  # fmt: skip
        return replace(self, X=self.X_loc, feature_names=list(self.meta["loc_feature_names"]),
                       meta=meta)  # fmt: skip

    def columns_view(self, columns: Sequence[int], kind: str) -> Dataset:
        """The same rows with only the feature ``columns`` as ``X`` (a model on part of the
        features, e.g. the size counts; ``kind`` names it, its checksums are the dataset's)."""
        cols = [int(c) for c in columns]
        if not cols:
            raise ValueError(f"{kind}: no feature columns selected")
        return replace(self, X=self.X[:, cols], feature_names=[self.feature_names[c] for c in cols],
                       meta={**self.meta, "kind": kind})  # fmt: skip

    def surface_column(self, name: str) -> np.ndarray:
        return self.surface[:, SURFACE_NAMES.index(name)]

    # -- persistence -------------------------------------------------------------------------
    def save(self, path: Path) -> Path:
        """Write the npz atomically (no pickled objects)."""
        data = npz_bytes(
            X=self.X.astype(np.float32), X_loc=self.X_loc.astype(np.float32),
            Y=self.Y.astype(np.float32), surface=self.surface.astype(np.float64),
            repo=self.repo.astype(str), commit_id=self.commit_id.astype(str),
            n_squashed=self.n_squashed.astype(np.int32), time=self.time.astype(np.int64),
            split=self.split.astype(np.int8), feature_names=np.array(self.feature_names, str),
            label_kind=np.asarray(self.label_kind, np.int8), pooled=np.asarray(self.pooled, bool),
            label_weight=np.asarray(self.label_weight, np.float32),
            label_interval_minutes=np.asarray(self.label_interval_minutes, np.float64),
            meta=np.array(json.dumps({**self.meta, "format": DATASET_FORMAT}, sort_keys=True)),
        )  # fmt: skip
        return atomic_write_bytes(Path(path), data)

    @classmethod
    def load(cls, path: Path) -> Dataset:
        """Load and schema-check ``coding_train.npz``.

        Raises:
            DatasetSchemaError: missing/invalid arrays, wrong format, inconsistent shapes.
        """
        path = Path(path)
        need = ("X", "X_loc", "Y", "surface", "repo", "commit_id", "n_squashed", "time", "split",
                "feature_names", "meta")  # fmt: skip
        try:
            with np.load(path, allow_pickle=False) as z:
                missing = [k for k in need if k not in z.files]
                if missing:
                    raise DatasetSchemaError(path, f"missing arrays {missing}")
                a = {k: np.array(z[k]) for k in need}
                extra = {k: np.array(z[k]) for k in OPTIONAL_COLUMNS if k in z.files}
        except DatasetSchemaError:
            raise
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
            raise DatasetSchemaError(path, f"unreadable ({e})") from e
        try:
            meta = json.loads(str(a["meta"]))
        except ValueError as e:
            raise DatasetSchemaError(path, "meta is not JSON") from e
        if meta.get("format") != DATASET_FORMAT:
            raise DatasetSchemaError(path, f"unknown format {meta.get('format')!r}")
        X, Y = a["X"], a["Y"]
        surface = a["surface"]
        if surface.ndim == 2 and len(TABLE_I_SURFACE) <= surface.shape[1] < len(SURFACE_NAMES):
            # written before lines_added_unmoved / _source existed: those columns are unknown
            missing = len(SURFACE_NAMES) - surface.shape[1]
            surface = np.column_stack([surface, np.full((len(surface), missing), np.nan)])
        if X.ndim != 2 or Y.ndim != 2 or surface.shape[1:] != (len(SURFACE_NAMES),):
            width = len(SURFACE_NAMES)
            raise DatasetSchemaError(path, f"X, Y must be 2-D and surface (n, {width})")
        if X.shape[1] != len(a["feature_names"]):
            raise DatasetSchemaError(path, "feature_names do not match X's columns")
        if not (np.isfinite(X).all() and np.isfinite(Y).all() and (Y >= 0).all()):
            raise DatasetSchemaError(path, "non-finite features or negative/non-finite labels")
        if not np.isin(a["split"], (TRAIN, VAL, TEST)).all():
            raise DatasetSchemaError(path, "split values must be 0, 1 or 2")
        if "label_kind" in extra and not np.isin(extra["label_kind"], range(len(KIND_NAMES))).all():
            raise DatasetSchemaError(path, "label_kind values must be 0, 1, 2, 3 or 4")
        w = extra.get("label_weight")
        if w is not None and not (np.isfinite(w).all() and (w >= 0).all() and (w <= 1).all()):
            raise DatasetSchemaError(path, "label_weight values must lie in [0, 1]")
        try:
            return cls(X=X, X_loc=a["X_loc"], Y=Y, surface=surface, repo=a["repo"],
                       commit_id=a["commit_id"], n_squashed=a["n_squashed"], time=a["time"],
                       split=a["split"], feature_names=[str(s) for s in a["feature_names"]],
                       meta=meta, label_kind=extra.get("label_kind"),
                       pooled=extra.get("pooled"), label_weight=w,
                       label_interval_minutes=extra.get("label_interval_minutes"))  # fmt: skip
        except ValueError as e:
            raise DatasetSchemaError(path, str(e)) from e


def dataset_stats(ds: Dataset) -> dict[str, Any]:
    """Key figures of a dataset (JSON-ready)."""
    y = ds.Y
    ym = y.mean(axis=1) if len(ds) else np.zeros(0)
    repos, counts = np.unique(ds.repo, return_counts=True)

    def q(v: np.ndarray, p: float) -> float:
        return float(np.quantile(v, p)) if v.size else float("nan")

    return {
        "n_changes": len(ds), "n_train": int((ds.split == TRAIN).sum()),
        "n_validation": int((ds.split == VAL).sum()), "n_test": int((ds.split == TEST).sum()),
        "n_samples_per_change": int(y.shape[1]), "n_features": int(ds.X.shape[1]),
        "feature_kind": ds.feature_kind, "feature_checksum": ds.feature_checksum,
        "n_squashed_groups": int((ds.n_squashed > 1).sum()),
        "label_kinds": label_kind_counts(ds.label_kind),
        "n_pooled": int(np.asarray(ds.pooled).sum()),
        "label_hours": {"mean": float(y.mean()) if y.size else float("nan"),
                        "median": q(y.ravel(), 0.5), "p90": q(y.ravel(), 0.9),
                        "share_zero": float((y == 0).mean()) if y.size else float("nan"),
                        "share_over_8h": float((y > 8).mean()) if y.size else float("nan"),
                        "commit_mean_median": q(ym, 0.5)},
        "per_repo": {str(r): int(c) for r, c in zip(repos, counts, strict=True)},
        "ast_missing_share": _ast_missing_share(ds),
        "left_out": ds.meta.get("left_out"),
        **({"cross_repo_prior_unused": ds.meta["cross_repo_prior_unused"]}
           if ds.meta.get("cross_repo_prior_unused") else {}),
    }  # fmt: skip


OPTIONAL_COLUMNS = ("label_kind", "pooled", "label_weight", "label_interval_minutes")
"""Columns a dataset written before them lacks (read as normal, not pooled, weight 1, NaN)."""
KIND_NAMES = ("normal", "first", "after_gap", "merge_stamped", "agent_assisted")
"""Names of the label kinds 0, 1, 2 (work_inference.base NORMAL, FIRST, LONG_GAP), 3: a
commit whose time is a GitHub merge time, not an authoring time
(``mining.store.merge_stamped_commits``), and 4: a commit an AI coding agent helped write,
whose time times a person directing the agent (``mining.store.agent_assisted_commits``)."""
MERGE_STAMPED = 3
AGENT_ASSISTED = 4


def label_kind_counts(kinds: np.ndarray | None) -> dict[str, int]:
    """``{"normal": n, "first": n, "after_gap": n, "merge_stamped": n, "agent_assisted": n}`` of
    a label-kind array."""
    k = np.zeros(0, np.int8) if kinds is None else np.asarray(kinds)
    return {name: int((k == i).sum()) for i, name in enumerate(KIND_NAMES)}


def _ast_missing_share(ds: Dataset) -> float | None:
    if "ast|missing" not in ds.feature_names:
        return None
    return ds.meta.get("ast_missing_share")


def write_stats(ds: Dataset, path: Path) -> Path:
    """Write :func:`dataset_stats` as JSON atomically."""
    return atomic_write_text(Path(path), json.dumps(dataset_stats(ds), indent=1, sort_keys=True))


def _labels(labels: LabelMatrixLike | tuple[Sequence[Key], np.ndarray]) -> dict[Key, np.ndarray]:
    if isinstance(labels, tuple):
        keys, samples = labels
    else:
        keys, samples = labels.keys, labels.samples
    samples = np.asarray(samples, np.float32)
    if samples.ndim != 2 or samples.shape[0] != len(keys):
        raise ValueError(f"label samples {samples.shape} do not match {len(keys)} keys")
    return {(str(k[0]), str(k[1])): samples[i] for i, k in enumerate(keys)}


def time_split(
    repo: np.ndarray,
    time: np.ndarray,
    test_fraction: float,
    validation_fraction: float,
    seed: int,
    normal: np.ndarray | None = None,
) -> np.ndarray:
    """Per repo: the most recent ``test_fraction`` -> TEST; a seeded share of the rest -> VAL.

    ``normal`` (per change: its label comes from a normal interval, the rows the evaluation's
    unsuffixed metrics score): the held-out period reaches back until it also holds
    ``test_fraction`` of the repo's normal changes. Where the recent history is GitHub squash
    merges (merge-stamped labels), the most recent fifth of the changes can hold few or no
    normal ones (httpx: none of 188), and every metric would be undefined; the held-out changes
    still all follow the fitted ones in time. Never shorter than without ``normal``.
    """
    split = np.full(len(repo), TRAIN, np.int8)
    rng = np.random.default_rng(seed)
    for r in np.unique(repo):
        idx = np.flatnonzero(repo == r)
        idx = idx[np.argsort(time[idx], kind="stable")]
        n_test = min(len(idx) - 1, math.ceil(test_fraction * len(idx))) if len(idx) > 1 else 0
        if normal is not None and n_test > 0:
            n_test = _reach_normal(np.asarray(normal, bool)[idx], n_test, test_fraction)
        if n_test > 0:
            split[idx[len(idx) - n_test :]] = TEST
        rest = idx[: len(idx) - n_test]
        n_val = round(validation_fraction * len(rest))
        if n_val > 0 and len(rest) - n_val >= 1:
            split[rng.choice(rest, n_val, replace=False)] = VAL
    return split


def _reach_normal(normal: np.ndarray, n_test: int, test_fraction: float) -> int:
    """How many of the most recent changes (``normal`` in time order) to hold out so that they
    include ``ceil(test_fraction * normal.sum())`` normal ones: at least ``n_test``, and never
    every change (the fitted period keeps the rest of the normal ones)."""
    need = math.ceil(test_fraction * int(normal.sum()))
    if need == 0 or int(normal[len(normal) - n_test :].sum()) >= need:
        return n_test
    at = np.flatnonzero(normal)[-need]  # the oldest of the last ``need`` normal changes
    return min(len(normal) - 1, max(n_test, len(normal) - int(at)))


FEATURE_BATCH = 256
FEATURE_FORMAT = 7  # bump when RawChange's counts change meaning (6: file_stats, 7: body)


class BatchJob(NamedTuple):
    """One feature batch handed to a worker: its place, what to count, and its commits."""

    position: int
    with_ast: bool
    skip_generated: bool
    skip_formatting: bool
    batch: list[CommitRecord]


_worker_cache: AstCache | None = None


def _extract_batch(job: BatchJob) -> list[RawChange]:
    """One batch's raw counts (runs in a worker; the AST cache lives on in that process).

    Raises:
        ItemStopped: the run asked to stop (:func:`stop_requested`, polled between commits):
            the batch is not done and is counted by the next run.
    """
    global _worker_cache
    if _worker_cache is None:
        _worker_cache = AstCache()
    out: list[RawChange] = []
    for commit in job.batch:
        if stop_requested():  # Ctrl-C / SIGTERM: do not wait for the rest of the batch
            raise ItemStopped(f"feature batch {job.position}")
        out.extend(extract_raw((commit,), with_ast=job.with_ast, cache=_worker_cache,
                               skip_generated=job.skip_generated,
                               skip_formatting=job.skip_formatting))  # fmt: skip
    return out


def _batch_key(job: BatchJob) -> str:
    what = (FEATURE_FORMAT, job.with_ast, job.skip_generated, job.skip_formatting)
    h = hashlib.sha256("\0".join(map(str, what)).encode())
    for c in job.batch:
        h.update(f"\0{c.repo}\0{c.commit_id}".encode())
    return h.hexdigest()


def extract_in_batches(
    commits: Iterable[CommitRecord],
    *,
    with_ast: bool,
    map_fn: MapFn | None = None,
    batch_size: int = FEATURE_BATCH,
    ledger: Ledger | None = None,
    skip_generated: bool = True,
    skip_formatting: bool = True,
) -> Iterator[tuple[tuple[Key, int], RawChange]]:
    """``((repo, commit_id), authored_at), raw counts`` per commit, in the input order.

    Batches go through ``map_fn`` (which may finish them in any order); results are put back
    in order, and each batch's records are dropped once counted, so memory holds raw counts,
    not file contents. With a ``ledger`` (the stage's, scoped to its fingerprint) each finished
    batch is recorded with its counts, so a rerun after an interrupt counts only the rest.

    Raises:
        DatasetStopped: ``map_fn`` returned before every batch was done.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    source = iter(commits)
    n_batches, exhausted, next_out = 0, False, 0
    done: dict[int, list[tuple[tuple[Key, int], RawChange]]] = {}  # counted, not yet yielded
    keys: dict[int, str] = {}

    def counted(batch: list[CommitRecord], raws: Iterable[RawChange]) -> list[Any]:
        return [
            (((c.repo, c.commit_id), c.authored_at), r) for c, r in zip(batch, raws, strict=True)
        ]

    def jobs() -> Iterator[BatchJob]:
        nonlocal n_batches, exhausted
        while batch := list(itertools.islice(source, batch_size)):
            index, n_batches = n_batches, n_batches + 1
            job = BatchJob(index, with_ast, skip_generated, skip_formatting, batch)
            keys[index] = _batch_key(job)
            stored = ledger.get(f"batch:{index}") if ledger is not None else None
            if stored is not None and stored[0] == keys[index]:  # counted by an earlier run
                done[index] = counted(batch, map(RawChange.from_json, stored[1]))
            else:
                yield job
        exhausted = True

    def ready() -> Iterator[tuple[tuple[Key, int], RawChange]]:
        nonlocal next_out
        while next_out in done:
            yield from done.pop(next_out)
            next_out += 1

    for job, raws in (map_fn or in_process_map())(_extract_batch, jobs()):
        if ledger is not None:
            ledger.mark_done(
                f"batch:{job.position}", keys[job.position], [r.to_json() for r in raws]
            )
        done[job.position] = counted(job.batch, raws)
        yield from ready()
    yield from ready()  # trailing batches recorded by an earlier run
    if not exhausted or next_out != n_batches:
        raise DatasetStopped("feature extraction stopped before every commit was counted")


def build_dataset(
    commits: Iterable[CommitRecord],
    labels: LabelMatrixLike | tuple[Sequence[Key], np.ndarray],
    *,
    representation: Kind = "hybrid",
    top_n_identifiers: int = 16,
    test_fraction: float = 0.2,
    validation_fraction: float = 0.1,
    seed: int = 0,
    groups: Sequence[Sequence[Key]] | None = None,
    map_fn: MapFn | None = None,
    batch_size: int = FEATURE_BATCH,
    ledger: Ledger | None = None,
    label_kinds: Mapping[Key, int] | None = None,
    pooled: Mapping[Key, bool] | None = None,
    session_weights: Mapping[Key, tuple[float, float]] | None = None,
    commit_raws: dict[Key, RawChange] | None = None,
    skip_generated: bool = True,
    skip_formatting: bool = True,
    commit_subject: bool = True,
    commit_files: bool = False,
    commit_body: bool = False,
    cross_repo_prior: CrossRepoPrior | None = None,
) -> tuple[Dataset, ChangeRepresentation]:
    """Features + labels -> (Dataset, fitted ChangeRepresentation).

    Args:
        commits: streamed records (with files, diffs and contents for ``hybrid``); only raw
            counts are kept per commit, so memory follows the number of commits.
        labels: keys ``(repo, commit_id)`` and a (keys x samples) matrix of coding hours. A
            squashed group is labelled by its newest labelled member.
        representation: ``tokens``, ``hybrid`` or ``loc`` (the LOC baseline is always added).
        groups: squashed commit groups (lists of keys); their features are summed.
        test_fraction, validation_fraction, seed: see :func:`time_split`.
        map_fn, batch_size, ledger: feature extraction runs in batches of ``batch_size``
            commits through ``map_fn`` (e.g. ``ctx.map``: worker processes, a progress bar;
            default in-process), recorded in ``ledger`` when given (resume); see
            :func:`extract_in_batches`. The result does not depend on any of them.
        label_kinds, pooled: per commit key, its label's interval kind and whether its author
            was pooled (``LabelSet.interval_kind`` / ``.pooled``); a change takes the kind of
            its first commit (a squashed group's label spans from before its first member).
            Missing keys count as normal and not pooled.
        session_weights: per commit key, ``(label_weight, interval minutes)`` of the change that
            key starts (see :class:`Dataset`); missing: ``(1, NaN)``.
        commit_raws: when given, filled with every extracted commit's own raw counts (before
            squashed groups are summed), labelled or not: what ``team_output`` prices later
            (:mod:`~standard_coder.sch.features.commit_counts`).
        skip_generated: leave generated files out of every change's counts
            (:mod:`~standard_coder.sch.features.generated`; ``[training.features] skip_generated``).
        skip_formatting: leave files whose change is formatting only out of every change's
            counts (:mod:`~standard_coder.sch.features.formatting`; ``skip_formatting``).
        commit_subject: the commit subject's counts as feature columns
            (:mod:`~standard_coder.sch.features.subject`; ``commit_subject``).
        commit_files: counts over every file of any language as feature columns
            (:mod:`~standard_coder.sch.features.change_files`; ``commit_files``).
        commit_body: the commit message body's counts as feature columns
            (:mod:`~standard_coder.sch.features.message_body`; ``commit_body``).
        cross_repo_prior: the representation's cross-repository prior (its score becomes the
            ``prior|cross_repo`` column; :mod:`~standard_coder.sch.features.cross_repo`).

    Raises:
        DatasetStopped: ``map_fn`` stopped handing out batches (a stop was requested).

    The representation (vocabulary and scaling) is fitted on the train and validation rows only.
    """
    lab = _labels(labels)
    group_of: dict[Key, int] = {}
    for gi, g in enumerate(groups or ()):
        for k in g:
            group_of[(str(k[0]), str(k[1]))] = gi
    with_ast = representation == "hybrid"
    raws: dict[Any, RawChange] = {}
    members: dict[Any, list[tuple[int, Key]]] = {}
    for (key, authored_at), raw in extract_in_batches(
        commits,
        with_ast=with_ast,
        map_fn=map_fn,
        batch_size=batch_size,
        ledger=ledger,
        skip_generated=skip_generated,
        skip_formatting=skip_formatting,
    ):
        if commit_raws is not None:
            commit_raws[key] = raw
        gid: Any = ("g", group_of[key]) if key in group_of else ("c", key)
        if gid in raws:
            raws[gid].add(raw)
        elif gid[0] == "g":  # a group sums into its own counts, never into a member's
            raws[gid] = RawChange()
            raws[gid].add(raw)
        else:
            raws[gid] = raw
        members.setdefault(gid, []).append((authored_at, key))
    rows: list[tuple[Any, Key, int, np.ndarray, int, Key]] = []
    for gid, mem in members.items():
        mem.sort()
        labelled = [k for _, k in mem if k in lab]
        if not labelled:
            continue
        rows.append((gid, labelled[-1], mem[-1][0], lab[labelled[-1]], len(mem), mem[0][1]))
    if not rows:
        raise ValueError("no change has a label: check that label keys match (repo, commit_id)")
    rows.sort(key=lambda r: (r[1][0], r[2], r[1][1]))
    repo = np.array([r[1][0] for r in rows], str)
    time = np.array([r[2] for r in rows], np.int64)
    kinds, pools, weights = label_kinds or {}, pooled or {}, session_weights or {}
    label_kind = np.array([kinds.get(r[5], 0) for r in rows], np.int8)
    split = time_split(repo, time, test_fraction, validation_fraction, seed, label_kind == 0)
    raw_list = [raws[r[0]] for r in rows]
    fit_rows = [raw_list[i] for i in np.flatnonzero(split != TEST)]
    rep = ChangeRepresentation(kind=representation, top_n_identifiers=top_n_identifiers,
                               skip_generated=skip_generated, skip_formatting=skip_formatting,
                               commit_subject=commit_subject, commit_files=commit_files,
                               commit_body=commit_body,
                               cross_repo_prior=cross_repo_prior)  # fmt: skip
    rep.fit(fit_rows)
    loc = ChangeRepresentation(kind="loc", skip_generated=skip_generated,
                               skip_formatting=skip_formatting).fit(fit_rows)  # fmt: skip
    surface = np.array([r.surface for r in raw_list], np.float64).reshape(-1, len(SURFACE_NAMES))
    missing = float(np.mean([r.ast[-1] > 0 for r in raw_list])) if with_ast else None
    ds = Dataset(
        X=rep.transform(raw_list), X_loc=loc.transform(raw_list),
        Y=np.stack([r[3] for r in rows]).astype(np.float32), surface=surface, repo=repo,
        commit_id=np.array([r[1][1] for r in rows], str),
        n_squashed=np.array([r[4] for r in rows], np.int32), time=time, split=split,
        label_kind=label_kind,
        pooled=np.array([bool(pools.get(r[5], False)) for r in rows], bool),
        label_weight=np.array([weights.get(r[5], (1.0, np.nan))[0] for r in rows], np.float32),
        label_interval_minutes=np.array([weights.get(r[5], (1.0, np.nan))[1] for r in rows]),
        feature_names=list(rep.feature_names_),
        meta={"kind": rep.kind, "top_n_identifiers": top_n_identifiers,
              "checksum": rep.checksum_, "vocabulary_checksum": rep.vocabulary_checksum_,
              "loc_checksum": loc.checksum_, "loc_vocabulary_checksum": loc.vocabulary_checksum_,
              "loc_feature_names": list(loc.feature_names_), "test_fraction": test_fraction,
              "validation_fraction": validation_fraction, "seed": seed,
              "ast_missing_share": missing, "left_out": left_out_counts(raw_list),
              **({"cross_repo_prior_unused": rep.prior_unused_} if rep.prior_unused_ else {})},
    )  # fmt: skip
    return ds, rep
