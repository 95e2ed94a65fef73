"""The ``audio`` pipeline ``demux -> source_separation -> transcribe -> glossary -> subtitles``.

Wiring only: each stage's params are its own config section (so editing ``[glossary]`` touches
``glossary`` alone), inputs and outputs come from
:class:`~standard_coder.pipelines.audio_layout.AudioLayout`, and ``auto`` backends are resolved
here, without importing them, so the backend a stage uses is part of its fingerprint. Every stage
is device-sensitive: the device is in every manifest, and a device change reruns the chain.
"""

from __future__ import annotations

import html
import shutil
import sys
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from standard_coder.config.audio import AudioConfig, load_audio_config
from standard_coder.pipelines import audio_stages
from standard_coder.pipelines.audio_layout import AudioLayout
from standard_coder.pipelines.wiring import assemble_pipeline, package_sources, section_params
from standard_coder.runner.jsonfile import read_json_object_or_none
from standard_coder.runner.report import ReportSection, SectionInput
from standard_coder.runner.stage import Pipeline, Stage


def demux_backend(configured: str) -> str:
    """``auto`` -> ``ffmpeg`` when one is on PATH or the imageio-ffmpeg wheel is installed."""
    if configured != "auto":
        return configured
    return "ffmpeg" if shutil.which("ffmpeg") or find_spec("imageio_ffmpeg") else "python"


def separation_backend(configured: str) -> str:
    """``auto`` -> ``demucs`` when the package is importable, else ``dsp``."""
    if configured != "auto":
        return configured
    from standard_coder.audio.separation import demucs_available

    return "demucs" if demucs_available() else "dsp"


AUDIO_EXTRA = 'the audio extra: pip install -e ".[audio]"'
WHISPER_EXTRA = 'pip install faster-whisper, or [transcribe] backend = "import"'


def build(config_path: Path, overrides: list[str]) -> Pipeline:
    """Build the ``audio`` pipeline from its config file plus ``--set`` overrides."""
    cfg = load_audio_config(Path(config_path), list(overrides))
    return pipeline_from_config(cfg)


def pipeline_from_config(cfg: AudioConfig) -> Pipeline:
    layout = AudioLayout(cfg.outputs.base_dir)
    root = cfg.config_path.parent if cfg.config_path else None
    code = Path(audio_stages.__file__)

    def stage(
        name: str, *sources: str, extra: dict[str, Any] | None = None, **fields: Any
    ) -> Stage:
        """An audio stage: run by ``audio_stages.<name>``, its ``[<name>]`` section (plus
        ``extra``) as params, this module and the ``audio/`` ``sources`` as its code."""
        return Stage(
            name=name,
            run=getattr(audio_stages, name),
            params={name: section_params(getattr(cfg, name), root), **(extra or {})},
            code_files=[code, *package_sources(*sources)],
            device_sensitive=True,
            **fields,
        )

    t = cfg.transcribe
    separation = separation_backend(cfg.source_separation.backend)
    # Demucs draws from the run seed (its test model's weights, the random shifts): a seed for
    # its fingerprint; the DSP estimate draws nothing and keeps its fingerprint
    seeded = {"seed": cfg.runner.seed} if separation == "demucs" else {}
    asr_inputs = {"vocals": layout.vocals} if t.backend != "import" else {"file": t.transcript}
    stages = [
        stage(
            "demux",
            "audio/media.py",
            extra={"demux_backend": demux_backend(cfg.demux.backend)},
            requires={"soundfile": AUDIO_EXTRA},
            named_inputs={"media": cfg.demux.input},
            named_outputs={"clip": layout.clip, "clip_info": layout.clip_info},
            role="data",
            description="the clip of the media file as a WAV",
        ),
        stage(
            "source_separation",
            "audio/media.py",
            "audio/separation.py",
            "audio/windows.py",  # Demucs in windows: the plan and the overlap-add
            extra={"separation_backend": separation, **seeded},
            param_labels={"seed": "runner.seed"},
            deps=("demux",),
            requires={
                "soundfile": AUDIO_EXTRA,
                **({"demucs": AUDIO_EXTRA} if separation == "demucs" else {}),
            },
            named_inputs={"clip": layout.clip},
            reads=(layout.clip,),  # not clip.json: the WAV carries its rate
            named_outputs={
                "vocals": layout.vocals,
                "accompaniment": layout.accompaniment,
                "info": layout.separation_info,
            },
            role="data",
            description="vocals and accompaniment (Demucs or mid/side DSP)",
        ),
        stage(
            "transcribe",
            "audio/transcript.py",
            deps=("demux", "source_separation") if t.backend != "import" else ("demux",),
            requires={"faster_whisper": WHISPER_EXTRA} if t.backend == "faster-whisper" else {},
            named_inputs={"clip_info": layout.clip_info, **asr_inputs},
            # the clip's window and the vocals, not the clip itself nor separation.json
            reads=(layout.clip_info, *([layout.vocals] if t.backend != "import" else [])),
            named_outputs={"transcript": layout.transcript},
            role="data",
            description=f"transcript ({t.backend})",
        ),
        stage(
            "glossary",
            "audio/transcript.py",
            "audio/glossary.py",
            deps=("transcribe",),
            named_inputs={"transcript": layout.transcript},
            named_outputs={
                "transcript": layout.corrected,
                "terms": layout.terms,
                "coverage": layout.coverage,
            },
            role="other",
            description="term list and its spellings applied",
        ),
        stage(
            "subtitles",
            "audio/transcript.py",
            "audio/subtitles.py",
            deps=("glossary",),
            requires={"pysubs2": AUDIO_EXTRA},
            named_inputs={"transcript": layout.corrected},
            reads=(layout.corrected,),  # not the term list nor the coverage report
            named_outputs={"srt": layout.srt, "vtt": layout.vtt},
            role="other",
            description="SRT and VTT with the glossary's spellings",
        ),
    ]
    return assemble_pipeline(
        "audio",
        cfg,
        stages,
        root,
        report_sections=(ReportSection("Subtitles", _section, nav="Subtitles"),),
        on_finish=print_summary,
    )


def _coverage(cov: dict[str, Any]) -> str:
    """``3 terms, 33.3% of 9 segments mention one`` (one decimal, as every percentage here), or
    ``3 terms; the transcript has no segment (the subtitles are empty)``."""
    pct, segments = cov.get("coverage_pct"), cov.get("segments")
    if segments == 0:
        return f"{cov.get('terms')} terms; the transcript has no segment (the subtitles are empty)"
    shown = f"{pct:.1f}" if isinstance(pct, int | float) else str(pct)
    return f"{cov.get('terms')} terms, {shown}% of {segments} segments mention one"


def print_summary(base_dir: Path) -> None:
    """What the run produced (plain text on stderr; reads small JSON files only)."""
    layout = AudioLayout(base_dir)
    sep = read_json_object_or_none(layout.separation_info) or {}
    cov = read_json_object_or_none(layout.coverage) or {}
    if sep:
        untrained = " (untrained: the stems are not a separation)" if sep.get("untrained") else ""
        print(f"Separation: {sep.get('backend')} ({sep.get('model')}) on {sep.get('device')}"
              f"{untrained}", file=sys.stderr)  # fmt: skip
    if cov:
        print(f"Glossary: {_coverage(cov)}", file=sys.stderr)
    print(f"Subtitles: {layout.srt} and {layout.vtt.name}", file=sys.stderr)
    print(f"Report: {layout.reports / 'index.html'}", file=sys.stderr)  # as the others end


def _section(given: SectionInput) -> str:
    layout = AudioLayout(given.base_dir)
    sep = read_json_object_or_none(layout.separation_info) or {}
    cov = read_json_object_or_none(layout.coverage) or {}
    if not cov:
        return "<p>No subtitles yet.</p>"
    found = cov.get("replacements")
    rows = "".join(
        f"<tr><td>{html.escape(str(r.get('from')))}</td><td>{html.escape(str(r.get('to')))}"
        f"</td><td>{r.get('count')}</td></tr>"
        for r in (found if isinstance(found, list) else [])
    )
    try:
        srt = layout.srt.read_text(encoding="utf-8")[:2000]
    except OSError:
        srt = ""
    return (
        f"<p>Separation: {html.escape(str(sep.get('backend')))} "
        f"({html.escape(str(sep.get('model')))}) on {html.escape(str(sep.get('device')))}"
        f"{' (untrained: the stems are not a separation)' if sep.get('untrained') else ''}. "
        f"Glossary: {html.escape(_coverage(cov))}.</p>"
        f"<table><tr><th>heard</th><th>written</th><th>times</th></tr>{rows}</table>"
        f"<pre>{html.escape(srt)}</pre>"
    )
