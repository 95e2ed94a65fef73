"""What a change did outside the code its token counts see, as feature columns.

``files|...`` (:data:`FILE_NAMES`): a commit's counts over every file it touches, of any
language (``CommitRecord.file_stats``, kept by the mine in ``commit_files``): lines added and
deleted in files of no enabled language, of which documentation and configuration lines added,
files touched and the distinct folders they are in. A squashed group sums its commits' counts.

A change whose counts are unknown (a database mined before they were kept, a commit git could
not diff) has NaN in every column, which the representation reads as "unknown" and gives the
fitted changes' mean (``[training.features] commit_files``; docs/effort-models.md, "Files of
every language").
"""

from __future__ import annotations

import numpy as np

from standard_coder.sch.records import FILE_STAT_NAMES

FILES_PREFIX = "files|"
"""What every column of a change's files of any language starts with."""
FILE_NAMES: tuple[str, ...] = tuple(FILES_PREFIX + n for n in FILE_STAT_NAMES)
"""Column names of a change's file counts, in ``FILE_STAT_NAMES`` order."""


def no_file_counts() -> np.ndarray:
    """The counts of a change whose files are unknown: NaN in every column."""
    return np.full(len(FILE_NAMES), np.nan)


def file_counts(stats: tuple[int, ...] | None) -> np.ndarray:
    """A commit's ``file_stats`` as a float vector (NaN: unknown)."""
    if stats is None:
        return no_file_counts()
    if len(stats) != len(FILE_NAMES):
        raise ValueError(f"file counts have {len(stats)} values, expected {len(FILE_NAMES)}")
    return np.asarray(stats, np.float64)
