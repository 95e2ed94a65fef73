"""The stage context: ledger resume across an interrupt, checkpoints, corrupt ledger."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from standard_coder.runner.engine import run_pipeline
from standard_coder.runner.events import MemorySink
from standard_coder.runner.progress import ProgressDisplay
from standard_coder.runner.stage import Pipeline, Stage
from standard_coder.runner.stoptoken import StopToken

pytestmark = pytest.mark.integration

WORK: Counter[str] = Counter()


def square(x: int) -> int:
    return x * x


def _make(root: Path, run: Any, n: int = 20) -> Pipeline:
    out = root / "out.json"
    stage = Stage(name="items", run=run, params={"n": n}, outputs=(out,))
    return Pipeline(name="ctx", stages=[stage], base_dir=root / "state", seed=7)


def _items_stage(stop_after: int | None) -> Any:
    def run(ctx: Any) -> None:
        ledger = ctx.ledger("squares")
        todo = [i for i in range(ctx.params["n"]) if not ledger.is_done(str(i), "k")]
        ctx.set_summary(total=ctx.params["n"])
        done = ctx.params["n"] - len(todo)  # an earlier, stopped run's items
        for item, result in ctx.map(square, todo, desc="squares", done=done):
            ledger.mark_done(str(item), "k", result)
            WORK["done"] += 1
            ctx.set_summary(done=len(ledger))
            if stop_after is not None and len(ledger) == stop_after:
                ctx._stop.request(2)
        if ctx.should_stop():
            return
        results = {item_id: res for item_id, _, res in ledger.items()}
        (ctx.base_dir.parent / "out.json").write_text(json.dumps(results, sort_keys=True))

    return run


def _run(pipe: Pipeline, stream: io.StringIO | None = None) -> tuple[Any, MemorySink]:
    sink = MemorySink()
    res = run_pipeline(
        pipe,
        sinks=[sink],
        install_signals=False,
        stop=StopToken(),
        progress=ProgressDisplay(enabled=False, stream=stream, clock=lambda: 0.0),
    )
    return res, sink


def test_interrupted_map_resumes_from_the_ledger(tmp_path: Path) -> None:
    WORK.clear()
    res, _sink = _run(_make(tmp_path, _items_stage(stop_after=8)))
    assert res.exit_code == 130
    assert res.message == "interrupted: rerun to resume (squares: 8/20 items done)"
    assert (tmp_path / "state" / "checkpoints" / "items" / "squares.ledger.sqlite").exists()
    res, _ = _run(_make(tmp_path, _items_stage(stop_after=None)))
    assert res.exit_code == 0
    assert WORK["done"] == 20  # 8 before the interrupt, only the 12 missing after it
    out = json.loads((tmp_path / "out.json").read_text())
    assert out == {str(i): i * i for i in range(20)}


def test_a_resumed_maps_progress_counts_on_from_the_items_done(tmp_path: Path) -> None:
    """vcrpy: "[resume] ... (2/3 items done)" was followed by "work inference (hmm): 0/3"."""
    _run(_make(tmp_path, _items_stage(stop_after=8)))
    shown = io.StringIO()
    res, _ = _run(_make(tmp_path, _items_stage(stop_after=None)), shown)
    assert res.exit_code == 0
    lines = shown.getvalue().splitlines()
    assert lines[0] == "  squares: 8/20" and lines[-1] == "  squares: 20/20", lines


def test_param_change_sets_ledger_aside(tmp_path: Path) -> None:
    WORK.clear()
    _run(_make(tmp_path, _items_stage(stop_after=5)))
    res, sink = _run(_make(tmp_path, _items_stage(stop_after=None), n=10))
    assert res.exit_code == 0 and WORK["done"] == 15  # nothing reused from the other params
    assert "partial_work_stale" in sink.names()


def test_corrupt_ledger_is_quarantined_and_redone(tmp_path: Path) -> None:
    WORK.clear()
    _run(_make(tmp_path, _items_stage(stop_after=5)))
    ledger = tmp_path / "state" / "checkpoints" / "items" / "squares.ledger.sqlite"
    for side in ("-wal", "-shm"):
        Path(str(ledger) + side).unlink(missing_ok=True)
    ledger.write_bytes(b"garbage" * 100)
    res, sink = _run(_make(tmp_path, _items_stage(stop_after=None)))
    assert res.exit_code == 0 and "state_corrupt" in sink.names()
    assert WORK["done"] == 25
    assert any((tmp_path / "state" / "quarantine").iterdir())


def test_checkpointer_emits_checkpoint_saved(tmp_path: Path) -> None:
    def train(ctx: Any) -> None:
        ckpt = ctx.checkpointer("model", every_n_steps=2)
        for step in range(1, 5):
            if ckpt.due(step):
                ckpt.save({"step": step}, step)
        assert ckpt.load_latest()["step"] == 4
        (ctx.base_dir.parent / "out.json").write_text("{}")

    res, sink = _run(_make(tmp_path, train))
    assert res.exit_code == 0
    saved = [e for e in sink.events if e["event"] == "checkpoint_saved"]
    assert [e["step"] for e in saved] == [2, 4] and saved[0]["stage"] == "items"
    assert (tmp_path / "state" / "checkpoints" / "items" / "model").is_dir()


def test_a_stage_reads_its_named_inputs_outputs_and_root(tmp_path: Path) -> None:
    """``ctx.inputs``/``ctx.outputs`` are the declared names; named paths join the stage's
    inputs and outputs (an upstream output named again counts once); ``ctx.root_dir`` is
    ``Pipeline.root``."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "words.txt").write_text("a b c\n")
    counted = project / "out" / "count.json"
    seen: dict[str, Any] = {}

    def count(ctx: Any) -> None:
        words = ctx.inputs["words"].read_text().split()
        ctx.outputs["count"].parent.mkdir(parents=True, exist_ok=True)
        ctx.outputs["count"].write_text(json.dumps({"n": len(words) * ctx.params["scale"]}))

    def report(ctx: Any) -> None:
        seen.update(inputs=dict(ctx.inputs), outputs=dict(ctx.outputs), root=ctx.root_dir)
        n = json.loads(ctx.inputs["count"].read_text())["n"]
        ctx.outputs["report"].write_text(f"{n}\n")

    stages = [
        Stage(
            name="count",
            run=count,
            params={"scale": 2},
            named_inputs={"words": project / "words.txt"},
            named_outputs={"count": counted},
        ),
        Stage(
            name="report",
            run=report,
            deps=("count",),
            named_inputs={"count": counted},
            named_outputs={"report": project / "out" / "report.txt"},
        ),
    ]
    assert stages[0].inputs == (project / "words.txt",)
    assert stages[1].inputs == (counted,) and stages[1].outputs == (project / "out/report.txt",)
    pipe = Pipeline(name="named", stages=stages, base_dir=tmp_path / "state", root=project)
    res, _ = _run(pipe)
    assert res.exit_code == 0
    assert (project / "out" / "report.txt").read_text() == "6\n"
    assert seen["root"] == project
    assert seen["inputs"] == {"count": counted}
    assert seen["outputs"] == {"report": project / "out" / "report.txt"}
    again, _ = _run(pipe)  # the named upstream output is one input: nothing changed, all skip
    assert [o.status for o in again.stages.values()] == ["skipped", "skipped"]


def _cadence_pipeline(root: Path, every: int, stop_at: int | None) -> Pipeline:
    """A 'training' of 12 steps whose result is the sum of its steps, saved every ``every``
    steps (``Stage.settings``); asked to stop after step ``stop_at``."""

    def train(ctx: Any) -> None:
        ckpt = ctx.checkpointer("model", every_n_steps=ctx.settings["every"])
        state = ckpt.load_latest() or {"step": 0, "total": 0}
        WORK["started_at"] = state["step"]
        for step in range(state["step"] + 1, ctx.params["steps"] + 1):
            state = {"step": step, "total": state["total"] + step}
            WORK["steps"] += 1
            if ckpt.due(step) or (stop_at is not None and step == stop_at):
                ckpt.save(state, step)
            if stop_at is not None and step == stop_at:
                ctx._stop.request(2)
            if ctx.should_stop():
                return
        (root / "out.json").write_text(json.dumps(state))

    stage = Stage(name="train", run=train, params={"steps": 12}, settings={"every": every},
                  outputs=(root / "out.json",))  # fmt: skip
    return Pipeline(name="cadence", stages=[stage], base_dir=root / "state", seed=7)


def test_a_setting_reruns_nothing_and_a_stopped_stage_resumes_under_its_new_value(
    tmp_path: Path,
) -> None:
    """``Stage.settings`` (a checkpoint cadence) is read as ``ctx.settings`` and is not in the
    fingerprint: changing it skips a finished stage, and a stage stopped part-way resumes its
    partial work under the new value, ending with the bytes of an uninterrupted run."""
    whole = tmp_path / "whole"
    whole.mkdir()
    assert _run(_cadence_pipeline(whole, every=4, stop_at=None))[0].exit_code == 0
    res, sink = _run(_cadence_pipeline(whole, every=5, stop_at=None))
    assert res.exit_code == 0 and res.stages["train"].status == "skipped"

    cut = tmp_path / "cut"
    cut.mkdir()
    assert _run(_cadence_pipeline(cut, every=4, stop_at=6))[0].exit_code == 130
    WORK.clear()
    res, sink = _run(_cadence_pipeline(cut, every=5, stop_at=None))
    assert res.exit_code == 0 and res.stages["train"].status == "completed"
    assert WORK["started_at"] == 6 and WORK["steps"] == 6  # resumed, not started over
    saved = [e["step"] for e in sink.events if e["event"] == "checkpoint_saved"]
    assert saved == [10]  # the new cadence (12 is the last step: the stage writes its output)
    assert (cut / "out.json").read_bytes() == (whole / "out.json").read_bytes()


def test_a_stage_stopped_before_its_first_item_says_it_kept_no_work(tmp_path: Path) -> None:
    """Its ledger, made and empty, is not partial work: the stop says the rerun starts over,
    and ``status`` says ``new``, not ``continues from the partial work`` (before session 60 an
    empty ledger counted as work, and a train_sch stopped at 0/3 authors said so). One item
    done is work to continue."""
    from standard_coder.runner.engine import plan_pipeline

    def stop_before(ctx: Any) -> None:
        ctx.ledger("squares")
        ctx._stop.request(2)
        assert ctx.should_stop()

    res, _ = _run(_make(tmp_path, stop_before))
    assert res.exit_code == 130
    assert (
        res.message
        == "interrupted: rerun to go on (items kept no partial work: its rerun starts over)"
    )
    (plan,) = plan_pipeline(_make(tmp_path, _items_stage(stop_after=None)))
    assert (plan.reason, plan.resumes) == ("new", None)

    res, _ = _run(_make(tmp_path, _items_stage(stop_after=1)))
    assert res.exit_code == 130 and "kept no partial work" not in res.message
    (plan,) = plan_pipeline(_make(tmp_path, _items_stage(stop_after=None)))
    assert plan.reason.startswith("unfinished") and "continues from the partial work" in str(
        plan.resumes
    )
