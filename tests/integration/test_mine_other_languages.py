"""A repository none of whose commits touch an enabled language: the mine stage says which
languages it holds and how to count them (exit 2 when nothing at all was mined; a warning when
other repositories gave commits), and the suggested setting mines it. A repository most of whose
commits touch none: a ``[warn]`` line when those commits change another known language (and the
setting that counts it), a line in the run log when they change only docs, CI or data files."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from gitrepos import BASE_TS, clone_shallow, commit, init, py_lines

from proctools import child_env
from standard_coder.sch.mining.filters import count_languages, count_other_extensions

pytestmark = pytest.mark.integration


def js_repo(path: Path, n: int = 4) -> Path:
    init(path)
    for i in range(n):
        files = {f"lib/m{i % 2}.js": "".join(f"const a{j} = {j};\n" for j in range(i + 2)),
                 "README.md": f"v{i}\n", "node_modules/dep/x.js": "x\n"}  # fmt: skip
        commit(path, files, f"js {i}", ts=BASE_TS + 600 * i)
    return path


def py_repo(path: Path, n: int = 4) -> Path:
    init(path)
    for i in range(n):
        commit(path, {"a.py": py_lines(i + 2)}, f"py {i}", ts=BASE_TS + 600 * i)
    return path


def run_mine(tmp: Path, repos: list[Path], *extra: str) -> subprocess.CompletedProcess[str]:
    cfg = tmp / "pipeline_config.toml"
    paths = json.dumps([str(r) for r in repos])
    cfg.write_text(f"[repos]\ninclude_paths = {paths}\n[runner]\nworkers = 1\n")
    return subprocess.run(
        [sys.executable, "-m", "standard_coder", "pipeline", "--config", str(cfg),
         "--stages", "mine", *extra],
        capture_output=True, text=True, env=child_env(COLUMNS="200"), timeout=300,
        check=False,
    )  # fmt: skip


def test_count_languages_counts_every_known_language_but_vendored_paths() -> None:
    exts = {"python": [".py"], "javascript": [".js", ".mjs"], "go": [".go"]}
    paths = ["a.py", "b.js", "c.MJS", "node_modules/d.js", "e.go", "f.js", "README.md", "Makefile"]
    found = count_languages(paths, exts, ["node_modules/"])
    assert found == {"javascript": 3, "go": 1, "python": 1}
    assert list(found) == ["javascript", "go", "python"]  # most first, then by name
    more = [*paths, "b.ipynb", "c.IPYNB", "node_modules/x.md", "v.1/README"]
    other = count_other_extensions(more, exts, ["node_modules/"])
    assert other == [(".ipynb", 2), (".md", 1)]  # no extension, vendored, known: not counted


def test_a_repository_of_another_language_is_mined_in_it_by_default(tmp_path: Path) -> None:
    """No Python file at HEAD of any configured repository: ``detect`` (on by default) counts
    the languages there, says so in one warning line on every run, and a rerun skips the mine
    (the chosen list is its fingerprint); a Python repository beside it keeps the list."""
    repo = js_repo(tmp_path / "web")
    for i in range(2):
        proc = run_mine(tmp_path, [repo])
        assert proc.returncode == 0, proc.stderr
        (line,) = [s for s in proc.stderr.splitlines() if s.startswith("warning:")]
        assert line == (
            'warning: [filters.languages] enabled = ["python"]: no repository has a file of it '
            "at HEAD; counting javascript (2 files) instead (set detect = false to keep the list)"
        )
        assert ("[done] mine" if i == 0 else "[skip] mine") in proc.stderr, proc.stderr
    assert "nothing to learn from" not in proc.stderr and "Traceback" not in proc.stderr
    db = tmp_path / "sc-output" / "raw" / "mined_commits.sqlite"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        (stored,) = conn.execute("SELECT count(*) FROM commits").fetchone()
        langs = {row[0] for row in conn.execute("SELECT DISTINCT language FROM file_changes")}
    assert stored == 4 and langs == {"javascript"}
    lib = py_repo(tmp_path / "lib")
    proc = run_mine(tmp_path, [repo, lib])
    assert "counting javascript" not in proc.stderr and "nothing mined from" in proc.stderr


def test_nothing_mined_names_the_languages_then_the_suggestion_mines(tmp_path: Path) -> None:
    repo = js_repo(tmp_path / "web")
    proc = run_mine(tmp_path, [repo], "--set", "filters.languages.detect=false")
    assert proc.returncode == 2, proc.stderr
    line = [s for s in proc.stderr.splitlines() if "nothing to learn from" in s]
    assert len(line) == 1 and "Traceback" not in proc.stderr
    assert str(repo) in line[0]
    assert 'enabled = ["python"]' in line[0] and "javascript (2 files)" in line[0]
    suggested = line[0].split("--set '", 1)[1].rstrip(")'")
    again = run_mine(
        tmp_path, [repo], "--set", suggested, "--set", "filters.languages.detect=false"
    )
    assert again.returncode == 0, again.stderr
    assert "nothing to learn from" not in again.stderr


def test_one_empty_repository_among_others_is_a_warning(tmp_path: Path) -> None:
    web, lib = js_repo(tmp_path / "web"), py_repo(tmp_path / "lib")
    for _ in range(2):  # mined, then unchanged: the same warning
        proc = run_mine(tmp_path, [web, lib], "--force")
        assert proc.returncode == 0, proc.stderr
        warning = [s for s in proc.stderr.splitlines() if "nothing mined" in s]
        assert len(warning) == 1 and "javascript" in warning[0]
        assert warning[0].startswith(f"[warn] mine: nothing mined from {web}: "), warning
        assert "WARNING" not in proc.stderr, proc.stderr


def test_a_repository_without_commits_says_so_on_every_run(tmp_path: Path) -> None:
    empty = init(tmp_path / "empty")
    for _ in range(2):  # the failed stage runs again: the same reason
        proc = run_mine(tmp_path, [empty])
        assert proc.returncode == 2, proc.stderr
        assert "nothing to learn from" in proc.stderr and "no commit to mine" in proc.stderr


def test_every_commit_filtered_by_author_says_so(tmp_path: Path) -> None:
    repo = py_repo(tmp_path / "lib")
    proc = run_mine(tmp_path, [repo], "--set", 'filters.authors.exclude=["alice"]')
    assert proc.returncode == 2, proc.stderr
    assert "4 commits by excluded authors ([filters.authors])" in proc.stderr
    assert "touch no file" not in proc.stderr


def test_each_cause_is_named_when_several_apply(tmp_path: Path) -> None:
    """Python commits by an excluded author and JavaScript ones by a kept author: both said."""
    repo = init(tmp_path / "mixed")
    commit(repo, {"a.py": py_lines(3)}, "py", author=("Bot", "bot@example.com"), ts=BASE_TS)
    commit(repo, {"b.js": "const b = 1;\n"}, "js", ts=BASE_TS + 600)
    proc = run_mine(tmp_path, [repo], "--set", 'filters.authors.exclude=["bot@"]')
    assert proc.returncode == 2, proc.stderr
    (line,) = [s for s in proc.stderr.splitlines() if "nothing to learn from" in s]
    assert "1 commit touches no file" in line and "javascript (1 file)" in line
    assert "1 commit by excluded authors" in line


def test_a_shallow_clone_is_told_to_fetch_its_history(tmp_path: Path) -> None:
    src = py_repo(tmp_path / "lib", n=3)
    shallow = clone_shallow(src, tmp_path / "shallow", depth=1)
    proc = run_mine(tmp_path, [shallow])
    assert proc.returncode == 2, proc.stderr
    assert "shallow clone's boundary" in proc.stderr and "git fetch --unshallow" in proc.stderr


def warned(proc: subprocess.CompletedProcess[str]) -> list[str]:
    """The mine stage's ``[warn]`` lines of mostly unmined repositories."""
    return [s for s in proc.stderr.splitlines() if s.startswith("[warn] mine:")]


def test_mostly_other_languages_is_a_warning_naming_them(tmp_path: Path) -> None:
    """Three JavaScript commits and one Python commit: mined, with a ``[warn]`` line that names
    JavaScript and the setting that counts it; mostly notebooks, which no setting counts: a line
    in the run log that names their extension, no warning."""
    web = js_repo(tmp_path / "web", n=3)
    commit(web, {"tool.py": py_lines(4)}, "py", ts=BASE_TS + 6000)
    proc = run_mine(tmp_path, [web])
    assert proc.returncode == 0, proc.stderr
    (line,) = warned(proc)
    assert (
        f"{web}: stored 1 of the 4 commits read: the other 3 touch no file of the enabled "
        "languages (python); 3 of them change files of javascript (3 commits)" in line
    ), line
    assert 'set [filters.languages] enabled = ["python", "javascript"]' in line
    assert "WARNING" not in proc.stderr and "most commits" not in proc.stderr
    events = (tmp_path / "sc-output" / "logs" / "events.jsonl").read_text().splitlines()
    (event,) = [json.loads(e) for e in events if '"stage_warning"' in e]
    assert event["stage"] == "mine" and event["stored"] == 1 and event["read"] == 4
    books = init(tmp_path / "books")
    for i in range(3):
        commit(books, {f"nb{i}.ipynb": '{"cells": []}\n', "data.csv": f"{i}\n"}, f"nb {i}",
               ts=BASE_TS + 600 * i)  # fmt: skip
    commit(books, {"util.py": py_lines(3)}, "py", ts=BASE_TS + 6000)
    proc = run_mine(tmp_path, [books], "--force")
    assert proc.returncode == 0 and not warned(proc), proc.stderr
    log = (tmp_path / "sc-output" / "logs" / "run.log").read_text()
    assert f"{books}: stored 1 of the 4 commits read" in log
    assert "they change .ipynb (3 files), .csv (1 file) and other files of no enabled" in log
    half = py_repo(tmp_path / "lib", n=2)
    commit(half, {"README.md": "docs\n"}, "docs", ts=BASE_TS + 6000)
    proc = run_mine(tmp_path, [half], "--force")
    assert proc.returncode == 0 and "commits read" not in proc.stderr  # 1 of 3: no warning


def _docs_after_python(path: Path, n_py: int, n_docs: int) -> Path:
    """``n_py`` Python commits, then ``n_docs`` documentation commits (some touching CI)."""
    src = init(path)
    for i in range(n_py):
        commit(src, {f"pkg/m{i}.py": py_lines(i + 3)}, f"py {i}", ts=BASE_TS + 600 * i)
    for i in range(n_docs):
        files = {f"docs/p{i}.rst": f"page {i}\n"}
        if i % 2:
            files[".github/ci.yml"] = f"v: {i}\n"
        commit(src, files, f"docs {i}", ts=BASE_TS + 6000 + 600 * i)
    return src


def test_mostly_docs_and_ci_commits_are_no_warning(tmp_path: Path) -> None:
    """A Python library whose other commits are docs, CI and release files (as records' 160 of
    303): nothing to do about them, so a line in the run log, on the whole history or a
    shallow window under three quarters of other files (5 of 7, as tinydb's last 10 to 200
    commits are half docs and CI); the same library with a JavaScript commit among them warns."""
    full = _docs_after_python(tmp_path / "full", 2, 5)
    proc = run_mine(tmp_path, [full])
    assert proc.returncode == 0 and not warned(proc), proc.stderr
    log = (tmp_path / "sc-output" / "logs" / "run.log").read_text()
    assert f"{full}: stored 2 of the 7 commits read: the other 5 touch no file" in log
    assert "(no language a setting would count: no warning)" in log
    src = _docs_after_python(tmp_path / "lib", 6, 5)
    shallow = clone_shallow(src, tmp_path / "shallow", depth=8)  # py 3 is its boundary
    proc = run_mine(tmp_path, [shallow], "--force")
    assert proc.returncode == 0 and not warned(proc), proc.stderr
    log = (tmp_path / "sc-output" / "logs" / "run.log").read_text()
    assert f"{shallow}: stored 2 of the 7 commits read" in log
    assert "(a shallow window under 75% other files: no warning)" in log
    commit(full, {"docs/_static/theme.js": "const t = 1;\n"}, "theme", ts=BASE_TS + 90000)
    proc = run_mine(tmp_path, [full], "--force")
    (line,) = warned(proc)
    assert "stored 2 of the 8 commits read" in line, line
    assert "1 of them changes files of javascript (1 commit)" in line, line


def test_a_shallow_window_of_other_files_names_what_they_change_and_the_shallow_clone(
    tmp_path: Path,
) -> None:
    """The last commits of a shallow clone are nearly all docs and CI (7 of 8): the warning
    names what those commits change and the shallow clone, not HEAD's other files as if it were
    mostly of no known language."""
    src = _docs_after_python(tmp_path / "lib", 6, 7)
    shallow = clone_shallow(src, tmp_path / "shallow", depth=9)  # py 4 is its boundary
    proc = run_mine(tmp_path, [shallow])
    assert proc.returncode == 0, proc.stderr
    (line,) = warned(proc)
    assert "stored 1 of the 8 commits read: the other 7 touch no file" in line, line
    assert "they change .rst (7 files), .yml (1 file)" in line, line
    assert "its files at HEAD" not in line and "of no known language" not in line
    assert "the clone is shallow (only its last 9 commits)" in line
    assert "git fetch --unshallow" in line


def test_detect_counts_the_languages_with_a_share_of_the_files(tmp_path: Path) -> None:
    """TypeScript and JavaScript with 5 % of the files or more are counted, a lone Go file
    among 31 is not; ``detect = false`` and a Python repository beside them keep the list."""
    from standard_coder.pipelines.sch_languages import load_sch_config

    web = init(tmp_path / "web")
    files = {f"src/m{i}.ts": f"export const a{i} = {i};\n" for i in range(28)}
    files |= {"lib/a.js": "x\n", "lib/b.js": "y\n", "tools/gen.go": "package main\n"}
    commit(web, files, "web", ts=BASE_TS)
    cfg_path = tmp_path / "pipeline_config.toml"
    cfg_path.write_text(f'[repos]\ninclude_paths = ["{web}"]\n')
    cfg = load_sch_config(cfg_path)
    assert cfg.filters.languages.enabled == ["typescript", "javascript"]
    assert cfg.config_path == cfg_path  # the rest of the config as loaded
    kept = load_sch_config(cfg_path, ["filters.languages.detect=false"])
    assert kept.filters.languages.enabled == ["python"]
    lib = py_repo(tmp_path / "lib", n=1)
    cfg_path.write_text(f'[repos]\ninclude_paths = ["{web}", "{lib}"]\n')
    assert load_sch_config(cfg_path).filters.languages.enabled == ["python"]


def test_detect_counts_kotlin_beside_java_and_every_default_extension_has_its_language(
    tmp_path: Path,
) -> None:
    """square/moshi: 86 Kotlin files and 57 Java at HEAD; Kotlin was no known language, so
    detection mined the Java alone (337 of 1,501 commits). The default table's every extension
    is a language to the tokenizer too (not ``other``)."""
    from standard_coder.config.mining import DEFAULT_LANGUAGE_EXTENSIONS
    from standard_coder.pipelines.sch_languages import load_sch_config
    from standard_coder.sch.features.tokens import language_of

    lib = init(tmp_path / "lib")
    files = {f"moshi/src/K{i}.kt": f"class K{i}\n" for i in range(6)}
    files |= {f"moshi/src/J{i}.java": f"class J{i} {{}}\n" for i in range(4)}
    commit(lib, {**files, "build.gradle.kts": "plugins {}\n"}, "kotlin", ts=BASE_TS)
    cfg_path = tmp_path / "pipeline_config.toml"
    cfg_path.write_text(f'[repos]\ninclude_paths = ["{lib}"]\n')
    assert load_sch_config(cfg_path).filters.languages.enabled == ["kotlin", "java"]
    for language, extensions in DEFAULT_LANGUAGE_EXTENSIONS.items():
        for ext in extensions:
            assert language_of(f"src/a{ext}") == language, ext


def test_detect_leaves_documentation_and_example_folders_out_of_which_languages_count(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Alamofire: its generated documentation's JavaScript (``docs/js``, 10 of 108 files) was
    counted beside Swift; dio: its example apps' C++ runners beside Dart. Files in such folders
    do not make a language counted, unless the project has no other file of a known language."""
    from standard_coder.pipelines.sch_languages import load_sch_config

    app = init(tmp_path / "app")
    files = {f"Source/S{i}.swift": f"let s{i} = {i}\n" for i in range(18)}
    files |= {f"docs/js/j{i}.js": "x\n" for i in range(2)}
    files |= {f"example_flutter_app/linux/m{i}.cc": "int m;\n" for i in range(2)}
    files |= {"plugins/native/example/windows/w.cpp": "int w;\n", "docs/conf.py": "x = 1\n"}
    commit(app, files, "swift", ts=BASE_TS)
    cfg_path = tmp_path / "pipeline_config.toml"
    cfg_path.write_text(f'[repos]\ninclude_paths = ["{app}"]\n')
    capfd.readouterr()
    assert load_sch_config(cfg_path).filters.languages.enabled == ["swift"]
    assert capfd.readouterr().err == (
        'warning: [filters.languages] enabled = ["python"]: no repository has a file of it at '
        "HEAD outside documentation and example folders; counting swift (18 files) instead "
        "(set detect = false to keep the list)\n"
    )
    # the same files with the language's own code elsewhere in the tree: counted as before
    commit(app, {f"Tools/t{i}.js": "t\n" for i in range(2)}, "tools", ts=BASE_TS + 600)
    assert load_sch_config(cfg_path).filters.languages.enabled == ["swift", "javascript"]
    # a Go project with a Sphinx docs/conf.py: Python there does not stop detection acting;
    # a package named doc deeper down is code (Go's own go/doc)
    tool = init(tmp_path / "tool")
    files = {f"cmd/m{i}.go": "package main\n" for i in range(15)}
    commit(tool, {**files, "docs/conf.py": "x = 1\n", "src/go/doc/d.go": "package doc\n"}, "go",
           ts=BASE_TS)  # fmt: skip
    cfg_path.write_text(f'[repos]\ninclude_paths = ["{tool}"]\n')
    assert load_sch_config(cfg_path).filters.languages.enabled == ["go"]
    from standard_coder.pipelines.sch_languages import ASIDE

    assert not [p for p in ("src/go/doc/d.go", "pkg/doc_parser/p.go", "sample_rate/x.py",
                            "demo_server/app.go") if ASIDE.search(p)]  # fmt: skip
    # a project of examples alone: what they hold is what it holds
    demos = init(tmp_path / "demos")
    commit(demos, {f"examples/e{i}.go": "package main\n" for i in range(3)}, "go", ts=BASE_TS)
    cfg_path.write_text(f'[repos]\ninclude_paths = ["{demos}"]\n')
    assert load_sch_config(cfg_path).filters.languages.enabled == ["go"]


def test_detect_adds_the_language_of_a_project_with_a_few_python_scripts(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A Go project with one Python script among 30 files: Go is counted beside Python (the
    script's commits stay); with two scripts in 31 files (6.5 %) it is a Python project too."""
    from standard_coder.pipelines.sch_languages import load_sch_config

    tool = init(tmp_path / "tool")
    files = {f"cmd/m{i}.go": f"package main\n// {i}\n" for i in range(29)}
    commit(tool, {**files, "scripts/release.py": py_lines(3)}, "go", ts=BASE_TS)
    cfg_path = tmp_path / "pipeline_config.toml"
    cfg_path.write_text(f'[repos]\ninclude_paths = ["{tool}"]\n')
    assert load_sch_config(cfg_path).filters.languages.enabled == ["python", "go"]
    assert capfd.readouterr().err == (
        'warning: [filters.languages] enabled = ["python"]: only 1 of the 30 files of known '
        "languages at HEAD are in it; also counting go (29 files) (set detect = false to keep "
        "the list)\n"
    )
    commit(tool, {"scripts/check.py": py_lines(2)}, "py", ts=BASE_TS + 600)
    assert load_sch_config(cfg_path).filters.languages.enabled == ["python"]


def test_detect_reads_the_repositories_the_mine_reads(tmp_path: Path) -> None:
    """A configured folder inside a JavaScript repository is read as that repository (as the
    mine reads it), and a missing path beside it is passed by (the mine names it)."""
    from standard_coder.pipelines.sch_languages import load_sch_config

    web = js_repo(tmp_path / "web")
    (web / "lib" / "sub").mkdir()
    cfg_path = tmp_path / "pipeline_config.toml"
    cfg_path.write_text(f'[repos]\ninclude_paths = ["{web / "lib"}", "{tmp_path / "gone"}"]\n')
    assert load_sch_config(cfg_path).filters.languages.enabled == ["javascript"]
