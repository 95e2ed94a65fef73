"""Quantile regression head with pinball loss; quantiles are monotone by construction.

The network predicts the lowest quantile on the log-hours axis and softplus increments for the
next ones, so ``q_1 < q_2 < ...`` always holds. For NLL, CRPS and sampling the quantiles define a
piecewise-linear CDF on log-hours with exponential tails beyond the outer quantiles (density
continuous at the outer quantiles): see :func:`quantile_log_prob`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from standard_coder.sch.predictors.mdn import mlp


@dataclass
class QuantileConfig:
    """Everything needed to rebuild a :class:`QuantileNet` (stored in the checkpoint)."""

    n_features: int
    quantiles: list[float] = field(default_factory=lambda: [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95])
    hidden: list[int] = field(default_factory=lambda: [128, 64])
    min_hours: float = 1.0 / 120.0

    def __post_init__(self) -> None:
        qs = list(self.quantiles)
        if not qs or any(not 0 < q < 1 for q in qs) or sorted(set(qs)) != qs:
            raise ValueError(f"quantiles must be strictly increasing in (0, 1), got {qs}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class QuantileNet(nn.Module):
    """MLP -> monotone quantiles of log-hours."""

    def __init__(self, cfg: QuantileConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.trunk, width = mlp(cfg.n_features, list(cfg.hidden))
        self.head = nn.Linear(width, len(cfg.quantiles))
        self.register_buffer("taus", torch.tensor(cfg.quantiles, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Quantiles of log-hours, (batch, Q), increasing along the last axis."""
        out = self.head(self.trunk(x)).float()  # the distribution math in fp32 (autocast)
        inc = nn.functional.softplus(out[:, 1:]) + 1e-4
        return torch.cat([out[:, :1], out[:, :1] + torch.cumsum(inc, dim=-1)], dim=-1)

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean pinball loss of log-hours of ``y`` (batch,) or (batch, m)."""
        z = torch.log(y.clamp_min(self.cfg.min_hours))
        taus: torch.Tensor = self.taus  # type: ignore[assignment]
        return pinball_loss(self(x), z, taus)


def pinball_loss(q: torch.Tensor, z: torch.Tensor, taus: torch.Tensor) -> torch.Tensor:
    """Pinball loss averaged over batch, samples, quantiles; ``q`` (B, Q), ``z`` (B,) or (B, m)."""
    diff = z[:, None] - q if z.dim() == 1 else z[:, :, None] - q[:, None, :]
    return torch.maximum(taus * diff, (taus - 1) * diff).mean()


def _tails(q: torch.Tensor, taus: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Exponential-tail scales (log axis) below the lowest and above the highest quantile.

    The density is continuous at both ends: ``F(z) = tau_1 exp((z - q_1) / b_lo)`` below and
    ``1 - F(z) = (1 - tau_Q) exp(-(z - q_Q) / b_hi)`` above.
    """
    if q.shape[1] > 1:
        b_lo = (q[:, 1] - q[:, 0]) / (taus[1] - taus[0]) * taus[0]
        b_hi = (q[:, -1] - q[:, -2]) / (taus[-1] - taus[-2]) * (1 - taus[-1])
    else:
        b_lo = torch.ones_like(q[:, 0]) * taus[0]
        b_hi = torch.ones_like(q[:, 0]) * (1 - taus[-1])
    return b_lo.clamp_min(1e-4)[:, None], b_hi.clamp_min(1e-4)[:, None]


def _segment(q: torch.Tensor, taus: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, ...]:
    t = taus.to(q.dtype).expand_as(q).contiguous()
    idx = torch.searchsorted(q.contiguous(), z.contiguous()).clamp(1, q.shape[1] - 1)
    x0, x1 = torch.gather(q, 1, idx - 1), torch.gather(q, 1, idx)
    t0, t1 = torch.gather(t, 1, idx - 1), torch.gather(t, 1, idx)
    return x0, x1, t0, t1


def quantile_cdf(q: torch.Tensor, taus: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """CDF at hours ``y`` (B, m) from log-hour quantiles ``q`` (B, Q)."""
    z = torch.log(y.clamp_min(1e-12))
    b_lo, b_hi = _tails(q, taus)
    lo, hi = q[:, :1], q[:, -1:]
    t_lo, t_hi = taus[0].to(q.dtype), taus[-1].to(q.dtype)
    if q.shape[1] > 1:
        x0, x1, t0, t1 = _segment(q, taus, z)
        mid = t0 + ((z - x0) / (x1 - x0).clamp_min(1e-9)).clamp(0, 1) * (t1 - t0)
    else:
        mid = torch.full_like(z, float(t_lo))
    below = t_lo * torch.exp(((z - lo) / b_lo).clamp_max(0))
    above = 1 - (1 - t_hi) * torch.exp(-((z - hi) / b_hi).clamp_min(0))
    return torch.where(z < lo, below, torch.where(z > hi, above, mid))


def quantile_log_prob(
    q: torch.Tensor, taus: torch.Tensor, y: torch.Tensor, min_hours: float
) -> torch.Tensor:
    """Log density per hour of ``y`` (B, m): piecewise-constant on log-hours, exponential tails."""
    z = torch.log(y.clamp_min(min_hours))
    b_lo, b_hi = _tails(q, taus)
    lo, hi = q[:, :1], q[:, -1:]
    t_lo, t_hi = taus[0].to(q.dtype), taus[-1].to(q.dtype)
    x0, x1, t0, t1 = _segment(q, taus, z)
    mid = torch.log((t1 - t0) / (x1 - x0).clamp_min(1e-9))
    below = torch.log(t_lo / b_lo) + (z - lo).clamp_max(0) / b_lo
    above = torch.log((1 - t_hi) / b_hi) - (z - hi).clamp_min(0) / b_hi
    return torch.where(z < lo, below, torch.where(z > hi, above, mid)) - z


def quantile_at(q: torch.Tensor, taus: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """Hours at probability ``levels`` (L,) or (B, L) for each row -> (B, L)."""
    u = levels.to(q.dtype)
    u = (u.expand(q.shape[0], -1) if u.dim() == 1 else u).contiguous()
    b_lo, b_hi = _tails(q, taus)
    lo, hi = q[:, :1], q[:, -1:]
    t_lo, t_hi = taus[0].to(q.dtype), taus[-1].to(q.dtype)
    t = taus.to(q.dtype).expand_as(q).contiguous()
    idx = torch.searchsorted(t, u).clamp(1, max(1, q.shape[1] - 1))
    if q.shape[1] > 1:
        x0, x1 = torch.gather(q, 1, idx - 1), torch.gather(q, 1, idx)
        t0, t1 = torch.gather(t, 1, idx - 1), torch.gather(t, 1, idx)
        mid = x0 + (u - t0) / (t1 - t0).clamp_min(1e-12) * (x1 - x0)
    else:
        mid = lo.expand_as(u)
    below = lo + b_lo * torch.log((u / t_lo).clamp_min(1e-300))
    above = hi - b_hi * torch.log(((1 - u) / (1 - t_hi)).clamp_min(1e-300))
    z = torch.where(u < t_lo, below, torch.where(u > t_hi, above, mid))
    return torch.exp(z)


def quantile_sample(
    q: torch.Tensor, taus: torch.Tensor, n: int, generator: torch.Generator
) -> torch.Tensor:
    """``n`` inverse-CDF draws per row in hours."""
    u = torch.rand((q.shape[0], n), generator=generator, dtype=q.dtype).clamp(1e-12, 1 - 1e-12)
    return quantile_at(q, taus, u)
