"""The HTML run report: one self-contained page, ``<base_dir>/reports/index.html``.

The page needs no network and no JavaScript: CSS is inline and every plot is a PNG embedded as
a ``data:`` URI. It shows, for the latest run, each stage's status, timing, cache hit or miss and
the reason it ran or was skipped; the training curves found in ``<base_dir>/tb/``; the
evaluation table against the baselines (``reports/sch_evaluation.json``) and the figures in
``reports/``; the sprint forecasts (``forecasts/*_forecast.json`` and their PNGs); the env stamp;
and the history of runs. Every section is optional: a missing source says so on the page.

The module is domain-free: it reads the runner's files and a few JSON files by name.

Example:
    >>> build_report(Path("sc-output"))  # doctest: +SKIP
    PosixPath('sc-output/reports/index.html')
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import logging
import math
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import attrgetter
from pathlib import Path
from typing import Any

from standard_coder.runner.atomic import atomic_write_text
from standard_coder.runner.envstamp import STAMP_FILE, parse_time

log = logging.getLogger(__name__)

REPORT_FILE = "index.html"
CACHE_DIR = ".cache"
EVALUATION_FILE = "sch_evaluation.json"
MAX_IMAGE_BYTES = 8 * 1024 * 1024
MAX_EVENT_BYTES = 32 * 1024 * 1024
WARNING_EVENTS = ("state_corrupt", "partial_work_stale", "upstream_stale")

# ---------------------------------------------------------------------------------------------
# small helpers


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _fmt_time(ts: float | None) -> str:
    if ts is None:
        return "—"
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _fmt_duration(seconds: float | None) -> str:
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


def _fmt_value(value: Any) -> str:
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
    if isinstance(value, (list, dict)):
        text = json.dumps(value, sort_keys=True)
        return text if len(text) <= 160 else text[:157] + "…"
    return str(value)


def _label(key: str) -> str:
    return key.replace("_", " ")


def _flatten(obj: Any, prefix: str = "") -> Iterable[tuple[str, Any]]:
    if isinstance(obj, Mapping) and obj:
        for k in sorted(obj, key=str):
            yield from _flatten(obj[k], f"{prefix}.{k}" if prefix else str(k))
    elif prefix:
        yield prefix, obj


def _png_data_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _img_file(path: Path, caption: str) -> str:
    try:
        if path.stat().st_size > MAX_IMAGE_BYTES:
            return f'<p class="muted">{_e(path.name)}: too large to embed.</p>'
        data = path.read_bytes()
    except OSError:
        return ""
    if not data.startswith(b"\x89PNG"):
        return ""
    return _figure(data, caption)


def _figure(data: bytes, caption: str) -> str:
    return (
        f'<figure><img src="{_png_data_uri(data)}" alt="{_e(caption)}">'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _kv_table(rows: Iterable[tuple[str, Any]], cls: str = "kv") -> str:
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(_fmt_value(v))}</td></tr>" for k, v in rows)
    return f'<table class="{cls}"><tbody>{body}</tbody></table>' if body else ""


def _pill(status: str) -> str:
    s = (status or "unknown").lower()
    cls = {
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
    }.get(s, "muted")
    return f'<span class="pill {cls}">{_e(s)}</span>'


# ---------------------------------------------------------------------------------------------
# collecting the data


@dataclass
class StageRow:
    """One stage of the latest run as the report shows it."""

    name: str
    status: str = "pending"
    cache: str = ""
    reason: str = ""
    started: float | None = None
    ended: float | None = None
    duration_s: float | None = None
    checkpoints: int = 0
    check_s: float | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    last_built: float | None = None


@dataclass
class RunInfo:
    """One run folder: its stamp and what its events say."""

    run_id: str
    path: Path | None
    stamp: dict[str, Any]
    started: float | None
    ended: float | None
    status: str
    counts: dict[str, int] = field(default_factory=dict)


def _read_events(base_dir: Path) -> list[dict[str, Any]]:
    """Events of ``logs/events.jsonl`` (appended across runs: only the newest lines when huge)."""
    path = base_dir / "logs" / "events.jsonl"
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - MAX_EVENT_BYTES))
            data = fh.read()
    except OSError:
        return []
    lines = data.split(b"\n")
    if size > MAX_EVENT_BYTES:
        lines = lines[1:]  # the first line is probably cut
    out: list[dict[str, Any]] = []
    for line in lines:
        if not line.strip():
            continue
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if isinstance(ev, dict) and isinstance(ev.get("event"), str):
            out.append(ev)
    return out


def _event_status(events: Sequence[Mapping[str, Any]]) -> str | None:
    status: str | None = None
    for ev in events:
        name = ev.get("event")
        if name == "run_started":
            status = "running"
        elif name == "stage_failed":
            status = "failed"
        elif name == "run_interrupted":
            status = "interrupted"
        elif name == "run_completed":
            given = ev.get("status")
            if isinstance(given, str) and given:
                status = given
            elif status != "failed":
                status = "completed"
    return status


def _runs(base_dir: Path, events: Sequence[Mapping[str, Any]]) -> list[RunInfo]:
    by_run: dict[str, list[Mapping[str, Any]]] = {}
    for ev in events:
        rid = ev.get("run_id")
        if isinstance(rid, str):
            by_run.setdefault(rid, []).append(ev)
    runs: dict[str, RunInfo] = {}
    runs_dir = base_dir / "runs"
    if runs_dir.is_dir():
        for d in sorted(runs_dir.iterdir()):
            if not d.is_dir():
                continue
            stamp = _read_json(d / STAMP_FILE)
            stamp = stamp if isinstance(stamp, dict) else {}
            rid = str(stamp.get("run_id") or d.name)
            runs[rid] = RunInfo(
                run_id=rid,
                path=d,
                stamp=stamp,
                started=parse_time(stamp.get("started_at")),
                ended=parse_time(stamp.get("ended_at")),
                status=str(stamp.get("status") or "unknown"),
            )
    for rid, evs in by_run.items():
        info = runs.get(rid)
        if info is None:
            info = runs[rid] = RunInfo(rid, None, {}, None, None, "unknown")
        ts = [t for t in (parse_time(ev.get("ts")) for ev in evs) if t is not None]
        if info.started is None and ts:
            info.started = min(ts)
        ev_status = _event_status(evs)
        if ev_status and info.status in ("unknown", "running"):
            info.status = ev_status
        if info.ended is None and ev_status not in (None, "running") and ts:
            info.ended = max(ts)
        counts: dict[str, int] = {}
        for ev in evs:
            counts[str(ev["event"])] = counts.get(str(ev["event"]), 0) + 1
        info.counts = counts
    ordered = sorted(runs.values(), key=lambda r: (r.started or 0.0, r.run_id), reverse=True)
    # A run that never recorded an end and is not the newest was cut off (killed, power loss).
    for info in ordered[1:]:
        if info.status in ("running", "unknown"):
            info.status = "cut off"
    return ordered


def _stage_rows(
    base_dir: Path, run_id: str | None, events: Sequence[Mapping[str, Any]]
) -> tuple[list[StageRow], dict[str, Any] | None]:
    rows: dict[str, StageRow] = {}
    mine = [ev for ev in events if run_id is None or ev.get("run_id") == run_id]
    for ev in mine:
        stage, name, ts = ev.get("stage"), ev.get("event"), parse_time(ev.get("ts"))
        reason = ev.get("reason")
        if name == "run_interrupted":
            for row in rows.values():
                if row.status == "running":
                    row.status = "interrupted"
                    row.reason = row.reason or str(reason or "interrupted")
            continue
        if not isinstance(stage, str) or not stage:
            continue
        row = rows.setdefault(stage, StageRow(stage))
        if name == "stage_skipped":
            row.status, row.cache = "skipped", "hit"
            row.reason = str(reason or "up to date")
            row.check_s = _num(ev.get("check_s"))
        elif name == "stage_cache_miss":
            row.cache = "forced" if str(reason or "").startswith("forced") else "miss"
            row.reason = str(reason or "")
        elif name == "stage_running":
            row.status, row.started = "running", ts
            if reason and not row.reason:
                row.reason = str(reason)
        elif name == "checkpoint_saved":
            row.checkpoints += 1
        elif name in ("stage_completed", "stage_failed"):
            row.status = "completed" if name == "stage_completed" else "failed"
            row.ended = ts
            dur = ev.get("duration_s")
            if isinstance(dur, (int, float)) and not isinstance(dur, bool):
                row.duration_s = float(dur)
            elif row.started is not None and ts is not None:
                row.duration_s = ts - row.started
            if name == "stage_failed":
                err = ev.get("error") or reason
                row.reason = f"{row.reason} — failed: {err}" if row.reason else f"failed: {err}"
            summary = ev.get("summary")
            if isinstance(summary, dict):
                row.summary.update(summary)

    state = _read_json(base_dir / "checkpoints" / "run_state.json")
    state = state if isinstance(state, dict) else None
    stages = state.get("stages") if state is not None else None
    if isinstance(stages, dict):
        for name, info in stages.items():
            if not isinstance(info, dict):
                continue
            rec_run = info.get("run_id", state.get("run_id") if state else None)
            status = info.get("status")
            if run_id is not None and rec_run not in (None, run_id):
                if name not in rows:
                    rows[name] = StageRow(
                        str(name),
                        status="not run",
                        reason=f"not selected in this run (last {status} in run {rec_run})",
                    )
                continue
            row = rows.setdefault(str(name), StageRow(str(name)))
            if isinstance(status, str) and row.status in ("pending", "running"):
                row.status = status
            if row.duration_s is None and _num(info.get("duration_s")) is not None:
                row.duration_s = float(info["duration_s"])
            if not row.reason and isinstance(info.get("reason"), str):
                row.reason = info["reason"]
            if not row.cache and isinstance(info.get("cache_hit"), bool):
                row.cache = "hit" if info["cache_hit"] else "miss"

    for row in rows.values():
        manifest = _read_json(base_dir / "stages" / row.name / "manifest.json")
        if isinstance(manifest, dict):
            row.last_built = parse_time(manifest.get("timestamp"))
            summary = manifest.get("summary")
            if isinstance(summary, dict) and not row.summary:
                row.summary.update(summary)
            if row.duration_s is None and row.status == "completed":
                dur = manifest.get("duration_s")
                if isinstance(dur, (int, float)):
                    row.duration_s = float(dur)
    return list(rows.values()), state


# ---------------------------------------------------------------------------------------------
# training curves (TensorBoard)


def _tb_runs(tb_dir: Path) -> list[Path]:
    dirs = {p.parent for p in tb_dir.rglob("events.out.tfevents.*") if p.is_file()}
    return sorted(dirs)


def _load_scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    acc.Reload()
    out: dict[str, list[tuple[int, float]]] = {}
    for tag in acc.Tags().get("scalars", []):
        # a resumed training rewrites the steps after its checkpoint: the latest value wins
        events = sorted(acc.Scalars(tag), key=attrgetter("wall_time"))
        by_step = {int(ev.step): float(ev.value) for ev in events}
        out[tag] = sorted(by_step.items())
    return out


_PALETTE = ("#2563eb", "#ea580c", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04")


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
        scalars = _load_scalars(run)
    except Exception as exc:  # a corrupt event file must not sink the report
        return f'<p class="muted">{_e(rel)}: unreadable ({_e(exc)}).</p>'
    parts: list[str] = []
    losses = {t: v for t, v in scalars.items() if "loss" in t.lower() or "nll" in t.lower()}
    others = {t: v for t, v in scalars.items() if t not in losses}
    if losses:
        parts.append(_figure(_plot_curves(f"{rel}: loss", losses), f"{rel}: loss by step"))
    if others:
        rows = []
        for tag, pts in sorted(others.items()):
            if pts:
                vals = [v for _, v in pts]
                rows.append(
                    f"<tr><td>{_e(tag)}</td><td class='num'>{len(pts)}</td>"
                    f"<td class='num'>{_e(_fmt_value(vals[-1]))}</td>"
                    f"<td class='num'>{_e(_fmt_value(min(vals)))}</td>"
                    f"<td class='num'>{_e(_fmt_value(max(vals)))}</td></tr>"
                )
        parts.append(
            f"<h3>{_e(rel)}: other scalars</h3><table class='grid'><thead><tr><th>tag</th>"
            "<th class='num'>points</th><th class='num'>last</th><th class='num'>min</th>"
            f"<th class='num'>max</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )
    if not scalars:
        parts.append(f'<p class="muted">{_e(rel)}: no scalars logged.</p>')
    return "".join(parts)


def _tb_key(run: Path) -> str:
    """Changes whenever an event file of ``run`` changes (stat only, no reads)."""
    h = hashlib.sha256()
    for p in sorted(run.glob("events.out.tfevents.*")):
        st = p.stat()
        h.update(f"{p.name}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}\n".encode())
    return h.hexdigest()


def _training_section(base_dir: Path, cache_dir: Path | None = None) -> str:
    """Loss curves per TensorBoard run folder; with ``cache_dir`` each rendered fragment is kept
    keyed by its event files' stat, so a rerun that trained nothing imports neither
    TensorBoard nor matplotlib."""
    tb_dir = base_dir / "tb"
    if not tb_dir.is_dir():
        return _section(
            "Training curves",
            f'<p class="muted">No TensorBoard logs in {_e(tb_dir)}: no stage trained a model.</p>',
        )
    runs = _tb_runs(tb_dir)
    if not runs:
        return _section(
            "Training curves", f'<p class="muted">No TensorBoard event files in {_e(tb_dir)}.</p>'
        )
    parts: list[str] = []
    for run in runs:
        rel = run.relative_to(tb_dir).as_posix() if run != tb_dir else "."
        key = _tb_key(run)
        cache = None
        if cache_dir is not None:
            cache = cache_dir / f"tb-{hashlib.sha256(rel.encode()).hexdigest()[:16]}.json"
            hit = _read_json(cache)
            if isinstance(hit, dict) and hit.get("key") == key and isinstance(hit.get("html"), str):
                parts.append(hit["html"])
                continue
        fragment = _tb_fragment(run, rel)
        parts.append(fragment)
        if cache is not None:
            try:
                atomic_write_text(cache, json.dumps({"key": key, "rel": rel, "html": fragment}))
            except OSError as exc:
                log.warning("report: cannot cache training curves in %s: %s", cache, exc)
    return _section("Training curves", "".join(parts))


# ---------------------------------------------------------------------------------------------
# evaluation and forecasts

_LOWER_BETTER = ("nll", "crps", "mae", "rmse", "brier", "loss", "pinball")
_HIGHER_BETTER = ("r2", "spearman", "pearson", "accuracy", "skill")


def _better(metric: str, model: float, base: float) -> bool | None:
    m = metric.lower()
    if m.startswith("coverage_"):
        try:
            nominal = float(m.split("_", 1)[1]) / 100.0
        except ValueError:
            return None
        return abs(model - nominal) < abs(base - nominal)
    if any(t in m for t in _LOWER_BETTER):
        return model < base
    if any(t in m for t in _HIGHER_BETTER):
        return model > base
    return None


def _num(v: Any) -> float | None:
    if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
        return float(v)
    return None


def _evaluation_section(base_dir: Path) -> str:
    reports = base_dir / "reports"
    doc = _read_json(reports / EVALUATION_FILE)
    pngs = sorted(p for p in reports.glob("*.png")) if reports.is_dir() else []
    others = (
        [p for p in reports.glob("*.json") if p.name != EVALUATION_FILE] if reports.is_dir() else []
    )
    has_eval_runs = any((base_dir / "eval").glob("*/metrics.json"))
    if not isinstance(doc, dict) and not pngs and not others and not has_eval_runs:
        return _section(
            "Evaluation",
            f'<p class="muted">No evaluation yet ({_e(reports / EVALUATION_FILE)} is absent).</p>',
        )
    parts: list[str] = []
    if isinstance(doc, dict):
        tiles = [
            (k, v) for k, v in sorted(doc.items()) if k.startswith("n_") and _num(v) is not None
        ]
        if tiles:
            parts.append(_tiles([(_label(k), _fmt_value(v), "") for k, v in tiles]))
        base_prefix = "baseline_loc_"
        used: set[str] = {k for k, _ in tiles}
        # Model vs baseline.
        rows: list[str] = []
        for key in sorted(doc):
            if key.startswith(base_prefix) or key in used or key.startswith("spearman_"):
                continue
            model = _num(doc[key])
            if model is None:
                continue
            base = _num(doc.get(base_prefix + key))
            used.add(key)
            if base is not None:
                used.add(base_prefix + key)
            verdict = _better(key, model, base) if base is not None else None
            mark = {
                True: "<span class='good'>model better</span>",
                False: "<span class='worse'>baseline better</span>",
                None: "<span class='muted'>—</span>",
            }[verdict]
            nominal = ""
            if key.startswith("coverage_"):
                nominal = f" <span class='muted'>(nominal {key.split('_', 1)[1]}%)</span>"
            rows.append(
                f"<tr><td>{_e(_label(key))}{nominal}</td><td class='num'>{_e(_fmt_value(model))}"
                f"</td><td class='num'>{_e(_fmt_value(base))}</td><td>{mark}</td></tr>"
            )
        if rows:
            parts.append(
                "<h3>Effort model against the LOC-only baseline</h3><table class='grid'><thead>"
                "<tr><th>metric</th><th class='num'>model</th><th class='num'>LOC baseline</th>"
                f"<th></th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
            )
        # Spearman correlations (the paper's Table I).
        sp = [(k, _num(doc[k])) for k in doc if k.startswith("spearman_")]
        used.update(k for k, _ in sp)
        ranked = sorted(((k, v) for k, v in sp if v is not None), key=lambda kv: -kv[1])
        sp_base = {k: _num(doc.get(base_prefix + k)) for k, _ in ranked}
        used.update(base_prefix + k for k, b in sp_base.items() if b is not None)
        with_base = any(b is not None for b in sp_base.values())
        sp_rows = []
        for key, val in ranked:
            width = max(0.0, min(100.0, abs(val) * 100))
            base_cell = f"<td class='num'>{_e(_fmt_value(sp_base[key]))}</td>" if with_base else ""
            sp_rows.append(
                f"<tr><td>{_e(_label(key[len('spearman_') :]))}</td>"
                f"<td class='num'>{_e(_fmt_value(val))}</td>"
                f"<td class='barcell'><div class='bar' style='width:{width:.0f}%'></div></td>"
                f"{base_cell}</tr>"
            )
        if sp_rows:
            base_head = "<th class='num'>LOC baseline</th>" if with_base else ""
            parts.append(
                "<h3>Spearman correlation with inferred coding time</h3><table class='grid'>"
                "<thead><tr><th>predictor</th><th class='num'>ρ</th><th></th>"
                f"{base_head}</tr></thead><tbody>{''.join(sp_rows)}</tbody></table>"
            )
        for key in sorted(k for k, v in doc.items() if k not in used and isinstance(v, dict)):
            used.add(key)
            title = _label(key)
            if key == "work_inference_pearson_vs_truth":
                title = "Work inference against the simulated truth (Pearson r)"
            parts.append(f"<h3>{_e(title)}</h3>" + _kv_table(_flatten(doc[key])))
        used.add("plots")  # the plots themselves are embedded below
        rest = [(k, v) for k, v in _flatten({k: v for k, v in doc.items() if k not in used})]
        if rest:
            parts.append("<h3>Other metrics</h3>" + _kv_table((_label(k), v) for k, v in rest))
    if reports.is_dir():
        for extra in sorted(reports.glob("*.json")):
            if extra.name == EVALUATION_FILE:
                continue
            other = _read_json(extra)
            if isinstance(other, dict) and other:
                parts.append(
                    f"<h3>{_e(extra.stem.replace('_', ' '))}</h3>"
                    + _kv_table((_label(k), v) for k, v in _flatten(other))
                )
    parts.append(_eval_runs(base_dir))
    if pngs:
        parts.append(
            "<div class='figs'>"
            + "".join(_img_file(p, p.stem.replace("_", " ")) for p in pngs)
            + "</div>"
        )
    return _section("Evaluation", "".join(parts))


def _eval_runs(base_dir: Path) -> str:
    """``standard-coder eval`` results: ``<base_dir>/eval/<eval_id>/metrics.json``."""
    files = sorted((base_dir / "eval").glob("*/metrics.json"))
    rows: list[tuple[str, dict[str, Any]]] = []
    for path in files[-20:]:
        doc = _read_json(path)
        if isinstance(doc, dict):
            flat = {k: v for k, v in _flatten(doc) if _num(v) is not None}
            rows.append((path.parent.name, flat))
    if not rows:
        return ""
    keys = sorted({k for _, flat in rows for k in flat})[:10]
    head = "".join(f"<th class='num'>{_e(_label(k))}</th>" for k in keys)
    body = "".join(
        f"<tr><td class='mono'>{_e(eid)}</td>"
        + "".join(f"<td class='num'>{_e(_fmt_value(flat.get(k)))}</td>" for k in keys)
        + "</tr>"
        for eid, flat in rows
    )
    return (
        "<h3>Evaluation runs (standard-coder eval)</h3><table class='grid'><thead><tr>"
        f"<th>eval</th>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def _find_key(doc: Mapping[str, Any], *needles: str) -> tuple[str, Any] | None:
    for key, value in _flatten(doc):
        leaf = key.lower()
        if all(n in leaf for n in needles) and _num(value) is not None:
            return key, value
    return None


def _forecast_section(base_dir: Path) -> str:
    fdir = base_dir / "forecasts"
    files = sorted(fdir.glob("*_forecast.json")) if fdir.is_dir() else []
    if not files:
        return _section("Sprint forecasts", f'<p class="muted">No forecasts in {_e(fdir)}.</p>')
    parts: list[str] = []
    shown: set[Path] = set()
    for path in files:
        doc = _read_json(path)
        sprint = path.name[: -len("_forecast.json")]
        if not isinstance(doc, dict):
            parts.append(
                f"<div class='card'><h3>{_e(sprint)}</h3>"
                "<p class='muted'>unreadable forecast file.</p></div>"
            )
            continue
        tiles: list[tuple[str, str, str]] = []
        p = _num(doc.get("p_complete_by_end"))
        if p is not None:
            tone = "ok" if p >= 0.8 else "warn" if p >= 0.5 else "bad"
            tiles.append(("P(complete by sprint end)", f"{p:.0%}", tone))
        for needle, label in (("p50", "P50 completion day"), ("p85", "P85 completion day")):
            hit = _find_key(doc, needle)
            if hit:
                tiles.append((label, _fmt_value(hit[1]), ""))
        hit = _find_key(doc, "expected", "sch")
        if hit:
            tiles.append(("expected completed SCH", _fmt_value(hit[1]), ""))
        scalars = [
            (k, v)
            for k, v in doc.items()
            if not isinstance(v, (dict, list)) and k != "p_complete_by_end"
        ]
        figs = ""
        for png in sorted(fdir.glob(f"{sprint}*.png")):
            shown.add(png)
            figs += _img_file(png, png.stem.replace("_", " "))
        parts.append(
            f"<div class='card'><h3>Sprint {_e(doc.get('sprint_id') or sprint)}</h3>"
            f"{_tiles(tiles) if tiles else ''}<div class='split'>"
            f"<div>{_kv_table((_label(k), v) for k, v in scalars)}</div>"
            f"<div class='figs'>{figs}</div></div></div>"
        )
    extra = [p for p in sorted(fdir.glob("*.png")) if p not in shown]
    if extra:
        parts.append(
            "<div class='figs'>"
            + "".join(_img_file(p, p.stem.replace("_", " ")) for p in extra)
            + "</div>"
        )
    return _section("Sprint forecasts", "".join(parts))


# ---------------------------------------------------------------------------------------------
# page parts


def _section(title: str, body: str, sid: str | None = None) -> str:
    anchor = sid or title.lower().replace(" ", "-")
    return f"<section id='{_e(anchor)}' class='card'><h2>{_e(title)}</h2>{body}</section>"


def _tiles(tiles: Sequence[tuple[str, str, str]]) -> str:
    return (
        "<div class='tiles'>"
        + "".join(
            f"<div class='tile {tone}'><div class='tv'>{_e(value)}</div>"
            f"<div class='tl'>{_e(label)}</div></div>"
            for label, value, tone in tiles
        )
        + "</div>"
    )


def _code_text(stamp: Mapping[str, Any]) -> str:
    code = stamp.get("code_version")
    if not isinstance(code, Mapping):
        return "—"
    commit = code.get("git_commit")
    if commit:
        return f"{str(commit)[:10]}{' (dirty)' if code.get('git_dirty') else ''}"
    return f"v{code.get('package_version', '?')}"


def _time_cell(row: StageRow) -> str:
    if row.duration_s is not None:
        return _e(_fmt_duration(row.duration_s))
    if row.check_s is not None:
        return f"<span class='muted'>check {_e(_fmt_duration(row.check_s))}</span>"
    return "—"


def _stage_table(rows: Sequence[StageRow]) -> str:
    if not rows:
        return "<p class='muted'>No stage events for this run.</p>"
    body = []
    for row in rows:
        cache = {
            "hit": "<span class='pill skip'>cache hit</span>",
            "miss": "<span class='pill run'>cache miss</span>",
            "forced": "<span class='pill warn'>forced</span>",
        }.get(row.cache, "—")
        summary = ", ".join(f"{k}={_fmt_value(v)}" for k, v in sorted(row.summary.items())[:6])
        built = ""
        if row.status == "skipped" and row.last_built:
            built = f"built {_fmt_time(row.last_built)}"
        extra = " · ".join(x for x in (summary, built) if x)
        body.append(
            f"<tr class='st-{_e(row.status)}'><td class='stage'>{_e(row.name)}</td>"
            f"<td>{_pill(row.status)}</td><td>{cache}</td>"
            f"<td class='num'>{_time_cell(row)}</td>"
            f"<td class='num'>{row.checkpoints or '—'}</td>"
            f"<td>{_e(row.reason) or '—'}"
            f"{f'<div class=sub>{_e(extra)}</div>' if extra else ''}</td></tr>"
        )
    return (
        "<table class='grid stages'><thead><tr><th>stage</th><th>status</th><th>cache</th>"
        "<th class='num'>time</th><th class='num'>checkpoints</th><th>why it ran / was skipped"
        f"</th></tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def _warnings(events: Sequence[Mapping[str, Any]]) -> str:
    if not events:
        return ""
    items = []
    for ev in events:
        extra = ev.get("moved_to") or ev.get("path") or ""
        items.append(
            f"<li><span class='pill warn'>{_e(str(ev.get('event')).replace('_', ' '))}</span> "
            f"<b>{_e(ev.get('stage') or 'run')}</b>: {_e(ev.get('reason') or '')}"
            f"{f' <span class=muted>({_e(extra)})</span>' if extra else ''}</li>"
        )
    return f"<h3>Warnings</h3><ul class='warns'>{''.join(items)}</ul>"


def _env_section(run: RunInfo | None) -> str:
    if run is None or not run.stamp:
        return _section("Environment", "<p class='muted'>No env stamp recorded.</p>", "env")
    stamp = run.stamp
    main_keys = (
        "run_id",
        "status",
        "started_at",
        "ended_at",
        "duration_s",
        "config_hash",
        "env_hash",
        "seed",
        "precision",
        "device_kind",
        "device_name",
        "python_version",
        "python_implementation",
        "platform",
        "architecture",
        "n_installed_packages",
    )
    rows = [(k, stamp[k]) for k in main_keys if k in stamp]
    code = stamp.get("code_version")
    if isinstance(code, Mapping):
        rows += [(f"code {k}", v) for k, v in sorted(code.items())]
    pk = stamp.get("packages")
    pk_rows = sorted(pk.items()) if isinstance(pk, Mapping) else []
    others = [
        (k, v)
        for k, v in sorted(stamp.items())
        if k not in main_keys
        and k not in ("code_version", "packages", "config")
        and not isinstance(v, Mapping)
    ]
    fps = stamp.get("stage_fingerprints")
    cfg = stamp.get("config")
    cfg_html = ""
    if isinstance(cfg, Mapping) and cfg:
        cfg_html = (
            f"<details><summary>Resolved config ({len(list(_flatten(cfg)))} keys)</summary>"
            f"{_kv_table(_flatten(cfg), 'kv mono')}</details>"
        )
    fp_html = ""
    if isinstance(fps, Mapping) and fps:
        fp_html = (
            "<details><summary>Stage fingerprints</summary>"
            f"{_kv_table(((k, str(v)) for k, v in sorted(fps.items())), 'kv mono')}</details>"
        )
    body = (
        "<div class='split'>"
        f"<div><h3>Run</h3>{_kv_table(rows + others, 'kv mono')}</div>"
        f"<div><h3>Key packages</h3>{_kv_table(pk_rows, 'kv mono')}</div></div>"
        f"{cfg_html}{fp_html}"
    )
    return _section("Environment", body, "env")


def _history_section(runs: Sequence[RunInfo], latest: str | None) -> str:
    if not runs:
        return _section("Run history", "<p class='muted'>No runs recorded.</p>", "history")
    body = []
    for r in runs:
        dur = (r.ended - r.started) if r.started is not None and r.ended is not None else None
        ran = r.counts.get("stage_completed", 0)
        skipped = r.counts.get("stage_skipped", 0)
        failed = r.counts.get("stage_failed", 0)
        mark = " <span class='pill latest'>latest</span>" if r.run_id == latest else ""
        body.append(
            f"<tr><td class='mono'>{_e(r.run_id)}{mark}</td><td>{_pill(r.status)}</td>"
            f"<td>{_e(_fmt_time(r.started))}</td><td class='num'>{_e(_fmt_duration(dur))}</td>"
            f"<td class='num'>{ran}</td><td class='num'>{skipped}</td>"
            f"<td class='num'>{failed}</td>"
            f"<td class='mono'>{_e(str(r.stamp.get('config_hash') or '—')[:12])}</td>"
            f"<td class='mono'>{_e(_code_text(r.stamp))}</td></tr>"
        )
    return _section(
        "Run history",
        "<table class='grid'><thead><tr><th>run</th><th>status</th><th>started</th>"
        "<th class='num'>duration</th><th class='num'>ran</th><th class='num'>skipped</th>"
        "<th class='num'>failed</th><th>config</th><th>code</th></tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>",
        "history",
    )


_CSS = """
:root{--bg:#f5f6f8;--card:#fff;--ink:#111827;--ink2:#4b5563;--line:#e5e7eb;--accent:#2563eb;
--ok:#15803d;--okbg:#dcfce7;--skip:#475569;--skipbg:#e2e8f0;--bad:#b91c1c;--badbg:#fee2e2;
--warn:#b45309;--warnbg:#fef3c7;--run:#1d4ed8;--runbg:#dbeafe}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.5 -apple-system,BlinkMacSystemFont,
"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans",sans-serif}
.wrap{max-width:1120px;margin:0 auto;padding:24px 20px 48px}
header.top{background:linear-gradient(135deg,#1e293b,#334155);color:#f8fafc;border-radius:14px;
padding:22px 26px;margin-bottom:18px}
header.top h1{margin:0 0 4px;font-size:22px;font-weight:650;letter-spacing:-.01em}
header.top .meta{color:#cbd5e1;font-size:13px}
header.top .meta span{margin-right:18px;white-space:nowrap}
header.top .pill{vertical-align:middle;margin-left:8px}
nav{margin:10px 0 0;font-size:13px}nav a{color:#93c5fd;margin-right:14px;text-decoration:none}
.card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:18px 22px;
margin:0 0 16px;box-shadow:0 1px 2px rgba(15,23,42,.04)}
h2{font-size:16px;margin:0 0 12px;font-weight:650}
h3{font-size:13px;margin:16px 0 8px;color:var(--ink2);font-weight:600;text-transform:uppercase;
letter-spacing:.04em}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px;
margin:4px 0 8px}
.tile{border:1px solid var(--line);border-radius:10px;padding:10px 14px;background:#fafafa}
.tile .tv{font-size:20px;font-weight:650;font-variant-numeric:tabular-nums}
.tile .tl{font-size:12px;color:var(--ink2)}
.tile.ok .tv{color:var(--ok)}.tile.bad .tv{color:var(--bad)}.tile.warn .tv{color:var(--warn)}
.tile.skip .tv{color:var(--skip)}
table{border-collapse:collapse;width:100%}
table.grid th,table.grid td{padding:7px 10px;border-bottom:1px solid var(--line);text-align:left;
vertical-align:top}
table.grid thead th{font-size:12px;color:var(--ink2);font-weight:600;background:#f9fafb;
border-bottom:1px solid #d1d5db}
table.grid tbody tr:hover{background:#f9fafb}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.stage{font-weight:600;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
tr.st-failed td.stage{color:var(--bad)}
.sub{color:var(--ink2);font-size:12px;margin-top:2px}
table.kv th{width:38%;text-align:left;font-weight:500;color:var(--ink2);padding:4px 10px 4px 0;
vertical-align:top}
table.kv td{padding:4px 0;word-break:break-all}
table.kv tr+tr th,table.kv tr+tr td{border-top:1px solid #f1f5f9}
.mono,table.mono td{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;
font-size:12.5px}
.pill{display:inline-block;padding:1px 9px;border-radius:999px;font-size:12px;font-weight:600;
line-height:18px;white-space:nowrap}
.pill.ok{color:var(--ok);background:var(--okbg)}.pill.skip{color:var(--skip);background:var(--skipbg)}
.pill.bad{color:var(--bad);background:var(--badbg)}.pill.warn{color:var(--warn);background:var(--warnbg)}
.pill.run{color:var(--run);background:var(--runbg)}.pill.muted{color:#6b7280;background:#f3f4f6}
.pill.latest{color:#6d28d9;background:#ede9fe}
.good{color:var(--ok);font-weight:600;font-size:12px}.worse{color:var(--bad);font-weight:600;font-size:12px}
.muted{color:#6b7280}
.barcell{width:40%}.bar{height:10px;border-radius:5px;background:linear-gradient(90deg,#60a5fa,#2563eb)}
.figs{display:flex;flex-wrap:wrap;gap:14px}
figure{margin:8px 0;flex:1 1 420px;max-width:100%}
figure img{max-width:100%;height:auto;border:1px solid var(--line);border-radius:8px;
background:#fff}
figcaption{font-size:12px;color:var(--ink2);margin-top:4px}
.split{display:grid;grid-template-columns:1fr 1fr;gap:22px}
@media (max-width:820px){.split{grid-template-columns:1fr}}
details{margin-top:12px}summary{cursor:pointer;color:var(--accent);font-weight:600}
ul.warns{list-style:none;padding:0;margin:0}ul.warns li{padding:4px 0}
footer{color:#6b7280;font-size:12px;text-align:center;margin-top:20px}
"""


def render_report(
    base_dir: Path, *, now: float | None = None, cache_dir: Path | None = None
) -> str:
    """The report page for ``base_dir`` as an HTML string.

    Reads only, except that rendered training curves are cached in ``cache_dir`` when given.
    """
    base_dir = Path(base_dir)
    events = _read_events(base_dir)
    runs = _runs(base_dir, events)
    latest: str | None = None
    for ev in reversed(events):
        if ev.get("event") == "run_started" and isinstance(ev.get("run_id"), str):
            latest = ev["run_id"]
            break
    if latest is None and runs:
        latest = runs[0].run_id
    run = next((r for r in runs if r.run_id == latest), None)
    rows, _state = _stage_rows(base_dir, latest, events)
    order: list[str] = []
    warnings: list[Mapping[str, Any]] = []
    for ev in events:
        if ev.get("run_id") != latest:
            continue
        if ev.get("event") == "run_started" and isinstance(ev.get("stages"), list):
            order = [str(x) for x in ev["stages"]]
        elif ev.get("event") in WARNING_EVENTS:
            warnings.append(ev)
    rank = {name: i for i, name in enumerate(order)}
    rows.sort(key=lambda r: rank.get(r.name, len(rank)))
    status = run.status if run else "unknown"

    n = {s: sum(1 for r in rows if r.status == s) for s in ("completed", "skipped", "failed")}
    dur = (
        run.ended - run.started
        if run and run.started is not None and run.ended is not None
        else None
    )
    tone = {"completed": "ok", "failed": "bad", "interrupted": "warn"}.get(status, "")
    tiles = [
        ("status", status, tone),
        ("stages", str(len(rows)), ""),
        ("ran", str(n["completed"]), "ok" if n["completed"] else ""),
        ("skipped (cache hit)", str(n["skipped"]), "skip"),
        ("failed", str(n["failed"]), "bad" if n["failed"] else ""),
        ("wall time", _fmt_duration(dur), ""),
    ]
    stamp = run.stamp if run else {}
    meta = [
        ("started", _fmt_time(run.started if run else None)),
        ("code", _code_text(stamp)),
        ("config", str(stamp.get("config_hash") or "—")[:12]),
        ("device", f"{stamp.get('device_kind', '—')} · {stamp.get('device_name', '—')}"),
        ("seed", str(stamp.get("seed", "—"))),
        ("precision", str(stamp.get("precision", "—"))),
    ]
    header = (
        "<header class='top'>"
        f"<h1>Run {_e(latest or '—')}{_pill(status)}</h1>"
        "<div class='meta'>"
        + "".join(f"<span>{_e(k)}: <b>{_e(v)}</b></span>" for k, v in meta)
        + "</div><nav><a href='#stages'>Stages</a><a href='#training-curves'>Training</a>"
        "<a href='#evaluation'>Evaluation</a><a href='#sprint-forecasts'>Forecasts</a>"
        "<a href='#env'>Environment</a><a href='#history'>History</a></nav></header>"
    )
    body = "".join(
        (
            header,
            _section("Stages", _tiles(tiles) + _stage_table(rows) + _warnings(warnings), "stages"),
            _training_section(base_dir, cache_dir),
            _evaluation_section(base_dir),
            _forecast_section(base_dir),
            _env_section(run),
            _history_section(runs, latest),
        )
    )
    generated = _fmt_time(time.time() if now is None else now)
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>Standard Coder run report — {_e(latest or base_dir.name)}</title>"
        f"<style>{_CSS}</style></head><body><div class='wrap'>{body}"
        f"<footer>Generated {_e(generated)} from {_e(base_dir.resolve())} by standard-coder "
        "report. Self-contained: no network, no scripts.</footer></div></body></html>\n"
    )


def build_report(base_dir: Path) -> Path:
    """Write ``<base_dir>/reports/index.html`` atomically and return its path."""
    base_dir = Path(base_dir)
    out = base_dir / "reports" / REPORT_FILE
    page = render_report(base_dir, cache_dir=out.parent / CACHE_DIR)
    atomic_write_text(out, page, durable=False)  # derived: `standard-coder report` rebuilds it
    return out
