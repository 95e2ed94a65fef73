"""Wiring helpers every built-in pipeline shares: a config section as stage params and back
(:func:`section_from_params`, so a stage reads exactly what its fingerprint covers), and the
source files of domain packages as a stage's code version."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from pydantic import BaseModel

    from standard_coder.runner.stage import Pipeline

PKG = Path(__file__).resolve().parent.parent
M = TypeVar("M", bound="BaseModel")


def package_sources(*folders: str) -> list[Path]:
    """Source files of domain packages: their content is the stage's code version."""
    files: list[Path] = []
    for folder in folders:
        root = PKG / folder
        files.extend(sorted(root.rglob("*.py")) if root.is_dir() else [root])
    return files


def package_data(folder: str, pattern: str) -> list[Path]:
    """Data files a stage's results depend on (the shipped priors): part of its code version,
    so a release that changes them reruns the stage as a code change does."""
    return sorted((PKG / folder).glob(pattern))


def section_params(model: Any, root: Path | None = None) -> Any:
    """A config section as JSON data; paths inside ``root`` (the config's folder) made relative.

    These are stage params, so they enter fingerprints: relative paths keep a project folder that
    is moved or copied elsewhere up to date (file contents are covered by the stage inputs).
    """
    return relative_params(json.loads(model.model_dump_json()), root)


def section_from_params(model: type[M], data: Mapping[str, Any], root: Path) -> M:
    """A config section back from a stage's params; relative paths are taken from ``root``
    (the project folder, ``ctx.root_dir``), as :func:`standard_coder.config.load_config` does."""
    return model.model_validate(dict(data), context={"config_dir": root})


def relative_params(value: Any, root: Path | None) -> Any:
    """``value`` (JSON data) with every string that is a path inside ``root`` made relative to
    it (:func:`section_params`); unchanged without a ``root``."""
    if root is None:
        return value
    prefix = str(root).rstrip("/") + "/"

    def rel(value: Any) -> Any:
        if isinstance(value, str) and value.startswith(prefix):
            return value[len(prefix) :]
        if isinstance(value, dict):
            return {k: rel(v) for k, v in value.items()}
        if isinstance(value, list):
            return [rel(v) for v in value]
        return value

    return rel(value)


class DemoFolderTaken(ValueError):
    """A demo's ``--output-dir`` holds a ``pipeline_config.toml`` of another pipeline."""


def pipeline_kind(text: str) -> str | None:
    """Which pipeline a config's text describes (``[[stages]]``: a command pipeline; ``[pipeline]
    entry``: a Python one; else ``[pipeline] name``, default ``sch``); None when it is not TOML."""
    import tomllib

    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None
    if "stages" in doc:
        return "a command pipeline ([[stages]])"
    section = doc.get("pipeline")
    section = section if isinstance(section, dict) else {}
    if section.get("entry"):
        return f"the Python pipeline {section['entry']}"
    return str(section.get("name", "sch"))


def write_demo_config(out_dir: Path, pipeline: str, text: str) -> Path:
    """Write ``out_dir/pipeline_config.toml`` for a demo unless the user edited it since the demo
    last wrote it (a marker file keeps what the demo wrote); returns the config path.

    Raises:
        DemoFolderTaken: the config there (kept: edited, or written by another pipeline's demo)
            describes another pipeline than ``text``, so running it would not be this demo.
    """
    import logging

    from standard_coder.runner.atomic import atomic_write_text
    from standard_coder.runner.console import say_warning

    out_dir.mkdir(parents=True, exist_ok=True)
    config = out_dir / "pipeline_config.toml"
    marker = out_dir / f".demo-{pipeline}-written"
    current = config.read_text(encoding="utf-8") if config.exists() else None
    written = marker.read_text(encoding="utf-8") if marker.exists() else None
    if current == text:
        return config
    if current is None or current == written:
        atomic_write_text(config, text)
        atomic_write_text(marker, text)
        return config
    wanted = pipeline_kind(text)
    if wanted is not None:
        refuse_other_pipeline(config, wanted)
    say_warning(
        f"{config} differs from the demo's: keeping it (delete it to get the demo's)",
        logging.getLogger(__name__),
    )
    return config


def refuse_other_pipeline(config: Path, pipeline: str) -> None:
    """Raise :class:`DemoFolderTaken` when ``config`` exists and is not a config of ``pipeline``
    (a demo would otherwise run, or overwrite, another pipeline's config)."""
    try:
        kept = pipeline_kind(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return  # none there, or unreadable: the demo's own write says why
    if kept is not None and kept != pipeline:
        raise DemoFolderTaken(
            f"{config} is a config of {_said(kept)}, not of {_said(pipeline)}: "
            f"choose another --output-dir (or delete that file)"
        )


def _said(kind: str) -> str:
    """``the vision pipeline`` for a built-in's name, else the description as it is."""
    return kind if " " in kind else f"the {kind} pipeline"


def assemble_pipeline(
    name: str, cfg: Any, stages: list[Any], root: Path | None, *, workers: int = 1, **hooks: Any
) -> Pipeline:
    """The :class:`~standard_coder.runner.Pipeline` of a loaded ``PipelineConfig``: base folder,
    seed, device and stop grace from ``[outputs]``/``[runner]``, the config as recorded JSON;
    ``hooks`` (``report_sections``, ``on_finish``) pass through."""
    from standard_coder.runner.stage import Pipeline

    return Pipeline(
        name=name,
        stages=stages,
        base_dir=cfg.outputs.base_dir,
        seed=cfg.runner.seed,
        device=cfg.runner.device,
        workers=workers,
        stop_grace_s=cfg.runner.stop_grace_s,
        config=json.loads(cfg.model_dump_json()),
        root=root,
        **hooks,
    )
