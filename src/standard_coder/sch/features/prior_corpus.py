"""Fitting a cross-repository prior on a corpus of histories, and checking it leave-one-out.

A *history* is one trained output's changes: each change's raw counts (recovered from the
dataset's scaled features and the representation's scaling), its mean inferred coding time,
its split and its label kind. The prior (:mod:`standard_coder.sch.features.cross_repo`) is
fitted on every history's normal-interval changes, each history's target its own standardised
log label, so no history's level of hours weighs on another's. The leave-one-out check fits the
prior on all histories but one and scores that one, which it has never seen: Spearman of the
score with inferred coding time against lines added's, on the held-out split (the rows of
``spearman_sch``) and on the fitted period. The shipped prior was made by
:meth:`PriorCorpus.fit` with the defaults, held-out changes included (docs/effort-models.md,
"A cross-repository prior").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from standard_coder.sch.dataset import TEST, Dataset
from standard_coder.sch.features.change_files import FILES_PREFIX
from standard_coder.sch.features.cross_repo import (
    ID_TOTAL,
    CrossRepoPrior,
    average_priors,
    fit_prior,
    prior_inputs,
)
from standard_coder.sch.features.message_body import BODY_PREFIX
from standard_coder.sch.features.representation import ChangeRepresentation
from standard_coder.sch.features.subject import SUBJECT_PREFIX
from standard_coder.sch.stats import spearman

KEEP_PREFIXES = ("python|kw|", "python|op|", "python|num|", "python|str|", "surface|", "ast",
                 SUBJECT_PREFIX, FILES_PREFIX, BODY_PREFIX)  # fmt: skip
"""Count columns a prior may read (identifiers enter as one total, :data:`ID_TOTAL`; commit
subjects, files of every language and message bodies where every history counted them,
``[training.features] commit_subject``, ``commit_files`` and ``commit_body``)."""
EVERY_HISTORY = (SUBJECT_PREFIX, FILES_PREFIX, BODY_PREFIX)
"""Column prefixes a prior reads only where every history counted them."""
NORMAL = 0
MIN_HISTORIES = 2
MIN_CHANGES = 10
"""Normal-interval changes a history needs to be fitted on (and to fit the others without it)."""
RECIPE_BAG = 5
"""Ensembles the shipped recipe averages (seeds 0-4): the shipped prior and ``fit-prior``'s
default (docs/effort-models.md, "Session 25")."""
RECIPE_BODY_WEIGHT = 0.25
"""Where a corpus counts message bodies, the recipe's prior is this mix of the recipe fitted
with the body columns and the recipe fitted without them (:meth:`PriorCorpus.fit`): the body
ranks changes better on average but misleads where a history's bodies changed style, and a
shrunk share keeps most of the gain with less of the risk (docs/effort-models.md, "Session 28")."""


class PriorCorpusError(ValueError):
    """A corpus a prior cannot be fitted on (too few histories or changes, repeated names, an
    output whose representation cannot give back its counts)."""


@dataclass(frozen=True)
class History:
    """One history's changes as the prior sees them."""

    name: str
    feature_names: tuple[str, ...]
    counts: np.ndarray
    """Raw counts per change (rows) and feature (columns, ``feature_names``)."""
    hours: np.ndarray
    """Mean inferred coding time per change (the label samples' mean)."""
    split: np.ndarray
    kind: np.ndarray
    lines_added: np.ndarray

    @classmethod
    def from_output(cls, name: str, dataset: Dataset, rep: ChangeRepresentation) -> History:
        """A history from a trained output's dataset and the representation that scaled it."""
        if rep.kind == "loc":
            raise PriorCorpusError(f"{name}: representation kind loc has no token counts to fit on")
        if (rep.mean_ is None or rep.scale_ is None or rep.checksum_ != dataset.meta.get("checksum")
                or list(rep.feature_names_) != list(dataset.feature_names)):  # fmt: skip
            raise PriorCorpusError(
                f"{name}: the representation is not the one that built the dataset"
            )
        counts = np.expm1(np.asarray(dataset.X, np.float64) * rep.scale_ + rep.mean_)
        kind = dataset.label_kind if dataset.label_kind is not None else np.zeros(len(dataset))
        unknown = tuple(p for p, known in ((SUBJECT_PREFIX, rep.subjects_known),
                                           (FILES_PREFIX, rep.files_known),
                                           (BODY_PREFIX, rep.body_known)) if not known)  # fmt: skip
        history = cls(
            name=name,
            feature_names=tuple(dataset.feature_names),
            counts=np.maximum(np.round(counts, 6), 0.0),
            hours=dataset.Y.mean(axis=1),
            split=np.asarray(dataset.split),
            kind=np.asarray(kind),
            lines_added=np.asarray(dataset.surface_column("lines_added"), np.float64),
        )
        # no change had a subject (known files, a body): those columns say nothing
        return history.without(unknown) if unknown else history

    @property
    def normal(self) -> np.ndarray:
        return np.asarray(self.kind == NORMAL)

    @property
    def counted_bodies(self) -> bool:
        """Whether the history's output counted message bodies (``body|...`` columns)."""
        return any(n.startswith(BODY_PREFIX) for n in self.feature_names)

    def without(self, prefixes: tuple[str, ...]) -> History:
        """The same changes without the columns whose names start with one of ``prefixes``."""
        keep = [j for j, n in enumerate(self.feature_names) if not n.startswith(prefixes)]
        return replace(self, feature_names=tuple(self.feature_names[j] for j in keep),
                       counts=self.counts[:, keep])  # fmt: skip


@dataclass(frozen=True)
class LeaveOneOut:
    """One history scored by a prior fitted on the others."""

    history: str
    n_test_normal: int
    spearman_lines_added: float
    spearman_prior: float
    fit_spearman_lines_added: float
    fit_spearman_prior: float

    @property
    def gain(self) -> float:
        """Held-out Spearman of the prior minus lines added's (NaN when either is undefined)."""
        return self.spearman_prior - self.spearman_lines_added


def input_names(
    histories: Sequence[History],
    which: Literal["common", "union"] = "common",
    *,
    subjects: bool = True,
    files: bool = True,
    body: bool = True,
) -> list[str]:
    """The prior's inputs: the keyword, operator, literal, surface, AST (and, unless not
    ``subjects``, commit subject; unless not ``files``, files of every language; unless not
    ``body``, message body) columns every
    history has (``common``) or any has (``union``), and every identifier counted together."""
    counts = tuple(p for p in KEEP_PREFIXES if p not in EVERY_HISTORY)
    sets = [{n for n in h.feature_names if n.startswith(counts)} for h in histories]
    chosen = set.intersection(*sets) if which == "common" else set.union(*sets)
    for prefix, wanted in zip(EVERY_HISTORY, (subjects, files, body), strict=True):
        if wanted:  # only where every history counted them, whichever ``which``
            chosen |= set.intersection(
                *({n for n in h.feature_names if n.startswith(prefix)} for h in histories)
            )
    return [*sorted(chosen), ID_TOTAL]


def standardised_log(hours: np.ndarray) -> np.ndarray:
    """``log`` hours with mean 0 and standard deviation 1 (the per-history target)."""
    ly = np.log(np.maximum(hours, 1e-3))
    out: np.ndarray = (ly - ly.mean()) / (ly.std() + 1e-9)
    return out


class PriorCorpus:
    """Histories to fit a prior on; each history's inputs and targets computed once.

    ``held_out``: fit on each history's held-out changes too (the shipped recipe: a prior
    meant for other histories). Without them, histories run again with the prior keep a
    held-out split the prior never saw. ``subjects``: read the commit subject columns where
    every history counted them (the recipe before them: not); ``files``: the same for the
    columns of files of every language (``files|...``); ``body``: of message bodies
    (``body|...``).
    """

    def __init__(
        self,
        histories: Sequence[History],
        inputs: Literal["common", "union"] = "common",
        *,
        held_out: bool = True,
        subjects: bool = True,
        files: bool = True,
        body: bool = True,
    ) -> None:
        names = [h.name for h in histories]
        if len(histories) < MIN_HISTORIES:
            raise PriorCorpusError(
                f"a prior needs at least {MIN_HISTORIES} histories, got {len(histories)}"
            )
        if len(set(names)) != len(names):
            raise PriorCorpusError(
                f"history names repeat: {sorted({n for n in names if names.count(n) > 1})}"
            )
        self.held_out = held_out
        rows = {h.name: self.fitting_rows(h) for h in histories}
        few = [n for n, r in rows.items() if int(r.sum()) < MIN_CHANGES]
        if few:
            raise PriorCorpusError(
                f"fewer than {MIN_CHANGES} normal-interval changes to fit on in {few}"
            )
        self.histories = list(histories)
        self.names = input_names(self.histories, inputs, subjects=subjects, files=files,
                                  body=body)  # fmt: skip
        self._rows = {
            h.name: (
                prior_inputs(self.names, h.counts[rows[h.name]], list(h.feature_names)),
                standardised_log(h.hours[rows[h.name]]),
            )
            for h in self.histories
        }

    def fitting_rows(self, h: History) -> np.ndarray:
        """The changes of ``h`` the prior is fitted on: normal intervals (held out too, or not)."""
        return h.normal if self.held_out else h.normal & (h.split != TEST)

    def __len__(self) -> int:
        return len(self.histories)

    @property
    def n_changes(self) -> int:
        return sum(len(t) for _, t in self._rows.values())

    def fit(
        self,
        *,
        seed: int = 0,
        bag: int = 1,
        leave_out: str | None = None,
        body_weight: float = RECIPE_BODY_WEIGHT,
    ) -> CrossRepoPrior:
        """The prior fitted on every history but ``leave_out``; ``bag`` > 1: the mean of the
        ensembles fitted with seeds ``seed`` .. ``seed + bag - 1`` (:func:`average_priors`).
        Where the inputs hold message body columns, the prior is ``body_weight`` of that fit and
        ``1 - body_weight`` of the same fitted without them (:data:`RECIPE_BODY_WEIGHT`; 1: the
        body fit alone, as in session 27)."""
        kept = [(h.name, self._rows[h.name]) for h in self.histories if h.name != leave_out]
        Z = np.vstack([z for _, (z, _) in kept])
        target = np.concatenate([t for _, (_, t) in kept])
        meta: dict[str, object] = {"trained_on": sorted(n for n, _ in kept)}
        if not self.held_out:
            meta["held_out_changes"] = "left out"
        if leave_out is None:
            meta["changes"] = len(target)
        if bag < 1:
            raise ValueError(f"bag: at least 1 ensemble, got {bag}")
        if not 0.0 <= body_weight <= 1.0:
            raise ValueError(f"body_weight: between 0 and 1, got {body_weight}")
        if bag > 1:
            meta["bag_seeds"] = list(range(seed, seed + bag))
        body = [j for j, n in enumerate(self.names) if n.startswith(BODY_PREFIX)]
        if not body or body_weight == 1.0:
            return self._bag(Z, target, self.names, seed, bag, meta)
        meta["body_weight"] = body_weight
        rest = [j for j in range(len(self.names)) if j not in body]
        without = self._bag(Z[:, rest], target, [self.names[j] for j in rest], seed, bag, meta)
        if body_weight == 0.0:
            return without
        with_body = self._bag(Z, target, self.names, seed, bag, meta)
        return average_priors([without, with_body], weights=[1.0 - body_weight, body_weight],
                              meta=meta)  # fmt: skip

    @staticmethod
    def _bag(
        Z: np.ndarray,
        target: np.ndarray,
        names: list[str],
        seed: int,
        bag: int,
        meta: dict[str, object],
    ) -> CrossRepoPrior:
        fits = [fit_prior(Z, target, names, seed=s, meta=meta) for s in range(seed, seed + bag)]
        return fits[0] if len(fits) == 1 else average_priors(fits, meta=meta)

    def leave_one_out(
        self, *, seed: int = 0, bag: int = 1, body_weight: float = RECIPE_BODY_WEIGHT
    ) -> list[tuple[LeaveOneOut, CrossRepoPrior]]:
        """Each history scored by the prior fitted on all the others (with that prior)."""
        out = []
        for h in self.histories:
            prior = self.fit(seed=seed, bag=bag, leave_out=h.name, body_weight=body_weight)
            out.append((score_history(h, prior), prior))
        return out


def score_history(h: History, prior: CrossRepoPrior) -> LeaveOneOut:
    """Spearman of the prior's score and of lines added with ``h``'s coding time, on its
    held-out normal-interval changes and on its fitted period's."""
    s = prior.score(h.counts, list(h.feature_names))
    held = (h.split == TEST) & h.normal
    fitted = (h.split != TEST) & h.normal
    return LeaveOneOut(
        history=h.name,
        n_test_normal=int(held.sum()),
        spearman_lines_added=spearman(h.lines_added[held], h.hours[held]),
        spearman_prior=spearman(s[held], h.hours[held]),
        fit_spearman_lines_added=spearman(h.lines_added[fitted], h.hours[fitted]),
        fit_spearman_prior=spearman(s[fitted], h.hours[fitted]),
    )


def summarise(rows: Sequence[LeaveOneOut]) -> dict[str, float | int | None]:
    """Means of the held-out Spearman of the prior and of lines added over the histories where
    both are defined, their ratio, and how many histories the prior ranks better (held out;
    fitted period)."""
    gain = np.array([r.gain for r in rows])
    fit_gain = np.array([r.fit_spearman_prior - r.fit_spearman_lines_added for r in rows])
    ok, fok = np.isfinite(gain), np.isfinite(fit_gain)
    # both means over the same histories: those where both Spearmans are defined
    both = [r for r, k in zip(rows, ok, strict=True) if k]
    prior_mean = float(np.mean([r.spearman_prior for r in both])) if both else float("nan")
    lines_mean = float(np.mean([r.spearman_lines_added for r in both])) if both else float("nan")
    return {
        "held_out_mean_spearman_prior": round(prior_mean, 4) if ok.any() else None,
        "held_out_mean_spearman_lines_added": round(lines_mean, 4) if ok.any() else None,
        "ratio": round(prior_mean / lines_mean, 3)
        if lines_mean and np.isfinite(lines_mean)
        else None,
        "histories": len(rows),
        "held_out_mean_diff": round(float(gain[ok].mean()), 4) if ok.any() else None,
        "held_out_above_lines_added": int((gain[ok] > 0).sum()),
        "held_out_scored": int(ok.sum()),
        "fit_period_mean_diff": round(float(fit_gain[fok].mean()), 4) if fok.any() else None,
        "fit_period_above_lines_added": int((fit_gain[fok] > 0).sum()),
    }
