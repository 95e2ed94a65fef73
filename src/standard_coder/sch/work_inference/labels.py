"""The work-inference stage body: per-author models, label samples, resumable by author.

Each author with at least ``min_commits_per_author`` commits is one work item; all smaller
authors together are one more item (``pooled``) fitted by a single model with shared parameters
over their concatenated histories (each author keeps its own segments, local time axis and
intervals; see docs/work-inference.md). Nothing is dropped: every commit gets a label row.

Per item the worker writes ``<out_dir>/<kind>/<name>.npz`` (labels + learned state, pickle-free)
and ``<name>.json`` (summary), both atomically; the parent marks the item done in the ledger.
On a rerun an item is reused iff its npz holds the same key; otherwise it is refitted.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import re
import zipfile
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from standard_coder.runner.atomic import atomic_write, atomic_write_bytes
from standard_coder.runner.executor import ItemStopped, in_process_map
from standard_coder.sch.work_inference.base import WorkInferenceModel, recent_active
from standard_coder.sch.work_inference.hmm import NeuralHMM
from standard_coder.sch.work_inference.options import (
    GapOptions,
    HMMOptions,
    WorkInferenceOptions,
    make_model,
)
from standard_coder.sch.work_inference.timeline import (
    interval_kinds,
    local_commits,
    short_interval_ratio,
    timeline_labels,
)

__all__ = [
    "AuthorHistory",
    "GapOptions",
    "HMMOptions",
    "LabelSet",
    "WorkInferenceOptions",
    "WorkInferenceStopped",
    "infer_labels",
    "interval_kinds",
    "make_model",
    "short_interval_ratio",
]

log = logging.getLogger(__name__)
POOLED = "pooled"
T = TypeVar("T")
R = TypeVar("R")


class WorkInferenceStopped(Exception):
    """``should_stop()`` turned true before every author was fitted; rerun to resume."""


@dataclass(frozen=True)
class AuthorHistory:
    """One author's commits across all repos, sorted by time."""

    author_id: str
    times: np.ndarray
    """int64 unix seconds (author dates)."""
    tz_offsets: np.ndarray
    """int64 minutes east of UTC."""
    keys: tuple[tuple[str, str], ...]
    """``(repo, commit_id)`` per commit."""
    stamped: np.ndarray | None = None
    """bool per commit: its time is a merge time, not an authoring time (GitHub squash merge,
    ``mining.store.merge_stamped_commits``); None: none is."""

    @classmethod
    def from_tuple(
        cls,
        author_id: str,
        data: tuple[np.ndarray, np.ndarray, Sequence[tuple[str, str]]],
        stamped: Collection[tuple[str, str]] = (),
    ) -> AuthorHistory:
        """From ``mining.store.load_commit_times(...)[author_id]`` (any order; sorted here);
        ``stamped``: keys of merge-stamped commits (any author's)."""
        times = np.asarray(data[0]).astype(np.int64)
        tz = np.asarray(data[1]).astype(np.int64)
        keys = [(str(r), str(c)) for r, c in data[2]]
        if not (times.shape == tz.shape and times.shape[0] == len(keys)):
            raise ValueError(f"author {author_id}: times, offsets and keys differ in length")
        order = sorted(range(len(keys)), key=lambda i: (int(times[i]), keys[i]))
        idx = np.asarray(order, dtype=np.int64)
        sorted_keys = tuple(keys[i] for i in order)
        flags = np.array([k in stamped for k in sorted_keys], dtype=bool)
        return cls(author_id, times[idx], tz[idx], sorted_keys, flags if flags.any() else None)

    def __len__(self) -> int:
        return len(self.keys)

    def stamped_mask(self) -> np.ndarray:
        if self.stamped is None:
            return np.zeros(len(self), dtype=bool)
        return np.asarray(self.stamped, dtype=bool)

    def digest(self) -> str:
        h = hashlib.sha256(self.author_id.encode())
        h.update(self.times.astype("<i8").tobytes())
        h.update(self.tz_offsets.astype("<i8").tobytes())
        if self.stamped is not None:
            h.update(b"stamped" + np.packbits(self.stamped_mask()).tobytes())
        for repo, cid in self.keys:
            h.update(f"\0{repo}\0{cid}".encode())
        return h.hexdigest()


@dataclass(frozen=True)
class LabelSet:
    """Per-commit coding-time labels: commit keys aligned with a ``commits x samples`` matrix.

    Attributes:
        kind: "hmm" or "gap".
        keys: ``(repo, commit_id)`` per row.
        authors: author id per row.
        samples_hours: float32 ``n x label_samples_per_commit`` coding-time samples in HOURS.
        expected_minutes: float64 expected coding minutes per row (exact posterior mean).
        interval_minutes: float64 wall-clock minutes since the author's previous commit (NaN
            for an author's first commit).
        interval_kind: int8, 0 normal, 1 first commit, 2 after a long inactivity gap (from the
            commit times alone, the same for every model: :func:`interval_kinds`).
        pooled: bool, the row's author was fitted by the pooled model.
        fitted_items: item ids fitted by this call (the rest were reused from disk).
        last_session_minutes: float64 expected coding minutes of the session that ends with
            the commit (the HMM's last coding bout; the gap heuristic credits only that session,
            so there it equals ``expected_minutes``). ``last_session_minutes / expected_minutes``
            is the share of the label that belongs to the session the commit closes.
    """

    kind: str
    keys: tuple[tuple[str, str], ...]
    authors: tuple[str, ...]
    samples_hours: np.ndarray
    expected_minutes: np.ndarray
    interval_minutes: np.ndarray
    interval_kind: np.ndarray
    pooled: np.ndarray
    fitted_items: tuple[str, ...] = ()
    last_session_minutes: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.keys)


# ---------------------------------------------------------------------------- persistence
def _item_name(item_id: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", item_id)[:60]
    return f"{safe}-{hashlib.sha256(item_id.encode()).hexdigest()[:10]}"


@dataclass(frozen=True)
class _WorkItem:
    item_id: str
    key: str
    kind: str
    histories: tuple[AuthorHistory, ...]
    options: WorkInferenceOptions
    seed: int
    path: str


def _fit_item(item: _WorkItem) -> dict[str, Any]:
    """Fit one item and write its npz + json (runs in a worker; top-level, picklable)."""
    hs = item.histories
    times = np.concatenate([h.times for h in hs])
    tz = np.concatenate([h.tz_offsets for h in hs])
    groups = np.concatenate([np.full(len(h), g, dtype=np.int64) for g, h in enumerate(hs)])
    local = local_commits(groups, np.concatenate([h.stamped_mask() for h in hs]), item.options)
    span_days = max(float((h.times[-1] - h.times[0]) / 86400) for h in hs)

    def make(kind: str) -> Callable[[], WorkInferenceModel]:
        return lambda: make_model(kind, item.options, random_state=item.seed, span_days=span_days)

    try:
        model, rows = timeline_labels(make(item.kind), times, tz, groups, local, item.options)
    except ItemStopped:
        raise ItemStopped(item.item_id) from None
    kinds = rows["kind"]
    label_source = item.kind
    ratio = None
    if isinstance(model, NeuralHMM):
        own = local & np.isfinite(rows["interval"])
        ratio = short_interval_ratio(
            rows["expected"][own],
            rows["interval"][own],
            kinds[own],
            item.options.short_interval_minutes,
        )
        if ratio is not None and ratio < item.options.min_short_ratio:
            _, rows = timeline_labels(make("gap"), times, tz, groups, local, item.options)
            label_source = "gap"
    samples, expected = rows["samples"], rows["expected"]
    arrays: dict[str, np.ndarray] = {
        "key": np.array(item.key),
        "item_id": np.array(item.item_id),
        "authors": np.array([h.author_id for h in hs for _ in range(len(h))], dtype=str),
        "repos": np.array([k[0] for h in hs for k in h.keys], dtype=str),
        "commit_ids": np.array([k[1] for h in hs for k in h.keys], dtype=str),
        "samples_hours": (samples / 60.0).astype(np.float32),
        "expected_minutes": expected,
        "interval_minutes": rows["interval"],
        "interval_kind": kinds,
        "last_session_minutes": rows["last"],
        "stamped": ~local,
    }
    summary: dict[str, Any] = {
        "item_id": item.item_id,
        "key": item.key,
        "kind": item.kind,
        "authors": [h.author_id for h in hs],
        "n_commits": int(times.shape[0]),
        "params": {k: v for k, v in model.get_params().items()},
        "label_source": label_source,
        "short_interval_ratio": ratio,
        "n_out_of_timeline": int((~local).sum()),
    }
    if isinstance(model, NeuralHMM):
        arrays["model_s_table"] = model.s_table_
        arrays["model_e_table"] = model.e_table_
        arrays["model_c"] = np.array(model.c_)
        if model.b_table_ is not None:
            arrays["model_b_table"] = model.b_table_
            arrays["model_r"] = np.array(model.r_)
        if model.q_ is not None:
            arrays["model_q"] = np.array(model.q_)
        arrays["model_loglik_history"] = model.loglik_history_
        for name, value in model.net_state_.items():
            arrays[f"model_net_{name}"] = value
        summary.update(
            c=model.c_,
            break_prob_median=(
                None if model.b_table_ is None else float(np.median(model.b_table_))
            ),
            return_prob=model.r_ if model.b_table_ is not None else None,
            phase_rate=model.q_,
            loglik=float(model.loglik_history_[-1]) if model.loglik_history_.size else None,
            epochs_run=model.epochs_run_,
            n_minutes=model.n_minutes_,
            time_bins=model.time_bins,
            fit_seconds=round(model.fit_seconds_, 3),
        )
    path = Path(item.path)
    # The summary first, the npz last: the npz (holding the item key) is the commit marker, so a
    # kill in between leaves a summary without results, which is refitted, never the reverse.
    text = json.dumps(summary, indent=1, sort_keys=True, default=str).encode()
    atomic_write(path.with_suffix(".json"), lambda fh: fh.write(text))
    atomic_write(path, lambda fh: np.savez(fh, **arrays))  # type: ignore[arg-type]
    return {
        "item_id": item.item_id,
        "key": item.key,
        "file": path.name,
        "n_commits": summary["n_commits"],
    }


def _load_item(path: Path, key: str) -> dict[str, np.ndarray] | None:
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["key"]) != key:
                return None
            return {k: z[k] for k in z.files if not k.startswith("model_")}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        log.info("work inference: unreadable %s (%s); refitting", path, exc)
        return None


def _reuse_item(earlier: Path, path: Path, key: str) -> dict[str, np.ndarray] | None:
    """An item another run fitted under the same key, copied to ``path`` (its summary too)."""
    if earlier.resolve() == path.resolve():
        return None
    got = _load_item(earlier, key)
    if got is None:
        return None
    for src, dst in ((earlier, path), (earlier.with_suffix(".json"), path.with_suffix(".json"))):
        if src.exists():
            atomic_write_bytes(dst, src.read_bytes())
    return got


# ---------------------------------------------------------------------------- orchestration
def active_minutes(history: AuthorHistory, options: WorkInferenceOptions) -> int:
    """Minutes the HMM covers for one author: the history window, gaps over the split left out."""
    t = history.times
    if t.shape[0] < 2:
        return 0
    t = t[recent_active(t, options.hmm.history_days, options.hmm.split_inactive_days)]
    gaps = np.diff(t) / 60.0
    return int(gaps[gaps <= options.hmm.split_inactive_days * 1440].sum())


def pooled_groups(
    small: Mapping[str, AuthorHistory], options: WorkInferenceOptions
) -> list[tuple[str, tuple[str, ...]]]:
    """Authors below ``min_commits_per_author`` as pooled items of at most
    ``hmm.pooled_max_minutes`` each (the fit's cost grows with the minutes it covers), packed
    in author order so the split is deterministic. One item is called ``pooled``; several are
    ``pooled:0``, ``pooled:1``, ... Each item is fitted, resumed and parallelised on its own.
    """
    budget = max(1, options.hmm.pooled_max_minutes)
    chunks: list[list[str]] = []
    used = 0
    for author in sorted(small):
        minutes = active_minutes(small[author], options)
        if not chunks or (used + minutes > budget and chunks[-1]):
            chunks.append([])
            used = 0
        chunks[-1].append(author)
        used += minutes
    if len(chunks) == 1:
        return [(POOLED, tuple(chunks[0]))]
    return [(f"{POOLED}:{i}", tuple(c)) for i, c in enumerate(chunks)]


def _takes_done(map_fn: Callable[..., Any]) -> bool:
    """Whether ``map_fn`` accepts the ``done=`` keyword (``ctx.map`` does; a plain
    :data:`~standard_coder.runner.executor.MapFn` does not)."""
    try:
        params = inspect.signature(map_fn).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature
        return False
    return any(p.name == "done" or p.kind is p.VAR_KEYWORD for p in params)


def infer_labels(
    authors: Mapping[str, AuthorHistory],
    options: WorkInferenceOptions,
    *,
    kind: str,
    out_dir: Path,
    seed: int,
    map_fn: Callable[..., Iterator[tuple[Any, Any]]] | None = None,
    ledger: Any = None,
    should_stop: Callable[[], bool] = lambda: False,
    reuse_dir: Path | None = None,
) -> LabelSet:
    """Fit work inference per author (resumably) and return every commit's label samples.

    Args:
        authors: author id -> history (all of the author's commits, any repo).
        options: hyperparameters; part of every item's key.
        kind: "hmm" or "gap".
        out_dir: results go to ``out_dir/<kind>/`` (npz + json per item).
        seed: run seed; each item's seed derives from it and the item id only.
        map_fn: ``ctx.map``-like ``map_fn(fn, items) -> iterator of (item, result)``; one
            that takes a ``done=n`` keyword is given the items an earlier run fitted (its
            progress counts on from there); default in-process and serial.
        ledger: optional ``Ledger`` (parent-only); items are marked done with their key.
        should_stop: polled between items by the default map; when it is true at the end and
            items are missing, ``WorkInferenceStopped`` is raised.
        reuse_dir: an earlier ``out_dir`` (the last completed run's, when this one writes
            elsewhere): an item found there under the same key is copied, not refitted.

    Returns:
        A ``LabelSet`` with rows grouped by author (authors sorted, commits by time).
    """
    if kind not in ("hmm", "gap"):
        raise ValueError(f"Unknown work-inference kind {kind!r}, expected one of ['gap', 'hmm'].")
    target = Path(out_dir) / kind
    target.mkdir(parents=True, exist_ok=True)
    opt_digest = options.digest(kind)
    small = sorted(a for a, h in authors.items() if 0 < len(h) < options.min_commits_per_author)
    big = sorted(a for a, h in authors.items() if len(h) >= options.min_commits_per_author)
    groups: list[tuple[str, tuple[str, ...]]] = [(f"author:{a}", (a,)) for a in big]
    groups.extend(pooled_groups({a: authors[a] for a in small}, options))
    # the progress bar counts fits, not authors ("0/6" on a history of 119 authors): say both
    log.info(
        "work inference %s: %d fits for %d authors (%d with %d+ commits each fitted alone, %d "
        "with fewer in %d pooled fit(s))", kind, len(groups), len(big) + len(small), len(big),
        options.min_commits_per_author, len(small), len(groups) - len(big),
    )  # fmt: skip
    items: list[_WorkItem] = []
    for item_id, members in groups:
        h = hashlib.sha256(f"{item_id}\0{opt_digest}\0{seed}".encode())
        for a in members:
            h.update(authors[a].digest().encode())
        key = h.hexdigest()
        item_seed = int.from_bytes(
            hashlib.sha256(f"{seed}\0{item_id}".encode()).digest()[:4], "little"
        )
        items.append(
            _WorkItem(
                item_id=item_id,
                key=key,
                kind=kind,
                histories=tuple(authors[a] for a in members),
                options=options,
                seed=item_seed,
                path=str(target / f"{_item_name(item_id)}.npz"),
            )
        )
    loaded: dict[str, dict[str, np.ndarray]] = {}
    pending: list[_WorkItem] = []
    copied = 0
    for it in items:
        got = _load_item(Path(it.path), it.key)
        if got is None and reuse_dir is not None:
            got = _reuse_item(Path(reuse_dir) / kind / Path(it.path).name, Path(it.path), it.key)
            copied += got is not None
        if got is None:
            pending.append(it)
        else:
            loaded[it.item_id] = got
            if ledger is not None and not ledger.is_done(it.item_id, it.key):
                ledger.mark_done(it.item_id, it.key, {"file": Path(it.path).name})
    if copied:  # said, since a forced stage otherwise looks as if it skipped the fits
        log.info(
            "work inference %s: %d of %d items copied from the last completed run (the same "
            "history, options, seed and code give the same bytes; delete %s to refit them)",
            kind,
            copied,
            len(items),
            Path(reuse_dir or "") / kind,
        )
    fitted: list[str] = []
    if pending:
        fits = (
            (
                map_fn(_fit_item, pending, done=len(items) - len(pending))
                if _takes_done(map_fn)
                else map_fn(_fit_item, pending)
            )
            if map_fn is not None
            else in_process_map(should_stop)(_fit_item, pending)
        )
        for it, result in fits:
            got = _load_item(Path(it.path), it.key)
            if got is None:
                raise RuntimeError(f"work inference: {it.path} missing after fitting {it.item_id}")
            loaded[it.item_id] = got
            fitted.append(it.item_id)
            if ledger is not None:
                ledger.mark_done(it.item_id, it.key, result)
            log.info(
                "work inference %s: fitted %s (%d commits)",
                kind,
                it.item_id,
                result.get("n_commits", 0),
            )
    missing = [it.item_id for it in items if it.item_id not in loaded]
    if missing:
        if should_stop():
            raise WorkInferenceStopped(f"{len(missing)} work-inference items left; rerun to resume")
        raise RuntimeError(f"work inference: items not fitted: {missing[:5]}")
    return _assemble(kind, items, loaded, tuple(fitted))


def _assemble(
    kind: str,
    items: list[_WorkItem],
    loaded: dict[str, dict[str, np.ndarray]],
    fitted: tuple[str, ...],
) -> LabelSet:
    names = (
        "repos",
        "commit_ids",
        "authors",
        "samples_hours",
        "expected_minutes",
        "interval_minutes",
        "interval_kind",
        "last_session_minutes",
    )
    if not items:
        return LabelSet(
            kind,
            (),
            (),
            np.zeros((0, 0), np.float32),
            np.zeros(0),
            np.zeros(0),
            np.zeros(0, np.int8),
            np.zeros(0, bool),
            fitted,
        )
    cat = {k: np.concatenate([loaded[it.item_id][k] for it in items]) for k in names}
    pooled = np.concatenate(
        [
            np.full(loaded[it.item_id]["authors"].shape[0], it.item_id.startswith(POOLED))
            for it in items
        ]
    )
    # rows of one author are in time order inside their item; sort authors, keep that order
    order = np.argsort(cat["authors"], kind="stable")
    return LabelSet(
        kind=kind,
        keys=tuple(
            zip(cat["repos"][order].tolist(), cat["commit_ids"][order].tolist(), strict=True)
        ),
        authors=tuple(cat["authors"][order].tolist()),
        samples_hours=cat["samples_hours"][order],
        expected_minutes=cat["expected_minutes"][order],
        interval_minutes=cat["interval_minutes"][order],
        interval_kind=cat["interval_kind"][order],
        pooled=pooled[order],
        fitted_items=fitted,
        last_session_minutes=cat["last_session_minutes"][order],
    )
