"""Which training checkpoint a resume will load, found without torch.

:class:`~standard_coder.runner.checkpoint.Checkpointer` keeps ``ckpt-<step>.pt`` files and a
``latest`` pointer (JSON: each kept file's name, step and sha256) in one folder; its
``load_latest`` tries the pointer's files newest first and takes the first whose sha256 matches.
:func:`check_checkpoints` makes the same choice from the pointer and the files' bytes alone, so
a note printed before the stage runs (``the training resumes from its checkpoint at step 4``)
names the step that will load, not only the one the interrupted run saved last.

    >>> check_checkpoints(Path("out/checkpoints/train/train"), fp)  # doctest: +SKIP
    CheckpointCheck(step=4, why={6: 'fails its sha256 check'})
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from standard_coder.runner.jsonfile import read_json_object_or_none

__all__ = ["POINTER_NAME", "CheckpointCheck", "check_checkpoints"]

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


def _problem(path: Path, digest: str) -> str | None:
    """Why the file at ``path`` is not the checkpoint of sha256 ``digest``, or None."""
    try:
        st = path.stat()
        key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
        if key not in _DIGESTS:
            sha = hashlib.sha256()
            with path.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    sha.update(block)
            _DIGESTS[key] = sha.hexdigest()
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
    pointer = read_json_object_or_none(Path(directory) / POINTER_NAME)
    if pointer is None or pointer.get("fingerprint", "") != fingerprint:
        return None
    entries = pointer.get("checkpoints")
    if not isinstance(entries, list) or not all(
        isinstance(e, dict)
        and isinstance(e.get("file"), str)
        and isinstance(e.get("step"), int)
        and isinstance(e.get("sha256"), str)
        for e in entries
    ):
        return None
    why: dict[int, str] = {}
    for entry in sorted(entries, key=lambda e: int(e["step"]), reverse=True):
        problem = _problem(Path(directory) / entry["file"], entry["sha256"])
        if problem is None:
            return CheckpointCheck(int(entry["step"]), why)
        why[int(entry["step"])] = problem
    return CheckpointCheck(None, why)
