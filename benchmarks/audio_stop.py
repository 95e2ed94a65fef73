"""Ctrl-C during the audio demo's Demucs separation, measured: a real ``standard-coder demo
--pipeline audio`` (default size: Demucs's test model on the 40 s clip) gets a real SIGINT some
seconds into ``source_separation``; reported are the seconds from the signal to the process's
exit, the exit code, the ``[STOP]`` line, and the rerun's wall time and ``[resume]`` line. Where
the signal lands matters (a stop waits for the Demucs call in flight), so several delays are
tried, each on a fresh demo.

    PYTHONPATH=src python benchmarks/audio_stop.py                # SIGINT 2, 4 and 6 s in
    PYTHONPATH=src python benchmarks/audio_stop.py --after 12

One JSON object a line, one per delay: after_s, stop_s, exit_code, stop_line, rerun_s,
rerun_exit_code, resume_line.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), *filter(None, [env.get("PYTHONPATH")])])
    return env


def _demo(out: Path) -> list[str]:
    return [sys.executable, "-m", "standard_coder", "demo", "--pipeline", "audio",
            "--output-dir", str(out)]  # fmt: skip


def measure(out: Path, after: float) -> dict[str, object]:
    log = out / "sc-output" / "logs" / "run.log"
    proc = subprocess.Popen(
        _demo(out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env()
    )
    while not (log.exists() and "stage source_separation: running" in log.read_text()):
        if proc.poll() is not None:
            raise SystemExit(f"the demo ended before the separation ran:\n{proc.stderr.read()}")
        time.sleep(0.05)
    time.sleep(after)
    sent = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=900)
    stop_s = time.perf_counter() - sent
    stop = [x for x in err.splitlines() if "[STOP]" in x or "interrupted" in x]
    t0 = time.perf_counter()
    rerun = subprocess.run(_demo(out), capture_output=True, text=True, env=_env(), timeout=1800)
    rerun_s = time.perf_counter() - t0
    resume = [x for x in rerun.stderr.splitlines() if "resum" in x or "continues" in x]
    return {
        "stop_s": round(stop_s, 2),
        "exit_code": proc.returncode,
        "stop_line": stop[-1].strip() if stop else "",
        "rerun_s": round(rerun_s, 2),
        "rerun_exit_code": rerun.returncode,
        "resume_line": resume[0].strip() if resume else "",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--after", type=float, nargs="+", default=[2.0, 4.0, 6.0],
        help="seconds into the separation",
    )  # fmt: skip
    args = parser.parse_args()
    for after in args.after:
        with tempfile.TemporaryDirectory(prefix="sc-audio-stop-") as tmp:
            result = {"after_s": after, **measure(Path(tmp), after)}
        said = f"exit {result['exit_code']} after {result['stop_s']} s; rerun {result['rerun_s']} s"
        print(f"SIGINT {after:g} s into source_separation: {said}", file=sys.stderr)
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
