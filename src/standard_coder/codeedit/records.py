"""The one record schema every code-edit source is normalised to, and its languages.

``EditRecord`` is the contract between the adapters (``sources.py``), the dataset stages
(``dataset.py``), the evaluator and part 2's trainers. Its JSON Schema is committed next to this
module (``edit_record.schema.json``) and a test keeps the two in step.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

LANGUAGES = ("python", "javascript", "typescript", "java", "cpp", "c", "go", "rust", "other")
"""The normalised language list (ast-edit's plan; anything else is ``other``)."""

Language = Literal["python", "javascript", "typescript", "java", "cpp", "c", "go", "rust", "other"]
InstructionStyle = Literal["commit", "lazy", "descriptive"]
Source = Literal["commitpackft", "editpackft", "ocedataft", "canitedit", "smellycode", "synthetic"]
SOURCES = ("commitpackft", "editpackft", "ocedataft", "canitedit", "smellycode", "synthetic")
EVAL_ONLY_SOURCES = frozenset({"canitedit"})
"""Benchmarks that are never trained on: the split stage sends them to ``test`` only."""

_ALIASES = {
    "py": "python", "python3": "python", "python2": "python", "py3": "python",
    "js": "javascript", "node": "javascript", "jsx": "javascript", "ecmascript": "javascript",
    "ts": "typescript", "tsx": "typescript",
    "c++": "cpp", "cc": "cpp", "cxx": "cpp", "hpp": "cpp", "h++": "cpp",
    "h": "c", "golang": "go", "rs": "rust",
}  # fmt: skip

EXTENSIONS = {
    ".py": "python", ".js": "javascript", ".mjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".tsx": "typescript", ".java": "java", ".cpp": "cpp", ".cc": "cpp",
    ".cxx": "cpp", ".hpp": "cpp", ".c": "c", ".h": "c", ".go": "go", ".rs": "rust",
}  # fmt: skip
"""File extension -> normalised language (SmellyCode's folder tree carries no language column)."""

SUFFIX = {lang: ext for ext, lang in reversed(list(EXTENSIONS.items()))}
"""Normalised language -> one file extension (for temp files the ast-grep CLI reads)."""


def normalize_language(value: str | None) -> str:
    """``"Python"``, ``"py"``, ``"C++"`` ... -> one of :data:`LANGUAGES` (unknown: ``other``)."""
    key = (value or "").strip().lower()
    key = _ALIASES.get(key, key)
    return key if key in LANGUAGES else "other"


class EditRecord(BaseModel):
    """One (instruction, pre, post) code edit from any source."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, description="stable id: <source>-<upstream id or content hash>")
    source: Source = Field(description="the upstream dataset (or synthetic codemods)")
    instruction: str = Field(min_length=1, description="what to change, in natural language")
    instruction_style: InstructionStyle = Field(
        description="commit = a commit message; lazy = terse; descriptive = spelled out"
    )
    pre: str = Field(min_length=1, description="the code before the edit")
    post: str | None = Field(description="the code after the edit (null: none given)")
    language: Language = Field(description="normalised language")
    repo: str | None = Field(description="upstream repository (splits are disjoint on it)")
    license: str | None = Field(description="SPDX-like licence of the upstream record")
    tests: str | None = Field(description="hidden tests (benchmarks only), run after `post`")
    tags: list[str] = Field(default_factory=list, description="free labels (smell, change kind)")
    metadata: dict[str, Any] = Field(
        default_factory=dict,
        description="source-specific extras (commit, upstream id, gold_action for synthetic)",
    )

    @field_validator("instruction", "pre")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("is blank")
        return v


SCHEMA_FILE = Path(__file__).with_name("edit_record.schema.json")


def record_json_schema() -> dict[str, Any]:
    """The JSON Schema of :class:`EditRecord` (what is committed as ``edit_record.schema.json``)."""
    schema = EditRecord.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://standard-coder.dev/schemas/codeedit/edit_record.schema.json"
    return schema


def committed_schema() -> dict[str, Any]:
    """The committed JSON Schema file."""
    doc: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return doc
