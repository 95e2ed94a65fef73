"""Chaos benchmark: the flagship pipeline at tiny size under kills, signals, a full disk, a
read-only folder, corrupt state files and fuzzed inputs, compared with a clean run.

Every part uses the real CLI in real subprocesses on real simulated git repositories:

* **storms** — each starts a fresh output folder and SIGKILLs the run at random times
  (chained: kill, resume, kill again, ...) until it has sent its share of kills, then lets the
  run finish; the final artefacts must equal the clean run's byte for byte. Kill times are
  drawn uniformly over the clean run's duration, so every stage is hit; after each kill no
  process of the run's group may survive (``orphans``).
* **signals** — SIGTERM and SIGINT, to the process group (what ``timeout``, systemd, CI send)
  and to the main pid: exit 128+signum with ``interrupted ... rerun to resume``, then resume.
* **disk full** — the output folder on a small tmpfs (where ``mount`` is allowed): exit 1
  saying no space is left and where, no quarantine; with space again, the rerun finishes.
* **read-only** — the finished folder bind-mounted read-only: ``pipeline`` and ``report``
  exit 2 with one line.
* **corruptions** — each state file corrupted in turn (manifest, run state, mined DB, hash
  cache, events, lock, ledger, training checkpoint); rerun until done, compare.
* **fuzz** — Hypothesis-generated configs (``status``, and a full run for a few accepted
  ones) and sprint files (``forecast-check`` and the forecast stage): every case a clean
  error (exit 2, one line, no traceback) or a correct run.

    PYTHONPATH=src python benchmarks/chaos.py            # >= 100 kills, < 15 min, 2 cores
    PYTHONPATH=src python benchmarks/chaos.py --quick    # a few minutes
    PYTHONPATH=src python benchmarks/chaos.py --kills 5 --storms 1 --fuzz 10 --no-extras

The last line is one JSON object: kills, storms, recovered, identical, orphans, tracebacks,
stuck, corruptions, corruptions_recovered, fuzz_cases, fuzz_clean_errors (and more detail).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / ".work" / "chaos"
sys.path.insert(0, str(ROOT / "src"))

#: Chaos size: the demo's tiny team (3 authors, 2 repositories) over 2 weeks instead of 5,
#: with shorter training, so a clean run takes seconds. Every stage still has several ledger
#: items (repositories, authors, feature batches) and several training checkpoints per model.
CHAOS_WEEKS = 2
SETS = [
    "training.hmm.epochs=8",
    "training.optim.epochs=4",
    "training.optim.checkpoint_every_steps=2",
    "training.label_samples_per_commit=10",
    "forecasting.n_sims=500",
]
#: Folders that record *how* a run went (times, run ids, logs), not what it produced.
VOLATILE = ("logs", "runs", "checkpoints", "cache", "quarantine", "tb", "stages")
VOLATILE_FILES = ("reports/index.html", ".lock")
VOLATILE_PREFIXES = ("reports/.cache/",)  # the report's own read cache
#: Runs are started as on a user's machine: bytecode cached (PYTHONDONTWRITEBYTECODE, set in
#: some sandboxes, would make each of the hundreds of restarts recompile the package).
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
TIMING_KEYS = frozenset({"elapsed", "duration", "wall", "generated_at", "created_at"})


class Bench:
    """Counters and notes shared by every part."""

    def __init__(self, config: Path, seed: int, verbose: bool) -> None:
        self.config = config
        self.rng = random.Random(seed)
        self.verbose = verbose
        self.counts: dict[str, Any] = {
            "kills": 0,
            "storms": 0,
            "recovered": 0,
            "identical": 0,
            "orphans": 0,
            "tracebacks": 0,
            "stuck": 0,
            "corruptions": 0,
            "corruptions_recovered": 0,
            "fuzz_cases": 0,
            "fuzz_clean_errors": 0,
            "fuzz_correct": 0,
            "fuzz_ran": 0,
            "signals": 0,
            "signals_clean": 0,
            "raw_bytes_identical": 0,
        }
        self.stages_hit: dict[str, int] = {}
        self.failures: list[str] = []
        self.clean: dict[str, str] = {}
        self.clean_raw: dict[str, str] = {}
        self.raw_differences: set[str] = set()
        self.clean_s = 0.0
        self.noop_s = 0.0

    def note(self, text: str) -> None:
        if self.verbose:
            print(text, file=sys.stderr, flush=True)

    def fail(self, text: str) -> None:
        self.failures.append(text)
        self.note(f"  FAIL {text}")

    # -- running the CLI
    def command(self, base: Path, *extra: str, sub: str = "pipeline") -> list[str]:
        sets = [x for s in [f"outputs.base_dir={base}", *SETS] for x in ("--set", s)]
        return [
            sys.executable,
            "-m",
            "standard_coder",
            sub,
            "--config",
            str(self.config),
            *sets,
            *extra,
        ]

    def start(self, base: Path, *extra: str) -> tuple[subprocess.Popen[bytes], Path]:
        log = base.parent / f"{base.name}.{time.monotonic_ns()}.stderr"
        env = {**CHILD_ENV, "PYTHONPATH": str(ROOT / "src"), "COLUMNS": "120"}
        env.setdefault("OMP_NUM_THREADS", "1")
        with log.open("wb") as fh:
            proc = subprocess.Popen(
                self.command(base, *extra),
                stdout=subprocess.DEVNULL,
                stderr=fh,
                env=env,
                start_new_session=True,
            )
        return proc, log

    def finish(
        self, proc: subprocess.Popen[bytes], log: Path, timeout: float = 600
    ) -> tuple[int, str]:
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            rc = proc.wait()
            self.fail(f"run timed out after {timeout:.0f} s ({log.name})")
        text = log.read_text(errors="replace")
        if "Traceback (most recent call last)" in text:
            self.counts["tracebacks"] += 1
            self.fail(f"traceback in {log.name}: {text.strip().splitlines()[-1][:160]}")
        return rc, text

    def run(self, base: Path, *extra: str) -> tuple[int, str]:
        return self.finish(*self.start(base, *extra))

    def resume_until_done(self, base: Path, tries: int = 3) -> tuple[bool, str]:
        """Rerun without help until exit 0; ``tries`` runs at most."""
        text = ""
        for _ in range(tries):
            rc, text = self.run(base)
            if rc == 0:
                return True, text
        return False, text

    def identical(self, base: Path, what: str) -> bool:
        got, raw = artefacts_both(base)
        if raw == self.clean_raw:
            self.counts["raw_bytes_identical"] += 1
        else:
            diff = sorted(k for k in raw if raw.get(k) != self.clean_raw.get(k))
            self.raw_differences.update(diff)
        if got == self.clean:
            return True
        diff = sorted(k for k in set(got) | set(self.clean) if got.get(k) != self.clean.get(k))
        kept = WORK / f"differs-{base.name}"  # the evidence, for whoever looks into it
        shutil.rmtree(kept, ignore_errors=True)
        shutil.copytree(base, kept, symlinks=True)
        self.fail(f"{what}: artefacts differ from the clean run: {diff[:6]} (kept in {kept})")
        return False


def _timing_key(key: str) -> bool:
    return key in TIMING_KEYS or key.endswith(("_seconds", "_s"))


def _drop_timings(doc: Any) -> Any:
    if isinstance(doc, dict):
        return {k: _drop_timings(v) for k, v in doc.items() if not _timing_key(str(k))}
    if isinstance(doc, list):
        return [_drop_timings(v) for v in doc]
    return doc


def artefacts(base: Path, *, raw: bool = False) -> dict[str, str]:
    """sha256 of every final artefact (files below ``base`` except the run's own records).

    Byte for byte (the mined DB too: mining rewrites it in canonical order once done), except
    (unless ``raw``) JSON without wall-clock timing keys (``fit_seconds``: how long a fit took
    is not what it produced).
    """
    return artefacts_both(base)[1 if raw else 0]


def artefacts_both(base: Path) -> tuple[dict[str, str], dict[str, str]]:
    """:func:`artefacts` and ``artefacts(raw=True)``, each file read once."""
    out: dict[str, str] = {}
    raw: dict[str, str] = {}
    if not base.is_dir():
        return out, raw
    for path in sorted(base.rglob("*")):
        rel = path.relative_to(base).as_posix()
        if not path.is_file() or rel.split("/", 1)[0] in VOLATILE or rel in VOLATILE_FILES:
            continue
        if rel.endswith(".tmp") or rel.startswith(VOLATILE_PREFIXES):
            continue
        data = path.read_bytes()
        raw[rel] = out[rel] = hashlib.sha256(data).hexdigest()
        if path.suffix == ".json":
            with contextlib.suppress(ValueError):
                data = json.dumps(_drop_timings(json.loads(data)), sort_keys=True).encode()
                out[rel] = hashlib.sha256(data).hexdigest()
    return out, raw


def group_alive(pgid: int) -> list[int]:
    """Live (non-zombie) processes of process group ``pgid``."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(entry))
    return pids


def running_stage(base: Path) -> str:
    """The stage the newest run was in (from ``logs/events.jsonl``), or ``startup``."""
    from standard_coder.runner.events import read_events

    events = read_events(base / "logs" / "events.jsonl")
    if not events:
        return "startup"
    run_id = events[-1].get("run_id")
    stage = "startup"
    for ev in events:
        if ev.get("run_id") != run_id:
            continue
        if ev["event"] == "stage_running":
            stage = str(ev.get("stage"))
        elif ev["event"] in ("stage_completed", "stage_skipped", "stage_failed"):
            stage = "between stages"
    return stage


# ------------------------------------------------------------------------------------ parts


def clean_run(b: Bench, reuse: bool = False) -> Path:
    base = WORK / "clean"
    timing = WORK / "clean_s.json"
    if reuse and timing.exists() and (base / "stages" / "forecast" / "manifest.json").exists():
        b.clean_s = float(json.loads(timing.read_text())["clean_s"])
    else:
        shutil.rmtree(base, ignore_errors=True)
        t0 = time.perf_counter()
        rc, text = b.run(base)
        b.clean_s = time.perf_counter() - t0
        if rc != 0:
            raise SystemExit(f"clean run failed (exit {rc}):\n{text[-2000:]}")
        timing.write_text(json.dumps({"clean_s": b.clean_s}))
    b.clean, b.clean_raw = artefacts_both(base)
    t0 = time.perf_counter()
    b.run(base)
    b.noop_s = time.perf_counter() - t0
    b.note(f"clean run {b.clean_s:.1f} s, no-op rerun {b.noop_s:.1f} s, {len(b.clean)} artefacts")
    return base


def kill_and_reap(b: Bench, proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the main pid only (its workers must follow by themselves), then count orphans."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    b.counts["kills"] += 1
    deadline = time.monotonic() + 10
    while group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = group_alive(proc.pid)
    if left:
        b.counts["orphans"] += len(left)
        b.fail(f"{len(left)} process(es) outlived a SIGKILLed run: {left}")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def storm(b: Bench, index: int, kills: int) -> None:
    """Fresh folder; kill at random points of the clean run's timeline, resuming each time."""
    base = WORK / f"storm-{index}"
    shutil.rmtree(base, ignore_errors=True)
    b.counts["storms"] += 1
    points = sorted(b.rng.uniform(0.0, b.clean_s) for _ in range(kills))
    previous, sent, runs = 0.0, 0, 0
    for point in points:
        delay = b.noop_s * 0.5 + (point - previous)  # a restart costs about a no-op rerun
        previous = point
        proc, log = b.start(base)
        runs += 1
        t0 = time.monotonic()
        while proc.poll() is None and time.monotonic() - t0 < delay:
            time.sleep(0.01)
        if proc.poll() is not None:  # finished before its kill: the rest of the kills still go
            b.finish(proc, log)
            continue
        stage = running_stage(base)
        kill_and_reap(b, proc)
        b.finish(proc, log)
        sent += 1
        b.stages_hit[stage] = b.stages_hit.get(stage, 0) + 1
    done, text = b.resume_until_done(base)
    if not done:
        b.counts["stuck"] += 1
        b.fail(f"storm {index}: did not finish after {sent} kills: {text.strip()[-300:]}")
        return
    b.counts["recovered"] += 1
    if b.identical(base, f"storm {index}"):
        b.counts["identical"] += 1
    b.note(f"storm {index}: {sent} kills over {runs} runs, recovered")
    if index > 0:
        shutil.rmtree(base, ignore_errors=True)


def signals(b: Bench) -> None:
    """SIGTERM/SIGINT to the group and to the main pid, chained like a storm: one fresh
    folder, each signal at a random point of the clean run's timeline (a restart resumes
    where the last one stopped, so later signals land in later stages), then resume until
    done and compare with the clean run. Each case must exit 128+signum with ``interrupted
    ... rerun to resume`` (or 0 when the run finished before its signal)."""
    cases = [(s, t) for s in (signal.SIGTERM, signal.SIGINT) for t in ("group", "pid")]
    b.rng.shuffle(cases)
    base = WORK / "signals"
    shutil.rmtree(base, ignore_errors=True)
    points = sorted(b.rng.uniform(0.0, b.clean_s) for _ in cases)
    previous, ok_cases = 0.0, 0
    for (signum, target), point in zip(cases, points, strict=True):
        proc, log = b.start(base)
        time.sleep(b.noop_s + (point - previous))  # a restart costs about a no-op rerun
        previous = point
        if proc.poll() is None:
            if target == "group":
                os.killpg(proc.pid, signum)
            else:
                os.kill(proc.pid, signum)
        rc, text = b.finish(proc, log)
        b.counts["signals"] += 1
        if rc == 0 or (rc == 128 + signum and "rerun to resume" in text):
            ok_cases += 1
        else:
            b.fail(f"{signum.name} to {target}: exit {rc}: {text.strip()[-200:]}")
    done, text = b.resume_until_done(base)
    if done and b.identical(base, "after SIGTERM/SIGINT"):
        b.counts["signals_clean"] += ok_cases
    elif not done:
        b.counts["stuck"] += 1
        b.fail(f"signals: did not finish: {text.strip()[-300:]}")
    shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def mounted(target: Path, *args: str) -> Iterator[str | None]:
    """Mount for the duration; yields None, or why mounting is not possible here."""
    target.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(["mount", *args, str(target)], capture_output=True, text=True)
    except OSError as exc:
        yield f"mount unavailable ({exc})"
        return
    if done.returncode != 0:
        yield f"mount not allowed here ({done.stderr.strip()})"
        return
    try:
        yield None
    finally:
        subprocess.run(["umount", "-l", str(target)], capture_output=True)


def disk_full(b: Bench, size: str = "3m") -> str:
    disk = WORK / "disk"
    with mounted(disk, "-t", "tmpfs", "-o", f"size={size}", "tmpfs") as why:
        if why:
            return f"skipped: {why}"
        base = disk / "out"
        rc, text = b.run(base)
        quarantined = (base / "quarantine").exists() and any((base / "quarantine").iterdir())
        if rc != 1 or "no space left" not in text or quarantined:
            b.fail(f"disk full: exit {rc}, quarantined={quarantined}: {text.strip()[-300:]}")
            return "failed"
        subprocess.run(["mount", "-o", "remount,size=512m", str(disk)], check=True)
        done, text = b.resume_until_done(base)
        if not done or not b.identical(base, "disk full then space"):
            b.fail(f"disk full: no clean finish with space again: {text.strip()[-300:]}")
            return "failed"
    return "ok"


def read_only(b: Bench, clean: Path) -> str:
    view = WORK / "readonly"
    with mounted(view, "--bind", str(clean)) as why:
        if why:
            return f"skipped: {why}"
        ro = subprocess.run(["mount", "-o", "remount,bind,ro", str(view)], capture_output=True)
        if ro.returncode != 0:
            return "skipped: read-only remount not allowed"
        rc, text = b.run(view, "--force")
        errors = [x for x in text.splitlines() if x.startswith("error:")]
        if rc != 2 or len(errors) != 1 or "read-only" not in errors[0]:
            b.fail(f"read-only: exit {rc}: {text.strip()[-300:]}")
            return "failed"
    return "ok"


def _garble(path: Path, rng: random.Random) -> None:
    data = bytearray(path.read_bytes())
    if len(data) < 64:
        path.write_bytes(bytes(rng.randrange(256) for _ in range(48)))
        return
    start = rng.randrange(0, max(1, len(data) // 2))
    for i in range(start, min(len(data), start + 4096)):
        data[i] = rng.randrange(256)
    path.write_bytes(bytes(data))


def _garble_row(path: Path, rng: random.Random) -> None:
    """16 random bytes in the middle of a random page after the schema page: often inside a
    row's payload (a diff, a blob), where SQLite's ``quick_check`` sees nothing wrong (the
    header stamp does); elsewhere a cell's header, which ``quick_check`` catches."""
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big") or 4096
    start = rng.randrange(1, max(2, len(data) // page)) * page + page // 2
    for i in range(start, min(len(data), start + 16)):
        data[i] = rng.randrange(256)
    path.write_bytes(bytes(data))


def _append(path: Path, data: bytes, *, fresh: bool = False) -> None:
    with path.open("wb" if fresh else "ab") as fh:
        fh.write(data)


def partial_snapshot(b: Bench) -> Path | None:
    """A folder interrupted inside ``train_sch`` after its first checkpoint (ledgers and
    training checkpoints present), made with one SIGINT."""
    from standard_coder.runner.events import read_events

    base = WORK / "partial"
    shutil.rmtree(base, ignore_errors=True)
    proc, log = b.start(base)
    deadline = time.monotonic() + max(120.0, 4 * b.clean_s)
    while proc.poll() is None and time.monotonic() < deadline:
        events = read_events(base / "logs" / "events.jsonl")
        if any(e["event"] == "checkpoint_saved" for e in events):
            proc.send_signal(signal.SIGINT)
            break
        time.sleep(0.05)
    b.finish(proc, log)
    has = list((base / "checkpoints").rglob("*.ledger.sqlite")) and list(
        (base / "checkpoints").rglob("*.pt")
    )
    return base if has else None


def corruptions(b: Bench, clean: Path) -> None:
    partial = partial_snapshot(b)

    def first(root: Path | None, pattern: str) -> Path | None:
        found = sorted(root.rglob(pattern)) if root else []
        return found[-1].relative_to(root) if found and root else None

    targets: list[tuple[str, Path | None, Path | None, Callable[[Path], object]]] = [
        ("manifest", clean, Path("stages/train_sch/manifest.json"), lambda p: _garble(p, b.rng)),
        ("run_state", clean, Path("checkpoints/run_state.json"), lambda p: _garble(p, b.rng)),
        ("mined_db", clean, Path("raw/mined_commits.sqlite"), lambda p: _garble(p, b.rng)),
        ("mined_db_row", clean, Path("raw/mined_commits.sqlite"), lambda p: _garble_row(p, b.rng)),
        (
            "hash_cache",
            clean,
            Path("cache/hashcache.sqlite"),
            lambda p: p.write_bytes(p.read_bytes()[:999]),
        ),
        (
            "events",
            clean,
            Path("logs/events.jsonl"),
            lambda p: _append(p, b'{"torn": \x00\xff'),
        ),
        ("lock", clean, Path(".lock"), lambda p: _append(p, b"\x00garbage{", fresh=True)),
        ("ledger", partial, first(partial, "*.ledger.sqlite"), lambda p: _garble(p, b.rng)),
        ("checkpoint", partial, first(partial, "*.pt"), lambda p: _garble(p, b.rng)),
    ]
    for name, source, rel, corrupt in targets:
        b.counts["corruptions"] += 1
        if source is None or rel is None or not (source / rel).exists():
            b.fail(f"corrupt {name}: no such state file to corrupt")
            continue
        base = WORK / f"corrupt-{name}"
        shutil.rmtree(base, ignore_errors=True)
        shutil.copytree(source, base, symlinks=True)
        corrupt(base / rel)
        done, text = b.resume_until_done(base)
        if done and b.identical(base, f"corrupt {name}"):
            b.counts["corruptions_recovered"] += 1
            b.note(f"corrupt {name}: recovered")
        elif not done:
            b.fail(f"corrupt {name}: stuck: {text.strip()[-300:]}")
        shutil.rmtree(base, ignore_errors=True)


# ------------------------------------------------------------------------------------ fuzz


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value:
            return "nan"
        if value in (float("inf"), float("-inf")):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
        )
    raise TypeError(type(value))


def to_toml(data: dict[str, Any]) -> str:
    """A minimal TOML writer: nested tables as ``[a.b]`` headers, leaves as values."""
    lines: list[str] = []

    def table(path: list[str], doc: dict[str, Any]) -> None:
        if path:
            lines.append("[" + ".".join(json.dumps(p) for p in path) + "]")
        for k, v in doc.items():
            if not isinstance(v, dict):
                lines.append(f"{json.dumps(k)} = {_toml_value(v)}")
        for k, v in doc.items():
            if isinstance(v, dict):
                table([*path, k], v)

    table([], data)
    return "\n".join(lines) + "\n"


def _leaves(doc: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for k, v in doc.items():
        if isinstance(v, dict) and v:
            out += _leaves(v, (*prefix, k))
        else:
            out.append((*prefix, k))
    return out


def _set_path(doc: Any, path: tuple[Any, ...], value: Any) -> None:
    for part in path[:-1]:
        doc = doc[part]
    if value is _DELETE:
        del doc[path[-1]]
    else:
        doc[path[-1]] = value


_DELETE = object()
#: Values an honest user could type: the issue's loose-type cases among them.
KNOWN_CONFIG_CASES = [
    (("runner", "seed"), True),
    (("forecasting", "n_sims"), "2000"),
    (("training", "optim", "learning_rate"), float("inf")),
    (("training", "mdn", "hidden"), []),
    (("training", "quantile", "quantiles"), [1.5]),
]


def _call(fn: Callable[[], int]) -> tuple[int | None, str]:
    """Run a CLI function in-process: (exit code or None for an escaped exception, stderr)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code: int | None = fn()
        except SystemExit as exc:
            code = int(exc.code or 0) if not isinstance(exc.code, str) else 2
        except Exception as exc:  # an escaped exception: what the user would see as a traceback
            return None, f"{type(exc).__name__}: {exc}"
    return code, err.getvalue()


def fuzz(b: Bench, clean: Path, cases: int, full_runs: int) -> None:
    import tomllib

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from standard_coder.pipelines import BUILTINS
    from standard_coder.runner import front

    raw = tomllib.loads(b.config.read_text())
    sets = dict(s.split("=", 1) for s in [f"outputs.base_dir={clean}", *SETS])
    for key, value in sets.items():
        parts = key.split(".")
        doc = raw
        for part in parts[:-1]:
            doc = doc.setdefault(part, {})
        doc[parts[-1]] = tomllib.loads(f"v = {value}")["v"] if value[:1].isdigit() else value
    for key in ("sprint_inputs_path", "historical_outcomes_path"):
        raw["forecasting"][key] = str(b.config.parent / raw["forecasting"][key])
    raw["training"]["truth_path"] = str(b.config.parent / raw["training"]["truth_path"])
    raw["repos"]["include_paths"] = [
        str(b.config.parent / p) for p in raw["repos"]["include_paths"]
    ]
    leaves = [
        *_leaves(raw),
        ("runner", "seed"),
        ("runner", "workers"),
        ("training", "optim", "learning_rate"),
        ("training", "mdn", "hidden"),
        ("forecasting", "n_sims"),
        ("nosuch",),
        ("training", "nosuch"),
    ]
    scalars = st.one_of(
        st.booleans(),
        st.integers(min_value=-(10**20), max_value=10**20),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12),
    )
    values = st.one_of(
        scalars,
        st.lists(scalars, max_size=3),
        st.dictionaries(st.sampled_from(["a", "x"]), scalars, max_size=2),
        st.just(_DELETE),
    )
    folder = WORK / "fuzz"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    accepted: list[Path] = []
    unclean: list[str] = []

    def judge(code: int | None, text: str, what: str) -> bool:
        b.counts["fuzz_cases"] += 1
        # the CLI's one line for bad input: `error: ...`, or `[FAIL] <stage>: ...` from a stage
        said = [x for x in text.splitlines() if x.startswith(("error:", "stage '", "[FAIL] "))]
        if code == 0:
            b.counts["fuzz_ran"] += 1
            return True
        if code == 2 and said and "Traceback" not in text:
            b.counts["fuzz_clean_errors"] += 1
            return False
        unclean.append(f"{what}: exit {code}: {text.strip()[-160:]}")
        if code is None:
            b.counts["tracebacks"] += 1
        return False

    def config_case(mutations: list[tuple[tuple[str, ...], Any]]) -> None:
        doc = json.loads(json.dumps(raw))
        for keys, value in mutations:
            with contextlib.suppress(KeyError, TypeError, IndexError):
                if value is not _DELETE or keys[0] in doc:
                    parent: Any = doc
                    for part in keys[:-1]:
                        parent = parent.setdefault(part, {}) if isinstance(parent, dict) else parent
                    _set_path(doc, keys, value)
        file = folder / f"config-{b.counts['fuzz_cases']}.toml"
        try:
            file.write_text(to_toml(doc), encoding="utf-8")
        except (TypeError, UnicodeEncodeError):
            return
        code, text = _call(lambda: front.main(["status", "--config", str(file)], BUILTINS))
        what = "config " + _show(mutations)
        if judge(code, text, what):
            accepted.append(file)

    for known, known_value in KNOWN_CONFIG_CASES:
        config_case([(known, known_value)])

    @settings(
        max_examples=cases,
        database=None,
        derandomize=True,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(st.tuples(st.sampled_from(leaves), values), min_size=1, max_size=3))
    def fuzz_configs(mutations: list[tuple[tuple[str, ...], Any]]) -> None:
        config_case(mutations)

    fuzz_configs()
    # Accepted configs: a few run the whole pipeline on a copy of the clean folder.
    for path in accepted[:full_runs]:
        base = WORK / "fuzz-run"
        shutil.rmtree(base, ignore_errors=True)
        shutil.copytree(clean, base, symlinks=True)
        text = path.read_text().replace(str(clean), str(base))
        path.write_text(text)
        env = {**CHILD_ENV, "PYTHONPATH": str(ROOT / "src")}
        done = subprocess.run(
            [sys.executable, "-m", "standard_coder", "pipeline", "--config", str(path)],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
        )
        if done.returncode == 0 or (done.returncode == 2 and "Traceback" not in done.stderr):
            b.counts["fuzz_correct"] += 1
        else:
            unclean.append(
                f"run of accepted {path.name}: exit {done.returncode}: {done.stderr.strip()[-200:]}"
            )
        shutil.rmtree(base, ignore_errors=True)

    # Sprint files: forecast-check, then the forecast stage on a copy of the clean folder.
    sprint = json.loads(Path(raw["forecasting"]["sprint_inputs_path"]).read_text())
    sprint_leaves = _json_leaves(sprint)
    base = WORK / "fuzz-forecast"
    shutil.rmtree(base, ignore_errors=True)
    shutil.copytree(clean, base, symlinks=True)
    json_values = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from([1e308, -1.0, 0, "", "2026-02-30", "Infinity"]),
        st.text(max_size=10),
        st.lists(st.integers(), max_size=2),
        st.just(_DELETE),
    )

    @settings(
        max_examples=max(1, cases // 3),
        database=None,
        derandomize=True,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(st.tuples(st.sampled_from(sprint_leaves), json_values), min_size=1, max_size=2))
    def fuzz_sprints(mutations: list[tuple[tuple[Any, ...], Any]]) -> None:
        doc = json.loads(json.dumps(sprint))
        for path, value in mutations:
            with contextlib.suppress(KeyError, TypeError, IndexError):
                _set_path(doc, path, value)
        file = folder / f"sprint-{b.counts['fuzz_cases']}.json"
        file.write_text(json.dumps(doc, allow_nan=True))
        over = [
            "--set",
            f"forecasting.sprint_inputs_path={file}",
            "--set",
            f"outputs.base_dir={base}",
        ]
        check = [*[x for s in SETS for x in ("--set", s)], *over]
        code_check, _ = _typer(["forecast-check", "--config", str(b.config), *check])
        code, text = _call(
            lambda: front.main(
                ["pipeline", "--config", str(b.config), "--stages", "forecast", *check], BUILTINS
            )
        )
        what = "sprint " + _show(mutations)
        judge(code, text, what)
        if (code_check == 0) != (code == 0):
            unclean.append(f"{what}: forecast-check exit {code_check} but the stage exit {code}")

    fuzz_sprints()
    shutil.rmtree(base, ignore_errors=True)
    b.counts["fuzz_correct"] += 0
    b.counts["fuzz_unclean"] = len(unclean)
    b.counts["fuzz_accepted_configs"] = len(accepted)
    for line in unclean[:8]:
        b.fail(f"fuzz: {line}")


def _show(mutations: list[tuple[tuple[Any, ...], Any]]) -> str:
    shown = [(".".join(map(str, p)), "deleted" if v is _DELETE else v) for p, v in mutations]
    return repr(shown)[:200]


def _json_leaves(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    items = (
        doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else []
    )
    for k, v in items:
        if isinstance(v, dict | list) and v:
            out += _json_leaves(v, (*prefix, k))
        else:
            out.append((*prefix, k))
    return out[:400]


def _typer(args: list[str]) -> tuple[int | None, str]:
    from typer.testing import CliRunner

    from standard_coder.cli import commands  # noqa: F401  (registers the commands)
    from standard_coder.cli.app import app

    result = CliRunner().invoke(app, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return None, f"{type(result.exception).__name__}: {result.exception}"
    return result.exit_code, result.output


# ------------------------------------------------------------------------------------ main


def prepare_inputs() -> Path:
    from dataclasses import replace

    from standard_coder.pipelines.demo import SIZES, prepare

    return prepare(WORK / "inputs", "chaos", replace(SIZES["tiny"], weeks=CHAOS_WEEKS))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a few minutes: 2 storms, 12 kills")
    ap.add_argument("--kills", type=int, default=None, help="SIGKILLs in all (default 100)")
    ap.add_argument("--storms", type=int, default=None, help="storms (default 5)")
    ap.add_argument("--fuzz", type=int, default=None, help="Hypothesis config cases (default 60)")
    ap.add_argument("--fuzz-runs", type=int, default=None, help="accepted configs run in full")
    ap.add_argument("--no-extras", action="store_true", help="storms and fuzz only")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument(
        "--reuse-clean", action="store_true", help="reuse the clean run of a previous invocation"
    )
    args = ap.parse_args()
    kills = args.kills if args.kills is not None else (12 if args.quick else 100)
    storms = args.storms if args.storms is not None else (2 if args.quick else 5)
    cases = args.fuzz if args.fuzz is not None else (20 if args.quick else 60)
    full_runs = args.fuzz_runs if args.fuzz_runs is not None else (1 if args.quick else 3)
    t0 = time.perf_counter()
    WORK.mkdir(parents=True, exist_ok=True)
    phases: dict[str, float] = {}
    mark = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        phases[name] = round(now - mark, 1)
        mark = now

    b = Bench(prepare_inputs(), args.seed, verbose=not args.quiet)
    lap("inputs")
    clean = clean_run(b, reuse=args.reuse_clean)
    lap("clean_run")
    for i in range(storms):
        storm(b, i, kills // max(1, storms) + (1 if i < kills % max(1, storms) else 0))
    lap("storms")
    extras: dict[str, str] = {}
    if not args.no_extras:
        signals(b)
        lap("signals")
        extras["disk_full"] = disk_full(b)
        lap("disk_full")
        extras["read_only"] = read_only(b, clean)
        lap("read_only")
        corruptions(b, clean)
        lap("corruptions")
    fuzz(b, clean, cases, full_runs)
    lap("fuzz")
    result = {
        **b.counts,
        **extras,
        "stages_hit": dict(sorted(b.stages_hit.items())),
        "clean_run_s": round(b.clean_s, 1),
        "wall_s": round(time.perf_counter() - t0, 1),
        "phase_s": phases,
        "raw_bytes_differ": sorted(b.raw_differences)[:10],
        "failures": b.failures[:20],
    }
    result["fuzz_clean"] = result["fuzz_clean_errors"] + result["fuzz_ran"]
    print_table(result)
    print(json.dumps(result))


def print_table(result: dict[str, Any]) -> None:
    """What was injected and how the runner came out of it, against the issue's targets."""
    rows = [
        ("SIGKILLs sent", "kills", ">= 100 at default size"),
        ("storms", "storms", ""),
        ("storms recovered without help", "recovered", "== storms"),
        ("storms identical to the clean run", "identical", "== storms"),
        ("orphan processes", "orphans", "0"),
        ("tracebacks printed", "tracebacks", "0"),
        ("runs stuck", "stuck", "0"),
        ("state files corrupted", "corruptions", ""),
        ("corruptions recovered", "corruptions_recovered", "== corruptions"),
        ("fuzz cases", "fuzz_cases", ""),
        ("fuzz cases: clean error (exit 2)", "fuzz_clean_errors", ""),
        ("fuzz cases: accepted (exit 0)", "fuzz_ran", ""),
        ("fuzz cases: clean error or correct run", "fuzz_clean", "== fuzz cases"),
    ]
    print(f"{'chaos (standard-coder)':<40} {'count':>7}  target")
    for label, key, target in rows:
        print(f"{label:<40} {result.get(key, '-')!s:>7}  {target}")


if __name__ == "__main__":
    main()
