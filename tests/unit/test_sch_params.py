"""Flagship stage params hold config-relative paths: a moved project folder stays cached."""

from __future__ import annotations

import json
from pathlib import Path

from codeimports import file_imports
from standard_coder.pipelines.sch import build
from standard_coder.runner.stage import Pipeline

CONFIG = """
[outputs]
base_dir = "sc-output"

[repos]
include_paths = ["repos/*"]

[training]
truth_path = "repos/truth.json"

[forecasting]
sprint_inputs_path = "sprint_inputs.json"
historical_outcomes_path = "/elsewhere/historical_outcomes.json"
"""


def _params(folder: Path) -> dict[str, object]:
    folder.mkdir(parents=True)
    (folder / "pipeline_config.toml").write_text(CONFIG)
    pipe = build(folder / "pipeline_config.toml", [])
    return {s.name: json.loads(json.dumps(dict(s.params), default=str)) for s in pipe.stages}


def test_params_are_the_same_wherever_the_project_folder_is(tmp_path: Path) -> None:
    a, b = _params(tmp_path / "a"), _params(tmp_path / "moved" / "b")
    assert a == b
    training = a["train_sch"]["training"]  # type: ignore[index]
    assert training["truth_path"] == "repos/truth.json"
    forecasting = a["forecast"]["forecasting"]  # type: ignore[index]
    assert forecasting["sprint_inputs_path"] == "sprint_inputs.json"
    # a path outside the project folder stays absolute
    assert forecasting["historical_outcomes_path"] == "/elsewhere/historical_outcomes.json"


def test_sprint_check_agrees_with_ticket_needs_model(tmp_path: Path) -> None:
    """The pipeline's cheap JSON check and the forecasting model's rule give the same answer."""
    import json

    from standard_coder.forecasting import load_sprint_inputs
    from standard_coder.pipelines.sch import _sprint_wants

    example = Path(__file__).parents[2] / "examples" / "forecasting" / "sprint_inputs.example.json"
    data = json.loads(example.read_text())
    variants = {
        "as_shipped": data,
        "story_points_only": {
            **data,
            "tickets": [t for t in data["tickets"] if not (t.get("diff") or t.get("commit_ids"))],
        },
        "model_tickets_done": {
            **data,
            "tickets": [
                {**t, "status": "done"} if (t.get("diff") or t.get("commit_ids")) else t
                for t in data["tickets"]
            ],
        },
    }
    for name, doc in variants.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(doc))
        tickets = load_sprint_inputs(path).tickets
        expected = (
            any(t.needs_model for t in tickets),
            any(t.commit_ids for t in tickets if t.status != "done"),
        )
        assert _sprint_wants(path) == expected, name
    assert _sprint_wants(None) == (False, False)
    (tmp_path / "bad.json").write_text("{")  # unreadable: the stage declares the model, names it
    assert _sprint_wants(tmp_path / "bad.json") == (True, False)
    for shape in ("[]", '{"tickets": 3}'):  # not the file's shape: the stage names it too
        (tmp_path / "bad.json").write_text(shape)
        assert _sprint_wants(tmp_path / "bad.json") == (True, False), shape


def test_stages_are_plain_run_ctx_functions_with_named_paths(tmp_path: Path) -> None:
    """No captured config: each stage is ``run(ctx)``, its paths are declared by name."""
    import inspect

    from standard_coder.pipelines.sch_layout import SchLayout

    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "pipeline_config.toml").write_text(CONFIG)
    (folder / "sprint_inputs.json").write_text('{"tickets": [{"id": "T-1", "diff": "x"}]}')
    pipe = build(folder / "pipeline_config.toml", [])
    layout = SchLayout(folder / "sc-output", "auto")
    for stage in pipe.stages:
        assert list(inspect.signature(stage.run).parameters) == ["ctx"], stage.name
    by_name = {s.name: s for s in pipe.stages}
    assert dict(by_name["mine"].named_outputs) == {"db": layout.db, "db_key": layout.db_key}
    train = by_name["train_sch"]
    assert dict(train.named_inputs) == {"db": layout.db, "truth": folder / "repos/truth.json"}
    assert dict(train.named_outputs) == layout.train_outputs()
    forecast = by_name["forecast"]
    assert forecast.deps == ("mine", "train_sch")
    assert forecast.named_inputs["model"] == layout.model
    assert pipe.root == folder
    # of train_sch's outputs, team_output reads the model, its representation and the commit
    # counts, and forecast the model, its representation and the evaluation (its warnings about
    # the model are repeated with the tickets it prices): a new dataset alone reruns neither
    from standard_coder.runner.definition import StageView, validate_pipeline

    validate_pipeline(pipe)
    inputs = {s.name: {i.path for i in StageView(s, pipe, folder).inputs} for s in pipe.stages}
    read = {layout.db, layout.model, layout.change_rep}
    assert inputs["team_output"] == {*read, layout.commit_counts}
    # train_sch and team_output read the database through its content key (a commit touching
    # no enabled language reruns the mine alone); the key is no input of its own
    for name in ("train_sch", "team_output"):
        (db,) = [i for i in StageView(by_name[name], pipe, folder).inputs if i.path == layout.db]
        assert db.key == layout.db_key and layout.db_key not in inputs[name], name
    history = Path("/elsewhere/historical_outcomes.json")
    # a sprint of diffs: the model and its representation, not the mined database
    sprint = {folder / "sprint_inputs.json", history}
    assert inputs["forecast"] == {layout.model, layout.change_rep, layout.evaluation, *sprint}
    assert "db" not in forecast.named_inputs
    # a ticket that lists commits: the database decides whether an id is known
    (folder / "sprint_inputs.json").write_text(
        '{"tickets": [{"id": "T-1", "status": "todo", "commit_ids": ["abc1234"]}]}'
    )
    pipe = build(folder / "pipeline_config.toml", [])
    forecast = next(s for s in pipe.stages if s.name == "forecast")
    assert forecast.named_inputs["db"] == layout.db
    assert {i.path for i in StageView(forecast, pipe, folder).inputs} == {
        *read, layout.evaluation, *sprint}  # fmt: skip
    # story points only: no model, no database, no stage before it
    (folder / "sprint_inputs.json").write_text(
        '{"tickets": [{"id": "T-1", "status": "todo", "story_points": 3}]}'
    )
    pipe = build(folder / "pipeline_config.toml", [])
    forecast = next(s for s in pipe.stages if s.name == "forecast")
    assert forecast.deps == () and set(forecast.named_inputs) == {"sprint", "history"}


def test_the_training_checkpoint_cadence_is_a_setting_outside_every_fingerprint(
    tmp_path: Path,
) -> None:
    """``[training.optim] checkpoint_every_steps`` changes no result (training resumes
    exactly): ``train_sch`` reads it from ``Stage.settings`` and no stage's params hold it."""
    before = _params(tmp_path / "a")
    config = tmp_path / "a" / "pipeline_config.toml"
    pipe = build(config, ["training.optim.checkpoint_every_steps=7"])
    after = {s.name: json.loads(json.dumps(dict(s.params), default=str)) for s in pipe.stages}
    assert after == before
    assert "checkpoint_every_steps" not in json.dumps(before)
    train = next(s for s in pipe.stages if s.name == "train_sch")
    assert train.settings == {"checkpoint_every": 7}


def test_team_output_joins_names_by_default_and_the_setting_enters_its_fingerprint(
    tmp_path: Path,
) -> None:
    params = _params(tmp_path / "a")
    assert params["team_output"]["join_names"] is True  # type: ignore[index]
    (tmp_path / "a" / "pipeline_config.toml").write_text(
        CONFIG + "\n[filters.authors]\nteam_output_by_name = false\n"
    )
    pipe = build(tmp_path / "a" / "pipeline_config.toml", [])
    team = next(s for s in pipe.stages if s.name == "team_output")
    assert team.params["join_names"] is False
    # the rerun reason names the key the user set, not the param
    from standard_coder.runner.fingerprint import params_diff

    said = params_diff({**team.params, "join_names": True}, team.params, team.param_labels)
    assert said == ["filters.authors.team_output_by_name true -> false"]
    mine = next(s for s in pipe.stages if s.name == "mine")
    # a report setting: the mine (and the effort model's authors) never see it, so switching
    # it reruns team_output only, and a mine fingerprinted before the key keeps its fingerprint
    assert "team_output_by_name" not in json.dumps(dict(mine.params), default=str)


def test_a_forecast_that_prices_tickets_with_the_model_depends_on_runner_seed(
    tmp_path: Path,
) -> None:
    """A ticket's changes are drawn as ``estimate`` draws them, seeded by ``runner.seed``: the
    stage's fingerprint covers it (and the pricing code) then, and only then."""
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "pipeline_config.toml").write_text(CONFIG)
    sprint = folder / "sprint_inputs.json"
    sprint.write_text('{"tickets": [{"id": "T-1", "diff": "x"}]}')
    pipe = build(folder / "pipeline_config.toml", ["runner.seed=5"])
    forecast = next(s for s in pipe.stages if s.name == "forecast")
    assert forecast.params["seed"] == 5
    assert {p.name for p in forecast.code_files} >= {"sch_effort.py", "estimate.py"}
    sprint.write_text('{"tickets": [{"id": "T-1", "story_points": 3}]}')
    pipe = build(folder / "pipeline_config.toml", ["runner.seed=5"])
    forecast = next(s for s in pipe.stages if s.name == "forecast")
    assert "seed" not in forecast.params  # story points only: the fingerprint it had


def test_the_train_stage_code_version_covers_its_options_module(tmp_path: Path) -> None:
    """``[training]`` becomes the stage's option objects in ``sch_train_options.py``, apart from
    the stage body: a change there changes what is trained, so it is part of the code version."""
    _params(tmp_path / "p")
    pipe = build(tmp_path / "p" / "pipeline_config.toml", [])
    train = next(s for s in pipe.stages if s.name == "train_sch")
    names = {p.name for p in train.code_files or ()}
    assert {"sch_train.py", "sch_train_options.py"} <= names
    assert all(p.is_file() for p in train.code_files or ())


def test_each_stage_code_version_covers_the_pipelines_modules_its_run_reads(
    tmp_path: Path,
) -> None:
    """Session 42: ``train_sch`` reads ``[training]`` back and picks its device through
    ``sch_options.py``, the mine and the forecast their options there too, and ``team_output``
    loads the model through ``sch_effort.py``; none was in its stage's code version, so a change
    there left the stage skipped with outputs the new code would not make. The progress bar
    (``sch_progress.py``) and the layout (``sch_layout.py``) change no output: not in it."""
    import standard_coder

    pkg = Path(standard_coder.__file__).parent
    _params(tmp_path / "p")
    pipe = build(tmp_path / "p" / "pipeline_config.toml", [])
    code = {
        s.name: {p.relative_to(pkg).as_posix() for p in s.code_files or ()} for s in pipe.stages
    }
    assert {"pipelines/sch_train_options.py", "pipelines/sch_options.py"} <= code["train_sch"]
    assert not {"pipelines/sch_progress.py", "pipelines/sch_layout.py"} & code["train_sch"]
    assert {"pipelines/sch_mine.py", "pipelines/sch_options.py"} <= code["mine"]
    assert {"pipelines/sch_team.py", "pipelines/sch_effort.py"} <= code["team_output"]
    assert {"pipelines/sch_forecast.py", "pipelines/sch_options.py"} <= code["forecast"]
    assert all(p.is_file() for s in pipe.stages for p in s.code_files or ())


def _package_and_pipeline_pricing_a_diff(tmp_path: Path) -> tuple[Path, Pipeline]:
    """The package folder, and the pipeline of :data:`CONFIG` with a sprint ticket that has a
    diff (so the forecast prices it with the model)."""
    import standard_coder

    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "pipeline_config.toml").write_text(CONFIG)
    (folder / "sprint_inputs.json").write_text('{"tickets": [{"id": "T-1", "diff": "x"}]}')
    return Path(standard_coder.__file__).parent, build(folder / "pipeline_config.toml", [])


def test_stages_that_price_changes_cover_the_model_code_they_apply(tmp_path: Path) -> None:
    """``team_output`` and a forecast of diffs apply the trained model and representation
    (``sch/predictors``, ``sch/features``) to stored changes read from the mine. A change in how
    a distribution's SCH is drawn can leave ``train_sch``'s outputs byte for byte the same, so
    those inputs alone would skip the stage with prices the new code would not make."""
    pkg, pipe = _package_and_pipeline_pricing_a_diff(tmp_path)
    applied = {
        "sch/predictors/distributions.py",
        "sch/predictors/estimator.py",
        "sch/features/representation.py",
        "sch/features/tokens.py",
        "sch/mining/store.py",
    }
    for name in ("team_output", "forecast"):
        stage = next(s for s in pipe.stages if s.name == name)
        code = {p.relative_to(pkg).as_posix() for p in stage.code_files or ()}
        assert applied <= code, (name, applied - code)


def test_a_forecast_of_commits_names_its_repositories_relative_to_the_project(
    tmp_path: Path,
) -> None:
    """A ticket listing commit ids reads them from the repositories: their paths are a param
    of the forecast, relative to the project folder like every other path inside it, so a
    project moved or copied elsewhere does not rerun the forecast for its own new path."""
    import subprocess

    params = []
    for folder in (tmp_path / "a", tmp_path / "moved" / "b"):
        for name in ("r0", "r1"):
            subprocess.run(["git", "init", "-q", str(folder / "repos" / name)], check=True)
        (folder / "pipeline_config.toml").write_text(CONFIG)
        (folder / "sprint_inputs.json").write_text(
            '{"tickets": [{"id": "T-1", "commit_ids": ["abc1234"]}]}'
        )
        pipe = build(folder / "pipeline_config.toml", [])
        forecast = next(s for s in pipe.stages if s.name == "forecast")
        params.append(json.loads(json.dumps(dict(forecast.params), default=str)))
    assert params[0]["repositories"] == ["repos/r0", "repos/r1"]
    assert params[0] == params[1]


def test_sch_stage_code_versions_cover_the_domain_modules_their_code_imports(
    tmp_path: Path,
) -> None:
    """Every ``sch/`` or ``forecasting/`` module that a file of a stage's code version imports
    is in that code version too, so a change anywhere in what a stage runs reruns it (session
    51: ``train_sch`` read its metrics from ``sch/stats.py`` and the mined commits through
    ``sch/mining/store.py`` without either in its code version). The exceptions: what the
    shared option builders (``sch_options.py``) import for other stages, the simulator behind
    ``load_truth``, the delivery head of a run without pull requests, and the two error types
    ``team_output`` shares with the forecast (and the forecast's ``ModelPricing``)."""
    pkg, pipe = _package_and_pipeline_pricing_a_diff(tmp_path)
    allowed = {
        "train_sch": {"sch/teamsim/codegen.py", "sch/teamsim/families.py",
                      "sch/teamsim/schedule.py", "sch/delivery/data.py",
                      "sch/delivery/distribution.py"},
        # the error types team_output shares with the forecast, and the forecast's pricing
        "team_output": {"forecasting/inputs.py", "forecasting/validate.py",
                        "forecasting/effort.py"},
    }  # fmt: skip
    for stage in pipe.stages:
        code = {p.relative_to(pkg).as_posix() for p in stage.code_files or ()}
        missing = {
            (imported, f)
            for f in code - {"pipelines/sch_options.py"}
            if f.endswith(".py")  # not the shipped priors' data
            for imported in file_imports(f)
            if imported.startswith(("sch/", "forecasting/"))
            and imported not in code
            and imported not in allowed.get(stage.name, set())
        }
        assert not missing, (stage.name, sorted(missing))


def test_train_sch_code_version_holds_the_shipped_priors(tmp_path: Path) -> None:
    """A release that changes a shipped prior retrains, as a code change does (the priors are
    data beside the code, which ``package_sources`` alone would leave out)."""
    _pkg, pipe = _package_and_pipeline_pricing_a_diff(tmp_path)
    (train,) = [s for s in pipe.stages if s.name == "train_sch"]
    names = {p.name for p in train.code_files or ()}
    shipped = {"cross_repo_prior.npz", "cross_repo_prior_body.npz", "cross_repo_prior_any.npz"}
    assert shipped <= names
