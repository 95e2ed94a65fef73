"""Regenerate ``docs/*.schema.json`` from the input models.

PYTHONPATH=src python -m standard_coder.forecasting.schema_gen docs
"""

from __future__ import annotations

import sys
from pathlib import Path

from standard_coder.forecasting.inputs import write_schemas


def main(argv: list[str]) -> int:
    """Write the schemas into ``argv[0]`` (default ``docs``); print the paths written."""
    for path in write_schemas(Path(argv[0] if argv else "docs")):
        sys.stdout.write(f"{path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
