"""``standard-coder eval``: score a trained model, export its predictions.

Two pipelines have an eval: ``sch`` (the effort model; ``--config`` defaults to the run the
checkpoint is in) and ``vision`` (``--config`` with the vision pipeline's file is required).
Any other pipeline's config, or a vision checkpoint without its config, exits 2 with one line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from standard_coder.cli.app import app
from standard_coder.cli.options import OptionalConfigOpt, SetOpt


@app.command("eval")
def eval_cmd(
    checkpoint: Annotated[
        Path, typer.Option("--checkpoint", help="model.pt to evaluate", metavar="FILE")
    ],
    config: OptionalConfigOpt = None,
    repos: Annotated[
        list[Path] | None,
        typer.Option(
            "--repos",
            help="evaluate on these repositories instead of the held-out split (repeatable)",
            metavar="DIR",
        ),
    ] = None,
    overrides: SetOpt = None,
) -> None:
    """Evaluate a model on the held-out split (or other repos): metrics, predictions, labelmap.

    An sch effort model, or a vision model with --config FILE of the vision pipeline.
    """
    from standard_coder.config import ConfigError
    from standard_coder.pipelines.sch_eval import EvalError, run_eval
    from standard_coder.pipelines.sch_languages import load_sch_config
    from standard_coder.runner.device import resolve_device

    name = _pipeline_name(config) if config is not None else "sch"
    if name == "vision":
        assert config is not None
        if repos:
            _fail("--repos: only the sch pipeline's eval takes other repositories; the vision "
                  "eval scores the test split of the prepared data")  # fmt: skip
        _vision_eval(checkpoint, config, list(overrides or []))
        return
    if name not in (None, "sch"):
        _fail(_unsupported(config, name))
    try:
        if config is not None:
            cfg = load_sch_config(config, list(overrides or []))  # a missing file is named here
            _refuse_vision_checkpoint(checkpoint, config)
        else:
            _refuse_vision_checkpoint(checkpoint, config)
            cfg = _defaults_for(checkpoint, list(overrides or []))
        device, why = resolve_device(cfg.runner.device)
        if why:
            typer.echo(f"note: {why}", err=True)
        for line in _repos_notes(cfg, list(repos or [])):
            typer.echo(line, err=True)
        out = run_eval(checkpoint, cfg, repos=list(repos or []), device=device)
    except (ConfigError, EvalError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    from standard_coder.pipelines.sch_layout import SchLayout

    own_baseline = checkpoint.resolve() == SchLayout(cfg.outputs.base_dir).baseline.resolve()
    _print_metrics(out / "metrics.json", bool(repos), own_baseline)
    typer.echo(f"wrote {out}/metrics.json, predictions.jsonl, labelmap.json", err=True)


def _defaults_for(checkpoint: Path, overrides: list[str]) -> Any:
    """The sch config of the run ``checkpoint`` is in, without a file: the defaults, with
    ``outputs.base_dir`` that run's folder (``<base_dir>/models/<kind>/model.pt``) and the
    ``--set`` overrides (a relative path in them is taken from the current directory).

    Its ``config_path`` is None, and an error names the overrides and that folder, no file.

    Raises:
        ConfigError: a malformed or unknown ``--set`` key.
    """
    from standard_coder.config.schema import apply_overrides, validate_config

    base = checkpoint.resolve().parent.parent.parent
    data = apply_overrides({"outputs": {"base_dir": str(base)}}, overrides)
    return validate_config(data, Path.cwd() / "--set", overrides=overrides,
                           source=f"--set (no --config: the defaults for {base})")  # fmt: skip


def _print_metrics(path: Path, other_repos: bool, own_baseline: bool = False) -> None:
    """The key figures (the pipeline summary's table) on stdout, its warnings on stderr;
    ``own_baseline``: the checkpoint scored is the run's LOC baseline (both columns are it)."""
    from standard_coder.pipelines.sch_summary import (
        metric_table,
        spread_line,
        sure_line,
        totals_line,
        wrap_lines,
    )
    from standard_coder.pipelines.sch_warnings import warnings
    from standard_coder.runner.console import terminal_columns

    ev = json.loads(path.read_text(encoding="utf-8"))
    which = "commits of the given repositories" if other_repos else "held-out commits"
    n = ev.get("n_test_normal", ev.get("n_test"))
    title = f"Evaluation ({which}; {n} with a normal-interval label)"
    model = "SCH model"
    if own_baseline:  # the scored column is the baseline, scored against itself
        title += ": the checkpoint is the LOC baseline, so both columns are the baseline's"
        model = "LOC baseline (checkpoint)"
    typer.echo(metric_table(ev, title, terminal_columns(sys.stdout), model))  # never split
    lines = (sure_line(ev), spread_line(ev), totals_line(ev))
    words = [line for line in lines if line]  # as the summary's
    for line in wrap_lines([_scored(w) if other_repos else w for w in words],
                           terminal_columns(sys.stdout)):  # fmt: skip
        typer.echo(line)
    said = [f"warning: {_scored(w) if other_repos else w}" for w in warnings(ev)]
    for line in wrap_lines(said, terminal_columns(sys.stderr)):  # the run summary's wrapping
        typer.echo(line, err=True)


_HELD_OUT = (
    ("the held-out period's", "these repositories'"),
    ("the held-out changes", "the given repositories' changes"),
    ("held-out changes", "changes of the given repositories"),
    ("more held-out history", "more history"),
    ("held-out", "scored"),
)
"""The summary's warnings speak of a run's held-out split; ``eval --repos`` scores every change
of other repositories."""


def _scored(text: str) -> str:
    for was, now in _HELD_OUT:
        text = text.replace(was, now)
    return text


def _repos_notes(cfg: Any, repos: list[Path]) -> list[str]:
    """What ``--repos`` figures are: in-sample for a repository the config mines (the model
    trained on its earlier commits), and of the last ``max_commits_per_repo`` commits only."""
    if not repos:
        return []
    from standard_coder.pipelines.sch import configured_repositories

    # without --config the defaults' include_paths are not what the model was trained on
    known = cfg.config_path is not None
    mined = {p.resolve() for p in configured_repositories(cfg)} if known else set()
    out = [
        f"warning: --repos {r}: the config mines it, so the model trained on its earlier "
        "commits: these figures are in-sample, not a test on history it has not seen"
        for r in repos
        if Path(r).resolve() in mined
    ]
    cap = cfg.repos.max_commits_per_repo
    from standard_coder.pipelines.sch_layout import SchLayout

    db = SchLayout(cfg.outputs.base_dir).db
    for r in repos:  # a clone, fork or mirror elsewhere: the same commits under another path
        if Path(r).resolve() not in mined and (found := _mined_share(db, Path(r), cap)):
            shared, n = found
            out.append(
                f"warning: --repos {r}: {shared} of its {n} commits are in the history the "
                f"model was mined from ({db}; a clone, fork or mirror of a mined repository), "
                "so it trained on the earlier of them: these figures are in part in-sample, "
                "not a test on history it has not seen"
            )
    if cap is not None:
        out.append(
            f"note: --repos mines the last {cap} commits of each ([repos] max_commits_per_repo;"
            " --set repos.max_commits_per_repo=N for more)"
        )
    return out


def _mined_share(db: Path, repo: Path, cap: int | None) -> tuple[int, int] | None:
    """How many of ``repo``'s last ``cap`` non-merge commits (all: None) the mined database
    ``db`` holds, and of how many; None when none (or either cannot be read)."""
    import sqlite3
    from contextlib import closing

    from standard_coder.sch.mining.gitlog import GitError, run_git
    from standard_coder.sch.mining.store import open_readonly

    if not db.is_file():
        return None
    limit = ["--max-count", str(cap)] if cap is not None else []
    try:
        ids = run_git(repo, "rev-list", "--no-merges", *limit, "HEAD").decode().split()
    except (GitError, OSError):
        return None  # not a repository: the evaluation names it
    shared = 0
    try:
        with closing(open_readonly(db)) as con:
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                marks = ",".join("?" * len(chunk))
                query = (
                    f"SELECT COUNT(DISTINCT commit_id) FROM commits WHERE commit_id IN ({marks})"
                )
                shared += int(con.execute(query, chunk).fetchone()[0])
    except (sqlite3.Error, OSError):
        return None
    return (shared, len(ids)) if shared else None


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _pipeline_name(config: Path) -> str | None:
    """``[pipeline] name`` of a config file (``sch`` when unset; None when the file or its
    ``[pipeline]`` is unreadable: the flagship path reports)."""
    from standard_coder.runner.tomlfile import read_toml

    try:
        section = read_toml(config, ValueError).get("pipeline", {})
    except ValueError:
        return None
    if not isinstance(section, dict):
        return None
    if section.get("entry") is not None:
        return "entry"
    return str(section.get("name", "sch"))


def _unsupported(config: Path | None, name: str) -> str:
    """The one line for a config of a pipeline that has no eval."""
    if name == "entry":
        return f"{config}: eval is not supported for a Python pipeline ([pipeline] entry)"
    line = (
        f"{config}: eval is not supported for the {name} pipeline (eval scores sch and vision "
        "model checkpoints)"
    )
    if name == "codeedit":
        line += (
            f"; the codeedit pipeline scores completions and its trained models in its "
            f"evaluate and evaluate_models stages: standard-coder pipeline --config {config}"
        )
    return line


def _refuse_vision_checkpoint(checkpoint: Path, config: Path | None) -> None:
    """Exit 2 when ``checkpoint`` is a vision model bound for the sch eval."""
    from standard_coder.pipelines.vision_eval import is_vision_model

    if not checkpoint.is_file() or not is_vision_model(checkpoint):
        return
    if config is None:
        _fail(
            f"{checkpoint}: a vision model checkpoint; evaluating it needs the vision "
            f"pipeline's config: standard-coder eval --checkpoint {checkpoint} --config FILE"
        )
    _fail(
        f"{checkpoint}: a vision model checkpoint, but {config} is the sch pipeline's config; "
        "pass the vision pipeline's config with --config"
    )


def _vision_eval(checkpoint: Path, config: Path, overrides: list[str]) -> None:
    from standard_coder.config import ConfigError
    from standard_coder.config.vision import load_vision_config
    from standard_coder.pipelines.vision_eval import VisionEvalError, run_vision_eval
    from standard_coder.runner.device import resolve_device

    try:
        cfg = load_vision_config(config, overrides)
        device, why = resolve_device(cfg.runner.device)
        if why:
            typer.echo(f"note: {why}", err=True)
        typer.echo(f"device: {device}", err=True)
        out = run_vision_eval(checkpoint, cfg, device)
    except (ConfigError, VisionEvalError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    typer.echo(f"accuracy {metrics['accuracy']:.4f} on {metrics['n_test']} images")
    typer.echo(f"wrote {out}/metrics.json, predictions/test/, env_stamp.json", err=True)
