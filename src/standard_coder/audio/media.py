"""Media in, WAV clip out: validation of the input, ffmpeg or soundfile extraction, WAV I/O.

Bad input (missing, empty, not audio, truncated) raises :class:`MediaError`, whose message is
one line naming the file and the cause, and whose ``exit_code`` is 2 (bad input).

Example:
    >>> info = extract_clip(Path("film.mkv"), Path("clip.wav"), start=60, end=90,
    ...                     sample_rate=16000, channels=1)
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "ClipInfo",
    "MediaError",
    "check_media",
    "extract_clip",
    "find_ffmpeg",
    "read_audio",
    "write_audio",
]


class MediaError(ValueError):
    """The media file cannot be used (the message names the file and why)."""

    exit_code = 2


@dataclass(frozen=True)
class ClipInfo:
    """What ``demux`` extracted: seconds are media time."""

    source: str
    start: float
    end: float
    sample_rate: int
    channels: int
    frames: int
    backend: str

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "duration": round(self.duration, 6)}


def _riff_problem(path: Path, size: int) -> str | None:
    """Why a RIFF/WAVE file is unusable (truncated, no fmt/data chunk), or None when it is fine."""
    with path.open("rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[8:12] != b"WAVE":
            return "RIFF file that is not WAVE" if len(head) >= 12 else "truncated WAV header"
        seen: set[bytes] = set()
        pos = 12
        while pos + 8 <= size:
            fh.seek(pos)
            chunk_id, chunk_size = struct.unpack("<4sI", fh.read(8))
            seen.add(chunk_id)
            if chunk_id == b"data":
                if chunk_size == 0:
                    return "WAV with no audio frames (empty data chunk)"
                if pos + 8 + chunk_size > size:
                    missing = pos + 8 + chunk_size - size
                    return f"truncated WAV: the data chunk lacks {missing} of {chunk_size} bytes"
                return None if b"fmt " in seen else "WAV data chunk before its fmt chunk"
            pos += 8 + chunk_size + (chunk_size & 1)
        return "truncated WAV: it ends before its data chunk"


def check_media(path: Path) -> None:
    """Raise :class:`MediaError` when ``path`` is missing, empty, or a broken WAV."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise MediaError(f"{path}: media file not found") from None
    except OSError as exc:
        raise MediaError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not path.is_file():
        raise MediaError(f"{path}: not a file")
    if size == 0:
        raise MediaError(f"{path}: empty file (0 bytes), not audio")
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic == b"RIFF":
        problem = _riff_problem(path, size)
        if problem:
            raise MediaError(f"{path}: {problem}")


def find_ffmpeg() -> str | None:
    """The ffmpeg executable: ``$PATH`` first, then the binary of the imageio-ffmpeg wheel."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    try:
        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except RuntimeError:
        return None


def read_audio(path: Path) -> tuple[np.ndarray, int]:
    """``(frames x channels float32, sample_rate)`` of an audio file soundfile reads.

    Raises:
        MediaError: not audio, or a format soundfile cannot read.
    """
    import soundfile as sf

    check_media(path)
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        detail = detail.replace(f"Error opening {str(path)!r}: ", "")
        raise MediaError(f"{path}: not readable audio ({detail})") from None
    if data.shape[0] == 0:
        raise MediaError(f"{path}: no audio frames")
    return data, int(rate)


def write_audio(path: Path, data: np.ndarray, sample_rate: int) -> None:
    """Write ``frames x channels`` float data as a 32-bit float WAV, atomically.

    A plain RIFF header (no PEAK chunk with a time stamp, as libsndfile adds), so the same
    samples always give the same bytes and downstream stages stay cached.
    """
    import numpy as np

    frames = np.ascontiguousarray(data, dtype="<f4")
    channels = frames.shape[1]
    body = frames.tobytes()
    fmt = struct.pack("<HHIIHH", 3, channels, sample_rate, sample_rate * 4 * channels,
                      4 * channels, 32)  # fmt: skip
    header = b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(body)) + b"WAVE"
    header += b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(body))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as fh:
        fh.write(header)
        fh.write(body)
    os.replace(tmp, path)


def convert(data: np.ndarray, rate: int, sample_rate: int, channels: int) -> np.ndarray:
    """Resample (polyphase, scipy) and down/up-mix ``frames x channels`` data."""
    from math import gcd

    import numpy as np

    if data.shape[1] != channels:
        mono = data.mean(axis=1, keepdims=True)
        data = mono if channels == 1 else np.repeat(mono, channels, axis=1)
    if rate != sample_rate:
        from scipy.signal import resample_poly

        g = gcd(rate, sample_rate)
        data = resample_poly(data, sample_rate // g, rate // g, axis=0)
    return np.ascontiguousarray(data, dtype=np.float32)


def _extract_python(
    src: Path, dst: Path, start: float, end: float | None, sample_rate: int, channels: int
) -> ClipInfo:
    data, rate = read_audio(src)
    first = round(start * rate)
    last = data.shape[0] if end is None else min(data.shape[0], round(end * rate))
    if first >= data.shape[0]:
        raise MediaError(
            f"{src}: clip_start {start} s is past the end of the media "
            f"({data.shape[0] / rate:.3f} s)"
        )
    clip = convert(data[first:last], rate, sample_rate, channels)
    write_audio(dst, clip, sample_rate)
    return ClipInfo(
        str(src), start, last / rate, sample_rate, channels, int(clip.shape[0]), "python"
    )


def _extract_ffmpeg(
    exe: str,
    src: Path,
    dst: Path,
    start: float,
    end: float | None,
    sample_rate: int,
    channels: int,
) -> ClipInfo:
    import soundfile as sf

    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp.wav")
    cmd = [exe, "-nostdin", "-hide_banner", "-v", "error", "-y", "-ss", f"{start:.6f}"]
    cmd += ["-i", str(src)]
    if end is not None:
        cmd += ["-t", f"{end - start:.6f}"]
    cmd += ["-vn", "-ac", str(channels), "-ar", str(sample_rate), "-c:a", "pcm_f32le"]
    cmd += ["-f", "wav", str(tmp)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
        why = lines[-1] if lines else f"ffmpeg exited with {proc.returncode}"
        why = why.replace(f"{src}: ", "")
        raise MediaError(f"{src}: not readable media (ffmpeg: {why})")
    frames = sf.info(str(tmp)).frames
    if frames == 0:
        tmp.unlink(missing_ok=True)
        raise MediaError(f"{src}: no audio between clip_start {start} s and the clip end")
    os.replace(tmp, dst)
    return ClipInfo(
        str(src), start, start + frames / sample_rate, sample_rate, channels, frames, "ffmpeg"
    )


def extract_clip(
    src: Path,
    dst: Path,
    *,
    start: float = 0.0,
    end: float | None = None,
    sample_rate: int = 16000,
    channels: int = 2,
    backend: str = "auto",
) -> ClipInfo:
    """Extract ``[start, end)`` seconds of ``src`` as a float WAV at ``dst``.

    ``backend``: ``ffmpeg``, ``python`` (soundfile, no ffmpeg needed) or ``auto`` (ffmpeg when
    :func:`find_ffmpeg` finds one).

    Raises:
        MediaError: bad media, an empty clip, or ``ffmpeg`` asked for and not found.
    """
    check_media(src)
    exe = find_ffmpeg() if backend in ("auto", "ffmpeg") else None
    if backend == "ffmpeg" and exe is None:
        raise MediaError(
            f"{src}: demux backend 'ffmpeg' asked for but no ffmpeg was found (PATH or the "
            "imageio-ffmpeg package); use backend = 'python' for WAV/FLAC/OGG"
        )
    if exe is not None:
        return _extract_ffmpeg(exe, src, dst, start, end, sample_rate, channels)
    return _extract_python(src, dst, start, end, sample_rate, channels)
