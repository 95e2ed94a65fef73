"""Did-you-mean hints for unknown keys (config files, forecast input files): one helper so
every "unknown key" message suggests the nearest valid name the same way (pydantic is imported
only by :func:`fields_at`: a command pipeline's no-op check never loads it)."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel


def fields_at(model: type[BaseModel], loc: Sequence[Any]) -> list[str]:
    """Field names valid at ``loc`` (a pydantic error location without its last part) inside
    ``model``; list indexes are skipped, optional/list annotations are looked through."""
    from pydantic import BaseModel

    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = current.model_fields.get(str(part))
        if field is None:
            return _public_fields(current)
        ann = field.annotation
        for cand in getattr(ann, "__args__", ()) or (ann,):
            if isinstance(cand, type) and issubclass(cand, BaseModel):
                current = cand
                break
        else:
            current = ann
    if isinstance(current, type) and issubclass(current, BaseModel):
        return _public_fields(current)
    return []


def _public_fields(model: type[BaseModel]) -> list[str]:
    """Keys a file may hold (fields marked ``exclude``, e.g. ``config_path``, are internal)."""
    return [name for name, f in model.model_fields.items() if not f.exclude]


def nearest(name: str, valid: Sequence[str]) -> str | None:
    """The valid name closest to ``name`` (difflib ratio >= 0.6), or None."""
    near = difflib.get_close_matches(str(name), list(valid), n=1)
    return near[0] if near else None


def did_you_mean(name: str, valid: Sequence[str]) -> str:
    """``"; did you mean 'x'?"`` for the nearest valid name, or ``""`` when none is close."""
    near = nearest(name, valid)
    return f"; did you mean '{near}'?" if near else ""
