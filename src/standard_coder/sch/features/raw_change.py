"""A change's raw counts: what is extracted once per change before any vocabulary or scaling.

:func:`extract_raw` counts each change (one commit, or a squashed group summed): its token bag
and surface counts, its Python AST edits, what it left out (generated and formatting-only
files), and the counts of its subject, its files of every language and its message body (NaN
where unknown). :class:`RawChange` round-trips through JSON exactly, so feature batches resume.
The representation (``representation.py``) turns these into scaled feature vectors.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from standard_coder.sch.features.ast_edits import AST_NAMES, AstCache, ast_edit_features
from standard_coder.sch.features.change_files import file_counts, no_file_counts
from standard_coder.sch.features.formatting import is_formatting_only
from standard_coder.sch.features.generated import is_generated
from standard_coder.sch.features.message_body import body_counts, no_body
from standard_coder.sch.features.subject import no_subject, subject_counts
from standard_coder.sch.features.tokens import TokenCounts, file_token_counts
from standard_coder.sch.records import CommitRecord, FileChange

LEFT_OUT_NAMES = ("generated_files", "generated_lines_added", "formatting_files",
                  "formatting_lines_added")  # fmt: skip
"""What :func:`extract_raw` kept out of a change's counts (``RawChange.left_out``)."""


@dataclass
class RawChange:
    """Unscaled counts of one change; ``add`` sums squashed commits."""

    tokens: TokenCounts = field(default_factory=TokenCounts)
    ast: np.ndarray = field(default_factory=lambda: np.zeros(len(AST_NAMES)))
    left_out: np.ndarray = field(default_factory=lambda: np.zeros(len(LEFT_OUT_NAMES)))
    """Files (and their lines added) kept out of the counts, in ``LEFT_OUT_NAMES`` order."""
    subject: np.ndarray = field(default_factory=no_subject)
    """The commit subject's counts (``SUBJECT_NAMES``); NaN where unknown."""
    file_stats: np.ndarray = field(default_factory=no_file_counts)
    """Counts over every file of any language (``FILE_NAMES``); NaN where unknown."""
    body: np.ndarray = field(default_factory=no_body)
    """The message body's counts (``BODY_NAMES``); NaN where unknown."""

    def add(self, other: RawChange) -> None:
        self.tokens.add(other.tokens)
        self.ast = self.ast + other.ast
        self.left_out = self.left_out + other.left_out
        self.subject = np.fmax(self.subject, other.subject)  # a group: its longest, any kind
        self.file_stats = _known_sum(self.file_stats, other.file_stats)
        self.body = _known_sum(self.body, other.body)

    @property
    def surface(self) -> np.ndarray:
        return np.asarray(self.tokens.surface, np.float64)

    def to_json(self) -> list[Any]:
        """A JSON-able form (exact: counts and floats round-trip); see :meth:`from_json`."""
        subject = None if np.isnan(self.subject).all() else self.subject.tolist()
        files = None if np.isnan(self.file_stats).all() else self.file_stats.tolist()
        body = None if np.isnan(self.body).all() else self.body.tolist()
        return [dict(self.tokens.bag), list(self.tokens.surface), self.ast.tolist(),
                self.left_out.tolist(), subject, files, body]  # fmt: skip

    @classmethod
    def from_json(cls, obj: list[Any]) -> RawChange:
        """Inverse of :meth:`to_json`."""
        bag, surface, ast_counts, left_out, *rest = obj
        subject = rest[0] if rest else None
        files = rest[1] if len(rest) > 1 else None
        body = rest[2] if len(rest) > 2 else None
        return cls(
            tokens=TokenCounts(bag=Counter(bag), surface=[float(v) for v in surface]),
            ast=np.asarray(ast_counts, np.float64),
            left_out=np.asarray(left_out, np.float64),
            subject=no_subject() if subject is None else np.asarray(subject, np.float64),
            file_stats=no_file_counts() if files is None else np.asarray(files, np.float64),
            body=no_body() if body is None else np.asarray(body, np.float64),
        )


def _known_sum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A group's counts: the sum of its known commits' (NaN only where none is known)."""
    return np.where(np.isnan(a), b, np.where(np.isnan(b), a, a + b))


Change = CommitRecord | Sequence[CommitRecord]


def left_out_counts(raws: Iterable[RawChange]) -> dict[str, int]:
    """What the changes' counts left out, summed: ``{name: n}`` over ``LEFT_OUT_NAMES``."""
    total = np.zeros(len(LEFT_OUT_NAMES))
    for r in raws:
        total += r.left_out
    return {name: int(v) for name, v in zip(LEFT_OUT_NAMES, total, strict=True)}


def _leave_out(
    files: Sequence[FileChange], test: Callable[[FileChange], bool]
) -> tuple[tuple[FileChange, ...], tuple[int, int]]:
    """The files ``test`` does not pick, and how many it picked with their lines added."""
    kept: list[FileChange] = []
    n_files = n_lines = 0
    for f in files:
        if test(f):
            n_files, n_lines = n_files + 1, n_lines + f.lines_added
        else:
            kept.append(f)
    return tuple(kept), (n_files, n_lines)


def extract_raw(
    changes: Iterable[Change],
    *,
    with_ast: bool = True,
    cache: AstCache | None = None,
    skip_generated: bool = True,
    skip_formatting: bool = True,
) -> list[RawChange]:
    """Raw counts per change; a change is a commit or a group of commits (a squash: summed).
    ``skip_generated``: files that say they were generated are left out (``generated.py``);
    ``skip_formatting``: so are files whose change is formatting only (``formatting.py``)."""
    cache = cache or AstCache()
    out: list[RawChange] = []
    for ch in changes:
        group = (ch,) if isinstance(ch, CommitRecord) else tuple(ch)
        raw = RawChange()
        for c in group:
            files, left_out = c.files, np.zeros(len(LEFT_OUT_NAMES))
            if skip_generated:
                files, left_out[0:2] = _leave_out(files, is_generated)
            if skip_formatting:
                files, left_out[2:4] = _leave_out(files, is_formatting_only)
            one = RawChange(tokens=file_token_counts(files), left_out=left_out,
                            subject=subject_counts(c.subject),
                            file_stats=file_counts(c.file_stats),
                            body=body_counts(c.body))  # fmt: skip
            if with_ast:
                one.ast = ast_edit_features(files, cache)
            raw.add(one)
        out.append(raw)
    return out
