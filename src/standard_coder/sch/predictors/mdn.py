"""Mixture density network (paper §4): MLP -> K-component mixture over coding hours.

``family="gaussian"`` is the paper's Gaussian mixture on hours; ``family="lognormal"`` puts the
Gaussian mixture on ``log(hours)`` (positive support; the NLL reported in hours includes the
``-log y`` Jacobian so both families are compared on the same scale). Labels are floored at
``min_hours`` for the log-normal family (a zero-hour label has no log).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import torch
from torch import nn

Family = Literal["gaussian", "lognormal"]
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


@dataclass
class MDNConfig:
    """Everything needed to rebuild an :class:`MDN` (stored in the checkpoint)."""

    n_features: int
    components: int = 20
    hidden: list[int] = field(default_factory=lambda: [256, 64, 64, 64, 64])
    family: Family = "lognormal"
    min_scale: float = 1e-3
    min_hours: float = 1.0 / 120.0
    dropout: float = 0.0
    """Dropout after every hidden layer while training."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def mlp(n_in: int, hidden: list[int], dropout: float = 0.0) -> tuple[nn.Sequential, int]:
    """ReLU MLP trunk (dropout after each hidden layer when > 0); returns it and its width."""
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(n_in, h), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        n_in = h
    return nn.Sequential(*layers), n_in


class MDN(nn.Module):
    """MLP trunk -> mixture logits, locations and scales."""

    sch_map: torch.Tensor

    def __init__(self, cfg: MDNConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.trunk, width = mlp(cfg.n_features, list(cfg.hidden), cfg.dropout)
        self.head = nn.Linear(width, 3 * cfg.components)
        # SCH = sigmoid(a + b logit(truncated mean)), fitted after training (sch_map.py; the
        # identity until then). float32: every device holds it
        self.register_buffer("sch_map", torch.tensor([0.0, 1.0]))

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str,
                              *args: Any, **kwargs: Any) -> None:  # fmt: skip
        # a checkpoint from before the SCH map has none: the identity
        state_dict.setdefault(prefix + "sch_map", self.sch_map.clone())
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return ``(log_pi, loc, scale)``, each ``(batch, K)``; loc/scale on the family's axis."""
        k = self.cfg.components
        out = self.head(self.trunk(x)).float()  # the distribution math in fp32 (autocast)
        logits, loc, s = out[:, :k], out[:, k : 2 * k], out[:, 2 * k :]
        scale = nn.functional.softplus(s) + self.cfg.min_scale
        return torch.log_softmax(logits, dim=-1), loc, scale

    def log_prob(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Log density (per hour) of ``y`` (batch,) or (batch, m) under each row's mixture."""
        log_pi, loc, scale = self(x)
        return mixture_log_prob(log_pi, loc, scale, y, self.cfg.family, self.cfg.min_hours)

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood (per label sample, hours)."""
        return -self.log_prob(x, y).mean()

    def row_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Each row's mean negative log-likelihood over its label samples, (batch,)."""
        return -self.log_prob(x, y).reshape(x.shape[0], -1).mean(1)


def mixture_log_prob(
    log_pi: torch.Tensor,
    loc: torch.Tensor,
    scale: torch.Tensor,
    y: torch.Tensor,
    family: Family,
    min_hours: float,
) -> torch.Tensor:
    """Mixture log density of ``y`` in hours; ``y`` is (B,) or (B, m) -> same shape."""
    squeeze = y.dim() == 1
    yy = y[:, :, None] if not squeeze else y[:, None, None]
    if family == "lognormal":
        yy = yy.clamp_min(min_hours)
        z = torch.log(yy)
        jac = -z
    else:
        z = yy
        jac = torch.zeros_like(z)
    lp = log_pi[:, None, :]
    mu = loc[:, None, :]
    sd = scale[:, None, :]
    comp = -0.5 * ((z - mu) / sd) ** 2 - torch.log(sd) - _LOG_SQRT_2PI
    out = torch.logsumexp(lp + comp, dim=-1) + jac[..., 0]
    return out[:, 0] if squeeze else out


def _ndtr(x: torch.Tensor) -> torch.Tensor:
    out: torch.Tensor = torch.special.ndtr(x)
    return out


def mixture_cdf(
    log_pi: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor, y: torch.Tensor, family: Family
) -> torch.Tensor:
    """Mixture CDF at ``y`` (B, m) hours."""
    yy = y[:, :, None]
    if family == "lognormal":
        yy = torch.log(yy.clamp_min(1e-12))
    z = (yy - loc[:, None, :]) / scale[:, None, :]
    return (log_pi.exp()[:, None, :] * _ndtr(z)).sum(-1)


def mixture_mean(
    log_pi: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor, family: Family
) -> torch.Tensor:
    """Untruncated mixture mean in hours."""
    m = torch.exp(loc + 0.5 * scale**2) if family == "lognormal" else loc
    return (log_pi.exp() * m).sum(-1)


def truncated_mean(
    log_pi: torch.Tensor,
    loc: torch.Tensor,
    scale: torch.Tensor,
    family: Family,
    a: float = 0.0,
    b: float = 1.0,
) -> torch.Tensor:
    """Mean of the mixture truncated to ``[a, b]`` hours and renormalised (the paper's SCH).

    Gaussian: per component ``m_k = mu + sd (phi(alpha) - phi(beta)) / Z_k`` with
    ``Z_k = Phi(beta) - Phi(alpha)``; log-normal: ``E[Y; a<Y<b] = exp(mu + sd^2/2)
    (Phi(beta - sd) - Phi(alpha - sd))`` on the log axis. Weights ``w_k = pi_k Z_k / sum``.
    """
    pi = log_pi.exp()
    if family == "lognormal":
        la = math.log(a) if a > 0 else -math.inf
        alpha = (la - loc) / scale
        beta = (math.log(b) - loc) / scale
        z = _ndtr(beta) - _ndtr(alpha)
        part = torch.exp(loc + 0.5 * scale**2) * (_ndtr(beta - scale) - _ndtr(alpha - scale))
    else:
        alpha = (a - loc) / scale
        beta = (b - loc) / scale
        z = _ndtr(beta) - _ndtr(alpha)
        phi_a = torch.exp(-0.5 * alpha**2) / math.sqrt(2 * math.pi)
        phi_b = torch.exp(-0.5 * beta**2) / math.sqrt(2 * math.pi)
        part = loc * z + scale * (phi_a - phi_b)
    w = pi * z
    total = w.sum(-1)
    mean = (pi * part).sum(-1) / total.clamp_min(1e-300)
    # no mass inside [a, b]: fall back to the nearer bound
    fallback = torch.where(
        mixture_mean(log_pi, loc, scale, family) > b,
        torch.full_like(total, b),
        torch.full_like(total, a),
    )
    return torch.where(total > 1e-12, mean.clamp(a, b), fallback)


def mixture_sample(
    log_pi: torch.Tensor,
    loc: torch.Tensor,
    scale: torch.Tensor,
    family: Family,
    n: int,
    generator: torch.Generator,
) -> torch.Tensor:
    """``n`` draws per row (B, n) in hours (Gaussian draws are floored at 0)."""
    b = log_pi.shape[0]
    comp = torch.multinomial(log_pi.exp(), n, replacement=True, generator=generator)
    mu = torch.gather(loc, 1, comp)
    sd = torch.gather(scale, 1, comp)
    eps = torch.randn((b, n), generator=generator, dtype=loc.dtype)
    z = mu + sd * eps
    return torch.exp(z) if family == "lognormal" else z.clamp_min(0.0)
