"""The "Training curves" report section: loss curves per TensorBoard run folder under
``<base_dir>/tb/``, other scalars as a table.

Each rendered run is cached in the report's cache folder, keyed by its event files' stat, so
a rerun that trained nothing imports neither TensorBoard nor matplotlib.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Mapping, Sequence
from operator import attrgetter
from pathlib import Path

from standard_coder.pipelines.sch_layout import EVALUATION_FILE, SchLayout
from standard_coder.runner.atomic import atomic_write_text
from standard_coder.runner.console import say_warning
from standard_coder.runner.jsonfile import read_json_object_or_none
from standard_coder.runner.report import ReportSection, SectionInput
from standard_coder.runner.report.kit import png_data_uri, render

log = logging.getLogger(__name__)

PACKAGE = "standard_coder.reporting"
_PALETTE = ("#2563eb", "#ea580c", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04")


def _tb_runs(tb_dir: Path) -> list[Path]:
    dirs = {p.parent for p in tb_dir.rglob("events.out.tfevents.*") if p.is_file()}
    return sorted(dirs)


def load_scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar tag of a TensorBoard run folder as ``(step, value)`` in step order."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    # a resumed training's writer starts at its checkpoint's step (``purge_step``): TensorBoard
    # drops the steps it rewrites and says so on stderr ("Detected out of order event.step
    # likely caused by a TensorFlow restart"); that is the expected history of a resume
    quiet = logging.getLogger("tensorboard")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        acc.Reload()
    finally:
        quiet.setLevel(level)
    out: dict[str, list[tuple[int, float]]] = {}
    for tag in acc.Tags().get("scalars", []):
        # a resumed training rewrites the steps after its checkpoint: the latest value wins
        events = sorted(acc.Scalars(tag), key=attrgetter("wall_time"))
        by_step = {int(ev.step): float(ev.value) for ev in events}
        out[tag] = sorted(by_step.items())
    return out


def _plot_curves(title: str, series: Mapping[str, Sequence[tuple[int, float]]]) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.2, 3.4), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for i, (tag, points) in enumerate(sorted(series.items())):
        if not points:
            continue
        steps, values = zip(*points, strict=True)
        style = "--" if "val" in tag.lower() or "valid" in tag.lower() else "-"
        ax.plot(steps, values, style, color=_PALETTE[i % len(_PALETTE)], lw=1.8, label=tag)
    ax.set_title(title, fontsize=10, loc="left", color="#1f2937")
    ax.set_xlabel("step", fontsize=9, color="#4b5563")
    ax.grid(True, color="#e5e7eb", lw=0.8)
    ax.tick_params(labelsize=8, colors="#4b5563")
    for spine in ("top", "right"):
        ax.spines[spine].set_visible(False)
    for spine in ("left", "bottom"):
        ax.spines[spine].set_color("#9ca3af")
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _tb_fragment(run: Path, rel: str) -> str:
    try:
        scalars = load_scalars(run)
    except Exception as exc:  # a corrupt event file must not sink the report
        return render(PACKAGE, "training_run.html.j2", rel=rel, error=str(exc))
    losses = {t: v for t, v in scalars.items() if "loss" in t.lower() or "nll" in t.lower()}
    others = [
        (tag, [v for _, v in pts])
        for tag, pts in sorted(scalars.items())
        if tag not in losses and pts
    ]
    figure = None
    if losses:
        uri = png_data_uri(_plot_curves(f"{rel}: loss", losses))
        figure = {"uri": uri, "caption": f"{rel}: loss by step", "note": ""}
    return render(
        PACKAGE,
        "training_run.html.j2",
        rel=rel,
        error=None,
        figure=figure,
        others=others,
        has_others=any(t not in losses for t in scalars),
        empty=not scalars,
    )


def _tb_key(run: Path) -> str:
    """Changes whenever an event file of ``run`` changes (stat only, no reads)."""
    h = hashlib.sha256()
    for p in sorted(run.glob("events.out.tfevents.*")):
        st = p.stat()
        h.update(f"{p.name}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}\n".encode())
    return h.hexdigest()


def effort_model(reports: Path) -> dict[str, str] | None:
    """Which effort model the curves are of (``sch_evaluation.json``): ``{"name", "kind",
    "predictor"}`` (``name``: the candidate ``auto`` chose, else the predictor), or None."""
    doc = read_json_object_or_none(reports / EVALUATION_FILE)
    if not isinstance(doc, dict) or not isinstance(doc.get("predictor"), str):
        return None
    chosen = doc.get("model_selection")
    if isinstance(chosen, dict) and isinstance(chosen.get("chosen"), str):
        kind = str(chosen.get("kind", chosen["chosen"]))
        return {"name": chosen["chosen"], "kind": kind, "predictor": "auto"}
    return {"name": doc["predictor"], "kind": doc["predictor"], "predictor": doc["predictor"]}


def render_training(given: SectionInput) -> str:
    """The section body: one fragment per TensorBoard run folder (cached), or why there is none,
    after a line saying which of them is the effort model's (none, for a shift fit)."""
    layout = SchLayout(given.base_dir)
    tb_dir = layout.tb
    model = effort_model(layout.reports)
    if not tb_dir.is_dir():
        return render(PACKAGE, "training.html.j2", tb_dir=str(tb_dir), missing=True, parts=[],
                      model=model, runs=[], selection=[])  # fmt: skip
    parts: list[str] = []
    rels: list[str] = []
    cache_dir = given.cache_dir  # None once a write failed: one warning, not one per run
    for run in _tb_runs(tb_dir):
        rel = run.relative_to(tb_dir).as_posix() if run != tb_dir else "."
        rels.append(rel)
        key = _tb_key(run)
        cache = None
        if cache_dir is not None:
            name = f"tb-{hashlib.sha256(rel.encode()).hexdigest()[:16]}.json"
            cache = cache_dir / name
            hit = read_json_object_or_none(cache)
            if isinstance(hit, dict) and hit.get("key") == key and isinstance(hit.get("html"), str):
                parts.append(hit["html"])
                continue
        fragment = _tb_fragment(run, rel)
        parts.append(fragment)
        if cache is not None:
            try:
                atomic_write_text(cache, json.dumps({"key": key, "rel": rel, "html": fragment}))
            except OSError as exc:
                from standard_coder.runner.fserrors import describe

                say_warning(f"report: training curves not cached: {describe(exc, cache)}", log)
                cache_dir = None
    from markupsafe import Markup

    return render(
        PACKAGE,
        "training.html.j2",
        tb_dir=str(tb_dir),
        missing=False,
        parts=[Markup(p) for p in parts],
        model=model,
        runs=rels,
        selection=[r for r in rels if r.startswith("auto/selection-")],
    )


SECTION = ReportSection("Training curves", render_training, nav="Training")
