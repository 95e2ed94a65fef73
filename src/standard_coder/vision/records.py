"""Run records: ``env_stamp.json`` and ``RETENTION.txt`` in one folder per train / eval run."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from standard_coder.runner.atomic import atomic_write_text
from standard_coder.runner.envstamp import (
    build_env_stamp,
    device_name,
    package_versions,
    write_env_stamp,
)

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
