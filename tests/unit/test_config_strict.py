"""Strict config types: bools are not ints, strings are not numbers, floats are finite, ranges
hold, and every error names the file and the key path (issue 15 item 9)."""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from standard_coder.config import ConfigError, load_config
from standard_coder.config.schema import FlagshipConfig, validate_config
from standard_coder.config.template import render_template


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "pipeline_config.toml"
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[runner]\nseed = true\n", "runner.seed"),
        ("[runner]\nseed = -1\n", "runner.seed"),
        ('[forecasting]\nn_sims = "2000"\n', "forecasting.n_sims"),
        ("[training.optim]\nlearning_rate = inf\n", "training.optim.learning_rate"),
        ("[training.hmm]\nlearning_rate = nan\n", "training.hmm.learning_rate"),
        ("[training.mdn]\nhidden = []\n", "training.mdn.hidden"),
        ("[training.mdn]\nhidden = [64, 0]\n", "training.mdn.hidden.1"),
        ("[training.quantile]\nquantiles = [1.5]\n", "training.quantile.quantiles.0"),
        ("[training.quantile]\nquantiles = [0.5, 0.1]\n", "training.quantile.quantiles"),
        ("[training.quantile]\nhidden = [true]\n", "training.quantile.hidden.0"),
        ("[repos]\nstore_contents = 1\n", "repos.store_contents"),
        ('[repos]\ninclude_paths = "~/code/*"\n', "repos.include_paths"),
        ("[outputs]\nbase_dir = 5\n", "outputs.base_dir"),
        ("[forecasting]\nstory_points_to_sch = 1e400\n", "forecasting.story_points_to_sch"),
        ('[forecasting]\nenable = "yes"\n', "forecasting.enable"),
        (
            '[[forecasting.scenarios]]\nname = "x"\nmember_joins = { bo = -3.0 }\n',
            "forecasting.scenarios.0.member_joins.bo",
        ),
        (
            '[[forecasting.scenarios]]\nname = "x"\ndays_off = { bo = ["someday"] }\n',
            "forecasting.scenarios.0.days_off.bo.0",
        ),
    ],
)
def test_loose_values_are_errors_naming_the_key(tmp_path: Path, text: str, key: str) -> None:
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_config(p)
    msg = str(exc.value)
    assert str(p) in msg
    assert f"  {key}:" in msg, msg


def test_overrides_are_strict_too(tmp_path: Path) -> None:
    p = write(tmp_path, "")
    with pytest.raises(ConfigError, match=r"runner\.seed"):
        load_config(p, ["runner.seed=true"])
    with pytest.raises(ConfigError, match=r"forecasting\.n_sims"):
        load_config(p, ['forecasting.n_sims="2000"'])
    assert load_config(p, ["forecasting.n_sims=2000"]).forecasting.n_sims == 2000


def test_lenient_where_toml_has_no_better_form(tmp_path: Path) -> None:
    """Ints are fine for floats, ISO strings for dates, strings for paths."""
    p = write(
        tmp_path,
        '[training.optim]\nlearning_rate = 1\n[outputs]\nbase_dir = "out"\n'
        '[[forecasting.scenarios]]\nname = "x"\ndays_off = { bo = ["2026-03-02", 2026-03-03] }\n',
    )
    cfg = load_config(p)
    assert cfg.training.optim.learning_rate == 1.0
    assert cfg.outputs.base_dir == tmp_path / "out"
    days = cfg.forecasting.scenarios[0].days_off["bo"]
    assert [d.isoformat() for d in days] == ["2026-03-02", "2026-03-03"]


def test_template_is_valid_and_round_trips(tmp_path: Path) -> None:
    p = write(tmp_path, render_template())
    cfg = load_config(p)
    default = validate_config({}, p)
    assert cfg.model_dump() == default.model_dump()


# ---------------------------------------------------------------- property tests


def _leaves(
    model: type[BaseModel], instance: BaseModel, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Any]]:
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        value = getattr(instance, name)
        if isinstance(value, BaseModel):
            yield from _leaves(type(value), value, (*prefix, name))
        else:
            yield (*prefix, name), value


LEAVES = list(_leaves(FlagshipConfig, validate_config({}, Path("/tmp/x.toml"))))
NUMERIC = [(p, v) for p, v in LEAVES if isinstance(v, int | float) and not isinstance(v, bool)]
FLOATS = [(p, v) for p, v in NUMERIC if isinstance(v, float)]
BOOLS = [(p, v) for p, v in LEAVES if isinstance(v, bool)]


def _nest(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {path[-1]: value}
    for part in reversed(path[:-1]):
        out = {part: out}
    return out


def _reject(path: tuple[str, ...], value: Any) -> str:
    with pytest.raises(ConfigError) as exc:
        validate_config(_nest(path, value), Path("/tmp/c.toml"))
    return str(exc.value)


def test_schema_has_the_expected_leaves() -> None:
    assert len(NUMERIC) > 30 and len(FLOATS) > 8 and len(BOOLS) >= 4


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(leaf=st.sampled_from(NUMERIC), flag=st.booleans())
def test_no_bool_is_a_number(leaf: tuple[tuple[str, ...], Any], flag: bool) -> None:
    path, _ = leaf
    assert f"  {'.'.join(path)}:" in _reject(path, flag)


@settings(max_examples=60, deadline=None)
@given(leaf=st.sampled_from(NUMERIC), number=st.integers(-(10**6), 10**6))
def test_no_numeric_string_is_a_number(leaf: tuple[tuple[str, ...], Any], number: int) -> None:
    path, _ = leaf
    assert f"  {'.'.join(path)}:" in _reject(path, str(number))


@settings(max_examples=40, deadline=None)
@given(leaf=st.sampled_from(FLOATS), bad=st.sampled_from([math.inf, -math.inf, math.nan]))
def test_no_float_is_infinite(leaf: tuple[tuple[str, ...], Any], bad: float) -> None:
    path, _ = leaf
    assert f"  {'.'.join(path)}:" in _reject(path, bad)


@settings(max_examples=40, deadline=None)
@given(leaf=st.sampled_from(BOOLS), number=st.integers(0, 1))
def test_no_int_is_a_bool(leaf: tuple[tuple[str, ...], Any], number: int) -> None:
    path, _ = leaf
    assert f"  {'.'.join(path)}:" in _reject(path, number)


@settings(max_examples=60, deadline=None)
@given(leaf=st.sampled_from(NUMERIC))
def test_every_default_written_back_is_valid(leaf: tuple[tuple[str, ...], Any]) -> None:
    """A default value as TOML text (what `init-config` writes) parses back as valid."""
    path, value = leaf
    data = tomllib.loads(f"v = {value!r}")
    cfg = validate_config(_nest(path, data["v"]), Path("/tmp/c.toml"))
    got: Any = cfg
    for part in path:
        got = getattr(got, part)
    assert got == value
