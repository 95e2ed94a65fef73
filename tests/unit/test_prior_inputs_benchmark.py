"""``benchmarks/prior_inputs.py`` computes its candidate columns from a real git history."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from tests.benchmodule import load_benchmark

bench = load_benchmark("prior_inputs")


def _commit(repo: Path, files: dict[str, str], message: str, when: int, email: str) -> str:
    for name, text in files.items():
        (repo / name).write_text(text)
    stamp = f"@{when} +0000"
    env = {**os.environ, "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp,
           "GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_EMAIL": email, "GIT_AUTHOR_NAME": "a",
           "GIT_COMMITTER_NAME": "a"}  # fmt: skip
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True, env=env)
    subprocess.run(["git", "-C", str(repo), "commit", "-q", "-m", message], check=True, env=env)
    return subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()  # fmt: skip


def test_body_and_context_columns_of_a_real_history(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    day = 86400
    first = _commit(repo, {"a.py": "x = 1\ny = 2\n", "README.md": "hi\n"}, "Add a", 1_000_000,
                    "ann@x")  # fmt: skip
    body = ("Fix b (#12)\n\n* first step\n* second step\n\nWhy it matters, in words.\n\n"
            "Co-authored-by: Bo <bo@x>\nSigned-off-by: Ann <ann@x>")  # fmt: skip
    second = _commit(repo, {"a.py": "x = 1\ny = 2\nz = 3\n", "b.py": "b = 1\n"}, body,
                     1_000_000 + 3 * day, "bo@x")  # fmt: skip
    bodies = bench.body_columns(repo)
    assert bodies[first].tolist() == [0, 0, 0, 0]
    # three body lines (trailers left out), their 11 words (a bullet's "*" is one), two
    # bullets, one co-author
    assert bodies[second].tolist() == [3, 11, 2, 1]
    ctx = bench.context_columns(repo)
    names = list(bench.CONTEXT)
    v = dict(zip(names, ctx[second], strict=True))
    assert v["surface|ctx_file_lines"] == 2 and v["surface|ctx_max_file_lines"] == 2  # a.py before
    assert v["surface|ctx_file_commits"] == 1 and v["surface|ctx_new_files"] == 1  # b.py is new
    assert v["surface|ctx_file_age_days"] == 3 and v["surface|ctx_file_authors"] == 1
    assert v["surface|ctx_repo_files"] == 2  # a.py and README.md before the change
    assert np.all(ctx[first][:4] == 0) and ctx[first][4] == 1  # a.py is new: nothing before


def test_diff_columns_of_a_real_history(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    (repo / "pkg").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    first = _commit(repo, {"a.py": "x = 1\ny = 2\n", "README.md": "hi\n"}, "Add a", 1_000_000,
                    "ann@x")  # fmt: skip
    files = {"a.py": "x = 1\ny = x\n", "pkg/c.py": "def f(x):\n\t\t# why\n    return x\n",
             "README.md": "hi there\n"}  # fmt: skip
    second = _commit(repo, files, "Use x", 1_000_100, "ann@x")
    docs_only = _commit(repo, {"README.md": "bye\n"}, "Docs", 1_000_200, "ann@x")
    cols = bench.diff_columns(repo)
    assert docs_only not in cols  # no Python file: no row (the join gives it zeros)
    v = dict(zip(bench.DIFF, cols[second], strict=True))
    assert v["surface|hunks"] == 2 and v["surface|directories"] == 2  # a.py, pkg/c.py
    assert v["surface|distinct_ids"] == 4  # y, x, f, why (def, return: keywords)
    assert v["surface|new_ids"] == 3  # y was on a deleted line too
    assert v["surface|max_indent"] == 2 and v["surface|comment_lines"] == 1  # a tab is four
    assert cols[first].tolist() == [1, 1, 2, 2, 0, 0]
    names, compute = bench.COLUMNS["vocabulary"]
    assert names == bench.DIFF[2:4] and compute(repo)[second].tolist() == [4, 3]


def test_a_column_to_drop_must_be_a_candidate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--corpus", str(tmp_path), "--judge", str(tmp_path), "--clones", str(tmp_path),
            "--inputs", "body"]  # fmt: skip
    with pytest.raises(SystemExit) as stop:
        bench.main([*args, "--drop", "surface|ctx_new_files"])
    assert stop.value.code == 2
    assert "--drop: not a column of --inputs body: surface|ctx_new_files" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        bench.main([*args, "--body-weight", "2"])
    assert stop.value.code == 2 and "--body-weight: between 0 and 1" in capsys.readouterr().err
    # a folder with no trained output: one line, exit 2
    assert bench.main(args) == 2
    assert "no trained output" in capsys.readouterr().err
