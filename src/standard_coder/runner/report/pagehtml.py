"""The run page's frame written without Jinja2: the same bytes as ``page.html.j2`` (with
``stages``, ``env``, ``history`` and the ``_kit`` macros it uses) renders from the same data.

Importing and setting up Jinja2 cost about 0.03 s of CPU, a tenth of a run that reruns one
stage of a 20,000-file pipeline; the page is a fixed frame of escaped values, so it is written
here directly. ``tests/unit/test_report_pagehtml.py`` renders both on many pages (no runs, a
failed stage with warnings, sections, every env table, HTML in every value) and compares them
byte for byte: a change to one of those templates must be made here too, and that test says
where they differ. Pipelines' sections still render their own fragments (with the kit's
templates when they like); they arrive here as markup.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from standard_coder.runner.report.kit import fmt_duration, fmt_time, fmt_value, pill_tone


def esc(value: Any) -> str:
    """``{{ value }}`` under autoescape: markup as it is, anything else ``str()``-ed and
    escaped as ``markupsafe.escape`` escapes it."""
    html = getattr(value, "__html__", None)
    if html is not None:
        return str(html())
    return (
        str(value)
        .replace("&", "&amp;")
        .replace(">", "&gt;")
        .replace("<", "&lt;")
        .replace("'", "&#39;")
        .replace('"', "&#34;")
    )


def pill(status: Any) -> str:
    s = str(status or "unknown").lower()
    return f'<span class="pill {esc(pill_tone(s))}">{esc(s)}</span>'


def section(title: Any, anchor: Any, body: str) -> str:
    ident = anchor or str(title).lower().replace(" ", "-")
    return f"<section id='{esc(ident)}' class='card'><h2>{esc(title)}</h2>{body}</section>"


def tiles(items: Iterable[Sequence[Any]]) -> str:
    cells = "".join(
        f"<div class='tile {esc(tone)}'><div class='tv'>{esc(value)}</div>"
        f"<div class='tl'>{esc(label)}</div></div>"
        for label, value, tone in items
    )
    return f"<div class='tiles'>{cells}</div>"


def kv_table(rows: Iterable[Sequence[Any]], cls: str = "kv") -> str:
    rows = list(rows)
    if not rows:
        return ""
    body = "".join(f"<tr><th>{esc(k)}</th><td>{esc(fmt_value(v))}</td></tr>" for k, v in rows)
    return f'<table class="{esc(cls)}"><tbody>{body}</tbody></table>'


def _stage_row(row: Any) -> str:
    if row.cache == "hit":
        cache = "<span class='pill skip'>cache hit</span>"
    elif row.cache == "miss":
        cache = "<span class='pill run'>cache miss</span>"
    elif row.cache == "forced":
        cache = "<span class='pill warn'>forced</span>"
    else:
        cache = "—"
    if row.duration_s is not None:
        took = esc(fmt_duration(row.duration_s))
    elif row.check_s is not None:
        took = f"<span class='muted'>check {esc(fmt_duration(row.check_s))}</span>"
    else:
        took = "—"
    extra = f"<div class=sub>{esc(row.extra)}</div>" if row.extra else ""
    return (
        f"<tr class='st-{esc(row.status)}'><td class='stage'>{esc(row.name)}</td>"
        f"<td>{pill(row.status)}</td><td>{cache}</td><td class='num'>{took}</td>"
        f"<td class='num'>{esc(row.checkpoints or '—')}</td>"
        f"<td>{esc(row.reason or '—')}{extra}</td></tr>\n"
    )


def _stages(rows: Sequence[Any], warnings: Sequence[Mapping[str, Any]]) -> str:
    if rows:
        out = (
            "<table class='grid stages'><thead><tr><th>stage</th><th>status</th><th>cache</th>"
            "<th class='num'>time</th><th class='num'>checkpoints</th>"
            "<th>why it ran / was skipped</th></tr></thead><tbody>\n"
            + "".join(_stage_row(row) for row in rows)
            + "</tbody></table>\n"
        )
    else:
        out = "<p class='muted'>No stage events for this run.</p>\n"
    if warnings:
        items = "".join(
            f"<li><span class='pill warn'>{esc(ev['event'])}</span> <b>{esc(ev['stage'])}</b>: "
            f"{esc(ev['reason'])}"
            + (f" <span class=muted>({esc(ev['extra'])})</span>" if ev["extra"] else "")
            + "</li>\n"
            for ev in warnings
        )
        out += f"<h3>Warnings</h3><ul class='warns'>\n{items}</ul>\n"
    return out


def _env(data: Mapping[str, Any]) -> str:
    if not data.get("stamp"):
        body = "<p class='muted'>No env stamp recorded.</p>\n"
    else:
        body = (
            f"<div class='split'><div><h3>Run</h3>{kv_table(data['env_rows'], 'kv mono')}</div>"
            f"<div><h3>Key packages</h3>{kv_table(data['packages'], 'kv mono')}</div></div>\n"
        )
        config_rows = data["config_rows"]
        if config_rows:
            body += (
                f"<details><summary>Resolved config ({esc(len(config_rows))} keys)</summary>"
                f"{kv_table(config_rows, 'kv mono')}</details>"
            )
        if data["fingerprints"]:
            body += (
                "<details><summary>Stage fingerprints</summary>"
                f"{kv_table(data['fingerprints'], 'kv mono')}</details>"
            )
    return section("Environment", "env", body)


def _history(runs: Sequence[Mapping[str, Any]], latest: Any) -> str:
    if not runs:
        body = "<p class='muted'>No runs recorded.</p>\n"
    else:
        rows = "".join(
            f"<tr><td class='mono'>{esc(r['run_id'])}"
            + (" <span class='pill latest'>latest</span>" if r["run_id"] == latest else "")
            + f"</td><td>{pill(r['status'])}</td><td>{esc(fmt_time(r['started']))}</td>"
            f"<td class='num'>{esc(fmt_duration(r['duration']))}</td>"
            f"<td class='num'>{esc(r['ran'])}</td><td class='num'>{esc(r['skipped'])}</td>"
            f"<td class='num'>{esc(r['failed'])}</td><td class='mono'>{esc(r['config'])}</td>"
            f"<td class='mono'>{esc(r['code'])}</td></tr>\n"
            for r in runs
        )
        body = (
            "<table class='grid'><thead><tr><th>run</th><th>status</th><th>started</th>"
            "<th class='num'>duration</th><th class='num'>ran</th><th class='num'>skipped</th>"
            "<th class='num'>failed</th><th>config</th><th>code</th></tr></thead><tbody>\n"
            f"{rows}</tbody></table>\n"
        )
    return section("Run history", "history", body)


def render_page(data: Mapping[str, Any]) -> str:
    """``page.html.j2`` rendered with ``data`` (the keywords :func:`.page.render_report`
    passes it), byte for byte."""
    latest = data["latest"]
    meta = "".join(f"<span>{esc(k)}: <b>{esc(v)}</b></span>" for k, v in data["meta"])
    nav = "".join(f"<a href='#{esc(h)}'>{esc(t)}</a>" for h, t in data["nav"])
    stages = section(
        "Stages", "stages", tiles(data["tiles"]) + _stages(data["rows"], data["warnings"])
    )
    added = "".join(section(s["title"], s["anchor"], esc(s["body"])) for s in data["sections"])
    notice = (
        f"<p class='notice'>{pill(data['status'])} {esc(data['notice'])}</p>"
        if data.get("notice")
        else ""
    )
    return (
        "<!DOCTYPE html>\n"
        "<html lang='en'><head><meta charset='utf-8'><meta name='viewport' "
        "content='width=device-width, initial-scale=1'>\n"
        f"<title>Standard Coder run report — {esc(data['title'])}</title>\n"
        f"<style>{esc(data['css'])}</style></head><body><div class='wrap'>\n"
        f"<header class='top'><h1>Run {esc(latest or '—')}{pill(data['status'])}</h1>"
        f"<div class='meta'>{meta}</div><nav>{nav}</nav></header>\n"
        f"{notice}{stages}{added}{_env(data)}{_history(data['runs'], latest)}"
        f"<footer>Generated {esc(data['generated'])} from {esc(data['base_dir'])} by "
        "standard-coder report. Self-contained: no network, no scripts.</footer>"
        "</div></body></html>"
    )
