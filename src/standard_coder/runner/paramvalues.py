"""What a stage's params may hold: values whose JSON form is the value (the fingerprint, the
manifest and ``ctx.params`` are that form), checked before any stage runs.

A value with no faithful JSON form was once turned into its ``str``: a numpy array's text
abbreviates its middle (a change there skipped the stage), a function's holds a memory address
and a set's order changes from one process to the next (the stage reran on every run), and a NaN
failed only after the stage had run. :func:`param_problem` names such a value by its key;
:func:`json_default` converts the few non-JSON types whose text is the value (paths, dates,
enums, numpy scalars).

Example:
    >>> param_problem({"lr": 0.1, "layers": [64, 64]})
    >>> param_problem({"keep": {"b", "a"}})[0]
    'keep'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, time
from enum import Enum
from pathlib import PurePath
from typing import Any

__all__ = ["json_default", "param_problem"]


def _scalar(value: Any) -> Any | None:
    """A numpy (or similar) scalar's Python value, else None."""
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", None) == 0:
        return item()
    return None


def json_default(value: Any) -> Any:
    """``json.dumps(default=...)`` for params: a path or a date as text, an enum as its value,
    a numpy scalar as its number; anything else raises ``TypeError`` (:func:`param_problem`
    said why before any stage ran)."""
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    scalar = _scalar(value)
    if scalar is not None:
        return scalar
    raise TypeError(f"a {type(value).__name__} has no JSON form")


def _why(value: Any) -> str | None:
    """Why a leaf value cannot be a param (None: it can)."""
    if value is None or isinstance(value, bool | int | str | PurePath | date | time):
        return None
    if isinstance(value, float):
        if math.isfinite(value):
            return None
        return f"{value} has no JSON form (give null, or the number as a string)"
    if isinstance(value, Enum):
        found = _walk(value.value, "")  # a tuple value is a list in JSON
        return None if found is None else found[1]
    if isinstance(value, type):
        return f"a class ({value.__module__}.{value.__qualname__}): give its name as a string"
    if isinstance(value, set | frozenset):
        return "a set has no fixed order from one run to the next: give a sorted list"
    if getattr(value, "ndim", 0):  # numpy and friends: their text abbreviates the middle
        shape = getattr(value, "shape", "?")
        return f"a {type(value).__name__} of shape {shape}: give a list (.tolist()) or a digest"
    if _scalar(value) is not None:
        return _why(_scalar(value))
    if callable(value):
        return (
            f"a {type(value).__name__} (its text holds a memory address): give its name as a "
            "string, or the values it reads"
        )
    return f"a {type(value).__name__} has no JSON form: give a number, text, list or table"


def param_problem(params: Mapping[str, Any], prefix: str = "") -> tuple[str, str] | None:
    """``(key, why)`` for the first value of ``params`` that cannot be a param, else None;
    nested tables and lists are walked (``train.layers[2]``)."""
    for key, value in params.items():
        where = f"{prefix}{key}"
        found = _walk(value, where)
        if found is not None:
            return found
    return None


def _walk(value: Any, where: str) -> tuple[str, str] | None:
    if isinstance(value, Mapping):
        for k in value:
            if not isinstance(k, str | int):
                return where, f"a key {k!r} ({type(k).__name__}): keys must be text"
        return param_problem({str(k): v for k, v in value.items()}, f"{where}.")
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = _walk(item, f"{where}[{i}]")
            if found is not None:
                return found
        return None
    why = _why(value)
    return None if why is None else (where, why)
