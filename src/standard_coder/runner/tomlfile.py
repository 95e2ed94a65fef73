"""Reading a TOML file with errors that name it (one reader for pipeline files and configs).

A file is parsed once per process while it is unchanged (same inode, size and mtime): the
front door, the pipeline builder and the ``report`` command share one parse of the pipeline
file. Each caller gets its own deep copy.
"""

from __future__ import annotations

import copy
import os
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

_PARSED: dict[tuple[str, int, int, int], dict[str, Any]] = {}
_MAX_PARSED = 8


def read_toml(path: Path, error: Callable[[str], Exception]) -> dict[str, Any]:
    """Parse ``path``; a missing file, a folder or bad TOML raises ``error(message)``.

    Example:
        >>> read_toml(Path("pipeline.toml"), ValueError)  # doctest: +SKIP
    """
    try:
        with Path(path).open("rb") as fh:
            st = os.fstat(fh.fileno())
            key = (os.path.abspath(path), st.st_ino, st.st_size, st.st_mtime_ns)
            parsed = _PARSED.get(key)
            if parsed is None:
                parsed = tomllib.load(fh)
                if len(_PARSED) >= _MAX_PARSED:
                    _PARSED.clear()
                _PARSED[key] = parsed
    except FileNotFoundError:
        raise error(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise error(f"{path}: is a folder, expected a TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise error(
            f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} on line {line}); "
            "save the file as UTF-8"
        ) from None
    return copy.deepcopy(parsed)
