"""Where the audio pipeline's files live below ``[outputs] base_dir`` (one place for all)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class AudioLayout:
    """The audio pipeline's output paths (``base_dir`` = ``[outputs] base_dir``)."""

    base_dir: Path

    @property
    def clip(self) -> Path:
        """``demux``: the extracted clip (float WAV)."""
        return self.base_dir / "audio" / "clip.wav"

    @property
    def clip_info(self) -> Path:
        """``demux``: clip range, rate, channels and backend (``ClipInfo``)."""
        return self.base_dir / "audio" / "clip.json"

    @property
    def separated(self) -> Path:
        return self.base_dir / "audio" / "separated"

    @property
    def vocals(self) -> Path:
        return self.separated / "vocals.wav"

    @property
    def accompaniment(self) -> Path:
        return self.separated / "no_vocals.wav"

    @property
    def separation_info(self) -> Path:
        """``source_separation``: backend, model and device used."""
        return self.separated / "separation.json"

    @property
    def transcript(self) -> Path:
        """``transcribe``: segments in clip time (WhisperX-style JSON)."""
        return self.base_dir / "transcripts" / "transcript.json"

    @property
    def glossary(self) -> Path:
        return self.base_dir / "glossary"

    @property
    def terms(self) -> Path:
        return self.glossary / "terms.tsv"

    @property
    def corrected(self) -> Path:
        """``glossary``: the transcript with the glossary's spellings."""
        return self.glossary / "transcript.json"

    @property
    def coverage(self) -> Path:
        return self.glossary / "coverage_report.json"

    @property
    def srt(self) -> Path:
        return self.base_dir / "subtitles" / "subtitles.srt"

    @property
    def vtt(self) -> Path:
        return self.base_dir / "subtitles" / "subtitles.vtt"

    @property
    def reports(self) -> Path:
        return self.base_dir / "reports"
