"""The part of ``standard-coder demo`` that needs no Typer: prepare a demo's inputs and run it.

``demo`` (the flagship's, ``--pipeline sch``) takes the same fast door as ``pipeline``
(:mod:`standard_coder.cli`): a no-op rerun of the demo then pays for neither Typer nor
pydantic, only for the stat checks of its stages. The Typer command (:mod:`cli.demo`) calls the
same functions, so both print the same lines and exit with the same codes.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

DEMO_MODULES = {
    "sch": "standard_coder.pipelines.demo",
    "vision": "standard_coder.pipelines.vision_demo",
    "audio": "standard_coder.pipelines.audio_demo",
    "codeedit": "standard_coder.pipelines.codeedit_demo",
}
DEFAULTS = {
    "--output-dir": "standard-coder-demo",
    "--size": "default",
    "--log-level": "info",
    "--log-format": "text",
    "--pipeline": "sch",
}


def run_demo(
    demo_module: str, output_dir: Path, size: str, log_level: str, log_format: str
) -> tuple[int, Path | None, float]:
    """Prepare ``demo_module``'s inputs (its ``SIZES`` and ``prepare``) under ``output_dir`` and
    run the pipeline on them. Returns ``(exit code, config path, start time)``: bad ``--size`` or
    ``--output-dir`` print one line and give 2 (no config); a failed run gives the run's code."""
    import importlib

    from standard_coder.pipelines import BUILTINS
    from standard_coder.pipelines.wiring import DemoFolderTaken
    from standard_coder.runner import front

    mod = importlib.import_module(demo_module)
    if size not in mod.SIZES:
        sys.stderr.write(f"error: --size {size!r}: expected one of {', '.join(mod.SIZES)}\n")
        return 2, None, 0.0
    t0 = time.perf_counter()
    if output_dir.exists() and not output_dir.is_dir():
        sys.stderr.write(f"error: --output-dir {output_dir}: exists and is not a folder\n")
        return 2, None, t0
    try:
        config: Path = mod.prepare(output_dir.resolve(), size)
    except OSError as exc:  # --output-dir is a file, unwritable, or below a file
        where = exc.filename or output_dir
        sys.stderr.write(f"error: --output-dir: {where}: {exc.strerror or exc}\n")
        return 2, None, t0
    except DemoFolderTaken as exc:  # another pipeline's config: running it is not this demo
        sys.stderr.write(f"error: --output-dir: {exc}\n")
        return 2, None, t0
    code = front.run_command(
        config=config, builtins=BUILTINS, log_level=log_level, log_format=log_format
    )
    return code, config, t0


def finish(config: Path, t0: float) -> None:
    """The demo's last two lines: how to rerun it, and how long it took."""
    sys.stderr.write(f"Config (edit and rerun): standard-coder pipeline --config {config}\n")
    sys.stderr.write(f"Finished in {time.perf_counter() - t0:.1f} s\n")
    sys.stderr.flush()


def parse_fast(argv: list[str]) -> dict[str, str] | None:
    """The options of ``demo ARGS`` when they are plain (``--opt value`` or ``--opt=value``,
    each known, the flagship pipeline); None otherwise, and Typer parses them (help, errors)."""
    opts = dict(DEFAULTS)
    i = 0
    while i < len(argv):
        name, eq, value = argv[i].partition("=")
        if name not in DEFAULTS:
            return None
        if not eq:
            if i + 1 >= len(argv) or argv[i + 1].startswith("-"):
                return None
            value, i = argv[i + 1], i + 1
        opts[name] = value
        i += 1
    return opts if opts["--pipeline"] == "sch" else None


def fast_main(opts: dict[str, str]) -> int:
    """``demo`` with :func:`parse_fast`'s options, Typer-free: the exit code."""
    code, config, t0 = run_demo(
        DEMO_MODULES["sch"],
        Path(opts["--output-dir"]),
        opts["--size"],
        opts["--log-level"],
        opts["--log-format"],
    )
    if code == 0 and config is not None:
        finish(config, t0)
    return code
