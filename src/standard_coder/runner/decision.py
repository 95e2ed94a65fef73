"""Skip or run: :func:`decide` compares a stage's manifest with the present, cheapest test first.

Order: forced, no manifest, params, code version, runner version, device, outputs present,
input stat tokens (then content only for inputs whose stat changed), fingerprint, output
content. A :class:`Decision` carries a :class:`Reason` code (what code branches on) and a detail
(what changed); :attr:`Decision.reason` is the text that goes into ``stage_skipped`` /
``stage_cache_miss`` and ``status``. Deciding writes no file (the hash cache may learn digests).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from standard_coder.runner import manifest as mf
from standard_coder.runner.fingerprint import fingerprint, inputs_checksum, params_diff
from standard_coder.runner.gitrefs import refs_checksum
from standard_coder.runner.hashcache import HashCache, scan_path


class Reason(Enum):
    """Why a stage runs or is skipped: the code that callers branch on."""

    FORCED = "forced"
    NEW = "new"
    UNFINISHED = "unfinished"
    MANIFEST_CORRUPT = "manifest_corrupt"
    PARAMS_CHANGED = "params_changed"
    CODE_CHANGED = "code_changed"
    RUNNER_CHANGED = "runner_changed"
    DEVICE_CHANGED = "device_changed"
    OUTPUTS_MISSING = "outputs_missing"
    OUTPUTS_CHANGED = "outputs_changed"
    INPUT_CHANGED = "input_changed"
    FINGERPRINT_CHANGED = "fingerprint_changed"
    UPSTREAM_WILL_RUN = "upstream_will_run"
    UPSTREAM_MAY_CHANGE = "upstream_may_change"
    ERROR = "error"
    UP_TO_DATE = "up_to_date"
    IN_RUN_CACHE = "in_run_cache"
    CACHE_CORRUPT = "cache_corrupt"
    TOUCHED = "touched"


_TEXT: dict[Reason, str] = {
    Reason.FORCED: "forced",
    Reason.NEW: "new",
    Reason.UNFINISHED: "unfinished",
    Reason.MANIFEST_CORRUPT: "manifest corrupt",
    Reason.PARAMS_CHANGED: "params changed: {}",
    Reason.CODE_CHANGED: "code changed",
    Reason.RUNNER_CHANGED: "runner version changed: {}",
    Reason.DEVICE_CHANGED: "device changed: {}",
    Reason.OUTPUTS_MISSING: "outputs missing",
    Reason.OUTPUTS_CHANGED: "outputs changed: {}",
    Reason.INPUT_CHANGED: "input changed: {}",
    Reason.FINGERPRINT_CHANGED: "fingerprint changed",
    Reason.UPSTREAM_WILL_RUN: "upstream will run: {}",
    Reason.UPSTREAM_MAY_CHANGE: "{}",
    Reason.ERROR: "{}",
    Reason.UP_TO_DATE: "up to date",
    Reason.IN_RUN_CACHE: "would restore from cache {}",
    Reason.CACHE_CORRUPT: "cache entry corrupt {}",
    Reason.TOUCHED: "mtime changed, content same",
}

UP_TO_DATE = _TEXT[Reason.UP_TO_DATE]
TOUCHED = _TEXT[Reason.TOUCHED]


SHOWN_PARAMS = 3
"""Differing params a ``params changed`` reason lists (changed values first), then ``(and N
more)``: one setting that adds or drops a dozen keys read as if the config lost them."""


@dataclass(frozen=True)
class Decision:
    """Whether to skip a stage, why (a :class:`Reason`) and what changed (``detail``).

    Example:
        >>> Decision(False, Reason.PARAMS_CHANGED, "a: 1 -> 2").reason
        'params changed: a: 1 -> 2'
    """

    skip: bool
    code: Reason
    detail: str = ""
    input: str = ""
    """``input changed``: the input it is about, bare (``detail`` can add ``(new)``)."""

    @property
    def reason(self) -> str:
        """The text users see in events, ``status`` and the report (``code changed`` names
        its file when it is known: ``code changed: src/steps.py``)."""
        text = _TEXT[self.code]
        if "{}" not in text:
            return f"{text}: {self.detail}" if self.detail else text
        return text.format(self.detail)


@dataclass(frozen=True)
class PathSpec:
    """A declared input or output: display name (relative to the pipeline root) and path."""

    name: str
    path: Path
    git: bool = False
    key: Path | None = None
    """The file whose content stands for ``path``'s (``Stage.input_keys``): what is hashed."""


@dataclass
class Scan:
    """Checksums and stat tokens of a set of paths.

    Attributes:
        checksums: name -> content checksum.
        tokens: name -> stat token.
        files: name -> {relative file: sha256} for paths hashed in this scan.
        changed_stat: names whose stat token differed from the known one.
    """

    checksums: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    files: dict[str, dict[str, str]] = field(default_factory=dict)
    changed_stat: list[str] = field(default_factory=list)

    @property
    def checksum(self) -> str:
        """One digest over all checksums."""
        return inputs_checksum(self.checksums)


def scan(
    specs: Sequence[PathSpec],
    cache: HashCache,
    known_checksums: Mapping[str, str] | None = None,
    known_tokens: Mapping[str, str] | None = None,
) -> Scan:
    """Scan every path; a path whose token equals the known one keeps its known checksum.

    Raises:
        InputMissing: a path does not exist.
    """
    known_checksums = known_checksums or {}
    known_tokens = known_tokens or {}
    out = Scan()
    for spec in specs:
        if spec.git:
            digest = refs_checksum(spec.path)
            out.checksums[spec.name] = out.tokens[spec.name] = digest
            continue
        old_token = known_tokens.get(spec.name)
        usable = old_token if spec.name in known_checksums else None
        state = scan_path(spec.key or spec.path, cache, known_token=usable)
        out.tokens[spec.name] = state.token
        if state.checksum:
            out.checksums[spec.name] = state.checksum
            out.files[spec.name] = state.files
            if old_token is not None and old_token != state.token:
                out.changed_stat.append(spec.name)
        else:
            out.checksums[spec.name] = known_checksums[spec.name]
    return out


def _changed_file(name: str, new: Mapping[str, str], old: Mapping[str, str] | None) -> str:
    if old is None or list(new) == [""]:
        return name
    # the first differing file in sorted order, without sorting every name
    differ = [rel for rel, sha in new.items() if old.get(rel) != sha]
    differ += [rel for rel, sha in old.items() if rel not in new and sha is not None]
    return f"{name}/{min(differ)}" if differ else name


def _swap(added: Sequence[str], dropped: Sequence[str], gone: str) -> str:
    """``b (was a)``, ``b (new)`` or ``a (gone)``: the first name that came, went or both."""
    if added and dropped:
        return f"{added[0]} (was {dropped[0]})"
    return f"{added[0]} (new)" if added else f"{dropped[0]} ({gone})"


def decide(
    manifest: Mapping[str, Any] | None,
    *,
    forced: bool,
    params: Mapping[str, Any],
    code_version: str,
    runner_version: str,
    device: str | None,
    inputs: Sequence[PathSpec],
    outputs: Sequence[PathSpec],
    cache: HashCache,
    old_files: Callable[[], Mapping[str, Mapping[str, str]]] = dict,
    param_labels: Mapping[str, str] | None = None,
    code_change: Callable[[], str] = str,
) -> tuple[Decision, Scan | None, Scan | None]:
    """Decide whether the stage can be skipped.

    Args:
        manifest: the stage's last manifest (None: never completed).
        forced: ``--force`` selected the stage.
        params, code_version, runner_version, device: the present values.
        inputs, outputs: declared paths.
        cache: the hash cache used for any content check.
        old_files: loads the per-file index of the last run (only to name a changed file).
        param_labels: how the reason names params (``Stage.param_labels``).
        code_change: names the code file that changed, or "" (only called when the code
            version differs).

    Returns:
        ``(decision, input_scan, output_scan)``; the scans are None when not reached.
    """
    if forced:
        return Decision(False, Reason.FORCED), None, None
    if manifest is None:
        return Decision(False, Reason.NEW), None, None
    diff = params_diff(manifest[mf.PARAMS], params, param_labels)
    if diff:
        shown = "; ".join(diff[:SHOWN_PARAMS])  # a switch that brings or drops a dozen keys
        more = f" (and {len(diff) - SHOWN_PARAMS} more)" if len(diff) > SHOWN_PARAMS else ""
        return Decision(False, Reason.PARAMS_CHANGED, shown + more), None, None
    if manifest[mf.CODE_VERSION] != code_version:
        return Decision(False, Reason.CODE_CHANGED, code_change()), None, None
    if manifest[mf.RUNNER_VERSION] != runner_version:
        change = f"{manifest[mf.RUNNER_VERSION]} -> {runner_version}"
        return Decision(False, Reason.RUNNER_CHANGED, change), None, None
    if manifest[mf.DEVICE] != device:
        change = f"{manifest[mf.DEVICE]} -> {device}"
        return Decision(False, Reason.DEVICE_CHANGED, change), None, None
    if set(manifest[mf.OUTPUTS]) != {o.name for o in outputs}:
        said = _swap(sorted({o.name for o in outputs} - set(manifest[mf.OUTPUTS])),
                     sorted(set(manifest[mf.OUTPUTS]) - {o.name for o in outputs}),
                     "no longer declared")  # fmt: skip
        return Decision(False, Reason.OUTPUTS_CHANGED, said), None, None
    for out in outputs:
        if not os.path.exists(out.path):
            return Decision(False, Reason.OUTPUTS_MISSING, out.name), None, None
    old_inputs: Mapping[str, str] = manifest[mf.INPUTS]
    now_names = {i.name for i in inputs}
    added, dropped = sorted(now_names - set(old_inputs)), sorted(set(old_inputs) - now_names)
    if added or dropped:  # another input in place of one (a model of another predictor)
        said = _swap(added, dropped, "no longer read")
        about = added[0] if added else dropped[0]
        return Decision(False, Reason.INPUT_CHANGED, said, about), None, None
    in_scan = scan(inputs, cache, old_inputs, manifest.get(mf.INPUT_TOKENS))
    for spec in inputs:
        if in_scan.checksums[spec.name] != old_inputs[spec.name]:
            where = _changed_file(
                spec.name, in_scan.files.get(spec.name, {}), old_files().get(spec.name)
            )
            return Decision(False, Reason.INPUT_CHANGED, where, where), in_scan, None
    current = fingerprint(
        inputs_checksum=in_scan.checksum,
        params=params,
        code_version=code_version,
        runner_version=runner_version,
        device=device,
    )
    if current != manifest[mf.FINGERPRINT]:
        return Decision(False, Reason.FINGERPRINT_CHANGED), in_scan, None
    out_scan = scan(outputs, cache, manifest[mf.OUTPUTS], manifest.get(mf.OUTPUT_TOKENS))
    for spec in outputs:
        if out_scan.checksums[spec.name] != manifest[mf.OUTPUTS][spec.name]:
            return Decision(False, Reason.OUTPUTS_CHANGED, spec.name), in_scan, out_scan
    touched = in_scan.changed_stat or out_scan.changed_stat
    return Decision(True, Reason.TOUCHED if touched else Reason.UP_TO_DATE), in_scan, out_scan
