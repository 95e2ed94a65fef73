"""Your own cross-repository prior from pipelines you have run (``standard-coder fit-prior``).

Each path is an ``[outputs] base_dir`` after ``train_sch`` (it holds the dataset and the
representation, :class:`~standard_coder.pipelines.sch_layout.SchLayout`), or a folder with
such outputs anywhere below it. Every output is one history; the prior is fitted on all of
them (:mod:`standard_coder.sch.features.prior_corpus`) and saved where
``[training.features] cross_repo_prior_path`` can name it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from standard_coder.pipelines.sch_layout import SchLayout
from standard_coder.sch.dataset import Dataset, DatasetSchemaError
from standard_coder.sch.features.cross_repo import CrossRepoPrior
from standard_coder.sch.features.prior_corpus import (
    RECIPE_BAG,
    History,
    LeaveOneOut,
    PriorCorpus,
    PriorCorpusError,
    score_history,
    summarise,
)
from standard_coder.sch.features.representation import ChangeRepresentation, RepresentationMismatch
from standard_coder.sch.stats import json_finite

DEFAULT_BASE_DIR = "sc-output"
"""``[outputs] base_dir``'s default: an output folder of this name is named after its parent."""


class PriorInputError(ValueError):
    """A path that holds no trained output, or an output that cannot be read (one line)."""


@dataclass(frozen=True)
class PriorFit:
    """What ``fit-prior`` made: the file, its corpus and the leave-one-out check (if run)."""

    path: Path
    histories: list[str]
    changes: int
    checksum: str
    held_out: bool
    """Whether the histories' held-out changes were fitted on too."""
    leave_one_out: list[LeaveOneOut]
    shipped: dict[str, float]
    """Held-out Spearman of the shipped prior per history (the default to compare with)."""
    skipped: list[Path]
    """Outputs found below a path that ``train_sch`` had not finished (no representation)."""

    def versus_shipped(self) -> dict[str, Any]:
        """This prior's and the shipped prior's mean held-out Spearman over the same histories:
        those both score (a Spearman is undefined on constant scores or hours)."""
        pairs = [
            (r.spearman_prior, self.shipped[r.history])
            for r in self.leave_one_out
            if math.isfinite(r.spearman_prior) and math.isfinite(self.shipped[r.history])
        ]
        n = len(pairs)
        return {
            "held_out_compared_with_shipped": n,
            "held_out_mean_spearman_prior_vs_shipped": (
                round(sum(p for p, _ in pairs) / n, 4) if n else None
            ),
            "held_out_mean_spearman_shipped_prior": (
                round(sum(q for _, q in pairs) / n, 4) if n else None
            ),
        }

    def to_json(self) -> dict[str, Any]:
        """The fit as JSON (an undefined Spearman is ``null``)."""
        doc: dict[str, Any] = {
            "prior": str(self.path),
            "checksum": self.checksum,
            "histories": self.histories,
            "changes": self.changes,
            "held_out_changes_fitted": self.held_out,
            "skipped": [str(p) for p in self.skipped],
        }
        if self.leave_one_out:
            doc["leave_one_out"] = [
                {**vars(r), "spearman_shipped_prior": self.shipped[r.history]}
                for r in self.leave_one_out
            ]
            doc["summary"] = {**summarise(self.leave_one_out), **self.versus_shipped()}
        finite: dict[str, Any] = json_finite(doc)
        return finite


def find_outputs(paths: Sequence[Path]) -> tuple[list[Path], list[Path]]:
    """The output folders at or below the paths that ``train_sch`` has written (each once, in
    order), and those below with a dataset but no representation (a run that did not finish).

    Raises:
        PriorInputError: a path that is not a folder or holds no trained output.
    """
    found: list[Path] = []
    skipped: list[Path] = []
    seen: set[Path] = set()
    for p in paths:
        if not p.is_dir():
            raise PriorInputError(f"{p}: not a folder")
        below = sorted(
            d.parent.parent.parent for d in p.glob("**/labels/datasets/coding_train.npz")
        )
        outs = [p] if _is_trained(p) else []
        outs += [d for d in below if d != p and _is_trained(d)]
        skipped += [d for d in below if not _is_trained(d)]
        if not outs:
            raise PriorInputError(
                f"{p}: no trained output (labels/datasets/coding_train.npz and "
                "features/change_rep; run train_sch first)"
            )
        for d in outs:
            if d.resolve() not in seen:
                seen.add(d.resolve())
                found.append(d)
    return found, skipped


def _is_trained(base_dir: Path) -> bool:
    layout = SchLayout(base_dir)
    return layout.dataset.is_file() and (layout.change_rep / "representation.json").is_file()


def _named_folder(base_dir: Path) -> Path:
    """The folder a history is named after: the output's own, or the parent of ``sc-output``."""
    base_dir = base_dir.resolve()
    return base_dir.parent if base_dir.name == DEFAULT_BASE_DIR else base_dir


def output_name(base_dir: Path) -> str:
    """A history's name: its output folder's, or the parent's for the default ``sc-output``."""
    return _named_folder(base_dir).name


def unique_names(outputs: Sequence[Path]) -> list[str]:
    """Output names, with the folder above the named one added where two would be the same."""
    names = [output_name(p) for p in outputs]
    return [
        f"{_named_folder(p).parent.name}/{n}" if names.count(n) > 1 else n
        for p, n in zip(outputs, names, strict=True)
    ]


def load_history(base_dir: Path, name: str | None = None) -> History:
    """One trained output as a history (its dataset and representation checked on load)."""
    layout = SchLayout(base_dir)
    try:
        dataset = Dataset.load(layout.dataset)
        rep = ChangeRepresentation.load(layout.change_rep)
        return History.from_output(name or output_name(base_dir), dataset, rep)
    except (DatasetSchemaError, RepresentationMismatch, PriorCorpusError) as e:
        raise PriorInputError(str(e)) from e


def check_destination(out: Path, outputs: Sequence[Path]) -> None:
    """Refuse, before any fitting, an ``out`` that is a folder, lies inside an input output or
    whose nearest existing folder cannot be written (missing folders are created)."""
    if out.is_dir():
        raise PriorInputError(f"{out}: is a folder")
    target = out.resolve()
    for d in outputs:
        if target.is_relative_to(d.resolve()):
            raise PriorInputError(f"{out}: inside the output {d} it would be fitted on")
    parent = target.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise PriorInputError(f"{out}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PriorInputError(f"{out}: {parent} is not writable")


def fit_own_prior(
    paths: Sequence[Path],
    out: Path,
    *,
    seed: int = 0,
    bag: int | None = None,
    check: bool = True,
    held_out: bool = False,
    inputs: Literal["common", "union"] = "common",
) -> PriorFit:
    """Fit a prior on every trained output below ``paths`` and save it to ``out`` (atomically).

    Fitted on each history's normal-interval changes before its held-out period (``held_out``:
    those too), so the histories run again with this prior keep a held-out split it never saw.
    With ``check`` each history is first scored by a prior fitted on the others, and by the
    shipped prior each would get otherwise (the one reading message bodies where it counted
    them; it may have seen a history, if it is one of the public histories it was fitted
    on: ``meta["trained_on"]``). Where they counted bodies the recipe mixes in the fit without
    them (:data:`~standard_coder.sch.features.prior_corpus.RECIPE_BODY_WEIGHT`). ``bag``:
    every prior (the checks' too) is the mean of that many ensembles, seeds ``seed`` onwards
    (``None``: the shipped recipe's :data:`~standard_coder.sch.features.prior_corpus.RECIPE_BAG`).

    Raises:
        PriorInputError: a path without a trained output, an unreadable output, fewer than two
            histories, a history with too few changes, repeated names, an ``out`` that cannot
            be written (checked before fitting; nothing is written on any error).
    """
    outputs, skipped = find_outputs(paths)
    check_destination(out, outputs)
    bag = RECIPE_BAG if bag is None else bag
    histories = [load_history(p, n) for p, n in zip(outputs, unique_names(outputs), strict=True)]
    try:
        corpus = PriorCorpus(histories, inputs, held_out=held_out)
    except PriorCorpusError as e:
        raise PriorInputError(str(e)) from e
    rows = [row for row, _ in corpus.leave_one_out(seed=seed, bag=bag)] if check else []
    shipped: dict[str, float] = {}
    if check:  # each history with the shipped prior it would get (that for bodies, if counted)
        builtin = {body: CrossRepoPrior.builtin(body=body) for body in (False, True)}
        for h in histories:
            shipped[h.name] = score_history(h, builtin[h.counted_bodies]).spearman_prior
    prior = corpus.fit(seed=seed, bag=bag)
    try:
        prior.save(out)
    except OSError as e:
        raise PriorInputError(f"{out}: cannot write ({e.strerror or e})") from e
    return PriorFit(
        path=out,
        histories=[h.name for h in histories],
        changes=corpus.n_changes,
        checksum=prior.checksum,
        held_out=held_out,
        leave_one_out=rows,
        shipped=shipped,
        skipped=skipped,
    )
