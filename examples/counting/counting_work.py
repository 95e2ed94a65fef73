"""Work of the counting example that runs outside the parent (in pool workers): importable by
module name, so ``ctx.map`` can pickle it. Stage wiring lives in ``counting.py``."""

from __future__ import annotations

import hashlib
import os
import random
import time
from typing import Any

from standard_coder.runner.seeding import item_seed

#: Test hooks, never part of a result or a fingerprint: a file to append "item <id>" and
#: "step <n>" lines to (counts how often work was really done), and per-item/step delays.
TRACE_ENV = "COUNTING_TRACE"
ITEM_DELAY_ENV = "COUNTING_ITEM_DELAY"
STEP_DELAY_ENV = "COUNTING_STEP_DELAY"


def trace(line: str) -> None:
    """Append one line to ``$COUNTING_TRACE`` (O_APPEND: whole lines even from many workers)."""
    path = os.environ.get(TRACE_ENV)
    if not path:
        return
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{line}\n".encode())
    finally:
        os.close(fd)


def delay(env: str) -> None:
    """Sleep ``$env`` seconds when set (lets tests hit a run mid-stage)."""
    seconds = float(os.environ.get(env) or 0)
    if seconds > 0:
        time.sleep(seconds)


def process_item(task: tuple[str, int, int]) -> dict[str, Any]:
    """One item: ``work`` rounds of sha256 from a seed derived from the item id.

    The result depends only on ``(item_id, seed, work)``, never on order or process.
    """
    item_id, seed, work = task
    delay(ITEM_DELAY_ENV)
    rng = random.Random(item_seed(seed, item_id))
    digest = rng.getrandbits(256).to_bytes(32, "big")
    for _ in range(work):
        digest = hashlib.sha256(digest).digest()
    trace(f"item {item_id}")
    return {"value": int.from_bytes(digest[:4], "big") % 1000, "digest": digest.hex()[:16]}
