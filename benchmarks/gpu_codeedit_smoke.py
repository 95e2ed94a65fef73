"""The code-edit pipeline's GPU smoke run (issue 19 item 2): `demo --pipeline codeedit` on CUDA.

Runs the whole demo (data, Stage 0 SFT, ast-grep actions, Stage 1 SFT, SRL/GRPO, evaluation)
in this process with `[runner] device = "auto"` (CUDA where present), then says on which device
its training ran (CUDA memory this process allocated: 0 means nothing ran there), each training
stage's seconds (`models/<stage>.run.json`), and the demo's wall time, ending with one JSON
line. Where no CUDA is present it runs on the CPU and says so (a dry run of the script).

    python benchmarks/gpu_codeedit_smoke.py [--output-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def run_demo(out: Path) -> int:
    """`standard-coder demo --pipeline codeedit` in this process; its exit code."""
    from standard_coder.cli import main

    argv = sys.argv
    sys.argv = ["standard-coder", "demo", "--pipeline", "codeedit", "--output-dir", str(out)]
    try:
        main()
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    finally:
        sys.argv = argv
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--output-dir", type=Path, default=None, help="keep the demo's folder here")
    args = ap.parse_args(argv)
    import torch

    cuda = torch.cuda.is_available()
    out = args.output_dir or Path(tempfile.mkdtemp(prefix="codeedit_gpu_")) / "demo"
    if out.exists():
        shutil.rmtree(out)
    t0 = time.perf_counter()
    code = run_demo(out)
    wall = time.perf_counter() - t0
    result: dict[str, Any] = {
        "cuda": cuda,
        "device_name": torch.cuda.get_device_name(0) if cuda else "cpu",
        "exit_code": code,
        "wall_seconds": round(wall, 2),
        "cuda_max_memory_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1) if cuda else 0,
        "stages": {},
    }
    for run in sorted((out / "sc-output" / "models").glob("*.run.json")):
        doc = json.loads(run.read_text())
        result["stages"][doc.get("stage", run.stem)] = {
            k: doc.get(k) for k in ("train_seconds", "dropped_prompts", "seen_prompts")
        }
    where = "CUDA" if result["cuda_max_memory_mb"] > 0 else "the CPU"
    print(f"codeedit demo: exit {code} in {wall:.1f} s; its training ran on {where} "
          f"({result['cuda_max_memory_mb']} MB of CUDA memory at most)")  # fmt: skip
    for stage, figures in result["stages"].items():
        print(f"  {stage}: {figures}")
    print(json.dumps(result))
    return code


if __name__ == "__main__":
    raise SystemExit(main())
