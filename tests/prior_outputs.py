"""Trained flagship outputs made of synthetic changes, for the cross-repository prior's tests:
a real :class:`ChangeRepresentation` fitted on the changes and the :class:`Dataset` it scaled,
saved where ``train_sch`` saves them."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Literal

import numpy as np

from standard_coder.sch.dataset import Dataset
from standard_coder.sch.features.raw_change import RawChange
from standard_coder.sch.features.representation import ChangeRepresentation
from standard_coder.sch.features.tokens import SURFACE_NAMES, TokenCounts


def raw(lines_added: int, defs: int, body_lines: int | None = None) -> RawChange:
    """A change of ``lines_added`` lines (one identifier each) and ``defs`` ``def``s; with
    ``body_lines``, a message body of that many lines of nine words."""
    surface = [0.0] * len(SURFACE_NAMES)
    surface[SURFACE_NAMES.index("lines_added")] = float(lines_added)
    bag = Counter({"python|kw|def": defs, "python|id|x": lines_added})
    change = RawChange(tokens=TokenCounts(bag=bag, surface=surface))
    if body_lines is not None:
        change.body = np.array([body_lines, 9.0 * body_lines, 0.0])
    return change


def fake_run(
    folder: Path,
    seed: int,
    n: int = 600,
    *,
    kind: Literal["tokens", "loc"] = "tokens",
    base: str = "sc-output",
    held_out_kind: int = 0,
    body: bool = False,
) -> tuple[ChangeRepresentation, list[RawChange]]:
    """A trained output ``folder/base``: the last fifth of the ``n`` changes held out (their
    label kind ``held_out_kind``); the labels follow lines added and, beyond it, the number of
    ``def``s (which lines added does not see) and, with ``body``, the body's lines (counted,
    ``commit_body``). Returns the representation and the changes."""
    rng = np.random.default_rng(seed)
    la = rng.negative_binomial(1, 0.05, n)
    defs = rng.negative_binomial(1, 0.3, n)
    said = rng.negative_binomial(1, 0.4, n) * (rng.random(n) < 0.5) if body else np.zeros(n)
    raws = [raw(int(a), int(d), int(b) if body else None)
            for a, d, b in zip(la, defs, said, strict=True)]  # fmt: skip
    rep = ChangeRepresentation(kind=kind, commit_body=body).fit(raws)
    hours = np.exp(-1.5 + 0.4 * np.log1p(la) + 0.3 * np.log1p(defs) + 0.3 * np.log1p(said)
                   + rng.normal(0, 0.6, n))  # fmt: skip
    X = rep.transform(raws)
    surface = np.zeros((n, len(SURFACE_NAMES)))
    surface[:, SURFACE_NAMES.index("lines_added")] = la
    held = np.arange(n) >= 0.8 * n
    out = folder / base
    Dataset(
        X=X, X_loc=X[:, :1], Y=hours[:, None] * np.ones((1, 4)), surface=surface,
        repo=np.array(["r"] * n), commit_id=np.array([f"c{i}" for i in range(n)]),
        n_squashed=np.ones(n, np.int32), time=np.arange(n, dtype=np.int64),
        split=np.where(held, 2, 0).astype(np.int8), feature_names=list(rep.feature_names_),
        meta={"kind": kind, "checksum": rep.checksum_},
        label_kind=np.where(held, held_out_kind, 0).astype(np.int8),
    ).save(out / "labels/datasets/coding_train.npz")  # fmt: skip
    rep.save(out / "features/change_rep")
    return rep, raws
