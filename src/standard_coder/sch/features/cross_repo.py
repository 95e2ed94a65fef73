"""A cross-repository prior: a change's expected coding time learnt on many real histories.

One repository's history holds a few hundred to a few thousand labelled changes, too few to
learn what its token and syntax counts say beyond size (a model of one history's counts ranks
its held-out changes worse than lines added alone). Pooled over many histories they do say
something: a gradient-boosted tree ensemble fitted on other public Python histories ranks a
left-out history's changes above lines added on most of them (27 of 38; docs/effort-models.md,
"A cross-repository prior"). The ensemble's score is one more feature column,
:data:`COLUMN`, and the location-shift model's default backbone: it is a function of the
change alone (no author, no pace), and monotone in the three lines-added counts.

Inputs are ``log1p`` of the representation's counts by name (:data:`ID_TOTAL` is every Python
identifier, the representation's own top identifiers and ``<other>`` together; a name the
representation lacks counts 0). The target it was fitted on is each history's standardised
log label (mean 0, standard deviation 1 per history), so its level says nothing about a
repository's hours: the shift model fits level and slope on the repository's own labels.

The shipped prior is the mean of five such ensembles fitted with different seeds
(:func:`average_priors`: one ensemble of all their trees), so it does not hang on one draw.

Saved as a pickle-free ``.npz``: the trees as flat node arrays (``feature``, ``threshold``,
``left``, ``right``, ``value``; a leaf has ``feature`` -1), ``roots``, ``baseline``,
``names`` and ``meta`` (JSON: what it was trained on); its checksum covers all of them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from standard_coder.sch.features._io import atomic_write_bytes, npz_bytes
from standard_coder.sch.features.change_files import FILES_PREFIX
from standard_coder.sch.features.message_body import BODY_PREFIX
from standard_coder.sch.features.subject import SUBJECT_PREFIX

FORMAT = "standard_coder.cross_repo_prior/1"
COLUMN = "prior|cross_repo"
"""The feature column the prior's score fills in a representation that carries one."""
ID_TOTAL = "python|id|*"
"""Input name: every Python identifier of the change, whatever the representation kept."""
MONOTONE = ("surface|lines_added", "surface|lines_added_unmoved", "surface|lines_added_source")
"""Inputs the score never falls with (all else equal)."""
TOKEN_KINDS = frozenset({"kw", "op", "num", "str", "id"})
"""The middle part of a token count's name, ``<language>|<kind>|<token>``."""
MIN_LANGUAGE_SHARE = 0.5
"""A history whose fitted changes' tokens are less than this share in the prior's languages
does not use the prior (docs/effort-models.md, "A cross-repository prior")."""
BUILTIN = "cross_repo_prior.npz"
"""The prior shipped in ``standard_coder/sch/features/data``."""
BUILTIN_BODY = "cross_repo_prior_body.npz"
"""The shipped recipe on the same histories with message bodies counted (``body|...``): a
quarter of the fit with them, three quarters of the fit without (``RECIPE_BODY_WEIGHT``); the
prior of ``[training.features] commit_body = true`` (docs/effort-models.md, "Session 28")."""
BUILTIN_ANY = "cross_repo_prior_any.npz"
"""The shipped prior of every language: the shipped recipe on public Python histories reading
only the counts every language has (sizes and the commit subject's columns), used where a
history is not in the configured prior's languages (docs/effort-models.md, "Session 57")."""
_NODE_ARRAYS = ("feature", "threshold", "left", "right", "value")


class CrossRepoPriorError(ValueError):
    """A prior file that is unreadable, of another format or whose checksum does not match."""


@dataclass(frozen=True)
class TreeBlock:
    """Flat node arrays of one or more trees, child and root indices local to the block."""

    feature: np.ndarray
    """Input column per node; -1 at a leaf."""
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    """Leaf value (0 at inner nodes)."""
    roots: np.ndarray


@dataclass(frozen=True)
class CrossRepoPrior(TreeBlock):
    """A fitted tree ensemble over named ``log1p`` counts (its trees: the :class:`TreeBlock`
    fields); :meth:`score` gives one value per change (higher: more coding time expected)."""

    names: tuple[str, ...]
    baseline: float
    meta: dict[str, Any]

    @property
    def checksum(self) -> str:
        h = hashlib.sha256(json.dumps([FORMAT, list(self.names), self.baseline, self.meta],
                                      sort_keys=True).encode())  # fmt: skip
        for name in (*_NODE_ARRAYS, "roots"):
            h.update(np.ascontiguousarray(getattr(self, name)).tobytes())
        return h.hexdigest()

    @property
    def languages(self) -> frozenset[str]:
        """The languages whose token counts the prior reads (``python`` for the shipped one)."""
        parts = [n.split("|") for n in self.names]
        return frozenset(p[0] for p in parts if len(p) == 3 and p[1] in TOKEN_KINDS)

    @property
    def reads_subjects(self) -> bool:
        """Whether the prior reads commit subject columns (``subject|...``)."""
        return any(n.startswith(SUBJECT_PREFIX) for n in self.names)

    @property
    def reads_files(self) -> bool:
        """Whether the prior reads the columns of files of every language (``files|...``)."""
        return any(n.startswith(FILES_PREFIX) for n in self.names)

    @property
    def reads_body(self) -> bool:
        """Whether the prior reads the message body columns (``body|...``)."""
        return any(n.startswith(BODY_PREFIX) for n in self.names)

    def inputs(self, counts: np.ndarray, feature_names: Sequence[str]) -> np.ndarray:
        """:func:`prior_inputs` for this prior's ``names``."""
        return prior_inputs(self.names, counts, feature_names)

    def predict(self, Z: np.ndarray) -> np.ndarray:
        """The ensemble's sum on inputs ``Z`` (n, len(names)): ``baseline`` plus one leaf of
        every tree (a row goes left where its input is at most the node's threshold)."""
        Z = np.asarray(Z, np.float64)
        n, trees = len(Z), len(self.roots)
        node = np.tile(self.roots, n)  # (row, tree) pairs, row-major
        row = np.repeat(np.arange(n), trees)
        walking = np.flatnonzero(self.feature[node] >= 0)  # pairs not yet at a leaf
        while len(walking):  # one level per step, over the pairs still walking only
            cur = node[walking]
            go_left = Z[row[walking], self.feature[cur]] <= self.threshold[cur]
            node[walking] = nxt = np.where(go_left, self.left[cur], self.right[cur])
            walking = walking[self.feature[nxt] >= 0]
        out: np.ndarray = self.baseline + self.value[node].reshape(n, trees).sum(axis=1)
        return out

    def score(self, counts: np.ndarray, feature_names: Sequence[str]) -> np.ndarray:
        """One score per change from a representation's raw counts."""
        return self.predict(self.inputs(counts, feature_names))

    # -- persistence -------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        return npz_bytes(
            format=np.array(FORMAT),
            names=np.array(self.names, dtype=str),
            feature=self.feature.astype(np.int32),
            threshold=self.threshold.astype(np.float64),
            left=self.left.astype(np.int32),
            right=self.right.astype(np.int32),
            value=self.value.astype(np.float64),
            roots=self.roots.astype(np.int32),
            baseline=np.array(self.baseline, np.float64),
            meta=np.array(json.dumps(self.meta, sort_keys=True)),
            checksum=np.array(self.checksum),
        )

    def save(self, path: Path) -> Path:
        """Write atomically; return ``path``."""
        atomic_write_bytes(Path(path), self.to_bytes())
        return Path(path)

    @classmethod
    def load(cls, path: Path) -> CrossRepoPrior:
        """Read a saved prior; the format and checksum are verified (``CrossRepoPriorError``
        names the file and the cause)."""
        try:
            with np.load(path, allow_pickle=False) as z:
                fmt, saved = str(z["format"]), str(z["checksum"])
                prior = cls(
                    names=tuple(str(s) for s in z["names"]),
                    feature=np.array(z["feature"], np.int32),
                    threshold=np.array(z["threshold"], np.float64),
                    left=np.array(z["left"], np.int32),
                    right=np.array(z["right"], np.int32),
                    value=np.array(z["value"], np.float64),
                    roots=np.array(z["roots"], np.int32),
                    baseline=float(z["baseline"]),
                    meta=json.loads(str(z["meta"])),
                )
        except (OSError, ValueError, KeyError) as e:
            raise CrossRepoPriorError(f"{path}: unreadable cross-repository prior ({e})") from e
        if fmt != FORMAT:
            raise CrossRepoPriorError(f"{path}: not a cross-repository prior (format {fmt!r})")
        if prior.checksum != saved:
            raise CrossRepoPriorError(f"{path}: checksum mismatch (corrupt or edited)")
        n_nodes = len(prior.feature)
        same_length = all(len(getattr(prior, a)) == n_nodes for a in _NODE_ARRAYS)
        links = np.concatenate([prior.roots, prior.left, prior.right])
        in_range = links.size == 0 or (links.min() >= 0 and links.max() < n_nodes)
        if not (same_length and in_range and prior.feature.max(initial=-1) < len(prior.names)):
            raise CrossRepoPriorError(f"{path}: malformed trees")
        return prior

    @classmethod
    def builtin(cls, *, body: bool = False, any_language: bool = False) -> CrossRepoPrior:
        """The prior shipped with the package (trained on public Python histories); ``body``:
        the one that also reads message bodies (:data:`BUILTIN_BODY`); ``any_language``: the
        one that reads no language's token counts (:data:`BUILTIN_ANY`)."""
        name = BUILTIN_ANY if any_language else BUILTIN_BODY if body else BUILTIN
        ref = resources.files("standard_coder.sch.features") / "data" / name
        with resources.as_file(ref) as path:
            return cls.load(path)


def prior_inputs(
    names: Sequence[str], counts: np.ndarray, feature_names: Sequence[str]
) -> np.ndarray:
    """``log1p`` of each of ``names``' counts, (n, len(names)), from a representation's raw
    ``counts`` (n, F) whose columns are ``feature_names``: :data:`ID_TOTAL` sums every
    ``python|id|`` column, a name the representation lacks counts 0."""
    counts = np.maximum(np.asarray(counts, np.float64), 0.0)
    index = {n: j for j, n in enumerate(feature_names)}
    ids = [j for n, j in index.items() if n.startswith("python|id|")]
    out = np.zeros((len(counts), len(names)))
    for k, name in enumerate(names):
        if name == ID_TOTAL:
            out[:, k] = counts[:, ids].sum(axis=1) if ids else 0.0
        elif name in index:
            out[:, k] = counts[:, index[name]]
    return np.log1p(out)


def concatenate_trees(blocks: Sequence[TreeBlock]) -> dict[str, np.ndarray]:
    """One set of :class:`CrossRepoPrior` node arrays (and ``roots``) from ``blocks``: child and
    root indices shifted by the nodes before each block; a leaf's children are 0."""
    parts: dict[str, list[np.ndarray]] = {a: [] for a in (*_NODE_ARRAYS, "roots")}
    offset = 0
    for b in blocks:
        leaf = np.asarray(b.feature) < 0
        parts["feature"].append(np.where(leaf, -1, b.feature).astype(np.int32))
        parts["threshold"].append(np.asarray(b.threshold, np.float64))
        parts["left"].append(np.where(leaf, 0, np.asarray(b.left) + offset).astype(np.int32))
        parts["right"].append(np.where(leaf, 0, np.asarray(b.right) + offset).astype(np.int32))
        parts["value"].append(np.asarray(b.value, np.float64))
        parts["roots"].append(np.asarray(b.roots, np.int64).astype(np.int32) + offset)
        offset += len(b.feature)
    return {a: np.concatenate(v) for a, v in parts.items()}


def fit_prior(
    Z: np.ndarray,
    target: np.ndarray,
    names: Sequence[str],
    *,
    seed: int = 0,
    meta: dict[str, Any] | None = None,
) -> CrossRepoPrior:
    """Fit the ensemble on inputs ``Z`` (n, len(names), ``log1p`` counts) and ``target`` (each
    history's standardised log label), monotone in :data:`MONOTONE`, and flatten its trees.

    At most 300 trees of 15 leaves (40 changes or more each), learning rate 0.05; a random
    tenth of the rows (``seed``) stops the boosting when 10 rounds in a row do not improve
    its squared error (leave one history out over 28 histories, the early stop ranked the
    left-out history's fitted-period changes above lines added on 25, 300 rounds on 21)."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    mono = [1 if n in MONOTONE else 0 for n in names]
    est = HistGradientBoostingRegressor(max_iter=300, learning_rate=0.05, max_leaf_nodes=15,
                                        min_samples_leaf=40, l2_regularization=1.0,
                                        monotonic_cst=mono, early_stopping=True,
                                        validation_fraction=0.1, n_iter_no_change=10,
                                        random_state=seed)  # fmt: skip
    est.fit(np.asarray(Z, np.float64), np.asarray(target, np.float64))
    blocks = []
    for iteration in est._predictors:  # one tree per iteration (a regression)
        nodes = iteration[0].nodes
        leaf = nodes["is_leaf"].astype(bool)
        blocks.append(TreeBlock(feature=np.where(leaf, -1, nodes["feature_idx"]),
                                threshold=nodes["num_threshold"], left=nodes["left"],
                                right=nodes["right"], value=np.where(leaf, nodes["value"], 0.0),
                                roots=np.zeros(1)))  # fmt: skip
    return CrossRepoPrior(names=tuple(names),
                          baseline=float(np.ravel(est._baseline_prediction)[0]),
                          meta=dict(meta or {}), **concatenate_trees(blocks))  # fmt: skip


def average_priors(
    priors: Sequence[CrossRepoPrior],
    *,
    weights: Sequence[float] | None = None,
    meta: dict[str, Any] | None = None,
) -> CrossRepoPrior:
    """One prior whose score is the (``weights``-weighted; default: plain) mean of ``priors``'
    scores: every tree of each, its leaf values times its weight, the baseline the weighted
    mean. Priors may read different inputs: the result reads their union (the first prior's
    names, then each other's new ones, in order; a prior of weight 0 is left out), a tree's
    node inputs renumbered into it. Each monotone input stays monotone (a positive mix of
    monotone functions)."""
    if not priors:
        raise ValueError("no priors to average")
    k = len(priors)
    w = np.ones(k) if weights is None else np.asarray(weights, np.float64)
    if len(w) != k or not np.all(np.isfinite(w)) or w.min() < 0 or w.sum() <= 0:
        raise ValueError(f"weights: one non-negative weight per prior, not all 0, got {weights}")
    w = w / w.sum()
    if weights is None:  # a plain mean, computed as it always was (the same bytes)
        values = [p.value / k for p in priors]
    else:  # a prior of weight 0 adds nothing: its trees and inputs are left out
        priors, w = [p for p, x in zip(priors, w, strict=True) if x > 0], w[w > 0]
        values = [p.value * x for p, x in zip(priors, w, strict=True)]
    names = list(priors[0].names)
    for p in priors[1:]:
        names += [n for n in p.names if n not in names]
    index = {n: j for j, n in enumerate(names)}
    blocks = []
    for p, value in zip(priors, values, strict=True):
        remap = np.array([index[n] for n in p.names], np.int32)
        feature = np.where(p.feature < 0, -1, remap[np.maximum(p.feature, 0)])
        blocks.append(TreeBlock(feature=feature, threshold=p.threshold, left=p.left,
                                right=p.right, value=value, roots=p.roots))  # fmt: skip
    baselines = np.array([p.baseline for p in priors])
    return CrossRepoPrior(names=tuple(names),
                          baseline=float(np.mean(baselines) if weights is None
                                         else np.dot(w, baselines)),
                          meta=dict(meta if meta is not None else priors[0].meta),
                          **concatenate_trees(blocks))  # fmt: skip
