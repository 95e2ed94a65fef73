"""The runner's own folders below ``[outputs] base_dir``, and the one ``[outputs]`` reader.

Every runner module asks :class:`RunnerLayout` for its folders instead of joining names itself,
and nothing rebuilds ``base_dir`` from a run folder's parents: a run folder's layout is
:meth:`RunnerLayout.of_run_dir`.

```text
<base_dir>/
  runs/<run_id>/          env_stamp.json, RETENTION.txt (one folder per run)
  stages/<stage>/         manifest.json, input_files.json
  checkpoints/            run_state.json, <stage>/ partial work, stale/ set-aside work
  cache/                  hashcache.sqlite, folders/ (snapshots), distributions.json
  logs/                   events.jsonl, run.log
  quarantine/             corrupt state files moved aside
  reports/                index.html (the run report)
```

Example:
    >>> layout = RunnerLayout(Path("sc-output"))
    >>> layout.manifest("train").as_posix()
    'sc-output/stages/train/manifest.json'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_BASE_DIR = "sc-output"
"""``[outputs] base_dir`` when the file gives none (relative to the pipeline file's folder)."""
DEFAULT_RETENTION_DAYS = 30
"""``[outputs] retention_days`` when the file gives none."""


@dataclass(frozen=True)
class RunnerLayout:
    """The runner's folders below one output root."""

    base_dir: Path

    @classmethod
    def of_run_dir(cls, run_dir: Path) -> RunnerLayout:
        """The layout a run folder ``<base_dir>/runs/<run_id>`` belongs to."""
        return cls(Path(run_dir).parent.parent)

    @property
    def runs(self) -> Path:
        return self.base_dir / "runs"

    def run_dir(self, run_id: str) -> Path:
        return self.runs / run_id

    @property
    def stages(self) -> Path:
        return self.base_dir / "stages"

    def stage_dir(self, stage: str) -> Path:
        return self.stages / stage

    def manifest(self, stage: str) -> Path:
        return self.stage_dir(stage) / "manifest.json"

    def input_index(self, stage: str) -> Path:
        """Per-file digests of a stage's folder inputs (only used to name a changed file)."""
        return self.stage_dir(stage) / "input_files.json"

    def code_index(self, stage: str) -> Path:
        """Per-file digests of a stage's code files (only used to name a changed file)."""
        return self.stage_dir(stage) / "code_files.json"

    @property
    def checkpoints(self) -> Path:
        return self.base_dir / "checkpoints"

    def checkpoint_dir(self, stage: str) -> Path:
        return self.checkpoints / stage

    @property
    def stale(self) -> Path:
        """Partial work of an older fingerprint, set aside (``gc`` removes it)."""
        return self.checkpoints / "stale"

    @property
    def run_state(self) -> Path:
        return self.checkpoints / "run_state.json"

    @property
    def cache(self) -> Path:
        return self.base_dir / "cache"

    @property
    def hash_cache(self) -> Path:
        return self.cache / "hashcache.sqlite"

    @property
    def dist_cache(self) -> Path:
        """Installed-distribution versions cached for env stamps."""
        return self.cache / "distributions.json"

    @property
    def logs(self) -> Path:
        return self.base_dir / "logs"

    @property
    def events(self) -> Path:
        return self.logs / "events.jsonl"

    @property
    def run_log(self) -> Path:
        return self.logs / "run.log"

    @property
    def quarantine(self) -> Path:
        return self.base_dir / "quarantine"

    @property
    def reports(self) -> Path:
        return self.base_dir / "reports"


@dataclass(frozen=True)
class OutputsSettings:
    """``[outputs]`` of a pipeline file: the output root and how long run folders are kept."""

    base_dir: Path
    retention_days: int = DEFAULT_RETENTION_DAYS


def read_outputs(data: Mapping[str, Any], config_path: Path) -> OutputsSettings:
    """``[outputs] base_dir`` and ``retention_days`` of a parsed pipeline file (the one reader).

    A relative ``base_dir`` is taken from the folder of ``config_path``.

    Raises:
        ValueError: ``[outputs]`` is not a table or holds a bad value (the message names the
            file and the key).
    """
    path = Path(config_path)
    outputs = data.get("outputs", {})
    if not isinstance(outputs, Mapping):
        raise ValueError(f"{path}: outputs: expected a table")
    base = outputs.get("base_dir", DEFAULT_BASE_DIR)
    days = outputs.get("retention_days", DEFAULT_RETENTION_DAYS)
    if not isinstance(base, str | Path) or not str(base):
        raise ValueError(f"{path}: outputs.base_dir: expected a non-empty string (got {base!r})")
    if not isinstance(days, int) or isinstance(days, bool) or days < 0:
        raise ValueError(f"{path}: outputs.retention_days: expected an integer >= 0 (got {days!r})")
    base_path = Path(base).expanduser()
    if not base_path.is_absolute():
        base_path = path.parent / base_path
    return OutputsSettings(base_path, days)


def retention_days_of(config: Mapping[str, Any]) -> int:
    """``[outputs] retention_days`` of a resolved config (the default when absent or invalid)."""
    outputs = config.get("outputs") if isinstance(config, Mapping) else None
    days = outputs.get("retention_days") if isinstance(outputs, Mapping) else None
    if isinstance(days, int) and not isinstance(days, bool) and days >= 0:
        return days
    return DEFAULT_RETENTION_DAYS
