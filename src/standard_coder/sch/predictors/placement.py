"""Where an effort model trains: the device asked for, except that ``auto`` keeps a model whose
training step is too small to gain from an accelerator on the CPU, and says so.

A step of these models is a few small matrix products: on a GPU its time is set by kernel
launches (about constant up to hundreds of MFLOP), on the CPU by its arithmetic. Measured on
one H200 machine (issue 22): the paper-sized MDN (about 60 MFLOP a step at 128 commits a step)
trained 1.40x faster on its 16 CPU threads than on the GPU (962k against 689k samples/s as
``benchmarks/training.py`` then counted them: both overstated alike, by a step-count bug fixed
since, so only their ratio stands), and the default demo's training took 51 s there against
25 s on a 2-core laptop. A launch-bound GPU step and a CPU step that grows with its work cross
near 60 x 1.40 = 85 MFLOP; :data:`GPU_MIN_STEP_FLOPS` asks six times that before ``auto``
trains on the GPU, so ``auto`` is never slower than the CPU on the models measured. An
explicit ``cuda`` or ``mps`` is always honoured.

Example:
    >>> dev, reason = fit_device(module, rows=128, preference="auto")
    >>> dev.type, reason   # ('cpu', 'training on cpu, not cuda: 45 MFLOP a step ...')
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["GPU_MIN_STEP_FLOPS", "fit_device", "rows_per_step", "step_flops"]

GPU_MIN_STEP_FLOPS = 5e8
"""Below this many floating-point operations per training step, ``auto`` trains on the CPU even
where an accelerator is present (module docstring: measured break-even about 85 MFLOP)."""


def step_flops(model: nn.Module, rows: int) -> float:
    """Floating-point operations of one training step: about 6 x parameters x rows (forward 2,
    backward 4) for a network that runs once per row."""
    return 6.0 * rows * sum(p.numel() for p in model.parameters())


def rows_per_step(batch_size: int, samples_per_commit: int, n_samples: int) -> int:
    """Commits the network runs on per step: ``batch_size`` (commit, sample) pairs drawn
    ``k`` samples per commit, ``k`` capped by the label samples and the batch."""
    k = max(1, min(samples_per_commit, n_samples, batch_size))
    return max(1, batch_size // k)


def fit_device(model: nn.Module, rows: int, preference: str) -> tuple[torch.device, str | None]:
    """The device to train ``model`` on, ``rows`` commits a step.

    Args:
        preference: a device name (``cpu``, ``cuda``, ``cuda:1``, ``mps``: used as given) or
            ``auto``: the best available device (:func:`~standard_coder.runner.device.
            resolve_device`), except the CPU when a step is under :data:`GPU_MIN_STEP_FLOPS`;
            under ``torchrun`` (DDP) the rank's communication device, never demoted (every
            rank must train where its process group communicates).

    Returns:
        ``(device, reason)``: ``reason`` is a sentence for the log when ``auto`` kept the model
        on the CPU although an accelerator is present, else None.
    """
    if preference.strip().lower() != "auto":
        return torch.device(preference), None
    from standard_coder.runner import ddp
    from standard_coder.runner.device import resolve_device

    best, _ = resolve_device("auto")
    flops = step_flops(model, rows)
    if best == "cpu" or flops >= GPU_MIN_STEP_FLOPS or ddp.active():
        # under torchrun every rank trains where its process group communicates (NCCL on GPUs)
        return torch.device(ddp.comm_device() if ddp.active() else best), None
    reason = (
        f"training on cpu, not {best}: {flops / 1e6:.0f} MFLOP a step is too small to gain "
        f"from the accelerator (it pays from {GPU_MIN_STEP_FLOPS / 1e6:.0f} MFLOP)"
    )
    return torch.device("cpu"), reason
