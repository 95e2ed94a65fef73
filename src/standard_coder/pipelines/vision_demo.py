"""``standard-coder demo --pipeline vision``: digits, a small model, prepare -> train -> evaluate.

Writes ``<output-dir>/pipeline_config.toml`` (the embedded default; a file the user edited is
kept) and puts results under ``<output-dir>/sc-output/``. A rerun skips every stage.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from standard_coder.pipelines.wiring import write_demo_config

SIZES: dict[str, dict[str, Any]] = {
    # Smoke size for tests: a few steps on a subset.
    "tiny": {
        "model_type": "cnn",
        "num_steps": 40,
        "eval_every": 20,
        "checkpoint_every": 20,
        "tiny_train_subset": 256,
        "tiny_infer_subset": 128,
        "learning_rate": 5e-3,
        "warmup_steps": 10,
    },
    # Test accuracy >= 0.95 on the full digits test split.
    "default": {
        "model_type": "cnn",
        "num_steps": 400,
        "eval_every": 200,
        "checkpoint_every": 100,
        "learning_rate": 5e-3,
        "warmup_steps": 50,
    },
}


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def config_text(size: str) -> str:
    lines = [
        f"# standard-coder demo --pipeline vision (size {size}); edit and rerun with",
        "#   standard-coder pipeline --config pipeline_config.toml",
        "# (standard-coder init-config --pipeline vision FILE lists every key)",
        "[pipeline]",
        'name = "vision"',
        "",
        "[outputs]",
        'base_dir = "sc-output"',
        "",
        "[vision]",
        'dataset = "digits"',
        *(f"{k} = {_toml(v)}" for k, v in SIZES[size].items()),
    ]
    return "\n".join(lines) + "\n"


def prepare(out_dir: Path, size: str) -> Path:
    """Write the demo config (unless the user changed it since the demo wrote it)."""
    return write_demo_config(out_dir, "vision", config_text(size))


def summary(base_dir: Path, elapsed_s: float) -> dict[str, Any]:
    """Key figures of a finished demo run, read back from its artifacts."""
    from standard_coder.pipelines.vision_layout import VisionLayout

    layout = VisionLayout(base_dir)
    out: dict[str, Any] = {"elapsed_s": round(elapsed_s, 1), "base_dir": str(base_dir)}
    if layout.evaluation.exists():
        out["evaluation"] = json.loads(layout.evaluation.read_text(encoding="utf-8"))
    out["report"] = str(layout.reports / "index.html")
    out["predictions"] = str(layout.predictions / "test" / "predictions.jsonl")
    return out
