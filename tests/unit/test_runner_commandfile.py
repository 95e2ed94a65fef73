"""Command-pipeline files: every malformed case fails before anything runs, naming file,
stage and key."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from standard_coder.runner.command import CommandStage
from standard_coder.runner.commandfile import load_command_pipeline
from standard_coder.runner.engine import validate_pipeline
from standard_coder.runner.errors import PipelineDefinitionError

GOOD = """
[outputs]
base_dir = "state"
[params]
train = { lr = 0.01, epochs = 2 }
[[stages]]
name = "train"
cmd = ["python", "train.py"]
deps = ["train.py", "out/feat.json"]
outs = ["out/model.json"]
params = ["train.lr"]
[[stages]]
name = "feat"
cmd = "python feat.py --k '3 4'"
deps = ["data"]
outs = ["out/feat.json"]
"""


def _load(tmp_path: Path, text: str, overrides: tuple[str, ...] = ()) -> object:
    path = tmp_path / "pipe.toml"
    path.write_text(text)
    return load_command_pipeline(tomllib.loads(text), path, overrides)


def test_good_file_builds_ordered_pipeline(tmp_path: Path) -> None:
    pipe = _load(tmp_path, GOOD)
    names = [s.name for s in pipe.stages]  # type: ignore[attr-defined]
    assert names == ["feat", "train"]  # a dep on another stage's out orders it
    feat, train = pipe.stages  # type: ignore[attr-defined]
    assert train.deps == ("feat",)
    assert train.params == {"train.lr": 0.01}
    assert isinstance(feat.run, CommandStage)
    assert feat.run.argv == ["python", "feat.py", "--k", "3 4"]
    assert pipe.base_dir == tmp_path / "state"  # type: ignore[attr-defined]
    assert train.inputs == (tmp_path / "train.py",)


def test_set_override_changes_params(tmp_path: Path) -> None:
    pipe = _load(tmp_path, GOOD, ("params.train.lr=0.1",))
    assert pipe.stages[1].params == {"train.lr": 0.1}  # type: ignore[attr-defined]


def test_settings_are_read_outside_the_fingerprint_and_never_also_params(tmp_path: Path) -> None:
    """``settings = [...]``: ``[params]`` keys a command reads (``SC_SETTINGS_JSON``) that
    rerun nothing; a key listed in both, or unknown, is refused naming it."""
    text = GOOD.replace(
        'params = ["train.lr"]', 'params = ["train.lr"]\nsettings = ["train.epochs"]'
    )
    train = _load(tmp_path, text, ("params.train.epochs=5",)).stages[1]  # type: ignore[attr-defined]
    assert train.params == {"train.lr": 0.01} and train.settings == {"train.epochs": 5}
    both = GOOD.replace('params = ["train.lr"]', 'params = ["train.lr"]\nsettings = ["train.lr"]')
    with pytest.raises(
        PipelineDefinitionError, match=r"'train': settings: 'train.lr' is also in params"
    ):
        _load(tmp_path, both)
    typo = GOOD.replace('params = ["train.lr"]', 'settings = ["train.epoch"]')
    with pytest.raises(
        PipelineDefinitionError,
        match=r"settings: unknown param key 'train.epoch'.*did you mean 'train.epochs'",
    ):
        _load(tmp_path, typo)


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        (GOOD + "\n[bogus]\nx=1\n", ["bogus", "unknown key"]),
        (GOOD.replace('name = "feat"', 'name = "feat"\ncolour = 1'), ["'feat'", "colour"]),
        (GOOD.replace("cmd = \"python feat.py --k '3 4'\"", ""), ["'feat'", "cmd", "missing"]),
        (GOOD.replace('name = "feat"', 'name = "train"'), ["'train'", "duplicate"]),
        (
            GOOD.replace('params = ["train.lr"]', 'params = ["train.lrr"]'),
            ["'train'", "params", "train.lrr", "train.epochs"],
        ),
        (
            GOOD.replace(
                'outs = ["out/model.json"]', 'outs = ["out/model.json"]\nafter = ["nope"]'
            ),
            ["'train'", "after", "nope"],
        ),
        (
            GOOD.replace('deps = ["data"]', 'deps = ["data"]\nafter = ["train"]'),
            ["cycle", "train", "feat"],
        ),
        ("[outputs]\nbase_dir='x'\nstages = []\n", ["stages"]),
        (GOOD.replace('cmd = ["python", "train.py"]', "cmd = 3"), ["'train'", "cmd"]),
        (GOOD.replace("[outputs]", "[runner]\nfoo = 1\n[outputs]"), ["runner.foo"]),
        # a typo gets the nearest name, wherever it is
        (GOOD.replace("[outputs]", "[pipeline]\nnmae = 'x'\n[outputs]"), ["did you mean 'name'?"]),
        (GOOD.replace('name = "feat"', 'name = "feat"\nout = []'), ["did you mean 'outs'?"]),
        (GOOD + "\n[parms]\nx=1\n", ["did you mean 'params'?"]),
        (
            GOOD.replace('params = ["train.lr"]', 'params = ["train.lrr"]'),
            ["did you mean 'train.lr'?"],
        ),
        (
            GOOD.replace('outs = ["out/model.json"]', 'outs = ["out/model.json"]\nafter = ["fet"]'),
            ["did you mean 'feat'?"],
        ),
    ],
)
def test_malformed_files_name_file_stage_and_key(
    tmp_path: Path, text: str, needles: list[str]
) -> None:
    with pytest.raises(PipelineDefinitionError) as err:
        _load(tmp_path, text)
    message = str(err.value)
    assert "pipe.toml" in message
    for needle in needles:
        assert needle in message


def test_unknown_set_key_is_named(tmp_path: Path) -> None:
    with pytest.raises(PipelineDefinitionError, match=r"params\.train\.lrx.*params\.train\.lr"):
        _load(tmp_path, GOOD, ("params.train.lrx=1",))
    with pytest.raises(PipelineDefinitionError, match=r"outputs\.nope"):
        _load(tmp_path, GOOD, ("outputs.nope=1",))
    with pytest.raises(PipelineDefinitionError, match=r"did you mean 'params\.train\.lr'\?"):
        _load(tmp_path, GOOD, ("params.train.lrr=1",))
    # the name a rerun reason once gave (train.lr) is settable as params.train.lr
    with pytest.raises(PipelineDefinitionError, match=r"did you mean 'params\.train\.lr'\? "):
        _load(tmp_path, GOOD, ("train.lr=1",))
    with pytest.raises(PipelineDefinitionError, match=r"did you mean 'runner\.seed'\?"):
        _load(tmp_path, GOOD, ("runner.sed=1",))


def test_a_rerun_reason_names_a_param_as_set(tmp_path: Path) -> None:
    """``params changed: params.train.lr 0.01 -> 0.1``: the key ``--set`` takes, not the
    stage's own ``train.lr`` (which --set refused)."""
    from standard_coder.runner.fingerprint import params_diff

    old, new = _load(tmp_path, GOOD), _load(tmp_path, GOOD, ("params.train.lr=0.1",))
    train_old, train_new = old.stages[1], new.stages[1]  # type: ignore[attr-defined]
    diff = params_diff(train_old.params, train_new.params, train_new.param_labels)
    assert diff == ["params.train.lr 0.01 -> 0.1"]
    # a list of tables is named by item, with the same prefix
    labels = {"scenarios": "params.scenarios"}
    said = params_diff({"scenarios": [{"when": "a"}]}, {"scenarios": [{"when": "b"}]}, labels)
    assert said == ["params.scenarios[0].when a -> b"]


@given(st.data())
@settings(max_examples=40, deadline=None)
def test_any_acyclic_after_graph_loads_in_topological_order(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 6))
    edges = {
        i: data.draw(st.lists(st.integers(0, i - 1), unique=True, max_size=3)) if i else []
        for i in range(n)
    }
    order = data.draw(st.permutations(list(range(n))))
    lines = []
    for i in order:
        after = ", ".join(f'"s{j}"' for j in edges[i])
        lines.append(f'[[stages]]\nname = "s{i}"\ncmd = "true"\nafter = [{after}]\n')
    text = "\n".join(lines)
    pipe = load_command_pipeline(tomllib.loads(text), Path("/tmp/p.toml"))
    position = {s.name: k for k, s in enumerate(pipe.stages)}
    for i, ups in edges.items():
        for j in ups:
            assert position[f"s{j}"] < position[f"s{i}"]
    validate_pipeline(pipe)


def test_python_missing_from_path_falls_back_to_this_interpreter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    from standard_coder.runner.command import resolve_python

    monkeypatch.setenv("PATH", "/nonexistent")
    assert resolve_python(["python", "x.py"]) == [sys.executable, "x.py"]
    assert resolve_python(["git", "log"]) == ["git", "log"]


def test_a_command_s_code_files_follow_its_scripts_and_skip_what_stages_write(
    tmp_path: Path,
) -> None:
    """A dotted script name (``train.v2.py``) looked one folder too high for its helpers; a
    word longer than a file name failed the whole load; a script a stage writes joined the
    code version only once it existed (its stage ran twice)."""
    from standard_coder.runner.commandfile import _scripts

    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "helpers.py").write_text("def f():\n    return 1\n")
    (tmp_path / "sub" / "train.v2.py").write_text("from helpers import f\n")
    (tmp_path / "gen.py").write_text("print(1)\n")  # a stage's output, there from an old run
    long_word = "echo " + "x" * 300 + " && python sub/train.v2.py"
    files, folders = _scripts(
        [], ["bash", "-c", long_word, "sub/train.v2.py", "gen.py"], tmp_path,
        {tmp_path / "gen.py": "make"},
    )  # fmt: skip
    assert files == {tmp_path / "sub" / "train.v2.py", tmp_path / "sub" / "helpers.py"}
    assert folders == {tmp_path / "sub"}
    # a module a stage writes, imported by a script, is no code either; a package's folder the
    # imports were read in is watched (a module added there may join them)
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "__init__.py").write_text("")
    (tmp_path / "lib" / "cfg.py").write_text("v = 1\n")
    (tmp_path / "genmod.py").write_text("v = 2\n")
    (tmp_path / "run.py").write_text("import genmod\nfrom lib.cfg import v\n")
    files, folders = _scripts([], ["python", "run.py"], tmp_path, {tmp_path / "genmod.py": "make"})
    assert tmp_path / "genmod.py" not in files and tmp_path / "lib" / "cfg.py" in files
    assert {tmp_path, tmp_path / "lib"} <= folders


def test_a_table_override_that_drops_a_listed_key_names_it(tmp_path: Path) -> None:
    """``--set 'params.train={epochs=3}'`` dropped ``train.lr`` and the error blamed the stage
    ("unknown param key 'train.lr'"); a stage reading the whole table takes what it is given."""
    one_by_one = (
        '[params]\ntrain = { lr = 0.1, epochs = 2 }\n[[stages]]\nname = "t"\ncmd = "true"\n'
        'params = ["train.lr", "train.epochs"]\n'
    )
    with pytest.raises(PipelineDefinitionError) as err:
        _load(tmp_path, one_by_one, ("params.train={epochs=3}",))
    assert str(err.value).endswith(
        "--set params.train: replaces the whole table and drops params.train.lr, which stages "
        "read: set its keys one at a time (--set params.train.epochs=...)"
    )
    _load(tmp_path, one_by_one, ("params.train={epochs=3, lr=0.2}",))  # keeps both: fine
    whole = one_by_one.replace('["train.lr", "train.epochs"]', '["train"]')
    _load(tmp_path, whole, ("params.train={epochs=3}",))
    sub = (
        "[params]\ntrain = { opt = { lr = 0.1, mom = 0.9 }, epochs = 2 }\n[[stages]]\n"
        'name = "t"\ncmd = "true"\nparams = ["train.opt", "train.epochs"]\n'
    )
    with pytest.raises(PipelineDefinitionError, match=r"drops params\.train\.opt\.lr"):
        _load(tmp_path, sub, ("params.train={epochs=3}",))  # a sub-table a stage reads
