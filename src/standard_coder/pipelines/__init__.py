"""Built-in pipelines, resolved lazily by name (``[pipeline] name = "sch"``)."""

from __future__ import annotations

BUILTINS: dict[str, str] = {
    "sch": "standard_coder.pipelines.sch:build",
    "vision": "standard_coder.pipelines.vision:build",
    "audio": "standard_coder.pipelines.audio:build",
    "codeedit": "standard_coder.pipelines.codeedit:build",
}
"""Name -> ``"module:builder"``; the builder is ``(config_path, overrides) -> Pipeline``."""
