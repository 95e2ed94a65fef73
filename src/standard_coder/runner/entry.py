"""Load a Python pipeline from ``"pkg.module:object"`` or ``"path/file.py:object"``.

``object`` is a :class:`Pipeline` or a callable ``(config_path, overrides) -> Pipeline``.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from standard_coder.runner.errors import PipelineDefinitionError, RunnerError
from standard_coder.runner.stage import Pipeline

ENTRY_PREFIX = "_sc_entry_"
"""Module names of pipelines loaded from a file (not importable by name elsewhere)."""

log = logging.getLogger("standard_coder.runner")


def _load_file(mod_name: str, path: Path) -> Any:
    """Execute ``path`` as module ``mod_name`` (registered in ``sys.modules``), its folder
    first on ``sys.path`` as ``python path`` puts it: it imports the modules beside it."""
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    loaded = importlib.util.spec_from_file_location(mod_name, path)
    if loaded is None or loaded.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(loaded)
    sys.modules[mod_name] = module
    try:
        loaded.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(mod_name, None)  # as a failed import leaves no module behind
        raise
    return module


_MACHINERY = (os.path.dirname(importlib.__file__), os.path.abspath(__file__))
"""Frames of the import itself (importlib, this module), not of the code being imported."""


def describe_import_failure(exc: BaseException) -> str:
    """One line for an exception raised while a pipeline's module was imported, or while its
    builder ran: ``file:line: SyntaxError: message`` for a syntax error (the file and line it
    names), ``file:line: Type: message`` otherwise, the line the innermost frame of the user's
    file (the first file the import machinery, or :func:`build_from_object`, ran) stood at."""
    if isinstance(exc, SyntaxError):  # IndentationError and TabError too
        where = exc.filename or "?"
        line = f":{exc.lineno}" if exc.lineno else ""
        return f"{where}{line}: {type(exc).__name__}: {exc.msg}"
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if not f.filename.startswith("<") and not f.filename.startswith(_MACHINERY)
    ]
    message = " ".join(str(exc).split()) or "(no message)"
    if not frames:
        return f"{type(exc).__name__}: {message}"
    own = [f for f in frames if f.filename == frames[0].filename]
    return f"{own[-1].filename}:{own[-1].lineno}: {type(exc).__name__}: {message}"


def _import_failed(spec: str, exc: BaseException) -> PipelineDefinitionError:
    """The one-line error for a pipeline module that raised as it was imported (the
    traceback goes to the debug log: ``--log-level debug`` shows it)."""
    log.debug("importing the pipeline entry %r failed", spec, exc_info=exc)
    return PipelineDefinitionError(f"{describe_import_failure(exc)} (entry {spec!r})")


class FileFunction:
    """A top-level function of a pipeline loaded from a file, picklable by reference to that
    file: a pool worker (which cannot import ``_sc_entry_...`` by name) loads the file once,
    under the same module name, and calls the function."""

    def __init__(self, path: str, module: str, name: str) -> None:
        self.path, self.module, self.name = path, module, name

    def __call__(self, item: Any) -> Any:
        module = sys.modules.get(self.module)
        if module is None:
            module = _load_file(self.module, Path(self.path))
        return getattr(module, self.name)(item)


def portable(fn: Any) -> Any:
    """``fn``, or a :class:`FileFunction` for a top-level function of a file-loaded pipeline
    (``[pipeline] entry = "file.py:build"``), so a process pool can run it."""
    mod_name = getattr(fn, "__module__", "") or ""
    module = sys.modules.get(mod_name)
    name = getattr(fn, "__qualname__", "")
    path = getattr(module, "__file__", None)
    if not mod_name.startswith(ENTRY_PREFIX) or not path or "." in name or "<" in name:
        return fn
    return FileFunction(str(path), mod_name, name)


def load_object(spec: str, base_dir: Path) -> Any:
    """Import the object named by ``spec`` (a file path is taken from ``base_dir``).

    Raises:
        PipelineDefinitionError: malformed spec, module or attribute not found, or the module
            raised as it was imported (a syntax error, a failed import, any exception: one
            line naming the file, the line and the cause).
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
        # the same name in every process (``hash`` of a str is salted per process)
        digest = hashlib.sha256(str(path.resolve()).encode("utf-8", "surrogateescape"))
        mod_name = f"{ENTRY_PREFIX}{digest.hexdigest()[:16]}"
        try:
            module = _load_file(mod_name, path)
        except Exception as exc:  # user code ran: a syntax error, an import, any exception
            raise _import_failed(spec, exc) from None
    else:
        try:
            module = importlib.import_module(target)
        except ModuleNotFoundError as exc:
            if exc.name and (target == exc.name or target.startswith(exc.name + ".")):
                beside = base_dir / (target.replace(".", "/") + ".py")
                hint = (
                    f"; a file beside the config is named by its path: entry = "
                    f"'{beside.relative_to(base_dir).as_posix()}:{attr}'"
                    if beside.is_file()
                    else ""
                )
                raise PipelineDefinitionError(
                    f"entry {spec!r}: module not found ({exc.name}){hint}"
                ) from None
            raise _import_failed(spec, exc) from None
        except Exception as exc:
            raise _import_failed(spec, exc) from None
    try:
        return getattr(module, attr)
    except AttributeError:
        from standard_coder.runner.suggest import did_you_mean

        names = [n for n in vars(module) if not n.startswith("_")]
        raise PipelineDefinitionError(
            f"entry {spec!r}: {target} has no attribute {attr!r}{did_you_mean(attr, names)}"
        ) from None


def _build_failed(spec: str, exc: BaseException) -> PipelineDefinitionError:
    """The one-line error for a builder that raised (the traceback goes to the debug log)."""
    log.debug("building the pipeline with entry %r failed", spec, exc_info=exc)
    return PipelineDefinitionError(
        f"{describe_import_failure(exc)} (entry {spec!r}, as it built the pipeline)"
    )


def build_from_object(obj: Any, spec: str, config_path: Path, overrides: Sequence[str]) -> Pipeline:
    """A :class:`Pipeline` from a pipeline object or a builder callable.

    A builder rejects a config or an override with a ``ValueError`` (``ConfigError``), and a
    bad definition raises a :class:`RunnerError`: both pass through, their messages meant for
    the user. Any other exception from the builder's code is a bug in it, told in one line.

    Raises:
        PipelineDefinitionError: the object is neither, the builder returned something else,
            or it raised (one line naming the entry, the innermost line of the builder's file
            it passed through, the exception's type and message).
        ValueError, RunnerError: as the builder raised them.
    """
    if isinstance(obj, Pipeline):
        if overrides:
            raise PipelineDefinitionError(
                f"entry {spec!r}: a fixed Pipeline object takes no --set overrides"
            )
        return obj
    if callable(obj):
        try:
            result = obj(config_path, list(overrides))
        except (RunnerError, ValueError):
            raise
        except Exception as exc:  # user code ran: a KeyError, a TypeError, an OSError...
            raise _build_failed(spec, exc) from None
        if isinstance(result, Pipeline):
            return result
        raise PipelineDefinitionError(
            f"entry {spec!r}: builder returned {type(result).__name__}, expected Pipeline"
        )
    raise PipelineDefinitionError(
        f"entry {spec!r}: {type(obj).__name__} is neither a Pipeline nor a builder callable"
    )
