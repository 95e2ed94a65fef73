"""Every mined commit's raw feature counts, in a fitted representation's vocabulary order.

``train_sch`` extracts every commit's counts (token bag, surface counts, Python AST edits) to
build its dataset; ``team_output`` prices the same commits one by one with the same
representation. This file, ``features/commit_counts.npz``, carries the counts from the first to
the second so the AST and token extraction runs once: ``rep.scale_counts(counts.rows(keys))``
equals ``rep.transform(commits)`` bit for bit (the counts are exact float64, summed in the
same order).

Layout (pickle-free npz): ``repo``, ``commit_id`` (str, one per commit), CSR arrays ``indptr``,
``indices``, ``data`` (the non-zero counts), ``n_features``, ``vocabulary_checksum`` (of the
representation whose ``feature_names_`` order the columns follow) and ``format``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from standard_coder.sch.features._io import atomic_write_bytes, npz_bytes
from standard_coder.sch.features.raw_change import RawChange
from standard_coder.sch.features.representation import ChangeRepresentation

COUNTS_FORMAT = "standard_coder.commit_counts/1"
ROWS_PER_BLOCK = 4096  # dense rows held at once while writing (memory flat in history size)
Key = tuple[str, str]


class CommitCountsError(ValueError):
    """The counts file is unreadable, of another format, or of another vocabulary."""


class CommitCounts:
    """Raw count rows by ``(repo, commit_id)``, in the vocabulary of ``vocabulary_checksum``."""

    def __init__(
        self,
        keys: Sequence[Key],
        indptr: np.ndarray,
        indices: np.ndarray,
        data: np.ndarray,
        n_features: int,
        vocabulary_checksum: str,
    ) -> None:
        self._row = {k: i for i, k in enumerate(keys)}
        self.indptr, self.indices, self.data = indptr, indices, data
        self.n_features = n_features
        self.vocabulary_checksum = vocabulary_checksum

    def __len__(self) -> int:
        return len(self._row)

    def __contains__(self, key: object) -> bool:
        return key in self._row

    def rows(self, keys: Sequence[Key]) -> np.ndarray:
        """Dense float64 counts, one row per key (KeyError for a commit it does not hold)."""
        out = np.zeros((len(keys), self.n_features), np.float64)
        for i, k in enumerate(keys):
            r = self._row[k]
            lo, hi = self.indptr[r], self.indptr[r + 1]
            out[i, self.indices[lo:hi]] = self.data[lo:hi]
        return out


def save_commit_counts(
    path: Path, rep: ChangeRepresentation, raws: Mapping[Key, RawChange]
) -> Path:
    """Write ``raws`` (one commit each) as counts in ``rep``'s vocabulary order, atomically."""
    keys = list(raws)
    indices: list[np.ndarray] = []
    data: list[np.ndarray] = []
    per_row = np.zeros(len(keys), np.int64)
    for lo in range(0, len(keys), ROWS_PER_BLOCK):  # dense counts one block at a time
        block = rep.raw_matrix([raws[k] for k in keys[lo : lo + ROWS_PER_BLOCK]])
        nz_rows, nz_cols = np.nonzero(block)
        per_row[lo : lo + len(block)] = np.bincount(nz_rows, minlength=len(block))
        indices.append(nz_cols.astype(np.int32))
        data.append(block[nz_rows, nz_cols])
    indptr = np.zeros(len(keys) + 1, np.int64)
    np.cumsum(per_row, out=indptr[1:])
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_bytes(
        path,
        npz_bytes(
            format=np.array(COUNTS_FORMAT),
            repo=np.array([k[0] for k in keys], str),
            commit_id=np.array([k[1] for k in keys], str),
            indptr=indptr,
            indices=np.concatenate(indices) if indices else np.zeros(0, np.int32),
            data=np.concatenate(data) if data else np.zeros(0, np.float64),
            n_features=np.array(rep.n_features, np.int64),
            vocabulary_checksum=np.array(rep.vocabulary_checksum_),
        ),
    )


def load_commit_counts(path: Path, rep: ChangeRepresentation) -> CommitCounts:
    """The counts written by :func:`save_commit_counts` for ``rep``'s vocabulary.

    Raises:
        CommitCountsError: unreadable, another format, or another vocabulary than ``rep``'s
            (the message names the file and the cause).
    """
    import zipfile

    try:
        with np.load(path, allow_pickle=False) as z:
            a = {k: np.array(z[k]) for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise CommitCountsError(f"{path}: unreadable ({e})") from e
    need = ("format", "repo", "commit_id", "indptr", "indices", "data", "n_features",
            "vocabulary_checksum")  # fmt: skip
    missing = [k for k in need if k not in a]
    if missing:
        raise CommitCountsError(f"{path}: missing arrays {missing}")
    if str(a["format"]) != COUNTS_FORMAT:
        raise CommitCountsError(f"{path}: unknown format {str(a['format'])!r}")
    if str(a["vocabulary_checksum"]) != rep.vocabulary_checksum_:
        raise CommitCountsError(f"{path}: counts of another vocabulary than the representation's")
    n = len(a["repo"])
    width = int(a["n_features"])
    if len(a["commit_id"]) != n or a["indptr"].shape != (n + 1,) or width != rep.n_features:
        raise CommitCountsError(f"{path}: inconsistent shapes")
    if len(a["indices"]) != len(a["data"]) or int(a["indptr"][-1]) != len(a["data"]):
        raise CommitCountsError(f"{path}: inconsistent shapes")
    if len(a["indices"]) and not 0 <= int(a["indices"].min()) <= int(a["indices"].max()) < width:
        raise CommitCountsError(f"{path}: column index out of range")
    keys = list(zip(a["repo"].tolist(), a["commit_id"].tolist(), strict=True))
    return CommitCounts(keys, a["indptr"], a["indices"], a["data"], width, rep.vocabulary_checksum_)
