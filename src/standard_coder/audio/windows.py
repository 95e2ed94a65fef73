"""Demucs over fixed windows: the plan, the folder of finished windows, the overlap-add.

A clip is cut into windows of ``length`` frames every ``stride`` frames (Demucs's own 25 %
overlap) and the windows' vocals are joined with Demucs's own triangular transition weights,
exactly as ``demucs.apply.apply_model(split=True)`` joins its segments: with the same window
length the bytes are the same. The windows depend only on the clip and the window length, never
on when a run stopped, so a separation that resumes from its saved windows gives the bytes of
one that never stopped.

    >>> plan = plan_windows(total=441000, samplerate=44100, window_s=4.0)
    >>> plan.length, plan.stride, len(plan.offsets)
    (176400, 132300, 3)
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import torch

__all__ = ["OVERLAP", "WindowPlan", "WindowStore", "overlap_add", "plan_windows"]

OVERLAP = 0.25
"""Demucs's default overlap between neighbouring segments (``apply_model(overlap=0.25)``)."""


@dataclass(frozen=True)
class WindowPlan:
    """Where the windows lie (frames at the model's rate) and what their results depend on.

    Attributes:
        total: frames of the clip.
        length: frames per window (the last ones are shorter where the clip ends).
        stride: frames between two window starts.
        key: everything else a window's result depends on (model, rate, seed, shifts, ...):
            saved windows of another key are never used.
    """

    total: int
    length: int
    stride: int
    key: dict[str, Any]

    @property
    def offsets(self) -> list[int]:
        """Each window's first frame: Demucs's ``range(0, total, stride)`` up to the first
        window that reaches the end (Demucs goes on with windows inside that one, down to a
        few frames its model cannot normalise; the triangle of the last one covers them)."""
        offsets: list[int] = []
        for offset in range(0, self.total, self.stride):
            offsets.append(offset)
            if offset + self.length >= self.total:
                break
        return offsets

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def plan_windows(
    total: int, samplerate: int, window_s: float, key: dict[str, Any] | None = None
) -> WindowPlan:
    """Windows of ``window_s`` seconds at ``samplerate`` over ``total`` frames, 25 % overlap."""
    length = max(int(samplerate * window_s), 4)
    stride = max(int((1 - OVERLAP) * length), 1)
    return WindowPlan(total=total, length=length, stride=stride, key=dict(key or {}))


def transition_weight(length: int) -> torch.Tensor:
    """Demucs's triangle (peak 1 in the middle), as ``apply_model`` builds it
    (``transition_power`` 1)."""
    import torch

    weight = torch.cat(
        [torch.arange(1, length // 2 + 1), torch.arange(length - length // 2, 0, -1)]
    )
    return weight / weight.max()


def overlap_add(
    plan: WindowPlan, windows: Iterator[tuple[int, torch.Tensor]], channels: int
) -> torch.Tensor:
    """Join ``(offset, channels x n)`` window results in the order given, as Demucs does: each
    weighted by the transition triangle, summed, divided by the summed weights."""
    import torch

    weight = transition_weight(plan.length)
    out = torch.zeros(channels, plan.total)
    sum_weight = torch.zeros(plan.total)
    for offset, chunk in windows:
        n = chunk.shape[-1]
        out[..., offset : offset + plan.length] += weight[:n] * chunk
        sum_weight[offset : offset + plan.length] += weight[:n]
    if plan.total and float(sum_weight.min()) <= 0:
        raise ValueError("the windows do not cover the clip")
    return out / sum_weight


def _plan_words(found: str | None) -> str:
    """Why saved windows beside the plan text ``found`` cannot be used."""
    if found is not None:
        try:
            json.loads(found)
        except ValueError:
            found = None
    return "made under another plan" if found is not None else "their plan.json unreadable"


class WindowStore:
    """Finished windows in ``folder``: ``window-00003.npy`` (float32, ``allow_pickle=False``),
    each written to a temporary name and renamed, beside ``plan.json`` (written with the first
    window). A folder whose plan differs is removed first; an unreadable or misshapen window is
    computed again.

    ``folder=None`` keeps nothing (a separation that cannot resume).
    """

    PLAN = "plan.json"

    def __init__(self, folder: Path | None, plan: WindowPlan) -> None:
        self.folder = folder
        self.plan = plan
        self._plan_text = json.dumps(plan.to_json(), sort_keys=True)
        self._planned = False
        self.discarded = ""
        """Why saved windows found in ``folder`` were not used ("" when none were there)."""
        if folder is None or not folder.exists():
            return
        for stray in folder.glob(".window-*.tmp"):  # a write cut short by a kill
            stray.unlink(missing_ok=True)
        try:
            found = (folder / self.PLAN).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            found = None
        if found == self._plan_text:
            self._planned = True
        else:  # another plan's windows (or windows without a plan): never mixed in
            n = self.done()
            if n:
                self.discarded = f"{n} saved window{'s' if n != 1 else ''}, {_plan_words(found)}"
            self.clear()

    def _path(self, index: int) -> Path:
        assert self.folder is not None
        return self.folder / f"window-{index:05d}.npy"

    def done(self) -> int:
        """How many windows are saved."""
        if self.folder is None:
            return 0
        return sum(1 for p in self.folder.glob("window-*.npy"))

    def load(self, index: int, shape: tuple[int, int]) -> np.ndarray | None:
        """Window ``index``'s saved result, or None (not saved, unreadable, or not ``shape``)."""
        import numpy as np

        if self.folder is None:
            return None
        try:
            arr: np.ndarray = np.load(self._path(index), allow_pickle=False)
        except (OSError, ValueError):
            return None
        if arr.shape != shape or arr.dtype != np.float32:
            return None
        return arr

    def save(self, index: int, arr: np.ndarray) -> None:
        """Save window ``index`` (atomic: a kill leaves it whole or absent)."""
        import io

        import numpy as np

        if self.folder is None:
            return
        if not self._planned:  # the plan first: a window is never there without it
            self.folder.mkdir(parents=True, exist_ok=True)
            _replace(self.folder / self.PLAN, self._plan_text.encode())
            self._planned = True
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(arr, dtype=np.float32), allow_pickle=False)
        _replace(self._path(index), buf.getvalue())

    def clear(self) -> None:
        """Remove the folder (the windows and the plan)."""
        import shutil

        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
        self._planned = False


def _replace(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` by a temporary file and a rename (no fsync: a window lost to
    a power cut is computed again)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
