"""Load a Python pipeline from ``"pkg.module:object"`` or ``"path/file.py:object"``.

``object`` is a :class:`Pipeline` or a callable ``(config_path, overrides) -> Pipeline``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from standard_coder.runner.errors import PipelineDefinitionError
from standard_coder.runner.stage import Pipeline


def load_object(spec: str, base_dir: Path) -> Any:
    """Import the object named by ``spec`` (a file path is taken from ``base_dir``).

    Raises:
        PipelineDefinitionError: malformed spec, module or attribute not found.
    """
    if ":" not in spec:
        raise PipelineDefinitionError(
            f"entry {spec!r}: expected 'pkg.module:object' or 'file.py:object'"
        )
    target, _, attr = spec.rpartition(":")
    if not target or not attr:
        raise PipelineDefinitionError(f"entry {spec!r}: expected 'pkg.module:object'")
    if target.endswith(".py") or "/" in target:
        path = Path(target).expanduser()
        path = path if path.is_absolute() else (base_dir / path)
        if not path.is_file():
            raise PipelineDefinitionError(f"entry {spec!r}: file not found: {path}")
        mod_name = f"_sc_entry_{abs(hash(str(path.resolve())))}"
        loaded = importlib.util.spec_from_file_location(mod_name, path)
        if loaded is None or loaded.loader is None:
            raise PipelineDefinitionError(f"entry {spec!r}: cannot load {path}")
        module = importlib.util.module_from_spec(loaded)
        sys.modules[mod_name] = module
        loaded.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(target)
        except ModuleNotFoundError as exc:
            raise PipelineDefinitionError(
                f"entry {spec!r}: module not found ({exc.name})"
            ) from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise PipelineDefinitionError(
            f"entry {spec!r}: {target} has no attribute {attr!r}"
        ) from None


def build_from_object(obj: Any, spec: str, config_path: Path, overrides: Sequence[str]) -> Pipeline:
    """A :class:`Pipeline` from a pipeline object or a builder callable.

    Raises:
        PipelineDefinitionError: the object is neither, or the builder returned something else.
    """
    if isinstance(obj, Pipeline):
        if overrides:
            raise PipelineDefinitionError(
                f"entry {spec!r}: a fixed Pipeline object takes no --set overrides"
            )
        return obj
    if callable(obj):
        result = obj(config_path, list(overrides))
        if isinstance(result, Pipeline):
            return result
        raise PipelineDefinitionError(
            f"entry {spec!r}: builder returned {type(result).__name__}, expected Pipeline"
        )
    raise PipelineDefinitionError(
        f"entry {spec!r}: {type(obj).__name__} is neither a Pipeline nor a builder callable"
    )
