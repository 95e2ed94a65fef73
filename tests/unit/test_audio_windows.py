"""Demucs in windows (``audio/windows.py``, ``separate_demucs``): the windows cover the clip and
join exactly as Demucs's own split does; a separation stopped after some windows resumes from
the saved ones and gives the same bytes; saved work of another plan, or a torn window, is never
trusted."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from standard_coder.audio.windows import WindowStore, plan_windows

pytest.importorskip("demucs")

RATE = 8000


def clip(seconds: float = 2.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    noise = 0.05 * np.random.default_rng(0).standard_normal((t.size, 2))
    tones = np.stack([np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 330 * t)], 1)
    return (0.3 * tones + noise).astype(np.float32)


@pytest.mark.parametrize("total", [1, 100, 22050, 22051, 88200, 88201, 100000])
def test_the_windows_cover_the_clip_and_stop_at_its_end(total: int) -> None:
    plan = plan_windows(total, 44100, 0.5)
    offsets = plan.offsets
    assert offsets[0] == 0 and offsets == sorted(offsets)
    assert all(b - a == plan.stride for a, b in pairwise(offsets))
    assert offsets[-1] + plan.length >= total  # the last one reaches the end
    assert all(o + plan.length < total for o in offsets[:-1])  # none after that
    if len(offsets) > 1:  # never a sliver: at least Demucs's overlap of a window
        assert total - offsets[-1] > plan.length - plan.stride


def test_windows_join_exactly_as_demucs_splits() -> None:
    """Same window length, same offsets: the bytes of ``apply_model(split=True)``."""
    import torch
    from demucs.apply import apply_model
    from demucs.audio import convert_audio

    from standard_coder.audio.separation import load_demucs_model, separate_demucs

    data = clip()
    vocals, rest, info = separate_demucs(data, RATE, window_s=0.5)
    assert info.windows == 6 and info.window_s == 0.5
    torch.manual_seed(0)
    net = load_demucs_model("demucs_unittest", None)
    wav = convert_audio(torch.from_numpy(data.T.copy()), RATE, net.samplerate, 2)
    ref = wav.mean(0)
    mean, std = ref.mean(), ref.std() + 1e-8
    with torch.no_grad():
        stems = apply_model(net, ((wav - mean) / std)[None], shifts=0, split=True, segment=0.5)
    whole = stems[0, net.sources.index("vocals")] * std + mean
    back = convert_audio(whole, net.samplerate, RATE, 2).T.numpy()[: len(data)]
    assert np.array_equal(back, vocals)
    assert np.allclose(vocals + rest, data, atol=1e-6)


@pytest.mark.parametrize("shifts", [0, 1])
def test_a_stopped_separation_resumes_from_its_windows_to_the_same_bytes(
    tmp_path: Path, shifts: int
) -> None:
    from standard_coder.audio.separation import SeparationStopped, separate_demucs

    data = clip()
    whole, _, _ = separate_demucs(data, RATE, window_s=0.5, shifts=shifts, seed=3)
    work = tmp_path / "windows"
    seen: list[tuple[int, int, bool]] = []

    def two_separated() -> bool:
        return sum(not s for d, _, s in seen if d) >= 2

    def note(done: int, total: int, saved: bool) -> None:
        seen.append((done, total, saved))

    with pytest.raises(SeparationStopped):
        separate_demucs(data, RATE, window_s=0.5, shifts=shifts, seed=3, work_dir=work,
                        should_stop=two_separated, on_window=note)  # fmt: skip
    assert sorted(p.name for p in work.glob("window-*.npy")) == [
        "window-00000.npy", "window-00001.npy"
    ]  # fmt: skip
    seen.clear()
    vocals, _, _ = separate_demucs(data, RATE, window_s=0.5, shifts=shifts, seed=3,
                                   work_dir=work, on_window=note)  # fmt: skip
    assert seen[0] == (0, 6, False)
    assert [s for _, _, s in seen[1:]] == [True, True, False, False, False, False]
    assert np.array_equal(vocals, whole)


def test_saved_windows_of_another_plan_or_torn_are_not_used(tmp_path: Path) -> None:
    from standard_coder.audio.separation import separate_demucs

    data = clip(1.0)
    work = tmp_path / "windows"
    whole, _, _ = separate_demucs(data, RATE, window_s=0.5, work_dir=work)
    assert len(list(work.glob("window-*.npy"))) == 3
    (work / "window-00001.npy").write_bytes(b"torn")  # unreadable: separated again
    (work / ".window-00002.npy.99.tmp").write_bytes(b"cut short")
    saved: list[bool] = []
    again, _, _ = separate_demucs(data, RATE, window_s=0.5, work_dir=work,
                                  on_window=lambda d, t, s: saved.append(s))  # fmt: skip
    assert saved[1:] == [True, False, True] and np.array_equal(again, whole)
    assert not list(work.glob(".window-*"))
    # another seed is another plan: its windows go, none is mixed in
    saved.clear()
    separate_demucs(data, RATE, window_s=0.5, seed=1, work_dir=work,
                    on_window=lambda d, t, s: saved.append(s))  # fmt: skip
    assert not any(saved)
    store = WindowStore(work, plan_windows(10, 44100, 0.5))  # and another length: emptied
    assert store.done() == 0 and not work.exists()
    assert store.discarded == "3 saved windows, made under another plan"


def test_windows_whose_plan_is_unreadable_are_said_to_be_left_out(tmp_path: Path) -> None:
    """A damaged ``plan.json``: the run announced a resume ("3/11 items done"), separated all
    11 windows again, and said nothing of why."""
    from standard_coder.audio.separation import separate_demucs

    data = clip(1.0)
    work = tmp_path / "windows"
    _, _, first = separate_demucs(data, RATE, window_s=0.5, work_dir=work)
    assert first.discarded == ""
    (work / WindowStore.PLAN).write_text("{bad")
    _, _, info = separate_demucs(data, RATE, window_s=0.5, work_dir=work)
    assert info.discarded == "3 saved windows, their plan.json unreadable"
