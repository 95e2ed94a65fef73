"""Stage manifests: pure build, validate, read and write (``stages/<stage>/manifest.json``).

A manifest is written last and atomically, so a stage that did not finish has none. Reading is
``runner.jsonfile`` plus field checks (no pydantic on the no-op path); the JSON Schema used by
``validate-manifest`` is generated from a pydantic model built on demand.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from standard_coder.runner.atomic import atomic_write_json
from standard_coder.runner.errors import CorruptStateError
from standard_coder.runner.jsonfile import JsonFileError, parse_json_object

SCHEMA_VERSION = 1

# Field names (seed v1 fields, then additions).
STAGE = "stage"
INPUTS = "inputs"
INPUTS_CHECKSUM = "inputs_checksum"
PARAMS = "params"
RUNNER_VERSION = "runner_version"
OUTPUTS = "outputs"
TIMESTAMP = "timestamp"
LAST_CHECKED_TS = "last_checked_ts"
SCHEMA = "schema_version"
FINGERPRINT = "fingerprint"
CODE_VERSION = "code_version"
OUTPUTS_CHECKSUM = "outputs_checksum"
DEVICE = "device"
INPUT_TOKENS = "input_tokens"
OUTPUT_TOKENS = "output_tokens"
DURATION_S = "duration_s"
SUMMARY = "summary"

_REQUIRED: dict[str, type | tuple[type, ...]] = {
    SCHEMA: int,
    STAGE: str,
    INPUTS: dict,
    INPUTS_CHECKSUM: str,
    PARAMS: dict,
    RUNNER_VERSION: str,
    OUTPUTS: dict,
    OUTPUTS_CHECKSUM: str,
    FINGERPRINT: str,
    CODE_VERSION: str,
    DEVICE: (str, type(None)),
    TIMESTAMP: (int, float),
    LAST_CHECKED_TS: (int, float),
}
_OPTIONAL: dict[str, type | tuple[type, ...]] = {
    INPUT_TOKENS: dict,
    OUTPUT_TOKENS: dict,
    DURATION_S: (int, float),
    SUMMARY: dict,
}


def manifest_path(base_dir: Path, stage: str) -> Path:
    """``<base_dir>/stages/<stage>/manifest.json``."""
    from standard_coder.runner.layout import RunnerLayout

    return RunnerLayout(Path(base_dir)).manifest(stage)


def build_manifest(
    *,
    stage: str,
    inputs: Mapping[str, str],
    inputs_checksum: str,
    params: Mapping[str, Any],
    runner_version: str,
    outputs: Mapping[str, str],
    outputs_checksum: str,
    fingerprint: str,
    code_version: str,
    device: str | None,
    input_tokens: Mapping[str, str] | None = None,
    output_tokens: Mapping[str, str] | None = None,
    duration_s: float | None = None,
    summary: Mapping[str, Any] | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """A manifest dict (pure: ``now`` defaults to the current time)."""
    ts = time.time() if now is None else now
    doc: dict[str, Any] = {
        SCHEMA: SCHEMA_VERSION,
        STAGE: stage,
        INPUTS: dict(inputs),
        INPUTS_CHECKSUM: inputs_checksum,
        PARAMS: dict(params),
        RUNNER_VERSION: runner_version,
        OUTPUTS: dict(outputs),
        OUTPUTS_CHECKSUM: outputs_checksum,
        FINGERPRINT: fingerprint,
        CODE_VERSION: code_version,
        DEVICE: device,
        TIMESTAMP: ts,
        LAST_CHECKED_TS: ts,
        INPUT_TOKENS: dict(input_tokens or {}),
        OUTPUT_TOKENS: dict(output_tokens or {}),
    }
    if duration_s is not None:
        doc[DURATION_S] = duration_s
    if summary:
        doc[SUMMARY] = dict(summary)
    return doc


def validate_manifest(doc: Any) -> list[str]:
    """Problems with a manifest dict, each naming the field (empty list = valid)."""
    if not isinstance(doc, dict):
        return ["(root): expected a JSON object"]
    problems = []
    for name, typ in _REQUIRED.items():
        if name not in doc:
            problems.append(f"{name}: missing")
        elif not isinstance(doc[name], typ) or isinstance(doc[name], bool):
            problems.append(f"{name}: wrong type {type(doc[name]).__name__}")
    for name, typ in _OPTIONAL.items():
        if name in doc and not isinstance(doc[name], typ):
            problems.append(f"{name}: wrong type {type(doc[name]).__name__}")
    if isinstance(doc.get(SCHEMA), int) and doc[SCHEMA] != SCHEMA_VERSION:
        problems.append(f"{SCHEMA}: unsupported version {doc[SCHEMA]} (expected {SCHEMA_VERSION})")
    return problems


def read_manifest(path: Path) -> dict[str, Any] | None:
    """The manifest at ``path``, or None when there is none.

    Raises:
        CorruptStateError: the file is not JSON or fails :func:`validate_manifest`.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        doc = parse_json_object(raw, "manifest")
    except JsonFileError as exc:
        raise CorruptStateError(path, str(exc)) from None
    problems = validate_manifest(doc)
    if problems:
        raise CorruptStateError(path, "manifest invalid: " + "; ".join(problems))
    return dict(doc)


def recorded_input(base_dir: Path, stage: str, name: str) -> str | None:
    """The sha256 the last completed run of ``stage`` recorded for its input ``name`` (named
    as manifests name inputs: relative to the pipeline's root), None when there is none (no
    run completed, the input is new, the manifest is unreadable)."""
    try:
        doc = read_manifest(manifest_path(base_dir, stage))
    except (CorruptStateError, OSError):
        return None
    digest = (doc or {}).get("inputs", {}).get(name)
    return digest if isinstance(digest, str) else None


def write_manifest(path: Path, doc: Mapping[str, Any]) -> None:
    """Validate and write atomically.

    Raises:
        ValueError: ``doc`` is not a valid manifest (a bug in the caller).
    """
    problems = validate_manifest(dict(doc))
    if problems:
        raise ValueError("refusing to write an invalid manifest: " + "; ".join(problems))
    atomic_write_json(path, dict(doc))


def json_schema() -> dict[str, Any]:
    """The manifest's JSON Schema, generated from a pydantic model (imported on demand)."""
    from pydantic import BaseModel, ConfigDict, Field

    class Manifest(BaseModel):
        """A stage manifest (``stages/<stage>/manifest.json``)."""

        model_config = ConfigDict(extra="allow", title="StageManifest")

        schema_version: int = Field(..., ge=SCHEMA_VERSION, le=SCHEMA_VERSION)
        stage: str = Field(..., min_length=1)
        inputs: dict[str, str] = Field(..., description="input name -> content checksum")
        inputs_checksum: str
        params: dict[str, Any]
        runner_version: str
        outputs: dict[str, str] = Field(..., description="output name -> content checksum")
        outputs_checksum: str
        fingerprint: str = Field(..., pattern="^[0-9a-f]{64}$")
        code_version: str
        device: str | None
        timestamp: float
        last_checked_ts: float
        input_tokens: dict[str, str] = Field(default_factory=dict)
        output_tokens: dict[str, str] = Field(default_factory=dict)
        duration_s: float | None = None
        summary: dict[str, Any] = Field(default_factory=dict)

    schema = Manifest.model_json_schema()
    schema["required"] = sorted(_REQUIRED)
    return schema


def validate_file(path: Path) -> list[str]:
    """Check one file against :func:`json_schema`; problems name the field (``jsonschema``)."""
    import jsonschema

    try:
        doc = parse_json_object(Path(path).read_bytes(), "manifest")
    except FileNotFoundError:
        return ["(file): not found"]
    except JsonFileError as exc:
        return [f"(file): {exc}"]
    validator = jsonschema.Draft202012Validator(json_schema())
    out = []
    for err in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
        where = ".".join(str(p) for p in err.absolute_path)
        if not where and err.validator == "required":
            where = str(err.message).split("'")[1] if "'" in err.message else "(root)"
        out.append(f"{where or '(root)'}: {err.message}")
    return out
