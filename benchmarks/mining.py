"""Benchmark the mine stage against PyDriller and the ``git log -p`` floor.

Generates two repositories of realistic shape with ``git fast-import`` (median 2 files and about
20 changed lines per commit; 5,000 and 20,000 commits; ``--quick``: 300 and 1,200), or takes a
real repository (``--repo PATH``). Each tool runs in its own child process so peak RSS
(``resource.getrusage``) is per tool. PyDriller runs from its own venv under
``benchmarks/.work/`` (created on first use; never a project dependency).

    PYTHONPATH=src python benchmarks/mining.py [--quick] [--repo PATH] [--workers N]

Last line: one JSON object (``ours_cps``, ``pydriller_cps``, ``git_floor_cps``,
``ours_peak_rss_mb_small``, ``ours_peak_rss_mb_large``, ...).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
PYDRILLER_VENV = WORK / "pydriller-venv"

AUTHORS = [
    ("Ada Lovelace", "ada@example.com", "+0000"),
    ("Grace Hopper", "grace@example.com", "-0500"),
    ("Linus T", "linus@example.com", "-0800"),
    ("Guido vR", "guido@example.com", "+0100"),
    ("Margaret H", "margaret@example.com", "-0400"),
    ("Ken T", "ken@example.com", "+0530"),
    ("Barbara L", "barbara@example.com", "+0900"),
    ("Dennis R", "dennis@example.com", "+1000"),
]


def _git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull)
    return env


def _line(rng: random.Random) -> str:
    words = ["value", "result", "items", "self", "data", "count", "index", "name", "node"]
    lhs, rhs = rng.choice(words), rng.choice(words)
    return f"    {lhs}_{rng.randrange(1000)} = {rhs}({rng.randrange(99)})\n"


def generate_repo(path: Path, n_commits: int, seed: int = 1) -> Path:
    """A repository of ``n_commits`` non-merge commits built with ``git fast-import``."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True, env=_git_env())
    rng = random.Random(seed)
    files: dict[str, list[str]] = {}
    for i in range(120):
        files[f"pkg{i % 8}/mod{i}.py"] = [
            f"def f{i}_{j}():\n" if j % 10 == 0 else _line(rng) for j in range(rng.randint(40, 250))
        ]
    docs = [f"docs/page{i}.md" for i in range(10)]
    proc = subprocess.Popen(
        ["git", "-C", str(path), "fast-import", "--quiet"], stdin=subprocess.PIPE, env=_git_env()
    )
    assert proc.stdin is not None
    out = proc.stdin
    ts = 1_600_000_000

    def blob(text: str) -> bytes:
        data = text.encode()
        return b"data %d\n" % len(data) + data + b"\n"

    for c in range(n_commits):
        name, email, tz = AUTHORS[rng.randrange(len(AUTHORS))] if c else AUTHORS[0]
        ts += rng.randint(60, 30000)
        parts = [
            b"commit refs/heads/main\n",
            b"mark :%d\n" % (c + 1),
            f"author {name} <{email}> {ts} {tz}\n".encode(),
            f"committer {name} <{email}> {ts + rng.randint(0, 600)} {tz}\n".encode(),
        ]
        msg = f"Change {c}: update things\n"
        parts.append(blob(msg)[:-1])
        if c:
            parts.append(b"from :%d\n" % c)
        if c == 0:
            changed = list(files)
            for d in docs:
                parts.append(f"M 100644 inline {d}\n".encode() + blob(f"# {d}\n"))
        elif rng.random() < 0.1:
            d = rng.choice(docs)
            parts.append(f"M 100644 inline {d}\n".encode() + blob(f"# {d}\n{c}\n"))
            changed = []
        else:
            k = 1
            while rng.random() < 0.45 and k < 12:
                k += 1
            if rng.random() < 0.03:
                newf = f"pkg{rng.randrange(8)}/new{c}.py"
                files[newf] = [_line(rng) for _ in range(rng.randint(10, 60))]
            changed = rng.sample(sorted(files), k)
            for f in changed:
                lines = files[f]
                at = rng.randrange(max(1, len(lines)))
                r = rng.randint(1, 6)
                lines[at : at + r] = [_line(rng) for _ in range(r + rng.randint(-1, 5))]
        for f in changed:
            parts.append(f"M 100644 inline {f}\n".encode() + blob("".join(files[f])))
        out.write(b"".join(parts) + b"\n")
    out.close()
    if proc.wait() != 0:
        raise RuntimeError("git fast-import failed")
    return path


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_ours(repo: str, db: str, workers: int) -> dict[str, Any]:
    from concurrent.futures import ProcessPoolExecutor

    from standard_coder.config.mining import FiltersSection, ReposSection
    from standard_coder.pipelines.sch_options import mine_options
    from standard_coder.sch.mining import mine_repositories

    opts = mine_options(ReposSection(), FiltersSection(), base_dir=Path(db).parent)
    map_fn = None
    pool = None
    if workers > 1:
        pool = ProcessPoolExecutor(workers)

        def map_fn(fn: Any, items: Any) -> Any:
            items = list(items)
            return zip(items, pool.map(fn, items), strict=True)

    t0, c0 = time.perf_counter(), time.process_time()
    s = mine_repositories([Path(repo)], Path(db), opts, map_fn=map_fn)
    dt = time.perf_counter() - t0
    cpu_self = time.process_time() - c0
    if pool is not None:
        pool.shutdown()
    r = s.repos[0]
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "seconds": dt,
        "cpu_seconds": cpu_self + ch.ru_utime + ch.ru_stime,
        "listed": r.commits_listed,
        "stored": r.commits_stored,
        "peak_rss_mb": _peak_rss_mb(),
        "children_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def child_pydriller(repo: str) -> dict[str, Any]:
    from pydriller import Repository  # type: ignore[import-not-found]

    t0 = time.perf_counter()
    n = files = 0
    for c in Repository(repo, only_no_merge=True).traverse_commits():
        _ = (c.hash, c.author.name, c.author.email, c.author_date, c.committer_date)
        for m in c.modified_files:
            _ = (m.new_path, m.old_path, m.added_lines, m.deleted_lines, m.diff)
            files += 1
        n += 1
    return {
        "seconds": time.perf_counter() - t0,
        "commits": n,
        "files": files,
        "peak_rss_mb": _peak_rss_mb(),
    }


def _run_child(python: str, args: list[str]) -> dict[str, Any]:
    env = os.environ.copy()
    src = str(HERE.parent / "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    proc = subprocess.run(
        [python, str(Path(__file__).resolve()), "--child", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"child {args[0]} failed:\n{proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def ensure_pydriller() -> str | None:
    py = PYDRILLER_VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PYDRILLER_VENV)], check=True)
    ok = subprocess.run([str(py), "-c", "import pydriller"], capture_output=True).returncode == 0
    if not ok:
        r = subprocess.run([str(py), "-m", "pip", "install", "-q", "pydriller"], check=False)
        if r.returncode != 0:
            return None
    return str(py)


def git_floor(repo: Path, repeat: int) -> tuple[float, float]:
    """Best of ``repeat`` (wall s, CPU s) of ``git log --no-merges -M -p > /dev/null``."""
    best, best_cpu = float("inf"), float("inf")
    for _ in range(repeat):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(
            [
                "git",
                "-C",
                str(repo),
                "log",
                "--no-merges",
                "-M",
                "-p",
                "--format=%H%x00%an%x00%ae%x00%at",
            ],
            stdout=subprocess.DEVNULL,
            check=True,
            env=_git_env(),
        )
        best = min(best, time.perf_counter() - t0)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        best_cpu = min(best_cpu, (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime))
    return best, best_cpu


def count_commits(repo: Path) -> int:
    out = subprocess.run(
        ["git", "-C", str(repo), "rev-list", "--no-merges", "--count", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
        env=_git_env(),
    )
    return int(out.stdout.strip())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small repos (300 / 1,200 commits)")
    ap.add_argument(
        "--repo", type=Path, help="a real repository instead of the small generated one"
    )
    ap.add_argument("--workers", type=int, default=1, help="worker processes for our miner")
    ap.add_argument("--skip-pydriller", action="store_true")
    ap.add_argument("--work", type=Path, default=WORK, help="scratch folder (generated repos, DBs)")
    ap.add_argument(
        "--repeat", type=int, default=3, help="runs of ours and of the floor; best kept"
    )
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, *rest = args.child
        res = (
            child_ours(rest[0], rest[1], int(rest[2]))
            if kind == "ours"
            else child_pydriller(rest[0])
        )
        print(json.dumps(res))
        return
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    n_small, n_large = (300, 1200) if args.quick else (5000, 20000)
    repeat = 1 if args.quick else max(1, args.repeat)
    t0 = time.perf_counter()
    small = args.repo.resolve() if args.repo else generate_repo(work / f"repo-{n_small}", n_small)
    large = generate_repo(work / f"repo-{n_large}", n_large, seed=2)
    gen_s = time.perf_counter() - t0
    results: dict[str, Any] = {"quick": args.quick, "generate_seconds": round(gen_s, 1)}
    rows = []
    for label, repo in (("small", small), ("large", large)):
        n = count_commits(repo)
        db = work / f"mined-{label}.sqlite"
        runs = []
        for _ in range(repeat):
            for p in work.glob(f"mined-{label}.sqlite*"):
                p.unlink()
            runs.append(_run_child(sys.executable, ["ours", str(repo), str(db), str(args.workers)]))
        ours = min(runs, key=lambda r: float(r["seconds"]))
        ours["cpu_seconds"] = min(float(r["cpu_seconds"]) for r in runs)
        ours["peak_rss_mb"] = max(float(r["peak_rss_mb"]) for r in runs)
        floor, floor_cpu = git_floor(repo, repeat)
        rows.append(
            (label, n, "ours (stage: diffs + blobs)", n / ours["seconds"], ours["peak_rss_mb"])
        )
        rows.append((label, n, "git log -p > /dev/null", n / floor, float("nan")))
        results[f"ours_cps_{label}"] = round(n / ours["seconds"], 1)
        results[f"git_floor_cps_{label}"] = round(n / floor, 1)
        results[f"ours_cpu_s_{label}"] = round(ours["cpu_seconds"], 2)
        results[f"git_floor_cpu_s_{label}"] = round(floor_cpu, 2)
        results[f"ours_peak_rss_mb_{label}"] = round(ours["peak_rss_mb"], 1)
        results[f"db_mb_{label}"] = round(db.stat().st_size / 2**20, 1)
        results[f"commits_{label}"] = n
        if label == "small" and not args.skip_pydriller:
            py = ensure_pydriller()
            if py is not None:
                pyd = _run_child(py, ["pydriller", str(repo)])
                rows.append(
                    (label, n, "PyDriller (no contents)", n / pyd["seconds"], pyd["peak_rss_mb"])
                )
                results["pydriller_cps"] = round(n / pyd["seconds"], 1)
                results["pydriller_peak_rss_mb"] = round(pyd["peak_rss_mb"], 1)
    results["ours_cps"] = results["ours_cps_small"]
    results["git_floor_cps"] = results["git_floor_cps_small"]
    results["workers"] = args.workers
    print(f"{'repo':<6} {'commits':>8}  {'tool':<30} {'commits/s':>10} {'peak RSS MB':>12}")
    for label, n, tool, cps, rss in rows:
        rss_s = "" if rss != rss else f"{rss:,.0f}"
        print(f"{label:<6} {n:>8,}  {tool:<30} {cps:>10,.0f} {rss_s:>12}")
    if "pydriller_cps" in results:
        results["ours_vs_pydriller"] = round(results["ours_cps"] / results["pydriller_cps"], 2)
    results["ours_vs_floor"] = round(results["ours_cps"] / results["git_floor_cps"], 2)
    results["ours_vs_floor_cpu"] = round(
        results["git_floor_cpu_s_small"] / results["ours_cpu_s_small"], 2
    )
    results["repeat"] = repeat
    results["rss_large_over_small"] = round(
        results["ours_peak_rss_mb_large"] / results["ours_peak_rss_mb_small"], 2
    )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
