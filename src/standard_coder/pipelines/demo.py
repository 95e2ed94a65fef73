"""``standard-coder demo``: the whole flagship pipeline on an embedded default.

A small simulated team (real git repositories written by the simulator, with the true coding
time of every commit beside them), a ``pipeline_config.toml`` the user can inspect, edit and rerun
with ``pipeline --config``, example sprint inputs whose tickets partly carry diffs and commit ids
(so the trained SCH model is really used), then ``mine -> train_sch -> team_output -> forecast``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from standard_coder.pipelines.wiring import refuse_other_pipeline
from standard_coder.runner.atomic import atomic_write_text
from standard_coder.runner.console import say_warning

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoSize:
    """How big the simulated team and the training are."""

    authors: int
    weeks: int
    repos: int
    hmm_epochs: int
    label_samples: int
    min_commits_per_author: int
    train_epochs: int
    n_sims: int


SIZES: dict[str, DemoSize] = {
    "tiny": DemoSize(
        authors=3,
        weeks=5,
        repos=2,
        hmm_epochs=40,
        label_samples=40,
        min_commits_per_author=30,
        train_epochs=30,
        n_sims=2000,
    ),
    "default": DemoSize(
        authors=5,
        weeks=16,
        repos=3,
        hmm_epochs=400,
        label_samples=200,
        min_commits_per_author=50,
        train_epochs=60,
        n_sims=10_000,
    ),
}

SEED = 2019  # the paper's year: the demo is the same on every machine


def config_text(size: DemoSize, size_name: str) -> str:
    """The demo's ``pipeline_config.toml`` (only what differs from the defaults)."""
    return f"""\
# Standard Coder demo ({size_name}): written by `standard-coder demo`.
# Edit it and rerun:  standard-coder pipeline --config pipeline_config.toml
# Every other key keeps its default: `standard-coder init-config` writes them all, commented.

[outputs]
base_dir = "sc-output"

[runner]
seed = {SEED}
workers = 2

[repos]
include_paths = ["repos/*"]

[training]
truth_path = "repos/truth.json"
label_samples_per_commit = {size.label_samples}
min_commits_per_author = {size.min_commits_per_author}

[training.hmm]
epochs = {size.hmm_epochs}

[training.optim]
epochs = {size.train_epochs}

[forecasting]
sprint_inputs_path = "sprint_inputs.json"
historical_outcomes_path = "historical_outcomes.json"
n_sims = {size.n_sims}
"""


def _last_commit_ids(truth_path: Path, n: int) -> list[str]:
    """The ids of the ``n`` newest commits of a ``truth.json``, in ``load_truth``'s order
    (authored_at, author, commit id), read as plain JSON: a demo rerun imports no numpy."""
    doc = json.loads(truth_path.read_text(encoding="utf-8"))
    order = sorted((c["authored_at"], c["author"], c["commit_id"]) for c in doc["commits"])
    return [cid for _, _, cid in order[-n:]]


def _sprint_inputs(truth_path: Path) -> str:
    """The example sprint, with one ticket pointing at real commits of the simulated team."""
    data = json.loads(
        resources.files("standard_coder.pipelines.demo_data")
        .joinpath("sprint_inputs.json")
        .read_text(encoding="utf-8")
    )
    ids = _last_commit_ids(truth_path, 2)
    for ticket in data["tickets"]:
        if ticket.get("commit_ids"):
            ticket["commit_ids"] = ids
    return json.dumps(data, indent=2) + "\n"


def prepare(out_dir: Path, size_name: str, size: DemoSize | None = None) -> Path:
    """Simulate the team (once per size) and write the config and inputs; return the config.

    ``size`` overrides :data:`SIZES` (``size_name`` then only names it, e.g. the chaos
    benchmark's smaller team)."""
    size = size or SIZES[size_name]
    refuse_other_pipeline(out_dir / "pipeline_config.toml", "sch")  # before simulating anything
    out_dir.mkdir(parents=True, exist_ok=True)
    repos = out_dir / "repos"
    marker = repos / "SIMULATED.json"
    spec = {"size": size_name, "seed": SEED, **size.__dict__}
    if not marker.exists() or json.loads(marker.read_text()) != spec:
        from standard_coder.sch.teamsim.team import TeamSpec, simulate_team

        if marker.exists():  # simulated by us at another size: simulate afresh
            shutil.rmtree(repos)
        team = TeamSpec(n_authors=size.authors, weeks=size.weeks, n_repos=size.repos)
        simulate_team(repos, team, seed=SEED)
        atomic_write_text(marker, json.dumps(spec, sort_keys=True))
    files = {
        "pipeline_config.toml": config_text(size, size_name),
        "sprint_inputs.json": _sprint_inputs(repos / "truth.json"),
        "historical_outcomes.json": resources.files("standard_coder.pipelines.demo_data")
        .joinpath("historical_outcomes.json")
        .read_text(encoding="utf-8"),
    }
    written = out_dir / ".demo-written.json"  # digests of what the demo wrote last time
    try:
        last: dict[str, str] = json.loads(written.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        last = {}
    before = dict(last)
    for name, text in files.items():
        path = out_dir / name
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue  # unchanged files keep their mtime: reruns skip
        if current is not None and _digest(current) != last.get(name, _digest(current)):
            say_warning(f"{path} was edited by hand; keeping it (delete it to get the demo's)", log)
            continue
        atomic_write_text(path, text)
        last[name] = _digest(text)
    if last != before or not written.exists():  # a rerun writes nothing (and syncs nothing)
        atomic_write_text(written, json.dumps(last, sort_keys=True))
    return out_dir / "pipeline_config.toml"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def summary(base_dir: Path, elapsed_s: float) -> dict[str, Any]:
    """Key figures of a finished demo run (:func:`standard_coder.pipelines.sch_summary.summary`)."""
    from standard_coder.pipelines.sch_summary import summary as run_summary

    return run_summary(base_dir, elapsed_s)
