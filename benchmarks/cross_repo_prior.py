"""Benchmark and builder: the cross-repository prior against lines added, leave one history out.

    PYTHONPATH=src python benchmarks/cross_repo_prior.py RUN_DIR [RUN_DIR ...]
        [--write PRIOR.npz] [--write-loro DIR] [--seed N] [--inputs common|union] [--no-subjects]
        [--no-files] [--no-body] [--body-weight W] [--bag K] [--no-leave-one-out]
        [--score PRIOR.npz ...]

Each ``RUN_DIR`` is a ``benchmarks/real_history.py`` work folder (or a folder of them): a
history's ``sc-output`` after ``train_sch`` (``labels/datasets/coding_train.npz`` and
``features/change_rep``). For every history the prior (``sch/features/cross_repo.py``) is
fitted on the *other* histories' normal-interval changes and scored on this one, which it has
never seen: Spearman of its score with each change's mean inferred coding time, minus lines
added's, on the held-out changes (normal intervals, as ``spearman_sch``) and on the fitted
period (train + validation, normal); then the mean held-out Spearman of each and their ratio.
``--write`` fits one prior on every history given (the shipped
``standard_coder/sch/features/data/cross_repo_prior.npz`` was made this way, from the 28
histories of docs/effort-models.md "A cross-repository prior");
``--write-loro DIR`` saves each leave-one-out prior as ``DIR/<history>.npz`` (to run a history
end to end with ``[training.features] cross_repo_prior_path``). ``--inputs``: the count columns
every history's representation has (``common``, the default) or any has (``union``), each
with every Python identifier counted together. The commit subject columns (``subject|...``,
``[training.features] commit_subject``) are inputs where every history counted them;
``--no-subjects`` leaves them out (the recipe before session 20). The columns of files of every
language (``files|...``, ``[training.features] commit_files``) likewise; ``--no-files`` leaves
them out; and of message bodies (``body|...``, ``commit_body``), ``--no-body``. Where bodies
are read, every prior is ``--body-weight`` (default the recipe's, ``RECIPE_BODY_WEIGHT``) of the
fit with them and the rest of the same fit without them (1: the body fit alone, session 27).
``--bag K``: every prior is the mean of K ensembles fitted with seeds ``--seed`` ..
``--seed + K - 1`` (``average_priors``; default 5, the shipped recipe since session 25; 1 is
the recipe before). ``--no-leave-one-out``: only ``--write``.
``--score FILE...``: fit nothing; score each prior file on every history given (held-out and
fitted-period Spearman minus lines added's, as above), e.g. priors on histories they never saw.
Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from standard_coder.pipelines.sch_prior import PriorInputError, find_outputs, load_history
from standard_coder.sch.features.cross_repo import CrossRepoPrior, CrossRepoPriorError
from standard_coder.sch.features.prior_corpus import (
    RECIPE_BAG,
    RECIPE_BODY_WEIGHT,
    History,
    LeaveOneOut,
    PriorCorpus,
    score_history,
    summarise,
)


def history_name(sc_output: Path) -> str:
    """``real_history.py``'s work folders are ``NN-<repo>/sc-output``: the history is ``<repo>``."""
    name = sc_output.resolve().parent.name
    return name.split("-", 1)[1] if name[:2].isdigit() and "-" in name else name


def _num(x: object, spec: str = "+.4f") -> str:
    """``x`` formatted, or ``-`` where no history could be scored."""
    return format(x, spec) if isinstance(x, float) and x == x else "-"


def score_files(files: list[Path], histories: list[History]) -> int:
    """Each prior file's Spearman minus lines added's on every history; one JSON line."""
    priors = {str(f): CrossRepoPrior.load(f) for f in files}
    table: dict[str, list[LeaveOneOut]] = {f: [] for f in priors}
    print(f"{'history':22s} {'n':>5s} {'lines':>7s} " + " ".join(f"{Path(f).stem[:14]:>14s}"
                                                            for f in priors))  # fmt: skip
    for h in histories:
        rows = [score_history(h, p) for p in priors.values()]
        for f, r in zip(priors, rows, strict=True):
            table[f].append(r)
        print(f"{h.name:22s} {rows[0].n_test_normal:5d} {rows[0].spearman_lines_added:+7.3f} "
              + " ".join(f"{r.gain:+14.3f}" for r in rows), flush=True)  # fmt: skip
    summaries = {f: summarise(rows) for f, rows in table.items()}
    for f, sm in summaries.items():
        print(
            f"{f}: prior minus lines added, held out: mean {_num(sm['held_out_mean_diff'])}, "
            f"above on {sm['held_out_above_lines_added']} of {sm['held_out_scored']}"
        )
    print(json.dumps({"score": {f: [vars(r) for r in rows] for f, rows in table.items()},
                      "summary": summaries}))  # fmt: skip
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--write", type=Path, help="fit one prior on every history; save it here")
    ap.add_argument("--write-loro", type=Path, help="save each leave-one-out prior in this folder")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--inputs", choices=("common", "union"), default="common",
                    help="columns every history has (default) or any has")  # fmt: skip
    ap.add_argument("--no-subjects", action="store_true",
                    help="leave the commit subject columns out (the older recipe)")  # fmt: skip
    ap.add_argument("--no-files", action="store_true",
                    help="leave the columns of files of every language out")  # fmt: skip
    ap.add_argument("--no-body", action="store_true",
                    help="leave the message body columns out")  # fmt: skip
    ap.add_argument("--body-weight", type=float, default=RECIPE_BODY_WEIGHT,
                    help="where bodies are read, the prior is this share of the fit with them "
                         "and the rest of the fit without (default: the shipped recipe's; 1: "
                         "the body fit alone, session 27's)")  # fmt: skip
    ap.add_argument("--bag", type=int, default=RECIPE_BAG,
                    help="each prior the mean of this many seeds' ensembles (default: the "
                         "shipped recipe's)")  # fmt: skip
    ap.add_argument("--no-leave-one-out", action="store_true", help="only --write")
    ap.add_argument("--score", type=Path, nargs="+",
                    help="score these prior files on the histories; fit nothing")  # fmt: skip
    args = ap.parse_args(argv)
    if args.bag < 1:
        ap.error(f"--bag: at least 1 ensemble, got {args.bag}")
    if not 0.0 <= args.body_weight <= 1.0:
        ap.error(f"--body-weight: between 0 and 1, got {args.body_weight}")
    try:
        dirs, _ = find_outputs(args.runs)
        histories = [load_history(d, history_name(d)) for d in dirs]
        if args.score:
            return score_files(args.score, histories)
        corpus = PriorCorpus(histories, args.inputs, subjects=not args.no_subjects,
                             files=not args.no_files, body=not args.no_body)  # fmt: skip
    except (PriorInputError, CrossRepoPriorError, ValueError) as e:
        print(f"cross_repo_prior: {e}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    print(f"{'history':16s} {'n':>5s} {'lines':>7s} {'prior-lines':>12s} {'fit period':>11s}")
    rows = []
    loo = (
        []
        if args.no_leave_one_out
        else corpus.leave_one_out(seed=args.seed, bag=args.bag, body_weight=args.body_weight)
    )
    for row, prior in loo:
        if args.write_loro:
            prior.save(args.write_loro / f"{row.history}.npz")
        rows.append(row)
        fd = row.fit_spearman_prior - row.fit_spearman_lines_added
        print(f"{row.history:16s} {row.n_test_normal:5d} {row.spearman_lines_added:+7.3f} "
              f"{row.gain:+12.3f} {fd:+11.3f}", flush=True)  # fmt: skip
    summary: dict[str, object] = {**summarise(rows), "seconds": round(time.perf_counter() - t0, 1)}
    print(f"held-out Spearman, mean over histories: prior "
          f"{_num(summary['held_out_mean_spearman_prior'], '.3f')}, lines added "
          f"{_num(summary['held_out_mean_spearman_lines_added'], '.3f')} "
          f"(ratio {summary['ratio']})")  # fmt: skip
    print(f"prior minus lines added, held out: mean {_num(summary['held_out_mean_diff'])}, above "
          f"on {summary['held_out_above_lines_added']} of {summary['held_out_scored']}; fitted "
          f"period: mean {_num(summary['fit_period_mean_diff'])}, above on "
          f"{summary['fit_period_above_lines_added']} of {len(rows)}")  # fmt: skip
    if args.write:
        prior = corpus.fit(seed=args.seed, bag=args.bag, body_weight=args.body_weight)
        prior.save(args.write)
        print(f"wrote {args.write} ({corpus.n_changes} changes of {len(corpus)} histories)")
    print(json.dumps({"cross_repo_prior": [vars(r) for r in rows], "summary": summary}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
