"""A Python pipeline file that fails as it is imported, through the real CLI in subprocesses.

Session 42: a syntax error in ``[pipeline] entry = "my_pipeline.py:build"``'s file printed a
full Python traceback (exit 1), an ImportError only ``cannot load <file>``, and any other
exception at import a traceback again. Each is now one line naming the file, the line and the
cause, exit 2 (bad input, as every config error); ``--log-level debug`` still shows the
traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from proctools import child_env

pytestmark = pytest.mark.integration

BROKEN = {
    # name: (file body, line, the cause as the one line says it)
    "syntax": (
        "from standard_coder.runner.stage import Pipeline\n\ndef build(config_path, overrides)\n"
        "    return None\n",
        3,
        "SyntaxError: expected ':'",
    ),
    "indent": ("x = 1\n  y = 2\n", 2, "IndentationError: unexpected indent"),
    "import": (
        "import os\nimport no_such_module_sc42\n",
        2,
        "ModuleNotFoundError: No module named 'no_such_module_sc42'",
    ),
    "raises": (
        "def helper():\n    return {}['key']\n\n\nTABLE = helper()\n",
        2,
        "KeyError: 'key'",
    ),
}


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = child_env()
    env["PYTHONPATH"] = os.pathsep.join([str(root), env.get("PYTHONPATH", "")])
    cmd = [sys.executable, "-m", "standard_coder", *args, "--config", str(root / "p.toml")]
    return subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("case", sorted(BROKEN))
@pytest.mark.parametrize("form", ["file", "module"])
def test_a_pipeline_file_that_fails_at_import_is_one_line(
    tmp_path: Path, case: str, form: str
) -> None:
    body, line, cause = BROKEN[case]
    (tmp_path / "my_pipeline.py").write_text(body, encoding="utf-8")
    entry = "my_pipeline.py:build" if form == "file" else "my_pipeline:build"
    (tmp_path / "p.toml").write_text(f'[pipeline]\nentry = "{entry}"\n', encoding="utf-8")
    where = f"{tmp_path / 'my_pipeline.py'}:{line}: {cause}"
    for command in (["pipeline"], ["status"], ["pipeline", "--dry-run"]):
        res = _cli(tmp_path, *command)
        assert res.returncode == 2, res.stderr
        assert "Traceback" not in res.stderr + res.stdout, res.stderr
        (said,) = res.stderr.strip().splitlines()
        assert said == f"error: {where} (entry '{entry}')", said

    debug = _cli(tmp_path, "pipeline", "--log-level", "debug")
    assert debug.returncode == 2
    assert "Traceback" in debug.stderr and debug.stderr.rstrip().endswith(entry + "')")


def test_a_module_entry_that_does_not_exist_still_says_so(tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text('[pipeline]\nentry = "no_such_pipe_sc42:build"\n')
    res = _cli(tmp_path, "pipeline")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip() == (
        "error: entry 'no_such_pipe_sc42:build': module not found (no_such_pipe_sc42)"
    )


def test_a_file_entry_imports_the_modules_beside_it(tmp_path: Path) -> None:
    """``entry = "pipe.py:build"`` whose file imports ``steps`` beside it failed with
    ``ModuleNotFoundError`` unless the user put the folder on ``sys.path`` by hand (``python
    pipe.py`` puts it there); the module form names the file form when such a file exists."""
    (tmp_path / "steps.py").write_text(
        "from pathlib import Path\n"
        "def write(ctx):\n"
        "    Path(ctx.base_dir, 'out.txt').write_text('ok')\n"
    )
    (tmp_path / "pipe.py").write_text(
        "from pathlib import Path\n"
        "from standard_coder.runner.stage import Pipeline, Stage\n"
        "from steps import write\n"
        "def build(config_path, overrides):\n"
        "    base = Path(config_path).parent / 'state'\n"
        "    return Pipeline(name='p', base_dir=base, stages=[\n"
        "        Stage(name='write', run=write, outputs=(base / 'out.txt',))])\n"
    )
    (tmp_path / "p.toml").write_text('[pipeline]\nentry = "pipe.py:build"\n')
    sub = tmp_path / "elsewhere"
    sub.mkdir()
    cmd = [sys.executable, "-m", "standard_coder", "pipeline", "--config", str(tmp_path / "p.toml")]
    res = subprocess.run(cmd, cwd=sub, env=child_env(), capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "state" / "out.txt").read_text() == "ok"
    # the next process skips it (a file's module name was salted per process, so the stage's
    # function was named anew each run and it reran)
    res = subprocess.run(cmd, cwd=sub, env=child_env(), capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "[skip] write: up to date" in res.stderr, res.stderr
    (tmp_path / "p.toml").write_text('[pipeline]\nentry = "pipe.py:biuld"\n')
    res = subprocess.run(cmd, cwd=sub, env=child_env(), capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and res.stderr.strip().endswith(
        "has no attribute 'biuld'; did you mean 'build'?"
    ), res.stderr
    (tmp_path / "p.toml").write_text('[pipeline]\nentry = "pipe:build"\n')
    cmd[-1] = str(tmp_path / "p.toml")
    res = subprocess.run(cmd, cwd=sub, env=child_env(), capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip() == (
        "error: entry 'pipe:build': module not found (pipe); a file beside the config is named "
        "by its path: entry = 'pipe.py:build'"
    )


RAISING_BUILDERS = {
    # name: (file body, line, the cause as the one line says it)
    "keyerror": (
        "def _table():\n    return {}['epochs']\n\n\ndef build(config_path, overrides):\n"
        "    return _table()\n",
        2,
        "KeyError: 'epochs'",
    ),
    "typeerror": (
        "from standard_coder.runner.stage import Pipeline\n\n\n"
        "def build(config_path, overrides):\n    return Pipeline(stages=[], nonsense=1)\n",
        5,
        "TypeError: Pipeline.__init__() got an unexpected keyword argument 'nonsense'",
    ),
    "oserror": (
        "from pathlib import Path\n\n\ndef build(config_path, overrides):\n"
        "    Path(config_path).with_name('absent_sc42.json').read_text()\n",
        5,
        "FileNotFoundError: [Errno 2] No such file or directory:",
    ),
}


@pytest.mark.parametrize("case", sorted(RAISING_BUILDERS))
@pytest.mark.parametrize("form", ["file", "module"])
def test_a_builder_that_raises_is_one_line(tmp_path: Path, case: str, form: str) -> None:
    """Session 42: a builder raising anything but a ValueError printed a Python traceback."""
    body, line, cause = RAISING_BUILDERS[case]
    (tmp_path / "my_pipeline.py").write_text(body, encoding="utf-8")
    entry = "my_pipeline.py:build" if form == "file" else "my_pipeline:build"
    (tmp_path / "p.toml").write_text(f'[pipeline]\nentry = "{entry}"\n', encoding="utf-8")
    where = f"error: {tmp_path / 'my_pipeline.py'}:{line}: {cause}"
    for command in (["pipeline"], ["status"], ["pipeline", "--dry-run"], ["stages"]):
        res = _cli(tmp_path, *command)
        assert res.returncode == 2, res.stderr
        assert "Traceback" not in res.stderr + res.stdout, res.stderr
        (said,) = res.stderr.strip().splitlines()
        assert said.startswith(where), said
        assert said.endswith(f"(entry '{entry}', as it built the pipeline)"), said

    debug = _cli(tmp_path, "pipeline", "--log-level", "debug")
    assert debug.returncode == 2
    assert "Traceback" in debug.stderr and debug.stderr.rstrip().endswith("built the pipeline)")


def test_a_builder_that_rejects_its_config_keeps_its_own_message(tmp_path: Path) -> None:
    """A ValueError is how a builder rejects a config or an override: its message, as is."""
    (tmp_path / "my_pipeline.py").write_text(
        "def build(config_path, overrides):\n"
        "    raise ValueError(f'--set {overrides[0]}: unknown key')\n",
        encoding="utf-8",
    )
    (tmp_path / "p.toml").write_text('[pipeline]\nentry = "my_pipeline.py:build"\n')
    res = _cli(tmp_path, "pipeline", "--set", "x.y=1")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip() == "error: --set x.y=1: unknown key"
