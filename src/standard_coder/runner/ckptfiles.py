"""Which training checkpoint a resume will load, found without torch.

:class:`~standard_coder.runner.checkpoint.Checkpointer` keeps ``ckpt-<step>.pt`` files and a
``latest`` pointer (JSON: each kept file's name, step and sha256) in one folder; its
``load_latest`` tries the pointer's files newest first and takes the first whose sha256 matches.
:func:`check_checkpoints` makes the same choice from the pointer and the files' bytes alone, so
a note printed before the stage runs (``the training resumes from its checkpoint at step 4``)
names the step that will load, not only the one the interrupted run saved last. Both read the
pointer through :func:`read_pointer`, so they agree on which pointer is usable.

    >>> check_checkpoints(Path("out/checkpoints/train/train"), fp)  # doctest: +SKIP
    CheckpointCheck(step=4, why={6: 'fails its sha256 check'})
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from standard_coder.runner.hashcache import sha256_file
from standard_coder.runner.jsonfile import JsonFileError, parse_json_object

__all__ = [
    "POINTER_NAME",
    "CheckpointCheck",
    "PointerUnusable",
    "check_checkpoints",
    "read_pointer",
]

POINTER_NAME = "latest"

_DIGESTS: dict[tuple[str, int, int, int], str] = {}
"""sha256 of checkpoint files read in this process, by (path, inode, size, mtime_ns): a run
asks twice (whether the stage is unfinished, then its note) and hashes once."""


@dataclass(frozen=True)
class CheckpointCheck:
    """The newest intact checkpoint's step (None: none is intact) and why each newer one is
    passed over (``{6: "fails its sha256 check"}``)."""

    step: int | None
    why: dict[int, str] = field(default_factory=dict)


class PointerUnusable(ValueError):
    """The ``latest`` pointer is there but cannot be used; the message is why, in words
    (``unreadable (not valid JSON (it ends too early))``, ``malformed``)."""


def _entry_ok(entry: object) -> bool:
    if not isinstance(entry, dict):
        return False
    step = entry.get("step")
    return (
        isinstance(entry.get("file"), str)
        and isinstance(step, int)
        and not isinstance(step, bool)
        and isinstance(entry.get("sha256"), str)
    )


def read_pointer(directory: Path) -> dict[str, Any] | None:
    """The ``latest`` pointer of ``directory`` as written (``fingerprint``, ``checkpoints``:
    each ``{"file": str, "step": int, "sha256": str}``), or None when there is none.

    Raises:
        PointerUnusable: the pointer cannot be read, is not a JSON object, or an entry of its
            ``checkpoints`` lacks a key or has another type.
    """
    path = Path(directory) / POINTER_NAME
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise PointerUnusable(f"unreadable ({exc.strerror or type(exc).__name__})") from None
    try:
        doc = parse_json_object(data, "checkpoint pointer")
    except JsonFileError as exc:
        raise PointerUnusable(f"unreadable ({exc})") from None
    entries = doc.get("checkpoints")
    if not isinstance(entries, list) or not all(_entry_ok(e) for e in entries):
        raise PointerUnusable("malformed")
    return doc


def _problem(path: Path, digest: str) -> str | None:
    """Why the file at ``path`` is not the checkpoint of sha256 ``digest``, or None."""
    try:
        st = path.stat()
        key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
        if key not in _DIGESTS:
            _DIGESTS[key] = sha256_file(path)
    except FileNotFoundError:
        return "is missing"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or type(exc).__name__})"
    return None if _DIGESTS[key] == digest else "fails its sha256 check"


def check_checkpoints(directory: Path, fingerprint: str) -> CheckpointCheck | None:
    """The checkpoint ``Checkpointer(directory, fingerprint=fingerprint).load_latest()`` would
    return, as its step, or None when that cannot be told without loading: no readable
    ``latest`` pointer (the loader then tries the files themselves), or one of another
    fingerprint (the loader refuses them all)."""
    try:
        pointer = read_pointer(directory)
    except PointerUnusable:
        return None
    if pointer is None or pointer.get("fingerprint", "") != fingerprint:
        return None
    why: dict[int, str] = {}
    for entry in sorted(pointer["checkpoints"], key=lambda e: int(e["step"]), reverse=True):
        problem = _problem(Path(directory) / entry["file"], entry["sha256"])
        if problem is None:
            return CheckpointCheck(int(entry["step"]), why)
        why[int(entry["step"])] = problem
    return CheckpointCheck(None, why)
