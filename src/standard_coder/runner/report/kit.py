"""Building blocks of report pages: value formatting, embedded PNG figures, and the Jinja2
environments that render the run page and the sections pipelines add to it.

A section's templates live in its own package's ``templates/`` folder and may use the macros
of ``_kit.html.j2`` (``section``, ``tiles``, ``kv_table``, ``figure``, ``pill``). Everything is
escaped by default; fragments a section returns are :class:`markupsafe.Markup`.

Example:
    >>> env = template_env("standard_coder.reporting")  # doctest: +SKIP
    >>> env.get_template("evaluation.html.j2").render(doc=doc)  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from standard_coder.runner.jsonfile import read_json_object_or_none

if TYPE_CHECKING:
    import jinja2

MAX_IMAGE_BYTES = 8 * 1024 * 1024
KIT_PACKAGE = "standard_coder.runner.report"

_PILL_TONE = {
    "completed": "ok",
    "succeeded": "ok",
    "success": "ok",
    "ok": "ok",
    "skipped": "skip",
    "cached": "skip",
    "failed": "bad",
    "error": "bad",
    "interrupted": "warn",
    "cut off": "warn",
    "running": "run",
    "pending": "muted",
    "not run": "muted",
}


read_json = read_json_object_or_none
"""A section's JSON file as a dict, or None when it is missing, damaged or not a JSON object
(:func:`standard_coder.runner.jsonfile.read_json_object_or_none`, under the kit's name)."""


def num(v: Any) -> float | None:
    """``v`` as a finite float, else None (booleans are not numbers here)."""
    if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
        return float(v)
    return None


def fmt_time(ts: float | None) -> str:
    if ts is None:
        return "—"
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def fmt_duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "—"
    if seconds < 0.01:
        return f"{seconds * 1000:.2f} ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {sec:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def fmt_value(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "—" if value is None else ("yes" if value else "no")
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
            return f"{value:.3e}"
        return f"{value:.4g}" if abs(value) >= 1 else f"{value:.3f}"
    if isinstance(value, list) and all(isinstance(v, int | float | str | None) for v in value):
        text = "[" + ", ".join(fmt_value(v) for v in value) + "]"  # [-1.867, 0.290], not 16 digits
        return text if len(text) <= 160 else text[:157] + "…"
    if isinstance(value, (list, dict)):
        text = json.dumps(value, sort_keys=True)
        return text if len(text) <= 160 else text[:157] + "…"
    return str(value)


def label(key: str) -> str:
    """``heldout_nll`` -> ``heldout nll``."""
    return key.replace("_", " ")


def flatten(obj: Any, prefix: str = "") -> Iterable[tuple[str, Any]]:
    """Leaves of nested mappings as ``("a.b.c", value)`` in sorted key order."""
    if isinstance(obj, Mapping) and obj:
        for k in sorted(obj, key=str):
            yield from flatten(obj[k], f"{prefix}.{k}" if prefix else str(k))
    elif prefix:
        yield prefix, obj


def pill_tone(status: str) -> str:
    return _PILL_TONE.get((status or "unknown").lower(), "muted")


def png_data_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def png_file(path: Path) -> tuple[str | None, str]:
    """``(data URI, "")`` for a PNG file; ``(None, note)`` when it is too large to embed;
    ``(None, "")`` when it is unreadable or not a PNG."""
    try:
        if path.stat().st_size > MAX_IMAGE_BYTES:
            return None, f"{path.name}: too large to embed."
        data = path.read_bytes()
    except OSError:
        return None, ""
    if not data.startswith(b"\x89PNG"):
        return None, ""
    return png_data_uri(data), ""


def figures(paths: Iterable[Path]) -> list[dict[str, str | None]]:
    """Template data for PNG files: ``{"uri", "caption", "note"}`` (unreadable files dropped)."""
    out: list[dict[str, str | None]] = []
    for p in paths:
        uri, note = png_file(p)
        if uri or note:
            out.append({"uri": uri, "caption": p.stem.replace("_", " "), "note": note})
    return out


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Jinja2's per-user compiled-template cache (``$TMPDIR/_jinja2-cache-<uid>``, mode 0700,
    owner checked), so a run does not recompile the page's templates: about half of the
    report's cost on a no-op rerun. None when that folder is unusable."""
    import jinja2

    try:
        return jinja2.FileSystemBytecodeCache()
    except (OSError, RuntimeError):
        return None


@lru_cache(maxsize=8)
def template_env(package: str = KIT_PACKAGE) -> jinja2.Environment:
    """A Jinja2 environment for ``package``'s ``templates/`` plus the kit's macros and filters."""
    import jinja2

    loaders: list[jinja2.BaseLoader] = [jinja2.PackageLoader(package, "templates")]
    if package != KIT_PACKAGE:
        loaders.append(jinja2.PackageLoader(KIT_PACKAGE, "templates"))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        bytecode_cache=_bytecode_cache(),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
    )
    env.filters.update(
        value=fmt_value,
        duration=fmt_duration,
        time=fmt_time,
        label=label,
        tone=pill_tone,
    )
    return env


def render(package: str, template: str, **data: Any) -> str:
    """Render ``template`` of ``package`` with ``data``."""
    return template_env(package).get_template(template).render(**data)
