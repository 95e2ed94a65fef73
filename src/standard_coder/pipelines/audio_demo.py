"""``standard-coder demo --pipeline audio``: 40 s of synthetic audio and a shipped transcript.

The media is made at run time: two steady tones panned hard left and right (the
"accompaniment") and a speech-like voice in the centre: a harmonic source at 110-180 Hz with
vibrato, shaped by three vowel formants and switched on for each word of the shipped transcript
(``demo_data/audio_transcript.json``, WhisperX-style word timings, with the misspellings an ASR
makes: "demucks", "standard coder", "Whisper X"). Writes ``<output-dir>/pipeline_config.toml``
(the embedded default; a file the user edited is kept) and puts results under
``<output-dir>/sc-output/``.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from standard_coder.pipelines.wiring import write_demo_config
from standard_coder.runner.atomic import atomic_write_text

DURATION_S = 40.0
MEDIA_RATE = 22050
EXTRA_TERMS = ["Demucs", "WhisperX", "Standard Coder"]

SIZES: dict[str, dict[str, Any]] = {
    # Tests: the mid/side DSP separation (Demucs's test model needs ~0.8 s per clip second).
    "tiny": {"separation_backend": "dsp"},
    # Demucs when importable (its offline test model), else the DSP fallback.
    "default": {"separation_backend": "auto"},
}


def transcript_fixture() -> dict[str, Any]:
    text = (
        resources.files("standard_coder.pipelines.demo_data")
        .joinpath("audio_transcript.json")
        .read_text(encoding="utf-8")
    )
    doc: dict[str, Any] = json.loads(text)
    return doc


def synth_media(path: Path, words: list[tuple[float, float]], seed: int = 0) -> None:
    """Write the demo's stereo 16-bit WAV: panned tones plus a centred voice on each word."""
    import numpy as np
    import soundfile as sf
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    rate = MEDIA_RATE
    t = np.arange(int(DURATION_S * rate)) / rate
    left = 0.12 * np.sin(2 * np.pi * 220.0 * t) + 0.05 * np.sin(2 * np.pi * 55.0 * t)
    right = 0.12 * np.sin(2 * np.pi * 329.63 * t) + 0.05 * np.sin(2 * np.pi * 82.41 * t)
    f0 = 145 + 35 * np.sin(2 * np.pi * 0.23 * t) + 4 * np.sin(2 * np.pi * 5.5 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    source = sum(np.sin(k * phase) / k for k in range(1, 25)) + 0.02 * rng.standard_normal(t.size)
    voice = np.zeros_like(t)
    for formant, bandwidth in ((700.0, 110.0), (1220.0, 120.0), (2600.0, 160.0)):
        r = np.exp(-np.pi * bandwidth / rate)
        theta = 2 * np.pi * formant / rate
        voice += lfilter([1 - r], [1, -2 * r * np.cos(theta), r * r], source)
    gate = np.zeros_like(t)
    for start, end in words:
        a, b = int(start * rate), int(end * rate)
        gate[a:b] = np.hanning(max(b - a, 2))[: b - a]
    voice = 0.3 * voice * gate / (np.abs(voice).max() or 1.0)
    stereo = np.stack([left + voice, right + voice], axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.wav")
    sf.write(str(tmp), stereo.astype(np.float32), rate, subtype="PCM_16")
    tmp.replace(path)


def config_text(size: str) -> str:
    backend = SIZES[size]["separation_backend"]
    lines = [
        f"# standard-coder demo --pipeline audio (size {size}); edit and rerun with",
        "#   standard-coder pipeline --config pipeline_config.toml",
        "# (standard-coder init-config --pipeline audio FILE lists every key)",
        "[pipeline]",
        'name = "audio"',
        "",
        "[outputs]",
        'base_dir = "sc-output"',
        "",
        "[demux]",
        'input = "media/demo.wav"',
        "clip_start = 0.0",
        f"clip_end = {DURATION_S}",
        "sample_rate = 16000",
        "channels = 2",
        "",
        "[source_separation]",
        f'backend = "{backend}"',
        "",
        "[transcribe]",
        'backend = "import"',
        'transcript = "media/transcript.json"',
        "",
        "[glossary]",
        f"extra_terms = {json.dumps(EXTRA_TERMS)}",
    ]
    return "\n".join(lines) + "\n"


def prepare(out_dir: Path, size: str) -> Path:
    """Write the config (unless the user changed it), the transcript and the media (once)."""
    config = write_demo_config(out_dir, "audio", config_text(size))  # another pipeline's: refused
    doc = transcript_fixture()
    transcript = out_dir / "media" / "transcript.json"
    if not transcript.exists():
        transcript.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(transcript, json.dumps(doc, indent=1) + "\n")
    media = out_dir / "media" / "demo.wav"
    if not media.exists():
        words = [(w["start"], w["end"]) for s in doc["segments"] for w in s["words"]]
        synth_media(media, words)
    return config
