"""The run loop with Python stages: skip, rerun reasons, bad state, partial work, interrupts."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from enginetools import reasons, run
from standard_coder.runner.engine import plan_pipeline
from standard_coder.runner.errors import InputMissing, PipelineDefinitionError, UpstreamMissing
from standard_coder.runner.stage import Pipeline, Stage

pytestmark = pytest.mark.integration

CALLS: Counter[str] = Counter()


def _prepare(ctx: Any) -> None:
    CALLS["prepare"] += 1
    data = ctx.base_dir.parent / "data"
    total = sum(len(p.read_bytes()) for p in sorted(data.rglob("*")) if p.is_file())
    out = ctx.base_dir.parent / "out"
    out.mkdir(exist_ok=True)
    (out / "prepared.txt").write_text(f"{total}\n")


def _train(ctx: Any) -> None:
    CALLS["train"] += 1
    n = int((ctx.base_dir.parent / "out" / "prepared.txt").read_text())
    (ctx.base_dir.parent / "out" / "model.txt").write_text(f"{n * ctx.params['lr']}\n")
    ctx.set_summary(items=n)


def _report(ctx: Any) -> None:
    CALLS["report"] += 1
    model = (ctx.base_dir.parent / "out" / "model.txt").read_text()
    (ctx.base_dir.parent / "out" / "report.txt").write_text(f"model {model}")


def make(root: Path, lr: float = 0.1, **over: Any) -> Pipeline:
    out = root / "out"
    stages = [
        Stage(
            name="prepare", run=_prepare, inputs=(root / "data",), outputs=(out / "prepared.txt",)
        ),
        Stage(
            name="train",
            run=_train,
            deps=("prepare",),
            params={"lr": lr},
            outputs=(out / "model.txt",),
        ),
        Stage(name="report", run=_report, deps=("train",), outputs=(out / "report.txt",)),
    ]
    for name, stage_over in over.items():
        stages = [Stage(**{**s.__dict__, **stage_over}) if s.name == name else s for s in stages]
    return Pipeline(name="t", stages=stages, base_dir=root / "state")


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    CALLS.clear()
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    for i in range(8):
        (data / f"f{i}.txt").write_text(f"line {i}\n")
    (data / "sub" / "x.txt").write_text("x\n")
    return tmp_path


def test_second_run_skips_everything_and_does_no_work(root: Path) -> None:
    result, sink = run(make(root))
    assert result.exit_code == 0 and CALLS == {"prepare": 1, "train": 1, "report": 1}
    assert reasons(sink, "stage_cache_miss") == dict.fromkeys(["prepare", "train", "report"], "new")
    result, sink = run(make(root))
    assert result.exit_code == 0 and CALLS == {"prepare": 1, "train": 1, "report": 1}
    assert reasons(sink, "stage_skipped") == dict.fromkeys(
        ["prepare", "train", "report"], "up to date"
    )
    names = sink.names()
    assert names[0] == "run_started" and names[-1] == "run_completed"
    for e in sink.events:
        assert {"ts", "run_id", "event", "stage", "reason"} <= set(e)
    lines = (root / "state" / "logs" / "events.jsonl").read_text().splitlines()
    assert len(lines) == 2 * 0 + len(lines) and all(json.loads(x)["run_id"] for x in lines)
    state = json.loads((root / "state" / "checkpoints" / "run_state.json").read_text())
    assert state["status"] == "completed" and state["stages"]["train"]["cache_hit"] is True
    assert (root / "state" / "runs" / result.run_id).is_dir()
    assert (root / "state" / "logs" / "run.log").exists()


def test_param_change_reruns_stage_and_downstream_only(root: Path) -> None:
    run(make(root))
    _result, sink = run(make(root, lr=0.2))
    assert CALLS == {"prepare": 1, "train": 2, "report": 2}
    assert reasons(sink, "stage_cache_miss")["train"] == "params changed: lr 0.1 -> 0.2"
    assert reasons(sink, "stage_cache_miss")["report"] == "input changed: out/model.txt"
    assert reasons(sink, "stage_skipped") == {"prepare": "up to date"}


def test_touch_without_change_reruns_nothing(root: Path) -> None:
    run(make(root))
    os.utime(root / "data" / "f3.txt", ns=(1, 2 * 10**18))
    _, sink = run(make(root))
    assert CALLS["prepare"] == 1
    assert reasons(sink, "stage_skipped")["prepare"] == "mtime changed, content same"
    _, sink = run(make(root))
    assert reasons(sink, "stage_skipped")["prepare"] == "up to date"


def test_content_change_reruns_and_names_the_file(root: Path) -> None:
    run(make(root))
    (root / "data" / "sub" / "x.txt").write_text("y\n")
    _, sink = run(make(root))
    assert reasons(sink, "stage_cache_miss")["prepare"] == "input changed: data/sub/x.txt"
    # same size, so prepared.txt is identical and downstream stays skipped
    assert CALLS == {"prepare": 2, "train": 1, "report": 1}


@pytest.mark.parametrize("how", ["delete", "alter"])
def test_deleted_or_altered_output_reruns_its_stage(root: Path, how: str) -> None:
    run(make(root))
    model = root / "out" / "model.txt"
    if how == "delete":
        model.unlink()
    else:
        model.write_text("tampered\n")
    _, sink = run(make(root))
    expected = (
        "outputs missing: out/model.txt" if how == "delete" else "outputs changed: out/model.txt"
    )
    assert reasons(sink, "stage_cache_miss") == {"train": expected}
    assert CALLS["train"] == 2 and CALLS["prepare"] == 1


def test_code_version_change_and_force(root: Path) -> None:
    run(make(root))
    _, sink = run(make(root, train={"version": "v2"}))
    assert reasons(sink, "stage_cache_miss")["train"] == "code changed"
    _, sink = run(make(root, train={"version": "v2"}), stages=["prepare"], force=True)
    assert reasons(sink, "stage_cache_miss") == {"prepare": "forced"}


def _user_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, files: dict[str, str]
) -> Any:
    """A package ``name`` of ``files`` under ``tmp_path/src`` on ``sys.path``; its ``stages``."""
    import importlib

    pkg = tmp_path / "src" / name
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    for file, text in files.items():
        (pkg / file).write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    return importlib.import_module(f"{name}.stages")


def test_a_helper_module_change_reruns_a_stage_that_imports_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without ``code_files`` a stage's code version covers its module and the user code that
    module imports (``runner/codeclosure.py``): editing a helper in another module reruns it,
    editing a module it does not import does not."""
    stages = _user_package(tmp_path, monkeypatch, "userpipe", {
        "stages.py": "from pathlib import Path\n"
        "from userpipe.helpers import scale\n"
        "def build(ctx):\n"
        "    Path(ctx.base_dir.parent, 'out.txt').write_text(str(scale(2)))\n",
        "helpers.py": "def scale(x):\n    return x * 10\n",
        "unrelated.py": "A = 1\n",
    })  # fmt: skip
    pkg = tmp_path / "src" / "userpipe"

    def pipe() -> Pipeline:
        stage = Stage(name="build", run=stages.build, outputs=(tmp_path / "out.txt",))
        return Pipeline(name="u", stages=[stage], base_dir=tmp_path / "state")

    run(pipe())
    (pkg / "unrelated.py").write_text("A = 2\n")
    _, sink = run(pipe())
    assert reasons(sink, "stage_skipped") == {"build": "up to date"}
    (pkg / "helpers.py").write_text("def scale(x):\n    return x * 100\n")
    _, sink = run(pipe())
    assert reasons(sink, "stage_cache_miss") == {"build": "code changed: src/userpipe/helpers.py"}
    assert json.loads((tmp_path / "state" / "stages" / "build" / "code_files.json").read_text())
    (pkg / "new_helper.py").write_text("K = 3\n")  # imported from now on: named as added
    (pkg / "stages.py").write_text((pkg / "stages.py").read_text() + "import userpipe.new_helper\n")
    _, sink = run(pipe())
    assert reasons(sink, "stage_cache_miss") == {
        "build": "code changed: src/userpipe/new_helper.py (and 1 more)"
    }


def test_a_builder_that_switches_the_function_a_stage_runs_reruns_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stage whose builder switched ``run`` to another function of the same, unchanged
    module was up to date (the code version hashed the module's files only) and kept the old
    function's outputs: it reruns and says which function runs now."""
    stages = _user_package(tmp_path, monkeypatch, "switchpipe", {
        "stages.py": "from pathlib import Path\n"
        "def evaluate(ctx):\n"
        "    Path(ctx.base_dir.parent, 'out.txt').write_text('v1')\n"
        "def evaluate_v2(ctx):\n"
        "    Path(ctx.base_dir.parent, 'out.txt').write_text('v2')\n",
    })  # fmt: skip

    def pipe(fn: Any) -> Pipeline:
        stage = Stage(name="evaluate", run=fn, outputs=(tmp_path / "out.txt",))
        return Pipeline(name="u", stages=[stage], base_dir=tmp_path / "state")

    run(pipe(stages.evaluate))
    _, sink = run(pipe(stages.evaluate))
    assert reasons(sink, "stage_skipped") == {"evaluate": "up to date"}
    (plan,) = plan_pipeline(pipe(stages.evaluate_v2))
    said = "code changed: runs switchpipe.stages.evaluate_v2 (was switchpipe.stages.evaluate)"
    assert (plan.run, plan.reason) == (True, said)
    _, sink = run(pipe(stages.evaluate_v2))
    assert reasons(sink, "stage_cache_miss") == {"evaluate": said}
    assert (tmp_path / "out.txt").read_text() == "v2"


def test_a_partial_bound_to_an_object_is_up_to_date_and_its_module_edit_reruns_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ``functools.partial`` run with an object bound (its text holds a memory address) was
    "code changed" on every run, and its code version hashed ``functools.py`` instead of the
    user's module: the bound object is data (``params``), the function's module is the code."""
    import functools

    stages = _user_package(tmp_path, monkeypatch, "partialpipe", {
        "stages.py": "from pathlib import Path\n"
        "class Cfg:\n"
        "    scale = 2\n"
        "def train(ctx, cfg):\n"
        "    Path(ctx.base_dir.parent, 'out.txt').write_text(str(cfg.scale))\n",
    })  # fmt: skip
    pkg = tmp_path / "src" / "partialpipe"

    def pipe() -> Pipeline:
        fn = functools.partial(stages.train, cfg=stages.Cfg())  # a new object each build
        stage = Stage(name="train", run=fn, outputs=(tmp_path / "out.txt",))
        return Pipeline(name="u", stages=[stage], base_dir=tmp_path / "state")

    run(pipe())
    _, sink = run(pipe())
    assert reasons(sink, "stage_skipped") == {"train": "up to date"}
    (pkg / "stages.py").write_text((pkg / "stages.py").read_text() + "# edited\n")
    _, sink = run(pipe())
    assert reasons(sink, "stage_cache_miss") == {"train": "code changed: src/partialpipe/stages.py"}


def test_a_partial_whose_bound_value_changes_reruns_and_says_which(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bound value with a JSON form (``lr=0.5``) is part of the code version: changing it
    reran nothing and kept the old output; the reason names both bindings."""
    import functools

    stages = _user_package(tmp_path, monkeypatch, "boundpipe", {
        "stages.py": "from pathlib import Path\n"
        "def train(ctx, lr):\n"
        "    Path(ctx.base_dir.parent, 'out.txt').write_text(str(lr))\n",
    })  # fmt: skip

    def pipe(lr: float) -> Pipeline:
        fn = functools.partial(functools.partial(stages.train), lr=lr)  # nested: unwrapped
        stage = Stage(name="train", run=fn, outputs=(tmp_path / "out.txt",))
        return Pipeline(name="u", stages=[stage], base_dir=tmp_path / "state")

    run(pipe(0.1))
    _, sink = run(pipe(0.1))
    assert reasons(sink, "stage_skipped") == {"train": "up to date"}
    _, sink = run(pipe(0.5))
    assert reasons(sink, "stage_cache_miss") == {
        "train": "code changed: runs boundpipe.stages.train(lr=0.5) "
        "(was boundpipe.stages.train(lr=0.1))"
    }
    assert (tmp_path / "out.txt").read_text() == "0.5"


def test_a_changed_code_file_outside_the_project_is_named_as_python_imports_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An installed package's file (a built-in pipeline's, after an upgrade) was named by its
    absolute path in site-packages; it is named from the ``sys.path`` folder that holds it."""
    from standard_coder.runner.session import _importable_name

    site = tmp_path / "venv" / "site-packages"
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.syspath_prepend(str(site / "pkg"))  # a longer entry holding it wins
    assert _importable_name(str(site / "tool" / "steps.py")) == "tool/steps.py"
    assert _importable_name(str(site / "pkg" / "m.py")) == "m.py"
    assert _importable_name("src/userpipe/helpers.py") == "src/userpipe/helpers.py"
    assert _importable_name("/elsewhere/x.py") == "/elsewhere/x.py"


def test_a_stage_defined_in_a_notebook_cell_reruns_when_its_text_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A function with no module file (a notebook cell, ``exec``) is versioned by its own
    text, as IPython keeps it for ``inspect``; before, its code version hashed no file at all
    and never changed. Without the text (plain ``exec``) its bytecode and constants count."""
    import linecache
    import sys
    import types

    def cell(n: int, source: str, keep_text: bool) -> Any:
        module = types.ModuleType(f"nb_cells_{n}")  # a notebook's __main__: no __file__
        monkeypatch.setitem(sys.modules, module.__name__, module)
        filename = f"<cell-{n}>"
        if keep_text:
            lines = source.splitlines(keepends=True)
            monkeypatch.setitem(linecache.cache, filename, (len(source), None, lines, filename))
        exec(compile(source, filename, "exec"), module.__dict__)
        return module.__dict__["build"]

    def pipe(run_fn: Any) -> Pipeline:
        stage = Stage(name="build", run=run_fn, outputs=(tmp_path / "out.txt",))
        return Pipeline(name="nb", stages=[stage], base_dir=tmp_path / "state")

    body = "def build(ctx):\n    (ctx.base_dir.parent / 'out.txt').write_text('{}')\n"
    for keep_text in (True, False):
        run(pipe(cell(1, body.format("a"), keep_text)), force=True)
        _, sink = run(pipe(cell(2, body.format("a"), keep_text)))
        assert reasons(sink, "stage_skipped") == {"build": "up to date"}
        _, sink = run(pipe(cell(3, body.format("b"), keep_text)))
        assert reasons(sink, "stage_cache_miss") == {"build": "code changed"}


def test_status_and_plan_write_nothing(root: Path) -> None:
    pipe = make(root)
    plans = plan_pipeline(pipe)
    assert [(p.stage, p.run, p.reason) for p in plans] == [
        ("prepare", True, "new"),
        ("train", True, "new"),
        ("report", True, "new"),
    ]
    assert not (root / "state").exists()
    run(pipe)
    plans = plan_pipeline(make(root, lr=0.3))
    assert [p.reason for p in plans] == [
        "up to date",
        "params changed: lr 0.1 -> 0.3",
        "upstream will run: train",
    ]


def test_selected_stage_with_missing_upstream_outputs_fails(root: Path) -> None:
    with pytest.raises(UpstreamMissing, match="'prepare'"):
        run(make(root), stages=["train"])
    assert CALLS == {}


def test_stale_upstream_warns_but_runs(root: Path) -> None:
    run(make(root))
    (root / "data" / "f0.txt").write_text("different length now\n")
    result, sink = run(make(root), stages=["report"], force=True)
    assert result.exit_code == 0
    stale = reasons(sink, "upstream_stale")
    assert stale["report"].startswith("upstream 'train' is stale (upstream will run") or stale[
        "report"
    ].startswith("upstream 'train' is stale")
    assert reasons(sink, "stage_cache_miss") == {"report": "forced"}


def test_stage_failure_exit_1_and_no_manifest(root: Path) -> None:
    def boom(ctx: Any) -> None:
        raise ValueError("bad data")

    result, sink = run(make(root, train={"run": boom}))
    assert result.exit_code == 1 and "bad data" in result.message
    assert reasons(sink, "stage_failed")["train"] == "ValueError: bad data"
    # where it was raised (the stage's own line, not the runner's), and where the traceback is
    (failed,) = [e for e in sink.events if e["event"] == "stage_failed"]
    line = boom.__code__.co_firstlineno + 1
    assert failed["raised_at"].endswith(f"test_runner_engine.py:{line}"), failed
    assert failed["log"] == str(root / "state" / "logs" / "run.log")
    from standard_coder.runner.records import console_line

    assert console_line(failed) == (
        f"[FAIL] train: ValueError: bad data (raised at {failed['raised_at']}; traceback in "
        f"{root / 'state' / 'logs' / 'run.log'})\n"
    )
    assert not (root / "state" / "stages" / "train" / "manifest.json").exists()
    assert "report" not in result.stages
    # the events log ends as the run did (it stopped at stage_failed)
    last = sink.events[-1]
    assert (last["event"], last["stage"], last["exit_code"]) == ("run_failed", "train", 1)
    assert last["reason"] == result.message and console_line(last) is None


def test_stage_flagging_bad_user_input_exits_2(root: Path) -> None:
    class BadInput(ValueError):
        exit_code = 2

    def bad(ctx: Any) -> None:
        raise BadInput("sprint.json: $.tickets[0].id: field required")

    result, sink = run(make(root, train={"run": bad}))
    assert result.exit_code == 2 and "$.tickets[0].id" in result.message
    # its message is written for the user: the [FAIL] line says it without the class name
    assert reasons(sink, "stage_failed")["train"] == "sprint.json: $.tickets[0].id: field required"
    assert not any("raised_at" in e for e in sink.events)  # no code location for a user's error
    assert not (root / "state" / "stages" / "train" / "manifest.json").exists()


def test_missing_declared_output_fails(root: Path) -> None:
    result, sink = run(make(root, train={"run": lambda ctx: None}))
    assert result.exit_code == 1
    assert "out/model.txt" in reasons(sink, "stage_failed")["train"]


def test_missing_input_is_named_before_any_stage_runs(root: Path) -> None:
    """The last stage's missing input fails the run before the first stage does any work."""
    with pytest.raises(InputMissing, match=r"stage 'report' reads .*nowhere, which does not"):
        run(make(root, report={"inputs": (root / "nowhere",)}))
    assert not CALLS
    # every missing input is named on the one line, not the first alone (one round trip each)
    two = make(root, train={"inputs": (root / "gone",)}, report={"inputs": (root / "nowhere",)})
    with pytest.raises(InputMissing) as err:
        run(two)
    assert str(err.value) == (
        f"stage 'train' reads {root / 'gone'}, which does not exist; nor does "
        f"{root / 'nowhere'} (read by stage 'report') (checked before any stage runs)"
    )
    # an input a stage makes is not missing before that stage has run
    result, _ = run(make(root, report={"inputs": (root / "out" / "model.txt",)}))
    assert result.exit_code == 0 and CALLS["report"] == 1


def test_an_invalid_input_refuses_the_run_before_any_stage_runs(root: Path) -> None:
    """``Stage.invalid_inputs`` (a sprint file that does not validate): the run refuses to
    start, naming it, and status shows the stage as cannot run; unselected, it is no bar."""
    from standard_coder.runner.engine import plan_pipeline
    from standard_coder.runner.errors import InputInvalid

    bad = {"invalid_inputs": ("sprint.json: $.tickets[0].stroy_points: unknown field",)}
    with pytest.raises(InputInvalid, match=r"stage 'report': sprint.json: .* \(checked before"):
        run(make(root, report=bad))
    assert not CALLS
    (plan,) = [p for p in plan_pipeline(make(root, report=bad)) if p.stage == "report"]
    assert plan.bad_inputs == bad["invalid_inputs"]
    result, _ = run(make(root, report=bad), stages=["prepare", "train"])
    assert result.exit_code == 0 and "report" not in CALLS


def test_bad_definitions_fail_before_running(root: Path) -> None:
    pipe = make(root)
    dup = Pipeline(name="t", stages=[*pipe.stages, pipe.stages[0]], base_dir=root / "s")
    with pytest.raises(PipelineDefinitionError, match="duplicate"):
        run(dup)
    order = Pipeline(name="t", stages=list(reversed(pipe.stages)), base_dir=root / "s")
    with pytest.raises(PipelineDefinitionError, match="list 'train' before 'report' in Pipeline"):
        run(order)
    assert CALLS == {}


def _one(root: Path, **stage: Any) -> Pipeline:
    return Pipeline(name="t", base_dir=root / "state",
                    stages=[Stage(name="a", run=lambda ctx: None, outputs=(root / "out" / "a",)),
                            Stage(name="b", run=lambda ctx: None, **stage)])  # fmt: skip


@pytest.mark.parametrize(
    ("stage", "words"),
    [
        # an output in the runner's own state reran forever ("outputs changed")
        (
            {"outputs": ("state/stages/b/manifest.json",)},
            "is inside {root}/state/stages, the runner's own state",
        ),
        ({"outputs": ("state",)}, "is the output folder, the runner's own state"),
        # compared normalised, said as given
        (
            {"outputs": ("state/../state/logs/x",)},
            "output {root}/state/../state/logs/x is inside {root}/state/logs",
        ),
        # an output holding the state changes with every run
        ({"outputs": ("",)}, "output {root} holds the output folder {root}/state"),
        # a stage that writes what it reads
        (
            {"inputs": ("data",), "outputs": ("data/b.json",)},
            "{root}/data/b.json is an output and {root}/data an input of it",
        ),
        # nested outputs of two stages failed only once they ran
        ({"outputs": ("out",)}, "output {root}/out and stage 'a''s output {root}/out/a nest"),
        ({"deps": ("aa",)}, "dep 'aa' is an unknown stage; did you mean 'a'?"),
        ({"deps": ("b",)}, "stage 'b': lists itself as a dep; a stage cannot depend on itself"),
    ],
)
def test_a_bad_output_place_or_dep_is_refused_before_any_stage(
    root: Path, stage: dict[str, Any], words: str
) -> None:
    paths = {k: tuple(root / p for p in v) for k, v in stage.items() if k != "deps"}
    with pytest.raises(PipelineDefinitionError) as err:
        run(_one(root, **{**stage, **paths}))
    assert words.format(root=root) in str(err.value), str(err.value)
    assert CALLS == {}


def test_a_stage_may_declare_a_folder_and_a_file_in_it(root: Path) -> None:
    """Nesting is refused between two stages' outputs, not within one stage's own."""
    from standard_coder.runner.definition import validate_pipeline

    model = root / "out" / "model"
    validate_pipeline(_one(root, outputs=(model, model / "meta.json")))
    with pytest.raises(PipelineDefinitionError, match=r"stage 'a''s output .* nest"):
        validate_pipeline(_one(root, outputs=(root / "out" / "b", root / "out" / "a" / "m")))


@pytest.mark.parametrize(
    "target", ["stages/train/manifest.json", "checkpoints/run_state.json", "cache/hashcache.sqlite"]
)
@pytest.mark.parametrize("content", [b"", b"\x00garbage{{{" * 50])
def test_corrupt_state_is_quarantined_never_a_traceback(
    root: Path, target: str, content: bytes
) -> None:
    run(make(root))
    (root / "state" / target).write_bytes(content)
    result, sink = run(make(root))
    assert result.exit_code == 0
    if target.endswith(".sqlite") and not content:
        return  # an empty file is a valid empty SQLite database: nothing to quarantine
    assert "state_corrupt" in sink.names()
    quarantined = list((root / "state" / "quarantine").iterdir())
    assert quarantined
    # one console line names the file, the cause and where it was set aside
    from standard_coder.runner.records import console_line

    (said,) = [console_line(e) for e in sink.events if e["event"] == "state_corrupt"]
    assert said is not None and said.startswith("[warn] ")
    assert str(root / "state" / target) in said and f"set aside as {quarantined[0]}" in said
    if target.startswith("stages/"):
        assert reasons(sink, "stage_cache_miss") == {"train": "manifest corrupt"}
        assert CALLS["train"] == 2
    _, sink = run(make(root))
    assert set(reasons(sink, "stage_skipped").values()) == {"up to date"}


def test_partial_work_of_another_fingerprint_is_set_aside(root: Path) -> None:
    seen: list[list[str]] = []

    def work(ctx: Any) -> None:
        seen.append(sorted(p.name for p in ctx.checkpoint_dir.iterdir()))
        (ctx.checkpoint_dir / "partial.bin").write_text(ctx.params["lr"].__repr__())
        _train(ctx)

    run(make(root, train={"run": work}))
    _, sink = run(make(root, lr=0.5, train={"run": work}))
    assert seen[0] == ["FINGERPRINT"] and seen[1] == ["FINGERPRINT"]
    # the completed run's working files: set aside without a warning (nothing was cut short)
    (moved,) = [e for e in sink.events if e["event"] == "finished_work_set_aside"]
    assert "the last completed run's working files set aside in" in moved["reason"]
    assert "partial_work_stale" not in sink.names()
    stale = list((root / "state" / "checkpoints" / "stale").iterdir())
    assert len(stale) == 1 and stale[0].name.startswith("train-")
    assert (stale[0] / "partial.bin").read_text() == "0.1"


def test_a_resumed_stage_says_so_and_a_forced_one_starts_afresh(root: Path) -> None:
    """Partial work of the stage's fingerprint is resumed and the console says so; under
    --force it is set aside (where is said) and the stage starts from nothing."""
    from standard_coder.runner.records import console_line

    seen: list[list[str]] = []

    def work(ctx: Any) -> None:
        seen.append(sorted(p.name for p in ctx.checkpoint_dir.iterdir()))
        (ctx.checkpoint_dir / "partial.bin").write_text("half")
        if len(seen) == 1:
            ctx._stop.request(2)
            ctx.should_stop()  # the stage sees the stop: its work is partial
            return
        _train(ctx)

    first, _ = run(make(root, train={"run": work}))
    assert first.exit_code == 130
    again, sink = run(make(root, train={"run": work}))
    assert again.exit_code == 0 and seen[1] == ["FINGERPRINT", "partial.bin"]
    resuming = [e for e in sink.events if e["event"] == "stage_resuming"]
    assert [e["stage"] for e in resuming] == ["train"]
    (miss,) = [e for e in sink.events if e["event"] == "stage_cache_miss" and e["stage"] == "train"]
    assert console_line(miss) == "[run] train: unfinished\n"  # not "new": it continues
    assert sink.events.index(miss) < sink.events.index(resuming[0])
    assert console_line(resuming[0]) == (
        f"[resume] train: continues from the partial work in {root / 'state/checkpoints/train'}\n"
    )
    _, sink = run(make(root, train={"run": work}), force=True)
    assert seen[2] == ["FINGERPRINT"]  # forced: nothing of the earlier run is reused
    (moved,) = [e for e in sink.events if e["event"] == "finished_work_set_aside"]
    assert moved["reason"].startswith("--force: the last completed run's working files set")
    assert (Path(moved["moved_to"]) / "partial.bin").read_text() == "half"
    assert "stage_resuming" not in sink.names()
    seen.clear()  # the next run stops half-way again
    assert run(make(root, train={"run": work}), force=True)[0].exit_code == 130
    _, sink = run(make(root, train={"run": work}), force=True)
    (stale,) = [e for e in sink.events if e["event"] == "partial_work_stale"]
    assert stale["reason"].startswith("--force: earlier partial work set aside in ")
    assert console_line(stale).startswith("[warn] train: --force: earlier partial work set")


def test_a_stage_whose_progress_is_in_its_outputs_is_said_to_continue(root: Path) -> None:
    """A stage that keeps its progress in its outputs (the mine's database) leaves no partial
    files: after a stop, ``status`` and the run still say it continues, with the progress."""
    from standard_coder.runner.records import console_line

    def grow(ctx: Any) -> None:
        out = ctx.base_dir.parent / "out" / "model.txt"
        done = len(out.read_text().split()) if out.exists() else 0
        bar = ctx.progress(10, "rows")
        bar.advance(done)
        with out.open("a") as fh:
            for i in range(done, 10):
                if i == 4 and done == 0:
                    ctx._stop.request(2)
                if ctx.should_stop():
                    return
                fh.write(f"{i} ")
                fh.flush()
                bar.advance()

    first, _ = run(make(root, train={"run": grow}))
    assert first.exit_code == 130
    (plan,) = [p for p in plan_pipeline(make(root, train={"run": grow})) if p.stage == "train"]
    assert (plan.run, plan.reason) == (True, "unfinished")
    assert plan.resumes == "continues where the interrupted run stopped (rows: 4/10 items done)"
    other = [p for p in plan_pipeline(make(root, lr=0.7, train={"run": grow})) if p.run]
    assert all(p.resumes is None for p in other)  # other params: a fresh start
    again, sink = run(make(root, train={"run": grow}))
    assert again.exit_code == 0
    assert (root / "out" / "model.txt").read_text() == "".join(f"{i} " for i in range(10))
    (resuming,) = [e for e in sink.events if e["event"] == "stage_resuming"]
    assert console_line(resuming) == (
        "[resume] train: continues where the interrupted run stopped (rows: 4/10 items done)\n"
    )
    (miss,) = [e for e in sink.events if e["event"] == "stage_cache_miss" and e["stage"] == "train"]
    assert (miss["reason"], miss["code"]) == ("unfinished", "unfinished")
    _, sink = run(make(root, lr=0.7, train={"run": grow}))
    assert "stage_resuming" not in sink.names()  # a completed stage leaves nothing to continue
    (root / "state" / "checkpoints" / "train" / "ckpt.bin").write_text("kept")
    (root / "out" / "model.txt").unlink()  # a completed run's output deleted
    pipe = make(root, lr=0.7, train={"run": grow})
    (plan,) = [p for p in plan_pipeline(pipe) if p.stage == "train"]
    cdir = root / "state" / "checkpoints" / "train"
    assert plan.resumes == f"reuses the working files the last completed run left in {cdir}"


def _stepped(loaded: list[int | None], stop_at: int | None) -> Callable[[Any], None]:
    """A training of 10 steps checkpointed every 2 (the last 2 kept), stopped at ``stop_at``;
    ``loaded`` gets the step each run resumed from."""

    def train(ctx: Any) -> None:
        ckpt = ctx.checkpointer("train", every_n_steps=2)
        state = ckpt.load_latest()
        loaded.append(ckpt.loaded_step)
        for step in range((state or {}).get("step", 0) + 1, 11):
            if step == stop_at:
                ctx._stop.request(2)
            if ckpt.due(step) or ctx.should_stop():
                ckpt.save({"step": step}, step)
            if ctx.should_stop():
                return
        (ctx.base_dir.parent / "out" / "model.txt").write_text("10\n")

    return train


def test_the_resume_note_names_the_checkpoint_that_loads(root: Path) -> None:
    """The interrupted run checkpointed step 6 and the note said so; when that file then fails
    its sha256 check the training falls back to step 4, and the note (``status`` and the run's
    ``[resume]`` line) says step 4 and why, not step 6. With no intact one it says afresh."""
    from standard_coder.runner.records import console_line

    loaded: list[int | None] = []
    first, _ = run(make(root, train={"run": _stepped(loaded, stop_at=6)}))
    assert first.exit_code == 130 and loaded == [None]
    assert first.message.endswith("(the training resumes from its checkpoint at step 6)")
    cdir = root / "state" / "checkpoints" / "train"
    pipe = make(root, train={"run": _stepped(loaded, stop_at=None)})
    (plan,) = [p for p in plan_pipeline(pipe) if p.stage == "train"]
    assert plan.resumes == (
        f"continues from the partial work in {cdir} "
        "(the training resumes from its checkpoint at step 6)"
    )
    six = cdir / "train" / "ckpt-000000006.pt"
    data = bytearray(six.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte damaged
    six.write_bytes(bytes(data))
    said = (
        f"continues from the partial work in {cdir} (the training resumes from its checkpoint "
        "at step 4: the one at step 6 fails its sha256 check)"
    )
    (plan,) = [p for p in plan_pipeline(pipe) if p.stage == "train"]
    assert plan.resumes == said
    again, sink = run(pipe)
    assert again.exit_code == 0 and loaded == [None, 4]
    (resuming,) = [e for e in sink.events if e["event"] == "stage_resuming"]
    assert console_line(resuming) == f"[resume] train: {said}\n"

    # none intact: the note says the training starts afresh, as it does
    run(make(root, lr=0.2, train={"run": _stepped(loaded, stop_at=6)}))
    for f in (cdir / "train").glob("ckpt-*.pt"):
        f.write_bytes(b"damaged")
    pipe = make(root, lr=0.2, train={"run": _stepped(loaded, stop_at=None)})
    (plan,) = [p for p in plan_pipeline(pipe) if p.stage == "train"]
    assert plan.resumes == (
        f"continues from the partial work in {cdir} (the training starts afresh: no "
        "checkpoint is intact (the one at step 6 fails its sha256 check))"
    )
    assert run(pipe)[0].exit_code == 0 and loaded[-1] is None


def _staged_train(ctx: Any) -> None:
    """Writes its model, a sibling and a folder as it goes; stops half-way when asked to."""
    CALLS["train"] += 1
    model = ctx.outputs["model"]
    model.write_text(f"{ctx.params['lr']}\n")
    (model.parent / "model.stats.json").write_text(f'{{"lr": {ctx.params["lr"]}}}\n')
    curves = ctx.outputs["curves"]
    curves.mkdir(exist_ok=True)
    (curves / "epoch-1.txt").write_text(f"{ctx.params['lr']}\n")
    if os.environ.get("SC_TEST_STOP_TRAIN") and not (ctx.checkpoint_dir / "seen").exists():
        (ctx.checkpoint_dir / "seen").write_text("")
        ctx._stop.request(2)
        ctx.should_stop()
        return


def test_staged_outputs_leave_the_finished_ones_whole_until_the_stage_completes(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A retrain under other params stopped half-way leaves the last completed outputs as they
    were: switching the params back skips; rerun under the new params, it resumes and its
    outputs (siblings and folders too) replace the old ones only when it completes."""
    out = root / "out"

    def pipe(lr: float) -> Pipeline:
        named = {"model": out / "model.txt", "curves": out / "curves"}
        return make(
            root,
            lr=lr,
            train={
                "run": _staged_train,
                "named_outputs": named,
                "staged_outputs": True,
                "outputs": (),
            },
            report={"run": lambda ctx: (out / "report.txt").write_text("r\n")},
        )

    assert run(pipe(0.1))[0].exit_code == 0
    finished = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert finished["model.stats.json"] == b'{"lr": 0.1}\n'  # the sibling went in place too
    monkeypatch.setenv("SC_TEST_STOP_TRAIN", "1")
    stopped, _ = run(pipe(0.5))
    assert stopped.exit_code == 130
    assert {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()} == finished
    back, sink = run(pipe(0.1))
    assert back.exit_code == 0 and set(reasons(sink, "stage_skipped")) >= {"train"}
    again, sink = run(pipe(0.5))  # resumes the staged work, set aside by nothing
    assert again.exit_code == 0
    assert [e["stage"] for e in sink.events if e["event"] == "stage_resuming"] == ["train"]
    assert (out / "model.txt").read_text() == "0.5\n"
    assert (out / "curves" / "epoch-1.txt").read_text() == "0.5\n"
    assert (out / "model.stats.json").read_text() == '{"lr": 0.5}\n'
    assert not (root / "state" / "checkpoints" / "train" / "staged").exists()


def test_a_swap_cut_short_sets_the_staged_work_aside(root: Path) -> None:
    from standard_coder.runner.staging import STAGED

    out = root / "out"
    named = {"model": out / "model.txt", "curves": out / "curves"}
    over = {"run": _staged_train, "named_outputs": named, "staged_outputs": True, "outputs": ()}
    assert run(make(root, train=over))[0].exit_code == 0
    cdir = root / "state" / "checkpoints" / "train"
    (cdir / STAGED / "model").mkdir(parents=True)
    (cdir / STAGED / "SWAPPING").write_text("")
    (out / "model.txt").write_text("half swapped\n")
    result, sink = run(make(root, train=over))
    assert result.exit_code == 0
    (stale,) = [e for e in sink.events if e["event"] == "partial_work_stale"]
    assert stale["reason"].startswith("the last run stopped while it put its outputs in place")
    assert (out / "model.txt").read_text() == "0.1\n"


def test_stop_request_interrupts_with_progress_message(root: Path) -> None:
    def long(ctx: Any) -> None:
        bar = ctx.progress(2000, "items")
        for _ in range(2000):
            if bar.completed == 812:
                os.kill(os.getpid(), 0)
                ctx._stop.request(15)
            if ctx.should_stop():
                return
            bar.advance()

    result, sink = run(make(root, train={"run": long}))
    assert result.exit_code == 143
    # it kept nothing (no partial work, no output written): the rerun redoes the 812 items, and
    # the message says so instead of promising to resume the stage (session 40)
    assert result.message == (
        "interrupted: rerun to go on (812/2000 items done, but train kept no partial work: "
        "its rerun starts over)"
    )
    assert sink.names()[-1] == "run_interrupted"
    assert not (root / "state" / "stages" / "train" / "manifest.json").exists()
    state = json.loads((root / "state" / "checkpoints" / "run_state.json").read_text())
    assert state["status"] == "interrupted"
    assert state["stages"]["train"]["kept_work"] is False
    (plan,) = [p for p in plan_pipeline(make(root, train={"run": long})) if p.stage == "train"]
    assert (plan.reason, plan.resumes) == ("new", None)  # not "continues where it stopped"


def test_a_forced_stage_stopped_before_it_wrote_says_its_last_run_stands(root: Path) -> None:
    """``--force`` then Ctrl-C said ``rerun to resume``, and the plain rerun skipped the stage as
    up to date: nothing resumed. Its last completed outputs still stand, and the message says
    so and how to redo it."""
    stop_at: list[int] = []

    def stops(ctx: Any) -> None:
        bar = ctx.progress(10, "items")
        for _ in range(10):
            if stop_at and bar.completed == stop_at[0]:
                ctx._stop.request(2)
            if ctx.should_stop():
                return
            bar.advance()
        (root / "out" / "model.txt").write_text("done\n")

    assert run(make(root, train={"run": stops}))[0].exit_code == 0
    stop_at.append(3)
    result, _ = run(make(root, train={"run": stops}), stages=["train"], force=True)
    assert result.exit_code == 130
    assert result.message == (
        "interrupted (train was forced and keeps its last completed outputs: a plain rerun "
        "skips it; rerun with --force to redo it from the start)"
    )
    (plan,) = [p for p in plan_pipeline(make(root, train={"run": stops})) if p.stage == "train"]
    assert (plan.run, plan.reason) == (False, "up to date")


def test_a_map_counts_on_from_the_items_an_earlier_run_did(root: Path) -> None:
    """``ctx.map(..., done=3)``: the bar, and so the stop's message, count out of the whole
    work (4/7), not this run's share (1/4), as a resumed work inference said (session 53)."""

    def resumed(ctx: Any) -> None:
        for item, _ in ctx.map(abs, [1, 2, 3, 4], desc="authors", done=3):
            if item == 1:
                ctx._stop.request(2)

    result, _ = run(make(root, train={"run": resumed}))
    assert result.exit_code == 130
    assert result.message.startswith("interrupted: rerun to go on (authors: 4/7 items done")


def _train_through_a_signal(ctx: Any) -> None:
    """A stage that never asks whether to stop (no checkpoints): a real SIGINT arrives while it
    works, and it finishes its work all the same."""
    os.kill(os.getpid(), signal.SIGINT)
    _train(ctx)


def test_a_stage_that_finishes_after_a_signal_is_recorded_done(root: Path) -> None:
    """Ctrl-C during a stage that does not poll the stop: its finished work is kept (manifest
    written, skipped next run), the run stops before the next stage and says so."""
    result, sink = run(make(root, train={"run": _train_through_a_signal}), install_signals=True)
    assert result.exit_code == 130
    # the stop is named where it took effect: before report, not at train (which is done)
    assert result.message == "interrupted: rerun to resume (report not started; train is done)"
    assert reasons(sink, "run_interrupted") == {"report": result.message}
    assert reasons(sink, "stage_completed").keys() == {"prepare", "train"}
    assert "report" not in reasons(sink, "stage_running")
    CALLS.clear()
    again, sink = run(make(root, train={"run": _train_through_a_signal}), install_signals=True)
    assert again.exit_code == 0
    assert reasons(sink, "stage_skipped").keys() == {"prepare", "train"}
    assert dict(CALLS) == {"report": 1}


def test_a_signal_during_the_last_stage_that_finishes_leaves_a_completed_run(root: Path) -> None:
    def report(ctx: Any) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        _report(ctx)

    result, sink = run(make(root, report={"run": report}), install_signals=True)
    assert reasons(sink, "stage_completed").keys() == {"prepare", "train", "report"}
    state = json.loads((root / "state" / "checkpoints" / "run_state.json").read_text())
    assert state["status"] == "completed" and result.finished
    # ... but the process was asked to stop: it exits as a stopped one does (a Ctrl-C in a
    # shell loop stops the loop), saying that nothing is left to resume
    assert result.exit_code == 130, result.message
    assert result.message == (
        "stopped by SIGINT while the last selected stage ran; it finished, so nothing is left "
        "to resume"
    )
    assert not reasons(sink, "run_interrupted")


def _git_repo(repo: Path) -> Callable[..., None]:
    """A new repository with one empty commit, and a ``git(*args)`` run inside it."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@x"}
    env |= {"GIT_COMMITTER_NAME": "a", "GIT_COMMITTER_EMAIL": "a@x"}

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(repo), *args], check=True, env=env, capture_output=True)

    repo.mkdir()
    git("init", "-q")
    git("commit", "-q", "--allow-empty", "-m", "one")
    return git


def test_git_input_refs_invalidate(root: Path) -> None:
    repo = root / "repo"
    git = _git_repo(repo)
    pipe = make(root, prepare={"git_inputs": (repo,)})
    run(pipe)
    _, sink = run(pipe)
    assert reasons(sink, "stage_skipped")["prepare"] == "up to date"
    git("commit", "-q", "--allow-empty", "-m", "two")
    _, sink = run(pipe)
    assert reasons(sink, "stage_cache_miss")["prepare"] == "input changed: git:repo"


def test_a_mailmap_edit_invalidates_a_git_input(root: Path) -> None:
    """git joins authors by the working tree's .mailmap: an edit, committed or not, reruns."""
    repo = root / "repo"
    git = _git_repo(repo)
    pipe = make(root, prepare={"git_inputs": (repo,)})
    run(pipe)
    (repo / ".mailmap").write_text("A <a@y> <a@x>\n")  # working tree only
    _, sink = run(pipe)
    assert reasons(sink, "stage_cache_miss")["prepare"] == "input changed: git:repo"
    git("add", ".mailmap")
    git("commit", "-q", "-m", "mailmap")
    run(pipe)
    (repo / ".mailmap").write_text("B <b@y> <a@x>\n")
    git("commit", "-q", "-am", "mailmap edited")  # the committed one
    _, sink = run(pipe)
    assert reasons(sink, "stage_cache_miss")["prepare"] == "input changed: git:repo"
    _, sink = run(pipe)
    assert reasons(sink, "stage_skipped")["prepare"] == "up to date"


def test_the_mailmap_file_and_blob_settings_invalidate_a_git_input(root: Path) -> None:
    """git also joins authors by the `mailmap.file` and `mailmap.blob` settings: changing the
    setting, the file it names or the blob it names reruns; an untouched repo stays cached."""
    repo = root / "repo"
    git = _git_repo(repo)
    pipe = make(root, prepare={"git_inputs": (repo,)})
    mapfile = root / "people.map"
    mapfile.write_text("A <a@y> <a@x>\n")
    run(pipe)
    git("config", "mailmap.file", "../people.map")  # relative: read from the repository
    _, sink = run(pipe)
    assert reasons(sink, "stage_cache_miss")["prepare"] == "input changed: git:repo"
    _, sink = run(pipe)
    assert reasons(sink, "stage_skipped")["prepare"] == "up to date"
    mapfile.write_text("B <b@y> <a@x>\n")  # the file's content, the setting unchanged
    _, sink = run(pipe)
    assert reasons(sink, "stage_cache_miss")["prepare"] == "input changed: git:repo"
    (repo / "people.txt").write_text("A <a@y> <a@x>\n")
    git("add", "people.txt")
    git("commit", "-q", "-m", "people")
    run(pipe)
    git("config", "mailmap.blob", "HEAD:people.txt")  # a setting alone: no ref moved
    _, sink = run(pipe)
    assert reasons(sink, "stage_cache_miss")["prepare"] == "input changed: git:repo"
    _, sink = run(pipe)
    assert reasons(sink, "stage_skipped")["prepare"] == "up to date"


def test_the_mailmap_settings_cost_a_git_call_only_when_a_config_mentions_them(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The up-to-date check of a git input (and the mining's refs key) reads config files;
    it starts `git config` only when one of them mentions `mailmap` or an include."""
    from standard_coder.runner.gitrefs import mailmap_settings, refs_checksum

    repo = root / "repo"
    git = _git_repo(repo)
    calls = root / "calls.txt"
    bin_dir = root / "bin"
    bin_dir.mkdir()
    real = shutil.which("git")
    (bin_dir / "git").write_text(f'#!/bin/sh\necho "$*" >> {calls}\nexec {real} "$@"\n')
    (bin_dir / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("HOME", str(root))  # no global config but the test's
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    before = refs_checksum(repo)
    assert mailmap_settings(repo) == [] and not calls.exists()
    git("config", "mailmap.file", "people.map")
    assert refs_checksum(repo) != before and "config --null --get-regexp" in calls.read_text()
    git("config", "--unset", "mailmap.file")
    (root / ".gitconfig").write_text("[include]\n\tpath = more.inc\n")
    (root / "more.inc").write_text("[mailmap]\n\tfile = /nowhere/people.map\n")
    assert mailmap_settings(repo) == ["mailmap.file /nowhere/people.map\n"]


def test_a_mailmap_file_setting_git_cannot_read_is_no_traceback(root: Path) -> None:
    """`mailmap.file` through a file (or unreadable): git skips it; the git input's state says
    so instead of raising, and a later readable file changes it."""
    from standard_coder.runner.gitrefs import mailmap_settings, refs_checksum

    repo = root / "repo"
    git = _git_repo(repo)
    (root / "a-file").write_text("x\n")
    git("config", "mailmap.file", str(root / "a-file" / "people.map"))
    assert mailmap_settings(repo) == [
        f"mailmap.file {root}/a-file/people.map\n<NotADirectoryError>"
    ]
    before = refs_checksum(repo)
    git("config", "mailmap.file", str(root / "a-file"))
    assert refs_checksum(repo) != before


def test_device_enters_the_fingerprint_only_for_device_sensitive_stages(root: Path) -> None:
    pipe = make(root, train={"device_sensitive": True})
    pipe = Pipeline(name="t", stages=pipe.stages, base_dir=pipe.base_dir, device="cpu")
    run(pipe)
    stages = root / "state" / "stages"
    assert json.loads((stages / "train" / "manifest.json").read_text())["device"] == "cpu"
    assert json.loads((stages / "prepare" / "manifest.json").read_text())["device"] is None


def test_a_no_op_run_keeps_the_report_and_a_run_that_changed_something_rebuilds_it(
    root: Path,
) -> None:
    from standard_coder.runner.report import build_report

    first, _ = run(make(root))
    page = root / "state" / "reports" / "index.html"
    built = page.read_text()
    assert first.run_id in built
    noop, _ = run(make(root))  # every stage skipped: what the page shows is unchanged
    assert noop.ran == 0 and page.read_text() == built
    changed, _ = run(make(root, lr=0.2))  # train and report rerun: the page shows that run
    text = page.read_text()
    assert changed.ran == 2 and changed.run_id in text and noop.run_id in text  # history
    # a failed or partial run is never taken for a no-op: a run of one stage rebuilds too
    only, _ = run(make(root, lr=0.2), stages=["prepare"])
    assert only.ran == 0 and only.run_id in page.read_text()
    full, _ = run(make(root, lr=0.2))  # the page showed one stage: rebuilt to show them all
    assert full.ran == 0 and full.run_id in page.read_text()
    # `standard-coder report` rebuilds whatever happened
    again, _ = run(make(root, lr=0.2))
    assert again.run_id not in page.read_text()
    build_report(root / "state")
    assert again.run_id in page.read_text()


def test_a_private_output_is_not_an_input_downstream(root: Path) -> None:
    """A stage's private output (how its run went) changes on a rebuild with the same result:
    the stage downstream stays cached; a stage that names it in its inputs reruns."""
    import time

    model, took = root / "out" / "model.txt", root / "out" / "took.json"
    calls: Counter[str] = Counter()

    def train(ctx: Any) -> None:
        calls["train"] += 1
        model.write_text("weights")
        took.write_text(json.dumps({"seconds": time.perf_counter()}))

    def use(ctx: Any) -> None:
        calls["use"] += 1
        (root / "out" / "used.txt").write_text(model.read_text())

    def show(ctx: Any) -> None:
        calls["show"] += 1
        (root / "out" / "shown.txt").write_text(took.read_text())

    pipe = Pipeline(
        name="p",
        base_dir=root / "state",
        stages=[
            Stage(name="train", run=train, outputs=(model, took), private_outputs=(took,)),
            Stage(name="use", run=use, deps=("train",), outputs=(root / "out" / "used.txt",)),
            Stage(
                name="show",
                run=show,
                deps=("train",),
                inputs=(took,),
                outputs=(root / "out" / "shown.txt",),
            ),
        ],
    )
    (root / "out").mkdir(parents=True, exist_ok=True)
    assert run(pipe)[0].exit_code == 0
    _, sink = run(pipe, stages=["train"], force=True)
    _, sink = run(pipe)
    assert calls == Counter(train=2, use=1, show=2)
    assert set(reasons(sink, "stage_skipped")) == {"train", "use"}
    with pytest.raises(ValueError, match=r"private_outputs .* are not among its outputs"):
        Stage(name="x", run=use, outputs=(model,), private_outputs=(took,))


SECOND_SIGNAL_AFTER_THE_STOP_IS_SAID = r"""
import os, signal, sys
from pathlib import Path
from standard_coder.runner.engine import run_pipeline
from standard_coder.runner.stage import Pipeline, Stage

root = Path(sys.argv[1])


def train(ctx):
    os.kill(os.getpid(), signal.SIGINT)  # the first Ctrl-C, as it works
    assert ctx.should_stop()


def again(result):  # a second Ctrl-C once the run has said how the first ended it
    os.kill(os.getpid(), signal.SIGINT)


stage = Stage(name="train", run=train, outputs=(root / "model.json",))
run_pipeline(Pipeline(name="p", stages=[stage], base_dir=root / "state"), after_run=again)
sys.exit(5)  # not reached: the second signal exits at once
"""


def test_a_second_signal_after_the_stop_was_said_exits_without_saying_it_again(
    tmp_path: Path,
) -> None:
    """Ctrl-C twice, the second as the run wraps up: one ``run_interrupted`` (one ``[STOP]``
    line), the process exits 130. Before session 60 the second added ``exited at once (SIGINT
    sent again): rerun to resume from the last checkpoint``, a second event of no stage."""
    import sys

    from proctools import child_env

    proc = subprocess.run([sys.executable, "-c", SECOND_SIGNAL_AFTER_THE_STOP_IS_SAID,
                           str(tmp_path)], capture_output=True, text=True, env=child_env(),
                          timeout=120)  # fmt: skip
    assert proc.returncode == 130, proc.stderr[-2000:]
    lines = (tmp_path / "state" / "logs" / "events.jsonl").read_text().splitlines()
    said = [json.loads(x) for x in lines if '"run_interrupted"' in x]
    assert [(e["stage"], e.get("at_once")) for e in said] == [("train", None)], said
