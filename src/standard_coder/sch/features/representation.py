"""``ChangeRepresentation``: a change (one commit or a squashed group) -> a scaled feature vector.

Raw counts are extracted once per change (:func:`extract_raw`), the vocabulary and scaling are
fitted on the training changes only, and the transform is ``(log1p(count) - mean) / std``.
The fitted state is saved pickle-free (``representation.json`` + ``scaling.npz``) with a
SHA-256 checksum over settings, vocabulary and scaling; a vocabulary checksum (settings and
feature names only) travels into model checkpoints so a model never meets another vocabulary.
"""

from __future__ import annotations

import hashlib
import json
import math
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from standard_coder.runner.jsonfile import FieldTypes, field_problem, read_json_object
from standard_coder.sch.features._io import atomic_write_bytes, atomic_write_text, npz_bytes
from standard_coder.sch.features.ast_edits import AST_NAMES
from standard_coder.sch.features.change_files import FILE_NAMES
from standard_coder.sch.features.cross_repo import COLUMN as PRIOR_COLUMN
from standard_coder.sch.features.cross_repo import (
    MIN_LANGUAGE_SHARE,
    CrossRepoPrior,
    CrossRepoPriorError,
)
from standard_coder.sch.features.loc import LOC_NAMES
from standard_coder.sch.features.message_body import BODY_NAMES
from standard_coder.sch.features.raw_change import Change, RawChange, extract_raw
from standard_coder.sch.features.subject import SUBJECT_NAMES
from standard_coder.sch.features.tokens import SURFACE_NAMES

Kind = Literal["tokens", "hybrid", "loc"]
FORMAT = "standard_coder.change_representation/1"
OTHER_ID = "<other>"
PRIOR_FILE = "cross_repo_prior.npz"
"""The prior a representation carries, saved beside ``representation.json``."""


class RepresentationMismatch(ValueError):
    """A saved representation or a model was built for another vocabulary or settings."""


class RepresentationUnreadable(RepresentationMismatch):
    """A saved representation's file is missing, truncated or malformed: the message names the
    file and says what is wrong with it in words (``not valid JSON``, ``missing key 'kind'``)."""


_META_TYPES: FieldTypes = {
    "format": str, "kind": str, "top_n_identifiers": int, "skip_generated": bool,
    "skip_formatting": bool, "commit_subject": bool, "commit_files": bool, "commit_body": bool,
    "cross_repo_prior": str, "cross_repo_prior_unused": str, "feature_names": list,
    "checksum": str, "vocabulary_checksum": str,
}  # fmt: skip
"""The keys ``representation.json`` may hold, with the type each must have."""
_META_REQUIRED = ("format", "kind", "top_n_identifiers", "feature_names", "checksum")
_NAMES_SAID = {"feature_names": "a list of strings"}


def _read_meta(path: Path) -> dict[str, Any]:
    """``representation.json``, its keys' types checked.

    Raises:
        RepresentationUnreadable: missing, unreadable, not JSON, a key missing or of a wrong type.
    """
    meta = read_json_object(path, RepresentationUnreadable, "representation")
    if "format" not in meta:
        raise RepresentationUnreadable(f"{path}: missing key 'format'")
    if meta["format"] != FORMAT:  # another format: its keys may differ (load names it)
        return meta
    names = meta.get("feature_names")
    problem = field_problem(meta, _META_TYPES, _META_REQUIRED, said=_NAMES_SAID) or (
        "'feature_names' is not a list of strings"
        if not all(isinstance(n, str) for n in names or ())
        else None
    )
    if problem:
        raise RepresentationUnreadable(f"{path}: {problem}")
    if meta["kind"] not in ("tokens", "hybrid", "loc"):
        raise RepresentationUnreadable(f"{path}: 'kind' {meta['kind']!r} is not tokens, hybrid "
                                       "or loc")  # fmt: skip
    return meta


def _read_scaling(path: Path) -> dict[str, np.ndarray]:
    """``scaling.npz``'s arrays (``mean``, ``scale``, and the subject references when saved).

    Raises:
        RepresentationUnreadable: missing, truncated or not the arrays saved.
    """
    try:
        with np.load(path, allow_pickle=False) as z:
            for key in ("mean", "scale"):
                if key not in z.files:
                    raise RepresentationUnreadable(f"{path}: missing array {key!r}")
            return {k: np.array(z[k]) for k in z.files}
    except FileNotFoundError:
        raise RepresentationUnreadable(f"{path}: missing") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        if isinstance(e, RepresentationUnreadable):
            raise
        raise RepresentationUnreadable(
            f"{path}: not a readable .npz of arrays (truncated or edited)"
        ) from None


SUBJECT_REFERENCES = 64
"""How many of the fitted changes' most frequent subject counts an unknown subject is scored
over (by a prior that reads subjects)."""


def _frequent_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The :data:`SUBJECT_REFERENCES` most frequent known (NaN-free) rows and their shares."""
    known = rows[~np.isnan(rows).any(axis=1)]
    if not len(known):
        return np.zeros((0, rows.shape[1])), np.zeros(0)
    unique, count = np.unique(known, axis=0, return_counts=True)
    top = np.argsort(-count, kind="stable")[:SUBJECT_REFERENCES]
    return unique[top], count[top] / count[top].sum()


def _known_mean(counts: np.ndarray) -> np.ndarray:
    """Per column, the mean ``log1p`` of the known (not NaN) counts; 0 where none is known."""
    logs = np.log1p(np.maximum(counts, 0.0))
    seen = ~np.isnan(logs).all(axis=0)
    mean = np.zeros(counts.shape[1])
    mean[seen] = np.nanmean(logs[:, seen], axis=0)
    return mean


def _sha(obj: Any, *arrays: np.ndarray) -> str:
    h = hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode())
    for a in arrays:
        h.update(np.ascontiguousarray(a, dtype="<f8").tobytes())
    return h.hexdigest()


class ChangeRepresentation:
    """Fit-on-train feature map for changes.

    Args:
        kind: ``tokens`` (token bag + surface counts), ``hybrid`` (+ Python AST edits) or
            ``loc`` (lines added and deleted only: the baseline).
        top_n_identifiers: most frequent identifiers per language kept as their own tokens;
            the rest count into ``<lang>|id|<other>``.
        skip_generated: leave generated files out of every change (``generated.py``);
        skip_formatting: and files whose change is formatting only (``formatting.py``); a
            representation saved before an option existed loads with it off, as it was fitted.
        commit_subject: the commit subject's counts as columns ``subject|...``
            (``subject.py``; ``tokens`` and ``hybrid`` only). A change without a subject (a
            working tree, a patch) gets the fitted changes' mean in them: unknown, not short.
        commit_files: a commit's counts over every file it touches, of any language, as
            columns ``files|...`` (``change_files.py``; ``tokens`` and ``hybrid`` only); a
            change whose files are unknown gets the fitted changes' mean in them.
        commit_body: the commit message body's counts as columns ``body|...``
            (``message_body.py``; ``tokens`` and ``hybrid`` only); a change whose message is
            unknown gets the fitted changes' mean in them.
        cross_repo_prior: a :class:`~standard_coder.sch.features.cross_repo.CrossRepoPrior`
            whose score of the change's counts becomes one more column, ``prior|cross_repo``
            (``tokens`` and ``hybrid`` only; scaled like the others, not ``log1p``'d). Its
            raw count is 0: the score is computed from the other counts at every scaling, so
            counts summed over a squashed group, or changed one at a time, rescore.

    Example:
        >>> rep = ChangeRepresentation(kind="tokens").fit(train_commits)
        >>> X = rep.transform(test_commits)
    """

    def __init__(
        self,
        *,
        kind: Kind = "hybrid",
        top_n_identifiers: int = 16,
        skip_generated: bool = True,
        skip_formatting: bool = True,
        commit_subject: bool = True,
        commit_files: bool = False,
        commit_body: bool = False,
        cross_repo_prior: CrossRepoPrior | None = None,
    ) -> None:
        self.kind = kind
        self.top_n_identifiers = top_n_identifiers
        self.skip_generated = skip_generated
        self.skip_formatting = skip_formatting
        self.commit_subject = commit_subject and kind != "loc"
        self.commit_files = commit_files and kind != "loc"
        self.commit_body = commit_body and kind != "loc"
        self._unknown_mean = {names: np.zeros(len(names)) for names in self._blocks()}
        """Per counted block (subject, files, body), the fitted changes' mean ``log1p`` counts:
        a change's where they are unknown."""
        self._subject_ref = np.zeros((0, len(SUBJECT_NAMES)))
        self._subject_ref_weight = np.zeros(0)
        """The fitted changes' most frequent subject counts and their shares: a prior that reads
        subjects scores an unknown one as its mean score over these (:data:`SUBJECT_REFERENCES`)."""
        self.cross_repo_prior = cross_repo_prior if kind != "loc" else None
        self._prior_given = self.cross_repo_prior
        self.prior_unused_: str | None = None
        """Why a prior given was not used (its languages are a minority of the changes)."""

    # -- fitting -----------------------------------------------------------------------------
    @property
    def subjects_known(self) -> bool:
        """Whether the subject columns are counted and some fitted change had a subject (every
        subject has a word: the mean ``log1p`` word count is above 0)."""
        return self.commit_subject and float(self._unknown_mean[SUBJECT_NAMES][0]) > 0

    @property
    def files_known(self) -> bool:
        """Whether the file columns are counted and some fitted change's files were known
        (every commit touches a file: the mean ``log1p`` files touched is above 0)."""
        files = FILE_NAMES.index("files|files")
        return self.commit_files and float(self._unknown_mean[FILE_NAMES][files]) > 0

    @property
    def body_known(self) -> bool:
        """Whether the body columns are counted and some fitted change had a body line."""
        return self.commit_body and float(self._unknown_mean[BODY_NAMES][0]) > 0

    def _blocks(self) -> list[tuple[str, ...]]:
        """The counted column blocks a change may lack (subject, files, body), in column order."""
        return [names for on, names in ((self.commit_subject, SUBJECT_NAMES),
                (self.commit_files, FILE_NAMES), (self.commit_body, BODY_NAMES)) if on]  # fmt: skip

    @property
    def needs_ast(self) -> bool:
        return self.kind == "hybrid"

    def _raws(self, changes: Iterable[Change] | Sequence[RawChange]) -> list[RawChange]:
        items = list(changes)
        if items and isinstance(items[0], RawChange):
            return items  # type: ignore[return-value]
        return extract_raw(items, with_ast=self.needs_ast,  # type: ignore[arg-type]
                           skip_generated=self.skip_generated,
                           skip_formatting=self.skip_formatting)  # fmt: skip

    def fit(self, changes: Iterable[Change] | Sequence[RawChange]) -> ChangeRepresentation:
        """Learn vocabulary and scaling from training changes (commits, groups or raws)."""
        if self.kind not in ("tokens", "hybrid", "loc"):
            raise ValueError(f"unknown representation kind {self.kind!r}")
        raws = self._raws(changes)
        if not raws:
            raise ValueError("cannot fit a change representation on zero changes")
        self.cross_repo_prior, self.prior_unused_ = self._prior_given, None
        names: list[str] = []
        if self.kind == "loc":
            names = [f"surface|{n}" for n in LOC_NAMES]
        else:
            total: Counter[str] = Counter()
            for r in raws:
                total.update(r.tokens.bag)
            fixed = sorted(k for k in total if k.split("|")[1] != "id")
            ids_by_lang: dict[str, Counter[str]] = {}
            for k, v in total.items():
                lang, kind, _tok = k.split("|", 2)
                if kind == "id":
                    ids_by_lang.setdefault(lang, Counter())[k] = v
            ids: list[str] = []
            for lang in sorted(ids_by_lang):
                top = sorted(ids_by_lang[lang].items(), key=lambda kv: (-kv[1], kv[0]))
                ids += sorted(k for k, _ in top[: self.top_n_identifiers])
                ids.append(f"{lang}|id|{OTHER_ID}")
            self._drop_prior_off_language(total)
            names = fixed + ids + [f"surface|{n}" for n in SURFACE_NAMES]
            if self.kind == "hybrid":
                names += list(AST_NAMES)
            for block in self._blocks():
                names += list(block)
            if self.cross_repo_prior is not None:
                names.append(PRIOR_COLUMN)
        self.feature_names_ = names
        self._index = {n: i for i, n in enumerate(names)}
        counts = self._counts(raws)
        for block in self._blocks():  # unknown counts get the known ones' mean
            self._unknown_mean[block] = _known_mean(counts[:, self._columns(block)])
        if self.commit_subject:
            cols = self._columns(SUBJECT_NAMES)
            self._subject_ref, self._subject_ref_weight = _frequent_rows(counts[:, cols])
        logc = self._log_counts(counts)
        self.mean_ = logc.mean(axis=0)
        std = logc.std(axis=0)
        self.scale_ = np.where(std > 1e-8, std, 1.0)
        self._means_from_scaling()
        self._set_checksums()
        return self

    def _drop_prior_off_language(self, tokens: Counter[str]) -> None:
        """Leave the prior out when under :data:`MIN_LANGUAGE_SHARE` of the fitted changes'
        tokens are in its languages: it was fitted on those, and reads every other language's
        change as one without code. The shipped prior of every language (sizes and subjects,
        :data:`~standard_coder.sch.features.cross_repo.BUILTIN_ANY`) is used instead where
        subjects are counted, else the size backbone. A prior that reads no language's tokens
        is used for every history."""
        prior = self.cross_repo_prior
        if prior is None or not prior.languages:
            return
        total = sum(tokens.values())
        ours = sum(v for k, v in tokens.items() if k.split("|", 1)[0] in prior.languages)
        share = ours / total if total else 0.0
        if share < MIN_LANGUAGE_SHARE:
            names = "/".join(sorted(prior.languages))
            self.prior_unused_ = (
                f"it was fitted on {names} changes and {math.floor(100 * share)}% of this "
                f"history's tokens are {names} (it is used from {MIN_LANGUAGE_SHARE:.0%})"
            )
            self.cross_repo_prior = None
            if self.commit_subject:  # the prior of every language reads subjects
                self.cross_repo_prior = CrossRepoPrior.builtin(any_language=True)
                self.prior_unused_ += (
                    "; the shipped prior of every language (sizes and commit subjects) is "
                    "used instead"
                )

    def _set_checksums(self) -> None:
        settings: dict[str, Any] = {"format": FORMAT, "kind": self.kind,
                                    "top_n": self.top_n_identifiers}  # fmt: skip
        # each absent when off: representations saved before the option still verify
        if self.skip_generated:
            settings["skip_generated"] = True
        if self.skip_formatting:
            settings["skip_formatting"] = True
        if self.commit_subject:
            settings["commit_subject"] = True
        if self.commit_files:
            settings["commit_files"] = True
        if self.commit_body:
            settings["commit_body"] = True
        if self.cross_repo_prior is not None:
            settings["cross_repo_prior"] = self.cross_repo_prior.checksum
        self.vocabulary_checksum_ = _sha({**settings, "names": self.feature_names_})
        refs = (self._subject_ref, self._subject_ref_weight) if self.commit_subject else ()
        self.checksum_ = _sha({**settings, "names": self.feature_names_}, self.mean_, self.scale_,
                              *refs)  # fmt: skip

    # -- transform ---------------------------------------------------------------------------
    def _check(self) -> None:
        if not hasattr(self, "feature_names_"):
            from sklearn.exceptions import NotFittedError  # 1.5 s of imports: only when raised

            raise NotFittedError("ChangeRepresentation is not fitted; call fit() first")

    def _counts(self, raws: Sequence[RawChange]) -> np.ndarray:
        names = self.feature_names_
        idx = self._index
        out = np.zeros((len(raws), len(names)), np.float64)
        s_cols = [idx.get(f"surface|{n}", -1) for n in SURFACE_NAMES]
        a0 = idx.get(AST_NAMES[0], -1)
        s0 = idx.get(SUBJECT_NAMES[0], -1)
        f0 = idx.get(FILE_NAMES[0], -1)
        b0 = idx.get(BODY_NAMES[0], -1)
        for i, r in enumerate(raws):
            row = out[i]
            if self.kind != "loc":
                for k, v in r.tokens.bag.items():
                    j = idx.get(k)
                    if j is None:
                        lang, kind, _ = k.split("|", 2)
                        if kind != "id":
                            continue  # an operator/keyword never seen in training
                        j = idx.get(f"{lang}|id|{OTHER_ID}")
                        if j is None:
                            continue  # a language never seen in training
                    row[j] += v
            for c, sv in zip(s_cols, r.tokens.surface, strict=True):
                if c >= 0:
                    row[c] = sv
            if a0 >= 0:
                row[a0 : a0 + len(AST_NAMES)] = r.ast
            if s0 >= 0:
                row[s0 : s0 + len(SUBJECT_NAMES)] = r.subject
            if f0 >= 0:
                row[f0 : f0 + len(FILE_NAMES)] = r.file_stats
            if b0 >= 0:
                row[b0 : b0 + len(BODY_NAMES)] = r.body
        return out

    def _columns(self, block: tuple[str, ...]) -> np.ndarray:
        c0 = self._index[block[0]]
        return np.arange(c0, c0 + len(block))

    def _means_from_scaling(self) -> None:
        """Each block's unknown-change mean read back from ``mean_`` (the same to the last bit
        whether fitted or loaded)."""
        for block in self._blocks():
            self._unknown_mean[block] = self.mean_[self._columns(block)]

    def _known_counts(self, counts: np.ndarray) -> np.ndarray:
        """``counts`` with an unknown subject's, files' or body's columns (NaN) at the fitted
        changes' mean."""
        out = counts
        for block in self._blocks():
            c = self._columns(block)
            part = out[:, c]
            unknown = np.isnan(part)
            if unknown.any():
                out = out.copy() if out is counts else out
                out[:, c] = np.where(unknown, np.expm1(self._unknown_mean[block]), part)
        return out

    def raw_changes(self, changes: Iterable[Change] | Sequence[RawChange]) -> list[RawChange]:
        """Each change's raw counts with this representation's settings (``left_out``: what
        they leave out); give them to :meth:`raw_matrix` to count each change once."""
        return self._raws(changes)

    def raw_matrix(self, changes: Iterable[Change] | Sequence[RawChange]) -> np.ndarray:
        """Unscaled counts in vocabulary order (an unknown subject's: NaN, which
        :meth:`scale_counts` reads as unknown)."""
        self._check()
        return self._counts(self._raws(changes))

    def transform(self, changes: Iterable[Change] | Sequence[RawChange]) -> np.ndarray:
        """Scaled float32 features (rows = changes)."""
        return self.scale_counts(self.raw_matrix(changes))

    def _log_counts(self, counts: np.ndarray) -> np.ndarray:
        """``log1p(counts)``; the prior's column (if any) holds its score of the other counts."""
        known = self._known_counts(counts)
        out: np.ndarray = np.log1p(np.maximum(known, 0.0))
        if self.cross_repo_prior is not None:
            col = self._index[PRIOR_COLUMN]
            out[:, col] = self.cross_repo_prior.score(known, self.feature_names_)
            reads = self.cross_repo_prior.reads_subjects
            if reads and len(self._subject_ref):
                unknown = np.isnan(counts[:, self._columns(SUBJECT_NAMES)]).any(axis=1)
            else:
                unknown = np.zeros(len(counts), bool)
            if unknown.any():
                out[unknown, col] = self._expected_prior_score(known[unknown])
        return out

    def _expected_prior_score(self, counts: np.ndarray) -> np.ndarray:
        """The prior's score of changes whose subject is unknown: its mean over the fitted
        changes' most frequent subjects, weighted by how often each was written."""
        assert self.cross_repo_prior is not None
        cols = self._columns(SUBJECT_NAMES)
        total = np.zeros(len(counts))
        for ref, weight in zip(self._subject_ref, self._subject_ref_weight, strict=True):
            with_ref = counts.copy()
            with_ref[:, cols] = ref
            total += weight * self.cross_repo_prior.score(with_ref, self.feature_names_)
        return total

    def scale_counts(self, counts: np.ndarray) -> np.ndarray:
        """``(log1p(counts) - mean) / std`` as float32 (the prior's column: its score)."""
        self._check()
        out: np.ndarray = (self._log_counts(counts) - self.mean_) / self.scale_
        return out.astype(np.float32)

    def fit_transform(self, changes: Iterable[Change] | Sequence[RawChange]) -> np.ndarray:
        raws = self._raws(changes)
        return self.fit(raws).transform(raws)

    @property
    def n_features(self) -> int:
        self._check()
        return len(self.feature_names_)

    # -- persistence -------------------------------------------------------------------------
    def save(self, directory: Path) -> Path:
        """Write ``representation.json`` and ``scaling.npz`` atomically; return the folder."""
        self._check()
        directory = Path(directory)
        refs = ({"subject_ref": self._subject_ref, "subject_ref_weight": self._subject_ref_weight}
                if self.commit_subject else {})  # fmt: skip
        atomic_write_bytes(directory / "scaling.npz",
                           npz_bytes(mean=self.mean_, scale=self.scale_, **refs))  # fmt: skip
        if self.cross_repo_prior is not None:
            self.cross_repo_prior.save(directory / PRIOR_FILE)
        meta = {
            "format": FORMAT,
            "kind": self.kind,
            "top_n_identifiers": self.top_n_identifiers,
            "skip_generated": self.skip_generated,
            "skip_formatting": self.skip_formatting,
            "commit_subject": self.commit_subject,
            "commit_files": self.commit_files,
            "commit_body": self.commit_body,
            **self._prior_meta(),
            **({"cross_repo_prior_unused": self.prior_unused_} if self.prior_unused_ else {}),
            "feature_names": self.feature_names_,
            "checksum": self.checksum_,
            "vocabulary_checksum": self.vocabulary_checksum_,
        }
        atomic_write_text(directory / "representation.json", json.dumps(meta, indent=1))
        return directory

    def _prior_meta(self) -> dict[str, str]:
        prior = self.cross_repo_prior
        return {} if prior is None else {"cross_repo_prior": prior.checksum}

    @classmethod
    def load(cls, directory: Path) -> ChangeRepresentation:
        """Load a saved representation; the checksum is verified."""
        directory = Path(directory)
        meta_path = directory / "representation.json"
        meta = _read_meta(meta_path)
        if meta.get("format") != FORMAT:
            raise RepresentationMismatch(f"{meta_path}: unknown format {meta.get('format')!r}")
        arrays = _read_scaling(directory / "scaling.npz")
        mean, scale = arrays["mean"], arrays["scale"]
        refs = {k: arrays[k] for k in ("subject_ref", "subject_ref_weight") if k in arrays}
        prior = None
        if "cross_repo_prior" in meta:
            try:
                prior = CrossRepoPrior.load(directory / PRIOR_FILE)
            except CrossRepoPriorError as e:
                raise RepresentationMismatch(str(e)) from e
            if prior.checksum != meta["cross_repo_prior"]:
                raise RepresentationMismatch(
                    f"{directory / PRIOR_FILE}: not the cross-repository prior it was fitted with"
                )
        try:
            rep = cls(kind=meta["kind"], top_n_identifiers=int(meta["top_n_identifiers"]),
                      skip_generated=bool(meta.get("skip_generated", False)),
                      skip_formatting=bool(meta.get("skip_formatting", False)),
                      commit_subject=bool(meta.get("commit_subject", False)),
                      commit_files=bool(meta.get("commit_files", False)),
                      commit_body=bool(meta.get("commit_body", False)),
                      cross_repo_prior=prior)  # fmt: skip
            unused = meta.get("cross_repo_prior_unused")
            rep.prior_unused_ = str(unused) if unused else None
            rep.feature_names_ = [str(n) for n in meta["feature_names"]]
            rep._index = {n: i for i, n in enumerate(rep.feature_names_)}
            rep.mean_, rep.scale_ = mean, scale
            rep._means_from_scaling()
            if rep.commit_subject:
                width = len(SUBJECT_NAMES)  # saved without them: an unknown subject gets the mean
                rep._subject_ref = refs.get("subject_ref", np.zeros((0, width)))
                rep._subject_ref_weight = refs.get("subject_ref_weight", np.zeros(0))
            rep._set_checksums()
        except (KeyError, TypeError, ValueError, IndexError):  # the types are checked: sizes
            raise RepresentationUnreadable(
                f"{meta_path}: its feature names do not fit the arrays of scaling.npz beside it "
                "(corrupt or edited)"
            ) from None
        if rep.checksum_ != meta.get("checksum"):
            raise RepresentationMismatch(f"{directory}: checksum mismatch (corrupt or edited)")
        return rep
