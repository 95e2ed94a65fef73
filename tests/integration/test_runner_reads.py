"""``Stage(reads=...)``: of its deps' outputs, only those a stage reads are its inputs.

Real pipelines on real files: a change to an upstream output the stage does not read reruns
nothing here (run, ``status`` and the upstream checks agree), a change to one it reads reruns
it, and a ``reads`` path that is no output of its deps is refused before anything runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from enginetools import reasons, run
from proctools import child_env
from standard_coder.runner.engine import plan_pipeline
from standard_coder.runner.errors import PipelineDefinitionError, UpstreamMissing
from standard_coder.runner.stage import Pipeline, Stage

pytestmark = pytest.mark.integration


def split_pipeline(root: Path, calls: Counter[str], reads: tuple[Path, ...] | None) -> Pipeline:
    """``split`` copies ``data/<part>.txt`` to ``out/processed/<part>/rows.txt``; ``evaluate``
    (deps ``split``) opens the test part only, and declares ``reads`` as given."""
    data, processed = root / "data", root / "out" / "processed"

    def split(ctx: Any) -> None:
        calls["split"] += 1
        for part in ("train", "test"):
            (processed / part).mkdir(parents=True, exist_ok=True)
            (processed / part / "rows.txt").write_text((data / f"{part}.txt").read_text())

    def evaluate(ctx: Any) -> None:
        calls["evaluate"] += 1
        rows = (processed / "test" / "rows.txt").read_text().split()
        (root / "out" / "score.txt").write_text(f"{len(rows)}\n")

    return Pipeline(
        name="reads",
        base_dir=root / "state",
        stages=[
            Stage(name="split", run=split, inputs=(data,), outputs=(processed,)),
            Stage(
                name="evaluate",
                run=evaluate,
                deps=("split",),
                reads=reads,
                outputs=(root / "out" / "score.txt",),
            ),
        ],
    )


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.txt").write_text("a b c\n")
    (tmp_path / "data" / "test.txt").write_text("x y\n")
    return tmp_path


def test_an_unread_part_of_an_upstream_folder_reruns_nothing_downstream(root: Path) -> None:
    calls: Counter[str] = Counter()
    pipe = split_pipeline(root, calls, reads=(root / "out" / "processed" / "test",))
    assert run(pipe)[0].exit_code == 0
    (root / "data" / "train.txt").write_text("a b c d\n")  # only the train part changes
    result, sink = run(pipe)
    assert result.exit_code == 0 and calls == Counter(split=2, evaluate=1)
    assert reasons(sink, "stage_cache_miss") == {"split": "input changed: data/train.txt"}
    # split rewrote the test part with the same rows: a stat change, no rerun
    assert reasons(sink, "stage_skipped") == {"evaluate": "mtime changed, content same"}
    manifest = (root / "state" / "stages" / "evaluate" / "manifest.json").read_text()
    assert "out/processed/test" in manifest and "out/processed/train" not in manifest
    # the part it reads changes: it reruns, naming the file
    (root / "data" / "test.txt").write_text("x y z\n")
    _, sink = run(pipe)
    assert calls == Counter(split=3, evaluate=2)
    assert reasons(sink, "stage_cache_miss") == {
        "split": "input changed: data/test.txt",
        "evaluate": "input changed: out/processed/test/rows.txt",
    }
    assert (root / "out" / "score.txt").read_text() == "3\n"


def test_without_reads_every_output_of_the_deps_is_an_input(root: Path) -> None:
    calls: Counter[str] = Counter()
    pipe = split_pipeline(root, calls, reads=None)
    run(pipe)
    (root / "data" / "train.txt").write_text("a b c d\n")
    _, sink = run(pipe)
    assert calls == Counter(split=2, evaluate=2)
    assert reasons(sink, "stage_cache_miss")["evaluate"] == (
        "input changed: out/processed/train/rows.txt"
    )


def two_deps(root: Path, calls: Counter[str]) -> Pipeline:
    """``a`` and ``b`` each copy their data file (``b`` also writes a report nobody reads);
    ``c`` (deps ``a``, ``b``) reads ``b``'s copy only: ``a`` merely runs before it."""
    out = root / "out"

    def copy(name: str) -> Any:
        def stage(ctx: Any) -> None:
            calls[name] += 1
            out.mkdir(exist_ok=True)
            text = (root / "data" / f"{name}.txt").read_text()
            (out / f"{name}.txt").write_text(text)
            if name == "b":
                (out / "b_report.txt").write_text(f"{calls[name]} runs\n")

        return stage

    def combine(ctx: Any) -> None:
        calls["c"] += 1
        (out / "c.txt").write_text((out / "b.txt").read_text().upper())

    return Pipeline(
        name="two",
        base_dir=root / "state",
        stages=[
            Stage(name="a", run=copy("a"), inputs=(root / "data" / "a.txt",),
                  outputs=(out / "a.txt",)),
            Stage(
                name="b",
                run=copy("b"),
                inputs=(root / "data" / "b.txt",),
                outputs=(out / "b.txt", out / "b_report.txt"),
            ),
            Stage(name="c", run=combine, deps=("a", "b"), reads=(out / "b.txt",),
                  outputs=(out / "c.txt",)),
        ],
    )  # fmt: skip


def test_status_and_the_run_agree_on_what_a_stage_reads(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    for name in ("a", "b"):
        (tmp_path / "data" / f"{name}.txt").write_text(f"{name}\n")
    calls: Counter[str] = Counter()
    pipe = two_deps(tmp_path, calls)
    run(pipe)
    # a dep it reads nothing of will run: status does not predict a rerun here
    (tmp_path / "data" / "a.txt").write_text("a2\n")
    plans = {p.stage: (p.run, p.reason) for p in plan_pipeline(pipe)}
    assert plans == {
        "a": (True, "input changed: data/a.txt"),
        "b": (False, "up to date"),
        "c": (False, "up to date"),
    }
    _, sink = run(pipe)
    assert calls == Counter(a=2, b=1, c=1) and set(reasons(sink, "stage_cache_miss")) == {"a"}
    # b reruns (its report changes every run) with the same copy: c stays cached
    run(pipe, stages=["b"], force=True)
    _, sink = run(pipe)
    assert calls == Counter(a=2, b=2, c=1)
    assert reasons(sink, "stage_skipped")["c"] == "mtime changed, content same"
    # the dep it reads will run: status says so
    (tmp_path / "data" / "b.txt").write_text("b2\n")
    plans = {p.stage: (p.run, p.reason) for p in plan_pipeline(pipe)}
    assert plans["c"] == (True, "upstream will run: b")
    # selected alone, c needs what it reads of b only: a's missing output does not stop it
    (tmp_path / "out" / "a.txt").unlink()
    result, sink = run(pipe, stages=["c"])
    assert result.exit_code == 0 and result.stages["c"].status == "skipped"
    # a would rerun (its output is gone) and b too (its data changed): only b stales c
    stale = [e["upstream"] for e in sink.events if e["event"] == "upstream_stale"]
    assert stale == ["b"]
    (tmp_path / "out" / "b.txt").unlink()
    with pytest.raises(
        UpstreamMissing, match=r"upstream stage 'b', which are missing \(out/b\.txt\)"
    ):
        run(pipe, stages=["c"])


def test_a_reads_path_that_no_dep_makes_is_refused(root: Path) -> None:
    calls: Counter[str] = Counter()
    elsewhere = root / "out" / "elsewhere.txt"
    pipe = split_pipeline(root, calls, reads=(elsewhere,))
    expected = (
        f"stage 'evaluate': reads {elsewhere}, which is no output of its deps ('split') "
        "nor inside one"
    )
    with pytest.raises(PipelineDefinitionError) as err:
        run(pipe)
    assert str(err.value) == expected
    with pytest.raises(PipelineDefinitionError, match=r"reads .* which is no output"):
        list(plan_pipeline(pipe))
    assert calls == Counter() and not (root / "state" / "stages").exists()
    # a stage without deps reads no upstream output
    lone = Pipeline(
        name="lone",
        base_dir=root / "state",
        stages=[Stage(name="x", run=lambda ctx: None, reads=(elsewhere,), outputs=(elsewhere,))],
    )
    with pytest.raises(
        PipelineDefinitionError, match="which is no output of a dep: it has no deps"
    ):
        run(lone)


BAD_READS = """
from pathlib import Path
from standard_coder.runner.stage import Pipeline, Stage
def make(ctx):
    (Path(ctx.base_dir) / "made.txt").write_text("x")
def build(config_path, overrides):
    base = Path(config_path).parent / "state"
    return Pipeline(name="py", base_dir=base, stages=[
        Stage(name="make", run=make, outputs=(base / "made.txt",)),
        Stage(name="use", run=make, deps=("make",), reads=(base / "typo.txt",),
              outputs=(base / "used.txt",)),
    ])
"""


def test_the_cli_names_the_bad_reads_path_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "badreads.py").write_text(BAD_READS)
    cfg = tmp_path / "p.toml"
    cfg.write_text('[pipeline]\nentry = "badreads.py:build"\n')
    for args in (["pipeline"], ["status"]):
        res = subprocess.run(
            [sys.executable, "-m", "standard_coder", *args, "--config", str(cfg)],
            capture_output=True,
            text=True,
            timeout=60,
            env=child_env(),
            cwd=tmp_path,
        )
        assert res.returncode == 2, res.stderr
        (line,) = res.stderr.strip().splitlines()
        assert line == (
            f"error: stage 'use': reads {tmp_path / 'state' / 'typo.txt'}, which is no output "
            "of its deps ('make') nor inside one"
        )
        assert "Traceback" not in res.stderr
    assert not (tmp_path / "state" / "made.txt").exists()


STEPS = """
import sys
from pathlib import Path
mode, out = sys.argv[1], Path("out")
out.mkdir(exist_ok=True)
if mode == "feat":
    feat, log = Path("data.txt").read_text().split("|")
    (out / "feat.json").write_text(feat)
    (out / "log.txt").write_text(log)
elif mode == "train":
    (out / "model.txt").write_text((out / "feat.json").read_text().upper())
else:
    (out / "note.txt").write_text("noted")
"""

COMMANDS = """
[outputs]
base_dir = "state"
[[stages]]
name = "feat"
cmd = ["python", "steps.py", "feat"]
deps = ["steps.py", "data.txt"]
outs = ["out/feat.json", "out/log.txt"]
[[stages]]
name = "train"
cmd = ["python", "steps.py", "train"]
deps = ["steps.py", "out/feat.json"]
outs = ["out/model.txt"]
[[stages]]
name = "note"
cmd = ["python", "steps.py", "note"]
deps = ["steps.py"]
outs = ["out/note.txt"]
after = ["train"]
"""


def test_a_command_stage_reads_the_outs_it_lists_and_after_only_orders(tmp_path: Path) -> None:
    import tomllib

    from standard_coder.runner.commandfile import load_command_pipeline

    (tmp_path / "steps.py").write_text(STEPS)
    (tmp_path / "data.txt").write_text("f1|log1")
    config = tmp_path / "pipe.toml"
    config.write_text(COMMANDS)
    pipe = load_command_pipeline(tomllib.loads(COMMANDS), config, ())
    by_name = {s.name: s for s in pipe.stages}
    assert by_name["train"].reads == (tmp_path / "out" / "feat.json",)
    assert by_name["note"].deps == ("train",) and by_name["note"].reads == ()
    assert run(pipe)[0].exit_code == 0
    # the log feat writes beside its features changes: train does not read it
    (tmp_path / "data.txt").write_text("f1|log2")
    _, sink = run(pipe)
    assert set(reasons(sink, "stage_cache_miss")) == {"feat"}
    assert reasons(sink, "stage_skipped")["train"] == "mtime changed, content same"
    # the features change: train reruns; note (after = ["train"]) only waits for it
    (tmp_path / "data.txt").write_text("f2|log2")
    _, sink = run(pipe)
    assert reasons(sink, "stage_cache_miss") == {
        "feat": "input changed: data.txt",
        "train": "input changed: out/feat.json",
    }
    assert reasons(sink, "stage_skipped")["note"] == "up to date"
    assert (tmp_path / "out" / "model.txt").read_text() == "F2"


def test_status_names_the_upstream_when_the_path_a_stage_reads_moves(tmp_path: Path) -> None:
    """A param that moves an upstream output (the sch predictor's model folder) made status say
    ``input changed: <the old path>`` for the reader; the upstream's rerun is the reason. A
    change to the reader's own input keeps its own reason."""
    (tmp_path / "data.txt").write_text("1 2 3\n")
    (tmp_path / "sprint.txt").write_text("s1\n")

    def pipeline(kind: str) -> Pipeline:
        model = tmp_path / "models" / kind / "model.txt"

        def train(ctx: Any) -> None:
            model.parent.mkdir(parents=True, exist_ok=True)
            model.write_text(kind + (tmp_path / "data.txt").read_text())

        def forecast(ctx: Any) -> None:
            (tmp_path / "forecast.txt").write_text(model.read_text())

        return Pipeline(
            name="moves",
            base_dir=tmp_path / "state",
            stages=[
                Stage(
                    name="train",
                    run=train,
                    inputs=(tmp_path / "data.txt",),
                    outputs=(model,),
                    params={"kind": kind},
                ),
                Stage(
                    name="forecast",
                    run=forecast,
                    deps=("train",),
                    inputs=(tmp_path / "sprint.txt",),
                    outputs=(tmp_path / "forecast.txt",),
                ),
            ],
        )

    run(pipeline("auto"))
    plans = {p.stage: (p.run, p.reason) for p in plan_pipeline(pipeline("mdn"))}
    assert plans["forecast"] == (True, "upstream will run: train"), plans
    (tmp_path / "sprint.txt").write_text("s2\n")
    plans = {p.stage: (p.run, p.reason) for p in plan_pipeline(pipeline("auto"))}
    assert plans["forecast"] == (True, "input changed: sprint.txt"), plans


def test_a_stage_s_own_new_input_is_its_reason_while_upstream_also_runs(tmp_path: Path) -> None:
    """A new input of the stage's own, said with ``(new)``, was taken for an upstream output
    and the reason became "upstream will run"."""
    (tmp_path / "a.txt").write_text("1")
    (tmp_path / "extra.txt").write_text("x")

    def a(ctx: Any) -> None:
        (tmp_path / "out_a.txt").write_text((tmp_path / "a.txt").read_text())

    def b(ctx: Any) -> None:
        (tmp_path / "out_b.txt").write_text("b")

    def pipeline(extra: bool) -> Pipeline:
        inputs = (tmp_path / "out_a.txt", *((tmp_path / "extra.txt",) if extra else ()))
        return Pipeline(name="u", base_dir=tmp_path / "state", stages=[
            Stage(name="a", run=a, inputs=(tmp_path / "a.txt",), outputs=(tmp_path / "out_a.txt",)),
            Stage(name="b", run=b, deps=("a",), inputs=inputs, outputs=(tmp_path / "out_b.txt",)),
        ])  # fmt: skip

    run(pipeline(False))
    (tmp_path / "a.txt").write_text("2")
    plans = {p.stage: (p.run, p.reason) for p in plan_pipeline(pipeline(True))}
    assert plans["b"] == (True, "input changed: extra.txt (new)"), plans


def keyed_pipeline(
    root: Path, calls: Counter[str], keys: dict[Path, Path] | None = None
) -> Pipeline:
    """``collect`` copies ``data/rows.txt`` to ``out/rows.db`` with a log line of its own
    (bookkeeping), and writes ``out/rows.key``: the digest of the rows alone; ``count`` reads
    ``out/rows.db`` through that key (``input_keys``)."""
    import hashlib

    out = root / "out"

    def collect(ctx: Any) -> None:
        calls["collect"] += 1
        out.mkdir(exist_ok=True)
        rows = (root / "data" / "rows.txt").read_text()
        (out / "rows.db").write_text(f"# collected run {calls['collect']}\n{rows}")
        key = hashlib.sha256(rows.encode()).hexdigest()
        if not (out / "rows.key").exists() or (out / "rows.key").read_text() != key:
            (out / "rows.key").write_text(key)

    def count(ctx: Any) -> None:
        calls["count"] += 1
        rows = [ln for ln in ctx.inputs["db"].read_text().splitlines() if not ln.startswith("#")]
        (out / "n.txt").write_text(f"{len(rows)}\n")

    return Pipeline(
        name="keyed",
        base_dir=root / "state",
        stages=[
            Stage(name="collect", run=collect, inputs=(root / "data" / "rows.txt",),
                  outputs=(out / "rows.db", out / "rows.key")),
            Stage(name="count", run=count, deps=("collect",), named_inputs={"db": out / "rows.db"},
                  input_keys={out / "rows.db": out / "rows.key"} if keys is None else keys,
                  outputs=(out / "n.txt",)),
        ],
    )  # fmt: skip


def test_a_stage_reading_through_a_key_reruns_only_when_the_key_changes(tmp_path: Path) -> None:
    """The mine's case: its database records what it looked at besides the rows training reads;
    the downstream stage's fingerprint covers the key the upstream writes, not the file."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "rows.txt").write_text("a\nb\n")
    calls: Counter[str] = Counter()
    pipe = keyed_pipeline(tmp_path, calls)
    run(pipe)
    manifest = json.loads((tmp_path / "state" / "stages" / "count" / "manifest.json").read_text())
    assert "out/rows.db" in manifest["inputs"] and "out/rows.key" not in manifest["inputs"]
    # the file changes (its log line), its rows do not: collect reruns alone
    (tmp_path / "data" / "rows.txt").write_text("a\nb\n")
    _, sink = run(pipe, stages=["collect"], force=True)
    _, sink = run(pipe)
    assert calls == Counter(collect=2, count=1)
    assert reasons(sink, "stage_skipped") == {"collect": "up to date", "count": "up to date"}
    assert {p.stage: p.run for p in plan_pipeline(pipe)} == {"collect": False, "count": False}
    # the rows change: the key does, and count reruns naming the file it reads; before the
    # run, status can only say it may (collect will run, and the key may stay as it is)
    (tmp_path / "data" / "rows.txt").write_text("a\nb\nc\n")
    plans = {p.stage: (p.run, p.maybe, p.reason) for p in plan_pipeline(pipe)}
    assert plans == {
        "collect": (True, False, "input changed: data/rows.txt"),
        "count": (True, True, "upstream will run: collect, read through a key (it reruns only "
                              "if what it reads changes)"),
    }  # fmt: skip
    _, sink = run(pipe)
    assert calls == Counter(collect=3, count=2)
    assert reasons(sink, "stage_cache_miss")["count"] == "input changed: out/rows.db"
    assert (tmp_path / "out" / "n.txt").read_text() == "3\n"
    # collect run alone on new rows: count's recorded key is stale, so with collect to run
    # again it will run whatever collect writes (not "may")
    (tmp_path / "data" / "rows.txt").write_text("a\nb\nc\nd\n")
    run(pipe, stages=["collect"])
    (tmp_path / "data" / "rows.txt").write_text("a\nb\nc\nd\ne\n")
    plans = {p.stage: (p.run, p.maybe, p.reason) for p in plan_pipeline(pipe)}
    assert plans["count"] == (True, False, "upstream will run: collect"), plans
    # back to the rows count last read: the key is the one it recorded, so it is skipped
    (tmp_path / "data" / "rows.txt").write_text("a\nb\nc\n")
    run(pipe)
    assert calls == Counter(collect=5, count=2)
    # the key deleted by hand: collect makes it again, and count may rerun (it said "PATH:
    # declared path does not exist"; an upstream output deleted by hand is said the same way)
    (tmp_path / "out" / "rows.key").unlink()
    plans = {p.stage: (p.run, p.maybe, p.reason) for p in plan_pipeline(pipe)}
    assert plans["collect"] == (True, False, "outputs missing: out/rows.key")
    assert plans["count"][:2] == (True, True), plans
    _, sink = run(pipe)
    assert calls == Counter(collect=6, count=2)  # the same rows: the same key, count skipped


def test_an_input_key_that_is_no_input_or_no_dep_output_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    calls: Counter[str] = Counter()
    stray = tmp_path / "elsewhere.key"
    with pytest.raises(PipelineDefinitionError) as err:
        run(keyed_pipeline(tmp_path, calls, {out / "rows.db": stray}))
    assert str(err.value) == (
        f"stage 'count': input_keys gives {out / 'rows.db'} the key {stray}, which is no other "
        "output of the dep it reads that writes the input: the stage that writes the input "
        "writes its key"
    )
    # a file of the user's with a key an upstream stage writes: the key cannot stand for it
    mine = tmp_path / "data" / "rows.txt"
    pipe = keyed_pipeline(tmp_path, calls, {out / "rows.db": out / "rows.key"})
    count = pipe.stages[1]
    stray_reader = Pipeline(name="keyed", base_dir=pipe.base_dir, stages=[pipe.stages[0], Stage(
        name="count", run=count.run, deps=("collect",), named_inputs={"db": mine},
        input_keys={mine: out / "rows.key"}, outputs=count.outputs)])  # fmt: skip
    with pytest.raises(PipelineDefinitionError, match="which is no other output of the dep"):
        run(stray_reader)
    with pytest.raises(PipelineDefinitionError) as err:
        run(keyed_pipeline(tmp_path, calls, {out / "other.db": out / "rows.key"}))
    assert str(err.value) == (
        f"stage 'count': input_keys names {out / 'other.db'}, which is none of its inputs "
        "(named_inputs, or an output of a dep it reads)"
    )
    assert calls == Counter() and not (tmp_path / "state" / "stages").exists()
