"""Resume inside a stage, measured: the counting example run uninterrupted and with random
SIGKILLs, each followed by a rerun.

Reports total work done (items processed, steps trained) relative to the uninterrupted run,
the most work redone after one kill, whether the final outputs are byte-identical, and the
checkpoint overhead at the default interval (time in ``Checkpointer.save`` over the training
loop). Every other runner we compared (DVC, Snakemake, Metaflow, Kedro, Prefect, Dagster,
redun, ZenML) reruns an interrupted step from scratch: its "redone" column is the whole stage.

    PYTHONPATH=src python benchmarks/resume.py            # 2000 items, 300 steps, 10 kills
    PYTHONPATH=src python benchmarks/resume.py --quick    # small smoke run

The last line is one JSON object: kills, outputs_identical, redone_items_max,
redone_steps_max, checkpoint_overhead_pct (targets: true, <= one ledger batch, <= one
checkpoint interval, <= 3).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "counting" / "pipeline.toml"
WORK = ROOT / "benchmarks" / ".work" / "resume"
OUTPUTS = ("counts.jsonl", "counts_summary.json", "model.pt", "train_metrics.json")


class Bench:
    """Runs the example CLI in one output folder and reads its trace, ledger and checkpoints."""

    def __init__(self, base: Path, sets: list[str]) -> None:
        self.base = base
        self.trace = base.parent / f"{base.name}.trace"
        self.sets = [f"outputs.base_dir={base}", *sets]
        shutil.rmtree(base, ignore_errors=True)
        self.trace.unlink(missing_ok=True)

    def start(self) -> subprocess.Popen[bytes]:
        cmd = [sys.executable, "-m", "standard_coder", "pipeline", "--config", str(CONFIG)]
        for s in self.sets:
            cmd += ["--set", s]
        env = {**os.environ, "COUNTING_TRACE": str(self.trace)}
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")])
        )
        return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def lines(self) -> list[str]:
        return self.trace.read_text().splitlines() if self.trace.exists() else []

    def ledger_ids(self) -> set[str]:
        path = self.base / "checkpoints" / "count" / "items.ledger.sqlite"
        if not path.exists():
            return set()
        conn = sqlite3.connect(path)
        try:
            return {r[0] for r in conn.execute("SELECT item_id FROM items")}
        finally:
            conn.close()

    def ckpt_step(self) -> int:
        pointer = self.base / "checkpoints" / "train" / "train" / "latest"
        return int(json.loads(pointer.read_text())["step"]) if pointer.exists() else 0

    def hashes(self) -> dict[str, str]:
        out = self.base / "out"
        return {n: hashlib.sha256((out / n).read_bytes()).hexdigest() for n in OUTPUTS}

    def train_summary(self) -> dict[str, Any]:
        for line in reversed((self.base / "logs" / "events.jsonl").read_text().splitlines()):
            event = json.loads(line)
            if event["event"] == "stage_completed" and event["stage"] == "train":
                return dict(event.get("summary") or {})
        return {}


def _progress(lines: list[str]) -> tuple[int, int]:
    """(items processed, last step trained) in a trace slice."""
    items = sum(1 for x in lines if x.startswith("item "))
    steps = [int(x.split()[1]) for x in lines if x.startswith("step ")]
    return items, (steps[-1] if steps else 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, 3 kills")
    parser.add_argument("--kills", type=int, default=None, help="number of SIGKILLs (10)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with CONFIG.open("rb") as fh:
        params = tomllib.load(fh)["params"]
    sets: list[str] = []
    if args.quick:
        sets = [
            "params.count.items=300",
            "params.count.work=300",
            "params.train.steps=80",
            "params.train.checkpoint_every=10",
        ]
        params["count"]["items"], params["train"]["steps"] = 300, 80
        params["train"]["checkpoint_every"] = 10
    kills_wanted = args.kills if args.kills is not None else (3 if args.quick else 10)
    n_items, n_steps = int(params["count"]["items"]), int(params["train"]["steps"])
    batch, interval = int(params["count"]["commit_every"]), int(params["train"]["checkpoint_every"])

    # 1. uninterrupted
    ref = Bench(WORK / "uninterrupted", sets)
    t0 = time.perf_counter()
    rc = ref.start().wait()
    ref_wall = time.perf_counter() - t0
    if rc != 0:
        raise SystemExit(f"uninterrupted run failed with exit code {rc}")
    ref_items, ref_steps = _progress(ref.lines())
    summary = ref.train_summary()
    loop_s, ckpt_s = float(summary.get("loop_s", 0.0)), float(summary.get("checkpoint_s", 0.0))
    overhead_pct = 100.0 * ckpt_s / max(loop_s - ckpt_s, 1e-9)

    # 2. random SIGKILLs, each followed by a rerun, then a final run to completion
    rng = random.Random(args.seed)
    run = Bench(WORK / "killed", sets)
    kills, redone_items, redone_steps = 0, [], []
    total_work = n_items + n_steps
    t0 = time.perf_counter()
    for _ in range(kills_wanted):
        done_items = len(run.ledger_ids())
        done = done_items + run.ckpt_step()
        if done >= total_work:
            break
        target = rng.randint(done + 1, total_work)  # a random point in the remaining work
        before = len(run.lines())
        proc = run.start()
        while proc.poll() is None:
            items, step = _progress(run.lines()[before:])
            if done_items + items >= target or (step and n_items + step >= target):
                time.sleep(rng.uniform(0.0, 0.02))
                break
            time.sleep(0.002)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        new = run.lines()[before:]
        processed = {x.split()[1] for x in new if x.startswith("item ")}
        redone_items.append(len(processed - run.ledger_ids()))
        _, last = _progress(new)
        redone_steps.append(max(0, last - run.ckpt_step()))
    rc = run.start().wait()
    kill_wall = time.perf_counter() - t0
    if rc != 0:
        raise SystemExit(f"final run failed with exit code {rc}")
    all_items, _ = _progress(run.lines())
    all_steps = sum(1 for x in run.lines() if x.startswith("step "))
    identical = run.hashes() == ref.hashes()

    rows = [
        ("uninterrupted", 0, ref_items, ref_steps, ref_wall),
        (f"{kills} x SIGKILL + rerun", kills, all_items, all_steps, kill_wall),
    ]
    print(
        f"counting example: {n_items} items (ledger batch {batch}), {n_steps} steps "
        f"(checkpoint every {interval})"
    )
    print(f"{'run':<24} {'kills':>5} {'items':>7} {'x':>6} {'steps':>6} {'x':>6} {'wall s':>7}")
    for name, k, items, steps, wall in rows:
        print(
            f"{name:<24} {k:>5} {items:>7} {items / n_items:>6.3f} {steps:>6} "
            f"{steps / n_steps:>6.3f} {wall:>7.1f}"
        )
    print(
        f"redone after one kill: items max {max(redone_items, default=0)} (target <= {batch}), "
        f"steps max {max(redone_steps, default=0)} (target <= {interval})"
    )
    print(f"from-scratch rerun (other runners): up to {n_items} items or {n_steps} steps per kill")
    print(
        f"checkpoints: {summary.get('checkpoints')} saves, {ckpt_s * 1000:.1f} ms in a "
        f"{loop_s:.2f} s training loop = {overhead_pct:.2f}% overhead (target <= 3)"
    )
    print(f"outputs byte-identical (sha256 of {len(OUTPUTS)} files): {identical}")
    print(
        json.dumps(
            {
                "kills": kills,
                "outputs_identical": identical,
                "redone_items_max": max(redone_items, default=0),
                "redone_steps_max": max(redone_steps, default=0),
                "checkpoint_overhead_pct": round(overhead_pct, 3),
                "items_processed_ratio": round(all_items / n_items, 4),
                "steps_trained_ratio": round(all_steps / n_steps, 4),
                "ledger_batch": batch,
                "checkpoint_interval": interval,
                "quick": args.quick,
            }
        )
    )


if __name__ == "__main__":
    main()
