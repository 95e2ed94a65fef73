"""Pure functions that turn what a stage depends on into digests and readable differences."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any


def canonical_json(obj: Any) -> str:
    """Stable JSON text (sorted keys, no spaces, non-JSON values through ``str``)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def inputs_checksum(inputs: Mapping[str, str]) -> str:
    """One digest over ``{input name: checksum}``."""
    return hashlib.sha256(canonical_json(dict(inputs)).encode()).hexdigest()


def fingerprint(
    *,
    inputs_checksum: str,
    params: Mapping[str, Any],
    code_version: str,
    runner_version: str,
    device: str | None,
) -> str:
    """The stage fingerprint: sha256 of input checksums, params, code and runner version, device.

    ``device`` is None for stages that are not device-sensitive.
    """
    payload = {
        "inputs": inputs_checksum,
        "params": params,
        "code": code_version,
        "runner": runner_version,
        "device": device,
    }
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def code_version(files: Iterable[Path], extra: str = "") -> str:
    """Digest of source files (name and content) plus ``extra`` (e.g. a command line)."""
    digest = hashlib.sha256(extra.encode())
    for path in sorted(Path(f) for f in files):
        digest.update(f"\0{path.name}\0".encode())
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"<missing>")
    return digest.hexdigest()


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train": {"lr": 1}} -> {"train.lr": 1}``; a list of tables by index
    (``{"scenarios": [{"name": "a"}]} -> {"scenarios[0].name": "a"}``: one changed date of
    one scenario is named, not the whole list twice)."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, name + "."))
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            for i, item in enumerate(value):
                out.update(flatten(item, f"{name}[{i}].") if item else {f"{name}[{i}]": item})
        else:
            out[name] = value
    return out


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value
    return canonical_json(value)


def params_diff(
    old: Mapping[str, Any], new: Mapping[str, Any], labels: Mapping[str, str] | None = None
) -> list[str]:
    """Readable differences, e.g. ``["train.lr 0.001 -> 0.01", "k (new) -> 3"]``: changed values
    first, then keys that appeared, then keys that went (what a user changed, such as
    ``training.predictor auto -> quantile``, leads the keys that change brings or drops); a key
    (or its leading part) in ``labels`` is shown by its label (``seed`` -> ``runner.seed``)."""
    a, b = flatten(old), flatten(new)
    changed, added, removed = [], [], []
    for key in sorted(set(a) | set(b)):
        shown = _label(key, labels or {})
        if key not in a:
            added.append(f"{shown} (new) -> {_show(b[key])}")
        elif key not in b:
            removed.append(f"{shown} {_show(a[key])} -> (removed)")
        elif canonical_json(a[key]) != canonical_json(b[key]):
            was, now = _show(a[key]), _show(b[key])
            if isinstance(a[key], str) != isinstance(b[key], str):  # 200 -> "200": a type
                was, now = canonical_json(a[key]), canonical_json(b[key])  # change is seen
            changed.append(f"{shown} {was} -> {now}")
    return [*changed, *added, *removed]


def _label(key: str, labels: Mapping[str, str]) -> str:
    """``key`` with its longest labelled leading part replaced by the label."""
    parts = key.split(".")
    for n in range(len(parts), 0, -1):
        head = ".".join(parts[:n])
        if head in labels:
            return ".".join([labels[head], *parts[n:]])
        first, bracket, rest = head.partition("[")  # a list's item: scenarios[0].when
        if bracket and first in labels:
            return ".".join([labels[first] + bracket + rest, *parts[n:]])
    return key
