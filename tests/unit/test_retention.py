"""Retention note and gc on a realistic output folder (real files, old timestamps)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from reportfix import DAY, make_base_dir, make_run

from standard_coder.runner.retention import (
    RETENTION_FILE,
    apply_gc,
    human_size,
    plan_gc,
    tree_size,
    write_retention_note,
)

CLI = [
    sys.executable,
    "-c",
    "import sys, standard_coder.cli.runs; from standard_coder.cli import main; main()",
]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, timeout=120)


def _snapshot(base: Path) -> dict[str, int]:
    return {str(p.relative_to(base)): p.stat().st_size for p in base.rglob("*") if p.is_file()}


def _latest_artifacts(base: Path, paths: dict) -> list[Path]:
    keep = [*paths["outputs"].values(), paths["latest"] / "env_stamp.json"]
    keep += [p for p in (base / "stages").rglob("*") if p.is_file()]
    keep += [p for p in (base / "models").rglob("*") if p.is_file()]
    keep += [p for p in (base / "reports").rglob("*") if p.is_file()]
    keep += [p for p in (base / "tb").rglob("*") if p.is_file()]
    return keep


def test_gc_removes_expired_stale_quarantine_but_never_latest(tmp_path: Path) -> None:
    base = tmp_path / "out"
    paths = make_base_dir(base)
    keep = _latest_artifacts(base, paths)
    before = {p: p.read_bytes() for p in keep}
    plan = plan_gc(base, retention_days=30)
    removed = {i.path for i in plan.remove}
    assert removed == {
        paths["old"].resolve(),
        paths["failed"].resolve(),
        paths["stale"].resolve(),
        next((base / "quarantine").iterdir()).resolve(),
    }
    assert plan.bytes_to_free == sum(tree_size(p) for p in removed) > 8192
    freed = apply_gc(plan)
    assert freed == plan.bytes_to_free
    assert not paths["old"].exists() and not paths["failed"].exists()
    assert not paths["stale"].exists() and list((base / "quarantine").iterdir()) == []
    for p, data in before.items():
        assert p.read_bytes() == data, p
    # A second gc finds nothing more.
    assert plan_gc(base, retention_days=30).remove == []


def test_newest_successful_run_survives_any_retention(tmp_path: Path) -> None:
    base = tmp_path / "out"
    paths = make_base_dir(base)
    plan = plan_gc(base, retention_days=0, now=time.time() + 3650 * DAY)
    apply_gc(plan)
    assert [p.name for p in (base / "runs").iterdir()] == [paths["latest"].name]
    assert all(p.exists() for p in paths["outputs"].values())
    assert any(i.reason == "newest successful run" for i in plan.keep)


def test_recent_runs_and_runs_in_progress_are_kept(tmp_path: Path) -> None:
    """A run without an end time is in progress while another process holds the output
    folder's lock; with none (it was killed) it expires as any run, even the newest (gc said
    "run in progress" of a killed run with retention_days = 0)."""
    import subprocess
    import sys

    base = tmp_path / "out"
    make_base_dir(base)
    now = time.time()
    recent = make_run(base, "recent-failed", now - 2 * DAY, status="failed")
    running = make_run(base, "in-progress", now - 60, finish=False)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom standard_coder.runner.lock import RunLock\n"
         f"RunLock({str(base)!r}).acquire()\nprint('held', flush=True)\ntime.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        plan = plan_gc(base, retention_days=30, now=now)
        # days later (as gc sees it), a run started with the live holder's lock is still its
        # own run in progress; one without an end started before it was killed
        long_run = make_run(base, "long-training", time.time(), finish=False)
        killed = make_run(base, "killed-before", time.time() - 2 * DAY, finish=False)
        later = plan_gc(base, retention_days=0, now=time.time() + 3 * DAY)
    finally:
        holder.kill()
        holder.wait()
    kept = {i.path.name: i.reason for i in plan.keep}
    assert "days old" in kept["recent-failed"]
    assert "in progress" in kept["in-progress"]
    assert recent.resolve() not in {i.path for i in plan.remove}
    assert running.resolve() not in {i.path for i in plan.remove}
    kept_later = {i.path.name: i.reason for i in later.keep}
    assert kept_later["long-training"] == "run in progress (no end time yet)", kept_later
    removed = {i.path.name: i.reason for i in later.remove}
    assert removed["killed-before"].endswith("(killed)") and killed.name in removed
    assert long_run.resolve() not in {i.path for i in later.remove}
    # its process is gone: killed, not in progress
    plan = plan_gc(base, retention_days=0, now=now)
    gone = {i.path.name: i.reason for i in plan.remove}
    assert gone["in-progress"].endswith("it ended without recording its end (killed)"), gone


def test_manifest_output_inside_expired_run_is_protected(tmp_path: Path) -> None:
    base = tmp_path / "out"
    paths = make_base_dir(base)
    mpath = base / "stages" / "mine" / "manifest.json"
    doc = json.loads(mpath.read_text())
    doc["outputs"] = {f"runs/{paths['old'].name}/run.log": "ab" * 32}
    mpath.write_text(json.dumps(doc))
    plan = plan_gc(base, retention_days=30)
    assert paths["old"].resolve() not in {i.path for i in plan.remove}
    assert any(i.reason.startswith("protected") for i in plan.keep)


def test_apply_refuses_paths_outside_base(tmp_path: Path) -> None:
    base = tmp_path / "out"
    make_base_dir(base)
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me")
    plan = plan_gc(base, retention_days=30)
    from standard_coder.runner.retention import GcItem

    plan.remove.append(GcItem(victim, "stale", 7, "bogus"))
    with pytest.raises(ValueError, match="outside"):
        apply_gc(plan)
    assert victim.read_text() == "keep me"


def test_retention_note(tmp_path: Path) -> None:
    base = tmp_path / "out"
    paths = make_base_dir(base)
    cfg = tmp_path / "pipeline.toml"
    note = write_retention_note(paths["latest"], 14, config_path=cfg)
    text = note.read_text()
    assert note.name == RETENTION_FILE
    assert "14 days" in text and "retention_days" in text
    assert f"standard-coder gc --config {cfg}" in text and "--dry-run" in text
    assert human_size(tree_size(base)).split()[1] in text
    assert str(base) in text and "env_stamp.json" in text
    assert "forever" in write_retention_note(paths["latest"], 0).read_text()


@pytest.mark.parametrize("kind", ["flagship", "command"])
def test_gc_cli_dry_run_then_real(tmp_path: Path, kind: str) -> None:
    base = tmp_path / "out"
    paths = make_base_dir(base)
    cfg = tmp_path / "pipeline.toml"
    text = '[outputs]\nbase_dir = "out"\nretention_days = 30\n'
    if kind == "command":
        text += '\n[[stages]]\nname = "a"\ncmd = ["true"]\n'
    cfg.write_text(text)
    snap = _snapshot(base)
    r = cli("gc", "--config", str(cfg), "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "would remove" in r.stdout and paths["old"].name in r.stdout
    assert "KiB" in r.stdout and _snapshot(base) == snap
    r = cli("gc", "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    assert "Removed 4 item(s)" in r.stdout
    assert not paths["old"].exists() and paths["latest"].exists()


def test_gc_cli_bad_config_exits_2(tmp_path: Path) -> None:
    r = cli("gc", "--config", str(tmp_path / "nope.toml"))
    assert r.returncode == 2 and "not found" in r.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text('[[stages]]\nname="a"\n[outputs]\nretention_days = "x"\n')
    r = cli("gc", "--config", str(bad))
    assert r.returncode == 2 and "retention_days" in r.stderr and "Traceback" not in r.stderr


def test_gc_waits_for_a_running_run_exit_3(tmp_path: Path) -> None:
    from standard_coder.runner.lock import RunLock

    base = tmp_path / "out"
    paths = make_base_dir(base)
    cfg = tmp_path / "p.toml"
    cfg.write_text('[outputs]\nbase_dir = "out"\n\n[[stages]]\nname = "a"\ncmd = ["true"]\n')
    with RunLock(base):
        r = cli("gc", "--config", str(cfg))
        assert r.returncode == 3 and "locked" in r.stderr
        assert paths["old"].exists()
        assert cli("gc", "--config", str(cfg), "--dry-run").returncode == 0  # no lock needed
    assert cli("gc", "--config", str(cfg)).returncode == 0
    assert not paths["old"].exists()


def test_report_cli(tmp_path: Path) -> None:
    base = tmp_path / "out"
    make_base_dir(base)
    cfg = tmp_path / "p.toml"
    cfg.write_text('[outputs]\nbase_dir = "out"\nretention_days = 9\n')  # flagship schema
    r = cli("report", "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    assert Path(r.stdout.strip()) == base / "reports" / "index.html"
    cfg.write_text('[outputs]\nbase_dir = "missing"\n')
    r = cli("report", "--config", str(cfg))
    assert r.returncode == 2 and "not found" in r.stderr


def _backdate_note(path: Path, days: int) -> None:
    """Move the ``created:``/``expires:`` times of a vision ``RETENTION.txt`` ``days`` back."""
    from datetime import datetime, timedelta

    lines = []
    for line in path.read_text().splitlines():
        key, _, value = line.partition(": ")
        if key in ("created", "expires"):
            line = f"{key}: {(datetime.fromisoformat(value) - timedelta(days=days)).isoformat()}"
        lines.append(line)
    path.write_text("\n".join(lines) + "\n")


def _vision_records(base: Path, ttl_days: int) -> dict[str, Path]:
    """A vision output folder's run records, written by the vision pipeline's own writer: two
    train and two evaluate records (a day apart), two eval-only results, two ``eval`` results
    of the flagship (metrics only, no stamp)."""
    from standard_coder.pipelines.vision_layout import VisionLayout
    from standard_coder.vision.records import write_run_record

    layout = VisionLayout(base)
    out: dict[str, Path] = {}
    for age, tag in ((3, "old"), (2, "new")):
        for kind, root in (("train", layout.runs), ("evaluate", layout.runs),
                           ("eval", layout.eval_runs)):  # fmt: skip
            run = f"2026010{age}-000000-{tag}"
            folder = root / (f"{kind}-{run}" if kind != "eval" else f"vision-{run}")
            write_run_record(folder, run_id=run, kind=kind, config={"x": 1}, seed=0,
                             device="cpu", retention_days=ttl_days)  # fmt: skip
            (folder / "metrics.json").write_text('{"accuracy": 0.5}')
            stamp = json.loads((folder / "env_stamp.json").read_text())
            stamp["started_at"] = time.time() - age * DAY  # a day apart
            (folder / "env_stamp.json").write_text(json.dumps(stamp))
            _backdate_note(folder / RETENTION_FILE, age)
            out[f"{kind}-{tag}"] = folder
        flagship = layout.eval_runs / f"2026010{age}-000000-{tag}abcd"
        flagship.mkdir(parents=True)
        (flagship / "metrics.json").write_text('{"spearman_sch": 0.5}')
        os.utime(flagship, (time.time() - age * DAY, time.time() - age * DAY))
        out[f"sch-eval-{tag}"] = flagship
    return out


def test_gc_expires_vision_records_by_their_own_ttl_and_keeps_the_newest_of_each_kind(
    tmp_path: Path,
) -> None:
    base = tmp_path / "out"
    rec = _vision_records(base, ttl_days=90)
    # within the records' 90-day TTL and outputs' 30 days: nothing goes, all are accounted for
    plan = plan_gc(base, retention_days=30)
    assert plan.remove == []
    kept = {i.path: i for i in plan.keep}
    assert set(rec.values()) <= set(kept)
    assert "newest train record in vision_runs/" in kept[rec["train-new"]].reason
    assert "expires in 87.0 days by its RETENTION.txt" in kept[rec["train-old"]].reason
    # 40 days on: the flagship's old eval result is past [outputs] retention_days (no note of
    # its own), the vision records are not (their note says 90 days)
    plan = plan_gc(base, retention_days=30, now=time.time() + 40 * DAY)
    assert [i.path for i in plan.remove] == [rec["sch-eval-old"]]
    assert plan.remove[0].kind == "expired_record"
    # 100 days on: every older record goes, the newest of each kind stays, sizes are counted
    plan = plan_gc(base, retention_days=30, now=time.time() + 100 * DAY)
    gone = {i.path for i in plan.remove}
    assert gone == {rec[f"{k}-old"] for k in ("train", "evaluate", "eval", "sch-eval")}
    assert plan.bytes_to_free == sum(tree_size(p) for p in gone) > 0
    by_note = [i for i in plan.remove if i.path != rec["sch-eval-old"]]
    assert len(by_note) == 3 and all("by its RETENTION.txt" in i.reason for i in by_note)
    apply_gc(plan)
    assert all(not p.exists() for p in gone)
    assert all(rec[f"{k}-new"].is_dir() for k in ("train", "evaluate", "eval", "sch-eval"))


def test_gc_cli_removes_expired_vision_records(tmp_path: Path) -> None:
    base = tmp_path / "out"
    rec = _vision_records(base, ttl_days=0)  # expired as soon as written
    cfg = tmp_path / "vision.toml"
    cfg.write_text('[pipeline]\nname = "vision"\n[outputs]\nbase_dir = "out"\n')
    r = cli("gc", "--config", str(cfg), "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "would remove" in r.stdout and "expired_record" in r.stdout
    for k in ("train", "evaluate", "eval"):
        assert rec[f"{k}-old"].name in r.stdout and rec[f"{k}-old"].is_dir()
    assert f"keeping vision_runs/{rec['train-new'].name}: newest train record" in r.stdout
    r = cli("gc", "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    assert "Removed 3 item(s)" in r.stdout  # the flagship's eval results are 2 and 3 days old
    assert not any(rec[f"{k}-old"].exists() for k in ("train", "evaluate", "eval"))
    assert all(rec[f"{k}-new"].is_dir() for k in ("train", "evaluate", "eval", "sch-eval"))


def test_gc_removes_an_expired_records_companions_with_it(tmp_path: Path) -> None:
    """An eval record's TensorBoard folder (``tb/eval-<run>/``, listed in its stamp's
    ``companions``) goes when the record expires; the newest record's stays, and a companion
    naming something outside the output root, a record folder or a link is never followed."""
    base = tmp_path / "out"
    rec = _vision_records(base, ttl_days=1)
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "keep.txt").write_text("x")
    (base / "tb" / "vision").mkdir(parents=True)
    (base / "tb" / "link").symlink_to(outside)
    for tag in ("old", "new"):
        record = rec[f"eval-{tag}"]
        tb = base / "tb" / f"eval-{record.name}"
        tb.mkdir(parents=True)
        (tb / "events.out.tfevents.1").write_bytes(b"\0" * 100)
        stamp = json.loads((record / "env_stamp.json").read_text())
        stamp["companions"] = [
            f"tb/eval-{record.name}",
            "../precious",
            "tb/link",
            "eval",
            "",
            str(outside),
            "vision_runs",
            "vision_runs/../models",
            "eval/../logs",
            "tb",
            "checkpoints/train",
            "tb/./vision",
            "models/sch",
            f"tb/link/../eval-{rec['eval-new'].name}",
        ]
        if tag == "old":  # it also names the newest record's folder: kept with that record
            stamp["companions"].append(f"tb/eval-{rec['eval-new'].name}")  # fmt: skip
        (record / "env_stamp.json").write_text(json.dumps(stamp))
    for name in ("models/sch", "logs/l1", "checkpoints/train"):
        (base / name).mkdir(parents=True)
        (base / name / "x").write_text("keep")
    plan = plan_gc(base, retention_days=30, now=time.time() + 100 * DAY)
    old_tb = base / "tb" / f"eval-{rec['eval-old'].name}"
    new_tb = base / "tb" / f"eval-{rec['eval-new'].name}"
    assert [i.path for i in plan.keep if i.protected] == [new_tb]  # named by the old one too
    companions = [i for i in plan.remove if i.path == old_tb]
    assert len(companions) == 1 and companions[0].size_bytes == 100
    assert f"companion of {rec['eval-old'].name}: expired" in companions[0].reason
    assert {i.path for i in plan.remove} == {old_tb} | {
        rec[f"{k}-old"] for k in ("train", "evaluate", "eval", "sch-eval")
    }
    apply_gc(plan)
    assert not old_tb.exists() and (base / "tb" / f"eval-{rec['eval-new'].name}").is_dir()
    assert (outside / "keep.txt").is_file() and (base / "tb" / "vision").is_dir()
    assert (base / "tb" / "link").is_symlink() and (base / "eval").is_dir()
    assert all((base / n / "x").is_file() for n in ("models/sch", "logs/l1", "checkpoints/train"))


def test_gc_removes_folder_snapshots_whose_folder_is_gone(tmp_path: Path) -> None:
    """The hash cache keeps one snapshot per big input folder (``cache/folders/``); gc removes
    those of folders that no longer exist, files that are not snapshots and unfinished writes,
    and keeps the rest (a later content pass of a kept folder still uses its snapshot)."""
    from standard_coder.runner.hashcache import SqliteHashCache, rows_of_gone_files, scan_path

    base = tmp_path / "out"
    cache = SqliteHashCache(base / "cache" / "hashcache.sqlite")
    folders = {}
    for name in ("kept", "gone"):
        folder = tmp_path / "data" / name
        folder.mkdir(parents=True)
        for i in range(70):  # big enough for a snapshot (over 64 files)
            (folder / f"f{i}.txt").write_text(f"{name} {i}")
        scan_path(folder, cache)
        (folder / "f0.txt").write_text("changed")  # a second pass writes the snapshot
        scan_path(folder, cache)
        folders[name] = folder
    snaps = base / "cache" / "folders"
    assert len(list(snaps.glob("*.snap"))) == 2
    import shutil

    shutil.rmtree(folders["gone"])
    (snaps / "junk.snap").write_bytes(b"not a snapshot")
    stray = snaps / ".abc.snap.0123.tmp"
    stray.write_bytes(b"half")
    fresh_stray = snaps / ".def.snap.4567.tmp"
    fresh_stray.write_bytes(b"being written")
    os.utime(stray, (time.time() - 2 * 3600, time.time() - 2 * 3600))
    cache.close()
    plan = plan_gc(base, retention_days=30)
    removed = {i.path.name: i.reason for i in plan.remove}
    assert removed.pop("junk.snap") == "not a folder snapshot (unreadable or misnamed)"
    assert removed.pop(stray.name) == "unfinished snapshot write"
    # the hash cache's rows of the gone folder's 70 files go too (the file stays)
    assert removed.pop("hashcache.sqlite") == "70 of 140 rows are of files that are gone"
    ((gone_name, why),) = removed.items()
    assert why == f"its folder is gone: {folders['gone']}"
    kept = [i for i in plan.keep if i.kind == "snapshot"]
    assert [i.reason for i in kept] == [f"snapshot of {folders['kept']}"]
    db = base / "cache" / "hashcache.sqlite"
    apply_gc(plan)
    assert not (snaps / gone_name).exists() and kept[0].path.is_file() and fresh_stray.is_file()
    assert rows_of_gone_files(db) == ([], 70)
    cache = SqliteHashCache(db)  # the kept folder is still known: nothing to rehash
    assert cache.folder_snapshot(str(folders["kept"])) is not None
    assert scan_path(folders["kept"], cache).rehashed == 0
    cache.close()
    assert plan_gc(base, retention_days=30).remove == []
    # a damaged hash cache is left to the next run (which sets it aside and says so)
    db.write_bytes(b"not a database at all" * 100)
    assert [i for i in plan_gc(base, retention_days=30).remove if i.path == db] == []


def test_hash_cache_rows_of_files_out_of_sight_are_kept_and_a_failed_prune_is_said(
    tmp_path: Path,
) -> None:
    """Rows of files that are gone go; rows under an empty folder (a drive not mounted here),
    under a folder missing from ``/`` down (a path of a container) or with a relative name
    stay. A hash cache that cannot be pruned when gc applies is said in ``plan.errors``; the
    other items are removed all the same."""
    from standard_coder.runner.hashcache import SqliteHashCache, rows_of_gone_files

    base = tmp_path / "out"
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "here.txt").write_text("x")
    (tmp_path / "mnt" / "ext").mkdir(parents=True)  # an empty mount point
    rows = [str(tmp_path / "data" / "here.txt"), str(tmp_path / "data" / "deleted.txt"),
            str(tmp_path / "data" / "old" / "deep.txt"), str(tmp_path / "mnt" / "ext" / "d.txt"),
            "/no-such-root-folder/data/x.txt", "relative/name.txt"]  # fmt: skip
    cache = SqliteHashCache(base / "cache" / "hashcache.sqlite")
    cache.put_many([(p, 1, 1, 1, "0" * 64) for p in rows])
    cache.close()
    db = base / "cache" / "hashcache.sqlite"
    assert rows_of_gone_files(db) == (rows[1:3], 6)
    stale = base / "quarantine" / "bad.json"
    stale.parent.mkdir(parents=True)
    stale.write_text("{")
    plan = plan_gc(base, retention_days=30)
    assert sorted(i.kind for i in plan.remove) == ["quarantine", "stale_hash_rows"]
    db.write_bytes(b"not a database" * 300)  # damaged between the plan and its application
    apply_gc(plan)
    assert not stale.exists() and len(plan.errors) == 1
    assert "hash cache unwritable" in str(plan.errors[0])
