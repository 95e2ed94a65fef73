"""A run's records, in one place for the engine and the no-op fast door.

The full path (:mod:`~standard_coder.runner.engine` with its sinks, run state, env stamp and
retention note) and the fast door (:mod:`~standard_coder.runner.noop`, which must not import
the engine) write the same files: ``logs/events.jsonl`` lines, ``logs/run.log`` lines, the
console's ``[skip]`` lines, ``checkpoints/run_state.json``, ``runs/<id>/env_stamp.json`` and
``runs/<id>/RETENTION.txt``. Each format and each writer lives here once, so a change to a
record is made once. Standard library only (``os``, ``sys``, ``json``, ``hashlib``, ``time``;
``datetime`` when a time is formatted): the point is what it does not import.

Example:
    >>> event_line({"event": "run_started", "stage": None})
    '{"event":"run_started","stage":null}\\n'
    >>> console_line({"event": "stage_skipped", "stage": "prep", "reason": "up to date"})
    '[skip] prep: up to date\\n'
"""

from __future__ import annotations

import hashlib
import json
import os
import time

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads it as True)
if TYPE_CHECKING:  # the fast door's imports are its cost
    from collections.abc import Mapping, Sequence
    from typing import IO, Any

RUN_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
"""``logs/run.log``'s line format (``logging``'s); :func:`run_log_line` writes the same."""
RUN_LOGGER = "standard_coder.runner"
"""The logger the engine's run lines come from."""
UP_TO_DATE = "up to date"
"""The reason of a stage skipped because nothing it rests on changed."""

# -- run ids and times


def new_run_id(started: float | None = None) -> str:
    """``YYYYmmdd-HHMMSS-xxxxxx`` (UTC start time, 6 random hex digits)."""
    when = time.gmtime(started)  # None: now
    return time.strftime("%Y%m%d-%H%M%S", when) + "-" + os.urandom(3).hex()


def iso(ts: float) -> str:
    """Epoch seconds as the stamp writes times: ISO-8601 UTC, milliseconds."""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="milliseconds")


def log_time(ts: float) -> str:
    """``logging``'s ``asctime``: local time, comma, milliseconds."""
    msecs = int((ts - int(ts)) * 1000)
    return f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(ts))},{msecs:03d}"


# -- events and console


def event_line(event: Mapping[str, Any]) -> str:
    """One ``events.jsonl`` line (also ``--log-format json``'s)."""
    return json.dumps(event, sort_keys=False, default=str, separators=(",", ":")) + "\n"


def ends_with_newline(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is empty or its last byte is a newline."""
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        if fh.tell() == 0:
            return True
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


def open_events(path: str | os.PathLike[str]) -> IO[str]:
    """``logs/events.jsonl`` opened to append (its folder created); a torn last line (a run
    killed mid-write, a full disk) gets a newline first, so it stays alone.

    Raises:
        OSError: the file cannot be opened or written.
    """
    os.makedirs(os.path.dirname(os.fspath(path)) or ".", exist_ok=True)
    fh = open(path, "a", encoding="utf-8")  # noqa: SIM115  (the caller closes it)
    try:
        if not ends_with_newline(path):
            fh.write("\n")
            fh.flush()
    except BaseException:
        fh.close()
        raise
    return fh


_LABELS = {
    "stage_skipped": "skip",
    "stage_cache_miss": "run ",
    "stage_completed": "done",
    "stage_failed": "FAIL",
    "run_interrupted": "STOP",
    "upstream_stale": "warn",
    "state_corrupt": "warn",
    "partial_work_stale": "warn",
    "stage_warning": "warn",
    "stage_resuming": "resume",
    "cache_pulled": "restore",
}


def console_line(event: Mapping[str, Any], *, dry_run: bool = False) -> str | None:
    """The human line of an event (``[skip] prepare: up to date``), or None for an event
    the console does not show."""
    name = str(event.get("event", ""))
    label = _LABELS.get(name)
    if label is None:
        return None
    if dry_run and name == "stage_cache_miss":
        label = "would run"
    stage = event.get("stage") or ""
    reason = event.get("reason") or ""
    extra = ""
    if name == "stage_completed" and "duration_s" in event:
        extra = f" ({float(event['duration_s']):.2f} s)"
    if name == "stage_failed" and event.get("raised_at"):  # an unexpected error: where, and
        log = event.get("log") or "the run log"  # where its traceback is
        extra = f" (raised at {event['raised_at']}; traceback in {log})"
    if name == "state_corrupt" and event.get("path"):  # which file, and where it went
        reason = f"{event['path']}: {reason}" if reason else str(event["path"])
        if event.get("moved_to"):
            extra = f"; set aside as {event['moved_to']}"
        if event.get("then"):  # what happens next (``every repository is mined again``)
            extra += f"; {event['then']}"
    return f"[{label.strip()}] {stage}{': ' if stage and reason else ''}{reason}{extra}\n"


def ok_line(ran: int, skipped: int, run_id: str, restored: int = 0) -> str:
    """The last console line of a run that ended well; ``restored``: of the ``skipped``, the
    stages whose outputs the run cache put in place (said apart where there are any)."""
    pulled = f"{restored} restored from the run cache, " if restored else ""
    return f"ok: {ran} ran, {pulled}{skipped - restored} skipped (run {run_id})\n"


# -- run.log


def started_message(run_id: str, stages: Sequence[str]) -> str:
    """``run.log``'s first line of a run (after the time, level and logger)."""
    return f"run {run_id} started: {', '.join(stages)}"


def executor_message(text: str) -> str:
    """``run.log``'s second line: where ``ctx.map`` items run (``text``: :func:`executor_text`)."""
    return f"executor: {text}"


def executor_text(where: Mapping[str, Any]) -> str:
    """``kind=local workers=2`` from :func:`~.runrecord.executor_record`'s dict."""
    return " ".join(f"{k}={v}" for k, v in where.items())


def run_log_line(ts: float, message: str, level: str = "INFO", name: str = RUN_LOGGER) -> str:
    """A ``run.log`` line as :data:`RUN_LOG_FORMAT` formats it."""
    return f"{log_time(ts)} {level} {name}: {message}\n"


# -- run state


def state_digest(body: Mapping[str, Any]) -> str:
    """The run state's checksum: sha256 of its canonical JSON without ``checksum``."""
    doc = {k: v for k, v in body.items() if k != "checksum"}
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def state_text(body: Mapping[str, Any]) -> str:
    """``run_state.json``'s text: ``body`` with a fresh checksum (NaN refused)."""
    doc = dict(body)
    doc["checksum"] = state_digest(doc)
    return json.dumps(doc, indent=2, sort_keys=True, allow_nan=False) + "\n"


def skipped_record(check_s: float | None, fingerprint: str | None, run_id: str) -> dict[str, Any]:
    """The run state's entry of a stage skipped as up to date (``StageOutcome.record``'s)."""
    return {
        "status": "skipped",
        "reason": UP_TO_DATE,
        "cache_hit": True,
        "check_s": check_s,
        "fingerprint": fingerprint,
        "run_id": run_id,
    }


# -- env stamp

STAMP_FILE = "env_stamp.json"


def stamp_text(stamp: Mapping[str, Any]) -> str:
    """``env_stamp.json``'s text."""
    return json.dumps(dict(stamp), indent=2, sort_keys=True, default=str) + "\n"


def parse_time(value: Any) -> float | None:
    """Epoch seconds from a stamp time (ISO string or number); ``None`` if absent or unreadable."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        from datetime import UTC, datetime

        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return dt.timestamp()
    return None


def end_stamp(stamp: dict[str, Any], ended_at: str, status: str | None) -> dict[str, Any]:
    """Record a run's end in ``stamp`` (in place, returned): ``ended_at`` (ISO), its
    ``duration_s`` (None when a time is unreadable) and, unless None, ``status``."""
    stamp["ended_at"] = ended_at
    start, end = parse_time(stamp.get("started_at")), parse_time(ended_at)
    stamp["duration_s"] = round(end - start, 3) if start is not None and end is not None else None
    if status is not None:
        stamp["status"] = status
    return stamp


# -- atomic writes


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """Flush a folder's entries (a rename inside it) to disk; a no-op where unsupported."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
_TEMP_FLAGS |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def create_temp(path: str | os.PathLike[str]) -> tuple[int, str]:
    """A new temp file beside ``path`` (exclusive, random name, as ``tempfile.mkstemp``), with
    the mode ``open(path, "w")`` would give: 0o666 less the umask, applied by the kernel."""
    folder, name = os.path.split(os.fspath(path))
    for _ in range(100):
        tmp = os.path.join(folder, f".{name}.{os.urandom(6).hex()}.tmp")
        try:
            return os.open(tmp, _TEMP_FLAGS, 0o666), tmp
        except FileExistsError:
            continue
        except OSError as exc:  # the user wrote to ``path``: name it, not our temp file
            raise OSError(exc.errno, exc.strerror, os.fspath(path)) from None
    raise FileExistsError(f"{folder}: no free temporary name for {name}")


def write_atomic(path: str | os.PathLike[str], data: bytes, *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` atomically: a temp file beside it, ``os.replace``; with
    ``durable`` the file and then its folder are fsynced (without: still old or new content,
    never a mix, but a power cut may lose the write).

    Raises:
        OSError: naming ``path`` when the failed call named no file.
    """
    fd, tmp = create_temp(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:  # noqa: SIM105  (no contextlib import on this path)
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError) and exc.filename in (None, tmp) and exc.errno is not None:
            raise OSError(exc.errno, exc.strerror, os.fspath(path)) from None
        raise
    if durable:
        fsync_dir(os.path.dirname(os.fspath(path)) or ".")
