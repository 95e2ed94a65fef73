"""The audio pipeline end to end through the CLI: the seed's glossary quickstart on the demo's
40 s of synthetic audio (baseline, glossary-only rerun, full run that skips the heavy stages),
clip and device invalidation, forced separation, Demucs's offline test model, and bad media.

Real files, real subprocesses, the real ffmpeg binary of the imageio-ffmpeg wheel (or PATH's)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from proctools import child_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STAGES = ["demux", "source_separation", "transcribe", "glossary", "subtitles"]
HEAVY = {"numpy", "torch", "scipy", "soundfile", "demucs", "sklearn", "rich", "typer"}
# The fast front door, reporting which heavy packages the run imported.
FRONT = (
    "import sys, json; from standard_coder.runner.front import main; "
    "from standard_coder.pipelines import BUILTINS; rc = main(sys.argv[1:], BUILTINS); "
    f"print('HEAVY=' + json.dumps(sorted(set({sorted(HEAVY)!r}) & set(sys.modules))), "
    "file=sys.stderr); sys.exit(rc)"
)


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "standard_coder", *args],
        capture_output=True, text=True, env=child_env(COLUMNS="120"), timeout=600,
    )  # fmt: skip
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def front(*args: str) -> tuple[subprocess.CompletedProcess[str], float, list[str]]:
    """Run ``pipeline ...`` through the front door: (process, wall seconds, heavy imports)."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", FRONT, "pipeline", *args],
        capture_output=True, text=True, env=child_env(), timeout=300,
    )  # fmt: skip
    wall = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr
    (line,) = [x for x in proc.stderr.splitlines() if x.startswith("HEAVY=")]
    return proc, wall, json.loads(line[len("HEAVY=") :])


def run_events(base: Path) -> list[dict[str, Any]]:
    evs = [json.loads(x) for x in (base / "logs" / "events.jsonl").read_text().splitlines()]
    return [e for e in evs if e["run_id"] == evs[-1]["run_id"]]


def by_event(evs: list[dict[str, Any]], name: str) -> list[str]:
    return [e["stage"] for e in evs if e["event"] == name]


def edit(config: Path, pattern: str, repl: str) -> None:
    text, n = re.subn(pattern, repl, config.read_text(), flags=re.M)
    assert n == 1, pattern
    config.write_text(text)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("audio-demo")
    proc = cli("demo", "--pipeline", "audio", "--output-dir", str(out), "--size", "tiny")
    assert "Subtitles: " in proc.stderr and "ok: 5 ran, 0 skipped" in proc.stderr
    # it ends with the report's path, as every other pipeline does, and the report is there
    report = out / "sc-output" / "reports" / "index.html"
    assert f"Report: {report}" in proc.stderr.splitlines() and report.is_file(), proc.stderr
    return out


def test_demo_writes_config_media_and_every_output(demo: Path) -> None:
    config = (demo / "pipeline_config.toml").read_text()
    assert re.search(r'^\[glossary\]\nextra_terms = \[.*"Demucs".*\]$', config, re.M)
    base = demo / "sc-output"
    clip = json.loads((base / "audio" / "clip.json").read_text())
    assert clip["duration"] >= 30 and clip["sample_rate"] == 16000 and clip["channels"] == 2
    for rel in ["audio/separated/vocals.wav", "glossary/terms.tsv", "reports/index.html"]:
        assert (base / rel).is_file(), rel
    srt = (base / "subtitles" / "subtitles.srt").read_text()
    vtt = (base / "subtitles" / "subtitles.vtt").read_text()
    assert vtt.startswith("WEBVTT") and "00:00:00,300 --> " in srt
    # the glossary's spellings reach the subtitles: ASR-style misspellings are fixed
    for text in (srt, vtt):
        assert "Demucs," in text and "WhisperX." in text and "demucks" not in text
        assert "Whisper X" not in text and "standard coder" not in text
    for stage in STAGES:
        manifest = json.loads((base / "stages" / stage / "manifest.json").read_text())
        assert manifest["device"] == "cpu", stage
    sep = json.loads((base / "stages" / "source_separation" / "manifest.json").read_text())
    assert sep["params"]["separation_backend"] == "dsp" and sep["summary"]["device"] == "cpu"


def test_glossary_quickstart(demo: Path) -> None:
    """The seed's three runs: baseline (the fixture), glossary only, then a full run that
    skips every heavy stage; runs 2 and 3 import neither numpy nor torch, each at most 3 s."""
    config, base = demo / "pipeline_config.toml", demo / "sc-output"
    edit(config, r"^extra_terms = \[", 'extra_terms = ["Source Separation", ')

    proc, wall2, heavy = front("--config", str(config), "--stages", "glossary")
    evs = run_events(base)
    assert by_event(evs, "stage_completed") == ["glossary"] and heavy == []
    assert "Source Separation\tuser" in (base / "glossary" / "terms.tsv").read_text()
    assert "Source Separation" not in (base / "subtitles" / "subtitles.srt").read_text()

    proc, wall3, heavy = front("--config", str(config), "--log-format", "json")
    json_events = [json.loads(x) for x in proc.stderr.splitlines() if x.startswith("{")]
    skipped = by_event(json_events, "stage_skipped")
    assert skipped == ["demux", "source_separation", "transcribe", "glossary"]
    assert by_event(json_events, "stage_completed") == ["subtitles"] and heavy == []
    assert "Source Separation is never" in (base / "subtitles" / "subtitles.srt").read_text()
    # the 3 s target is measured on a quiet machine (docs/audio.md); under the parallel suite the
    # cores are shared, so the test allows headroom and the import check above is the hard part
    assert wall2 <= 8.0 and wall3 <= 8.0, (wall2, wall3)

    _, _, heavy = front("--config", str(config))  # a no-op
    assert heavy == [] and not by_event(run_events(base), "stage_running")


def test_clip_end_reruns_from_demux_and_forced_separation_runs_alone(demo: Path) -> None:
    config, base = demo / "pipeline_config.toml", demo / "sc-output"
    edit(config, r"^clip_end = 40\.0$", "clip_end = 35.0")
    status = json.loads(cli("status", "--config", str(config), "--json").stdout)["stages"]
    assert "clip_end" in status[0]["reason"]
    cli("pipeline", "--config", str(config))
    assert by_event(run_events(base), "stage_completed") == STAGES
    assert json.loads((base / "audio" / "clip.json").read_text())["duration"] == 35.0
    assert "Goodbye" not in (base / "subtitles" / "subtitles.srt").read_text()

    vocals = (base / "audio" / "separated" / "vocals.wav").read_bytes()
    cli("pipeline", "--config", str(config), "--force", "--stages", "source_separation")
    evs = run_events(base)
    assert by_event(evs, "stage_running") == ["source_separation"]
    assert (base / "audio" / "separated" / "vocals.wav").read_bytes() == vocals
    status = json.loads(cli("status", "--config", str(config), "--json").stdout)["stages"]
    assert [s["run"] for s in status] == [False] * 5  # same bytes: nothing downstream is stale


def test_a_device_change_invalidates(demo: Path) -> None:
    """A manifest written on another device (as after a CUDA or MPS run) is not reused."""
    config, base = demo / "pipeline_config.toml", demo / "sc-output"
    path = base / "stages" / "source_separation" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["device"] = "cuda"
    path.write_text(json.dumps(manifest))
    status = json.loads(cli("status", "--config", str(config), "--json").stdout)["stages"]
    runs = {s["stage"]: s for s in status}
    assert runs["source_separation"]["run"] and "device" in runs["source_separation"]["reason"]
    assert not runs["demux"]["run"]
    cli("pipeline", "--config", str(config))
    assert "source_separation" in by_event(run_events(base), "stage_completed")
    assert json.loads(path.read_text())["device"] == "cpu"


def test_demucs_unittest_model_offline(tmp_path: Path) -> None:
    """The Demucs path itself (its in-code test model, no weights), and its cache."""
    import numpy as np
    import soundfile as sf

    config = _demucs_config(tmp_path, seconds=2, rate=16000)
    mix, rate = sf.read(tmp_path / "mix.wav")
    said = " ".join(cli("pipeline", "--config", str(config)).stderr.split())
    base = tmp_path / "sc-output"
    info = json.loads((base / "audio" / "separated" / "separation.json").read_text())
    assert info["backend"] == "demucs" and info["model"] == "demucs_unittest"
    # the default model is untrained: the run, its JSON and its report say so (they did not)
    assert info["untrained"] is True
    assert "demucs_unittest, Demucs's built-in untrained model" in said
    assert "(demucs_unittest) on cpu (untrained: the stems are not a separation)" in said
    report = (base / "reports" / "index.html").read_text()
    assert "(untrained: the stems are not a separation)" in report
    assert info["device"] == "cpu" and "vocals" in info["sources"]
    vocals, vr = sf.read(base / "audio" / "separated" / "vocals.wav")
    rest, _ = sf.read(base / "audio" / "separated" / "no_vocals.wav")
    assert vr == rate and vocals.shape == mix.shape
    assert np.allclose(vocals + rest, mix, atol=1e-4)
    manifest = json.loads((base / "stages" / "source_separation" / "manifest.json").read_text())
    assert manifest["device"] == "cpu" and manifest["params"]["separation_backend"] == "demucs"
    assert "0 ran, 5 skipped" in cli("pipeline", "--config", str(config)).stderr


def test_auto_falls_back_to_dsp_when_demucs_is_not_importable(tmp_path: Path) -> None:
    demo = tmp_path / "d"
    cli("demo", "--pipeline", "audio", "--output-dir", str(demo), "--size", "tiny")
    config = demo / "pipeline_config.toml"
    edit(config, r'^backend = "dsp"$', 'backend = "auto"')
    hide = "import sys; sys.modules['demucs'] = None; " + FRONT
    proc = subprocess.run(
        [sys.executable, "-c", hide, "pipeline", "--config", str(config)],
        capture_output=True, text=True, timeout=300, env=child_env(),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    info = json.loads((demo / "sc-output/audio/separated/separation.json").read_text())
    assert info["backend"] == "dsp"
    # asking for Demucs explicitly without it is bad input: one line, exit 2
    edit(config, r'^backend = "auto"$', 'backend = "demucs"')
    proc = subprocess.run(
        [sys.executable, "-c", hide, "pipeline", "--config", str(config)],
        capture_output=True, text=True, timeout=300, env=child_env(),
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "stage 'source_separation' needs the module demucs, which is not installed" in (
        proc.stderr
    )
    assert 'pip install -e ".[audio]"' in proc.stderr and "Traceback" not in proc.stderr


def test_a_missing_asr_package_fails_before_any_stage_runs(tmp_path: Path) -> None:
    """``backend = "faster-whisper"`` without the package: one line naming the module and the
    extra, exit 2, and demux and separation have not run (hidden here even where installed)."""
    (tmp_path / "media.wav").write_bytes(b"")  # never read: nothing runs
    (tmp_path / "model").mkdir()
    config = tmp_path / "audio.toml"
    config.write_text(
        '[pipeline]\nname = "audio"\n[demux]\ninput = "media.wav"\n'
        '[transcribe]\nbackend = "faster-whisper"\nmodel_dir = "model"\n'
    )
    hide = "import sys; sys.modules['faster_whisper'] = None; " + FRONT
    proc = subprocess.run(
        [sys.executable, "-c", hide, "pipeline", "--config", str(config)],
        capture_output=True, text=True, timeout=300, env=child_env(),
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    (line,) = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    assert "stage 'transcribe' needs the module faster_whisper, which is not installed" in line
    assert "pip install faster-whisper" in line and "Traceback" not in proc.stderr
    assert not (tmp_path / "sc-output" / "stages").exists()


def _media(path: Path, case: str) -> None:
    if case == "not_audio":
        path.write_text("this is a text file, not audio\n" * 20)
    elif case == "empty":
        path.write_bytes(b"")
    else:  # a real WAV cut short
        import numpy as np
        import soundfile as sf

        sf.write(path, np.zeros((16000, 2), dtype=np.float32), 16000)
        path.write_bytes(path.read_bytes()[: 16000 * 2])


@pytest.mark.parametrize("backend", ["python", "ffmpeg"])
@pytest.mark.parametrize("case", ["not_audio", "empty", "truncated"])
def test_bad_media_is_one_line_and_exit_2(tmp_path: Path, case: str, backend: str) -> None:
    _media(tmp_path / "media.wav", case)
    (tmp_path / "t.srt").write_text("1\n00:00:00,100 --> 00:00:01,500\nHello\n")
    config = tmp_path / "audio.toml"
    config.write_text(
        f'[pipeline]\nname = "audio"\n[demux]\ninput = "media.wav"\nbackend = "{backend}"\n'
        '[transcribe]\ntranscript = "t.srt"\n'
    )
    proc = cli("pipeline", "--config", str(config), check=False)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [x for x in proc.stderr.splitlines() if "media.wav" in x and "demux" in x]
    assert errors, proc.stderr
    expected = {"not_audio": "not", "empty": "empty file", "truncated": "truncated WAV"}[case]
    assert expected in errors[0]
    assert not (tmp_path / "sc-output" / "stages" / "demux" / "manifest.json").exists()


def _windows(base: Path) -> int:
    """How many Demucs windows the separation's partial work holds."""
    return len(list((base / "checkpoints" / "source_separation" / "windows").glob("window-*.npy")))


def _run_until(config: Path, base: Path, ready: Any) -> subprocess.Popen[bytes]:
    """Start ``pipeline --config`` and return once ``ready()`` holds (the run still going)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "standard_coder", "pipeline", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env(),
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            _, err = proc.communicate()
            raise AssertionError(f"never ready (exit {proc.returncode}): {err.decode()[-2000:]}")
        time.sleep(0.02)
    return proc


def test_ctrl_c_during_a_demucs_separation_stops_within_a_window_and_resumes(
    tmp_path: Path,
) -> None:
    """A real SIGINT while Demucs separates 6 s in 1 s windows: the stage stops after the
    window in flight (it used to finish a whole 40 s segment of its test model first), says
    how many windows are done, and keeps them; a SIGKILL later in the rerun loses only the
    window in flight; the last rerun continues from the saved windows, and the stems and
    ``separation.json`` are byte-identical to those of a run never interrupted."""
    import signal

    ref, work = tmp_path / "ref", tmp_path / "work"
    for folder in (ref, work):
        folder.mkdir()
        _demucs_config(folder, seconds=6, rate=8000, window_s=1.0)
    cli("pipeline", "--config", str(ref / "audio.toml"))
    separated = Path("sc-output/audio/separated")
    names = ("vocals.wav", "no_vocals.wav", "separation.json")
    expected = {name: (ref / separated / name).read_bytes() for name in names}
    total = json.loads(expected["separation.json"])["windows"]
    assert total == 8 and not _windows(ref / "sc-output")  # removed once the stems are out

    base = work / "sc-output"
    proc = _run_until(work / "audio.toml", base, lambda: _windows(base) >= 1)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    stop_s = time.monotonic() - sent
    assert proc.returncode == 130, err.decode()[-2000:]
    done = _windows(base)
    assert 1 <= done < total, done
    stop = [x for x in err.decode().splitlines() if "[STOP] source_separation" in x]
    assert stop and "interrupted: rerun to resume (windows: " in stop[0], err.decode()[-2000:]
    assert f"/{total} items done" in stop[0]
    assert stop_s < 60, stop_s  # one 1 s window at most (a loaded machine: far under 60 s)
    assert not (base / "audio" / "separated" / "separation.json").exists()

    proc = _run_until(work / "audio.toml", base, lambda: _windows(base) > done)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    kept = _windows(base)
    assert done < kept <= total

    last = cli("pipeline", "--config", str(work / "audio.toml"))
    assert "[resume] source_separation: continues from the partial work in" in last.stderr
    log = (base / "logs" / "run.log").read_text()
    assert f"of {total} windows taken from the interrupted run's partial work" in log
    for name in names:
        assert (work / separated / name).read_bytes() == expected[name], name
    assert not _windows(base)


def _demucs_config(
    tmp_path: Path, *, seconds: int, rate: int, window_s: float | None = None
) -> Path:
    """A two-tone stereo clip, its transcript, and a config separating it with Demucs's test
    model (``sample_rate`` set where it is not the default 16 kHz)."""
    import numpy as np
    import soundfile as sf

    t = np.arange(seconds * rate) / rate
    mix = np.stack([np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 330 * t)], 1) * 0.3
    sf.write(tmp_path / "mix.wav", mix.astype(np.float32), rate)
    (tmp_path / "t.srt").write_text("1\n00:00:00,100 --> 00:00:01,500\nHello Demucs\n")
    rate_line = "" if rate == 16000 else f"sample_rate = {rate}\n"
    window_line = "" if window_s is None else f"window_s = {window_s}\n"
    config = tmp_path / "audio.toml"
    config.write_text(
        '[pipeline]\nname = "audio"\n[runner]\ndevice = "cpu"\n'
        f'[demux]\ninput = "mix.wav"\nbackend = "python"\n{rate_line}'
        '[source_separation]\nbackend = "demucs"\n'
        f'{window_line}[transcribe]\ntranscript = "t.srt"\n'
    )
    return config


def test_an_empty_transcript_says_the_subtitles_will_be_empty(tmp_path: Path) -> None:
    """A transcript with no segment in the clip made empty subtitles without a word; now the
    transcribe stage warns, and the summary says so instead of "0.0% of 0 segments"."""
    import numpy as np
    import soundfile as sf

    sf.write(tmp_path / "media.wav", np.zeros((16000, 2), dtype=np.float32), 16000)
    (tmp_path / "t.srt").write_text("")
    config = tmp_path / "audio.toml"
    config.write_text(
        '[pipeline]\nname = "audio"\n[demux]\ninput = "media.wav"\n'
        '[source_separation]\nbackend = "dsp"\n[transcribe]\ntranscript = "t.srt"\n'
    )
    proc = cli("pipeline", "--config", str(config))
    said = " ".join(proc.stderr.split())
    (line,) = [s for s in proc.stderr.splitlines() if "the transcript is empty" in s]
    assert line.startswith("[warn] transcribe: the transcript is empty: "), line
    assert line.endswith("; the subtitles will be empty") and "WARNING" not in proc.stderr
    assert "t.srt has no segment between 0 s and" in said
    assert "Glossary: 0 terms; the transcript has no segment (the subtitles are empty)" in said
    assert "0.0% of 0 segments" not in said


def test_subtitles_read_the_corrected_transcript_alone(tmp_path: Path) -> None:
    """A user term the transcript already spells so (Ada Lovelace, a capitalised term) changes
    the term list but not the corrected transcript: glossary reruns, subtitles stay cached (they
    read glossary/transcript.json alone, not terms.tsv or the coverage report)."""
    cli("demo", "--pipeline", "audio", "--output-dir", str(tmp_path), "--size", "tiny")
    config, base = tmp_path / "pipeline_config.toml", tmp_path / "sc-output"
    terms = (base / "glossary" / "terms.tsv").read_text()
    assert "Ada Lovelace\tcapitalised" in terms
    # and a term the transcript never mentions: the corrected transcript held the term count,
    # so one unused term reran the subtitles
    edit(config, r"^extra_terms = \[", 'extra_terms = ["Ada Lovelace", "Lovelace Engine", ')
    cli("pipeline", "--config", str(config))
    evs = run_events(base)
    assert by_event(evs, "stage_completed") == ["glossary"]
    assert "Ada Lovelace\tuser" in (base / "glossary" / "terms.tsv").read_text()
    (subs,) = [e for e in evs if e["stage"] == "subtitles" and e["event"] == "stage_skipped"]
    assert subs["reason"] == "mtime changed, content same"
    manifest = json.loads((base / "stages" / "subtitles" / "manifest.json").read_text())
    assert set(manifest["inputs"]) == {"sc-output/glossary/transcript.json"}
