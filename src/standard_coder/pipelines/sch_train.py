"""The ``train_sch`` stage: work inference -> change features -> effort model -> evaluation.

Each step resumes on its own: authors are ledger items, the dataset is saved once built (under
the stage's fingerprint-scoped checkpoint folder), training checkpoints every N steps. The
option objects it builds from ``[training]`` come from :mod:`.sch_train_options`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from standard_coder.pipelines.sch_train_options import (
    configured_prior,
    head_params,
    recency_of,
    train_options,
    work_options,
)
from standard_coder.runner.context import StageContext, warn

if TYPE_CHECKING:  # numpy stays off the import path of a no-op rerun
    import numpy as np

    from standard_coder.config.training import TrainingSection
    from standard_coder.sch.dataset import Dataset
    from standard_coder.sch.predictors.estimator import EffortModel
    from standard_coder.sch.predictors.stage import SideFit
    from standard_coder.sch.work_inference.labels import AuthorHistory, LabelSet

Key = tuple[str, str]


def _refuse_corrupt_db(ctx: StageContext, db: Path) -> None:
    """A corrupt mined database is set aside (so the next run's mine stage, finding its output
    gone, mines again) and the stage fails with a message naming the file."""
    from standard_coder.runner.quarantine import quarantine
    from standard_coder.sch.mining.integrity import CorruptDatabaseError, set_aside_if_corrupt

    found = set_aside_if_corrupt(db, lambda d: quarantine(d, ctx.base_dir / "quarantine"))
    if found is not None:
        reason, target = found
        ctx.emit("state_corrupt", reason=reason, path=str(db), moved_to=str(target))
        raise CorruptDatabaseError(
            db,
            reason,
            hint=f"set aside as {target}; run the pipeline again (the mine stage mines it again)",
        )


def squash_groups(histories: Mapping[str, Any], squash_minutes: int) -> list[list[Key]]:
    """Same-author commits less than ``squash_minutes`` apart form one change (paper §VI)."""
    import numpy as np

    from standard_coder.sch.work_inference.pulls import is_event

    groups: list[list[Key]] = []
    for h in histories.values():
        real = [i for i, k in enumerate(h.keys) if not is_event(k)]  # commits, not events
        if len(real) < 2:
            continue
        times, keys = h.times[real], [h.keys[i] for i in real]
        close = np.diff(times) < squash_minutes * 60
        run: list[Key] = [keys[0]]
        for i in range(1, len(keys)):
            if close[i - 1]:
                run.append(keys[i])
            else:
                if len(run) > 1:
                    groups.append(run)
                run = [keys[i]]
        if len(run) > 1:
            groups.append(run)
    return groups


def squashed_labels(labels: Any, groups: Sequence[Sequence[Key]]) -> tuple[list[Key], np.ndarray]:
    """Labels where a squashed group's newest member carries the summed coding time of all."""
    import numpy as np

    index = {k: i for i, k in enumerate(labels.keys)}
    samples = np.array(labels.samples_hours, dtype=np.float32, copy=True)
    drop: set[int] = set()
    for g in groups:
        rows = [index[k] for k in g if k in index]
        if len(rows) > 1:
            samples[rows[-1]] = samples[rows].sum(axis=0)
            drop.update(rows[:-1])
    keep = [i for i in range(len(labels.keys)) if i not in drop]
    return [labels.keys[i] for i in keep], samples[keep]


def label_info(
    labels: Any, merge_stamped: Collection[Key] = (), agent_assisted: Collection[Key] = ()
) -> tuple[dict[Key, int], dict[Key, bool]]:
    """Per commit key: its label's kind and whether its author was pooled.

    The kind is the work-inference interval kind, except for commits in ``merge_stamped``
    (their time is a GitHub merge time): those are ``MERGE_STAMPED`` whatever their interval;
    and for commits in ``agent_assisted`` (an AI coding agent helped write them: their time is
    a person directing it) of any other kind: ``AGENT_ASSISTED``.
    """
    from standard_coder.sch.dataset import AGENT_ASSISTED, MERGE_STAMPED

    kinds = {k: int(v) for k, v in zip(labels.keys, labels.interval_kind.tolist(), strict=True)}
    for k in agent_assisted:
        if k in kinds:
            kinds[k] = AGENT_ASSISTED
    for k in merge_stamped:
        if k in kinds:
            kinds[k] = MERGE_STAMPED
    pooled = {k: bool(v) for k, v in zip(labels.keys, labels.pooled.tolist(), strict=True)}
    return kinds, pooled


def label_info_of(labels: Any, db: Path) -> tuple[dict[Key, int], dict[Key, bool]]:
    """:func:`label_info` with the mined database's merge-stamped and agent-assisted commits
    (the one place ``train_sch`` and ``eval --repos`` take label kinds from)."""
    from standard_coder.sch.mining.store import agent_assisted_commits

    return label_info(labels, merge_stamped(db), agent_assisted_commits(db))


def session_weights(
    labels: Any, groups: Sequence[Sequence[Key]] = ()
) -> dict[Key, tuple[float, float]]:
    """Per change (keyed by its first commit, as the dataset keys its kind): the share of its
    inferred coding in the session it closes, and its interval (:class:`Dataset`
    ``label_weight``, ``label_interval_minutes``). Commit times only, never the diffs."""
    import numpy as np

    expected = np.asarray(labels.expected_minutes, float)
    last = labels.last_session_minutes
    last = expected if last is None else np.asarray(last, float)
    index = {k: i for i, k in enumerate(labels.keys)}
    changes: list[list[int]] = []
    grouped: set[int] = set()
    for g in groups:
        rows = [index[k] for k in g if k in index]
        if rows:
            changes.append(rows)
            grouped.update(rows)
    changes.extend([i] for i in range(len(labels.keys)) if i not in grouped)
    out: dict[Key, tuple[float, float]] = {}
    for rows in changes:
        total = float(expected[rows].sum())
        share = float(last[rows].sum()) / total if total > 0 else 1.0
        out[labels.keys[rows[0]]] = (
            min(max(share, 0.0), 1.0),
            float(labels.interval_minutes[rows[0]]),
        )
    return out


def save_labels(labels: Any, path: Path) -> None:
    """The commits x samples label matrix (hours) with its keys, pickle-free and atomic."""
    import io

    import numpy as np

    from standard_coder.runner.atomic import atomic_write_bytes

    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        repo=np.array([k[0] for k in labels.keys], dtype=str),
        commit_id=np.array([k[1] for k in labels.keys], dtype=str),
        author=np.array(list(labels.authors), dtype=str),
        samples_hours=labels.samples_hours.astype(np.float32),
        expected_minutes=labels.expected_minutes,
        interval_minutes=labels.interval_minutes,
        interval_kind=labels.interval_kind,
        pooled=labels.pooled,
        last_session_minutes=labels.expected_minutes
        if labels.last_session_minutes is None
        else labels.last_session_minutes,
        kind=np.array(labels.kind),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buf.getvalue())


def merge_stamped(db: Path) -> set[Key]:
    """The commits whose label interval is a merge time: merge-stamped ones whose pull request
    commits were not found (those are timed by them: ``work_inference.pulls``)."""
    from standard_coder.sch.mining.store import load_pull_times, merge_stamped_commits

    return merge_stamped_commits(db) - set(load_pull_times(db))


def load_histories(db: Path) -> dict[str, AuthorHistory]:
    """Every author's commit times from the mined database (empty when nothing was mined), squash
    merges timed by their pull request's commits where the mine found them, and their merges and
    commits touching no enabled language as events (work, not changes)."""
    from standard_coder.sch.mining.merges import load_merge_times, load_other_times
    from standard_coder.sch.mining.store import (
        load_commit_times,
        load_pull_times,
        merge_stamped_commits,
    )
    from standard_coder.sch.work_inference.labels import AuthorHistory
    from standard_coder.sch.work_inference.pulls import (
        OTHER_EVENT,
        with_merge_events,
        with_pull_events,
    )

    pull_times = load_pull_times(db)
    times = with_pull_events(load_commit_times(db), pull_times)
    times = with_merge_events(times, load_merge_times(db))
    times = with_merge_events(times, load_other_times(db), OTHER_EVENT)
    # flagged (WorkInferenceOptions.stamped_out_of_timeline): as merge_stamped(db)
    stamped = merge_stamped_commits(db) - set(pull_times)
    return {a: AuthorHistory.from_tuple(a, v, stamped) for a, v in times.items()}


MIN_CHANGES = 3
"""Fewest changes ``train_sch`` trains on: one held out to evaluate the model and two to fit it
(``auto`` picks its predictor on the later one). Fewer than ``sch_warnings.MIN_TRAIN_CHANGES``
train with a warning that the numbers are mostly noise."""


class TooFewChanges(ValueError):
    """The mined history has too few changes to train and evaluate a model (exit 2)."""

    exit_code = 2


def check_enough_changes(dataset: Dataset) -> None:
    """Raise :class:`TooFewChanges` unless ``dataset`` has a held-out change and two to fit.

    The held-out period is each repository's most recent changes, one at least where the
    repository has two or more (``time_split``).
    """
    from standard_coder.sch.dataset import TEST

    n, n_test = len(dataset), len(dataset.index(TEST))
    if n >= MIN_CHANGES and n_test >= 1 and n - n_test >= 2:
        return
    why = "" if n < MIN_CHANGES else ", no repository has two to hold its latest one out"
    raise TooFewChanges(
        f"too few changes to train the effort model ({n}{why}; need at least {MIN_CHANGES}, "
        "one of them held out in its repository): mine more history (raise or unset "
        "repos.max_commits_per_repo, add repositories to repos.include_paths, or enable more "
        "languages in filters.languages)"
    )


def label_commits(
    histories: Mapping[str, AuthorHistory],
    t: TrainingSection,
    kind: str,
    *,
    out_dir: Path,
    seed: int,
    ctx: StageContext | None = None,
    reuse_dir: Path | None = None,
) -> LabelSet | None:
    """Work-inference labels of ``kind`` for every author.

    In a stage (``ctx`` given) authors run through ``ctx.map``, finished ones come from the
    ledger, and None means a stop was requested before all were fitted. Without ``ctx``
    (``eval``) everything runs in-process. ``reuse_dir``: the last completed run's results
    (an author fitted there under the same key is copied, not refitted).
    """
    from standard_coder.sch.work_inference.labels import WorkInferenceStopped, infer_labels
    from standard_coder.sch.work_inference.pulls import fold_pull_events

    if ctx is None:
        return fold_pull_events(
            infer_labels(histories, work_options(t), kind=kind, out_dir=out_dir, seed=seed)
        )
    stage = ctx
    try:
        labels = infer_labels(
            histories,
            work_options(t),
            kind=kind,
            out_dir=out_dir,
            seed=seed,
            map_fn=lambda fn, items, done=0: stage.map(
                fn, list(items), desc=f"work inference ({kind})", done=done
            ),
            ledger=stage.ledger(f"work_inference_{kind}"),
            should_stop=stage.should_stop,
            reuse_dir=reuse_dir,
        )
    except WorkInferenceStopped:
        return None  # the engine sees the stop request and reports the interrupt
    return fold_pull_events(labels)


def fit_baseline_and_pool(
    dataset: Dataset,
    t: TrainingSection,
    model: EffortModel,
    base_kind: str,
    base_head: Mapping[str, Any],
    side_fit: SideFit,
) -> EffortModel:
    """The LOC baseline (``base_kind`` with ``base_head`` on lines added and deleted), and
    ``model`` pooled with an MDN on its size counts at ``[training] pool_size_mdn`` (the shift
    and auto predictors), as ``train_sch`` fits them; ``side_fit`` fits each model beside the
    main one. Then ``model``'s error correlation over time (``total_correlation_``, the ranges
    of totals: :func:`standard_coder.sch.totals.fitted_correlation`) is measured on the fitted
    changes. Returns the baseline. ``benchmarks/refit_effort.py`` refits saved runs with it."""
    from standard_coder.sch.predictors.pool import size_columns
    from standard_coder.sch.predictors.stage import fit_loc_baseline
    from standard_coder.sch.totals import fitted_correlation

    columns = size_columns(dataset.feature_names)  # every representation has some
    pool = bool(t.pool_size_mdn and t.predictor in ("shift", "auto") and columns)
    baseline = fit_loc_baseline(dataset, base_kind, base_head, side_fit,
                                pool_weight=t.pool_size_mdn if pool else 0.0,
                                pool_params=t.mdn.model_dump())  # fmt: skip
    if pool:
        size_model = side_fit(dataset.columns_view(columns, "size"), "mdn", t.mdn.model_dump(),
                              "size_mdn", "size MDN")  # fmt: skip
        model.pool_with(size_model, t.pool_size_mdn, columns)
    model.total_correlation_ = fitted_correlation(model, dataset)["correlation"]
    return baseline


def run(ctx: StageContext) -> None:
    """Infer coding time per author, build features, train the effort model and evaluate it.

    Reads ``ctx.params`` (``training``, ``seed``), the named input ``db`` (and ``truth``) and
    writes the named outputs (:meth:`SchLayout.train_outputs`).
    """
    from standard_coder.config.training import TrainingSection
    from standard_coder.pipelines.sch_layout import SchLayout
    from standard_coder.pipelines.sch_options import effort_device
    from standard_coder.pipelines.sch_progress import EpochProgress
    from standard_coder.pipelines.wiring import section_from_params
    from standard_coder.runner.atomic import atomic_write_bytes
    from standard_coder.sch.dataset import (
        FEATURE_BATCH,
        Dataset,
        DatasetStopped,
        build_dataset,
        write_stats,
    )
    from standard_coder.sch.features.commit_counts import save_commit_counts
    from standard_coder.sch.features.raw_change import LEFT_OUT_NAMES, RawChange
    from standard_coder.sch.features.representation import ChangeRepresentation
    from standard_coder.sch.mining.store import iter_commits
    from standard_coder.sch.teamsim.team import load_truth
    from standard_coder.sch.work_inference.pulls import is_event
    from standard_coder.sch.work_inference.truth import normal_keys, pearson_vs_truth

    t = section_from_params(TrainingSection, ctx.params["training"], ctx.root_dir)
    seed = int(ctx.params["seed"])
    db, out = ctx.inputs["db"], ctx.outputs
    tb = SchLayout(ctx.base_dir, t.predictor).tb
    _refuse_corrupt_db(ctx, db)
    histories = load_histories(db)
    if not histories:
        raise ValueError(f"{db}: no mined commits (check [repos] and [filters])")
    # the truth file is read before any work: a bad one fails the stage in a second, not after
    # the work inference it would score
    truth = None if (path := ctx.inputs.get("truth")) is None else load_truth(Path(path))
    ctx.log.info("work inference (%s) for %d authors", t.work_inference, len(histories))

    def labels_of(kind: str) -> LabelSet | None:
        earlier = ctx.final_outputs.get("work_inference")  # the last completed run's
        return label_commits(histories, t, kind, out_dir=out["work_inference"], seed=seed,
                             ctx=ctx, reuse_dir=earlier)  # fmt: skip

    labels = labels_of(t.work_inference)
    if labels is None:
        return
    save_labels(labels, out["labels"])
    truth_r: dict[str, float] | None = None
    if truth is not None:
        other = "gap" if t.work_inference == "hmm" else "hmm"
        other_labels = labels_of(other)
        if other_labels is None:
            return
        # both scored on the same commits: normal intervals in both label sets
        same = normal_keys(labels) & normal_keys(other_labels)
        truth_r = {
            t.work_inference: pearson_vs_truth(labels, truth, keys=same),
            other: pearson_vs_truth(other_labels, truth, keys=same),
        }
        ctx.log.info("work inference vs truth: %s", truth_r)
    if ctx.should_stop():
        return

    # Dataset: built once per fingerprint (the checkpoint folder is fingerprint-scoped).
    partial = ctx.checkpoint_dir / "dataset.npz"
    partial_rep = ctx.checkpoint_dir / "change_rep"
    partial_counts = ctx.checkpoint_dir / "commit_counts.npz"
    groups = squash_groups(histories, t.hmm.squash_minutes)
    dataset: Dataset | None = None
    rep: ChangeRepresentation | None = None
    if all(p.exists() for p in (partial, partial_rep / "representation.json", partial_counts)):
        where = partial
        try:
            dataset = Dataset.load(partial)
            where = partial_rep
            rep = ChangeRepresentation.load(partial_rep)
        except Exception as exc:  # corrupt partial work is rebuilt, never trusted
            # a [warn], as state_corrupt is for the runner's files: these are written whole
            # (atomically) by this fingerprint's own run, so one that does not load is damaged
            ctx.log.info("saved dataset: %s unreadable: %s", where, exc)
            warn(ctx, f"{where}: unreadable ({type(exc).__name__}); rebuilding the dataset")
            dataset = rep = None
    if dataset is None or rep is None:
        keys, samples = squashed_labels(labels, groups)
        kinds, pooled = label_info_of(labels, db)
        n_commits = sum(not is_event(k) for h in histories.values() for k in h.keys)
        n_batches = -(-n_commits // FEATURE_BATCH)
        feature_ledger = ctx.ledger("features")  # finished batches, kept across an interrupt
        commit_raws: dict[Key, RawChange] = {}  # every commit's counts, for team_output
        try:
            dataset, rep = build_dataset(
                iter_commits(
                    db, with_files=True, with_contents=t.features.representation == "hybrid"
                ),
                (keys, samples),
                representation=t.features.representation,
                top_n_identifiers=t.features.top_n_identifiers,
                skip_generated=t.features.skip_generated,
                skip_formatting=t.features.skip_formatting,
                commit_subject=t.features.commit_subject,
                commit_files=t.features.commit_files,
                commit_body=t.features.commit_body,
                cross_repo_prior=configured_prior(t, ctx.inputs.get("cross_repo_prior")),
                test_fraction=t.test_fraction,
                validation_fraction=t.optim.validation_fraction,
                seed=seed,
                groups=groups,
                map_fn=lambda fn, items: ctx.map(
                    fn,
                    items,
                    desc=f"features ({FEATURE_BATCH} commits each)",
                    total=max(0, n_batches - len(feature_ledger)),
                ),
                ledger=feature_ledger,
                label_kinds=kinds,
                pooled=pooled,
                session_weights=session_weights(labels, groups),
                commit_raws=commit_raws,
            )
        except DatasetStopped:
            return  # nothing written; the engine reports the interrupt
        ctx.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        save_commit_counts(partial_counts, rep, commit_raws)
        del commit_raws
        dataset.save(partial)
        rep.save(partial_rep)
    check_enough_changes(dataset)
    dataset.save(out["dataset"])
    out["commit_counts"].parent.mkdir(parents=True, exist_ok=True)  # team_output's counts
    atomic_write_bytes(out["commit_counts"], partial_counts.read_bytes())
    write_stats(dataset, out["dataset"].with_suffix(".stats.json"))
    left = dataset.meta.get("left_out") or {}
    if left.get("generated_files") or left.get("formatting_files"):
        ctx.log.info("features: left out %d generated files (%d lines added) and %d "
                     "formatting-only files (%d lines added); see coding_train.stats.json",
                     *(left.get(k, 0) for k in LEFT_OUT_NAMES))  # fmt: skip
    if rep.prior_unused_:
        ctx.log.info("features: the cross-repository prior is not used: %s",
                     rep.prior_unused_)  # fmt: skip
    rep.save(out["change_rep"])
    ctx.set_summary(commits=len(dataset), features=int(dataset.X.shape[1]))

    # torch comes in here, not at the top: a run killed or stopped during work inference or
    # features (the workers' part) never paid for it
    from standard_coder.sch.evaluation import evaluate
    from standard_coder.sch.predictors.stage import fit_effort_model
    from standard_coder.sch.predictors.train import TrainingInterrupted

    # [runner] precision is in the params only when it is not fp32 (see pipelines.sch)
    head, training = head_params(t), train_options(t, str(ctx.params.get("precision", "fp32")))
    checkpointer = EpochProgress(
        ctx.checkpointer(t.predictor, every_n_steps=ctx.settings["checkpoint_every"]),
        ctx.progress(t.optim.epochs, f"training {t.predictor} (epochs)"),
        t.predictor,
        t.optim.epochs,
    )
    splits = None
    # the LOC baseline is the same predictor on lines added and deleted (shift and auto: the
    # same choice and the same pool as the model's; docs/effort-models.md, "Session 41")
    base_kind, base_head = t.predictor, head
    if t.predictor == "multitask":  # coding + delivery effort (pipelines/sch_delivery.py)
        from standard_coder.pipelines import sch_delivery

        splits = sch_delivery.pull_request_splits(ctx.inputs["pull_requests"], dataset, ctx)
        base_kind, base_head = "mdn", sch_delivery.baseline_params(t)
    recency = recency_of(t)
    try:
        if splits is not None:
            model = sch_delivery.fit_multitask(ctx, t, dataset, splits, training, checkpointer,
                                               tb_dir=tb / t.predictor, seed=seed,
                                               recency_half_life=recency)  # fmt: skip
        else:
            model = fit_effort_model(
                dataset,
                t.predictor,
                head,
                training,
                checkpointer=checkpointer,
                should_stop=ctx.should_stop,
                tb_dir=tb / t.predictor,
                device=effort_device(ctx),
                seed=seed,
                label_weighting=t.label_weighting,
                recency_half_life=recency,
            )
        checkpointer.finish(model)  # closes the bar of a closed-form fit too

        def side_model(view: Dataset, kind: str, params: Any, name: str,
                       label: str) -> EffortModel:  # fmt: skip
            """A model fitted beside the main one (own checkpoint, progress bar, log dir)."""
            bar = ctx.progress(t.optim.epochs, f"training {label} (epochs)")
            every = ctx.settings["checkpoint_every"]
            progress = EpochProgress(ctx.checkpointer(name, every_n_steps=every), bar, label,
                                     t.optim.epochs)  # fmt: skip
            side = fit_effort_model(
                view, kind, params, training,
                checkpointer=progress,
                should_stop=ctx.should_stop, tb_dir=tb / name, device=effort_device(ctx),
                seed=seed, label_weighting=t.label_weighting, recency_half_life=recency,
            )  # fmt: skip
            progress.finish(side)
            return side

        baseline = fit_baseline_and_pool(dataset, t, model, base_kind, base_head, side_model)
    except TrainingInterrupted:
        return  # checkpoint saved; the engine reports the interrupt
    model.save(out["model"])
    baseline.save(out["baseline"])
    metrics = evaluate(
        model,
        dataset,
        out["evaluation"].parent,
        loc_baseline_model=baseline,
        truth_pearson=truth_r,
        seed=seed,
    )
    if splits is not None:
        delivery = sch_delivery.write_delivery_evaluation(model, splits, out["evaluation"])
        ctx.set_summary(delivery_nll=delivery.get("heldout_nll"),
                        delivery_spearman=delivery.get("spearman"))  # fmt: skip
    ctx.set_summary(
        heldout_nll=metrics.get("heldout_nll"),
        baseline_loc_nll=metrics.get("baseline_loc_heldout_nll"),
        spearman_sch=metrics.get("spearman_sch"),
        coverage_80=metrics.get("coverage_80"),
        precision=model.regressor_.train_result_.precision,
        training_device=getattr(model.regressor_, "fit_device_", "cpu"),
    )
    if getattr(model, "selection_", None):  # predictor = "auto": which model, chosen how
        ctx.set_summary(auto_chosen=model.selection_["chosen"], auto_rule=model.selection_["rule"])
