"""Exact training checkpoints: atomic files, a ``latest`` pointer, fallback, RNG capture.

A checkpoint is the one dict the training loop hands to ``save`` (nanoGPT's shape): typically
model, optimizer, step, every RNG state (:func:`capture_rng_state`) and, when the loop has them,
scheduler, GradScaler and sampler state; the runner stores what it is given. :class:`Checkpointer`
writes it as ``ckpt-<step:09d>.pt`` (temp file, fsync, rename, fsync folder), then replaces
the ``latest`` pointer (JSON: file names, steps and sha256 of the kept checkpoints), and keeps
the last ``keep`` files. The files are written by a background thread (one write in flight)
so training does not wait for the disk; the state is serialised before ``save`` returns.
Loading verifies the sha256 and falls back to the previous checkpoint when the newest is
damaged; a checkpoint written under another fingerprint is refused.

Everything is loaded with ``torch.load(..., weights_only=True)``: the saved dict may hold only
tensors, numbers, strings, None, and lists/tuples/dicts of those. :func:`capture_rng_state`
converts numpy and python RNG states to that form.

Example:
    >>> ckpt = Checkpointer(ctx.checkpoint_dir / "train", every_n_steps=50, fingerprint=fp)
    >>> state = ckpt.load_latest()
    >>> if state is not None:
    ...     model.load_state_dict(state["model"]); restore_rng_state(state["rng"], generators=gens)
    >>> for step in range(start + 1, total + 1):
    ...     train_one(step)
    ...     if ckpt.due(step) or ctx.should_stop():
    ...         ckpt.save({"model": model.state_dict(), "step": step,
    ...                    "rng": capture_rng_state(generators=gens)}, step)
"""

from __future__ import annotations

import hashlib
import io
import logging
import random
import re
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from standard_coder.runner.atomic import atomic_write_bytes, atomic_write_json
from standard_coder.runner.ckptfiles import POINTER_NAME, PointerUnusable, read_pointer

__all__ = [
    "CHECKPOINT_FORMAT",
    "Checkpointer",
    "capture_rng_state",
    "restore_rng_state",
]

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "standard-coder-checkpoint"
CHECKPOINT_VERSION = 1
_FILE_RE = re.compile(r"^ckpt-(\d{9,})\.pt$")

RngGenerator = torch.Generator | np.random.Generator


# --------------------------------------------------------------------------------------------
# RNG state
# --------------------------------------------------------------------------------------------
def _np_to_safe(obj: Any) -> Any:
    """numpy values inside a bit-generator state -> weights_only-loadable values."""
    if isinstance(obj, np.ndarray):
        return {"__ndarray__": obj.tolist(), "dtype": str(obj.dtype)}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {k: _np_to_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_np_to_safe(v) for v in obj]
    return obj


def _np_from_safe(obj: Any) -> Any:
    if isinstance(obj, dict):
        if "__ndarray__" in obj:
            return np.asarray(obj["__ndarray__"], dtype=np.dtype(obj["dtype"]))
        return {k: _np_from_safe(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_np_from_safe(v) for v in obj]
    return obj


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def capture_rng_state(*, generators: Mapping[str, RngGenerator] | None = None) -> dict[str, Any]:
    """Snapshot every RNG: python ``random``, numpy legacy, torch CPU, CUDA and MPS (when
    available), plus each named ``torch.Generator`` / ``np.random.Generator`` in ``generators``.

    Args:
        generators: explicit generators to include (e.g. the sampler's), by name.

    Returns:
        A dict of tensors, numbers, strings and lists, loadable with ``weights_only=True``.
    """
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)  # type: ignore[misc]
    state: dict[str, Any] = {
        "python": {"version": version, "internal": list(internal), "gauss_next": gauss},
        "numpy": {
            "name": str(name),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch_cpu": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["torch_cuda"] = list(torch.cuda.get_rng_state_all())
    if _mps_available():
        state["torch_mps"] = torch.mps.get_rng_state()
    named: dict[str, Any] = {}
    for key, gen in (generators or {}).items():
        if isinstance(gen, torch.Generator):
            named[key] = {"kind": "torch", "device": str(gen.device), "state": gen.get_state()}
        elif isinstance(gen, np.random.Generator):
            named[key] = {"kind": "numpy", "state": _np_to_safe(gen.bit_generator.state)}
        else:
            raise TypeError(f"generator {key!r}: unsupported type {type(gen).__name__}")
    state["generators"] = named
    return state


def restore_rng_state(
    state: Mapping[str, Any], *, generators: Mapping[str, RngGenerator] | None = None
) -> None:
    """Put back what :func:`capture_rng_state` captured (the inverse, in place).

    Device states that this machine lacks (CUDA, MPS) are skipped with a warning: the run then
    continues exactly on CPU but not on the missing device.

    Args:
        state: a dict from :func:`capture_rng_state` (possibly round-tripped through torch.save).
        generators: the live generators to restore, by the names used at capture.

    Raises:
        KeyError: a generator in ``generators`` has no saved state.
    """
    py = state["python"]
    random.setstate((int(py["version"]), tuple(int(x) for x in py["internal"]), py["gauss_next"]))
    npst = state["numpy"]
    np.random.set_state(
        (
            npst["name"],
            np.asarray(npst["keys"].numpy(), dtype=np.uint32),
            int(npst["pos"]),
            int(npst["has_gauss"]),
            float(npst["cached_gaussian"]),
        )
    )
    torch.set_rng_state(state["torch_cpu"])
    if "torch_cuda" in state:
        if torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["torch_cuda"])
        else:
            log.warning("checkpoint has CUDA RNG state but CUDA is not available; skipped")
    if "torch_mps" in state:
        if _mps_available():
            torch.mps.set_rng_state(state["torch_mps"])
        else:
            log.warning("checkpoint has MPS RNG state but MPS is not available; skipped")
    saved = state.get("generators", {})
    for key, gen in (generators or {}).items():
        if key not in saved:
            raise KeyError(f"no saved state for generator {key!r}")
        entry = saved[key]
        if isinstance(gen, torch.Generator):
            if entry["kind"] != "torch":
                raise TypeError(f"generator {key!r}: saved as {entry['kind']}, live is torch")
            gen.set_state(entry["state"])
        elif isinstance(gen, np.random.Generator):
            if entry["kind"] != "numpy":
                raise TypeError(f"generator {key!r}: saved as {entry['kind']}, live is numpy")
            gen.bit_generator.state = _np_from_safe(entry["state"])
        else:
            raise TypeError(f"generator {key!r}: unsupported type {type(gen).__name__}")


# --------------------------------------------------------------------------------------------
# Checkpointer
# --------------------------------------------------------------------------------------------
def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Checkpointer:
    """Save and restore training state exactly (see the module docstring).

    Args:
        directory: folder of ``ckpt-<step>.pt`` files and the ``latest`` pointer.
        every_n_steps: checkpoint period in global steps (0 disables :meth:`due`).
        keep: how many checkpoints to keep (>= 1; the default 2 allows one fallback).
        fingerprint: the stage fingerprint; a checkpoint saved under another is refused.
        on_save: called as ``on_save(path, step)`` once a checkpoint is on disk, in the
            caller's thread (e.g. to emit an event).
        background: write files in a writer thread (one at a time) so training does not wait
            for the disk; ``False`` writes inside :meth:`save`.

    Attributes:
        loaded_step: the step of the checkpoint :meth:`load_latest` returned, else None.
        loaded_path: its path, else None.
        saves: number of :meth:`save` calls so far.
        save_seconds: time :meth:`save` kept the caller waiting (the checkpoint overhead).
        write_seconds: time spent writing files (in the writer thread when ``background``).
    """

    def __init__(
        self,
        directory: Path,
        *,
        every_n_steps: int,
        keep: int = 2,
        fingerprint: str = "",
        on_save: Callable[[Path, int], None] | None = None,
        background: bool = True,
    ) -> None:
        if every_n_steps < 0:
            raise ValueError(f"every_n_steps must be >= 0, got {every_n_steps}")
        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        self.directory = Path(directory)
        self.every_n_steps = every_n_steps
        self.keep = keep
        self.fingerprint = fingerprint
        self.on_save = on_save
        self.loaded_step: int | None = None
        self.loaded_path: Path | None = None
        self.background = background
        self.saves = 0
        self.save_seconds = 0.0
        self.write_seconds = 0.0
        self._writer: threading.Thread | None = None
        self._pending: tuple[Path, int] | None = None
        self._error: BaseException | None = None
        self._swept = False

    # -- saving ------------------------------------------------------------------------------
    def due(self, step: int) -> bool:
        """True when ``step`` (1-based global step) is a multiple of ``every_n_steps``."""
        return self.every_n_steps > 0 and step > 0 and step % self.every_n_steps == 0

    def save(self, state: dict[str, Any], step: int) -> Path:
        """Checkpoint ``state`` as step ``step``: file first (atomic), then the ``latest`` pointer.

        The state is serialised before ``save`` returns, so later changes to the model cannot
        leak in. With ``background=True`` the file and pointer are written (and fsynced) by a
        writer thread while training goes on; the next ``save``, :meth:`wait`,
        :meth:`load_latest` or :meth:`close` waits for it. A crash during the write leaves the
        previous checkpoint in charge, exactly as with a synchronous save.

        Args:
            state: the checkpoint dict (weights_only-loadable values only).
            step: the global step it belongs to (its file is ``ckpt-<step:09d>.pt``).

        Returns:
            The checkpoint file's path (complete once the write finished).
        """
        if step < 0:
            raise ValueError(f"step must be >= 0, got {step}")
        started = time.perf_counter()
        self.wait()
        self._sweep_stale_temps()
        payload = {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "step": int(step),
            "fingerprint": self.fingerprint,
            "state": state,
        }
        buf = io.BytesIO()
        torch.save(payload, buf)
        data = buf.getvalue()
        path = self.directory / f"ckpt-{step:09d}.pt"
        self.saves += 1
        if self.background:
            self._pending = (path, int(step))
            self._error = None
            self._writer = threading.Thread(
                target=self._write_guarded, args=(path, int(step), data), name="checkpoint-writer"
            )
            self._writer.start()
            self.save_seconds += time.perf_counter() - started
            return path
        self._write(path, int(step), data)
        self.save_seconds += time.perf_counter() - started
        if self.on_save is not None:
            self.on_save(path, step)
        return path

    def _write_guarded(self, path: Path, step: int, data: bytes) -> None:
        try:
            self._write(path, step, data)
        except BaseException as exc:  # handed to the caller by wait()
            self._error = exc

    def _write(self, path: Path, step: int, data: bytes) -> None:
        started = time.perf_counter()
        atomic_write_bytes(path, data)
        entries = [e for e in self._read_pointer_entries() if e["step"] != step]
        entries.append({"file": path.name, "step": step, "sha256": _sha256(data)})
        entries.sort(key=lambda e: e["step"], reverse=True)
        entries = entries[: self.keep]
        atomic_write_json(
            self.directory / POINTER_NAME,
            {
                "format": CHECKPOINT_FORMAT,
                "fingerprint": self.fingerprint,
                "file": entries[0]["file"],
                "sha256": entries[0]["sha256"],
                "step": entries[0]["step"],
                "checkpoints": entries,
            },
        )
        self._prune({e["file"] for e in entries})
        self.write_seconds += time.perf_counter() - started

    def wait(self) -> None:
        """Block until the background write (if any) is on disk; then call ``on_save``.

        Raises:
            OSError: (or whatever the write raised) the last background write failed.
        """
        writer, pending = self._writer, self._pending
        if writer is None or pending is None:
            return
        writer.join()
        self._writer, self._pending = None, None
        error, self._error = self._error, None
        if error is not None:
            raise error
        if self.on_save is not None:
            self.on_save(*pending)

    def close(self) -> None:
        """Finish the pending write (same as :meth:`wait`)."""
        self.wait()

    def _prune(self, keep_files: set[str]) -> None:
        for p in self.directory.iterdir():
            if _FILE_RE.match(p.name) and p.name not in keep_files:
                p.unlink(missing_ok=True)

    def _sweep_stale_temps(self) -> None:
        """Delete temp files a killed writer left behind, once, before this instance writes.

        Never after a write: a temp file seen then may be another writer's file in flight.
        """
        if self._swept:
            return
        self._swept = True
        if not self.directory.is_dir():
            return
        for p in self.directory.iterdir():
            if p.name.startswith((".ckpt-", f".{POINTER_NAME}.")) and p.name.endswith(".tmp"):
                p.unlink(missing_ok=True)

    # -- loading -----------------------------------------------------------------------------
    def _read_pointer(self) -> dict[str, Any] | None:
        """The ``latest`` pointer, read as the resume note reads it
        (:func:`~standard_coder.runner.ckptfiles.read_pointer`); None when there is none, or,
        with a warning, when it cannot be used (the files are scanned instead)."""
        try:
            return read_pointer(self.directory)
        except PointerUnusable as exc:
            pointer = self.directory / POINTER_NAME
            log.warning("checkpoint pointer %s %s; scanning files", pointer, exc)
            return None

    def _read_pointer_entries(self) -> list[dict[str, Any]]:
        """The pointer's entries when they belong to this fingerprint (others are dropped)."""
        obj = self._read_pointer()
        if obj is None:
            return []
        if obj.get("fingerprint", "") != self.fingerprint:
            log.warning(
                "replacing checkpoints of fingerprint %s in %s",
                obj.get("fingerprint"),
                self.directory,
            )
            return []
        return list(obj["checkpoints"])

    def checkpoint_files(self) -> list[Path]:
        """Checkpoint files on disk, newest step first."""
        if not self.directory.is_dir():
            return []
        found = [p for p in self.directory.iterdir() if _FILE_RE.match(p.name)]
        return sorted(found, key=lambda p: int(_FILE_RE.match(p.name).group(1)), reverse=True)  # type: ignore[union-attr]

    def load_latest(self, *, map_location: str | torch.device = "cpu") -> dict[str, Any] | None:
        """The newest intact checkpoint's state, or None.

        Candidates come from the ``latest`` pointer (sha256 verified), or, when the pointer is
        missing or unreadable, from the files on disk (newest first). A damaged candidate is
        skipped with a warning. A checkpoint saved under another fingerprint is refused:
        None is returned with a warning, never a mix of old and new work.
        """
        self.wait()
        self.loaded_step = None
        self.loaded_path = None
        pointer = self._read_pointer()
        if pointer is not None:
            if pointer.get("fingerprint", "") != self.fingerprint:
                log.warning(
                    "checkpoints in %s belong to fingerprint %s, not %s; refusing them",
                    self.directory,
                    pointer.get("fingerprint"),
                    self.fingerprint,
                )
                return None
            candidates: list[tuple[Path, str | None]] = [
                (self.directory / str(e["file"]), str(e["sha256"]))
                for e in sorted(pointer["checkpoints"], key=lambda e: e["step"], reverse=True)
            ]
        else:
            candidates = [(p, None) for p in self.checkpoint_files()]
        for path, digest in candidates:
            payload = self._load_file(path, digest, map_location)
            if payload is None:
                continue
            if payload.get("fingerprint", "") != self.fingerprint:
                log.warning(
                    "checkpoint %s has fingerprint %s, not %s; refusing it",
                    path,
                    payload.get("fingerprint"),
                    self.fingerprint,
                )
                return None
            self.loaded_step = int(payload["step"])
            self.loaded_path = path
            state: dict[str, Any] = payload["state"]
            return state
        return None

    def _load_file(
        self, path: Path, digest: str | None, map_location: str | torch.device
    ) -> dict[str, Any] | None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            log.warning("checkpoint %s unreadable (%s); trying the previous one", path, exc)
            return None
        if digest is not None and _sha256(data) != digest:
            log.warning("checkpoint %s fails its sha256 check; trying the previous one", path)
            return None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                payload = torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
        except Exception as exc:  # torch raises many types for a damaged file
            log.warning("checkpoint %s cannot be loaded (%s); trying the previous one", path, exc)
            return None
        if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
            log.warning("checkpoint %s is not a %s file; skipped", path, CHECKPOINT_FORMAT)
            return None
        return payload
