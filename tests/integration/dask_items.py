"""A one-stage Python pipeline (loaded as ``dask_items.py:build``) for the Dask executor tests.

Each item sleeps ``SC_TEST_ITEM_S`` seconds (polling the stop request), leaves a mark file
``<i>.<pid>`` in ``SC_TEST_MARKS`` (so a test sees where and when it ran; both settings travel
in the item, as the workers do not share the pipeline's environment) and returns a value
drawn from its own seed. The stage writes every result, sorted, to ``out/results.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
from pathlib import Path
from typing import Any

from standard_coder.runner.context import StageContext
from standard_coder.runner.executor import ItemStopped, stop_requested
from standard_coder.runner.stage import Pipeline, Stage

N_ITEMS = 12


def work(item: tuple[int, int, str, float]) -> dict[str, Any]:
    i, seed, marks, item_s = item  # the pipeline's environment stays with it: items carry it
    (Path(marks) / f"{i}.{os.getpid()}").touch()
    end = time.monotonic() + item_s
    while time.monotonic() < end:
        if stop_requested():
            raise ItemStopped
        time.sleep(0.02)
    rng = random.Random(seed)
    draws = [rng.random() for _ in range(3)]
    return {"i": i, "draws": draws, "digest": hashlib.sha256(repr(draws).encode()).hexdigest()}


def run(ctx: StageContext) -> None:
    ledger = ctx.ledger("items")
    marks = os.environ["SC_TEST_MARKS"]
    item_s = float(os.environ.get("SC_TEST_ITEM_S", "0.2"))
    todo = [
        (i, ctx.seed * 1000 + i, marks, item_s)
        for i in range(N_ITEMS)
        if not ledger.is_done(str(i), "v1")
    ]
    for item, result in ctx.map(work, todo, desc="items"):
        ledger.mark_done(str(item[0]), "v1", result)
    if ctx.should_stop():
        return
    results = sorted((r for _, _, r in ledger.items()), key=lambda r: r["i"])
    if len(results) != N_ITEMS:
        raise RuntimeError(f"{len(results)} of {N_ITEMS} items done")
    out = ctx.outputs["results"]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


def build(config_path: Path, overrides: list[str]) -> Pipeline:
    base = Path(config_path).parent / "out"
    return Pipeline(
        name="dask-items",
        stages=[Stage(name="items", run=run, named_outputs={"results": base / "results.json"})],
        base_dir=base,
        seed=7,
        workers=2,
        root=Path(config_path).parent,
    )
