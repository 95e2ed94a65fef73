"""``init-config``: a fully commented ``pipeline_config.toml`` generated from the schema itself.

Every key appears with its default and its meaning, so the template can never drift from what
``pipeline --config`` accepts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from standard_coder.config.schema import FlagshipConfig

HEADER = """\
# Standard Coder pipeline configuration: mine -> train_sch -> team_output -> forecast.
# Every key is listed with its default. Relative paths are taken from this file's folder,
# '~' is expanded. Run it with:   standard-coder pipeline --config {name}
# Override a key for one run:  standard-coder pipeline --config {name} --set runner.seed=7
"""


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Path):
        return json.dumps(str(value))
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    raise TypeError(f"cannot render {value!r} as TOML")


def _is_model(annotation: Any) -> type[BaseModel] | None:
    for cand in getattr(annotation, "__args__", ()) or (annotation,):
        if isinstance(cand, type) and issubclass(cand, BaseModel):
            return cand
    return None


def _render(model: type[BaseModel], instance: BaseModel, prefix: str, out: list[str]) -> None:
    scalars: list[str] = []
    tables: list[tuple[str, type[BaseModel], BaseModel]] = []
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        value = getattr(instance, name)
        sub = _is_model(field.annotation)
        if sub is not None and isinstance(value, BaseModel):
            tables.append((name, sub, value))
            continue
        desc = field.description or ""
        if value is None:
            scalars.append(f"# {desc}\n# {name} = (unset)")
        else:
            if isinstance(value, Path) and value.is_absolute():
                value = Path(str(field.default))  # keep defaults relative in the template
            scalars.append(f"# {desc}\n{name} = {_toml_value(value)}")
    if scalars:
        doc = (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else ""
        out.append(f"\n[{prefix}]" + (f"  # {doc}" if doc else ""))
        out.extend(scalars)
    for name, sub, value in tables:
        _render(sub, value, f"{prefix}.{name}" if prefix else name, out)


VISION_HEADER = """\
# Standard Coder pipeline configuration: the vision pipeline, prepare -> train -> evaluate.
# Every key is listed with its default. Relative paths are taken from this file's folder,
# '~' is expanded. Run it with:   standard-coder pipeline --config {name}
# Evaluate a checkpoint:        standard-coder eval --checkpoint MODEL.pt --config {name}
"""

AUDIO_HEADER = """\
# Standard Coder pipeline configuration: the audio pipeline,
# demux -> source_separation -> transcribe -> glossary -> subtitles.
# Every key is listed with its default. Relative paths are taken from this file's folder,
# '~' is expanded. Run it with:   standard-coder pipeline --config {name}
# After editing [glossary] only: standard-coder pipeline --config {name} --stages glossary
"""

CODEEDIT_HEADER = """\
# Standard Coder pipeline configuration: the codeedit pipeline,
# ingest -> normalize -> split -> stats -> evaluate. Every key is listed with its default.
# Relative paths are taken from this file's folder. Run it with:
#   standard-coder pipeline --config {name}
"""

PIPELINES = ("sch", "vision", "audio", "codeedit")


def render_template(name: str = "pipeline_config.toml", pipeline: str = "sch") -> str:
    """The commented default config of ``pipeline`` (one of :data:`PIPELINES`) as TOML."""
    model: type[BaseModel]
    if pipeline == "vision":
        from standard_coder.config.vision import VisionConfig

        out: list[str] = [VISION_HEADER.format(name=name)]
        model = VisionConfig
    elif pipeline == "audio":
        from standard_coder.config.audio import AudioConfig

        out = [AUDIO_HEADER.format(name=name)]
        model = AudioConfig
    elif pipeline == "codeedit":
        from standard_coder.config.codeedit import CodeEditConfig

        out = [CODEEDIT_HEADER.format(name=name)]
        model = CodeEditConfig
    elif pipeline == "sch":
        out = [HEADER.format(name=name)]
        model = FlagshipConfig
    else:
        raise ValueError(f"unknown pipeline {pipeline!r}; expected one of {', '.join(PIPELINES)}")
    _render(model, model(), "", out)
    text = "\n".join(line for line in out if line is not None)
    return text.replace("\n[]\n", "\n").lstrip("\n") + "\n"
