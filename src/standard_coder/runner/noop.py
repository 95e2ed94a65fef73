"""The no-op fast door: ``standard-coder pipeline --config FILE`` on a command pipeline whose
last run changed nothing is decided and recorded without importing the engine.

A full run that skipped every stage as up to date (plain options, a ``[[stages]]`` file, no
device-sensitive or git input, local executor, report current) leaves a *witness*,
``<base_dir>/cache/noop_witness.json`` (:mod:`~standard_coder.runner.noopwitness`): what that
decision rested on. The next plain run checks, under the output folder's lock, that nothing of
it changed:

- the pipeline file's bytes (sha256), the runner's own source files, Python, ``sys.path`` and
  the folders on it (installed packages), the machine (``uname``), ``HOME``;
- every stage's manifest bytes (sha256), its command's code version (the script bytes are read
  and hashed again, as the full path does), and the stat token of every declared input and
  output equal to the one its manifest records (the full path's token test: same walk, same
  token);
- the run state's checksum and the report's ``built_for.json``.

Then the decision is the full path's (the same manifests, the same tokens, the same code and
config give the same answer), and the fast door writes what the full path writes for a no-op:
``logs/events.jsonl`` (``run_started``, ``stage_skipped`` per stage, ``run_completed``), two
``logs/run.log`` lines, ``checkpoints/run_state.json``, ``runs/<id>/env_stamp.json`` (the
witness run's stamp with this run's id, times and ``git status``) and ``RETENTION.txt``, the
console lines, the lock. Any doubt (a missing or unreadable file, a changed byte or stat, a
held lock) returns None before anything is written and the full path runs as ever.

Every record is written by :mod:`~standard_coder.runner.records`, the module the full path
writes them with (one format, one writer). Standard library only (``os``, ``sys``, ``json``,
``hashlib``, ``time``, ``datetime``, ``fcntl``, ``select``): the point is what it does not
import.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time

from standard_coder.runner import records
from standard_coder.runner.gitorigin import (
    GIT_STATUS,
    git_env,
    origin_from_status,
)
from standard_coder.runner.pathstate import path_state
from standard_coder.runner.records import UP_TO_DATE as UP_TO_DATE
from standard_coder.runner.retnote import RETENTION_FILE, retention_text
from standard_coder.runner.statwalk import drop_handed, hand_over, lines_token, walk_lines

WITNESS_VERSION = 2
WITNESS_FILE = "noop_witness.json"
"""Under ``<base_dir>/cache/``: a cache (deleting it costs one full no-op, nothing else)."""
DEFAULT_BASE_DIR = "sc-output"
""":data:`standard_coder.runner.layout.DEFAULT_BASE_DIR` (tested equal)."""


class Doubt(Exception):
    """Something the witness rests on changed or cannot be read: the full path decides."""


def command_version(argv: list[str], scripts: list[str]) -> str:
    """A command stage's code version: sha256 of its argv and of its scripts' bytes, in the
    order given (``commandfile`` sorts them as paths)."""
    digest = hashlib.sha256("\0".join(argv).encode())
    for script in scripts:
        try:
            with open(script, "rb") as fh:
                digest.update(b"\0" + fh.read())
        except OSError:
            digest.update(b"\0<missing>")
    return "cmd:" + digest.hexdigest()


def folder_token(folder: str) -> int | None:
    """A folder's listing in one stat: its mtime changes when a file in it is added, removed
    or renamed (None: unreadable)."""
    try:
        return os.stat(folder).st_mtime_ns
    except OSError:
        return None


def code_key() -> list[object]:
    """What the runner's answer could depend on besides the pipeline's files: Python, the
    runner's own source files (size, mtime), ``HOME`` (``~`` in paths), the machine."""
    pkg = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    key: list[object] = [sys.executable, sys.version, os.environ.get("HOME"), list(os.uname())]
    for folder in (pkg, os.path.join(pkg, "runner"), os.path.join(pkg, "cli")):
        with os.scandir(folder) as it:
            for entry in sorted(it, key=lambda e: e.name):
                if entry.name.endswith(".py"):
                    st = entry.stat()
                    key.append([entry.path, st.st_size, st.st_mtime_ns])
    return key


def path_token(path: str, keep: bool = False) -> str:
    """The stat token the hash cache records for a declared path (``keep``: hand the walk
    over to the full path, should it take over)."""
    lines = walk_lines(path)
    if keep:
        hand_over(path, lines)
    return lines_token(lines)


_held: list[tuple[str, int]] = []
"""The run lock the fast door took and hands over to the full path (at most one)."""


def adopt_lock(path: str) -> int | None:
    """The fd of the lock on ``path`` the fast door handed over, or None. A lock held on
    another path is let go, with the walks made under it."""
    while _held:
        held_path, fd = _held.pop()
        if os.path.realpath(held_path) == os.path.realpath(path):
            return fd
        drop_handed()
        _unlock(fd)
    return None


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def plain_config(argv: list[str]) -> str | None:
    """The config path of ``pipeline --config FILE`` (``-c FILE``, ``--config=FILE``) and no
    other option; None for any other command line."""
    if len(argv) == 3 and argv[0] == "pipeline" and argv[1] in ("--config", "-c"):
        return argv[2] or None
    if len(argv) == 2 and argv[0] == "pipeline" and argv[1].startswith("--config="):
        return argv[1][len("--config=") :] or None
    return None


def guess_base_dir(raw: bytes, config: str) -> str:
    """Where ``[outputs] base_dir`` points, read without a TOML parser (a wrong guess only
    finds no witness, or one whose config path and digest do not match)."""
    base = DEFAULT_BASE_DIR
    for line in raw.decode("utf-8", "replace").splitlines():
        text = line.strip()
        if not text.startswith("base_dir"):
            continue
        rest = text[len("base_dir") :].lstrip()
        if rest.startswith("="):
            value = rest[1:].strip()
            quote = value[:1]
            end = value.find(quote, 1) if quote in ("'", '"') else -1
            if end > 0:
                base = value[1:end]
                break
    return os.path.join(os.path.dirname(config), os.path.expanduser(base))


class _Git:
    """``git status`` of the project's checkout (the config file's folder, as the full path's
    session root), started now and read at the end (no ``subprocess`` import:
    ``posix_spawnp`` and a pipe)."""

    def __init__(self, where: str) -> None:
        self.pid = 0
        self.fd = -1
        rfd, wfd = os.pipe()
        null = os.open(os.devnull, os.O_RDWR)
        try:
            self.pid = os.posix_spawnp(
                "git",
                ["git", "--no-optional-locks", "-C", where, *GIT_STATUS],
                git_env(),
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, null, 0),
                    (os.POSIX_SPAWN_DUP2, wfd, 1),
                    (os.POSIX_SPAWN_DUP2, null, 2),
                    (os.POSIX_SPAWN_CLOSE, rfd),
                ],
            )
            self.fd = rfd
        except OSError:  # no git: the package version
            os.close(rfd)
        finally:
            os.close(wfd)
            os.close(null)

    def result(self, version: str) -> dict[str, object]:
        """The stamp's ``code_version`` (waits for git at most 20 s, as the full path does)."""
        if self.fd < 0:
            return origin_from_status(None, version)
        import select

        chunks: list[bytes] = []
        deadline = time.monotonic() + 20
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                    os.kill(self.pid, 9)
                    chunks = []
                    break
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            os.close(self.fd)
            self.fd = -1
            _, status = os.waitpid(self.pid, 0)
        ok = os.waitstatus_to_exitcode(status) == 0 and chunks
        text = b"".join(chunks).decode("utf-8", "replace") if ok else None
        return origin_from_status(text, version)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
            try:
                os.kill(self.pid, 9)
                os.waitpid(self.pid, 0)
            except OSError:
                pass


def _lock(base: str) -> int:
    """The output folder's lock, taken as :class:`.lock.RunLock` takes it (Doubt if held)."""
    import fcntl

    fd = os.open(os.path.join(base, ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise Doubt("locked") from None
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "started": started}).encode(), 0)
    except OSError:
        pass
    return fd


def _unlock(fd: int) -> None:
    import fcntl

    try:  # noqa: SIM105  (no contextlib import on this path)
        os.ftruncate(fd, 0)
    except OSError:
        pass
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


def _run_state_body(raw: bytes | None) -> dict[str, object]:
    """The run state (empty when absent); Doubt when its checksum fails (the full path
    quarantines it)."""
    if raw is None:
        return {"schema_version": 1, "run_id": None, "status": None, "stages": {}}
    doc = json.loads(raw)
    if not isinstance(doc, dict) or not isinstance(doc.get("stages"), dict):
        raise Doubt("run state shape")
    body = {k: v for k, v in doc.items() if k != "checksum"}
    if doc.get("checksum") != records.state_digest(body):
        raise Doubt("run state checksum")
    return body


def load_witness(config: str) -> dict[str, object]:
    """The witness of ``config`` when the config, the runner, Python and the installed
    packages are those it was written with (reads only; no lock).

    Raises:
        Doubt: no witness, or any of those changed.
    """
    config = os.path.realpath(os.path.expanduser(config))
    try:
        raw = _read(config)
        guess = guess_base_dir(raw, config)
        witness = json.loads(_read(os.path.join(guess, "cache", WITNESS_FILE)))
        if not isinstance(witness, dict) or witness.get("version") != WITNESS_VERSION:
            raise Doubt("witness version")
        if witness["config_path"] != config or witness["config_sha256"] != _sha(raw):
            raise Doubt("config changed")
        if not os.path.samefile(guess, str(witness["base_dir"])):
            raise Doubt("base_dir")
        if witness["key"] != json.loads(json.dumps(code_key())):
            raise Doubt("runner or Python changed")
        if witness["path_state"] != json.loads(json.dumps(path_state())):
            raise Doubt("installed packages may have changed")
    except (OSError, ValueError, KeyError, TypeError):
        raise Doubt("no usable witness") from None
    return witness


def verify(witness: dict[str, object]) -> tuple[list[float], dict[str, object], int, float]:
    """Check every stage against its manifest under the output folder's lock (taken here;
    on Doubt kept, with the walks made, for the full path: :func:`adopt_lock`).

    Returns:
        ``(per-stage check seconds, run state body, lock fd, start time)``.

    Raises:
        Doubt: a manifest, script, token, the report or the run state changed or is unreadable.
    """
    base = str(witness["base_dir"])
    try:
        fd = _lock(base)
    except OSError:
        raise Doubt("lock") from None
    started = time.time()
    try:
        checks: list[float] = []
        for stage in witness["stages"]:  # type: ignore[attr-defined]
            t0 = time.perf_counter()
            raw_manifest = _read(stage["manifest"])
            if _sha(raw_manifest) != stage["manifest_sha256"]:
                raise Doubt("manifest changed")
            if command_version(stage["argv"], stage["scripts"]) != stage["version"]:
                raise Doubt("code changed")
            if any(folder_token(f) != token for f, token in stage["code_folders"]):
                raise Doubt("a script's folder changed")
            manifest = json.loads(raw_manifest)
            for kind, specs in (
                ("input_tokens", stage["inputs"]),
                ("output_tokens", stage["outputs"]),
            ):
                tokens = manifest.get(kind) or {}
                for name, path in specs:
                    if path_token(path, keep=True) != tokens.get(name):
                        raise Doubt("stat changed")
            checks.append(time.perf_counter() - t0)
        reports = os.path.join(base, "reports")
        if (
            _sha(_read(os.path.join(reports, ".cache", "built_for.json")))
            != witness["report_sha256"]
        ):
            raise Doubt("report")
        if not os.path.isfile(os.path.join(reports, "index.html")):
            raise Doubt("report")
        try:
            state_raw: bytes | None = _read(os.path.join(base, "checkpoints", "run_state.json"))
        except FileNotFoundError:
            state_raw = None
        state = _run_state_body(state_raw)
    except (Doubt, OSError, ValueError, KeyError, TypeError):
        # the full path takes over the lock and the walks made under it (no second walk)
        _held.append((os.path.join(base, ".lock"), fd))
        raise Doubt("changed") from None
    drop_handed()
    return checks, state, fd, started


def record(
    witness: dict[str, object],
    checks: list[float],
    state: dict[str, object],
    started: float,
    git: _Git,
) -> str:
    """Write the no-op's records as the full path writes them (:mod:`.records`, the same
    formats and writers); returns the run id."""
    from standard_coder import __version__

    base = str(witness["base_dir"])
    stages: list[dict[str, object]] = witness["stages"]  # type: ignore[assignment]
    names = [str(s["name"]) for s in stages]
    run_id = records.new_run_id(started)
    run_dir = os.path.join(base, "runs", run_id)
    os.makedirs(run_dir, exist_ok=True)
    with records.open_events(os.path.join(base, "logs", "events.jsonl")) as events:

        def emit(event: str, stage: str | None, reason: str, **fields: object) -> None:
            line = {"ts": time.time(), "run_id": run_id, "event": event, "stage": stage}
            line["reason"] = reason
            line.update(fields)
            events.write(records.event_line(line))
            events.flush()
            shown = records.console_line(line)
            if shown is not None:
                sys.stderr.write(shown)

        emit("run_started", None, f"{len(names)} stage(s) selected", pipeline=witness["pipeline"],
             stages=names)  # fmt: skip
        with open(os.path.join(base, "logs", "run.log"), "a", encoding="utf-8") as log:
            now = time.time()
            log.write(records.run_log_line(now, records.started_message(run_id, names)))
            executor = records.executor_message(str(witness["executor_line"]))
            log.write(records.run_log_line(now, executor))
        stage_records = dict(state.get("stages") or {})  # type: ignore[call-overload]
        for stage, check_s in zip(stages, checks, strict=True):
            name = str(stage["name"])
            fp = stage["fingerprint"]
            emit("stage_skipped", name, UP_TO_DATE, check_s=round(check_s, 6), fingerprint=fp)
            stage_records[name] = records.skipped_record(check_s, fp, run_id)  # type: ignore[arg-type]
        body = dict(state)
        body.update(run_id=run_id, status="completed", started=started, stages=stage_records)
        body["finished"] = time.time()
        state_path = os.path.join(base, "checkpoints", "run_state.json")
        os.makedirs(os.path.dirname(state_path), exist_ok=True)
        # a run that ran no stage: atomic, without fsync (as the full path writes it)
        records.write_atomic(state_path, records.state_text(body).encode(), durable=False)
        emit("run_completed", None, f"0 ran, {len(names)} skipped")
    stamp = dict(witness["stamp"])  # type: ignore[call-overload]
    stamp.update(run_id=run_id, started_at=records.iso(started))
    records.end_stamp(stamp, records.iso(time.time()), "completed")
    stamp["code_version"] = git.result(__version__)
    text = records.stamp_text(stamp).encode()
    records.write_atomic(os.path.join(run_dir, records.STAMP_FILE), text, durable=False)
    note = retention_text(run_dir, base, int(witness["retention_days"]), "FILE")  # type: ignore[call-overload]
    records.write_atomic(os.path.join(run_dir, RETENTION_FILE), note.encode(), durable=False)
    return run_id


def _interrupted(signum: int, frame: object) -> None:
    name = {2: "SIGINT", 15: "SIGTERM"}.get(signum, str(signum))
    try:
        os.write(2, f"\ninterrupted ({name}): rerun to resume\n".encode())
    finally:
        os._exit(128 + signum)


def try_noop(argv: list[str]) -> int | None:
    """Run ``argv`` through the fast door when it is a plain ``pipeline --config FILE`` whose
    witness holds: the exit code (0); None when the full path must run (nothing was written,
    or a write failed part-way, which the full path then meets and reports)."""
    config = plain_config(argv)
    if config is None:
        return None
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _interrupted)
    try:
        witness = load_witness(config)
    except Doubt:
        return None
    git = _Git(os.path.dirname(str(witness["config_path"])))  # runs beside the stat walk
    try:
        try:
            checks, state, fd, started = verify(witness)
        except Doubt:
            return None
        try:
            run_id = record(witness, checks, state, started, git)
        except OSError:
            return None
        finally:
            _unlock(fd)
    finally:
        git.close()
    sys.stderr.write(records.ok_line(0, len(checks), run_id))
    return 0
