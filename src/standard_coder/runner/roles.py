"""Which stages a data or training target runs, derived from a pipeline's stage graph.

The Make targets (``download-data``, ``preprocess-data``, ``train`` ...) are thin calls of
``standard-coder pipeline --stages/--from/--to``; the stage names come from here, so a new
pipeline gets its targets without anyone listing its stages by hand. The rule, in canonical order:

- ``train``: the device-sensitive stages (they run a model on the selected device: training,
  evaluation, inference with the trained model).
- ``data``: the stages that are not device-sensitive and that some ``train`` stage depends on,
  directly or transitively (they acquire and shape the data the model reads).
- ``download``: the ``data`` stages with no dependency (they read from outside the pipeline).
- ``preprocess``: the other ``data`` stages.
- ``other``: whatever is left (steps after the model, e.g. a forecast that reads files the
  user gives; every stage of a pipeline that never touches a device).

"Depends on" follows ``deps`` (what runs first), not ``Stage.reads`` (which of their outputs
are inputs): a stage a training stage waits for is data whatever part of it the stage reads.

A stage that sets :attr:`Stage.role <standard_coder.runner.stage.Stage.role>` (``data``,
``train`` or ``other``) is taken at its word; the rule places only the others.
"""

from __future__ import annotations

from collections.abc import Sequence

from standard_coder.runner.stage import Stage

ROLES = ("download", "preprocess", "data", "train", "other")
"""Role names, in the order ``standard-coder stages`` prints them."""


def stage_roles(stages: Sequence[Stage]) -> dict[str, list[str]]:
    """Role -> stage names (canonical order) for ``stages`` (a pipeline's, in canonical order)."""
    by_name = {s.name: s for s in stages}

    train = [s.name for s in stages if s.role == "train" or (s.role is None and s.device_sensitive)]
    needed: set[str] = set()
    todo = [d for name in train for d in by_name[name].deps]
    while todo:
        name = todo.pop()
        if name in needed or name not in by_name:
            continue
        needed.add(name)
        todo.extend(by_name[name].deps)
    data = [
        s.name
        for s in stages
        if s.role == "data" or (s.role is None and s.name in needed and not s.device_sensitive)
    ]
    download = [n for n in data if not by_name[n].deps]
    preprocess = [n for n in data if by_name[n].deps]
    taken = set(data) | set(train)
    other = [s.name for s in stages if s.name not in taken]
    return {
        "download": download,
        "preprocess": preprocess,
        "data": data,
        "train": train,
        "other": other,
    }
