"""Run records: ``env_stamp.json`` and ``RETENTION.txt`` in one folder per train / eval run.

:func:`run_record` writes the record when the work starts and closes it when the work ends: the
stamp's ``status`` becomes ``completed``, ``failed`` (an exception) or ``interrupted`` (a stop
request, or SIGINT), with ``ended_at`` and ``duration_s``. Only a killed process leaves a
record ``running`` with ``ended_at`` null.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from standard_coder.runner.atomic import atomic_write_text
from standard_coder.runner.envstamp import (
    build_env_stamp,
    device_name,
    finish_env_stamp,
    package_versions,
    write_env_stamp,
)

log = logging.getLogger(__name__)

VISION_PACKAGES = (
    "torch",
    "torchvision",
    "numpy",
    "scikit-learn",
    "scipy",
    "pillow",
    "tensorboard",
    "matplotlib",
    "fiftyone",
)
STAMP_KEYS = (
    "run_id",
    "kind",
    "config_hash",
    "env_hash",
    "device_kind",
    "device_name",
    "package_versions",
    "python_version",
    "seed",
    "fp16",
    "precision",
    "started_at",
    "code_version",
)
"""Fields every vision env stamp carries (the contract test checks them)."""


def write_run_record(
    run_dir: Path,
    *,
    run_id: str,
    kind: str,
    config: Mapping[str, Any],
    seed: int,
    device: str,
    retention_days: int,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``env_stamp.json`` (fp32: ``fp16 = false``) and ``RETENTION.txt``; return the stamp."""
    run_dir.mkdir(parents=True, exist_ok=True)
    now = time.time()
    stamp = build_env_stamp(
        run_id=run_id,
        config=config,
        seed=seed,
        device_kind=device,
        device_name=device_name(device),
        precision="fp32",
        started_at=now,
    )
    stamp.update(
        kind=kind,
        fp16=False,
        package_versions=package_versions(VISION_PACKAGES),
        **dict(extra or {}),
    )
    write_env_stamp(run_dir, stamp)
    expires = datetime.fromtimestamp(now, UTC) + timedelta(days=retention_days)
    atomic_write_text(
        run_dir / "RETENTION.txt",
        f"location: {run_dir}\n"
        f"ttl_days: {retention_days}\n"
        f"created: {datetime.fromtimestamp(now, UTC).isoformat(timespec='seconds')}\n"
        f"expires: {expires.isoformat(timespec='seconds')}\n"
        "after expiry: delete this folder (standard-coder gc --config FILE does; it keeps the "
        "newest record of each kind)\n",
    )
    doc: dict[str, Any] = json.loads(json.dumps(stamp, default=str))
    return doc


@dataclass
class RunRecord:
    """An open run record: its folder and the status it will be closed with.

    Attributes:
        run_dir: the record's folder.
        status: ``completed`` unless the work marks itself :meth:`interrupted` or raises.
    """

    run_dir: Path
    status: str = "completed"

    def interrupted(self) -> None:
        """The work stopped at a stop request (its state is saved): close as ``interrupted``."""
        self.status = "interrupted"


@contextmanager
def run_record(
    run_dir: Path,
    *,
    run_id: str,
    kind: str,
    config: Mapping[str, Any],
    seed: int,
    device: str,
    retention_days: int,
    extra: Mapping[str, Any] | None = None,
) -> Iterator[RunRecord]:
    """:func:`write_run_record` now; on leaving, the stamp's ``status`` (``completed``,
    ``failed`` when an exception leaves the block, ``interrupted`` for ``KeyboardInterrupt`` or
    :meth:`RunRecord.interrupted`), ``ended_at`` and ``duration_s``.

    Example:
        >>> with run_record(folder, run_id="r1", kind="train", config={}, seed=0,
        ...                 device="cpu", retention_days=90) as record:  # doctest: +SKIP
        ...     if not train():
        ...         record.interrupted()
    """
    write_run_record(
        run_dir, run_id=run_id, kind=kind, config=config, seed=seed, device=device,
        retention_days=retention_days, extra=extra,
    )  # fmt: skip
    record = RunRecord(Path(run_dir))
    try:
        yield record
    except KeyboardInterrupt:
        record.status = "interrupted"
        raise
    except BaseException:
        record.status = "failed"
        raise
    finally:
        try:
            finish_env_stamp(record.run_dir, time.time(), status=record.status)
        except (OSError, ValueError) as exc:  # the work's own result or error matters more
            log.warning("run record: cannot close %s: %s", record.run_dir, exc)
