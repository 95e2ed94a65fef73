"""Progress display: Rich bars on a TTY, plain lines otherwise (rate-limited), testable clock.

Example:
    >>> display = ProgressDisplay(enabled=False, stream=None)
    >>> for _ in track(range(3), display, desc="items"):
    ...     pass
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Sized
from types import EllipsisType
from typing import IO, Any, TypeVar

T = TypeVar("T")


def _plain(text: str) -> str:
    """``text`` escaped for Rich: a name in brackets (``[wip]proj``) is shown, not styled."""
    from rich.markup import escape

    return escape(text)


class ProgressTask:
    """One bar. ``completed``/``total`` are read by the engine for the interrupt message."""

    def __init__(self, display: ProgressDisplay, total: int | None, desc: str) -> None:
        self.display = display
        self.total = total
        self.desc = desc
        self.completed = 0
        self._rich_id: Any = None
        self._last_line = -1e18

    def advance(self, n: int = 1) -> None:
        self.completed += n
        self.display._changed(self)

    def update(
        self,
        *,
        completed: int | None = None,
        total: int | None = None,
        description: str | None = None,
    ) -> None:
        if completed is not None:
            self.completed = completed
        if total is not None:
            self.total = total
        if description is not None:
            self.desc = description
        self.display._changed(self)


class ProgressDisplay:
    """Owns the bars of a run.

    Args:
        enabled: draw Rich bars; ``None`` = when ``stream`` is a TTY.
        stream: where plain lines go (``sys.stderr`` as it is when the display is made, by
            default; None with ``enabled=False`` = silent).
        clock: monotonic clock (injectable for tests).
        interval_s: minimum seconds between two plain lines of one task.
    """

    def __init__(
        self,
        *,
        enabled: bool | None = None,
        stream: IO[str] | EllipsisType | None = ...,
        clock: Callable[[], float] = time.monotonic,
        interval_s: float = 5.0,
    ) -> None:
        # not ``= sys.stderr`` in the signature: that binds the stream of the import, which a
        # host (a notebook, a test capture) may have replaced and closed since
        stream = sys.stderr if stream is ... else stream
        if enabled is None:
            enabled = bool(stream is not None and getattr(stream, "isatty", lambda: False)())
        self.enabled = enabled
        self.stream = stream
        self.clock = clock
        self.interval_s = interval_s
        self._rich: Any = None
        self.tasks: list[ProgressTask] = []

    def task(self, total: int | None, desc: str, completed: int = 0) -> ProgressTask:
        """Start a bar; ``completed``: items done before it (a resumed stage's), so its first
        line counts on from them ("2/3", not "0/3" then "3/3")."""
        task = ProgressTask(self, total, desc)
        task.completed = completed
        self.tasks.append(task)
        if self.enabled:
            if self._rich is None:
                from rich.progress import Progress

                self._rich = Progress(transient=False)
                self._rich.start()
            # a description names the user's repositories and items: shown as written, not markup
            task._rich_id = self._rich.add_task(_plain(desc), total=total, completed=completed)
        else:
            self._changed(task)  # a plain "desc: 0/N" line: the work and its size are visible
        return task

    def _changed(self, task: ProgressTask) -> None:
        if self._rich is not None and task._rich_id is not None:
            self._rich.update(
                task._rich_id,
                completed=task.completed,
                total=task.total,
                description=_plain(task.desc),
            )
            return
        if self.stream is None:
            return
        now = self.clock()
        done = task.total is not None and task.completed >= task.total
        if now - task._last_line >= self.interval_s or done:
            task._last_line = now
            of = f"/{task.total}" if task.total is not None else ""
            try:
                self.stream.write(f"  {task.desc}: {task.completed}{of}\n")
                self.stream.flush()
            except (OSError, ValueError):
                pass

    def close(self) -> None:
        """Stop drawing."""
        if self._rich is not None:
            self._rich.stop()
            self._rich = None


def track(
    items: Iterable[T], display: Any, *, desc: str = "", total: int | None = None
) -> Iterator[T]:
    """Yield ``items`` while advancing a bar; ``display`` is a :class:`ProgressDisplay` or a
    stage context (anything with ``progress(total, desc)``)."""
    if total is None and isinstance(items, Sized):
        total = len(items)
    handle = (
        display.task(total, desc) if hasattr(display, "task") else display.progress(total, desc)
    )
    for item in items:
        yield item
        handle.advance(1)


def interrupt_note(
    tasks: Sequence[ProgressTask],
    summary: Mapping[str, Any],
    checkpoint: tuple[str, int] | None = None,
    stage: str = "",
) -> str:
    """What an interrupted stage had done and what is left, for ``interrupted: rerun to
    resume (...)``.

    A bar that was cut is named with its count; when every bar had finished, the stage was cut
    in a later step (training, writing outputs), and the note says so instead of a misleading
    "3/3 items done". The last checkpoint saved, if any, is where training resumes (one at
    step 0 resumes nothing: training starts afresh). A bar is named unless its name is
    ``items`` or the stage's own.
    """
    parts: list[str] = []
    done, total = summary.get("done"), summary.get("total")
    cut = [t for t in tasks if t.total is None or t.completed < t.total]
    if cut:
        sized = [t for t in cut if t.total is not None]
        # several bars cut at once (one per repository): each is named, the busiest first
        shown = (
            sorted(sized, key=lambda t: -t.completed)[:3]
            if len(sized) > 1
            else [(sized or cut)[-1]]
        )
        counts = []
        for task in shown:
            name = "" if task.desc in ("", "items", stage) else f"{task.desc}: "
            of = f"/{task.total}" if task.total is not None else ""
            counts.append(f"{name}{task.completed}{of}")
        more = f" and {len(sized) - 3} more" if len(sized) > 3 else ""
        parts.append(f"{', '.join(counts)}{more} items done")
    elif isinstance(done, int) and isinstance(total, int) and done < total:
        parts.append(f"{done}/{total} items done")
    elif tasks:
        finished = ", ".join(f"{t.desc} {t.completed}/{t.total}" for t in tasks[-2:])
        parts.append(f"{finished} done; cut in a later step of the stage")
    elif done is not None:
        parts.append(f"{done} items done; the stage is not finished")
    if checkpoint is not None:
        parts.append(checkpoint_phrase(checkpoint[0], checkpoint[1], stage))
    return f" ({'; '.join(parts)})" if parts else ""


def checkpoint_owner(name: str, stage: str) -> str:
    """Whose checkpoint ``name`` is, in words: one named ``train`` (or as the stage) is the
    stage's training, not a stage of that name ("[STOP] sft_stage1: interrupted (train
    resumes ...)" read as another stage)."""
    return "the training" if name in ("train", stage) else name


def checkpoint_phrase(name: str, step: int, stage: str) -> str:
    """Where the training of checkpoint ``name`` resumes, last saved at ``step``:
    ``the training resumes from its checkpoint at step 3``, or, at step 0 (stopped before its
    first step: nothing to resume), ``... starts afresh (...)``."""
    what = checkpoint_owner(name, stage)
    if step > 0:
        return f"{what} resumes from its checkpoint at step {step}"
    return f"{what} starts afresh (stopped before its first training step)"
