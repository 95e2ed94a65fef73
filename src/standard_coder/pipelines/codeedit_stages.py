"""The codeedit pipeline's stages ``ingest -> normalize -> split -> stats -> evaluate``.

Each stage reads its settings from ``ctx.params`` (what its fingerprint covers), its files from
``ctx.inputs`` / ``ctx.outputs``; the domain logic is in :mod:`standard_coder.codeedit`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from standard_coder.config.codeedit import CodeEditSection
from standard_coder.pipelines.codeedit_layout import CodeEditLayout
from standard_coder.pipelines.wiring import section_from_params
from standard_coder.runner.atomic import atomic_write_json, atomic_write_text
from standard_coder.runner.context import warn

if TYPE_CHECKING:
    from standard_coder.codeedit.dataset import Rejections
    from standard_coder.codeedit.evaluator import Coverage
    from standard_coder.codeedit.records import EditRecord
    from standard_coder.runner.context import StageContext


EXPECTED = {  # what ingest reads in a source's folder
    "commitpackft": ".jsonl, .json or .parquet files",
    "editpackft": ".jsonl, .json or .parquet files",
    "ocedataft": ".jsonl, .json or .parquet files",
    "canitedit": ".jsonl, .json or .parquet files",
    "smellycode": "folders holding a before.* and an after.* file",
}


def _section(ctx: StageContext) -> CodeEditSection:
    return section_from_params(CodeEditSection, ctx.params["codeedit"], ctx.root_dir)


def source_input(c: CodeEditSection, source: str) -> Path:
    """The local files of ``source``: the configured path or the shipped fixture."""
    from standard_coder.codeedit.sources import fixture_path

    return c.source_path(source) or fixture_path(source)


def _write_jsonl(path: Path, rows: Iterable[str]) -> int:
    lines = list(rows)
    atomic_write_text(path, "".join(line + "\n" for line in lines))
    return len(lines)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _strict(c: CodeEditSection, rejects: Rejections, stage: str) -> None:
    from standard_coder.codeedit.errors import CodeEditError

    if c.strict and rejects.bad():
        bad = {r: n for r, n in rejects.counts.items() if not r.startswith("duplicate")}
        raise CodeEditError(f"strict: {rejects.bad()} bad records by {stage}: {bad}")


def ingest(ctx: StageContext) -> None:
    """Read every source in its upstream format (after an optional download)."""
    from standard_coder.codeedit.dataset import Rejections
    from standard_coder.codeedit.errors import SourceError
    from standard_coder.codeedit.sources import download, read_source
    from standard_coder.codeedit.synth import builtin_snippets, generate

    c = _section(ctx)
    out = ctx.outputs["ingested"]
    out.mkdir(parents=True, exist_ok=True)
    rejects = Rejections()
    counts: dict[str, int] = {}
    for source in c.sources:
        if source == "synthetic":
            mods = generate(builtin_snippets(), seed=int(ctx.params["seed"]))
            rows = [m.to_record().model_dump_json() for m in mods]
        else:
            path = source_input(c, source)
            if c.download:
                layout = CodeEditLayout(ctx.base_dir)
                try:
                    path = download(source, layout.raw / source, endpoint=c.hf_endpoint)
                except SourceError as exc:
                    warn(ctx, f"{exc}; using the local files at {path}")
            rows = []
            seen = 0
            for cand, bad in read_source(source, path):
                seen += 1
                if bad is not None:
                    rejects.add(f"{source}:{bad[0]}", bad[1])
                else:
                    rows.append(json.dumps(cand, ensure_ascii=False))
            if not seen:  # a wrong path is no record at all, not a failure to read one
                warn(ctx, f"{source}: nothing to read in {path} ({EXPECTED[source]}); check "
                          f"[codeedit] {source}_path")  # fmt: skip
        counts[source] = _write_jsonl(out / f"{source}.jsonl", rows)
    atomic_write_json(out / "rejects.json", rejects.to_json())
    ctx.log.info("ingested %s; unreadable %d", counts, sum(rejects.counts.values()))
    ctx.set_summary(records=sum(counts.values()), unreadable=sum(rejects.counts.values()))
    _strict(c, rejects, "ingest")


def normalize(ctx: StageContext) -> None:
    """Schema validation, filters, exact and near-duplicate removal on (instruction, pre)."""
    from standard_coder.codeedit.dataset import Filters, Rejections, validate
    from standard_coder.codeedit.dataset import normalize as dedup

    c = _section(ctx)
    src, out = ctx.inputs["ingested"], ctx.outputs["normalized"]
    out.mkdir(parents=True, exist_ok=True)
    rejects = Rejections.from_json(json.loads((src / "rejects.json").read_text(encoding="utf-8")))
    filters = Filters(
        max_bytes=c.max_bytes, languages=tuple(c.languages),
        near_dup_threshold=c.near_dup_threshold,
    )  # fmt: skip
    candidates = [row for s in c.sources for row in _read_jsonl(src / f"{s}.jsonl")]
    kept = dedup(validate(candidates, rejects), filters, rejects)
    for source in c.sources:
        _write_jsonl(
            out / f"{source}.jsonl", (r.model_dump_json() for r in kept if r.source == source)
        )
    atomic_write_json(out / "rejects.json", rejects.to_json())
    ctx.log.info("kept %d of %d records; rejected %s", len(kept), len(candidates),
                 dict(rejects.counts))  # fmt: skip
    ctx.set_summary(kept=len(kept), rejected=sum(rejects.counts.values()))
    _strict(c, rejects, "normalize")


def _records(folder: Path, sources: Iterable[str]) -> list[EditRecord]:
    from standard_coder.codeedit.records import EditRecord

    return [
        EditRecord.model_validate(row)
        for s in sources
        if (folder / f"{s}.jsonl").exists()
        for row in _read_jsonl(folder / f"{s}.jsonl")
    ]


def split(ctx: StageContext) -> None:
    """Repo-disjoint train/dev/test; CanItEdit to test only."""
    from standard_coder.codeedit.dataset import split as make_splits

    c = _section(ctx)
    records = _records(ctx.inputs["normalized"], c.sources)
    parts = make_splits(
        records, seed=int(ctx.params["seed"]), dev=c.dev_fraction, test=c.test_fraction
    )
    out = ctx.outputs["processed"]
    for name, recs in parts.items():
        (out / name).mkdir(parents=True, exist_ok=True)
        written = set()
        for source in c.sources:
            mine = [r.model_dump_json() for r in recs if r.source == source]
            if mine:
                _write_jsonl(out / name / f"{source}.jsonl", mine)
                written.add(f"{source}.jsonl")
        # an earlier run's file of a source with no record here now (filtered out, emptied or
        # dropped from sources) would be read by training and stats as this run's
        for stale in (out / name).glob("*.jsonl"):
            if stale.name not in written:
                stale.unlink()
    sizes = {name: len(recs) for name, recs in parts.items()}
    ctx.log.info("splits %s", sizes)
    ctx.set_summary(**sizes)


def stats(ctx: StageContext) -> None:
    """``reports/dataset_stats.json``; also re-checks every synthetic gold action."""
    from standard_coder.codeedit.actions import apply_action
    from standard_coder.codeedit.dataset import SPLITS, Rejections
    from standard_coder.codeedit.dataset import stats as make_stats
    from standard_coder.codeedit.errors import CodeEditError

    c = _section(ctx)
    processed = ctx.inputs["processed"]
    parts = {name: _records(processed / name, c.sources) for name in SPLITS}
    rejects = Rejections.from_json(json.loads(ctx.inputs["rejects"].read_text(encoding="utf-8")))
    synthetic = [r for recs in parts.values() for r in recs if r.source == "synthetic"]

    def gold(r: Any) -> str:  # a failure names the record: the stage stops with exit 1
        try:
            out: str = apply_action(r.metadata["gold_action"], r.pre, r.language)
        except CodeEditError as exc:
            raise CodeEditError(f"synthetic record {r.id}: its gold action failed: {exc}") from None
        return out

    verified = sum(gold(r) == r.post for r in synthetic)
    doc = make_stats(parts, rejects, {"synthetic_gold_verified": [verified, len(synthetic)]})
    atomic_write_json(ctx.outputs["stats"], doc)
    ctx.log.info("dataset %s; rejected %d", doc["totals"], sum(rejects.counts.values()))
    ctx.set_summary(**doc["totals"], rejected=sum(rejects.counts.values()))


def load_tasks(test_dir: Path) -> list[Any]:
    """CanItEdit tasks of the test split (one per task id, whatever the instruction style)."""
    from standard_coder.codeedit.evaluator import Task

    tasks: dict[str, Task] = {}
    for rec in _records(test_dir, ["canitedit"]):
        tid = str(rec.metadata.get("task_id", rec.id))
        if rec.tests and rec.post is not None and tid not in tasks:
            tasks[tid] = Task(tid, rec.pre, rec.post, rec.tests, rec.language)
    return list(tasks.values())


def load_completions(path: Path | None, tasks: list[Any]) -> dict[str, list[str]]:
    """``{task_id: [completion, ...]}`` from a JSONL file, or each task's reference post.

    Raises:
        InputFileError: the file is not UTF-8 text, or a line is not a JSON object with
            ``task_id`` and ``completion`` (the message names the file, the line and the cause).
    """
    from standard_coder.codeedit.errors import InputFileError

    if path is None:
        return {t.id: [t.post] for t in tasks}
    want = "expected a JSON object with task_id and completion"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise InputFileError(
            f"{path}: not UTF-8 text (byte {exc.start}); expected JSON lines, one object with "
            "task_id and completion each"
        ) from None
    out: dict[str, list[str]] = {}
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise InputFileError(f"{path}:{i}: not JSON ({exc}); {want}") from None
        if not isinstance(row, dict):
            raise InputFileError(f"{path}:{i}: {want} (got a {_json_kind(row)})")
        missing = [k for k in ("task_id", "completion") if k not in row]
        if missing:
            raise InputFileError(f"{path}:{i}: {want} (no {' or '.join(missing)})")
        out.setdefault(str(row["task_id"]), []).append(str(row["completion"]))
    return out


def _json_kind(value: object) -> str:
    """``list``, ``string``, ``number``... : what a JSON value is, in JSON's words."""
    kinds = {list: "list", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)


def _some(ids: Sequence[str], n: int = 5) -> str:
    """``1, 2, 3, 4, 5, … (12 in all)``: the first ``n`` ids of ``ids``."""
    shown = ", ".join(ids[:n])
    return f"{shown}, … ({len(ids)} in all)" if len(ids) > n else shown


def coverage_warning(path: Path, cov: Coverage, task_ids: Sequence[str]) -> str | None:
    """One line when the completions file ``path`` leaves CanItEdit test tasks unscored or
    names task ids no task has (None: every task answered, every id known)."""
    if cov.tasks == 0:
        return (
            f"{path}: no CanItEdit test task to score the completions on (is canitedit in "
            "[codeedit] sources?); nothing was scored"
        )
    if cov.answered == 0:
        found = _some(cov.unknown) if cov.unknown else "no completion at all"
        return (
            f"{path}: no completion's task_id matched a CanItEdit test task id, so nothing was "
            f"scored (pass@1 null): expected task ids {_some(task_ids)}; found {found}"
        )
    line = None
    if cov.unanswered:
        line = (
            f"{path}: {len(cov.unanswered)} of {cov.tasks} CanItEdit test tasks have no "
            f"completion and are not scored ({_some(cov.unanswered)}); pass@1 is over the "
            f"other {cov.answered}"
        )
    if cov.unknown:
        ignored = (
            f"{len(cov.unknown)} task_id(s) match no CanItEdit test task and are ignored "
            f"({_some(cov.unknown)})"
        )
        line = f"{line}; {ignored}" if line else f"{path}: {ignored}"
    return line


def evaluate(ctx: StageContext) -> None:
    """Run completions against the CanItEdit test tasks: ``reports/codeedit_eval.json``."""
    from standard_coder.codeedit.errors import SandboxStopped
    from standard_coder.codeedit.evaluator import coverage
    from standard_coder.codeedit.evaluator import evaluate as run_eval
    from standard_coder.codeedit.sandbox import Limits, network_isolated

    c = _section(ctx)
    tasks = load_tasks(ctx.inputs["test"])
    completions = load_completions(c.completions, tasks)
    cov = coverage([t.id for t in tasks], completions)
    warning = None
    if c.completions is not None:
        warning = coverage_warning(c.completions, cov, [t.id for t in tasks])
    if warning:
        warn(ctx, warning)
    limit = Limits(timeout_s=c.eval_timeout_s, cpu_s=max(1, int(c.eval_timeout_s)))
    try:
        doc = run_eval(tasks, completions, limit, should_stop=ctx.should_stop)
    except SandboxStopped:
        return  # nothing written: the engine reports the interrupt, a rerun scores them all
    doc["completions_file"] = str(c.completions) if c.completions else None
    doc["tasks_total"] = cov.tasks
    doc["tasks_without_completion"] = len(cov.unanswered)
    doc["unmatched_task_ids"] = list(cov.unknown)
    doc["warnings"] = [warning] if warning else []
    doc["timeout_s"] = c.eval_timeout_s
    doc["network_isolated"] = network_isolated()
    atomic_write_json(ctx.outputs["evaluation"], doc)
    ctx.log.info("pass@1 %s on %d tasks (%s)", doc["pass@1"], doc["tasks"], doc["statuses"])
    ctx.set_summary(pass_at_1=doc["pass@1"], tasks=doc["tasks"], excess_code=doc["excess_code"])
