"""Labels of the same commits inferred from one repository's timelines vs from a family of
repositories mined together (work inference pools an author's commits across repositories).

    PYTHONPATH=src python benchmarks/family_labels.py COMBINED_DATASET SINGLE_DATASET [...]

Each argument is a finished run's ``labels/datasets/coding_train.npz``: the first from one
pipeline over every repository of the family, the others from one run per repository (e.g.
``benchmarks/real_history.py --work-dir``). Per repository, on the commits both hold and with
the single run's time split: the median label, the Spearman of lines added with the mean label
on held-out and on fitted normal-interval changes (how much of the change the labels carry),
and the mean actual (label samples inside [0, 1] h, what binned calibration compares with),
fitted -> held out (the drift). Last line: one JSON object. docs/effort-models.md, "Session 14".
"""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from standard_coder.sch.features.tokens import SURFACE_NAMES
from standard_coder.sch.predictors.sch_map import inside_mean

LINES_ADDED = SURFACE_NAMES.index("lines_added")


NEEDED = ("Y", "repo", "commit_id", "split", "surface", "label_kind")


def load(path: str) -> dict[str, np.ndarray]:
    """A run's dataset; a missing or unreadable file ends the script with exit code 2."""
    try:
        with np.load(path, allow_pickle=False) as d:
            data = {k: d[k] for k in d.files}
    except (OSError, ValueError) as exc:
        print(f"family_labels: {path}: not a readable dataset ({exc})", file=sys.stderr)
        sys.exit(2)
    missing = [k for k in NEEDED if k not in data]
    if missing:
        print(f"family_labels: {path}: no {', '.join(missing)} (a dataset of an older run?)",
              file=sys.stderr)  # fmt: skip
        sys.exit(2)
    return data


def figures(D: dict[str, np.ndarray], rows: np.ndarray, split: np.ndarray,
            la: np.ndarray) -> dict[str, Any]:  # fmt: skip
    Y = D["Y"][rows].astype(np.float64)
    normal = D["label_kind"][rows] == 0
    ok, inside = inside_mean(Y)  # what binned calibration compares with (NaN: none inside)
    mean, actual = Y.mean(1), np.where(ok, inside, np.nan)
    test, fitted = normal & (split == 2), normal & (split != 2)
    return {
        "median_hours": round(float(np.median(mean)), 3),
        "n_test_normal": int(test.sum()),
        "spearman_lines_added_test": round(float(spearmanr(la[test], mean[test])[0]), 3),
        "spearman_lines_added_fitted": round(float(spearmanr(la[fitted], mean[fitted])[0]), 3),
        "actual_fitted": round(float(np.nanmean(actual[fitted])), 3),
        "actual_test": round(float(np.nanmean(actual[test])), 3),
    }


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    combined = load(argv[0])
    where = {(str(r), str(c)): i for i, (r, c) in
             enumerate(zip(combined["repo"], combined["commit_id"], strict=True))}  # fmt: skip
    out = []
    for path in argv[1:]:
        single = load(path)
        keys = zip(single["repo"], single["commit_id"], strict=True)
        pairs = [(i, where.get((str(r), str(c)))) for i, (r, c) in enumerate(keys)]
        both = np.array([(i, j) for i, j in pairs if j is not None], dtype=np.int64)
        name = str(single["repo"][0])
        if not len(both):
            print(f"{name}: no commit in common with the combined run")
            continue
        si, ci = both[:, 0], both[:, 1]
        split, la = single["split"][si], single["surface"][si, LINES_ADDED]
        row = {"repo": name, "shared": len(si), "of": len(single["commit_id"]),
               "single": figures(single, si, split, la),
               "combined": figures(combined, ci, split, la)}  # fmt: skip
        out.append(row)
        s, c = row["single"], row["combined"]
        print(f"{name:24s} {row['shared']:5d}/{row['of']:<5d} median h {s['median_hours']} -> "
              f"{c['median_hours']}; lines added vs label, held out "
              f"{s['spearman_lines_added_test']} -> {c['spearman_lines_added_test']}; "
              "actual fitted -> held out "
              f"{s['actual_fitted']} -> {s['actual_test']} alone, {c['actual_fitted']} -> "
              f"{c['actual_test']} together")  # fmt: skip
    print(json.dumps({"repositories": out}))


if __name__ == "__main__":
    main(sys.argv[1:])
