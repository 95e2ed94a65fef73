"""Which stages a config key reaches: the stages whose params change when one ``--set`` is given."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def stages_whose_params_change(
    build: Callable[[Path, Sequence[str]], Any], config: Path, change: str
) -> set[str]:
    """The names of the stages of ``build(config, ...)`` whose params differ with ``change``."""

    def params(overrides: list[str]) -> dict[str, str]:
        pipe = build(config, overrides)
        return {s.name: json.dumps(dict(s.params), sort_keys=True) for s in pipe.stages}

    before, after = params([]), params([change])
    return {name for name in before if before[name] != after[name]}
