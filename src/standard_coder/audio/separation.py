"""Vocal isolation: Demucs (when importable) or a mid/side DSP estimate.

Both take and return ``frames x channels`` float32 arrays at the clip's sample rate and give
``(vocals, accompaniment)`` with ``vocals + accompaniment == mixture`` (up to float error).

Demucs weights are never downloaded: ``demucs_unittest`` is built in code (untrained: the audio
it returns is meaningless, but shapes, rates and the code path are Demucs's own), and a
pretrained model loads from a local folder of weights (``model_repo``), weights-only.

Example:
    >>> vocals, rest = separate_dsp(clip, 16000)
"""

from __future__ import annotations

import importlib.util
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "SeparationError",
    "demucs_available",
    "load_demucs_model",
    "model_segment",
    "separate_demucs",
    "separate_dsp",
]

VOICE_BAND_HZ = (120.0, 5000.0)
WINDOW_S = 8.0
"""Default Demucs window (seconds): Ctrl-C waits for at most the window in flight. Above
``htdemucs``'s 7.8 s segment, so a pretrained model keeps its own segment (and its bytes)."""
SHIFT_S = 0.5
"""The longest random shift Demucs's ``shifts`` adds to a window (``apply_model``)."""


class SeparationError(ValueError):
    """A backend cannot run as configured (message says why and what to set)."""

    exit_code = 2


@dataclass(frozen=True)
class DemucsInfo:
    model: str
    samplerate: int
    audio_channels: int
    sources: list[str]
    window_s: float = 0.0
    """The window used: ``window_s`` capped at the model's segment."""
    windows: int = 0
    discarded: str = ""
    """Why an interrupted run's saved windows were not used ("" when none were left out)."""


def demucs_available() -> bool:
    """True when ``demucs`` can be imported (checked without importing it)."""
    try:
        return importlib.util.find_spec("demucs") is not None
    except (ImportError, ValueError):  # a broken or half-removed install
        return False


def separate_dsp(data: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Vocals as the voice band of the mid (L+R)/2 channel; the rest is the accompaniment.

    Lead vocals are mixed to the centre, so they sit in the mid channel and cancel in the side
    channel (L-R)/2; a 4th-order Butterworth band-pass (120 Hz - 5 kHz, zero phase) then drops
    bass and cymbals. A mono clip has no side channel: only the band-pass applies.
    """
    import numpy as np
    from scipy.signal import butter, sosfiltfilt

    mid = data.mean(axis=1)
    high = min(VOICE_BAND_HZ[1], 0.45 * sample_rate)
    sos = butter(4, [VOICE_BAND_HZ[0], high], btype="bandpass", fs=sample_rate, output="sos")
    padlen = min(data.shape[0] - 1, 3 * (2 * len(sos) + 1))
    voice = sosfiltfilt(sos, mid, padlen=max(padlen, 0)) if data.shape[0] > 1 else mid
    vocals = np.repeat(voice[:, None], data.shape[1], axis=1).astype(np.float32)
    return vocals, (data - vocals).astype(np.float32)


def _need_demucs() -> None:
    if not demucs_available():
        raise SeparationError(
            "source_separation backend 'demucs': the demucs package is not installed "
            "(pip install 'standard-coder[audio]', or backend = 'dsp')"
        )


def _safe_load(path: Path) -> dict[str, Any]:
    """A Demucs model package (class, args, kwargs, state), loaded weights-only."""
    import fractions

    import torch
    from demucs import demucs as demucs_v2
    from demucs import hdemucs, htdemucs

    allowed = [demucs_v2.Demucs, hdemucs.HDemucs, htdemucs.HTDemucs, fractions.Fraction]
    try:
        with torch.serialization.safe_globals(allowed):
            package = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError, ...
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SeparationError(f"{path}: not a loadable Demucs weights file ({first})") from None
    if not isinstance(package, dict) or not {"klass", "args", "kwargs", "state"} <= set(package):
        raise SeparationError(f"{path}: not a Demucs model package (klass/args/kwargs/state)")
    return package


def _weights(repo: Path, sig: str) -> Path:
    exact = repo / f"{sig}.th"
    found = [exact] if exact.is_file() else sorted(repo.glob(f"{sig}-*.th"))
    if not found:
        raise SeparationError(f"{repo}: no weights {sig}.th (or {sig}-*.th) in model_repo")
    return found[0]


def load_demucs_model(name: str, repo: Path | None) -> Any:
    """The Demucs model ``name``: ``demucs_unittest`` in code, anything else from ``repo``.

    ``repo`` holds what Demucs's own ``--repo`` expects: ``<name>.yaml`` (a bag: ``models``,
    optional ``weights`` and ``segment``) with ``<sig>[-<hash>].th`` files, or ``<name>.th``.

    Raises:
        SeparationError: demucs is not installed, a pretrained model without ``repo``, or
            missing/invalid weights.
    """
    _need_demucs()
    from demucs.pretrained import demucs_unittest
    from demucs.states import load_model

    if name == "demucs_unittest":
        return demucs_unittest()
    if repo is None:
        raise SeparationError(
            f"Demucs model {name!r} needs [source_separation] model_repo: a folder with its "
            "weights (they are never downloaded at run time)"
        )
    bag_file = repo / f"{name}.yaml"
    if not bag_file.is_file():
        return load_model(_safe_load(_weights(repo, name)))
    import yaml
    from demucs.apply import BagOfModels

    try:
        bag = yaml.safe_load(bag_file.read_text(encoding="utf-8"))
        sigs = list(bag["models"])
    except (yaml.YAMLError, KeyError, TypeError) as exc:
        raise SeparationError(f"{bag_file}: not a Demucs bag description ({exc})") from None
    models = [load_model(_safe_load(_weights(repo, sig))) for sig in sigs]
    return BagOfModels(models, bag.get("weights"), bag.get("segment"))


class SeparationStopped(Exception):
    """A stop was requested between two Demucs windows (or two model calls inside one)."""


def _stop_check(should_stop: Callable[[], bool] | None) -> Callable[[dict[str, Any]], None] | None:
    """Demucs's per-call callback raising :class:`SeparationStopped` on a stop request (Demucs
    cancels the calls left: the way its ``callback`` is meant to abort)."""
    if should_stop is None:
        return None

    def check(state: dict[str, Any]) -> None:
        if state.get("state") == "start" and should_stop():
            raise SeparationStopped("stopped inside a Demucs window")

    return check


def model_segment(net: Any) -> float:
    """The longest audio (seconds) ``net`` separates in one call: its ``segment``, the shortest
    of a bag's models (an ``HTDemucs`` cannot take more than its training segment)."""
    models = getattr(net, "models", None) or [net]
    return min(float(getattr(m, "segment", WINDOW_S)) for m in models)


@contextmanager
def _seeded_random(seed: str) -> Iterator[None]:
    """Python's ``random`` seeded with ``seed`` inside (Demucs draws its ``shifts`` from it),
    its state put back after."""
    state = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(state)


def separate_demucs(
    data: np.ndarray,
    sample_rate: int,
    *,
    model: str = "demucs_unittest",
    repo: Path | None = None,
    device: str = "cpu",
    shifts: int = 0,
    seed: int = 0,
    window_s: float = WINDOW_S,
    work_dir: Path | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_window: Callable[[int, int, bool], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, DemucsInfo]:
    """Two stems (vocals, the rest) with Demucs, resampled back to ``sample_rate``.

    The clip is separated in windows of ``window_s`` seconds (at most the model's own segment)
    with Demucs's 25 % overlap, joined with its transition weights
    (:mod:`~standard_coder.audio.windows`). Each finished window is saved in ``work_dir`` (when
    given) and taken from there by the next call instead of being separated again; the windows
    never depend on where a run stopped, so the result is the same bytes either way.
    ``should_stop`` is asked before each window (and before each model call inside one);
    ``on_window(done, total, saved)`` hears of the windows first (``0, total, False``), then
    of each finished one (``saved``: taken from ``work_dir``, not separated now). ``seed``
    seeds torch before the model is built (``demucs_unittest`` is randomly initialised) and
    ``random`` per window (``shifts`` draws random offsets), so a rerun gives the same bytes.

    Raises:
        SeparationStopped: ``should_stop()`` turned true (the finished windows stay saved).
    """
    _need_demucs()
    import numpy as np
    import torch
    from demucs.apply import TensorChunk, apply_model
    from demucs.audio import convert_audio

    from standard_coder.audio.windows import WindowStore, overlap_add, plan_windows

    torch.manual_seed(seed)
    net = load_demucs_model(model, repo)
    if "vocals" not in net.sources:
        raise SeparationError(f"Demucs model {model!r} has no vocals source ({net.sources})")
    source = net.sources.index("vocals")
    mix = torch.from_numpy(np.ascontiguousarray(data.T))
    wav = convert_audio(mix, sample_rate, net.samplerate, net.audio_channels)
    ref = wav.mean(0)
    mean, std = ref.mean(), ref.std() + 1e-8
    normed = ((wav - mean) / std)[None]
    # a shifted window is up to 0.5 s longer (Demucs's ``max_shift``): it must still fit
    segment = min(float(window_s), model_segment(net) - (SHIFT_S if shifts else 0.0))
    key = {"model": model, "samplerate": int(net.samplerate), "channels": int(wav.shape[0]),
           "shifts": shifts, "seed": seed, "device": device}  # fmt: skip
    plan = plan_windows(int(wav.shape[-1]), int(net.samplerate), segment, key)
    store = WindowStore(work_dir, plan)
    check = _stop_check(should_stop)
    offsets = plan.offsets
    if on_window is not None:
        on_window(0, len(offsets), False)

    def windows() -> Iterator[tuple[int, torch.Tensor]]:
        for index, offset in enumerate(offsets):
            n = min(plan.length, plan.total - offset)
            saved = store.load(index, (int(wav.shape[0]), n))
            was_saved = saved is not None
            if saved is None:
                if should_stop is not None and should_stop():
                    raise SeparationStopped("stopped between two Demucs windows")
                chunk = TensorChunk(normed, offset, plan.length)
                with torch.no_grad(), _seeded_random(f"{seed}:{index}"):
                    out = apply_model(
                        net, chunk, device=device, shifts=shifts, split=False, progress=False,
                        callback=check,
                    )  # fmt: skip
                saved = out[0, source].to("cpu").numpy()
                store.save(index, saved)
            if on_window is not None:
                on_window(index + 1, len(offsets), was_saved)
            yield offset, torch.from_numpy(saved)

    vocals = overlap_add(plan, windows(), int(wav.shape[0])) * std + mean
    back = convert_audio(vocals, net.samplerate, sample_rate, data.shape[1]).T.numpy()
    n = data.shape[0]
    if back.shape[0] < n:  # resampling rounds the length; pad or cut to the clip's frames
        back = np.pad(back, ((0, n - back.shape[0]), (0, 0)))
    vocals_out = np.ascontiguousarray(back[:n], dtype=np.float32)
    info = DemucsInfo(model, int(net.samplerate), int(net.audio_channels), list(net.sources),
                      window_s=segment, windows=len(offsets),
                      discarded=store.discarded)  # fmt: skip
    return vocals_out, (data - vocals_out).astype(np.float32), info
