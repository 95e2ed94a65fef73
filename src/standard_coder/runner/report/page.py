"""The run page: one self-contained HTML file, ``<base_dir>/reports/index.html``.

The page needs no network and no JavaScript: CSS is inline and every plot is a PNG embedded as
a ``data:`` URI. The runner's part shows, for the latest run, each stage's status, timing, cache
hit or miss and the reason it ran or was skipped, warnings, the env stamp and the history of
runs. Pipelines add their own sections (``Pipeline(report_sections=[...])``): each is a
:class:`ReportSection` whose ``render`` gets a :class:`SectionInput` and returns an HTML
fragment. A section that raises shows one line saying so; the rest of the page stands.

Example:
    >>> build_report(Path("sc-output"), sections=[])  # doctest: +SKIP
    PosixPath('sc-output/reports/index.html')
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from standard_coder.runner.atomic import atomic_write_text
from standard_coder.runner.layout import RunnerLayout
from standard_coder.runner.report.data import (
    WARNING_EVENTS,
    RunInfo,
    collect_runs,
    read_events,
    stage_rows,
)
from standard_coder.runner.report.kit import KIT_PACKAGE, flatten, fmt_duration, fmt_time

log = logging.getLogger(__name__)

REPORT_FILE = "index.html"
CACHE_DIR = ".cache"

_MAIN_KEYS = (
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


@dataclass(frozen=True)
class SectionInput:
    """What a pipeline's report section gets.

    Attributes:
        base_dir: the output root (the section reads its pipeline's files below it).
        cache_dir: a folder the section may keep rendered fragments in (None: do not cache).
        run_id: the run the page shows (None when no run is recorded).
        stamp: that run's env stamp (empty when none).
    """

    base_dir: Path
    cache_dir: Path | None
    run_id: str | None
    stamp: Mapping[str, Any]


@dataclass(frozen=True)
class ReportSection:
    """A section a pipeline adds to the run page, after the stages.

    Attributes:
        title: the section's heading.
        render: ``render(SectionInput) -> str``: the section's body as HTML (escape what you
            insert; :func:`standard_coder.runner.report.kit.render` does).
        nav: the label in the page's navigation bar (default: ``title``).
        anchor: the section's id (default: ``title`` lower-cased, spaces as dashes).
    """

    title: str
    render: Callable[[SectionInput], str]
    nav: str | None = None
    anchor: str | None = None

    @property
    def slug(self) -> str:
        return self.anchor or self.title.lower().replace(" ", "-")


def code_text(stamp: Mapping[str, Any]) -> str:
    """``abcdef1234 (dirty)`` or ``v0.1.0`` from an env stamp's ``code_version``."""
    code = stamp.get("code_version")
    if not isinstance(code, Mapping):
        return "—"
    commit = code.get("git_commit")
    if commit:
        return f"{str(commit)[:10]}{' (dirty)' if code.get('git_dirty') else ''}"
    return f"v{code.get('package_version', '?')}"


def _env_data(run: RunInfo | None) -> dict[str, Any]:
    stamp = run.stamp if run is not None else {}
    if not stamp:
        return {"stamp": {}}
    rows = [(k, stamp[k]) for k in _MAIN_KEYS if k in stamp]
    code = stamp.get("code_version")
    if isinstance(code, Mapping):
        rows += [(f"code {k}", v) for k, v in sorted(code.items())]
    others = [
        (k, v)
        for k, v in sorted(stamp.items())
        if k not in _MAIN_KEYS
        and k not in ("code_version", "packages", "config")
        and not isinstance(v, Mapping)
    ]
    pk = stamp.get("packages")
    cfg = stamp.get("config")
    fps = stamp.get("stage_fingerprints")
    return {
        "stamp": stamp,
        "env_rows": rows + others,
        "packages": sorted(pk.items()) if isinstance(pk, Mapping) else [],
        "config_rows": list(flatten(cfg)) if isinstance(cfg, Mapping) and cfg else [],
        "fingerprints": (
            [(k, str(v)) for k, v in sorted(fps.items())]
            if isinstance(fps, Mapping) and fps
            else []
        ),
    }


def _history(runs: Sequence[RunInfo]) -> list[dict[str, Any]]:
    out = []
    for r in runs:
        dur = (r.ended - r.started) if r.started is not None and r.ended is not None else None
        out.append(
            {
                "run_id": r.run_id,
                "status": r.status,
                "started": r.started,
                "duration": dur,
                "ran": r.counts.get("stage_completed", 0),
                "skipped": r.counts.get("stage_skipped", 0),
                "failed": r.counts.get("stage_failed", 0),
                "config": str(r.stamp.get("config_hash") or "—")[:12],
                "code": code_text(r.stamp),
            }
        )
    return out


def _render_section(section: ReportSection, given: SectionInput) -> str:
    from markupsafe import Markup, escape

    try:
        return Markup(section.render(given))
    except Exception as exc:  # one broken section must not sink the page
        log.warning("report: section %r failed: %s", section.title, exc, exc_info=True)
        return Markup(f'<p class="muted">This section could not be drawn ({escape(exc)}).</p>')


def render_report(
    base_dir: Path,
    sections: Sequence[ReportSection] = (),
    *,
    now: float | None = None,
    cache_dir: Path | None = None,
) -> str:
    """The run page for ``base_dir`` as an HTML string (``page.html.j2``'s bytes, written by
    :mod:`~standard_coder.runner.report.pagehtml` without loading Jinja2).

    Reads only, except what sections cache in ``cache_dir`` when given.
    """
    from standard_coder.runner.report.pagehtml import render_page

    return render_page(page_data(base_dir, sections, now=now, cache_dir=cache_dir))


def page_data(
    base_dir: Path,
    sections: Sequence[ReportSection] = (),
    *,
    now: float | None = None,
    cache_dir: Path | None = None,
) -> dict[str, Any]:
    """What ``page.html.j2`` is rendered with (:func:`render_report`)."""
    from markupsafe import Markup

    base_dir = Path(base_dir)
    events = read_events(base_dir)
    runs = collect_runs(base_dir, events)
    latest: str | None = None
    for ev in reversed(events):
        if ev.get("event") == "run_started" and isinstance(ev.get("run_id"), str):
            latest = ev["run_id"]
            break
    if latest is None and runs:
        latest = runs[0].run_id
    run = next((r for r in runs if r.run_id == latest), None)
    rows, _state = stage_rows(base_dir, latest, events)
    order: list[str] = []
    warnings: list[dict[str, Any]] = []
    for ev in events:
        if ev.get("run_id") != latest:
            continue
        if ev.get("event") == "run_started" and isinstance(ev.get("stages"), list):
            order = [str(x) for x in ev["stages"]]
        elif ev.get("event") in WARNING_EVENTS:
            warnings.append(
                {
                    "event": str(ev.get("event")).replace("_", " "),
                    "stage": ev.get("stage") or "run",
                    "reason": ev.get("reason") or "",
                    "extra": ev.get("moved_to") or ev.get("path") or "",
                }
            )
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
    unfinished = [r.name for r in rows if r.status in ("interrupted", "failed", "running")]
    notice = ""
    if status in ("interrupted", "failed", "cut off", "running") and unfinished:
        notice = (
            f"This run did not complete {', '.join(unfinished)}: the sections below show the "
            "outputs on disk, which for those stages come from the last run that completed "
            "them (or were partly rewritten by this one); the header's settings are this "
            "run's. Rerun the pipeline to bring them in line."
        )
    stamp = run.stamp if run else {}
    given = SectionInput(base_dir, cache_dir, latest, stamp)
    drawn = [
        {"title": s.title, "anchor": s.slug, "body": _render_section(s, given)} for s in sections
    ]
    nav = [("stages", "Stages")]
    nav += [(s.slug, s.nav or s.title) for s in sections]
    nav += [("env", "Environment"), ("history", "History")]
    css = resources.files(KIT_PACKAGE).joinpath("templates", "report.css").read_text("utf-8")
    return dict(
        title=latest or base_dir.name,
        css=Markup(css),
        latest=latest,
        status=status,
        notice=notice,
        meta=[
            ("started", fmt_time(run.started if run else None)),
            ("code", code_text(stamp)),
            ("config", str(stamp.get("config_hash") or "—")[:12]),
            ("device", f"{stamp.get('device_kind', '—')} · {stamp.get('device_name', '—')}"),
            ("seed", str(stamp.get("seed", "—"))),
            ("precision", str(stamp.get("precision", "—"))),
        ],
        nav=nav,
        tiles=[
            ("status", status, tone),
            ("stages", str(len(rows)), ""),
            ("ran", str(n["completed"]), "ok" if n["completed"] else ""),
            ("skipped (cache hit)", str(n["skipped"]), "skip"),
            ("failed", str(n["failed"]), "bad" if n["failed"] else ""),
            ("wall time", fmt_duration(dur), ""),
        ],
        rows=rows,
        warnings=warnings,
        sections=drawn,
        runs=_history(runs),
        generated=fmt_time(time.time() if now is None else now),
        base_dir=str(base_dir.resolve()),
        **_env_data(run),
    )


def build_report(base_dir: Path, sections: Sequence[ReportSection] = ()) -> Path:
    """Write ``<base_dir>/reports/index.html`` atomically and return its path."""
    out = RunnerLayout(Path(base_dir)).reports / REPORT_FILE
    page = render_report(Path(base_dir), sections, cache_dir=out.parent / CACHE_DIR)
    atomic_write_text(out, page, durable=False)  # derived: `standard-coder report` rebuilds it
    return out
