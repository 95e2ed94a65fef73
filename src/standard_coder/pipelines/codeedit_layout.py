"""Where the codeedit pipeline's files live below ``[outputs] base_dir`` (one place for all)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

STATS_FILE = "dataset_stats.json"
EVAL_FILE = "codeedit_eval.json"


@dataclass(frozen=True)
class CodeEditLayout:
    """The codeedit pipeline's output paths."""

    base_dir: Path

    @property
    def raw(self) -> Path:
        """``download = true``: one folder per source fetched from the hub."""
        return self.base_dir / "data" / "raw" / "codeedit"

    @property
    def ingested(self) -> Path:
        """``ingest``: ``<source>.jsonl`` candidates + ``rejects.json``."""
        return self.base_dir / "data" / "interim" / "codeedit" / "ingested"

    @property
    def normalized(self) -> Path:
        """``normalize``: ``<source>.jsonl`` valid, deduplicated records + ``rejects.json``."""
        return self.base_dir / "data" / "interim" / "codeedit" / "normalized"

    @property
    def processed(self) -> Path:
        """``split``: ``{train,dev,test}/<source>.jsonl`` (part 2 trains on train/dev)."""
        return self.base_dir / "data" / "processed"

    @property
    def reports(self) -> Path:
        return self.base_dir / "reports"

    @property
    def stats(self) -> Path:
        return self.reports / STATS_FILE

    @property
    def evaluation(self) -> Path:
        return self.reports / EVAL_FILE
