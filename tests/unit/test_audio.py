"""The audio domain on small inputs: demux (both backends), separation (DSP, Demucs weights from
a local folder), transcripts, glossary, subtitles, and the config template."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from standard_coder.audio.glossary import apply_terms, build_terms, terms_tsv
from standard_coder.audio.media import MediaError, extract_clip, find_ffmpeg, read_audio
from standard_coder.audio.separation import SeparationError, load_demucs_model, separate_dsp
from standard_coder.audio.subtitles import make_cues, render
from standard_coder.audio.transcript import (
    Segment,
    TranscriptError,
    Word,
    clip_window,
    load_transcript,
)

RATE = 22050


def tone_wav(path: Path, seconds: float = 3.0) -> None:
    t = np.arange(int(seconds * RATE)) / RATE
    left, right = np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 660 * t)
    sf.write(path, (0.3 * np.stack([left, right], 1)).astype(np.float32), RATE)


def peak_hz(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x))
    return float(np.fft.rfftfreq(x.size, 1 / rate)[spectrum.argmax()])


@pytest.mark.parametrize("backend", ["python", "ffmpeg"])
def test_extract_clip_cuts_resamples_and_downmixes(tmp_path: Path, backend: str) -> None:
    if backend == "ffmpeg" and find_ffmpeg() is None:
        pytest.skip("no ffmpeg (PATH or imageio-ffmpeg)")
    tone_wav(tmp_path / "in.wav")
    info = extract_clip(
        tmp_path / "in.wav", tmp_path / "clip.wav", start=0.5, end=2.0, sample_rate=16000,
        channels=2, backend=backend,
    )  # fmt: skip
    data, rate = read_audio(tmp_path / "clip.wav")
    assert info.backend == backend and rate == 16000 and data.shape[1] == 2
    assert abs(data.shape[0] - 24000) <= 16 and abs(info.end - 2.0) < 1e-3
    assert abs(peak_hz(data[:, 0], rate) - 440) < 2 and abs(peak_hz(data[:, 1], rate) - 660) < 2
    mono = extract_clip(
        tmp_path / "in.wav", tmp_path / "m.wav", sample_rate=8000, channels=1, backend=backend
    )
    assert mono.channels == 1 and abs(mono.duration - 3.0) < 1e-2
    with pytest.raises(MediaError, match=r"past the end|no audio"):
        extract_clip(tmp_path / "in.wav", tmp_path / "x.wav", start=10.0, backend=backend)


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "empty file"), (b"RIFF\x10\x00\x00\x00WAVEfmt ", "truncated WAV"), (None, "not found")],
)
def test_bad_media_names_the_file(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "bad.wav"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(MediaError, match=message) as err:
        extract_clip(path, tmp_path / "out.wav", backend="python")
    assert str(path) in str(err.value) and err.value.exit_code == 2


def test_dsp_separation_keeps_the_centre_voice() -> None:
    t = np.arange(2 * RATE) / RATE
    voice = np.sin(2 * np.pi * 300 * t) * (np.sin(2 * np.pi * 3 * t) > 0)
    left, right = np.sin(2 * np.pi * 60 * t), np.sin(2 * np.pi * 8000 * t)
    mix = np.stack([voice + left, voice + right], 1).astype(np.float32)
    vocals, rest = separate_dsp(mix, RATE)
    assert np.allclose(vocals + rest, mix, atol=1e-5)
    err_mix = np.mean((mix[:, 0] - voice) ** 2)
    err_voc = np.mean((vocals[:, 0] - voice) ** 2)
    assert err_voc < 0.1 * err_mix  # the band-passed mid is far closer to the voice


def test_demucs_weights_from_a_local_folder(tmp_path: Path) -> None:
    pytest.importorskip("demucs")
    import torch

    torch.manual_seed(0)
    model = load_demucs_model("demucs_unittest", None)
    args, kwargs = model._init_args_kwargs  # what demucs.states.serialize_model stores
    package = {"klass": type(model), "args": args, "kwargs": kwargs, "state": model.state_dict()}
    torch.save(package, tmp_path / "mine-0123abcd.th")
    (tmp_path / "bag.yaml").write_text("models: ['mine']\n")
    loaded = load_demucs_model("mine", tmp_path)
    bag = load_demucs_model("bag", tmp_path)
    for name, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], value)
    assert len(bag.models) == 1 and bag.sources == model.sources
    with pytest.raises(SeparationError, match="model_repo"):
        load_demucs_model("htdemucs", None)  # never downloaded
    (tmp_path / "junk.th").write_bytes(b"not a checkpoint")
    with pytest.raises(SeparationError, match="not a loadable Demucs weights file"):
        load_demucs_model("junk", tmp_path)


def test_transcripts_in_three_formats_and_the_clip_window(tmp_path: Path) -> None:
    (tmp_path / "a.srt").write_text(
        "1\n00:00:01,000 --> 00:00:02,500\nHello <i>there</i>\n\n"
        "2\n00:00:03,000 --> 00:00:04,000\nSecond\nline\n"
    )
    (tmp_path / "a.vtt").write_text(
        "WEBVTT\n\n00:00:01.000 --> 00:00:02.500\nHello there\n\n"
        "00:00:03.000 --> 00:00:04.000\nSecond line\n"
    )
    words = [{"word": "Hello", "start": 1.0, "end": 1.4}, {"word": "there", "start": 1.6,
             "end": 2.4}]  # fmt: skip
    doc = {"segments": [{"start": 1.0, "end": 2.5, "text": "Hello there", "words": words}]}
    (tmp_path / "a.json").write_text(json.dumps(doc))
    srt, vtt = load_transcript(tmp_path / "a.srt"), load_transcript(tmp_path / "a.vtt")
    assert [(s.start, s.end, s.text) for s in srt] == [(s.start, s.end, s.text) for s in vtt]
    assert srt[1].text == "Second line"
    (seg,) = load_transcript(tmp_path / "a.json")
    cut = clip_window([seg], 1.5, 10.0)
    assert cut[0].start == 0.0 and cut[0].text == "there" and cut[0].words[0].start == 0.1
    (tmp_path / "bad.json").write_text('{"segments": [{"start": 1, "end": 0, "text": "x"}]}')
    with pytest.raises(TranscriptError, match=r"segments\[0\]: end 0.0 is before start"):
        load_transcript(tmp_path / "bad.json")
    (tmp_path / "a.txt").write_text("hello")
    with pytest.raises(TranscriptError, match="unknown transcript type"):
        load_transcript(tmp_path / "a.txt")


def test_glossary_terms_and_spellings() -> None:
    segs = [
        Segment(0, 2, "We met Ada Lovelace and used demucks today."),
        Segment(2, 4, "Then Ada Lovelace tried Whisper X with the standard coder."),
        Segment(4, 6, "Nothing here."),
    ]
    terms = build_terms(segs, extra_terms=["Demucs", "WhisperX", "Standard Coder"], min_count=2)
    names = {t.term: t.source for t in terms}
    assert names["Ada Lovelace"] == "capitalised" and names["Demucs"] == "user"
    fixed, report = apply_terms(segs, terms, threshold=0.8)
    assert fixed[0].text == "We met Ada Lovelace and used Demucs today."
    assert fixed[1].text == "Then Ada Lovelace tried WhisperX with the Standard Coder."
    assert report["segments_with_terms"] == 2 and report["coverage_pct"] == pytest.approx(66.67)
    assert {(r["from"], r["to"]) for r in report["replacements"]} == {
        ("demucks", "Demucs"), ("Whisper X", "WhisperX"), ("standard coder", "Standard Coder")
    }  # fmt: skip
    assert "Demucs\tuser\t1\tdemucks" in terms_tsv(terms)
    # word timings follow: two heard words become one written word spanning both
    seg = Segment(0, 1, "Whisper X.", [Word("Whisper", 0.0, 0.4), Word("X.", 0.5, 0.9)])
    (out,), _ = apply_terms([seg], terms)
    assert [(w.word, w.start, w.end) for w in out.words] == [("WhisperX.", 0.0, 0.9)]


def test_subtitle_cues_respect_the_limits() -> None:
    text = "one two three four five six seven eight nine ten eleven twelve"
    words = [Word(w, i * 0.5, i * 0.5 + 0.4) for i, w in enumerate(text.split())]
    cues = make_cues([Segment(0, 6, text, words)], max_chars=12, max_lines=1, max_duration=1.2)
    assert all(len(c.lines) == 1 and len(c.lines[0]) <= 12 for c in cues)
    assert all(c.end - c.start <= 1.2 for c in cues)
    assert " ".join(line for c in cues for line in c.lines) == text
    srt = render(make_cues([Segment(1.0, 2.5, "Hello there")]), "srt")
    assert srt.strip() == "1\n00:00:01,000 --> 00:00:02,500\nHello there"
    assert render(make_cues([Segment(1.0, 2.5, "Hi")]), "vtt").startswith("WEBVTT")


def test_init_config_audio_round_trips(tmp_path: Path) -> None:
    from standard_coder.config.audio import load_audio_config
    from standard_coder.config.template import render_template

    text = render_template("audio.toml", "audio")
    assert "[glossary]" in text and "extra_terms = []" in text and "clip_end" in text
    path = tmp_path / "audio.toml"
    path.write_text(text)
    cfg = load_audio_config(path, ["glossary.extra_terms=['Demucs']"])
    assert cfg.pipeline.name == "audio" and cfg.glossary.extra_terms == ["Demucs"]
    assert cfg.demux.sample_rate == 16000 and cfg.demux.input == tmp_path / "media.wav"


@pytest.mark.parametrize("backend", ["demucs", "dsp"])
def test_the_run_seed_is_in_the_separation_params_only_where_demucs_draws_from_it(
    tmp_path: Path, backend: str
) -> None:
    from standard_coder.pipelines.audio import build

    config = tmp_path / "audio.toml"
    config.write_text(
        '[pipeline]\nname = "audio"\n[demux]\ninput = "media.wav"\n'
        f'[source_separation]\nbackend = "{backend}"\n'
        '[transcribe]\nbackend = "import"\ntranscript = "t.json"\n'
    )

    def params(overrides: list[str]) -> dict[str, str]:
        pipe = build(config, overrides)
        return {s.name: json.dumps(dict(s.params), sort_keys=True) for s in pipe.stages}

    before, after = params([]), params(["runner.seed=5"])
    changed = {name for name in before if before[name] != after[name]}
    assert changed == ({"source_separation"} if backend == "demucs" else set())
