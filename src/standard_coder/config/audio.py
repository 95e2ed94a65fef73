"""The ``audio`` pipeline's config: one section per stage, so each stage's params are exactly
the section it reads (``[demux]``, ``[source_separation]``, ``[transcribe]``, ``[glossary]``,
``[subtitles]``), plus the shared ``[pipeline]``, ``[outputs]`` and ``[runner]``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from standard_coder.config.base import ConfigPath, StrictModel
from standard_coder.config.core import OutputsSection, PipelineSection, RunnerSection
from standard_coder.config.schema import (
    PipelineConfig,
    load_pipeline_config,
    validate_pipeline_config,
)


class DemuxSection(StrictModel):
    """Extract a WAV clip from a media file (ffmpeg when present, else soundfile)."""

    input: ConfigPath = Field(
        Path("media.wav"), description="the media file (WAV/FLAC/OGG; any format ffmpeg reads)"
    )  # type: ignore[assignment]
    clip_start: float = Field(0.0, ge=0, description="clip start in seconds of the media")
    clip_end: float | None = Field(
        None, gt=0, description="clip end in seconds (unset: the end of the media)"
    )
    sample_rate: int = Field(16000, ge=8000, le=192000, description="clip sample rate, Hz")
    channels: Literal[1, 2] = Field(2, description="1 = mono, 2 = stereo clip")
    backend: Literal["auto", "ffmpeg", "python"] = Field(
        "auto",
        description="auto = ffmpeg when found (PATH, then the imageio-ffmpeg wheel), else "
        "python (soundfile: WAV, FLAC, OGG)",
    )

    @model_validator(mode="after")
    def _ordered(self) -> DemuxSection:
        if self.clip_end is not None and self.clip_end <= self.clip_start:
            raise ValueError(f"clip_end ({self.clip_end}) must be after clip_start")
        return self


class SeparationSection(StrictModel):
    """Isolate the vocals: Demucs when importable, else a mid/side DSP estimate."""

    backend: Literal["auto", "demucs", "dsp"] = Field(
        "auto", description="auto = demucs when importable, else dsp (mid/side + voice band)"
    )
    model: str = Field(
        "demucs_unittest",
        description="Demucs model: demucs_unittest (built in code, untrained, offline) or a "
        "pretrained name such as htdemucs whose weights are in model_repo",
    )
    model_repo: ConfigPath | None = Field(
        None, description="folder with pretrained Demucs weights (.th/.yaml); never downloaded"
    )
    shifts: int = Field(0, ge=0, le=10, description="Demucs random shifts (test-time augment)")
    window_s: float = Field(
        8.0,
        ge=1.0,
        le=3600.0,
        description="Demucs separates the clip in windows of this many seconds (at most the "
        "model's own segment: the default keeps htdemucs's 7.8 s; 25% overlap): Ctrl-C waits "
        "for one window at most, and a rerun continues from the finished ones",
    )


class TranscribeSection(StrictModel):
    """Import a transcript, or run a local ASR model."""

    backend: Literal["import", "faster-whisper"] = Field(
        "import", description="import = read `transcript`; faster-whisper = local model_dir"
    )
    transcript: ConfigPath = Field(
        Path("transcript.json"),
        description="SRT, VTT or JSON (segments with word timings) in media time; backend = import",
    )  # type: ignore[assignment]
    model_dir: ConfigPath | None = Field(
        None, description="local ASR model folder (never downloaded); backend != import"
    )
    language: str | None = Field(None, description="ASR language code (unset: detect)")

    @model_validator(mode="after")
    def _needs_source(self) -> TranscribeSection:
        if self.backend != "import" and self.model_dir is None:
            raise ValueError(f"backend = {self.backend!r} needs model_dir (a local model folder)")
        return self


class GlossarySection(StrictModel):
    """Build the term list and apply its spellings to the transcript."""

    extra_terms: list[str] = Field(
        default_factory=list, description="your terms, spelled as subtitles must show them"
    )
    min_count: int = Field(2, ge=1, description="a word or phrase must occur this often")
    max_terms: int = Field(50, ge=1, description="keep at most this many found terms")
    match_threshold: float = Field(
        0.8, gt=0, le=1, description="similarity (0-1) at which a near-miss takes a term's spelling"
    )


class SubtitlesSection(StrictModel):
    """SRT and VTT from the glossary-corrected transcript."""

    max_chars_per_line: int = Field(42, ge=10, description="characters per subtitle line")
    max_lines: int = Field(2, ge=1, le=3, description="lines per cue")
    max_duration_s: float = Field(6.0, gt=0, description="longest cue, seconds")


class AudioConfig(PipelineConfig):
    """``pipeline_config.toml`` for ``demux -> source_separation -> transcribe -> glossary ->
    subtitles``."""

    pipeline: PipelineSection = Field(default_factory=lambda: PipelineSection(name="audio"))
    outputs: OutputsSection = Field(default_factory=OutputsSection)
    runner: RunnerSection = Field(default_factory=RunnerSection)
    demux: DemuxSection = Field(default_factory=DemuxSection)  # type: ignore[arg-type]
    source_separation: SeparationSection = Field(default_factory=SeparationSection)
    transcribe: TranscribeSection = Field(default_factory=TranscribeSection)
    glossary: GlossarySection = Field(default_factory=GlossarySection)
    subtitles: SubtitlesSection = Field(default_factory=SubtitlesSection)


def load_audio_config(path: Path, overrides: list[str] | None = None) -> AudioConfig:
    """Load and validate an audio pipeline file (relative paths from its folder).

    Raises:
        ConfigError: the file is missing, not TOML, or a key is unknown or has the wrong form.
    """
    return load_pipeline_config(AudioConfig, path, overrides, name="audio")


def validate_audio_config(data: dict[str, Any], path: Path) -> AudioConfig:
    """Validate a raw dict as if it had been read from ``path``."""
    return validate_pipeline_config(AudioConfig, data, path, name="audio")
