"""The bounded delivery-effort distribution: a Gaussian mixture on ``z = log(1 + hours)``
truncated to ``[0, log(1 + bound)]`` (hours are clipped to ``[0, bound]``).

The truncation makes it a proper distribution on the bounded range, so a PR that waits months
does not dominate training, and every quantile and draw lies within ``[0, bound]`` hours.
Log densities are on the ``z`` axis (per unit of ``log(1 + h)``), the scale the NLL is reported
on.
"""

from __future__ import annotations

import math

import numpy as np
import torch

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
GRID = 1024


def to_z(hours: torch.Tensor, bound: float) -> torch.Tensor:
    """``log(1 + clip(hours, 0, bound))``."""
    return torch.log1p(hours.clamp(0.0, bound))


def truncated_mixture_log_prob(
    log_pi: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor, z: torch.Tensor, ub: float
) -> torch.Tensor:
    """Log density of ``z`` (B,) under each row's mixture truncated to ``[0, ub]``."""
    comp = -0.5 * ((z[:, None] - loc) / scale) ** 2 - torch.log(scale) - _LOG_SQRT_2PI
    mass = torch.special.ndtr((ub - loc) / scale) - torch.special.ndtr(-loc / scale)
    log_norm = torch.logsumexp(log_pi + torch.log(mass.clamp_min(1e-12)), dim=-1)
    return torch.logsumexp(log_pi + comp, dim=-1) - log_norm


class DeliveryDistribution:
    """Per-PR delivery-time distributions (float64 on the CPU)."""

    def __init__(
        self, log_pi: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor, bound_hours: float
    ) -> None:
        self.log_pi = log_pi.double().cpu()
        self.loc = loc.double().cpu()
        self.scale = scale.double().cpu()
        self.bound = float(bound_hours)
        self.ub = math.log1p(self.bound)

    def __len__(self) -> int:
        return int(self.loc.shape[0])

    def log_prob(self, hours: np.ndarray) -> np.ndarray:
        """Log density on the ``log(1 + h)`` axis of each PR's observed hours."""
        z = to_z(torch.as_tensor(np.asarray(hours, np.float64)), self.bound)
        lp = truncated_mixture_log_prob(self.log_pi, self.loc, self.scale, z, self.ub)
        return lp.numpy()

    def _grid_cdf(self) -> tuple[torch.Tensor, torch.Tensor]:
        z = torch.linspace(0.0, self.ub, GRID, dtype=torch.float64)
        pi = self.log_pi.exp()[:, None, :]
        mu, sd = self.loc[:, None, :], self.scale[:, None, :]
        cdf = (pi * torch.special.ndtr((z[None, :, None] - mu) / sd)).sum(-1)
        lo, hi = cdf[:, :1], cdf[:, -1:]
        return z, ((cdf - lo) / (hi - lo).clamp_min(1e-300)).clamp(0.0, 1.0)

    def quantiles(self, levels: np.ndarray) -> np.ndarray:
        """Hours at each level, (PRs, levels), within ``[0, bound]``."""
        z, cdf = self._grid_cdf()
        lv = np.asarray(levels, np.float64)
        out = np.empty((len(self), lv.size))
        for i in range(len(self)):
            out[i] = np.interp(lv, cdf[i].numpy(), z.numpy())
        return np.expm1(out)

    def mean(self) -> np.ndarray:
        """Mean hours (numerical, on the grid)."""
        z, cdf = self._grid_cdf()
        pdf = torch.diff(cdf, dim=1)
        mid = torch.expm1(0.5 * (z[1:] + z[:-1]))
        return (pdf * mid).sum(1).numpy()

    def sample(self, n: int, generator: torch.Generator) -> np.ndarray:
        """``n`` draws of hours per PR, (PRs, n): a component, then an inverse-CDF draw from
        its normal truncated to ``[0, ub]``."""
        comp = torch.multinomial(self.log_pi.exp(), n, replacement=True, generator=generator)
        mu, sd = torch.gather(self.loc, 1, comp), torch.gather(self.scale, 1, comp)
        a, b = torch.special.ndtr(-mu / sd), torch.special.ndtr((self.ub - mu) / sd)
        u = torch.rand(comp.shape, generator=generator, dtype=torch.float64)
        p = (a + u * (b - a)).clamp(1e-12, 1 - 1e-12)
        z = (mu + sd * torch.special.ndtri(p)).clamp(0.0, self.ub)
        return torch.expm1(z).numpy()
