"""Reading a TOML file with errors that name it (one reader for pipeline files and configs)."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any


def read_toml(path: Path, error: Callable[[str], Exception]) -> dict[str, Any]:
    """Parse ``path``; a missing file, a folder or bad TOML raises ``error(message)``.

    Example:
        >>> read_toml(Path("pipeline.toml"), ValueError)  # doctest: +SKIP
    """
    try:
        with Path(path).open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise error(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise error(f"{path}: is a folder, expected a TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML: {exc}") from None
