"""codeedit part 2 end to end on the fixtures with the tiny model: Stage-0/Stage-1 SFT, the
Stage-1 validator, TensorBoard scalars, a rerun that skips, and a real SIGKILL during Stage 0
that resumes at the checkpointed step with weights identical to an uninterrupted run."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from proctools import child_env
from standard_coder.runner.staging import swap_cut_short

pytest.importorskip("trl", reason="the codeedit extra (training part) is not installed")
pytest.importorskip("ast_grep_py", reason="the codeedit extra is not installed")

pytestmark = [pytest.mark.integration]

CONFIG = """[pipeline]
name = "codeedit"
[outputs]
base_dir = "out"
[codeedit]
eval_timeout_s = 2.0
[codeedit_train]
enabled = true
stage0_steps = 12
stage1_steps = 4
batch_size = 2
max_length = 160
checkpoint_every = 4
max_new_tokens = 24
validate_max_tasks = 3
srl_steps = 2
srl_max_completion_length = 24
"""


def _write(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "pipeline_config.toml"
    path.write_text(CONFIG)
    return path


def _pipeline(config: Path, *extra: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "standard_coder", "pipeline", "--config", str(config), *extra]
    env = child_env(OMP_NUM_THREADS="1")
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = _write(tmp_path_factory.mktemp("ref"))
    p = _pipeline(config)
    _, err = p.communicate(timeout=600)
    assert p.returncode == 0, err.decode()[-3000:]
    return config.parent / "out"


def test_training_stages_write_models_readmes_validation_and_scalars(trained: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    s0 = json.loads((trained / "models" / "sft_stage0" / "training.json").read_text())
    run0 = json.loads((trained / "models" / "sft_stage0.run.json").read_text())
    assert s0["steps"] == 12 and run0["resumed_from_step"] is None  # not resumed: null
    assert run0["train_seconds"] > 0 and not set(s0) & {"train_seconds", "resumed_from_step"}
    assert s0["last_loss"] < s0["first_loss"]  # Stage 0 loss falls on the fixtures
    assert set(s0["data"]) == {"commitpackft", "editpackft"}
    s1 = json.loads((trained / "models" / "sft_stage1_astgrep" / "training.json").read_text())
    assert s1["data"] == {"synthetic": s1["data"]["synthetic"]} and s1["steps"] == 4
    readme = (trained / "models" / "sft_stage1_astgrep" / "README.md").read_text()
    assert "synthetic:" in readme and '"max_steps": 4' in readme
    assert "How the run went: `../sft_stage1_astgrep.run.json`" in readme
    assert "train_seconds" not in readme and "resumed_from_step" not in readme
    srl = json.loads((trained / "models" / "srl_stage2.run.json").read_text())
    assert srl["resumed_from_step"] is None
    assert (trained / "models" / "sft_stage1_astgrep" / "model.safetensors").exists()
    doc = json.loads((trained / "reports" / "codeedit_validation.json").read_text())
    assert doc["tasks"] == 3 and 0.0 <= doc["success_rate"] <= 1.0
    assert sum(doc["statuses"].values()) == 3
    acc = EventAccumulator(str(trained / "tb" / "codeedit" / "sft_stage0"))
    acc.Reload()
    assert len(acc.Scalars("sft_stage0/loss")) == 12
    val = EventAccumulator(str(trained / "tb" / "codeedit" / "validate_stage1"))
    val.Reload()
    assert val.Scalars("validate/success_rate")[0].value == doc["success_rate"]
    html = (trained / "reports" / "index.html").read_text()
    assert "Code-edit training" in html and "sft_stage0" in html and "srl_stage2" in html

    again = _pipeline(trained.parent / "pipeline_config.toml")
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0 and b"0 ran" in err, err.decode()[-2000:]
    assert "train_seconds" in html  # the report still shows each run's wall time


def test_a_bit_identical_rebuild_reruns_only_the_report_that_shows_its_time(
    trained: Path,
) -> None:
    """A forced Stage 0 writes the same weights and training.json; its wall time lives beside
    the model's folder, so Stage 1, the validator, SRL and evaluate_models stay cached and only
    stage2_report (which shows the time) reruns."""
    config = trained.parent / "pipeline_config.toml"
    model = trained / "models" / "sft_stage0"
    before = {p.name: p.read_bytes() for p in model.iterdir() if p.is_file()}
    forced = _pipeline(config, "--stages", "sft_stage0", "--force")
    _, err = forced.communicate(timeout=400)
    assert forced.returncode == 0, err.decode()[-3000:]
    assert {p.name: p.read_bytes() for p in model.iterdir() if p.is_file()} == before
    rest = _pipeline(config)
    _, err = rest.communicate(timeout=400)
    assert rest.returncode == 0, err.decode()[-3000:]
    assert re.findall(r"^\[run\] (\w+):", err.decode(), re.M) == ["stage2_report"]


def test_a_stage1_model_rebuilt_from_its_final_checkpoint_keeps_the_training_time(
    trained: Path, tmp_path: Path
) -> None:
    """A removed Stage-1 model is rebuilt from the final checkpoint without a training step:
    its ``train_seconds`` is the training's, kept in that checkpoint, not the seconds the
    rebuild took (on the tiny model a rebuild takes longer than the 4 steps did)."""
    import shutil

    import torch
    from safetensors.torch import load_file

    run = tmp_path / "run"
    shutil.copytree(trained.parent, run)
    out = run / "out"
    first = json.loads((out / "models" / "sft_stage1_astgrep.run.json").read_text())
    model = out / "models" / "sft_stage1_astgrep" / "model.safetensors"
    want = load_file(model)
    model.unlink()
    p = _pipeline(run / "pipeline_config.toml", "--stages", "sft_stage1")
    _, err = p.communicate(timeout=400)
    assert p.returncode == 0, err.decode()[-3000:]
    again = json.loads((out / "models" / "sft_stage1_astgrep.run.json").read_text())
    assert again["resumed_from_step"] == 4
    final = out / "checkpoints" / "sft_stage1" / "train" / "ckpt-000000004.pt"
    kept = round(torch.load(final, weights_only=False)["state"]["seconds"], 2)
    assert 0 < kept <= first["train_seconds"] and again["train_seconds"] == kept
    got = load_file(model)
    assert got.keys() == want.keys() and all(torch.equal(got[k], v) for k, v in want.items())


def test_sft_and_srl_models_evaluated_and_stage2_report_generated(trained: Path) -> None:
    doc = json.loads((trained / "reports" / "codeedit_models_eval.json").read_text())
    assert set(doc["models"]) == {"sft", "sft_srl"} and doc["best"] in doc["models"]
    assert doc["tasks"]["canitedit"] == 4 and doc["tasks"]["heldout"] >= 1
    for result in doc["models"].values():
        can, held = result["canitedit"], result["heldout"]
        assert can["tasks"] == 4 and sum(can["statuses"].values()) == 4
        assert 0.0 <= can["pass@1"] <= 1.0 and held["records"] == doc["tasks"]["heldout"]
        assert 0.0 <= held["similarity"] <= 1.0
    md = (trained / "reports" / "training" / "stage2.md").read_text()
    for heading in ("## Data used", "## Configuration", "## Key metrics", "## SRL",
                    "**Best checkpoint**", "## Open issues"):  # fmt: skip
        assert heading in md, heading
    assert "| `srl_steps` | `2` |" in md and "| srl_stage2 | 2 | — |" in md  # not resumed
    assert "(`sft`)" in md and "(`sft_srl`)" in md
    html = (trained / "reports" / "index.html").read_text()
    assert "Code-edit models: SFT vs SFT + SRL" in html and "held-out similarity" in html

    # an evaluation setting reruns the evaluation and the report, nothing else
    config = trained.parent / "pipeline_config.toml"
    again = _pipeline(config, "--set", "codeedit_train.heldout_max_tasks=1")
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0 and b"2 ran" in err, err.decode()[-2000:]
    doc = json.loads((trained / "reports" / "codeedit_models_eval.json").read_text())
    assert doc["tasks"]["heldout"] == 1


def test_a_stage1_key_reruns_stage1_not_stage0(
    trained: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from standard_coder.pipelines import BUILTINS
    from standard_coder.runner import front

    config = trained.parent / "pipeline_config.toml"
    capsys.readouterr()
    overrides = ["codeedit_train.stage1_steps=5"]
    assert front.status_command(config=config, builtins=BUILTINS, overrides=overrides,
                                as_json=True) == 0  # fmt: skip
    plan = {r["stage"]: r for r in json.loads(capsys.readouterr().out)["stages"]}
    for name in ("ingest", "split", "base_model", "sft_stage0"):
        assert not plan[name]["run"], plan[name]
    assert plan["sft_stage1"]["reason"] == "params changed: codeedit_train.stage1_steps 4 -> 5"


def test_a_mix_of_sources_without_training_records_is_one_line_naming_the_key(
    tmp_path: Path,
) -> None:
    config = _write(tmp_path)  # canitedit is test-only: no Stage-0 training records
    p = _pipeline(config, "--set", "codeedit_train.stage0_mix={canitedit=1.0}", "--to",
                  "sft_stage0")  # fmt: skip
    _, err = p.communicate(timeout=300)
    assert p.returncode == 2, err.decode()[-2000:]  # bad input
    (line,) = [x for x in err.decode().splitlines() if x.startswith("[FAIL]")]
    assert line.startswith(
        "[FAIL] sft_stage0: [codeedit_train] stage0_mix = {'canitedit': 1.0} draws "
        "from no source with sft_stage0 records in the train split (records per source: "
        "commitpackft "
    ), line
    assert b"Traceback" not in err


def test_examples_a_short_max_length_drops_are_a_warn_line(tmp_path: Path) -> None:
    """A max_length that some prompts fill alone: TRL drops those examples, and the stage says
    how many in one ``[warn]`` line naming the setting (was a raw ``WARNING`` log line)."""
    config = _write(tmp_path)
    p = _pipeline(config, "--set", "codeedit_train.max_length=120", "--set",
                  "codeedit_train.stage0_steps=1", "--to", "sft_stage0")  # fmt: skip
    _, raw = p.communicate(timeout=300)
    err = raw.decode()
    assert p.returncode == 0, err[-2000:]
    (line,) = [x for x in err.splitlines() if "training examples dropped" in x]
    found = re.fullmatch(r"\[warn\] sft_stage0: \[codeedit_train\] (\d+) of (\d+) training "
                         r"examples dropped: their prompt alone fills max_length = 120 tokens",
                         line)  # fmt: skip
    assert found and 0 < int(found[1]) < int(found[2]), line
    assert "WARNING" not in err


def test_ctrl_c_during_the_validator_stops_it_between_answers(
    trained: Path, tmp_path: Path
) -> None:
    """A real SIGINT while validate_stage1 generates (long answers: about a second each): the
    stage stops before the next answer, exit 130, no validation written over the last one."""
    config = trained.parent / "pipeline_config.toml"
    before = (trained / "reports" / "codeedit_validation.json").read_bytes()
    log = trained / "logs" / "run.log"
    seen = log.read_text().count("stage validate_stage1: running")
    p = _pipeline(config, "--stages", "validate_stage1", "--set",
                  "codeedit_train.max_new_tokens=700")  # fmt: skip
    deadline = time.monotonic() + 120
    while log.read_text().count("stage validate_stage1: running") == seen:
        assert p.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(1.0)  # inside the first answers
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err.decode()[-2000:]
    assert b"[STOP] validate_stage1: interrupted: rerun to go on (validate_stage1 kept no" in err
    assert (trained / "reports" / "codeedit_validation.json").read_bytes() == before


def test_sigterm_during_evaluate_models_resumes_at_the_next_answer(
    trained: Path, tmp_path: Path
) -> None:
    import shutil
    import sqlite3

    run = tmp_path / "run"
    shutil.copytree(trained.parent, run)
    out = run / "out"
    shutil.rmtree(out / "checkpoints" / "evaluate_models")
    (out / "reports" / "codeedit_models_eval.json").unlink()
    ledger = out / "checkpoints" / "evaluate_models" / "answers_sft.ledger.sqlite"

    def answers() -> int:
        try:
            with sqlite3.connect(f"file:{ledger}?mode=ro", uri=True) as conn:
                return int(conn.execute("SELECT COUNT(*) FROM items").fetchone()[0])
        except sqlite3.Error:
            return 0

    p = _pipeline(run / "pipeline_config.toml")
    deadline = time.monotonic() + 300
    while answers() < 1:
        assert p.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 143, err.decode()[-2000:]
    assert not (out / "reports" / "codeedit_models_eval.json").exists()
    again = _pipeline(run / "pipeline_config.toml")
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0, err.decode()[-3000:]
    log = (out / "logs" / "run.log").read_text()
    reused = [int(m) for m in re.findall(r"sft: \d+ answers generated, (\d+) reused", log)]
    assert reused and reused[-1] >= 1, log[-2000:]
    got = json.loads((out / "reports" / "codeedit_models_eval.json").read_text())
    want = json.loads((trained / "reports" / "codeedit_models_eval.json").read_text())
    # greedy answers: the same results as the uninterrupted run (whose held-out slice an
    # earlier test may have cut to one record)
    for name in ("sft", "sft_srl"):
        g, w = got["models"][name], want["models"][name]
        assert g["canitedit"]["outcomes"] == w["canitedit"]["outcomes"] or [
            (o["task_id"], o["status"]) for o in g["canitedit"]["outcomes"]
        ] == [(o["task_id"], o["status"]) for o in w["canitedit"]["outcomes"]]
        held = {o["id"]: o for o in g["heldout"]["outcomes"]}
        assert all(held[o["id"]] == o for o in w["heldout"]["outcomes"])


def test_sigkill_during_stage0_resumes_with_identical_weights(
    trained: Path, tmp_path: Path
) -> None:
    from safetensors.torch import load_file

    config = _write(tmp_path)
    ckpts = tmp_path / "out" / "checkpoints" / "sft_stage0" / "train"
    p = _pipeline(config, "--to", "sft_stage0")
    deadline = time.monotonic() + 300
    while not list(ckpts.glob("ckpt-*.pt")):
        assert p.poll() is None, "Stage 0 finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)
    p.communicate(timeout=60)
    assert p.returncode == -signal.SIGKILL
    model = tmp_path / "out" / "models" / "sft_stage0" / "model.safetensors"
    assert not model.exists()

    again = _pipeline(config, "--to", "sft_stage0")
    _, err = again.communicate(timeout=400)
    assert again.returncode == 0, err.decode()[-3000:]
    doc = json.loads((model.parent / "training.json").read_text())
    run = json.loads((model.parent.parent / "sft_stage0.run.json").read_text())
    assert run["resumed_from_step"] >= 4 and doc["steps"] == 12
    assert "resuming training at step" in (tmp_path / "out" / "logs" / "run.log").read_text()
    got = load_file(model)
    want = load_file(trained / "models" / "sft_stage0" / "model.safetensors")
    assert got.keys() == want.keys()
    for key, value in want.items():
        assert (got[key] == value).all(), key


def test_a_retrain_killed_while_it_saves_leaves_the_last_model_whole(tmp_path: Path) -> None:
    """Stage 0 retrained under other params and SIGKILLed once it has begun to save the new
    model: the last completed model's folder and run file are as they were (the stage's outputs
    are staged: before session 42 ``save_pretrained`` wrote over the folder file by file, so the
    kill left new weights beside the old training.json, and switching back retrained); switched
    back, Stage 0 is up to date; rerun under the new params, it rebuilds the model from its
    final checkpoint and puts it in place."""
    config = _write(tmp_path)
    first = config.read_text()
    p = _pipeline(config, "--to", "sft_stage0")
    _, err = p.communicate(timeout=400)
    assert p.returncode == 0, err.decode()[-3000:]
    out = tmp_path / "out"
    folder = out / "models" / "sft_stage0"

    def finished() -> dict[str, bytes]:
        files = [*folder.iterdir(), out / "models" / "sft_stage0.run.json"]
        return {f.name: f.read_bytes() for f in files if f.is_file()}

    before = finished()
    saved_ns = (folder / "config.json").stat().st_mtime_ns
    cdir = out / "checkpoints" / "sft_stage0"
    staged = cdir / "staged" / "model" / "sft_stage0"
    final = cdir / "train" / "ckpt-000000016.pt"
    config.write_text(first.replace("stage0_steps = 12", "stage0_steps = 16"))
    p = _pipeline(config, "--to", "sft_stage0")
    deadline = time.monotonic() + 300
    while not final.exists():  # trained: what is left is the save
        assert p.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    while not (staged / "config.json").exists():  # the first file save_pretrained writes
        try:
            if (folder / "config.json").stat().st_mtime_ns != saved_ns:  # written over, unstaged
                break
        except FileNotFoundError:  # between the two renames of the staging swap: too late
            break
        assert p.poll() is None and time.monotonic() < deadline
        time.sleep(0.005)
    p.send_signal(signal.SIGKILL)
    p.communicate(timeout=60)
    if swap_cut_short(cdir):
        # the save finished and the kill landed as the staged model was put in place (a
        # machine under load; between its two renames the folder is not there at all): the
        # staging swap's own case (tests/unit/test_runner_staging.py), not this test's
        pytest.skip("the kill landed while the retrain put its staged model in place")
    if not (staged / "config.json").exists() and _saved_whole(folder, steps=16):
        # the save and the swap finished before the kill landed (a machine under load)
        pytest.skip("the retrain put its whole model in place before the kill landed")
    assert p.returncode == -signal.SIGKILL
    assert finished() == before
    assert (staged / "config.json").exists()  # killed as it saved, beside the last model

    config.write_text(first)
    p = _pipeline(config, "--to", "sft_stage0")
    _, err = p.communicate(timeout=400)
    assert p.returncode == 0 and b"[skip] sft_stage0: up to date" in err, err.decode()[-3000:]

    config.write_text(first.replace("stage0_steps = 12", "stage0_steps = 16"))
    p = _pipeline(config, "--to", "sft_stage0")
    _, err = p.communicate(timeout=400)
    assert p.returncode == 0, err.decode()[-3000:]
    run = json.loads((out / "models" / "sft_stage0.run.json").read_text())
    doc = json.loads((folder / "training.json").read_text())
    assert run["resumed_from_step"] == 16 and doc["steps"] == 16
    assert finished()["model.safetensors"] != before["model.safetensors"]
    assert not staged.parent.parent.exists()


def test_srl_stage_logs_rewards_and_drops_constant_groups(trained: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    doc = json.loads((trained / "models" / "srl_stage2" / "training.json").read_text())
    assert doc["steps"] == 2 and len(doc["reward_curve"]) == 2
    # the tiny random model writes no parseable action: every rollout scores -0.2, every
    # prompt is dropped by dynamic sampling
    assert doc["mean_reward"] == pytest.approx(-0.2) and doc["dropped_frac_per_step"] == [1, 1]
    run = json.loads((trained / "models" / "srl_stage2.run.json").read_text())
    assert run["dropped_prompts"] == run["seen_prompts"] > 0
    assert doc["data"]["teacher_steps"] > 0
    acc = EventAccumulator(str(trained / "tb" / "codeedit" / "srl_stage2"))
    acc.Reload()
    assert [round(e.value, 3) for e in acc.Scalars("srl/reward")] == [-0.2, -0.2]


def test_one_srl_step_changes_a_policy_whose_rollouts_differ(tmp_path: Path) -> None:
    """A tiny model taught one short action (SFT) samples rollouts that differ in reward, so GRPO
    keeps the prompt and moves the weights; from the random model, all rollouts score -0.2, the
    prompt is dropped and the weights stay as they were."""
    import datasets
    import torch
    import transformers
    from safetensors.torch import load_file

    from standard_coder.codeedit import lm, prompts, sft, srl
    from standard_coder.codeedit.records import EditRecord

    datasets.disable_progress_bars()
    transformers.utils.logging.set_verbosity_error()
    action = {"type": "ast_grep", "language": "python", "mode": "cli",
              "cli": "sg run -p 'len($A)' -r 'n($A)'"}  # fmt: skip
    rec = EditRecord(
        id="t", source="synthetic", instruction="use n", instruction_style="lazy",
        pre="k = len(x)\n", post="k = n(x)\n", language="python", repo=None, license=None,
        tests=None, tags=[], metadata={"gold_action": action},
    )  # fmt: skip
    row = prompts.stage1_row(rec)
    texts = [prompts.action_answer(action)] * 50 + [row["prompt"][1]["content"]] * 20
    tok = lm.train_tokenizer(texts + [prompts.SYSTEM_ACTION] * 20, 400)
    base = tmp_path / "base"
    lm.tiny_llama(lm.TinyModelSpec(vocab_size=400), tok, 0).save_pretrained(base)
    tok.save_pretrained(base)
    opts = srl.SRLOptions(max_steps=1, num_generations=8, prompts_per_step=1,
                          max_completion_length=64, learning_rate=1e-3)  # fmt: skip
    rows = [prompts.srl_row(rec)] * 2

    def grpo(model: Path, out: Path) -> dict[str, object]:
        return srl.train_srl(model, rows, out, opts, device="cpu", work_dir=tmp_path / "w",
                             tb_dir=tmp_path / "tb" / out.name)  # fmt: skip

    flat = grpo(base, tmp_path / "flat")
    assert flat["dropped_prompts"] == flat["seen_prompts"] == 1
    before, after = (
        load_file(base / "model.safetensors"),
        load_file(tmp_path / "flat" / "model.safetensors"),
    )
    assert all(torch.equal(before[k], after[k]) for k in before)

    taught = tmp_path / "taught"
    sft.train_sft(base, [row] * 4, taught, sft.TrainOptions(
        max_steps=55, learning_rate=1e-2, lr_scheduler="constant", batch_size=4),
        device="cpu", work_dir=tmp_path / "w0")  # fmt: skip
    moved = grpo(taught, tmp_path / "moved")
    assert moved["dropped_prompts"] == 0 and moved["seen_prompts"] == 1
    assert -0.2 < moved["mean_reward"] < 1.0  # some rollouts right, some not  # type: ignore[operator]
    before, after = (
        load_file(taught / "model.safetensors"),
        load_file(tmp_path / "moved" / "model.safetensors"),
    )
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_sigterm_during_stage0_checkpoints_exits_143_and_resumes_exactly(
    trained: Path, tmp_path: Path
) -> None:
    from safetensors.torch import load_file
    from torch.utils.tensorboard import SummaryWriter

    config = _write(tmp_path)
    old = SummaryWriter(str(tmp_path / "out" / "tb" / "codeedit" / "sft_stage0"))
    old.add_scalar("sft_stage0/loss", 9.0, 3)  # an earlier model's curve: a fresh start drops it
    old.close()
    pointer = tmp_path / "out" / "checkpoints" / "sft_stage0" / "train" / "latest"
    p = _pipeline(config, "--to", "sft_stage0")
    deadline = time.monotonic() + 300
    while not pointer.exists():
        assert p.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 143, err.decode()[-2000:]
    assert b"resumes from its checkpoint at step" in err
    again = _pipeline(config, "--to", "sft_stage0")
    _, err = again.communicate(timeout=400)
    assert again.returncode == 0, err.decode()[-3000:]
    model = tmp_path / "out" / "models" / "sft_stage0" / "model.safetensors"
    doc = json.loads((model.parent / "training.json").read_text())
    run = json.loads((model.parent.parent / "sft_stage0.run.json").read_text())
    assert run["resumed_from_step"] >= 4
    # the loss curve has every step, the checkpoint's own included (it waits for that entry)
    ref = json.loads((trained / "models" / "sft_stage0" / "training.json").read_text())
    assert [s for s, _ in doc["loss_curve"]] == list(range(1, 13))
    assert [v for _, v in doc["loss_curve"]] == pytest.approx([v for _, v in ref["loss_curve"]])
    got, want = load_file(model), load_file(trained / "models" / "sft_stage0" / "model.safetensors")
    assert all((got[k] == v).all() for k, v in want.items())
    # TensorBoard shows the uninterrupted run's curves: each step once, no summary of the
    # stopped run, TRL's token count continued (it lives on the trainer, restored on resume)
    resumed = _scalars(tmp_path / "out" / "tb" / "codeedit" / "sft_stage0")
    reference = _scalars(trained / "tb" / "codeedit" / "sft_stage0")
    assert {k: [s for s, _ in v] for k, v in resumed.items()} == {
        k: [s for s, _ in v] for k, v in reference.items()
    }
    assert [s for s, _ in reference["sft_stage0/loss"]] == list(range(1, 13))
    for tag in ("loss", "learning_rate", "grad_norm", "epoch", "num_tokens"):
        got_v = [v for _, v in resumed[f"sft_stage0/{tag}"]]
        assert got_v == pytest.approx([v for _, v in reference[f"sft_stage0/{tag}"]]), tag


def _saved_whole(folder: Path, *, steps: int) -> bool:
    """The model folder holds a whole model of ``steps`` steps (its config and training
    summary parse, its weights are there)."""
    try:
        doc = json.loads((folder / "training.json").read_text())
        json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return doc.get("steps") == steps and (folder / "model.safetensors").is_file()


def _scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    acc.Reload()
    return {t: [(e.step, e.value) for e in acc.Scalars(t)] for t in acc.Tags()["scalars"]}
