"""Adam for the neural HMM's small network, without ``torch.optim``.

``torch.optim`` imports ``torch._dynamo`` the first time an optimiser is built or stepped
(about 2 s of CPU, as long as ``import torch`` itself). Work inference runs in pool workers,
one fresh process per worker and run, so every run and every restart after a kill paid it per
worker for a network of a few hundred weights. This is the same update as
``torch.optim.Adam`` on the CPU with its defaults (single-tensor path, no weight decay, no
AMSGrad), operation for operation, so fits are bit-identical (``tests/unit/test_work_inference``
compares the two).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class Adam:
    """``torch.optim.Adam(params, lr)`` for CPU float tensors: ``param_groups[i]["lr"]`` may be
    changed between steps, ``zero_grad()`` sets the gradients to None, ``step()`` updates every
    parameter that has a gradient."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        import torch

        self._torch = torch
        self.params = list(params)
        self.param_groups: list[dict[str, Any]] = [
            {"params": self.params, "lr": lr, "betas": betas, "eps": eps}
        ]
        self._step = [torch.tensor(0.0, dtype=torch.float32) for _ in self.params]
        self._exp_avg = [torch.zeros_like(p) for p in self.params]
        self._exp_avg_sq = [torch.zeros_like(p) for p in self.params]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        group = self.param_groups[0]
        lr, eps = group["lr"], group["eps"]
        beta1, beta2 = group["betas"]
        with self._torch.no_grad():
            for i, param in enumerate(self.params):
                grad = param.grad
                if grad is None:
                    continue
                step_t, exp_avg, exp_avg_sq = self._step[i], self._exp_avg[i], self._exp_avg_sq[i]
                step_t += 1
                exp_avg.lerp_(grad, 1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                step = step_t.item()
                bias_correction1 = 1 - beta1**step
                bias_correction2 = 1 - beta2**step
                step_size = lr / bias_correction1
                bias_correction2_sqrt = bias_correction2**0.5
                denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
                param.addcdiv_(exp_avg, denom, value=-step_size)
