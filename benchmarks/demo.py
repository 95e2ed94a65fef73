"""Wall time of the out-of-the-box demo (issue 8): a first run and a no-op second run.

Runs ``python -m standard_coder demo --size default`` (``--quick``: ``--size tiny``) in a fresh
temporary folder, then again on the same folder (every stage must be skipped), and reads back
what the demo learned. Target: the first run in about 3 minutes on 2 CPU cores at the default
size; the second under 2 seconds.

    PYTHONPATH=src python benchmarks/demo.py [--quick] [--keep DIR]

Last line: JSON with size, first_run_s, rerun_s, rerun_all_skipped, cpu_count, hmm_pearson,
gap_pearson, heldout_nll, baseline_loc_heldout_nll, p_complete_by_end.
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
from typing import Any


def run_demo(out: Path, size: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run the demo CLI once; return its wall time and the finished process."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "standard_coder", "demo", "--size", size, "--output-dir", str(out)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "120"},
        check=False,
    )
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"demo exited {proc.returncode}")
    return elapsed, proc


def results(out: Path, first_s: float, rerun_s: float, rerun_log: str, size: str) -> dict[str, Any]:
    """The JSON line: timings plus the headline figures read from the demo's artifacts."""
    base = out / "sc-output"
    ev = json.loads((base / "reports" / "sch_evaluation.json").read_text())
    wi = ev.get("work_inference_pearson_vs_truth") or {}
    forecast = next(iter(sorted((base / "forecasts").glob("*_forecast.json"))), None)
    p_end = json.loads(forecast.read_text()).get("p_complete_by_end") if forecast else None
    skipped = rerun_log.count("[skip]")
    ran = rerun_log.count("[run]")
    return {
        "size": size,
        "first_run_s": round(first_s, 2),
        "rerun_s": round(rerun_s, 2),
        "rerun_all_skipped": ran == 0 and skipped == 3,
        "cpu_count": os.cpu_count(),
        "hmm_pearson": wi.get("hmm"),
        "gap_pearson": wi.get("gap"),
        "heldout_nll": ev.get("heldout_nll"),
        "baseline_loc_heldout_nll": ev.get("baseline_loc_heldout_nll"),
        "p_complete_by_end": p_end,
    }


def main() -> None:
    """Time the demo twice and print a table plus the JSON line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny size (a smoke run)")
    ap.add_argument("--keep", type=Path, help="run in this folder and keep it")
    args = ap.parse_args()
    size = "tiny" if args.quick else "default"
    with tempfile.TemporaryDirectory(prefix="sc-demo-bench-") as tmp:
        out = args.keep or Path(tmp) / "demo"
        first_s, _ = run_demo(out, size)
        rerun_s, again = run_demo(out, size)
        doc = results(out, first_s, rerun_s, again.stderr + again.stdout, size)
    print(f"{'demo size':<28}{size}")
    print(f"{'first run (s)':<28}{doc['first_run_s']:.1f}   target about 180 (default size)")
    print(f"{'second run (s)':<28}{doc['rerun_s']:.2f}   target < 2, every stage skipped")
    print(f"{'every stage skipped':<28}{doc['rerun_all_skipped']}")
    print(f"{'HMM / gap Pearson r':<28}{doc['hmm_pearson']} / {doc['gap_pearson']}")
    nll = f"{doc['heldout_nll']} / {doc['baseline_loc_heldout_nll']}"
    print(f"{'NLL model / LOC baseline':<28}{nll}")
    print(json.dumps(doc))


if __name__ == "__main__":
    main()
