"""The audio pipeline's stages ``demux -> source_separation -> transcribe -> glossary ->
subtitles``.

Each stage reads its section back from ``ctx.params`` (exactly what its fingerprint covers) and
its files from ``ctx.inputs`` / ``ctx.outputs``. ``glossary`` and ``subtitles`` import no numpy
or torch, so rerunning them after a glossary edit costs milliseconds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from standard_coder.config.audio import (
    DemuxSection,
    GlossarySection,
    SeparationSection,
    SubtitlesSection,
    TranscribeSection,
)
from standard_coder.pipelines.wiring import section_from_params
from standard_coder.runner.atomic import atomic_write_json, atomic_write_text
from standard_coder.runner.context import warn

if TYPE_CHECKING:
    from standard_coder.audio.transcript import Segment
    from standard_coder.runner.context import ProgressHandle, StageContext


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def demux(ctx: StageContext) -> None:
    """Extract the configured clip of the media file as a float WAV plus ``clip.json``."""
    from standard_coder.audio.media import extract_clip

    d = section_from_params(DemuxSection, ctx.params["demux"], ctx.root_dir)
    info = extract_clip(
        d.input,
        ctx.outputs["clip"],
        start=d.clip_start,
        end=d.clip_end,
        sample_rate=d.sample_rate,
        channels=d.channels,
        backend=str(ctx.params["demux_backend"]),
    )
    atomic_write_json(ctx.outputs["clip_info"], info.to_json())
    ctx.log.info(
        "clip %.3f-%.3f s of %s: %d Hz, %d ch (%s)",
        info.start, info.end, d.input.name, info.sample_rate, info.channels, info.backend,
    )  # fmt: skip
    ctx.set_summary(seconds=round(info.duration, 3), backend=info.backend, device=ctx.device)


UNTRAINED_MODEL = "demucs_unittest"
UNTRAINED_SAID = (
    "separated with demucs_unittest, Demucs's built-in untrained model (no weights are ever "
    "downloaded): the stems show the pipeline runs, they are not a separation; give "
    "[source_separation] model and model_repo (a local Demucs repo) for a trained model, or "
    'backend = "dsp" for the mid/side estimate'
)
"""What the run, its summary and its report say of the default model (docs/audio.md)."""


def source_separation(ctx: StageContext) -> None:
    """Vocals and accompaniment of the clip (Demucs, or the mid/side DSP estimate).

    Demucs separates the clip window by window (``window_s``); each finished window is saved
    under ``<checkpoint_dir>/windows/``, so a stopped separation resumes from them and gives
    the bytes of an uninterrupted one. They are removed once the stems are written.
    """
    import shutil

    from standard_coder.audio.media import read_audio, write_audio
    from standard_coder.audio.separation import SeparationStopped, separate_demucs, separate_dsp

    s = section_from_params(SeparationSection, ctx.params["source_separation"], ctx.root_dir)
    backend = str(ctx.params["separation_backend"])
    data, rate = read_audio(ctx.inputs["clip"])
    record: dict[str, Any] = {"backend": backend, "device": ctx.device, "sample_rate": rate}
    work = ctx.checkpoint_dir / "windows"
    if backend == "demucs":
        bar: list[ProgressHandle] = []
        resumed = [0]

        def on_window(done: int, total: int, saved: bool) -> None:
            if not bar:
                bar.append(ctx.progress(total, "windows"))
            resumed[0] += saved
            bar[0].update(completed=done)

        try:
            vocals, rest, info = separate_demucs(
                data, rate, model=s.model, repo=s.model_repo, device=ctx.device, shifts=s.shifts,
                seed=int(ctx.params["seed"]), window_s=s.window_s, work_dir=work,
                should_stop=ctx.should_stop, on_window=on_window,
            )  # fmt: skip
        except SeparationStopped:
            return  # the finished windows stay in `work`: the rerun continues from them
        if resumed[0]:
            ctx.log.info("%d of %d windows taken from the interrupted run's partial work",
                         resumed[0], info.windows)  # fmt: skip
        if info.discarded:  # the resume the run announced did not happen: say why
            warn(ctx, f"the interrupted run's partial work was not used ({info.discarded} in "
                      f"{work}): every window was separated again")  # fmt: skip
        record.update(model=info.model, model_samplerate=info.samplerate, sources=info.sources,
                      window_s=info.window_s, windows=info.windows)  # fmt: skip
        if info.model == UNTRAINED_MODEL:  # the default: the stems are no separation
            record["untrained"] = True
            warn(ctx, UNTRAINED_SAID)
    else:
        vocals, rest = separate_dsp(data, rate)
        record.update(model="mid/side + voice band-pass")
    write_audio(ctx.outputs["vocals"], vocals, rate)
    write_audio(ctx.outputs["accompaniment"], rest, rate)
    atomic_write_json(ctx.outputs["info"], record)
    shutil.rmtree(work, ignore_errors=True)  # the stems hold it all now
    ctx.log.info("separated with %s (%s) on %s", backend, record["model"], ctx.device)
    ctx.set_summary(backend=backend, model=record["model"], device=ctx.device)


def transcribe(ctx: StageContext) -> None:
    """Import the transcript (cut to the clip, clip time) or run the local ASR backend."""
    from standard_coder.audio.transcript import (
        ASR_BACKENDS,
        clip_window,
        load_transcript,
        segments_to_json,
    )

    t = section_from_params(TranscribeSection, ctx.params["transcribe"], ctx.root_dir)
    clip = _read_json(ctx.inputs["clip_info"])
    if t.backend == "import":
        segments = clip_window(load_transcript(t.transcript), clip["start"], clip["end"])
        source = t.transcript.name
    else:
        assert t.model_dir is not None  # the schema requires it
        segments = ASR_BACKENDS[t.backend](
            ctx.inputs["vocals"], t.model_dir, ctx.device, t.language
        )
        source = t.model_dir.name
    if not segments:  # empty subtitles follow: say why before anyone opens them
        where = (
            f"{t.transcript} has no segment between {clip['start']:g} s and {clip['end']:g} s "
            "of the clip ([transcribe] transcript)"
            if t.backend == "import"
            else f"the {t.backend} model ({source}) heard no speech in the clip"
        )
        warn(ctx, f"the transcript is empty: {where}; the subtitles will be empty")
    doc = segments_to_json(segments, backend=t.backend, source=source, device=ctx.device)
    atomic_write_json(ctx.outputs["transcript"], doc)
    ctx.set_summary(segments=len(segments), backend=t.backend, device=ctx.device)


def _segments(path: Path) -> list[Segment]:
    from standard_coder.audio.transcript import segments_from_json

    return segments_from_json(_read_json(path), str(path))


def glossary(ctx: StageContext) -> None:
    """Build the term list (user, capitalised, frequent) and apply its spellings."""
    from standard_coder.audio.glossary import apply_terms, build_terms, terms_tsv
    from standard_coder.audio.transcript import segments_to_json

    g = section_from_params(GlossarySection, ctx.params["glossary"], ctx.root_dir)
    segments = _segments(ctx.inputs["transcript"])
    terms = build_terms(
        segments, extra_terms=g.extra_terms, min_count=g.min_count, max_terms=g.max_terms
    )
    fixed, report = apply_terms(segments, terms, threshold=g.match_threshold)
    # the segments alone: the term count lives in terms.tsv and the coverage report, so a term
    # the transcript never mentions reruns no subtitles
    atomic_write_json(ctx.outputs["transcript"], segments_to_json(fixed))
    atomic_write_text(ctx.outputs["terms"], terms_tsv(terms))
    atomic_write_json(ctx.outputs["coverage"], report)
    ctx.log.info(
        "%d terms; %d replacements; %.1f%% of segments mention a term",
        len(terms), sum(r["count"] for r in report["replacements"]), report["coverage_pct"],
    )  # fmt: skip
    ctx.set_summary(terms=len(terms), coverage_pct=report["coverage_pct"])


def subtitles(ctx: StageContext) -> None:
    """SRT and VTT from the glossary-corrected transcript."""
    from standard_coder.audio.subtitles import make_cues, render

    s = section_from_params(SubtitlesSection, ctx.params["subtitles"], ctx.root_dir)
    cues = make_cues(
        _segments(ctx.inputs["transcript"]),
        max_chars=s.max_chars_per_line,
        max_lines=s.max_lines,
        max_duration=s.max_duration_s,
    )
    atomic_write_text(ctx.outputs["srt"], render(cues, "srt"))
    atomic_write_text(ctx.outputs["vtt"], render(cues, "vtt"))
    ctx.set_summary(cues=len(cues))
