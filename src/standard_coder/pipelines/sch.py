"""The flagship pipeline ``mine -> train_sch -> team_output -> forecast``, declared on the runner.

This module only wires: it reads the validated config and declares each stage's inputs, params
and outputs (paths from :mod:`~standard_coder.pipelines.sch_layout`). The stage functions
(``sch_mine.run``, ``sch_train.run``, ``sch_forecast.run``) read their settings back from
``ctx.params``, so what a stage reads is what its fingerprint covers. The engine decides what
runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from standard_coder.config import ConfigError
from standard_coder.pipelines import sch_forecast, sch_mine, sch_team, sch_train
from standard_coder.pipelines.sch_languages import load_sch_config
from standard_coder.pipelines.sch_layout import SchLayout
from standard_coder.pipelines.sch_options import mine_options
from standard_coder.pipelines.wiring import (
    assemble_pipeline,
    package_data,
    package_sources,
    relative_params,
    section_params,
)
from standard_coder.runner.jsonfile import read_json_object_or_none
from standard_coder.runner.report import ReportSection
from standard_coder.runner.stage import DistributedTraining, Pipeline, Stage

if TYPE_CHECKING:
    from standard_coder.config.schema import FlagshipConfig


RUNNER_LABELS = {"seed": "runner.seed", "precision": "runner.precision", "device": "runner.device"}
"""``train_sch``'s params from ``[runner]``, by their config keys in its rerun reasons."""
MODEL_CODE = (
    "sch/features",
    "sch/predictors",
    "sch/delivery",  # a multitask model's delivery head
    "sch/dataset.py",
    "sch/stats.py",
    "sch/records.py",
    "sch/draws.py",  # each change's draws (sch_draws)
    "sch/totals.py",  # how a total's draws pair (the model's total_correlation)
)
"""Where a trained model and its representation are read and applied: part of the code version
of every stage that prices changes with them (``team_output``, a forecast with diffs), since a
change there can alter prices while ``train_sch`` writes the same bytes again."""


def _sprint_wants(path: Path | None) -> tuple[bool, bool]:
    """Whether a ticket not done of the sprint file carries a diff or commit ids (it needs the
    model; unreadable: True, the stage names the file), and whether one lists commit ids (they
    may be read from the repositories; unreadable: False). One read of the file.

    Mirrors ``forecasting.Ticket.needs_model`` on the raw JSON on purpose: importing the
    forecasting package costs ~0.14 s on every no-op run, for a three-line predicate.
    """
    if path is None:
        return False, False
    doc = read_json_object_or_none(path)
    tickets = None if doc is None else doc.get("tickets", [])
    if not isinstance(tickets, list):
        return True, False
    open_ = [t for t in tickets if isinstance(t, dict) and t.get("status") != "done"]
    commits = any(t.get("commit_ids") for t in open_)
    return commits or any(t.get("diff") for t in open_), commits


def _sprint_problems(paths: Sequence[Path], base_dir: Path, root: Path | None) -> tuple[str, ...]:
    """What is wrong with the sprint files (``forecast-check``'s schema checks), for a run to
    refuse before the mine and the training (``Stage.invalid_inputs``). A file with the bytes
    the last completed forecast read is not read again (nor the forecasting package imported:
    a no-op rerun stays cheap); a missing one is the missing-input check's."""
    from standard_coder.runner.definition import display_name
    from standard_coder.runner.manifest import recorded_input

    changed, problems = [], []
    for path, what in zip(paths, ("sprint inputs", "historical outcomes"), strict=False):
        if path.is_dir():  # a folder named where a file is expected: the load's own words
            problems.append(f"{path}: is a folder, expected a {what} file")
            continue
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            continue  # missing or unreadable: said by the missing-input check or the stage
        shown = display_name(path, root) if root is not None else str(path)
        if recorded_input(base_dir, "forecast", shown) != digest:
            changed.append(path)
    if not changed:
        return tuple(problems)
    from standard_coder.forecasting.inputs import (
        ForecastInputError,
        load_historical_outcomes,
        load_sprint_inputs,
    )

    for path, load in zip(paths, (load_sprint_inputs, load_historical_outcomes), strict=True):
        if path in changed:
            try:
                load(path)
            except ForecastInputError as exc:
                problems.append(str(exc))
    return tuple(problems)


def configured_repositories(cfg: FlagshipConfig) -> list[Path]:
    """The local repositories ``[repos]`` names (globs expanded, mirrors that exist)."""
    root = cfg.config_path.parent if cfg.config_path else None
    return list(
        sch_mine.local_repositories(
            mine_options(cfg.repos, cfg.filters, cfg.outputs.base_dir, root), cfg.outputs.base_dir
        )
    )


def git_repositories(repos: Sequence[Path]) -> tuple[Path, ...]:
    """Those of ``repos`` that are git repositories (the others: the mine names them)."""
    return tuple(r for r in repos if _is_git_repo(r))


def bad_repositories(repos: Sequence[Path]) -> tuple[str, ...]:
    """The paths of ``repos`` the mine will fail on, each with the cause as the mine says it,
    in one line (``[repos] include_paths: /x: no such directory; /y: not a git repository``),
    or nothing: ``status`` and ``--dry-run`` say the mine cannot run (``Stage.bad_inputs``).
    Stats only."""
    from standard_coder.sch.mining.discovery import path_problem

    bad = [f"{r}: {why}" for r in repos if (why := path_problem(r)) is not None]
    return (f"[repos] include_paths: {'; '.join(bad)}",) if bad else ()


def check_prior_file(
    path: Path,
    config_path: Path | None,
    *,
    commit_subject: bool,
    commit_files: bool = True,
    commit_body: bool = True,
) -> None:
    """A configured cross-repository prior that cannot be read, or that reads commit subjects,
    files of every language or message bodies the representation would not count, stops the
    run before any stage runs, in one line naming the key and the file."""
    from standard_coder.sch.features.cross_repo import CrossRepoPrior, CrossRepoPriorError

    key = f"{config_path}: training.features.cross_repo_prior_path"
    try:
        prior = CrossRepoPrior.load(path)
    except CrossRepoPriorError as e:
        raise ConfigError(f"{key}: {e}") from e
    for on, reads, name, what in (
        (commit_subject, prior.reads_subjects, "commit_subject", "commit subjects (subject|...)"),
        (commit_files, prior.reads_files, "commit_files",
         "the files of every language (files|...)"),
        (commit_body, prior.reads_body, "commit_body", "commit message bodies (body|...)"),
    ):  # fmt: skip
        if reads and not on:
            raise ConfigError(
                f"{key}: {path} reads {what}, which training.features.{name} = false leaves "
                "uncounted; set it to true"
            )


BUILTIN_PRIOR_READS = frozenset({"commit_subject"})
"""The ``[training.features]`` counts the shipped prior reads (a test holds this to the file):
known without loading it, so a no-op rerun imports no numpy."""


def check_builtin_prior(
    config_path: Path | None,
    *,
    commit_subject: bool,
    commit_files: bool = True,
    commit_body: bool = True,
) -> None:
    """The shipped prior reads commit subjects (and files of every language or message bodies,
    when it does): with ``commit_subject = false`` (``commit_files``, ``commit_body``) it would
    read every change as one without a subject (unknown files, body), so the run stops before
    any stage, in one line."""
    for on, key, what in (
        (commit_subject, "commit_subject", "commit subjects"),
        (commit_files, "commit_files", "files of every language"),
        (commit_body, "commit_body", "commit message bodies"),
    ):
        if not on and key in BUILTIN_PRIOR_READS:
            raise ConfigError(
                f"{config_path}: training.features.{key} = false: the shipped "
                f"cross-repository prior reads {what}; also set cross_repo_prior = false, or "
                "name a prior fitted without them in cross_repo_prior_path"
            )


def _is_git_repo(path: Path) -> bool:
    from standard_coder.runner.errors import InputMissing
    from standard_coder.runner.gitrefs import git_dir

    try:
        git_dir(path)
    except (InputMissing, OSError):
        return False
    return True


def _mine_filters(cfg: FlagshipConfig, root: Path | None) -> Any:
    """``[filters]`` as the mine's params, without ``authors.team_output_by_name``: a report
    setting (``team_output``'s param ``join_names``) that must not mine again, and a mine
    fingerprinted before the key existed keeps its fingerprint."""
    data = section_params(cfg.filters, root)
    data["authors"].pop("team_output_by_name", None)
    data["languages"].pop("detect", None)  # acted on at load: ``enabled`` says what it chose
    return data


def _language_params(cfg: FlagshipConfig) -> Any:
    """``[filters.languages]`` as the forecast's params, without ``detect`` (acted on at load)."""
    data = section_params(cfg.filters.languages)
    data.pop("detect", None)
    return data


def build(config_path: Path, overrides: list[str]) -> Pipeline:
    """Build the ``sch`` pipeline from ``pipeline_config.toml`` plus ``--set`` overrides."""
    cfg = load_sch_config(Path(config_path), list(overrides))
    if not cfg.repos.include_paths and not cfg.repos.include_github_repos:
        raise ConfigError(
            f"{cfg.config_path}: repos.include_paths is empty: list the git repositories "
            'to mine, e.g. include_paths = ["~/code/*"] '
            "(standard-coder init-config shows every key)"
        )
    t = cfg.training
    layout = SchLayout(cfg.outputs.base_dir, t.predictor)
    root = cfg.config_path.parent if cfg.config_path else None
    stages: list[Stage] = []

    counted = t.features.representation != "loc"  # what only token representations read
    repos = configured_repositories(cfg)
    stages.append(
        Stage(
            name="mine",
            run=sch_mine.run,
            # A configured path that is not a git repository is no git input: the stage runs,
            # mines the others, names it and fails (exit 2 when every failure is such a path),
            # as docs/mining.md says; status and --dry-run say so up front (bad_inputs).
            git_inputs=git_repositories(repos),
            bad_inputs=bad_repositories(repos)
            or (
                # a glob that matches nothing: the stage would fail with this line
                (sch_mine.no_repositories(cfg.repos.include_paths, root),)
                if not repos and not cfg.repos.include_github_repos
                else ()
            ),
            params={
                "repos": section_params(cfg.repos, root),
                "filters": _mine_filters(cfg, root),
                # only when on and read (``loc`` reads neither): a mine without them keeps the
                # fingerprint it had before the keys
                **({"commit_files": True} if t.features.commit_files and counted else {}),
                **({"commit_body": True} if t.features.commit_body and counted else {}),
            },
            named_outputs={"db": layout.db, "db_key": layout.db_key},
            code_files=[
                Path(sch_mine.__file__),
                # its options: [repos] and [filters] as the mine reads them (mine_options)
                *package_sources("pipelines/sch_options.py", "sch/mining", "sch/records.py"),
            ],
            description="mine git history into SQLite (incremental, resumable)",
        )
    )

    train_inputs = {"db": layout.db}  # mine's output: named here, counted once
    if t.truth_path is not None:
        train_inputs["truth"] = t.truth_path
    if t.features.cross_repo_prior and t.features.cross_repo_prior_path is not None:
        check_prior_file(t.features.cross_repo_prior_path, cfg.config_path,
                         commit_subject=t.features.commit_subject,
                         commit_files=t.features.commit_files,
                         commit_body=t.features.commit_body)  # fmt: skip
        train_inputs["cross_repo_prior"] = t.features.cross_repo_prior_path
    elif t.features.cross_repo_prior and t.features.representation != "loc":
        check_builtin_prior(cfg.config_path, commit_subject=t.features.commit_subject,
                            commit_files=t.features.commit_files,
                            commit_body=t.features.commit_body)  # fmt: skip
    training_params = section_params(t, root)
    if t.predictor == "multitask" and t.multitask.pull_requests_path is not None:
        train_inputs["pull_requests"] = t.multitask.pull_requests_path
    else:  # an unused [training.multitask] never invalidates the other predictors' runs
        training_params.pop("multitask", None)
    if t.distributed == "none":  # single-process runs keep their fingerprints
        training_params.pop("distributed", None)
    if t.label_weighting == "off":  # likewise runs made before the option
        training_params.pop("label_weighting", None)
    if not t.pool_size_mdn or t.predictor not in ("shift", "auto"):  # no pool: as before it
        training_params.pop("pool_size_mdn", None)
    # how often training saves its work changes no result: read, never fingerprinted
    training_params["optim"].pop("checkpoint_every_steps")
    stages.append(
        Stage(
            name="train_sch",
            run=sch_train.run,
            deps=("mine",),
            named_inputs=train_inputs,
            # the mined rows it reads, not the file: a commit touching no enabled language
            # (documentation, CI) or an empty one reruns the mine alone
            input_keys={layout.db: layout.db_key},
            params={
                "training": training_params,
                "seed": cfg.runner.seed,
                # only when set: fp32 runs keep the fingerprint they had before the key worked
                **({"precision": cfg.runner.precision} if cfg.runner.precision != "fp32" else {}),
                # only when explicit: `auto` may train a small model on the CPU where `cuda`
                # resolves the same but trains on the GPU (auto runs keep their fingerprint)
                **({"device": cfg.runner.device} if cfg.runner.device != "auto" else {}),
            },
            settings={"checkpoint_every": t.optim.checkpoint_every_steps},
            named_outputs=layout.train_outputs(),
            staged_outputs=True,  # a retrain stopped half-way leaves the last model whole
            param_labels=RUNNER_LABELS,
            code_files=[
                Path(sch_train.__file__),
                # what the run reads: its options (sch_train_options), [training] back from
                # the params and the device it trains on (sch_options). Not sch_progress.py
                # (the progress bar: it hands every checkpoint on as it is) nor sch_layout.py
                # (the outputs are ctx.outputs; a moved output is missing, so the stage reruns
                # anyway; here the layout only places the TensorBoard logs)
                *package_sources(
                    "pipelines/sch_train_options.py",
                    "pipelines/sch_options.py",
                    "sch/work_inference",
                    "sch/features",
                    "sch/predictors",
                    "sch/dataset.py",
                    "sch/evaluation.py",
                    "sch/stats.py",  # the metrics' Spearman and bins
                    "sch/target_intervals.py",  # the targets' verdicts
                    "sch/totals.py",  # the errors' correlation over time, totals' coverage
                    "sch/draws.py",  # the held-out totals' draws (sch_draws)
                    "sch/records.py",
                    "sch/mining",  # how the mined commits, merges and pulls are read back
                    "sch/teamsim/team.py",  # load_truth: how a truth.json is read
                    *(
                        ("sch/delivery", "pipelines/sch_delivery.py")
                        if "pull_requests" in train_inputs
                        else ()
                    ),
                ),
                # the shipped priors: a release that changes one retrains as a code change does
                *package_data("sch/features/data", "*.npz"),
            ],
            device_sensitive=True,
            description="infer coding time, build features, train and evaluate the effort model",
        )
    )

    team_inputs = {
        "db": layout.db,
        "model": layout.model,
        "change_rep": layout.change_rep,
        "commit_counts": layout.commit_counts,  # train_sch's counts: no second extraction
    }
    stages.append(
        Stage(
            name="team_output",
            run=sch_team.run,
            deps=("mine", "train_sch"),
            named_inputs=team_inputs,
            # not train_sch's labels, dataset, baseline or evaluation: a retrain that leaves
            # these four as they were reruns nothing here
            reads=(*team_inputs.values(), layout.db_key),
            input_keys={layout.db: layout.db_key},  # as train_sch reads it
            params={"seed": cfg.runner.seed, "join_names": cfg.filters.authors.team_output_by_name},
            param_labels={
                "seed": "runner.seed",
                "join_names": "filters.authors.team_output_by_name",
            },
            named_outputs=sch_team.outputs(layout),
            code_files=[
                Path(sch_team.__file__),
                *package_sources(
                    "pipelines/sch_effort.py",  # how the model and representation are loaded
                    "sch/team_output.py",
                    "sch/estimate.py",  # sch_effort.py imports it (a forecast's tickets)
                    "sch/words.py",  # and this (a forecast's large-diff note)
                    "sch/reapplied.py",
                    "sch/patch_mail.py",
                    # how a stored change becomes features and draws (the model's and the
                    # representation's code, which a retrain can leave byte for byte the same)
                    # and how the mined commits and the people they join by name are read
                    *MODEL_CODE,
                    "sch/mining",
                ),
            ],
            device_sensitive=True,
            description="a team's output over time: SCH hours per week, author and repository",
        )
    )

    f = cfg.forecasting
    if f.enable and f.sprint_inputs_path is not None and f.historical_outcomes_path is not None:
        needs_model, lists_commits = _sprint_wants(f.sprint_inputs_path)
        # a ticket's commit the mine did not read (another branch) is read from its repository
        # as estimate reads it: the repositories' refs are inputs then
        commit_repos = git_repositories(repos) if lists_commits else ()
        forecast_inputs = {"sprint": f.sprint_inputs_path, "history": f.historical_outcomes_path}
        # what the stage opens: the model and its representation when a ticket needs the model,
        # the mined database only when one lists commit ids (a diff reads none of it). A sprint
        # of story points reads neither and follows no stage: `--stages forecast` runs before
        # the first mine (docs/forecasting.md)
        read: tuple[Path, ...] = ()
        if needs_model:  # upstream outputs (already inputs through deps), named for the stage
            # (the evaluation: its warnings about the model are said with the tickets it prices)
            forecast_inputs.update(model=layout.model, change_rep=layout.change_rep,
                                   evaluation=layout.evaluation)  # fmt: skip
            read = (layout.model, layout.change_rep, layout.evaluation)
        if lists_commits:  # (such a ticket is not done: it needs the model too)
            forecast_inputs["db"] = layout.db
            read = (layout.db, *read)
        stages.append(
            Stage(
                name="forecast",
                run=sch_forecast.run,
                deps=("mine", "train_sch") if needs_model else (),
                # of those outputs, only what it opens (not the db for diffs)
                reads=read if needs_model else None,
                named_inputs=forecast_inputs,
                git_inputs=commit_repos,
                params={
                    "forecasting": section_params(f, root),
                    # a ticket's diff counts the files the mine counts (as ``estimate --diff``)
                    # and its changes are drawn as estimate draws them (runner.seed)
                    **(
                        {
                            "filters": {"languages": _language_params(cfg)},
                            "seed": cfg.runner.seed,
                        }
                        if needs_model
                        else {}
                    ),
                    **(
                        {"repositories": relative_params([str(r) for r in commit_repos], root)}
                        if commit_repos
                        else {}
                    ),
                },
                param_labels={"seed": "runner.seed"},
                named_outputs={"forecasts": layout.forecasts},
                invalid_inputs=_sprint_problems(
                    (f.sprint_inputs_path, f.historical_outcomes_path), layout.base_dir, root
                ),
                code_files=[
                    Path(sch_forecast.__file__),
                    # [forecasting] back from the params, as the simulator's options
                    *package_sources("pipelines/sch_options.py", "forecasting", "sch/words.py"),
                    # how a ticket's changes are priced (estimate's draws)
                    *(
                        package_sources(
                            "pipelines/sch_effort.py",
                            "pipelines/sch_warnings.py",  # the model's warnings, repeated
                            "sch/estimate.py",
                            "sch/patch_mail.py",
                            *MODEL_CODE,
                            "sch/mining",  # a ticket's commits read from git as estimate does
                        )
                        if needs_model
                        else ()
                    ),
                ],
                description="Monte Carlo sprint forecast from SCH",
            )
        )

    left_out = {}
    if not any(st.name == "forecast" for st in stages):
        unset = [k for k in ("sprint_inputs_path", "historical_outcomes_path")
                 if getattr(f, k) is None]  # fmt: skip
        left_out["forecast"] = (
            "[forecasting] enable = false"
            if not f.enable
            else f"[forecasting] {' and '.join(unset)} {'is' if len(unset) == 1 else 'are'} "
            "unset: a forecast needs both sprint files (docs/forecasting.md)"
        )
    return assemble_pipeline(
        "sch",
        cfg,
        stages,
        root,
        workers=cfg.runner.resolved_workers(),
        report_sections=report_sections(),
        on_finish=_finish,
        left_out=left_out,
        distributed=(
            DistributedTraining('[training] distributed = "ddp"')
            if cfg.training.distributed == "ddp"
            else None
        ),
    )


def _finish(base_dir: Path) -> None:
    from standard_coder.pipelines.sch_summary import finish

    finish(base_dir)


def report_sections() -> tuple[ReportSection, ...]:
    """The flagship's sections of the run report (training, evaluation, forecasts)."""
    from standard_coder.reporting.html import SECTIONS

    return SECTIONS
