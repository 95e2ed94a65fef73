"""The flagship pipeline end to end through the CLI: the tiny demo, reruns, input edits, eval.

Real simulated git repositories, real mining, real HMM fitting and torch training, real
subprocesses; tiny sizes.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from proctools import child_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def cli(
    *args: str, cwd: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "standard_coder", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=child_env(COLUMNS="120"),
        timeout=600,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def events(base: Path) -> list[dict[str, Any]]:
    lines = (base / "logs" / "events.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def last_run(evs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    run_id = evs[-1]["run_id"]
    return [e for e in evs if e["run_id"] == run_id]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    proc = cli("demo", "--output-dir", str(out), "--size", "tiny")
    assert "P(complete by end)" in proc.stderr
    return out


def test_demo_produces_every_artifact(demo: Path) -> None:
    base = demo / "sc-output"
    for rel in [
        "raw/mined_commits.sqlite",
        "labels/work_labels.npz",
        "labels/datasets/coding_train.npz",
        "features/change_rep/representation.json",
        "models/auto/model.pt",
        "models/baseline_loc/model.pt",
        "models/work_inference/hmm",
        "reports/sch_evaluation.json",
        "reports/index.html",
        "stages/mine/manifest.json",
        "stages/train_sch/manifest.json",
        "stages/forecast/manifest.json",
    ]:
        assert (base / rel).exists(), rel
    # the readers of SQLite files close them as they found them: no -wal/-shm left beside them
    assert not [p for p in base.rglob("*") if p.name.endswith(("-wal", "-shm", "-journal"))]
    ev = json.loads((base / "reports" / "sch_evaluation.json").read_text())
    for key in ("heldout_nll", "crps", "coverage_80", "spearman_sch", "baseline_loc_heldout_nll"):
        assert isinstance(ev[key], float), key
    assert set(ev["work_inference_pearson_vs_truth"]) == {"hmm", "gap"}
    assert ev["n_test"] > 0 and ev["n_train"] > ev["n_test"]
    (forecast,) = sorted((base / "forecasts").glob("*_forecast.json"))
    fc = json.loads(forecast.read_text())
    assert 0.0 <= fc["p_complete_by_end"] <= 1.0
    # tickets with a diff or commit ids (not done) are priced by the trained model
    inputs = json.loads((demo / "sprint_inputs.json").read_text())
    needs_model = {
        t["id"]
        for t in inputs["tickets"]
        if t["status"] != "done" and (t.get("diff") or t.get("commit_ids"))
    }
    assert needs_model and any(t.get("commit_ids") for t in inputs["tickets"])
    by_source = {t["id"]: t["effort_source"] for t in fc["tickets"]}
    assert {i for i, src in by_source.items() if src == "model"} == needs_model
    manifest = json.loads((base / "stages" / "train_sch" / "manifest.json").read_text())
    # the device `auto` resolves to here (cuda -> mps -> cpu): cpu on a laptop, cuda on a GPU box
    from standard_coder.runner.device import resolve_device

    assert manifest["device"] == resolve_device("auto")[0]
    # ... but the demo's models are too small to gain from a GPU: `auto` trains them on the CPU
    assert manifest["summary"]["training_device"] == "cpu"
    # the trained model is an ordinary weights-only checkpoint
    ck = torch.load(base / "models" / "auto" / "model.pt", weights_only=True)
    assert ck["vocabulary_checksum"] and ck["feature_checksum"]
    # ... whose distribution pools an MDN on the size counts ([training] pool_size_mdn)
    w = ck["pool"]["weight"]
    assert w == 0.25 and ck["pool"]["model"]["predictor"] == "mdn"  # the default share
    pool = ev["distribution_pool"]
    assert pool["size_features"] == len(ck["pool"]["columns"]) > 0 and pool["weight"] == w
    mixed = (1 - w) * pool["unpooled_heldout_nll"] + w * pool["size_mdn_heldout_nll"]
    assert ev["heldout_nll"] <= mixed + 1e-9  # a linear pool's log score (log is concave)


def test_second_demo_skips_every_stage(demo: Path) -> None:
    cli("demo", "--output-dir", str(demo), "--size", "tiny")
    run = last_run(events(demo / "sc-output"))
    skipped = {e["stage"] for e in run if e["event"] == "stage_skipped"}
    assert skipped == {"mine", "train_sch", "team_output", "forecast"}
    assert not [e for e in run if e["event"] in ("stage_running", "stage_cache_miss")]


def test_written_config_is_accepted_unchanged(demo: Path) -> None:
    config = demo / "pipeline_config.toml"
    status = json.loads(cli("status", "--config", str(config), "--json").stdout)
    assert [(s["stage"], s["run"]) for s in status["stages"]] == [
        ("mine", False),
        ("train_sch", False),
        ("team_output", False),
        ("forecast", False),
    ]
    proc = cli("pipeline", "--config", str(config))
    assert "0 ran, 4 skipped" in proc.stderr


def test_a_no_op_rerun_imports_no_heavy_package(demo: Path) -> None:
    """Skipping four stages (and printing the summary) costs stats and hashes, not
    numpy/torch/rich imports."""
    code = (
        "import sys; from standard_coder.runner.front import main; "
        "from standard_coder.pipelines import BUILTINS; rc = main(sys.argv[1:], BUILTINS); "
        "heavy = {'numpy', 'torch', 'sklearn', 'rich', 'typer', 'tensorboard', 'jinja2'}"
        " & set(sys.modules); "
        "assert not heavy, heavy; sys.exit(rc)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, "pipeline", "--config", str(demo / "pipeline_config.toml")],
        capture_output=True, text=True, env=child_env(), timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "0 ran, 4 skipped" in proc.stderr
    assert "What the effort model learned" in proc.stderr and "Report: " in proc.stderr


def test_a_no_op_rerun_of_the_demo_takes_the_fast_door(demo: Path) -> None:
    """``demo`` as the console script runs it: no Typer, numpy or torch, nothing rewritten."""
    written = demo / ".demo-written.json"
    before = written.stat().st_mtime_ns
    code = (
        "import sys; from standard_coder.cli import main\n"
        "try:\n    main()\nexcept SystemExit as e:\n    rc = e.code\n"
        "heavy = {'numpy', 'torch', 'sklearn', 'rich', 'typer', 'tensorboard', 'jinja2'}"
        " & set(sys.modules)\n"
        "assert not heavy, heavy; sys.exit(rc)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, "demo", "--output-dir", str(demo), "--size=tiny"],
        capture_output=True, text=True, env=child_env(), timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "0 ran, 4 skipped" in proc.stderr and "Finished in" in proc.stderr
    assert f"standard-coder pipeline --config {demo / 'pipeline_config.toml'}" in proc.stderr
    assert written.stat().st_mtime_ns == before  # the demo's own files: not rewritten


def test_editing_a_forecast_input_reruns_only_forecast(demo: Path) -> None:
    config = demo / "pipeline_config.toml"
    hist = demo / "historical_outcomes.json"
    data = json.loads(hist.read_text())
    data["sprints"] = data["sprints"][:-1]
    hist.write_text(json.dumps(data, indent=2))
    plan = json.loads(cli("status", "--config", str(config), "--json").stdout)["stages"]
    runs = {s["stage"]: s for s in plan}
    assert not runs["mine"]["run"] and not runs["train_sch"]["run"]
    assert runs["forecast"]["run"] and "historical_outcomes.json" in runs["forecast"]["reason"]
    cli("pipeline", "--config", str(config))
    run = last_run(events(demo / "sc-output"))
    assert {e["stage"] for e in run if e["event"] == "stage_completed"} == {"forecast"}


def test_a_sprint_under_way_is_said_on_the_day_and_not_stored(demo: Path) -> None:
    """The stored forecast held a note computed from today's date: the stage's output was not
    a function of its inputs (another day, or a cache restore, kept a stale date)."""
    import datetime as dt

    config = demo / "pipeline_config.toml"
    sprint = json.loads((demo / "sprint_inputs.json").read_text())
    today = dt.date.today()
    sprint.update(sprint_id="NOW-1", start_date=(today - dt.timedelta(days=3)).isoformat(),
                  end_date=(today + dt.timedelta(days=11)).isoformat(), holidays=[])  # fmt: skip
    (demo / "sprint_now.json").write_text(json.dumps(sprint, indent=2))
    proc = cli("pipeline", "--config", str(config), "--stages", "forecast",
               "--set", "forecasting.sprint_inputs_path=sprint_now.json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert f"today is {today.isoformat()}" in " ".join(proc.stderr.split()), proc.stderr
    made = sorted((demo / "sc-output" / "forecasts").glob("NOW-1_*"))
    stored = json.loads((demo / "sc-output" / "forecasts" / "NOW-1_forecast.json").read_text())
    for path in made:  # the module's other tests read the demo's own forecast alone
        path.unlink()
    assert not any("today is" in w for w in stored["warnings"]), stored["warnings"]


def test_a_bad_sprint_file_refuses_the_run_before_the_mine_and_the_training(
    demo: Path, tmp_path: Path
) -> None:
    """A typo in the sprint file was found by the forecast, after the mine, the training and
    team output had run (minutes on a real history): it is checked first, as forecast-check
    checks it, and a file the last forecast read is not read again."""
    import shutil

    project = tmp_path / "p"
    shutil.copytree(demo, project, ignore=shutil.ignore_patterns("lock*"))
    sprint = project / "sprint_inputs.json"
    doc = json.loads(sprint.read_text())
    ticket = next(t for t in doc["tickets"] if "story_points" in t)
    ticket["stroy_points"] = ticket.pop("story_points")
    sprint.write_text(json.dumps(doc, indent=2))
    config = str(project / "pipeline_config.toml")
    said = cli("status", "--config", config, check=False)
    assert said.returncode == 2, said.stdout + said.stderr
    row = next(ln for ln in said.stdout.splitlines() if ln.startswith("forecast"))
    assert "cannot run" in row and "stroy_points: unknown field" in row, row
    before = len(events(project / "sc-output"))
    proc = cli("pipeline", "--config", config, "--force", check=False)
    assert proc.returncode == 2, proc.stderr
    (line,) = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert line.startswith(f"error: stage 'forecast': {sprint}: $.tickets[")
    assert line.endswith("did you mean 'story_points'? (checked before any stage runs)"), line
    ran = [e for e in events(project / "sc-output")[before:] if e["event"] == "stage_running"]
    assert ran == [] and "Traceback" not in proc.stderr
    # a folder where the sprint file should be: status said "would run" (exit 0) and the
    # pipeline failed the forecast after the other stages
    (project / "adir").mkdir()
    said = cli("status", "--config", config, "--set", "forecasting.sprint_inputs_path=adir",
               check=False)  # fmt: skip
    assert said.returncode == 2, said.stdout + said.stderr
    row = next(ln for ln in said.stdout.splitlines() if ln.startswith("forecast"))
    assert f"cannot run  {project / 'adir'}: is a folder, expected a sprint inputs file" in row


def test_eval_exports_predictions(demo: Path) -> None:
    base = demo / "sc-output"
    proc = cli("eval", "--checkpoint", str(base / "models" / "auto" / "model.pt"))
    (out,) = sorted((base / "eval").iterdir())
    metrics = json.loads((out / "metrics.json").read_text())
    # the key figures on stdout, as the pipeline's summary shows them, from the same metrics
    assert proc.stdout.startswith(
        f"Evaluation (held-out commits; {metrics['n_test_normal']} with a normal-interval label)"
    )
    spearman = next(ln for ln in proc.stdout.splitlines() if ln.startswith("Spearman vs"))
    assert f"{metrics['spearman_sch']:.3f}" in spearman
    assert f"lines added {metrics['spearman_lines_added']:.3f}" in spearman
    # the run's LOC baseline is scored beside the model, as in sch_evaluation.json
    trained = json.loads((base / "reports" / "sch_evaluation.json").read_text())
    assert metrics["baseline_loc_heldout_nll"] == pytest.approx(
        trained["baseline_loc_heldout_nll"], rel=1e-9
    )
    nll = next(ln for ln in proc.stdout.splitlines() if ln.startswith("neg. log-likelihood"))
    assert nll.split()[-1] == f"{metrics['baseline_loc_heldout_nll']:.3f}"
    rows = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == metrics["n_test"] > 0
    assert set(rows[0]) == {"repo", "commit_id", "sch", "q10", "q50", "q90", "inferred_hours"}
    for r in rows:
        assert 0.0 <= r["sch"] <= 1.0 and r["q10"] <= r["q50"] <= r["q90"]
    labelmap = json.loads((out / "labelmap.json").read_text())
    assert labelmap["units"]["sch"] == "hours" and labelmap["n_predictions"] == len(rows)
    assert list((out / "tb").iterdir())
    assert "LOC baseline, so both columns" not in proc.stdout
    # the run's LOC baseline given as the checkpoint: its table says both columns are it
    proc = cli("eval", "--checkpoint", str(base / "models" / "baseline_loc" / "model.pt"))
    assert proc.returncode == 0, proc.stderr
    assert "the checkpoint is the LOC baseline, so both columns are the baseline's" in proc.stdout
    heading = next(ln for ln in proc.stdout.splitlines() if ln.startswith("metric"))
    assert heading.split()[1:] == ["LOC", "baseline", "(checkpoint)", "LOC", "baseline"]


def test_total_ranges_scores_the_run_as_the_evaluation_does(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``benchmarks/total_ranges.py`` measures the correlation as train_sch did (the model's
    ``total_correlation``) and scores windows of held-out totals both ways; the evaluation's
    ``totals`` is its 10-change row."""
    import torch
    from tests.benchmodule import load_benchmark

    bench = load_benchmark("total_ranges")
    assert bench.main([str(demo), "--draws", "200"]) == 0
    doc = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["total_ranges"]
    (row,) = doc["rows"]
    from standard_coder.config.schema import load_config
    from standard_coder.pipelines.sch_layout import SchLayout

    base = demo / "sc-output"
    model_pt = SchLayout(base, load_config(demo / "pipeline_config.toml").training.predictor).model
    stored = torch.load(model_pt, weights_only=True).get("total_correlation", 0.0)
    assert row["correlation"] == pytest.approx(stored, abs=1e-6)
    evaluation = json.loads((base / "reports" / "sch_evaluation.json").read_text())["totals"]
    assert evaluation["correlation"] == pytest.approx(stored, abs=1e-6)
    ten = row["windows"]["10"]
    assert ten["windows"] == evaluation["windows"] >= 2
    for side in ("coverage_80", "coverage_80_independent"):
        assert 0.0 <= ten[side] <= 1.0
    assert bench.main([str(demo / "nowhere")]) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_refit_effort_reproduces_the_stage_and_pairs_with_compare(
    demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``benchmarks/refit_effort.py`` refits what ``train_sch`` fits after its dataset: without
    ``--set`` the run's own figures come back bit for bit, an override moves only what it acts
    on, and ``compare_real_history.py`` pairs the refits."""
    from tests.benchmodule import load_benchmark

    refit, compare = load_benchmark("refit_effort"), load_benchmark("compare_real_history")

    def last(text: str) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(text.strip().splitlines()[-1])
        return out

    assert refit.main([str(demo), "--out", str(tmp_path / "same")]) == 0
    same = last(capsys.readouterr().out)["refit"]
    assert (same["histories"], same["reproduced"]) == (1, 1)
    trained = json.loads((demo / "sc-output/reports/sch_evaluation.json").read_text())
    again_path = tmp_path / "same" / demo.name / "sc-output/reports/sch_evaluation.json"
    again = json.loads(again_path.read_text())
    for key in ("spearman_sch", "heldout_nll", "baseline_loc_heldout_nll", "coverage_80",
                "binned_calibration_r2", "model_selection"):  # fmt: skip
        assert again[key] == trained[key], key
    # without the pool the distribution is the model's alone; SCH (the model's own) stays
    nopool = ["--out", str(tmp_path / "nopool"), "--set", "training.pool_size_mdn=0"]
    assert refit.main([str(demo), *nopool]) == 0
    row = last(capsys.readouterr().out)["refit"]["rows"][0]
    assert row["after"]["spearman_sch"] == row["before"]["spearman_sch"]
    assert row["after"]["heldout_nll"] != row["before"]["heldout_nll"]
    assert not row["reproduced"]
    assert compare.main([str(tmp_path / "same"), str(tmp_path / "nopool")]) == 0
    paired = last(capsys.readouterr().out)
    assert paired["histories"] == 1
    assert paired["paired"]["sch_minus_lines_added"]["mean"] == 0.0
    # a key that acts before the dataset (labels, features) is refused in one line, exit 2
    assert refit.main([str(demo), "--out", str(tmp_path / "x"), "--set",
                       "training.hmm.epochs=3"]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert err.startswith("error: --set 'training.hmm.epochs=3'") and err.count("\n") == 1
    assert not (tmp_path / "x").exists()
    # a path that holds no run: one line naming it, exit 2
    assert refit.main([str(tmp_path / "nothing"), "--out", str(tmp_path / "y")]) == 2
    assert "nothing: no sc-output folder" in capsys.readouterr().err
    # an --out that would write over the run's own evaluation: refused before any fit
    before = (demo / "sc-output/reports/sch_evaluation.json").read_bytes()
    assert refit.main([str(demo), "--out", str(demo.parent)]) == 2
    assert "would overwrite" in capsys.readouterr().err
    assert (demo / "sc-output/reports/sch_evaluation.json").read_bytes() == before


@pytest.mark.parametrize(
    "case", ["missing", "truncated", "garbage", "other_vocabulary", "config_file", "model_folder"]
)
def test_eval_refuses_bad_checkpoints_and_writes_nothing(
    demo: Path, tmp_path: Path, case: str
) -> None:
    base = demo / "sc-output"
    good = base / "models" / "auto" / "model.pt"
    bad = tmp_path / "model.pt"
    if case == "truncated":
        bad.write_bytes(good.read_bytes()[:2000])
    elif case == "garbage":  # torch's weights-only unpickler raised IndexError: a traceback
        bad.write_bytes(b"damaged\n")
    elif case == "other_vocabulary":
        ck = torch.load(good, weights_only=True)
        ck["vocabulary_checksum"] = "0" * 64
        torch.save(ck, bad)
    elif case == "config_file":  # it named a representation two folders above the project
        bad = demo / "pipeline_config.toml"
    elif case == "model_folder":  # it said "checkpoint not found" of a folder that is there
        bad = good.parent
    before = sorted((base / "eval").iterdir()) if (base / "eval").exists() else []
    proc = cli(
        "eval",
        "--checkpoint",
        str(bad),
        "--config",
        str(demo / "pipeline_config.toml"),
        check=False,
    )
    assert proc.returncode == 2
    assert str(bad) in proc.stderr and "Traceback" not in proc.stderr
    if case in ("garbage", "config_file"):
        assert f"{bad}: not a model checkpoint" in proc.stderr, proc.stderr
    if case == "model_folder":
        assert f"{bad}: is a folder, expected a model checkpoint file: give {good}" in proc.stderr
    after = sorted((base / "eval").iterdir()) if (base / "eval").exists() else []
    assert after == before


def test_eval_on_a_path_that_is_not_a_git_repo_exits_2(demo: Path, tmp_path: Path) -> None:
    base = demo / "sc-output"
    before = sorted((base / "eval").iterdir()) if (base / "eval").exists() else []
    proc = cli(
        "eval",
        "--checkpoint",
        str(base / "models" / "auto" / "model.pt"),
        "--config",
        str(demo / "pipeline_config.toml"),
        "--repos",
        str(tmp_path / "nowhere"),
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert "error: --repos: cannot mine" in proc.stderr and str(tmp_path / "nowhere") in proc.stderr
    assert "Traceback" not in proc.stderr
    after = sorted((base / "eval").iterdir()) if (base / "eval").exists() else []
    assert after == before


@pytest.mark.parametrize(
    ("target", "needle"), [("f.txt", "exists and is not a folder"), ("f.txt/x", "Not a directory")]
)
def test_demo_output_dir_that_cannot_be_a_folder_exits_2(
    tmp_path: Path, target: str, needle: str
) -> None:
    (tmp_path / "f.txt").write_text("a file\n")
    proc = cli("demo", "--size", "tiny", "--output-dir", str(tmp_path / target), check=False)
    assert proc.returncode == 2, proc.stderr
    assert needle in proc.stderr and "Traceback" not in proc.stderr
    assert (tmp_path / "f.txt").read_text() == "a file\n"


def test_a_configured_path_that_is_not_a_repo_fails_mine_with_2_after_mining_the_rest(
    tmp_path: Path,
) -> None:
    cli("simulate", str(tmp_path / "sim"), "--weeks", "1", "--authors", "1")
    (tmp_path / "notgit").mkdir()
    cli("init-config", str(tmp_path / "pipeline_config.toml"))
    cfg = tmp_path / "pipeline_config.toml"
    text = cfg.read_text()
    line = next(x for x in text.splitlines() if x.startswith("include_paths"))
    cfg.write_text(text.replace(line, 'include_paths = ["sim/repo-0", "notgit", "gone"]'))
    bad = (
        f"[repos] include_paths: {tmp_path / 'gone'}: no such directory; "
        f"{tmp_path / 'notgit'}: not a git repository"
    )
    # status and --dry-run say it up front, as for a missing package: one line, exit 2
    for args in (["status"], ["pipeline", "--dry-run"]):
        said = cli(*args, "--config", str(cfg), check=False)
        assert said.returncode == 2, said.stderr
        assert said.stdout.splitlines()[0].split() == ["mine", "cannot", "run", *bad.split()]
        (err_line,) = said.stderr.strip().splitlines()
        assert err_line == f"error: stage 'mine' cannot run: {bad}: pipeline would fail it"
    proc = cli("pipeline", "--config", str(cfg), "--stages", "mine", check=False)
    assert proc.returncode == 2, proc.stderr  # the configuration's fault: bad input
    err = proc.stderr
    assert f"{tmp_path / 'notgit'}: not a git repository" in err, err
    assert f"{tmp_path / 'gone'}: no such directory" in err and "fix [repos] include_paths" in err
    assert "Traceback" not in err and "rev-parse" not in err and "fatal:" not in err
    assert err.count("not a git repository") <= 2, err  # the table and the failure, no log line
    db = tmp_path / "sc-output" / "raw" / "mined_commits.sqlite"
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM commits").fetchone()[0] > 0
    # retried next run: still not up to date, and still said up front
    said = cli("status", "--config", str(cfg), check=False)
    assert said.returncode == 2 and said.stdout.split()[:3] == ["mine", "cannot", "run"]
    # once the paths are fixed, the mine would run (it never completed)
    cfg.write_text(text.replace(line, 'include_paths = ["sim/repo-0"]'))
    assert cli("status", "--config", str(cfg)).stdout.split()[:3] == ["mine", "would", "run"]


def test_the_untouched_config_in_a_folder_that_is_not_a_repo_shows_no_progress(
    tmp_path: Path,
) -> None:
    """``init-config`` then ``pipeline`` in a plain folder (``include_paths = ["."]``): the
    failure, with no ``mining chunks: 0`` / ``0/0`` progress above it (the repository failed
    before mining started); a rerun of an unchanged repository shows none either, a first
    mine does."""
    cfg = tmp_path / "pipeline_config.toml"
    cli("init-config", str(cfg))
    workers = ("--set", "runner.workers=2")  # the runner's map, and its progress line
    proc = cli("pipeline", "--config", str(cfg), *workers, cwd=tmp_path, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "[FAIL] mine: 1 repository could not be mined" in proc.stderr, proc.stderr
    assert f"{tmp_path}: not a git repository" in proc.stderr
    assert "mining chunks" not in proc.stderr, proc.stderr  # was `mining chunks: 0` and `0/0`
    cli("simulate", str(tmp_path / "sim"), "--weeks", "1", "--authors", "1")
    mine = ("pipeline", "--config", str(cfg), "--stages", "mine", *workers)
    first = cli(*mine, "--set", 'repos.include_paths=["sim/repo-0"]')
    assert "mining chunks: 1/1" in first.stderr, first.stderr
    again = cli(*mine, "--set", 'repos.include_paths=["sim/repo-0"]', "--force")
    assert "mining chunks" not in again.stderr and "unchanged" in again.stderr, again.stderr


def test_a_folder_inside_a_repository_and_a_symlink_to_it_mine_it_once(tmp_path: Path) -> None:
    """The template's "." from a subfolder, a package folder, a symlink: the repository they
    lead to is mined once, under its real path, and the run says how each path was read."""
    cli("simulate", str(tmp_path / "sim"), "--weeks", "1", "--authors", "1")
    repo = tmp_path / "sim" / "repo-0"
    (repo / "docs").mkdir(exist_ok=True)
    (tmp_path / "link").symlink_to(repo)
    cfg = tmp_path / "pipeline_config.toml"
    cli("init-config", str(cfg))
    text = cfg.read_text()
    line = next(x for x in text.splitlines() if x.startswith("include_paths"))
    cfg.write_text(text.replace(line, 'include_paths = ["sim/repo-0/docs", "link", "sim/repo-0"]'))
    proc = cli("pipeline", "--config", str(cfg), "--stages", "mine", check=False)
    assert proc.returncode == 0, proc.stderr
    assert f"{repo / 'docs'} is inside the repository {repo}" in proc.stderr
    assert f"{tmp_path / 'link'} is the repository {repo} by another path" in proc.stderr
    db = tmp_path / "sc-output" / "raw" / "mined_commits.sqlite"
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT path FROM repos").fetchall() == [(str(repo),)]
        ids = [r for (r,) in con.execute("SELECT commit_id FROM commits")]
    assert ids and len(ids) == len(set(ids))


def test_a_clone_beside_its_repository_is_mined_and_said_to_count_once(tmp_path: Path) -> None:
    """A repository and a clone of it (a fork, a worktree: ``~/code/*`` often holds both) are
    two repositories to the mine; their shared commits count once, under the one whose path
    sorts first, and the run says so for each pair."""
    cli("simulate", str(tmp_path / "sim"), "--weeks", "1", "--authors", "1")
    repo = tmp_path / "sim" / "repo-0"
    subprocess.run(["git", "clone", "-q", str(repo), str(tmp_path / "sim" / "repo-1")],
                   check=True, env=child_env())  # fmt: skip
    cfg = tmp_path / "pipeline_config.toml"
    cli("init-config", str(cfg))
    proc = cli("pipeline", "--config", str(cfg), "--stages", "mine",
               "--set", 'repos.include_paths=["sim/*"]')  # fmt: skip
    db = tmp_path / "sc-output" / "raw" / "mined_commits.sqlite"
    with sqlite3.connect(db) as con:
        first, second = (r for (r,) in con.execute("SELECT repo FROM repos ORDER BY repo"))
        n = con.execute("SELECT count(*) FROM commits WHERE repo = ?", (first,)).fetchone()[0]
    said = (f"[warn] mine: {n} commits of {second} are also stored under {first} (a clone, "
            f"worktree or fork of one history): each counts once, under {first}")  # fmt: skip
    assert said in proc.stderr, proc.stderr
    manifest = json.loads(
        (tmp_path / "sc-output" / "stages" / "mine" / "manifest.json").read_text()
    )
    assert manifest["summary"]["shared_commits"] == n > 0


def test_init_config_in_a_repository_runs_unchanged(tmp_path: Path) -> None:
    """`init-config` inside a git repository, then `pipeline` with the file as written."""
    from standard_coder.sch.teamsim.team import simulate_small_team

    sim = simulate_small_team(tmp_path / "sim", n_authors=1, weeks=1, seed=3)
    repo = sim.repos[0]
    cli("init-config", str(repo / "pipeline_config.toml"))
    plan = json.loads(
        cli("status", "--config", str(repo / "pipeline_config.toml"), "--json").stdout
    )
    assert [s["stage"] for s in plan["stages"]] == ["mine", "train_sch", "team_output"]
    cli("pipeline", "--config", str(repo / "pipeline_config.toml"), "--stages", "mine")
    db = repo / "sc-output" / "raw" / "mined_commits.sqlite"
    assert db.exists()


def test_demo_keeps_a_hand_edited_config(demo: Path) -> None:
    config = demo / "pipeline_config.toml"
    edited = config.read_text() + "\n# my note: try more epochs next time\n"
    config.write_text(edited)
    proc = cli("demo", "--output-dir", str(demo), "--size", "tiny")
    assert config.read_text() == edited
    # one line in the CLI's form (as `error: ...`), not a logger's `WARNING name: ...`
    said = f"warning: {config} was edited by hand; keeping it (delete it to get the demo's)\n"
    assert proc.stderr.startswith(said) and proc.stderr.count(str(config)) == 2  # + "Config"
    assert "WARNING" not in proc.stderr


def test_eval_with_a_damaged_loc_baseline_says_so_in_one_line_and_scores_without_it(
    demo: Path,
) -> None:
    base = demo / "sc-output"
    baseline = base / "models" / "baseline_loc" / "model.pt"
    kept = baseline.read_bytes()
    baseline.write_bytes(b"damaged\n")
    try:
        proc = cli("eval", "--checkpoint", str(base / "models" / "auto" / "model.pt"))
    finally:
        baseline.write_bytes(kept)
    assert "WARNING" not in proc.stderr and "Traceback" not in proc.stderr
    (said,) = [ln for ln in proc.stderr.splitlines() if "LOC baseline" in ln]
    assert said.startswith(f"warning: LOC baseline {baseline}: corrupt or truncated, not a ")
    assert said.endswith("--to train_sch; scored without it")
    nll = next(ln for ln in proc.stdout.splitlines() if ln.startswith("neg. log-likelihood"))
    assert nll.split()[-1] == "-"


def test_eval_on_other_repositories(demo: Path, tmp_path: Path) -> None:
    """`eval --repos`: new history mined, labelled, featurised with the checkpoint's vocabulary."""
    from standard_coder.sch.teamsim.team import simulate_small_team

    other = simulate_small_team(tmp_path / "other", n_authors=2, weeks=3, seed=11)
    base = demo / "sc-output"
    before = set((base / "eval").iterdir()) if (base / "eval").exists() else set()
    proc = cli(
        "eval",
        "--checkpoint",
        str(base / "models" / "auto" / "model.pt"),
        "--config",
        str(demo / "pipeline_config.toml"),
        "--repos",
        str(other.repos[0]),
    )
    (out,) = set((base / "eval").iterdir()) - before
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["repos"] == [str(other.repos[0].resolve())]
    # what the model trained on is its own run's split, not these repositories' (all held out)
    own = json.loads((base / "reports" / "sch_evaluation.json").read_text())
    assert metrics["n_train"] == own["n_train"] > 0 and metrics["n_validation"] > 0
    assert "changes to train on" not in proc.stderr
    assert "held-out" not in proc.stderr  # every change of those repositories is scored
    # minutes on a large history: it says what it is doing, on stderr (stdout: the figures)
    assert "eval: mining 1 repository (--repos)" in proc.stderr
    assert "eval: inferring the coding time of" in proc.stderr and "eval:" not in proc.stdout
    rows = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == metrics["n_test"] > 0
    assert {r["repo"] for r in rows} == {rows[0]["repo"]} and rows[0]["repo"].startswith("repo-0")


def test_an_own_cross_repository_prior_is_an_input_of_train_sch(demo: Path, tmp_path: Path) -> None:
    """`fit-prior` makes a prior from pipeline outputs; `cross_repo_prior_path` names it: the
    representation carries the file's prior and the shift backbone is its score; another file
    at the same path reruns train_sch; a file that is no prior stops the run before any stage,
    in one line naming the key."""
    import shutil

    from standard_coder.sch.features.cross_repo import CrossRepoPrior

    work = tmp_path / "demo"
    shutil.copytree(demo, work)
    config = work / "pipeline_config.toml"
    prior = tmp_path / "mine.npz"
    shutil.copytree(demo / "sc-output", tmp_path / "team-b" / "sc-output")  # a second history
    fitted = cli("fit-prior", str(demo / "sc-output"), str(tmp_path / "team-b"), "--out",
                 str(prior), "--json")  # fmt: skip
    doc = json.loads(fitted.stdout)
    assert doc["histories"] == [demo.name, "team-b"] and len(doc["leave_one_out"]) == 2
    shipped = CrossRepoPrior.load(prior)  # your own prior, made from your pipelines' outputs
    assert shipped.checksum == doc["checksum"] and shipped.meta["trained_on"] == sorted(
        doc["histories"]
    )
    path_set = f"training.features.cross_repo_prior_path={json.dumps(str(prior))}"
    sets = ["--set", "training.features.cross_repo_prior=true", "--set", path_set]
    cli("pipeline", "--config", str(config), "--stages", "mine,train_sch", *sets)
    base = work / "sc-output"
    last_run = (base / "logs" / "run.log").read_text().split(" started: ")[-1]
    assert "train_sch: running" in last_run
    # train_sch writes staged outputs; the work inference its last run fitted is reused
    assert "work inference hmm: fitted" not in last_run
    rep = json.loads((base / "features/change_rep/representation.json").read_text())
    assert rep["feature_names"][-1] == "prior|cross_repo"
    assert rep["cross_repo_prior"] == shipped.checksum
    ev = json.loads((base / "reports/sch_evaluation.json").read_text())
    if "shift_fit" in ev:  # auto chose the shift model: its backbone is the prior's score
        assert ev["shift_fit"]["backbone"] == "prior|cross_repo"
    status = ["status", "--config", str(config), "--json", *sets]
    runs = {s["stage"]: s["run"] for s in json.loads(cli(*status).stdout)["stages"]}
    assert not runs["mine"] and not runs["train_sch"], runs
    other = CrossRepoPrior(**{**shipped.__dict__, "meta": {"trained_on": ["elsewhere"]}})
    other.save(prior)  # same path, another prior
    runs = {s["stage"]: s["run"] for s in json.loads(cli(*status).stdout)["stages"]}
    assert runs["train_sch"] and not runs["mine"], runs
    prior.write_text("not a prior")
    proc = cli("pipeline", "--config", str(config), *sets, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    line = next(x for x in proc.stderr.splitlines() if "cross_repo_prior_path" in x)
    assert "mine.npz" in line and "unreadable cross-repository prior" in line


def test_commit_body_keeps_bodies_and_trains_with_the_prior_that_reads_them(
    demo: Path, tmp_path: Path
) -> None:
    """``commit_body = true``: the mine keeps every stored commit's body, the representation
    counts ``body|...`` and carries the shipped prior fitted with them; a rerun skips both."""
    import shutil

    from standard_coder.sch.features.cross_repo import CrossRepoPrior

    work = tmp_path / "demo"
    shutil.copytree(demo, work)
    config = work / "pipeline_config.toml"
    sets = ["--set", "training.features.commit_body=true"]
    cli("pipeline", "--config", str(config), "--stages", "mine,train_sch", *sets)
    base = work / "sc-output"
    with sqlite3.connect(base / "raw" / "mined_commits.sqlite") as con:
        commits = con.execute("SELECT COUNT(*) FROM commits").fetchone()[0]
        bodies = con.execute("SELECT COUNT(*) FROM commit_bodies").fetchone()[0]
    assert commits > 0 and bodies == commits
    rep = json.loads((base / "features/change_rep/representation.json").read_text())
    assert rep["commit_body"] is True
    assert {"body|lines", "body|words", "body|co_authors"} <= set(rep["feature_names"])
    assert rep["cross_repo_prior"] == CrossRepoPrior.builtin(body=True).checksum
    status = ["status", "--config", str(config), "--json", *sets]
    runs = {s["stage"]: s["run"] for s in json.loads(cli(*status).stdout)["stages"]}
    assert not runs["mine"] and not runs["train_sch"], runs


def test_a_bad_truth_file_fails_train_sch_at_once_naming_it_and_loses_nothing(
    demo: Path, tmp_path: Path
) -> None:
    """A truth file cut short (or of the wrong shape) fails train_sch with one line naming it,
    exit 2, before the work inference it would score; the last good run stays as it was."""
    config = demo / "pipeline_config.toml"
    good = (demo / "repos" / "truth.json").read_text()
    cut = tmp_path / "truth.json"
    cut.write_text(good[:300])
    proc = cli("pipeline", "--config", str(config), "--set", f"training.truth_path={cut}",
               check=False)  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    said = proc.stdout + proc.stderr
    assert f"[FAIL] train_sch: {cut}: not valid JSON" in said
    assert "Traceback" not in said and "JSONDecodeError" not in said
    assert "work inference" not in said  # failed before any author was fitted
    shaped = json.loads(good)
    del shaped["commits"][0]["coding_minutes"]
    cut.write_text(json.dumps(shaped))
    proc = cli("pipeline", "--config", str(config), "--set", f"training.truth_path={cut}",
               check=False)  # fmt: skip
    assert proc.returncode == 2
    assert f"{cut}: commits[0]: missing key 'coding_minutes'" in proc.stdout + proc.stderr
    plan = json.loads(cli("status", "--config", str(config), "--json").stdout)["stages"]
    assert not {s["stage"]: s for s in plan}["train_sch"]["run"]  # the good run is intact


def test_a_damaged_saved_dataset_is_one_warn_line_naming_it_and_is_rebuilt(tmp_path: Path) -> None:
    """train_sch reuses the dataset its last completed run saved (same fingerprint, an output
    gone); one that does not load is damaged (it is written whole): a ``[warn]`` naming it,
    in the report's warnings, never a logger line; the stage rebuilds it and completes. A demo
    of its own: the module's shared one may have been run last under other params."""
    work = tmp_path / "copy"
    cli("demo", "--output-dir", str(work), "--size", "tiny")
    base = work / "sc-output"
    config = str(work / "pipeline_config.toml")
    saved = base / "checkpoints" / "train_sch" / "dataset.npz"
    assert saved.is_file()
    saved.write_bytes(b"damaged\n")
    (base / "models" / "auto" / "model.pt").unlink()
    proc = cli("pipeline", "--config", config, "--stages", "train_sch")
    said = f"[warn] train_sch: {saved}: unreadable (DatasetSchemaError); rebuilding the dataset"
    assert said in proc.stderr.splitlines() and "WARNING" not in proc.stderr
    warned = [e for e in last_run(events(base)) if e["event"] == "stage_warning"]
    assert [e["reason"] for e in warned] == [said.split(": ", 1)[1]]
    assert (base / "models" / "auto" / "model.pt").is_file()


def test_report_without_the_pipelines_sections_says_why_in_one_warning_line(
    demo: Path, tmp_path: Path
) -> None:
    """A config the runner reads but the pipeline refuses still draws the runner's page; why the
    pipeline's sections are left out is one ``warning:`` line (the config error's two lines
    joined), not a logger's ``WARNING standard_coder.cli.runs: ...``."""
    text = (demo / "pipeline_config.toml").read_text()
    base = demo / "sc-output"
    config = tmp_path / "pipeline_config.toml"
    config.write_text(
        text.replace('base_dir = "sc-output"', f"base_dir = {json.dumps(str(base))}").replace(
            "[runner]\n", "[runner]\nbogus_key = 1\n"
        )
    )
    proc = cli("report", "--config", str(config))
    assert proc.stdout == f"{base / 'reports' / 'index.html'}\n"
    assert proc.stderr.startswith(
        f"warning: report: pipeline sections left out ({config}: invalid configuration; "
        "runner.bogus_key: unknown key (valid keys: "
    )
    assert proc.stderr.endswith("))\n") and proc.stderr.count("\n") == 1


def test_status_says_a_glob_that_matches_no_repository_cannot_run(tmp_path: Path) -> None:
    """``include_paths = ["../nocode/*"]`` matching nothing: status said ``mine would run``
    (exit 0) and the pipeline failed the mine; status says what the mine would, exit 2."""
    (tmp_path / "c.toml").write_text('[repos]\ninclude_paths = ["../nocode/*"]\n')
    proc = cli("status", "--config", str(tmp_path / "c.toml"), check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    row = next(ln for ln in proc.stdout.splitlines() if ln.startswith("mine"))
    assert "cannot run  no repositories to mine: [repos] include_paths ('../nocode/*')" in row
