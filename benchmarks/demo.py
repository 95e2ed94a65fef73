"""The out-of-the-box demo, timed: first run of the default size, then a no-op rerun.

Both runs are whole `standard-coder demo` processes (interpreter start included), in a fresh
temporary folder. Targets (issue 8): about 3 minutes for the first run on 2 CPU cores, under
2 seconds for the rerun, which must skip every stage.

    PYTHONPATH=src python benchmarks/demo.py [--quick] [--keep DIR]

Last line: JSON with demo_seconds, rerun_seconds, stages_skipped_on_rerun, size, and the
held-out metrics the run reported.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_demo(out: Path, size: str) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "standard_coder", "demo", "--output-dir", str(out), "--size", size],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ),
    )
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the tiny size (smoke run)")
    ap.add_argument("--keep", type=Path, help="run in this folder and keep it")
    args = ap.parse_args()
    size = "tiny" if args.quick else "default"
    with tempfile.TemporaryDirectory(prefix="sc-demo-bench-") as tmp:
        out = args.keep or Path(tmp) / "demo"
        first = run_demo(out, size)
        rerun = run_demo(out, size)
        base = out / "sc-output"
        events = [json.loads(x) for x in (base / "logs" / "events.jsonl").read_text().splitlines()]
        last = [e for e in events if e["run_id"] == events[-1]["run_id"]]
        skipped = sorted(e["stage"] for e in last if e["event"] == "stage_skipped")
        ev = json.loads((base / "reports" / "sch_evaluation.json").read_text())
    rows = [
        ("first run (simulate, mine, train_sch, forecast)", first, "about 180 s"),
        ("no-op rerun (every stage skipped)", rerun, "< 2 s"),
    ]
    print(f"{'demo --size ' + size:<50} {'seconds':>9}  target")
    for name, secs, target in rows:
        print(f"{name:<50} {secs:>9.2f}  {target}")
    print(f"stages skipped on rerun: {', '.join(skipped)}")
    print(
        json.dumps(
            {
                "size": size,
                "cpus": os.cpu_count(),
                "demo_seconds": round(first, 2),
                "rerun_seconds": round(rerun, 2),
                "stages_skipped_on_rerun": skipped,
                "heldout_nll": ev.get("heldout_nll"),
                "baseline_loc_heldout_nll": ev.get("baseline_loc_heldout_nll"),
                "coverage_80": ev.get("coverage_80"),
                "work_inference_pearson_vs_truth": ev.get("work_inference_pearson_vs_truth"),
            }
        )
    )


if __name__ == "__main__":
    main()
