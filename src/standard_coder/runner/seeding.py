"""One place for randomness: seed python, numpy and torch from the run seed, derive stable
per-item seeds from item keys, seeded generators for samplers, and ``check_random_state`` for
estimators' ``random_state`` parameters.

Example:
    >>> seed_everything(ctx.seed)
    >>> rng = np.random.default_rng(item_seed(ctx.seed, repo_key))  # order-independent
    >>> loader = DataLoader(ds, shuffle=True, generator=torch_generator(ctx.seed))
"""

from __future__ import annotations

import hashlib
import random
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import torch

# numpy and torch are imported inside the functions: ``item_seed`` must stay cheap to import
# (stages that only hash item keys should not pay torch's import time).

__all__ = [
    "check_random_state",
    "item_seed",
    "seed_everything",
    "torch_generator",
]

_MAX_SEED = 2**63 - 1


def _check(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= _MAX_SEED:
        raise ValueError(f"seed must be an int in [0, 2**63), got {seed!r}")
    return seed


def seed_everything(seed: int) -> None:
    """Seed python ``random``, numpy's legacy global RNG (``seed mod 2**32``) and torch
    (CPU and every CUDA device)."""
    import numpy as np
    import torch

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


def torch_generator(seed: int, device: str = "cpu") -> torch.Generator:
    """A fresh ``torch.Generator`` seeded with ``seed`` (for samplers and DataLoaders)."""
    import torch

    gen = torch.Generator(device=device)
    gen.manual_seed(_check(seed))
    return gen


def check_random_state(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A numpy Generator from an int seed, a Generator (returned as is) or None (fresh entropy).

    The one ``random_state`` convention of the project's estimators (numpy's ``Generator``
    rather than scikit-learn's legacy ``RandomState``).
    """
    import numpy as np

    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)
