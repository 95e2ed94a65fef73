"""Ctrl-C during the audio pipeline's Demucs separation, measured, windows against whole
segments: the default audio demo (Demucs's test model on the 40 s clip) is prepared once; then
``source_separation``, its outputs removed, runs again and gets a real SIGINT some seconds in, with
the default ``window_s`` ("windows") and with ``window_s = 40``, the model's whole segment (how
the stage separated before session 40, "segment"). Reported per arm and delay: the seconds from
the signal to the process's exit, the exit code, the ``[STOP]`` line, and the rerun's wall time
and ``[resume]`` line (windows continue from the finished ones; one segment starts afresh).
Where the signal lands matters (a stop waits for the Demucs call in flight), so several delays
are tried.

    PYTHONPATH=src python benchmarks/audio_stop.py                # SIGINT 1, 2 and 3 s in
    PYTHONPATH=src python benchmarks/audio_stop.py --after 3

Prints a table, then as its last line one JSON object: the runs, each arm's mean stop and rerun
seconds, and ``stop_ratio`` (segment / windows: how many times longer a stop waits).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
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


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "standard_coder", *args]


def prepare(out: Path) -> Path:
    """The default audio demo, run whole once: its config, clip and every stage's inputs."""
    done = subprocess.run(_cli("demo", "--pipeline", "audio", "--output-dir", str(out)),
                          capture_output=True, text=True, env=_env(), timeout=1800)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"the audio demo failed:\n{done.stderr}")
    return out / "pipeline_config.toml"


def measure(config: Path, after: float, window_s: float | None) -> dict[str, object]:
    """SIGINT ``after`` s into a fresh ``source_separation`` (``window_s`` None: the default),
    its outputs removed first, then the rerun that finishes it."""
    log = config.parent / "sc-output" / "logs" / "run.log"
    sets = [] if window_s is None else ["--set", f"source_separation.window_s={window_s}"]
    run = ["pipeline", "--config", str(config), "--stages", "source_separation", *sets]
    seen = log.read_text().count("stage source_separation: running") if log.exists() else 0
    # its outputs removed, the stage must run (``--force`` would not do: an interrupted forced
    # run leaves the last completed stems whole, and the rerun would skip them as up to date)
    shutil.rmtree(config.parent / "sc-output" / "audio" / "separated", ignore_errors=True)
    proc = subprocess.Popen(_cli(*run), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env())  # fmt: skip
    while not (log.exists() and log.read_text().count("stage source_separation: running") > seen):
        if proc.poll() is not None:
            raise SystemExit(f"the run ended before the separation ran:\n{proc.stderr.read()}")
        time.sleep(0.05)
    time.sleep(after)
    sent = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=900)
    stop_s = time.perf_counter() - sent
    stop = [x for x in err.splitlines() if "[STOP]" in x or "interrupted" in x]
    t0 = time.perf_counter()
    rerun = subprocess.run(_cli(*run), capture_output=True, text=True, env=_env(), timeout=1800)
    rerun_s = time.perf_counter() - t0
    resume = [x for x in rerun.stderr.splitlines() if "resum" in x or "continues" in x]
    return {
        "arm": "windows" if window_s is None else "segment",
        "after_s": after,
        "stop_s": round(stop_s, 2),
        "exit_code": proc.returncode,
        "stop_line": stop[-1].strip() if stop else "",
        "rerun_s": round(rerun_s, 2),
        "rerun_exit_code": rerun.returncode,
        "resume_line": resume[0].strip() if resume else "",
    }


def _said(run: dict[str, object]) -> str:
    """The rerun's resume line, or why it has none."""
    if run["exit_code"] == 0:
        return "(the separation finished before it looked at the stop)"
    return str(run["resume_line"] or "(starts afresh)")


def _mean(runs: list[dict[str, object]], arm: str, key: str) -> float:
    values = [float(r[key]) for r in runs if r["arm"] == arm]  # type: ignore[arg-type]
    return round(sum(values) / len(values), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--after", type=float, nargs="+", default=[1.0, 2.0, 3.0],
        help="seconds into the separation",
    )  # fmt: skip
    args = parser.parse_args()
    runs: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="sc-audio-stop-") as tmp:
        config = prepare(Path(tmp))
        for after in args.after:
            for window_s in (None, 40.0):
                runs.append(measure(config, after, window_s))
    print(f"{'arm':<8} {'SIGINT at':>9} {'to exit':>8} {'exit':>4} {'rerun':>7}  resume")
    for r in runs:
        print(f"{r['arm']!s:<8} {r['after_s']!s:>7} s {r['stop_s']!s:>6} s {r['exit_code']!s:>4} "
              f"{r['rerun_s']!s:>5} s  {_said(r)}")  # fmt: skip
    means = {arm: {k: _mean(runs, arm, k) for k in ("stop_s", "rerun_s")}
             for arm in ("windows", "segment")}  # fmt: skip
    ratio = round(means["segment"]["stop_s"] / max(means["windows"]["stop_s"], 0.01), 2)
    print(f"stop: windows {means['windows']['stop_s']} s, whole segment "
          f"{means['segment']['stop_s']} s ({ratio}x longer)")  # fmt: skip
    print(json.dumps({"runs": runs, "means": means, "stop_ratio": ratio}), flush=True)


if __name__ == "__main__":
    main()
