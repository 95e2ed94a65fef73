"""Reading a JSON object from a file with errors that say in one line what is wrong.

One wording for every JSON file the project reads (manifests, run state, env stamps, sprint
inputs, PR files, saved representations, image indexes, label maps):

- ``missing (<what> file not found)``, ``is a folder, expected a <what> file``,
  ``cannot be read (<cause>)``;
- ``the <what> file is empty (expected a JSON object)``;
- ``not valid JSON (not UTF-8 text)``, ``not valid JSON (it ends too early)``,
  ``not valid JSON (line L, column C: <what the parser expected>)``;
- ``the <what> file is a JSON array, not an object``.

:func:`read_json_object` reads the file and raises the caller's error class with
``"<path>: <cause>"``; :func:`read_json_object_or_none` reads a file whose absence or damage
the caller shows as "nothing there" (report sections, the run summary, ``gc``'s run stamps),
logging the cause of a damaged one at DEBUG; :func:`parse_json_object` checks bytes a caller
has read itself (the runner's state files, where a missing file or a full disk is not
corruption) and raises :class:`JsonFileError` with the cause alone. :func:`field_problem`
says the first key of an object that is missing or of the wrong type (``missing key
'kind'``, ``'steps' is not an integer``), in the same words for every file.

Example:
    >>> parse_json_object(b'{"a": 1}', "run state")
    {'a': 1}
    >>> parse_json_object(b'{"a": ', "run state")
    Traceback (most recent call last):
    ...
    standard_coder.runner.jsonfile.JsonFileError: not valid JSON (it ends too early)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "JsonFileError",
    "field_problem",
    "parse_json_object",
    "read_json_object",
    "read_json_object_or_none",
]

log = logging.getLogger(__name__)

_JSON_KIND = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}


class JsonFileError(ValueError):
    """A JSON file's content is not a JSON object; the message is the cause, without the path."""


def parse_json_object(data: bytes, what: str) -> dict[str, Any]:
    """The JSON object in ``data`` (UTF-8, a byte-order mark allowed).

    Args:
        data: the file's bytes.
        what: what the file holds, in words (``"run state"``), for the messages.

    Raises:
        JsonFileError: empty, not UTF-8, not JSON (with line and column) or not an object.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise JsonFileError("not valid JSON (not UTF-8 text)") from None
    if not text.strip():
        raise JsonFileError(f"the {what} file is empty (expected a JSON object)")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text.rstrip()):
            raise JsonFileError("not valid JSON (it ends too early)") from None
        where = f"line {exc.lineno}, column {exc.colno}: {exc.msg}"
        raise JsonFileError(f"not valid JSON ({where})") from None
    if not isinstance(doc, dict):
        kind = "null" if doc is None else _JSON_KIND.get(type(doc), type(doc).__name__)
        raise JsonFileError(f"the {what} file is a JSON {kind}, not an object")
    return doc


def read_json_object(path: Path, error: Callable[[str], Exception], what: str) -> dict[str, Any]:
    """The JSON object in the file at ``path``; any problem raises ``error("<path>: <cause>")``.

    Args:
        path: the file.
        error: the caller's error class (or any callable taking the one-line message).
        what: what the file holds, in words (``"sprint inputs"``), for the messages.

    Raises:
        Exception: ``error(...)`` when the file is missing, a folder, unreadable, empty, not
            UTF-8, not JSON or not a JSON object.

    Example:
        >>> read_json_object(Path("sprint.json"), ValueError, "sprint inputs")  # doctest: +SKIP
    """
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise error(f"{path}: missing ({what} file not found)") from None
    except IsADirectoryError:
        raise error(f"{path}: is a folder, expected a {what} file") from None
    except OSError as exc:
        raise error(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    try:
        return parse_json_object(data, what)
    except JsonFileError as exc:
        raise error(f"{path}: {exc}") from None


def read_json_object_or_none(path: Path) -> dict[str, Any] | None:
    """The JSON object in the file at ``path``, or None when there is none to read: the file is
    missing, a folder, unreadable, empty, not UTF-8, not JSON or not a JSON object.

    For readers that show an absent or damaged file as "nothing yet" (a report section, the run
    summary) rather than fail. A file that is there but cannot be used is logged at DEBUG with
    the words :func:`read_json_object` would raise (``--log-level debug`` shows it); a missing
    one is not logged.

    Example:
        >>> read_json_object_or_none(Path("no-such-file.json")) is None
        True
    """
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        cause = "is a folder" if isinstance(exc, IsADirectoryError) else "cannot be read"
        log.debug("%s: %s (%s), read as absent", path, cause, exc.strerror or type(exc).__name__)
        return None
    try:
        return parse_json_object(data, "JSON")
    except JsonFileError as exc:
        log.debug("%s: %s, read as absent", path, exc)
        return None


_TYPE_WORDS: dict[type, str] = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    list: "a list",
    dict: "an object",
    type(None): "null",
}

FieldTypes = Mapping[str, type | tuple[type, ...]]
"""A JSON object's keys and the type (or types) each value must have."""


def field_problem(
    doc: Mapping[str, Any],
    types: FieldTypes,
    required: Iterable[str] = (),
    said: Mapping[str, str] | None = None,
) -> str | None:
    """The first problem of ``doc``'s keys in words, or None: ``missing key 'kind'`` for a
    ``required`` key that is absent, ``'top_n_identifiers' is not an integer`` for a value of
    another type than ``types`` gives (``True`` is no integer). An optional key whose value is
    null counts as absent. ``said``: the words for a key's type where the table's do not say
    enough (``"a list of strings"``)."""
    for key in required:
        if key not in doc:
            return f"missing key {key!r}"
    needed = set(required)
    for key, kind in types.items():
        value = doc.get(key)
        if key not in doc or (value is None and key not in needed):
            continue
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            words = (said or {}).get(key) or " or ".join(
                _TYPE_WORDS.get(k, k.__name__) for k in kinds
            )
            return f"{key!r} is not {words}"
    return None
