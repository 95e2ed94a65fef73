"""The run cache around one stage: restore its outputs before it would run, store them after it
completed (:mod:`~standard_coder.runner.runcache` holds the stores).

Events: ``cache_pulled`` (``source``: local or remote) when a stage's outputs were restored
instead of running it, ``cache_pushed`` (``to``: local, or local+remote) after a completed stage
was stored, ``cache_corrupt`` when a stored object or entry failed its check (the stage runs).
A cache that cannot be reached never fails a stage: a warning, and the stage runs.
"""

from __future__ import annotations

import logging
from typing import Any

from standard_coder.runner.definition import StageView
from standard_coder.runner.runcache import CacheCorrupt, LocalStore, RemoteStore, Restored
from standard_coder.runner.session import RunSession

log = logging.getLogger("standard_coder.runner")

__all__ = ["forget", "lookup", "restore", "store"]


def _outputs(view: StageView) -> list[tuple[str, Any]]:
    return [(o.name, o.path) for o in view.outputs]


def _remote(session: RunSession) -> RemoteStore | None:
    settings = session.pipeline.run_cache
    if settings is None or not settings.remote:
        return None
    return RemoteStore(settings.remote, settings.remote_options)


_THEN = {
    "pull": "stages run instead of restoring from it",
    "push": "results stay in the local cache only",
}
"""What a remote that fails one way means for the rest of the run."""


def _remote_problem(session: RunSession, name: str, said: str, kind: str) -> None:
    """Warn of a remote that cannot be used once per run and ``kind`` (``pull`` or ``push``:
    a read-only remote still restores), and give it up for that for the rest of the run
    (:func:`_given_up`: each try at an unreachable host waited its timeout, 15 s for SFTP,
    twice a stage)."""
    key = _problem_key(session, kind)
    if key in session.cache_said:
        log.debug("stage %s: %s", name, said)
        return
    session.cache_said.add(key)
    log.warning("stage %s: %s (said once this run: %s)", name, said, _THEN[kind])


def _problem_key(session: RunSession, kind: str) -> str:
    settings = session.pipeline.run_cache
    if settings is None:
        return kind
    return f"{kind} {settings.dir if kind == 'local' else settings.remote}"


def _given_up(session: RunSession, kind: str) -> bool:
    """Whether this run has given up the store for ``kind`` (``pull``, ``push`` or ``local``)
    after it failed once (:func:`_remote_problem`, :func:`_local_problem`)."""
    return _problem_key(session, kind) in session.cache_said


def _local_problem(session: RunSession, name: str, said: str) -> None:
    """Warn once per run that the local store cannot be used, and give it up for the run."""
    key = _problem_key(session, "local")
    if key in session.cache_said:
        log.debug("stage %s: %s", name, said)
        return
    session.cache_said.add(key)
    log.warning("stage %s: %s (said once this run: stages run and are not stored)", name, said)


def forget(session: RunSession, fingerprint: str) -> None:
    """Drop the local entry for ``fingerprint`` (its restored outputs did not check out)."""
    settings = session.pipeline.run_cache
    if settings is not None:
        LocalStore(settings.dir).entry_path(fingerprint).unlink(missing_ok=True)


def lookup(session: RunSession, name: str, fingerprint: str) -> tuple[str, str | None] | None:
    """Where an entry for stage ``name``'s ``fingerprint`` is (``local``/``remote``) and, when a
    restore would find it corrupt, why (else None); None when there is none. For ``status``:
    the entry is read and checked (:func:`~standard_coder.runner.runcache.check_entry`), the
    local objects it names are stat'ed, none is hashed, fetched, written or deleted."""
    settings = session.pipeline.run_cache
    if settings is None:
        return None
    from standard_coder.runner.runcache import inspect_entry

    names = [n for n, _ in _outputs(session.views[name])]
    local = LocalStore(settings.dir)
    try:
        entry = local.read_entry(fingerprint)
        if entry is not None:
            inspect_entry(entry, names, local)
            return "local", None
    except CacheCorrupt as exc:
        return "local", str(exc)
    except OSError as exc:  # unreadable: the restore would warn and run the stage
        return "local", f"cannot read it: {exc}"
    if _given_up(session, "pull"):
        return None
    try:
        remote = _remote(session)
        entry = None if remote is None else remote.read_entry(fingerprint)
        if entry is not None:
            inspect_entry(entry, names)  # its objects are checked as they are pulled
            return "remote", None
    except CacheCorrupt as exc:
        return "remote", str(exc)
    except Exception as exc:  # unreachable remote: status still answers, and asks it no more
        _remote_problem(session, name, f"run cache (remote) unusable: {exc}", "pull")
    return None


def restore(session: RunSession, name: str, view: StageView, fingerprint: str) -> Restored | None:
    """Put the outputs stored for ``fingerprint`` in place; None when nothing usable is stored.

    The local store is asked first, then the remote: a local entry that fails its checksum is
    set aside and the remote's copy is pulled (it was thrown away with the local one)."""
    settings = session.pipeline.run_cache
    if settings is None or not view.outputs:
        return None
    from standard_coder.runner.runcache import unpack

    local = LocalStore(settings.dir)
    remote_after = "; trying the remote" if settings.remote else "; running the stage"
    if _given_up(session, "local"):
        return None
    try:
        entry = local.read_entry(fingerprint)
        if entry is not None:
            unpack(local, entry, _outputs(view))
            return Restored(entry, "local")
    except CacheCorrupt as exc:
        _corrupt(session, name, fingerprint, local, "local", f"{exc}{remote_after}")
    except Exception as exc:  # a full disk, an unreadable store: run the stage
        _local_problem(session, name, f"run cache (local) unusable: {exc}; running the stage")
        return None
    if _given_up(session, "pull"):
        return None
    try:
        remote = _remote(session)
        if remote is None:
            return None
        entry = remote.pull(local, fingerprint)
        if entry is None:
            return None
        unpack(local, entry, _outputs(view))
    except CacheCorrupt as exc:
        _corrupt(session, name, fingerprint, local, "remote", f"{exc}; running the stage")
        return None
    except Exception as exc:  # a remote that cannot be reached: run the stage
        _remote_problem(session, name, f"run cache (remote) unusable: {exc}; running the stage",
                        "pull")  # fmt: skip
        return None
    return Restored(entry, "remote")


def _corrupt(
    session: RunSession, name: str, fingerprint: str, local: LocalStore, source: str, said: str
) -> None:
    """Say a stored entry failed its checksum, and drop the local entry (rebuilt later)."""
    log.warning("stage %s: run cache: %s", name, said)
    session.emit("cache_corrupt", name, said, source=source, fingerprint=fingerprint)
    local.entry_path(fingerprint).unlink(missing_ok=True)


def store(
    session: RunSession,
    name: str,
    view: StageView,
    fingerprint: str,
    checksums: dict[str, str],
    summary: dict[str, Any],
    duration_s: float | None,
) -> None:
    """Store a completed stage's outputs locally, then push them to the remote (if any)."""
    settings = session.pipeline.run_cache
    if settings is None or not view.outputs:
        return
    from standard_coder.runner.runcache import pack

    local = LocalStore(settings.dir)
    if _given_up(session, "local"):
        return
    try:
        entry = pack(
            local,
            stage=name,
            fingerprint=fingerprint,
            outputs=_outputs(view),
            checksums=checksums,
            summary=summary,
            duration_s=duration_s,
        )
        if entry is None:
            entry = local.read_entry(fingerprint)
    except Exception as exc:
        _local_problem(session, name, f"run cache: cannot store the outputs: {exc}")
        return
    if entry is None:
        return
    to = "local"
    sent = 0
    try:
        remote = None if _given_up(session, "push") else _remote(session)
        if remote is not None:
            sent = remote.push(local, entry)  # objects missing there (or damaged) only
            to = "local+remote"
    except Exception as exc:
        _remote_problem(session, name, f"run cache: push to {settings.remote} failed: {exc}",
                        "push")  # fmt: skip
    session.emit(
        "cache_pushed",
        name,
        f"outputs stored ({to})",
        to=to,
        objects_sent=sent,
        fingerprint=fingerprint,
    )
