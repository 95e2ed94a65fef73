"""``accelerate launch --num_processes 2`` on CPU: two processes (gloo) run one SFT step of the
tiny model together (the Trainer wraps the model in DDP). Each rank trains on a different
record, yet both log the same loss: the Trainer gathers it across the processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("trl", reason="the codeedit extra (training part) is not installed")
pytest.importorskip("ast_grep_py", reason="the codeedit extra is not installed")

LAUNCHES_DISTRIBUTED_JOBS = True  # tests/conftest.py: one such module at a time

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCRIPT = r"""
import hashlib, json, os, sys
from pathlib import Path

from accelerate import PartialState

from standard_coder.codeedit import lm, prompts
from standard_coder.codeedit.records import EditRecord
from standard_coder.codeedit.sft import TrainOptions, train_sft


def rec(name):
    action = {"type": "ast_grep", "language": "python", "mode": "cli",
              "cli": f"sg run -p 'len($A)' -r '{name}($A)'"}
    return EditRecord(id=name, source="synthetic", instruction=f"use {name}",
                      instruction_style="lazy", pre="n = len(xs)\n", post=f"n = {name}(xs)\n",
                      language="python", repo=None, license=None, tests=None, tags=[],
                      metadata={"gold_action": action})


out = Path(sys.argv[1])
rows = [prompts.stage1_row(rec("size")), prompts.stage1_row(rec("count_items_in"))]
state = PartialState(cpu=True)
base = out / "base"
if state.is_main_process:
    texts = [r["prompt"][1]["content"] for r in rows] + [prompts.SYSTEM_ACTION]
    tok = lm.train_tokenizer(texts * 5, 300)
    lm.tiny_llama(lm.TinyModelSpec(vocab_size=300), tok, 0).save_pretrained(base)
    tok.save_pretrained(base)
state.wait_for_everyone()
opts = TrainOptions(max_steps=1, batch_size=1, max_length=512, learning_rate=1e-2)
rank = state.process_index
doc = train_sft(base, rows, out / f"sft-{rank}", opts, device="cpu", work_dir=out / f"w{rank}")
saved = out / f"sft-{rank}" / "model.safetensors"  # the main process saves
weights = hashlib.sha256(saved.read_bytes()).hexdigest() if saved.exists() else None
(out / f"result-{rank}.json").write_text(json.dumps({
    "rank": rank, "world": state.num_processes, "type": str(state.distributed_type),
    "backend": state.backend, "steps": doc["steps"], "loss": doc["first_loss"],
    "weights": weights,
    "base": hashlib.sha256((base / "model.safetensors").read_bytes()).hexdigest(),
}))
# leave together: a rank that exits while the other still talks to it through gloo can abort
# at exit ("terminate called without an active exception", seen once under load)
state.wait_for_everyone()
import torch.distributed as dist

if dist.is_initialized():
    dist.destroy_process_group()
"""


def test_accelerate_launch_two_cpu_processes_run_one_sft_step(tmp_path: Path) -> None:
    launcher = Path(sys.executable).parent / "accelerate"
    if not launcher.exists():
        pytest.skip("the accelerate launcher is not installed next to this Python")
    script = tmp_path / "one_step.py"
    script.write_text(SCRIPT)
    cmd = [str(launcher), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines",
           "1", "--main_process_port", "0", "--mixed_precision", "no", "--dynamo_backend",
           "no", str(script), str(tmp_path / "run")]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=400)
    assert p.returncode == 0, (p.stdout + p.stderr)[-4000:]
    # one file per rank: two ranks printing to one pipe can interleave on one line
    results = [json.loads(f.read_text()) for f in sorted((tmp_path / "run").glob("result-*.json"))]
    assert [r["rank"] for r in results] == [0, 1], p.stdout[-2000:]
    for r in results:
        assert r["world"] == 2 and r["type"] == "DistributedType.MULTI_CPU"
        assert r["backend"] == "gloo" and r["steps"] == 1
    assert results[0]["loss"] == results[1]["loss"] > 0  # gathered over both ranks
    # the main process alone saves the model; one step moved its weights
    assert results[1]["weights"] is None
    assert results[0]["weights"] not in (None, results[0]["base"])
