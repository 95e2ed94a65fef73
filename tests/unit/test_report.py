"""The HTML run report: every stage listed, images embedded, nothing external, renders in a
real headless Chromium; and end to end after running the example command pipeline."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from reportfix import STAGES, make_base_dir, write_tb

from standard_coder.reporting import build_report
from standard_coder.reporting.html import render_report

REPO = Path(__file__).resolve().parents[2]
CLI = [
    sys.executable,
    "-c",
    "import sys, standard_coder.cli.runs; from standard_coder.cli import main; main()",
]


class Page(HTMLParser):
    """Collects stage rows, images, links and anything that could load a resource."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.stage_rows: list[dict[str, str]] = []
        self.images: list[str] = []
        self.urls: list[tuple[str, str, str]] = []
        self.tags: set[str] = set()
        self.h2: list[str] = []
        self._row: dict[str, str] | None = None
        self._cell: str | None = None
        self._text: list[str] = []
        self._in_stages = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.add(tag)
        for key in ("src", "href", "action", "poster", "data", "srcset"):
            if key in a:
                self.urls.append((tag, key, a[key]))
        if tag == "img":
            self.images.append(a.get("src", ""))
        if tag == "table" and "stages" in a.get("class", "").split():
            self._in_stages = True
        if self._in_stages and tag == "tr" and a.get("class", "").startswith("st-"):
            self._row = {"class": a["class"]}
            self._cols = 0
        if self._row is not None and tag == "td":
            self._cell = str(self._cols)
            self._text = []
        if tag == "h2":
            self._text = []
        self.stack.append((tag, a))

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._row is not None and self._cell is not None:
            self._row[self._cell] = " ".join("".join(self._text).split())
            self._cols += 1
            self._cell = None
        if tag == "tr" and self._row is not None:
            self.stage_rows.append(self._row)
            self._row = None
        if tag == "table":
            self._in_stages = False
        if tag == "h2":
            self.h2.append("".join(self._text).strip())
        if self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self._text.append(data)


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


def assert_self_contained(page: Page) -> None:
    assert "script" not in page.tags and "link" not in page.tags and "iframe" not in page.tags
    for tag, key, url in page.urls:
        if tag == "a" and key == "href":
            assert url.startswith("#"), url
        else:
            assert url.startswith("data:image/png;base64,"), (tag, key, url[:40])


def test_report_lists_every_stage_with_status_cache_and_reason(tmp_path: Path) -> None:
    base = tmp_path / "out"
    make_base_dir(base)
    out = build_report(base)
    assert out == base / "reports" / "index.html"
    assert sorted(p.name for p in out.parent.iterdir()) == [
        ".cache",
        "calibration.png",
        "forecast_backtest.json",
        "index.html",
        "sch_evaluation.json",
    ]
    page = parse(out)
    rows = {r["0"]: r for r in page.stage_rows}
    assert list(rows) == list(STAGES)
    assert rows["mine"]["1"] == "skipped" and rows["mine"]["2"] == "cache hit"
    assert rows["mine"]["5"].startswith("up to date")
    assert rows["forecast"]["1"] == "completed" and rows["forecast"]["2"] == "cache miss"
    assert rows["forecast"]["3"] == "23.5 s"
    assert "params changed: forecast.n_sims 1000 -> 5000" in rows["forecast"]["5"]
    assert page.h2 == [
        "Stages",
        "Training curves",
        "Evaluation",
        "Delivery effort",
        "Team output",
        "Sprint forecasts",
        "Environment",
        "Run history",
    ]
    # Training curve, calibration and forecast plots, all embedded and decodable PNGs.
    assert len(page.images) == 3
    for src in page.images:
        data = base64.b64decode(src.split(",", 1)[1])
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert_self_contained(page)
    text = out.read_text()
    for needle in (
        "20260301-000000-new1",
        "model better",
        "heldout nll",
        "coverage 80",
        "83%",
        "P85 completion day",
        "x86_64 test CPU",
        "20260101-000000-old1",
        "20260201-000000-fail",
        "scikit-learn",
        "forecast backtest",
        "brier skill",
        "20260301-evalA",
        "Work inference against the simulated truth",
        "Not counted as work: generated and formatting-only files",
    ):
        assert needle in text, needle
    assert ">plots<" not in text  # the plot list is not a metric: the plots are embedded


def test_training_curves_cached_until_event_files_change(tmp_path: Path) -> None:
    base = tmp_path / "out"
    make_base_dir(base)
    first = build_report(base).read_text()
    (cache,) = (base / "reports" / ".cache").glob("tb-*.json")
    doc = json.loads(cache.read_text())
    # A stale-looking but key-matching cache entry is used as is (no TensorBoard read) ...
    doc["html"] = doc["html"].replace("loss by step", "loss by step (cached)")
    cache.write_text(json.dumps(doc))
    assert "loss by step (cached)" in build_report(base).read_text()
    # ... and a changed event file invalidates it.
    write_tb(base / "tb" / "mdn", n=5)
    third = build_report(base).read_text()
    assert "(cached)" not in third and "loss by step" in third
    assert first.count("data:image/png") == third.count("data:image/png")
    code = (
        "import sys; from pathlib import Path; from standard_coder.reporting import build_report;"
        f"build_report(Path({str(base)!r}));"
        "assert 'tensorboard' not in sys.modules and 'matplotlib' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_training_curves_say_which_is_the_effort_models(tmp_path: Path) -> None:
    from standard_coder.reporting.training import render_training
    from standard_coder.runner.report import SectionInput

    base = tmp_path / "out"
    for run in ("auto", "auto/selection-mdn", "baseline_loc", "size_mdn"):
        write_tb(base / "tb" / run, n=3)
    (base / "reports").mkdir(parents=True)

    def section(doc: dict[str, object]) -> str:
        (base / "reports" / "sch_evaluation.json").write_text(json.dumps(doc))
        return render_training(SectionInput(base, None, None, {}))

    chosen = {"chosen": "shift_w0", "kind": "shift"}
    html = section({"predictor": "shift", "model_selection": chosen})
    assert "The effort model is <span class='mono'>shift_w0</span>, which" in html
    assert "fitted in closed form, with no loss curve" in html
    assert "<span class='mono'>auto/selection-mdn</span>" in html
    assert "baseline_loc</span> is the LOC-only baseline" in html and "pooled with" in html
    # pooled as the model is: its LOC MDN beside the same predictor on lines added and deleted
    assert "baseline's MDN, pooled with the same predictor" in html
    assert "(<span class='mono'>baseline_loc_auto</span>)" in html
    html = section({"predictor": "mdn", "model_selection": {"chosen": "mdn", "kind": "mdn"}})
    assert "its curve is <span class='mono'>auto</span>" in html and "closed form" not in html
    html = section({"predictor": "quantile"})  # chosen by the config, not by auto
    assert "The effort model is <span class='mono'>quantile</span>: its curve is" in html
    (base / "reports" / "sch_evaluation.json").unlink()  # no evaluation yet: no such line
    assert "The effort model is" not in render_training(SectionInput(base, None, None, {}))


def test_curves_that_cannot_be_cached_are_said_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A report of results one may not write (a read-only mount) warned once per curve, with
    Python's ``[Errno 30]``; now once, in words, and the curves are drawn all the same."""
    from standard_coder.reporting.training import render_training
    from standard_coder.runner.report import SectionInput

    base = tmp_path / "out"
    for run in ("auto", "baseline_loc", "size_mdn"):
        write_tb(base / "tb" / run, n=3)
    (tmp_path / "file").write_text("not a folder")
    html = render_training(SectionInput(base, tmp_path / "file" / "cache", None, {}))
    assert html.count("loss by step") == 6  # each run: its figure and its table
    said = [ln for ln in capsys.readouterr().err.splitlines() if "not cached" in ln]
    assert len(said) == 1 and "Errno" not in said[0], said


def test_failed_and_interrupted_runs(tmp_path: Path) -> None:
    base = tmp_path / "out"
    (base / "logs").mkdir(parents=True)
    t = time.time()
    ev = [
        ("r1", "run_started", None, {"stages": ["a", "b", "c"]}),
        ("r1", "stage_cache_miss", "a", {"reason": "new"}),
        ("r1", "stage_running", "a", {"fingerprint": "f" * 64}),
        ("r1", "stage_failed", "a", {"reason": "ValueError: boom", "duration_s": 0.5}),
        ("r2", "run_started", None, {"stages": ["a", "b"]}),
        ("r2", "stage_cache_miss", "a", {"reason": "forced", "code": "forced"}),
        ("r2", "stage_running", "a", {}),
        ("r2", "checkpoint_saved", "a", {}),
        ("r2", "checkpoint_saved", "a", {}),
        ("r2", "partial_work_stale", "a", {"reason": "fingerprint changed"}),
        ("r2", "stage_warning", "a", {"reason": "stored 1 of the 4 commits read"}),
        ("r2", "run_interrupted", "a", {"reason": "interrupted: rerun to resume"}),
    ]
    with (base / "logs" / "events.jsonl").open("w") as fh:
        for i, (rid, name, stage, extra) in enumerate(ev):
            rec = {"ts": t + i, "run_id": rid, "event": name, "stage": stage, "reason": ""}
            rec.update(extra)
            fh.write(json.dumps(rec) + "\n")
        fh.write("{truncated line\n")
    page = parse(build_report(base))
    rows = {r["0"]: r for r in page.stage_rows}
    assert rows["a"]["1"] == "interrupted" and rows["a"]["2"] == "forced"
    assert rows["a"]["4"] == "2"  # checkpoints
    html = (base / "reports" / "index.html").read_text()
    assert "partial work stale" in html and "fingerprint changed" in html
    assert "stage warning" in html and "stored 1 of the 4 commits read" in html
    # the sections are the outputs on disk, not all this run's: the page says so at the top
    top = html.split("<section", 1)[0]
    assert "This run did not complete a: the sections below show the outputs on disk" in top
    assert "No TensorBoard logs" in html and "No evaluation yet" in html
    assert "No forecasts" in html and "No env stamp recorded" in html
    # The failed run appears in the history.
    assert "r1" in html and "failed" in html
    # A run killed without any end record shows as cut off once a newer run exists.
    (base / "runs" / "r0").mkdir(parents=True)
    (base / "runs" / "r0" / "env_stamp.json").write_text(
        json.dumps({"run_id": "r0", "status": "running", "started_at": t - 100})
    )
    assert '<span class="pill warn">cut off</span>' in render_report(base)
    assert_self_contained(page)
    # And the previous run's page shows the failure with its reason.
    assert "ValueError: boom" in render_report_for(base, "r1")


def render_report_for(base: Path, run_id: str) -> str:
    """Render with only the events of ``run_id`` (the report shows the latest run)."""
    lines = (base / "logs" / "events.jsonl").read_text().splitlines()
    keep = [ln for ln in lines if f'"run_id": "{run_id}"' in ln]
    other = base.parent / f"only-{run_id}"
    (other / "logs").mkdir(parents=True)
    (other / "logs" / "events.jsonl").write_text("\n".join(keep) + "\n")
    return render_report(other)


def test_empty_output_folder(tmp_path: Path) -> None:
    page = parse(build_report(tmp_path / "fresh"))
    assert page.stage_rows == [] and page.images == []
    assert_self_contained(page)


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _chromium_argv(profile: Path) -> list[str]:
    return [
        str(_chromium()),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        "--hide-scrollbars",
        "--window-size=1200,2400",
    ]


def _console_problems(stderr: str) -> list[str]:
    return [
        ln
        for ln in stderr.splitlines()
        if "CONSOLE" in ln or "Uncaught" in ln or "console error" in ln.lower()
    ]


def _dump_dom(page: Path, profile: Path) -> subprocess.CompletedProcess[str]:
    argv = [*_chromium_argv(profile), "--dump-dom", page.as_uri()]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
@pytest.mark.skipif(_chromium() is None, reason="chromium not installed (CI: apt-get install)")
def test_renders_in_headless_chromium_without_console_errors(tmp_path: Path) -> None:
    # Control: the detector does see a console error on a page that has one.
    bad = tmp_path / "bad.html"
    bad.write_text("<html><body><script>undefinedFn();</script>x</body></html>")
    assert _console_problems(_dump_dom(bad, tmp_path / "p0").stderr)

    base = tmp_path / "out"
    make_base_dir(base)
    out = build_report(base)
    dom = _dump_dom(out, tmp_path / "p1")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "Run history" in dom.stdout and "train_sch" in dom.stdout
    assert _console_problems(dom.stderr) == []
    shot = tmp_path / "shot.png"
    argv = [*_chromium_argv(tmp_path / "p2"), f"--screenshot={shot}", out.as_uri()]
    shot_run = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert shot_run.returncode == 0, shot_run.stderr[-2000:]
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 20_000
    assert _console_problems(shot_run.stderr) == []


@pytest.mark.integration
def test_end_to_end_after_a_real_command_pipeline(tmp_path: Path) -> None:
    example = tmp_path / "pipe"
    shutil.copytree(REPO / "examples" / "command_pipeline", example)
    cfg = example / "pipeline.toml"
    env = {**os.environ, "NO_COLOR": "1"}
    run = [sys.executable, "-m", "standard_coder", "pipeline", "--config", str(cfg)]
    for _ in range(2):  # the second run skips every stage
        r = subprocess.run(run, capture_output=True, text=True, env=env, timeout=120)
        assert r.returncode == 0, r.stderr
    r = subprocess.run(
        [*CLI, "report", "--config", str(cfg)], capture_output=True, text=True, env=env, timeout=60
    )
    assert r.returncode == 0, r.stderr
    out = Path(r.stdout.strip())
    assert out == example / "sc-output" / "reports" / "index.html"
    page = parse(out)
    rows = {row["0"]: row for row in page.stage_rows}
    assert list(rows) == ["prepare", "featurize", "train"]
    assert all(row["1"] == "skipped" and row["2"] == "cache hit" for row in rows.values())
    html = out.read_text()
    assert html.count('<span class="pill ok">completed</span>') >= 2  # both runs in history
    assert_self_contained(page)
    runs = sorted((example / "sc-output" / "runs").iterdir())
    assert len(runs) == 2
    if (runs[0] / "env_stamp.json").exists():  # once the engine calls runner.runrecord
        assert (runs[1] / "RETENTION.txt").exists() and "Environment" in html
        r = subprocess.run(
            [*CLI, "diff-runs", str(runs[0]), str(runs[1]), "--json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        diff = json.loads(r.stdout)
        assert diff["config"] == [] and diff["stages"] == [], diff


def test_training_curves_of_a_resumed_run_have_one_point_per_step(tmp_path: Path) -> None:
    """A resume rewrites the steps after its checkpoint in a second event file: the report
    keeps the latest value per step, in step order (no zigzag back to earlier steps)."""
    from torch.utils.tensorboard import SummaryWriter

    from standard_coder.reporting.training import load_scalars

    first = SummaryWriter(log_dir=str(tmp_path), filename_suffix=".a")
    for step in range(1, 11):
        first.add_scalar("train/loss", 1.0, step, walltime=1000.0 + step)
    first.close()
    resumed = SummaryWriter(log_dir=str(tmp_path), filename_suffix=".b")
    for step in range(6, 13):
        resumed.add_scalar("train/loss", 2.0, step, walltime=2000.0 + step)
    resumed.close()
    points = load_scalars(tmp_path)["train/loss"]
    assert [s for s, _ in points] == list(range(1, 13))
    assert [v for _, v in points] == [1.0] * 5 + [2.0] * 7


def test_a_resumed_trainings_curves_load_without_tensorboards_restart_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A resumed training's writer starts at its checkpoint (``purge_step``): TensorBoard drops
    the rewritten steps and printed 'Detected out of order event.step' on stderr of every
    report; the resumed values win, quietly."""
    from torch.utils.tensorboard import SummaryWriter

    from standard_coder.reporting.training import load_scalars

    first = SummaryWriter(log_dir=str(tmp_path), filename_suffix=".a")
    for step in range(6):
        first.add_scalar("train/loss", 1.0, step, walltime=1000.0 + step)
    first.close()
    resumed = SummaryWriter(log_dir=str(tmp_path), filename_suffix=".b", purge_step=3)
    for step in range(3, 6):
        resumed.add_scalar("train/loss", 2.0, step, walltime=2000.0 + step)
    resumed.close()
    assert load_scalars(tmp_path)["train/loss"] == [(0, 1.0), (1, 1.0), (2, 1.0), (3, 2.0),
                                                    (4, 2.0), (5, 2.0)]  # fmt: skip
    assert not [r for r in caplog.records if "out of order" in r.getMessage()]
