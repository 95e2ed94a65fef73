"""Adapters: each source's upstream record format -> candidate ``EditRecord`` dicts.

Every reader yields ``(candidate, None)`` for a row it could map, or ``(None, (reason, sample))``
for a row it could not (bad JSON, a missing column): bad rows never stop a run. Validation
against the schema happens in the normalize stage.

Upstream formats (other-seeds.md §1.2):

- ``commitpackft`` (JSONL), ``editpackft`` (parquet or JSONL): commit rows ``commit, old_file,
  new_file, old_contents, new_contents, subject, message, lang, license, repos``;
- ``ocedataft``: ShareGPT JSONL ``{"conversations": [{"from": "human", "value": instruction +
  fenced pre}, {"from": "gpt", "value": fenced post}], "instr_type": "ds_lazy" ...}``;
- ``canitedit``: benchmark rows ``id, name, full_name, before, after, tests,
  instruction_descriptive, instruction_lazy, taxonomy{change_kind, libraries, topic}`` (JSONL or
  parquet): two records per task (descriptive and lazy), evaluation only;
- ``smellycode``: a folder tree; every folder holding ``before.<ext>`` and ``after.<ext>`` is one
  record, its path parts are tags, ``instruction.txt`` (optional) the instruction (the upstream
  layout is unverified: this is the documented assumption).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from standard_coder.codeedit.errors import SourceError
from standard_coder.codeedit.records import EXTENSIONS, normalize_language

Row = tuple[dict[str, Any] | None, tuple[str, str] | None]

HF_REPOS = {
    "commitpackft": "bigcode/commitpackft",
    "editpackft": "nuprl/EditPackFT",
    "ocedataft": "zkzhang88/OCEData",
    "canitedit": "nuprl/CanItEdit",
}
"""Where ``download = true`` fetches each source from (the Hugging Face hub)."""

_FENCE = re.compile(r"```[\w+#-]*\n(.*?)```", re.DOTALL)
_FENCE_LANG = re.compile(r"```([\w+#-]+)\n")


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def _files(path: Path, suffixes: tuple[str, ...]) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise SourceError(f"{path}: no such file or folder")
    return sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(suffixes))


def read_rows(path: Path) -> Iterator[tuple[dict[str, Any] | None, str]]:
    """Rows of JSONL / JSON-array / parquet files under ``path`` as ``(row, where)``."""
    for file in _files(path, (".jsonl", ".json", ".parquet")):
        if file.suffix == ".parquet":
            try:
                import pyarrow.parquet as pq
            except ImportError:
                raise SourceError(f"{file}: parquet needs pyarrow (the codeedit extra)") from None
            try:
                table = pq.read_table(file)
            except Exception as exc:  # pyarrow raises its own hierarchy
                raise SourceError(f"{file}: not a parquet file: {exc}") from None
            for i, row in enumerate(table.to_pylist()):
                yield row, f"{file.name}:{i + 1}"
            continue
        text = file.read_text(encoding="utf-8", errors="replace")
        if file.suffix == ".json":
            try:
                doc = json.loads(text)
            except json.JSONDecodeError as exc:
                raise SourceError(f"{file}: not JSON: {exc}") from None
            rows = doc if isinstance(doc, list) else [doc]
            for i, row in enumerate(rows):
                yield (row if isinstance(row, dict) else None), f"{file.name}:{i + 1}"
            continue
        for i, line in enumerate(text.splitlines()):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                yield None, f"{file.name}:{i + 1}"
                continue
            yield (row if isinstance(row, dict) else None), f"{file.name}:{i + 1}"


def _bad(where: str, reason: str) -> Row:
    return None, (reason, where)


def _commits(path: Path, source: str) -> Iterator[Row]:
    for row, where in read_rows(path):
        if row is None:
            yield _bad(where, "unreadable_row")
            continue
        missing = [k for k in ("old_contents", "new_contents") if not isinstance(row.get(k), str)]
        instruction = row.get("instruction") or row.get("subject") or row.get("message")
        if missing or not isinstance(instruction, str):
            yield _bad(where, "missing_field:" + ",".join(missing or ["subject"]))
            continue
        repos = row.get("repos") or row.get("repo")
        repo = str(repos).split(",")[0].strip() or None if repos else None
        commit = str(row.get("commit") or "")
        yield {
            "id": f"{source}-{commit[:12] or _digest(instruction, row['old_contents'])}"
            + f"-{_digest(str(row.get('new_file') or row.get('old_file') or ''))[:6]}",
            "source": source, "instruction": instruction.strip(), "instruction_style": "commit",
            "pre": row["old_contents"], "post": row["new_contents"],
            "language": normalize_language(row.get("lang") or _lang_of(row.get("new_file"))),
            "repo": repo, "license": row.get("license"), "tests": None, "tags": [],
            "metadata": {"commit": commit or None,
                         "file": row.get("new_file") or row.get("old_file"),
                         "message": row.get("message")},
        }, None  # fmt: skip


def _lang_of(name: Any) -> str:
    return EXTENSIONS.get(Path(str(name or "")).suffix.lower(), "other")


def _oce(path: Path) -> Iterator[Row]:
    for row, where in read_rows(path):
        turns = (row or {}).get("conversations")
        if not isinstance(turns, list) or len(turns) < 2:
            yield _bad(where, "missing_field:conversations")
            continue
        human = next((t.get("value", "") for t in turns if t.get("from") == "human"), "")
        gpt = next((t.get("value", "") for t in turns if t.get("from") == "gpt"), "")
        pre_blocks, post_blocks = _FENCE.findall(human), _FENCE.findall(gpt)
        if not pre_blocks or not post_blocks:
            yield _bad(where, "no_code_block")
            continue
        instruction = _FENCE.sub("", human).strip()
        kind = str((row or {}).get("instr_type") or "")
        style = "lazy" if "lazy" in kind else "descriptive"
        fence = _FENCE_LANG.search(human)
        yield {
            "id": f"ocedataft-{_digest(instruction, pre_blocks[-1])}", "source": "ocedataft",
            "instruction": instruction, "instruction_style": style,
            "pre": pre_blocks[-1], "post": post_blocks[-1],
            "language": normalize_language(fence.group(1) if fence else "python"),
            "repo": (row or {}).get("commit"), "license": "apache-2.0", "tests": None, "tags": [],
            "metadata": {"instr_type": kind or None},
        }, None  # fmt: skip


def _canitedit(path: Path) -> Iterator[Row]:
    for row, where in read_rows(path):
        need = ("before", "after", "tests", "instruction_descriptive", "instruction_lazy")
        missing = [k for k in need if not isinstance((row or {}).get(k), str)]
        if row is None or missing:
            yield _bad(where, "missing_field:" + ",".join(missing or ["row"]))
            continue
        taxonomy = row.get("taxonomy") or {}
        tags = [str(taxonomy.get("change_kind") or ""), str(taxonomy.get("topic") or "")]
        for style in ("descriptive", "lazy"):
            yield {
                "id": f"canitedit-{row.get('id')}-{style}", "source": "canitedit",
                "instruction": row[f"instruction_{style}"], "instruction_style": style,
                "pre": row["before"], "post": row["after"], "language": "python",
                "repo": f"canitedit/{row.get('full_name') or row.get('name') or row.get('id')}",
                "license": "mit", "tests": row["tests"], "tags": [t for t in tags if t],
                "metadata": {"task_id": row.get("id"), "name": row.get("name"),
                             "libraries": list(taxonomy.get("libraries") or [])},
            }, None  # fmt: skip


def _smelly(path: Path) -> Iterator[Row]:
    if not path.is_dir():
        raise SourceError(f"{path}: smellycode needs a folder of before/after files")
    for folder in sorted({p.parent for p in path.rglob("before.*")}):
        befores = sorted(folder.glob("before.*"))
        afters = sorted(folder.glob("after.*"))
        where = str(folder.relative_to(path))
        if len(befores) != 1 or len(afters) != 1:
            yield _bad(where, "unpaired_files")
            continue
        note = folder / "instruction.txt"
        parts = list(folder.relative_to(path).parts)
        smell = parts[-2] if len(parts) > 1 else parts[-1]
        instruction = (
            note.read_text(encoding="utf-8").strip()
            if note.is_file()
            else f"Refactor this code to remove the {smell.replace('_', ' ')} smell."
        )
        yield {
            "id": f"smellycode-{_digest(where)}", "source": "smellycode",
            "instruction": instruction,
            "instruction_style": "descriptive" if note.is_file() else "lazy",
            "pre": befores[0].read_text(encoding="utf-8", errors="replace"),
            "post": afters[0].read_text(encoding="utf-8", errors="replace"),
            "language": _lang_of(befores[0].name), "repo": f"smellycode/{parts[0]}",
            "license": "GPL-3.0-only", "tests": None, "tags": ["smell", *parts[:-1]],
            "metadata": {"path": where},
        }, None  # fmt: skip


def read_source(source: str, path: Path) -> Iterator[Row]:
    """Candidates (or rejections) of ``source`` from its local files under ``path``.

    Raises:
        SourceError: ``path`` is missing, or a whole file is unreadable in its format.
    """
    path = Path(path)
    if not path.exists():
        raise SourceError(f"{source}: {path}: no such file or folder")
    if source in ("commitpackft", "editpackft"):
        return _commits(path, source)
    if source == "ocedataft":
        return _oce(path)
    if source == "canitedit":
        return _canitedit(path)
    if source == "smellycode":
        return _smelly(path)
    raise SourceError(f"unknown source {source!r}")


def download(source: str, dest: Path, *, endpoint: str | None = None) -> Path:
    """Fetch ``source`` from the Hugging Face hub into ``dest`` (needs network).

    Raises:
        SourceError: offline, unknown repository, or no ``huggingface_hub``; one line.
    """
    repo = HF_REPOS.get(source)
    if repo is None:
        raise SourceError(f"{source}: no download location (supply its files locally)")
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise SourceError(f"{source}: downloading needs huggingface_hub") from None
    try:
        got = snapshot_download(
            repo, repo_type="dataset", local_dir=str(dest), endpoint=endpoint,
            allow_patterns=["*.jsonl", "*.json", "*.parquet"], etag_timeout=5,
        )  # fmt: skip
    except Exception as exc:  # network and hub errors come in many types
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise SourceError(f"{source}: download of {repo} failed (offline?): {first}") from None
    return Path(got)


FIXTURES = Path(__file__).with_name("fixtures")
"""Small fixtures written for this project in each upstream format (not copied records)."""


def fixture_path(source: str) -> Path:
    """The shipped fixture of ``source``."""
    return FIXTURES / source
