"""Transcripts: import SRT/VTT/JSON, cut to the clip, and a pluggable local ASR backend.

A transcript is a list of :class:`Segment` (seconds, text, optional word timings). JSON input
is WhisperX's / faster-whisper's shape: ``{"segments": [{"start", "end", "text", "words":
[{"word", "start", "end"}]}]}``. Pure Python (pysubs2 parses SRT/VTT); ASR models load only from
a local folder, never from a hub.

Example:
    >>> segs = clip_window(load_transcript(Path("film.srt")), start=60.0, end=90.0)
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "ASR_BACKENDS",
    "Segment",
    "TranscriptError",
    "Word",
    "clip_window",
    "load_transcript",
    "segments_from_json",
    "segments_to_json",
]


class TranscriptError(ValueError):
    """A transcript or ASR backend cannot be used (names the file and the cause)."""

    exit_code = 2


@dataclass
class Word:
    word: str
    start: float
    end: float


@dataclass
class Segment:
    start: float
    end: float
    text: str
    words: list[Word] = field(default_factory=list)


def _num(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TranscriptError(f"{where}: expected a finite number of seconds, got {value!r}")
    return float(value)


def segments_from_json(doc: Any, source: str) -> list[Segment]:
    """Segments from WhisperX-style JSON (a dict with ``segments``, or the list itself)."""
    items = doc.get("segments") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise TranscriptError(f"{source}: expected a list under 'segments'")
    out: list[Segment] = []
    for i, item in enumerate(items):
        where = f"{source}: segments[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise TranscriptError(f"{where}: expected an object with start, end and text")
        start, end = (
            _num(item.get("start"), f"{where}.start"),
            _num(item.get("end"), f"{where}.end"),
        )
        if end < start:
            raise TranscriptError(f"{where}: end {end} is before start {start}")
        words = []
        for j, w in enumerate(item.get("words") or []):
            wh = f"{where}.words[{j}]"
            if not isinstance(w, dict) or not isinstance(w.get("word"), str):
                raise TranscriptError(f"{wh}: expected an object with word, start and end")
            if "start" not in w or "end" not in w:  # WhisperX leaves numbers unaligned
                continue
            words.append(Word(w["word"].strip(), _num(w["start"], wh), _num(w["end"], wh)))
        out.append(Segment(start, end, item["text"].strip(), words))
    return out


def load_transcript(path: Path) -> list[Segment]:
    """Read an SRT, VTT or JSON transcript (times in media seconds).

    Raises:
        TranscriptError: missing file, unknown suffix, or content that does not parse.
    """
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise TranscriptError(f"{path}: transcript not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TranscriptError(f"{path}: cannot read transcript ({exc})") from None
    if suffix == ".json":
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise TranscriptError(f"{path}: not JSON ({exc})") from None
        return segments_from_json(doc, str(path))
    if suffix not in (".srt", ".vtt"):
        raise TranscriptError(f"{path}: unknown transcript type {suffix!r} (srt, vtt or json)")
    import pysubs2

    try:
        subs = pysubs2.SSAFile.from_string(text, format_="srt" if suffix == ".srt" else "vtt")
    except Exception as exc:  # pysubs2 raises its own errors and ValueError for bad timestamps
        raise TranscriptError(f"{path}: not a valid {suffix[1:].upper()} file ({exc})") from None
    segs = [
        Segment(ev.start / 1000, ev.end / 1000, ev.plaintext.replace("\n", " ").strip())
        for ev in subs
        if not ev.is_comment and ev.plaintext.strip()
    ]
    if not segs and text.strip():
        raise TranscriptError(f"{path}: no cues found in a non-empty {suffix[1:].upper()} file")
    return segs


def clip_window(segments: list[Segment], start: float, end: float) -> list[Segment]:
    """Segments overlapping ``[start, end)``, cut to it and shifted to clip time (0 = start);
    times rounded to microseconds."""

    def at(t: float) -> float:
        return round(min(max(t, start), end) - start, 6)

    out = []
    for s in segments:
        if s.end <= start or s.start >= end:
            continue
        words = [
            Word(w.word, at(w.start), at(w.end)) for w in s.words if start < w.end and w.start < end
        ]
        text = " ".join(w.word for w in words) if s.words and len(words) < len(s.words) else s.text
        out.append(Segment(at(s.start), at(s.end), text, words))
    return out


def segments_to_json(segments: list[Segment], **meta: Any) -> dict[str, Any]:
    return {**meta, "segments": [asdict(s) for s in segments]}


def _faster_whisper(
    audio: Path, model_dir: Path, device: str, language: str | None
) -> list[Segment]:
    try:
        from faster_whisper import WhisperModel
    except ImportError:
        raise TranscriptError(
            "transcribe backend 'faster-whisper': the package is not installed "
            "(pip install faster-whisper, or backend = 'import')"
        ) from None
    if not model_dir.is_dir():
        raise TranscriptError(f"{model_dir}: model_dir is not a folder (models are not downloaded)")
    model = WhisperModel(
        str(model_dir), device="cuda" if device.startswith("cuda") else "cpu", local_files_only=True
    )
    found, _ = model.transcribe(str(audio), language=language, word_timestamps=True)
    return [
        Segment(
            s.start,
            s.end,
            s.text.strip(),
            [Word(w.word.strip(), w.start, w.end) for w in s.words or []],
        )
        for s in found
    ]


ASR_BACKENDS: dict[str, Callable[[Path, Path, str, str | None], list[Segment]]] = {
    "faster-whisper": _faster_whisper,
}
"""Local ASR backends: ``name -> fn(audio, model_dir, device, language) -> segments``; add one
here to plug in another engine (it must load from ``model_dir`` only)."""
