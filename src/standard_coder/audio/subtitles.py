"""Subtitle cues from transcript segments, written as SRT and VTT (pysubs2; pure Python).

A segment with word timings is split into cues at word boundaries so that each cue fits
``max_lines`` lines of ``max_chars`` characters and lasts at most ``max_duration`` seconds; a
segment without words becomes one cue, wrapped (and cut at the line budget with its time shared
out by length).

Example:
    >>> cues = make_cues(segments, max_chars=42, max_lines=2, max_duration=6.0)
    >>> srt, vtt = render(cues, "srt"), render(cues, "vtt")
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from standard_coder.audio.transcript import Segment

__all__ = ["Cue", "make_cues", "render"]


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    lines: tuple[str, ...]


def _wrap(text: str, max_chars: int) -> list[str]:
    return textwrap.wrap(text, max_chars, break_long_words=True) or [""]


def _word_cues(seg: Segment, max_chars: int, max_lines: int, max_duration: float) -> list[Cue]:
    cues: list[Cue] = []
    chunk: list[str] = []
    start = seg.words[0].start
    for k, w in enumerate(seg.words):
        trial = " ".join([*chunk, w.word])
        fits = len(_wrap(trial, max_chars)) <= max_lines and w.end - start <= max_duration
        if chunk and not fits:
            cues.append(Cue(start, seg.words[k - 1].end, tuple(_wrap(" ".join(chunk), max_chars))))
            chunk, start = [], w.start
        chunk.append(w.word)
    cues.append(Cue(start, seg.words[-1].end, tuple(_wrap(" ".join(chunk), max_chars))))
    return cues


def _text_cues(seg: Segment, max_chars: int, max_lines: int) -> list[Cue]:
    lines = _wrap(seg.text, max_chars)
    groups = [lines[i : i + max_lines] for i in range(0, len(lines), max_lines)]
    total = sum(len(" ".join(g)) for g in groups) or 1
    cues, t = [], seg.start
    for g in groups:
        span = (seg.end - seg.start) * len(" ".join(g)) / total
        cues.append(Cue(t, t + span, tuple(g)))
        t += span
    return cues


def make_cues(
    segments: list[Segment], *, max_chars: int = 42, max_lines: int = 2, max_duration: float = 6.0
) -> list[Cue]:
    """Cues in time order; empty segments are dropped, overlaps trimmed to the next start."""
    cues: list[Cue] = []
    for seg in segments:
        if not seg.text.strip():
            continue
        if seg.words:
            cues += _word_cues(seg, max_chars, max_lines, max_duration)
        else:
            cues += _text_cues(seg, max_chars, max_lines)
    cues.sort(key=lambda c: (c.start, c.end))
    out = []
    for i, c in enumerate(cues):
        end = min(c.end, cues[i + 1].start) if i + 1 < len(cues) else c.end
        if end > c.start:
            out.append(Cue(c.start, end, c.lines))
    return out


def render(cues: list[Cue], fmt: str) -> str:
    """The cues as ``srt`` or ``vtt`` text."""
    import pysubs2

    subs = pysubs2.SSAFile()
    for c in cues:
        subs.append(
            pysubs2.SSAEvent(
                start=round(c.start * 1000), end=round(c.end * 1000), text=r"\N".join(c.lines)
            )
        )
    return subs.to_string(fmt)
