"""Shared pieces of every config schema: strict models, config-relative paths, readable errors."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
)

from standard_coder.runner.suggest import did_you_mean, fields_at


class ConfigError(ValueError):
    """A config file or override is invalid; the message names file, key path and expected form."""


class StrictModel(BaseModel):
    """Base for config sections: unknown keys are errors, values are validated on assignment.

    Types are strict: a bool is not an int (``seed = true`` is an error), a string is not a
    number (``n_sims = "2000"``), and floats are finite (``inf``/``nan`` are errors).
    """

    model_config = ConfigDict(
        extra="forbid",
        validate_assignment=True,
        validate_default=True,
        frozen=False,
        strict=True,
        allow_inf_nan=False,
    )


def _resolve(value: Path, info: ValidationInfo) -> Path:
    value = Path(str(value)).expanduser()
    base = (info.context or {}).get("config_dir") if info.context else None
    if not value.is_absolute() and base is not None:
        value = Path(base) / value
    return value


def _path_from_str(value: Any) -> Any:
    return Path(value) if isinstance(value, str) else value


def _date_from_str(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return value  # left for the strict check to reject with its own message
    return value


ConfigPath = Annotated[Path, BeforeValidator(_path_from_str), AfterValidator(_resolve)]
"""A path in a config file: ``~`` expanded, relative paths taken from the config file's folder."""

IsoDate = Annotated[date, BeforeValidator(_date_from_str)]
"""A date: a TOML date or an ISO ``"YYYY-MM-DD"`` string."""

Seed = Annotated[int, Field(ge=0, lt=2**63)]
"""A random seed: a non-negative int below 2**63 (what the run seeding accepts)."""

PositiveInt = Annotated[int, Field(ge=1)]
UnitFloat = Annotated[float, Field(gt=0, lt=1)]


def _override_key(text: str) -> str:
    """The dotted key of ``--set KEY=VALUE``, read as the override itself reads it."""
    from standard_coder.runner.overrides import OverrideError, parse_override

    try:
        return ".".join(parse_override(text)[0])
    except OverrideError:
        return text


def _blamed(key: str, msg: str, set_keys: dict[str, str]) -> list[str]:
    """The ``--set`` overrides an error at ``key`` is blamed on: the one that set ``key`` (or a
    section above it); for a section-wide check (two keys that must agree) every override in
    the section whose key the message names, else every override in it."""
    hits = [(k, t) for k, t in set_keys.items()
            if f"{key}.".startswith(f"{k}.") or k.startswith(f"{key}.")]  # fmt: skip
    if len(hits) > 1:
        named = [
            (k, t) for k, t in hits if re.search(rf"\b{re.escape(k.rsplit('.', 1)[-1])}\b", msg)
        ]
        hits = named or hits
    return [t for _, t in hits]


def format_validation_error(
    err: ValidationError, model: type[BaseModel], source: str, overrides: Sequence[str] = ()
) -> str:
    """Turn a pydantic error into lines naming ``source``, the dotted key and what was expected;
    a key set by one of ``overrides`` (``--set KEY=VALUE``) is blamed on it, not on the file."""
    set_keys = {_override_key(text): text for text in overrides}
    lines = []
    for e in err.errors():
        loc = tuple(e["loc"])
        key = ".".join(str(p) for p in loc) or "(root)"
        msg = str(e["msg"]).removeprefix("Value error, ")
        by = _blamed(key, msg, set_keys)
        where = f"  {key} (from {', '.join(f'--set {t}' for t in by)})" if by else f"  {key}"
        if e["type"] == "extra_forbidden":
            valid = fields_at(model, loc[:-1])
            hint = did_you_mean(str(loc[-1]), valid)
            lines.append(f"{where}: unknown key{hint} (valid keys: {', '.join(sorted(valid))})")
        else:
            got = e.get("input")
            shown = "" if isinstance(got, dict) else f" (got {got!r})"
            if e["type"] == "list_type" and isinstance(got, str) and by:
                # --set parses its value as TOML: a bare word is text, a list needs brackets
                shown += f"; a list: --set '{key}=[\"{got}\"]'"
            lines.append(f"{where}: {msg}{shown}")
    return "\n".join([f"{source}: invalid configuration", *lines])
