"""Benchmark: work inference for 25 simulated authors, local pool (2 processes) against a 2-worker
Dask cluster (``dask scheduler`` + 2 ``dask worker`` processes) on the same machine.

    PYTHONPATH=src python benchmarks/scale_out.py [--authors 25] [--weeks 8] [--epochs 100]
        [--workers 2] [--seed 0] [--quick]

Both paths run the pipeline's own ``infer_labels`` (one item per author, results back to the
parent) through the runner's executors (``LocalPoolExecutor`` and ``DaskExecutor``); the labels
must be identical. With ``--repeat N`` the two paths alternate N times (the cluster idle
during the local runs) and each keeps its best time. ``dask_s`` excludes the cluster's
start-up (``dask_startup_s``: scheduler and workers launched until both are connected); the
local pool's start-up is inside ``local_s``, as it is in a run.
Target: ``overhead_ratio = (dask_s - local_s) / local_s <= 0.15``.

The model for 5,000 authors on 50 workers: ``per_item_s * items / workers + overhead``, with
``per_item_s`` measured here (core-seconds per author of this size) and with the flagship's
~35 s per author-two-years; the overhead is the measured Dask overhead per item, times the items
per worker, plus the measured start-up.

The last line is one JSON object with ``local_s, dask_s, dask_startup_s, overhead_ratio``,
``identical``, ``per_item_s`` and ``model_5000_authors_50_workers_h``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SRC = Path(__file__).resolve().parents[1] / "src"
PAPER_PER_AUTHOR_S = 35.0  # work inference per author-two-years on one core (flagship, measured)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_cluster(workers: int, logs: Path) -> tuple[str, list[subprocess.Popen[bytes]], float]:
    dask = Path(sys.executable).parent / "dask"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    t0 = time.perf_counter()
    procs: list[subprocess.Popen[bytes]] = []
    common = ["--no-dashboard"]
    out = open(logs / "cluster.log", "wb")  # noqa: SIM115 - lives as long as the cluster
    procs.append(
        subprocess.Popen(
            [str(dask), "scheduler", "--host", "127.0.0.1", "--port", str(port), *common],
            stdout=out, stderr=out, env=env,
        )
    )  # fmt: skip
    for i in range(workers):
        procs.append(
            subprocess.Popen(
                [str(dask), "worker", address, "--nthreads", "1", "--memory-limit", "0",
                 "--name", f"w{i}", "--host", "127.0.0.1", *common],
                stdout=out, stderr=out, env=env,
            )
        )  # fmt: skip
    from distributed import Client

    deadline = time.monotonic() + 180
    while True:
        try:
            client = Client(address, timeout=5, set_as_default=False)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    client.wait_for_workers(workers, timeout=180)
    client.close()
    return address, procs, time.perf_counter() - t0


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in reversed(procs):
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _same(a: Any, b: Any) -> bool:
    import numpy as np

    fields = ("keys", "authors", "samples_hours", "expected_minutes", "interval_kind")
    return all(np.array_equal(np.asarray(getattr(a, f)), np.asarray(getattr(b, f))) for f in fields)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--authors", type=int, default=25)
    ap.add_argument("--weeks", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="4 weeks, 30 epochs (smoke run)")
    ap.add_argument(
        "--repeat", type=int, default=1, help="alternate local and dask N times; keep each's best"
    )
    args = ap.parse_args(argv)
    weeks, epochs = (4, 30) if args.quick else (args.weeks, args.epochs)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = "1"

    from standard_coder.runner.dask_executor import DaskExecutor
    from standard_coder.runner.executor import LocalPoolExecutor
    from standard_coder.sch.teamsim.team import TeamSpec, load_truth, simulate_team
    from standard_coder.sch.work_inference import (
        HMMOptions,
        WorkInferenceOptions,
        histories_from_truth,
        infer_labels,
    )

    never = lambda: False  # noqa: E731
    opts = WorkInferenceOptions(hmm=HMMOptions(epochs=epochs), n_threads=1)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        spec = TeamSpec(n_authors=args.authors, weeks=weeks, alias_emails=False)
        truth = load_truth(simulate_team(tmp / "sim", spec, seed=args.seed).truth_path)
        hist = histories_from_truth(truth)
        n_items = len(hist)

        def run(executor: Any, out: str) -> tuple[Any, float]:
            t0 = time.perf_counter()
            labels = infer_labels(
                hist, opts, kind="hmm", out_dir=tmp / out, seed=args.seed,
                map_fn=lambda fn, items: executor.map(fn, items, never),
            )  # fmt: skip
            return labels, time.perf_counter() - t0

        address, procs, startup_s = _start_cluster(args.workers, tmp)
        local_times: list[float] = []
        dask_times: list[float] = []
        try:
            for i in range(max(1, args.repeat)):  # alternated: load changes hit both alike
                with LocalPoolExecutor(args.workers) as pool:
                    local_labels, took = run(pool, f"local{i}")
                local_times.append(took)
                with DaskExecutor(address) as ex:
                    dask_labels, took = run(ex, f"dask{i}")
                dask_times.append(took)
        finally:
            _stop(procs)
        local_s, dask_s = min(local_times), min(dask_times)
    identical = _same(local_labels, dask_labels)
    overhead_ratio = (dask_s - local_s) / local_s
    per_item_s = local_s * args.workers / n_items  # core-seconds per author, this size
    overhead_per_item_s = max(0.0, dask_s - local_s) * args.workers / n_items
    big_items, big_workers = 5000, 50
    per_worker = big_items / big_workers

    def model(cost_s: float) -> float:
        return (cost_s + overhead_per_item_s) * per_worker + startup_s

    model_here_h = model(per_item_s) / 3600
    model_paper_h = model(PAPER_PER_AUTHOR_S) / 3600
    laptop_h = PAPER_PER_AUTHOR_S * big_items / 3600
    rows = [
        ("items (authors)", f"{n_items}", f"{weeks} weeks, {epochs} epochs each"),
        ("local pool", f"{local_s:.2f} s", f"{args.workers} processes, start-up included"),
        ("dask", f"{dask_s:.2f} s", f"{args.workers} workers, start-up excluded"),
        ("dask start-up", f"{startup_s:.2f} s", "scheduler + workers until connected"),
        ("overhead ratio", f"{overhead_ratio:+.3f}", "target <= 0.15"),
        ("labels identical", str(identical), ""),
        ("5000 authors / 50 workers", f"{model_here_h:.2f} h", f"{per_item_s:.2f} s per item"),
        ("5000 authors / 50 workers", f"{model_paper_h:.2f} h", "35 s per author-two-years"),
        ("5000 authors / 1 core", f"{laptop_h:.1f} h", "35 s per author-two-years"),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>10}  {note}")
    result = {
        "local_s": round(local_s, 3),
        "dask_s": round(dask_s, 3),
        "dask_startup_s": round(startup_s, 3),
        "overhead_ratio": round(overhead_ratio, 4),
        "local_runs_s": [round(t, 2) for t in local_times],
        "dask_runs_s": [round(t, 2) for t in dask_times],
        "overhead_ok": overhead_ratio <= 0.15,
        "identical": identical,
        "items": n_items,
        "workers": args.workers,
        "weeks": weeks,
        "epochs": epochs,
        "per_item_s": round(per_item_s, 3),
        "dask_overhead_per_item_s": round(overhead_per_item_s, 4),
        "model_5000_authors_50_workers_h": round(model_here_h, 3),
        "model_5000_authors_50_workers_two_year_authors_h": round(model_paper_h, 3),
        "one_core_5000_two_year_authors_h": round(laptop_h, 1),
    }
    print(json.dumps(result))
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
