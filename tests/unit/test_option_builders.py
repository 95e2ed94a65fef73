"""The option builders (``pipelines/sch_options.py``) carry every key of their config section.

``mine_options`` and ``forecast_options`` copy each key by hand into the domain's option
dataclasses (the domain packages never see the schema). A key added to a section and not
copied would be accepted, fingerprinted, and silently ignored; these tests set each scalar key
to a value other than its default and find it in the options, or name where else it is read.
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from standard_coder.config.forecasting import ForecastingSection
from standard_coder.config.mining import AuthorFilter, FiltersSection, ReposSection
from standard_coder.pipelines.sch_options import forecast_options, mine_options

READ_ELSEWHERE = {
    "enable": "sch.build: whether the forecast stage is in the pipeline",
    "sprint_inputs_path": "the forecast stage's input file",
    "historical_outcomes_path": "the forecast stage's input file",
    "team_output_by_name": "team_output's params",
    "include_paths": "checked below (anchored at the config folder)",
    "exclude_paths": "checked below (anchored at the config folder)",
    "include_github_repos": "checked below (github_repos)",
    "include": "checked below (AuthorRule)",
    "exclude": "checked below (AuthorRule)",
    "scenarios": "checked below (ScenarioSpec)",
}
RENAMED = {"pull_request_times": "pull_requests"}


def _other_value(model: type[BaseModel], name: str) -> Any:
    field = model.model_fields[name]
    default, kind = field.default, field.annotation
    if typing.get_origin(kind) is typing.Literal:
        return next(v for v in typing.get_args(kind) if v != default)
    if kind is bool:
        return not default
    if kind is int or default is None:
        return (default or 0) + 3
    if kind is float:
        return default * 1.5 + 0.25
    raise AssertionError(f"{model.__name__}.{name}: no test value for {kind}")


def _values(obj: Any) -> dict[str, Any]:
    """Every field of an options dataclass and of the dataclasses it holds, by name."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        out[f.name] = value
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            out.update({k: v for k, v in _values(value).items() if k not in out})
    return out


@pytest.mark.parametrize("model", [ReposSection, AuthorFilter, ForecastingSection])
def test_every_scalar_key_reaches_the_options(model: type[BaseModel], tmp_path: Path) -> None:
    for name in model.model_fields:
        if name in READ_ELSEWHERE:
            continue
        value = _other_value(model, name)
        if model is ForecastingSection:
            built = _values(forecast_options(ForecastingSection.model_validate({name: value})))
        else:
            repos = {name: value} if model is ReposSection else {}
            authors = {name: value} if model is AuthorFilter else {}
            built = _values(
                mine_options(
                    ReposSection.model_validate(repos),
                    FiltersSection.model_validate({"authors": authors}),
                    base_dir=tmp_path,
                    config_dir=tmp_path,
                )
            )
        assert built.get(RENAMED.get(name, name)) == value, f"{model.__name__}.{name}"


def test_the_list_keys_reach_the_options(tmp_path: Path) -> None:
    repos = ReposSection.model_validate(
        {"include_paths": ["code/*"], "exclude_paths": ["/abs/x"], "include_github_repos": ["o/n"]}
    )
    authors = {"include": ["re:^a"], "exclude": ["bob"]}
    o = mine_options(repos, FiltersSection.model_validate({"authors": authors}), tmp_path, tmp_path)
    assert o.include_paths == (str(tmp_path / "code/*"),) and o.exclude_paths == ("/abs/x",)
    assert o.github_repos == ("o/n",) and o.mirror_dir == str(tmp_path / "repos")
    assert (o.authors.include, o.authors.exclude) == (("re:^a",), ("bob",))
    scenario = {"name": "s", "scope_growth_percent": 10.0, "member_leaves": ["x"]}
    f = forecast_options(ForecastingSection.model_validate({"scenarios": [scenario]}))
    (spec,) = f.scenarios
    assert (spec.name, spec.scope_growth_percent, spec.member_leaves) == ("s", 10.0, ("x",))
