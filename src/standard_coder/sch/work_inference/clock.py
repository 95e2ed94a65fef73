"""The neural HMM's clock: local week minutes, grid cells, day numbers and the grid's inputs."""

from __future__ import annotations

import numpy as np

WEEK = 10080
_THURSDAY = 3 * 1440  # unix minute 0 is Thursday 00:00 UTC; Monday = week minute 0


def week_minute(abs_minutes: np.ndarray, tz_offsets: np.ndarray) -> np.ndarray:
    """Local minute of the week (Monday 00:00 = 0) of absolute unix minutes."""
    out: np.ndarray = (abs_minutes + tz_offsets + _THURSDAY) % WEEK
    return out


def cells_for_minutes(
    abs_minutes: np.ndarray, tz_offsets: np.ndarray, u0: float, span: float, time_bins: int
) -> np.ndarray:
    """Grid cell (week minute x overall-time bin) of each absolute minute."""
    u = (abs_minutes - u0) / span
    b = np.clip(np.floor(u * time_bins), 0, time_bins - 1).astype(np.int64)
    out: np.ndarray = (week_minute(abs_minutes, tz_offsets) * time_bins + b).astype(np.int32)
    return out


def day_numbers(abs_min: np.ndarray, tz: np.ndarray, day_start: int | np.ndarray) -> np.ndarray:
    """Local day number of absolute minutes, days starting ``day_start`` minutes after 0:00."""
    out: np.ndarray = (abs_min + tz - day_start) // 1440
    return out


def quiet_minute(local_minutes: np.ndarray) -> int:
    """Start of the hour with the fewest commits (circularly smoothed over +-2 h)."""
    hist = np.bincount((local_minutes % 1440) // 60, minlength=24).astype(float)
    smooth = sum(np.roll(hist, k) for k in range(-2, 3))
    return int(np.argmin(smooth)) * 60


def grid_features(time_bins: int) -> np.ndarray:
    w = np.repeat(np.arange(WEEK, dtype=np.float64), time_bins)
    b = np.tile(np.arange(time_bins, dtype=np.float64), WEEK)
    day = 2 * np.pi * (w % 1440) / 1440
    week = 2 * np.pi * w / WEEK
    u = 2 * (b + 0.5) / time_bins - 1
    feats = np.stack([np.sin(day), np.cos(day), np.sin(week), np.cos(week), u], axis=1)
    return feats.astype(np.float32)
