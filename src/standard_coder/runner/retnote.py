"""The text of a run folder's ``RETENTION.txt`` and the sizes it quotes: what the full run
record (:mod:`~standard_coder.runner.retention`) and the no-op fast door
(:mod:`~standard_coder.runner.noop`) share, on ``os`` and ``stat`` only.
"""

from __future__ import annotations

import os
import stat

RETENTION_FILE = "RETENTION.txt"


def tree_size(path: str | os.PathLike[str]) -> int:
    """Bytes used by the files below ``path`` (symlinks are not followed; 0 if absent)."""
    try:
        st = os.lstat(path)
    except OSError:
        return 0
    if not stat.S_ISDIR(st.st_mode):
        return st.st_size
    total = 0
    stack = [os.fspath(path)]
    while stack:
        top = stack.pop()
        try:
            with os.scandir(top) as it:
                for entry in it:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                        else:
                            total += entry.stat(follow_symlinks=False).st_size
                    except OSError:
                        continue
        except OSError:
            continue
    return total


def human_size(n: float) -> str:
    """``1536`` -> ``1.5 KiB``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


def retention_text(run_dir: str, base_dir: str, retention_days: int, cfg: str) -> str:
    """``RETENTION.txt`` of the run folder ``run_dir`` in the output root ``base_dir``
    (sizes measured now); ``cfg`` is the config path shown in the commands (or ``FILE``)."""
    name = os.path.basename(run_dir)
    keep = "forever (retention_days = 0 removes every run but the newest successful one)"
    if retention_days > 0:
        keep = f"{retention_days} days after the run ended ([outputs] retention_days)"
    run_size = tree_size(run_dir)
    base_size = tree_size(base_dir)
    return f"""Retention of run {name}
{"=" * (len("Retention of run ") + len(name))}

This folder keeps the record of one run: env_stamp.json (config hash, code version, packages,
device, seed, times) and this note. The stage outputs themselves (models/, reports/, forecasts/,
raw data, stages/*/manifest.json) live in the output folder and are shared by every run.

Kept for:     {keep}
This run:     {human_size(run_size)} ({run_dir})
Output root:  {human_size(base_size)} ({base_dir})

What `gc` removes once expired: run folders older than the retention period, stale partial
work set aside under checkpoints/stale/, and quarantined corrupt files under quarantine/.
It never removes the latest successful artifacts: the newest successful run folder, the outputs
listed by the current stage manifests, models/ and reports/.

To delete expired data:   standard-coder gc --config {cfg}
To see what would go:     standard-coder gc --config {cfg} --dry-run
To delete everything:     remove {base_dir} by hand (nothing else refers to it).
"""
