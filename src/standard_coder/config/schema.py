"""The flagship pipeline's config file: schema, loading and ``--set`` overrides."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import Field, ValidationError

from standard_coder.config.base import ConfigError, StrictModel, format_validation_error
from standard_coder.config.core import (
    CacheSection,
    OutputsSection,
    PipelineSection,
    RunnerSection,
)
from standard_coder.config.forecasting import ForecastingSection
from standard_coder.config.mining import FiltersSection, ReposSection
from standard_coder.config.training import TrainingSection


class PipelineConfig(StrictModel):
    """A built-in pipeline's file: its sections, and where it was loaded from."""

    # Not part of the file: where it was loaded from (paths resolve against its folder).
    config_path: Path | None = Field(None, exclude=True)
    # Not part of the file either: the ``--set`` texts it was loaded with (a command it
    # suggests repeats them: ``pipeline_command``).
    set_overrides: tuple[str, ...] = Field((), exclude=True)
    cache: CacheSection = Field(default_factory=CacheSection)

    def pipeline_command(self, *more: str) -> str:
        """``standard-coder pipeline --config FILE [--set K=V ...] MORE``: the run this config,
        with its overrides, stands for (pasteable: quoted for a shell)."""
        import shlex

        parts = ["standard-coder", "pipeline", "--config", str(self.config_path)]
        for text in self.set_overrides:
            parts += ["--set", text]
        return shlex.join([*parts, *more])


ConfigT = TypeVar("ConfigT", bound=PipelineConfig)


class FlagshipConfig(PipelineConfig):
    """``pipeline_config.toml`` for ``mine -> train_sch -> team_output -> forecast``."""

    pipeline: PipelineSection = Field(default_factory=PipelineSection)
    outputs: OutputsSection = Field(default_factory=OutputsSection)
    runner: RunnerSection = Field(default_factory=RunnerSection)
    repos: ReposSection = Field(default_factory=ReposSection)
    filters: FiltersSection = Field(default_factory=FiltersSection)
    training: TrainingSection = Field(default_factory=TrainingSection)
    forecasting: ForecastingSection = Field(default_factory=ForecastingSection)


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; a missing file or bad TOML is a :class:`ConfigError` naming it."""
    from standard_coder.runner.tomlfile import read_toml as read

    return read(path, ConfigError)


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``--set`` overrides to a raw config dict; a malformed one is a ConfigError."""
    from standard_coder.runner.overrides import OverrideError
    from standard_coder.runner.overrides import apply_overrides as apply

    try:
        return apply(data, overrides)
    except OverrideError as exc:
        raise ConfigError(str(exc)) from None


def load_pipeline_config(
    model: type[ConfigT], path: Path, overrides: list[str] | None = None, *, name: str | None = None
) -> ConfigT:
    """Load and validate a pipeline file; every relative path is taken from ``path``'s folder.

    Raises:
        ConfigError: the file is missing, not TOML, or a key is unknown or has the wrong form.
    """
    path = Path(path).resolve()
    data = apply_overrides(read_toml(path), overrides or [])
    return validate_pipeline_config(model, data, path, name=name, overrides=overrides or ())


def validate_pipeline_config(
    model: type[ConfigT],
    data: dict[str, Any],
    path: Path,
    *,
    name: str | None = None,
    overrides: Sequence[str] = (),
    source: str | None = None,
) -> ConfigT:
    """Validate a raw dict as if it had been read from ``path``.

    ``name``: the pipeline's name, filled into ``[pipeline]`` when the file leaves it out.
    ``overrides``: the ``--set`` texts applied to ``data`` (an error in a key they set names
    them).
    ``source``: what an error calls the config when ``path`` is no file (defaults built for a
    command run without ``--config``); the config then has no ``config_path``.
    """
    # Absent sections are validated too, so their path defaults resolve against the file's folder.
    sections = [n for n, f in model.model_fields.items() if not f.exclude]
    data = {**{n: {} for n in sections}, **data}
    if name is not None and isinstance(data.get("pipeline"), dict):
        data["pipeline"] = {"name": name, **data["pipeline"]}
    try:
        cfg = model.model_validate(data, context={"config_dir": path.parent})
    except ValidationError as exc:
        raise ConfigError(
            format_validation_error(exc, model, source or str(path), overrides)
        ) from None
    cfg.config_path = path if source is None else None
    cfg.set_overrides = tuple(overrides)
    return cfg


def load_config(path: Path, overrides: list[str] | None = None) -> FlagshipConfig:
    """Load and validate the flagship config (see :func:`load_pipeline_config`)."""
    return load_pipeline_config(FlagshipConfig, path, overrides)


def validate_config(
    data: dict[str, Any],
    path: Path,
    *,
    overrides: Sequence[str] = (),
    source: str | None = None,
) -> FlagshipConfig:
    """Validate a raw flagship dict as if it had been read from ``path``
    (:func:`validate_pipeline_config`)."""
    return validate_pipeline_config(FlagshipConfig, data, path, overrides=overrides, source=source)
