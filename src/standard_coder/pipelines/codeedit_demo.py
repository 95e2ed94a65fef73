"""``standard-coder demo --pipeline codeedit``: the shipped fixtures through every stage.

Writes ``<output-dir>/pipeline_config.toml`` (a file the user edited is kept), evaluates the
shipped example completions (one passes, one fails, one times out, one is an ast-grep action) and
puts results under ``<output-dir>/sc-output/``. A rerun skips every stage.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from standard_coder.pipelines.wiring import write_demo_config

SIZES = ("tiny", "default")
# default size: also the training stages with the tiny random Llama, a handful of steps each
TRAIN = {
    "default": [
        "", "[codeedit_train]", "enabled = true", "stage0_steps = 8", "stage1_steps = 8",
        "batch_size = 2", "max_length = 256", "checkpoint_every = 4", "max_new_tokens = 48",
    ],
}  # fmt: skip


COMPLETIONS = "canitedit_completions.jsonl"
"""The shipped example completions, copied beside the demo's config and named relative to it
(an absolute path into the installed package broke when the package moved or was reinstalled)."""


def config_text(size: str) -> str:
    timeout = 2.0 if size == "tiny" else 5.0
    return "\n".join([
        f"# standard-coder demo --pipeline codeedit (size {size}); edit and rerun with",
        "#   standard-coder pipeline --config pipeline_config.toml",
        "# (standard-coder init-config --pipeline codeedit FILE lists every key)",
        "[pipeline]",
        'name = "codeedit"',
        "",
        "[outputs]",
        'base_dir = "sc-output"',
        "",
        "[codeedit]",
        f"completions = {json.dumps(COMPLETIONS)}",
        f"eval_timeout_s = {timeout}",
        *TRAIN.get(size, []),
    ]) + "\n"  # fmt: skip


def prepare(out_dir: Path, size: str) -> Path:
    """Write the demo config (unless the user changed it since the demo wrote it) and the
    example completions beside it (unless a file of that name is there: the user's own)."""
    from standard_coder.codeedit.sources import FIXTURES
    from standard_coder.runner.atomic import atomic_write_bytes

    config = write_demo_config(out_dir, "codeedit", config_text(size))
    if not (out_dir / COMPLETIONS).exists():
        atomic_write_bytes(out_dir / COMPLETIONS, (FIXTURES / COMPLETIONS).read_bytes())
    return config


def summary(base_dir: Path, elapsed_s: float) -> dict[str, Any]:
    """Key figures of a finished demo run, read back from its artifacts."""
    from standard_coder.pipelines.codeedit_layout import CodeEditLayout

    layout = CodeEditLayout(base_dir)
    out: dict[str, Any] = {"elapsed_s": round(elapsed_s, 1), "base_dir": str(base_dir)}
    for key, path in (("stats", layout.stats), ("evaluation", layout.evaluation),
                      ("validation", layout.validation),
                      ("models", layout.models_evaluation)):  # fmt: skip
        if path.exists():
            out[key] = json.loads(path.read_text(encoding="utf-8"))
    if layout.stage2_report.exists():
        out["stage2_report"] = str(layout.stage2_report)
    out["report"] = str(layout.reports / "index.html")
    return out


def _fmt(v: Any, digits: int = 3) -> str:
    return f"{v:.{digits}f}" if isinstance(v, int | float) else "-"


def _counts(d: Any) -> str:
    """``{"dev": 28, "test": 10}`` as ``dev 28, test 10`` (``none`` when empty or absent)."""
    if not isinstance(d, dict) or not d:
        return "none"
    return ", ".join(f"{k} {v}" for k, v in sorted(d.items()))


def finish_lines(base_dir: Path, model: str | None = "tiny") -> list[str]:
    """The closing account of a finished code-edit run, read back from its artifacts: records
    per split, the edit evaluation, the stage-1 actions, each trained model, where things are.

    ``model``: the base model the run trains ("tiny", "smollm2", or a folder's name), None
    when its training stages are off (an earlier run's training results are then not said).
    """
    s = summary(base_dir, 0.0)
    if model is None:
        for key in ("validation", "models", "stage2_report"):
            s.pop(key, None)
    st, ev = s.get("stats") or {}, s.get("evaluation") or {}
    out = []
    if st:
        rejected = (st.get("rejected") or {}).get("counts")
        out.append(f"records per split: {_counts(st.get('totals'))}; rejected: {_counts(rejected)}")
    if ev:
        out.append(
            f"edit eval: pass@1 {_fmt(ev.get('pass@1'))}, ExcessCode "
            f"{_fmt(ev.get('excess_code'))} on {ev.get('tasks', '-')} tasks "
            f"({_counts(ev.get('statuses'))})"
        )
    if va := s.get("validation"):
        out.append(
            f"Stage-1 actions on dev tasks: success {_fmt(va.get('success_rate'))} "
            f"({_counts(va.get('statuses'))}"
            + ("; a tiny random model: about 0 expected)" if model == "tiny" else ")")
        )
    for r in ((s.get("models") or {}).get("models") or {}).values():
        out.append(f"{r['label']}: CanItEdit success {_fmt(r['canitedit']['pass@1'])}, "
                   f"held-out similarity {_fmt(r['heldout']['similarity'])}")  # fmt: skip
    if s.get("stage2_report"):
        out.append(f"Training report: {s['stage2_report']}")
    if model is None:
        out.append("training: off ([codeedit_train] enabled = false)")
    out.append(f"Report: {s['report']}")
    return out


def finish(base_dir: Path, model: str | None = "tiny") -> None:
    """``Pipeline.on_finish`` of the code-edit pipeline (``pipeline`` and ``demo``): its closing
    account on stderr, after the run's own lines (``model`` as :func:`finish_lines`)."""
    import sys

    sys.stderr.write("".join(f"{line}\n" for line in finish_lines(Path(base_dir), model)))
