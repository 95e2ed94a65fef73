"""Options several commands share, spelled the same everywhere: ``-c/--config FILE`` and
``--set KEY.PATH=VALUE`` (readable help placeholders instead of Typer's ``PATH``/``TEXT``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ConfigOpt = Annotated[
    Path,
    typer.Option(
        "--config", "-c", help="pipeline config file (TOML)", metavar="FILE", show_default=False
    ),
]
OptionalConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="pipeline config file (TOML); default for an sch model: the run it is in "
        "(a vision model needs its pipeline's config)",
        metavar="FILE",
        show_default=False,
    ),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="override a config value (repeatable), e.g. --set training.optim.epochs=5",
        metavar="KEY.PATH=VALUE",
    ),
]
