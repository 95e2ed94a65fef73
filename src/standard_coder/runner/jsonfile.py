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
``"<path>: <cause>"``; :func:`parse_json_object` checks bytes a caller has read itself (the
runner's state files, where a missing file or a full disk is not corruption) and raises
:class:`JsonFileError` with the cause alone.

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
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["JsonFileError", "parse_json_object", "read_json_object"]

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
