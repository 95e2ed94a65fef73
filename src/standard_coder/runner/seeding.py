"""One place for randomness: seed python, numpy and torch from the run seed, derive stable
per-item seeds from item keys, seed DataLoader workers, and record the seed in the run folder.

Example:
    >>> seed_everything(ctx.seed)
    >>> rng = np.random.default_rng(item_seed(ctx.seed, repo_key))  # order-independent
    >>> loader = DataLoader(ds, shuffle=True, generator=torch_generator(ctx.seed),
    ...                     worker_init_fn=seed_worker)
"""

from __future__ import annotations

import hashlib
import os
import random
from pathlib import Path

import numpy as np
import torch

from standard_coder.runner.atomic import atomic_write_json

__all__ = [
    "SEED_FILE",
    "item_seed",
    "record_seed",
    "seed_everything",
    "seed_worker",
    "torch_generator",
]

SEED_FILE = "seed.json"
_MAX_SEED = 2**63 - 1


def _check(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= _MAX_SEED:
        raise ValueError(f"seed must be an int in [0, 2**63), got {seed!r}")
    return seed


def seed_everything(seed: int) -> None:
    """Seed python ``random``, numpy's legacy global RNG (``seed mod 2**32``) and torch
    (CPU and every CUDA device)."""
    _check(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


def item_seed(run_seed: int, key: str) -> int:
    """A stable seed in ``[0, 2**63)`` for one item, from ``sha256(run_seed, key)``.

    Independent of processing order, process and python hash seed, so an item redone after a
    resume draws the same random numbers.
    """
    _check(run_seed)
    digest = hashlib.sha256(f"{run_seed}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & _MAX_SEED


def seed_worker(worker_id: int) -> None:
    """``worker_init_fn`` for DataLoader workers: seed python and numpy from torch's per-worker
    seed (which the loader derives from its generator), as the PyTorch docs recommend."""
    worker_seed = torch.initial_seed() % 2**32
    np.random.seed(worker_seed)
    random.seed(worker_seed)


def torch_generator(seed: int, device: str = "cpu") -> torch.Generator:
    """A fresh ``torch.Generator`` seeded with ``seed`` (for samplers and DataLoaders)."""
    gen = torch.Generator(device=device)
    gen.manual_seed(_check(seed))
    return gen


def record_seed(run_dir: Path, seed: int) -> Path:
    """Write ``<run_dir>/seed.json`` atomically and return its path."""
    path = Path(run_dir) / SEED_FILE
    atomic_write_json(
        path,
        {
            "seed": _check(seed),
            "numpy_legacy_seed": seed % 2**32,
            "pythonhashseed": os.environ.get("PYTHONHASHSEED"),
            "torch": torch.__version__,
            "numpy": np.__version__,
        },
    )
    return path
