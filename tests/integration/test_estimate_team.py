"""``estimate``, the ``team_output`` stage and the pipeline's closing summary, on the tiny demo.

A real simulated team (git repositories with known truth), real mining and training; tiny sizes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gitrepos import counting_git

from proctools import child_env, in_terminal
from standard_coder.config import load_config
from standard_coder.pipelines.sch_estimate import EstimateInputError, Target, estimate
from standard_coder.pipelines.sch_layout import SchLayout
from standard_coder.sch.features.describe import describe_feature

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def cli(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "standard_coder", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=child_env(COLUMNS="120", **env),
        timeout=600,
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("demo")
    proc = cli("demo", "--output-dir", str(out), "--size", "tiny")
    assert proc.returncode == 0, proc.stderr
    return out, proc.stderr


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


def test_the_run_ends_with_the_summary_and_training_progress(demo: tuple[Path, str]) -> None:
    out, err = demo
    assert "What the effort model learned" in err
    assert "How sure, on " in err and "ranks above lines added: " in err  # target intervals
    assert f"Report: {out / 'sc-output' / 'reports' / 'index.html'}" in err
    assert "Team output: " in err and "P(complete by end)" in err and "(P85)" in err
    assert "ok: 4 ran" in err  # mine, train_sch, team_output, forecast
    # the effort model's bar ends whatever auto chose: epochs of a network, or a closed form
    chosen = json.loads((out / "sc-output" / "reports" / "sch_evaluation.json").read_text())
    if chosen["model_selection"]["kind"] == "shift":
        assert f"training auto: {chosen['model_selection']['chosen']}, fitted in closed" in err
    else:
        assert "training auto: loss " in err
    # the summary is printed once (by the pipeline's hook), not again by the demo
    assert err.count("What the effort model learned") == 1


def test_range_estimate_is_the_sum_of_its_commits(demo: tuple[Path, str]) -> None:
    out, _ = demo
    cfg = load_config(out / "pipeline_config.toml", [])
    repo = out / "repos" / "repo-0"
    ids = _git(repo, "rev-list", "--reverse", "HEAD~4..HEAD").split()
    doc = estimate(cfg, Target(rev="HEAD~4..HEAD"), repo=repo)
    assert [c["commit_id"] for c in doc["changes"]] == ids
    singles = [estimate(cfg, Target(rev=c), repo=repo)["changes"][0] for c in ids]
    for whole, one in zip(doc["changes"], singles, strict=True):
        assert whole["sch_hours"] == pytest.approx(one["sch_hours"], rel=1e-5)
        assert whole["q90"] == pytest.approx(one["q90"], rel=1e-5)
        assert whole["top_features"], "each commit names the features that weigh most"
    total = doc["total"]
    assert total["sch_hours"] == pytest.approx(sum(c["sch_hours"] for c in singles), rel=1e-5)
    # quantiles of the summed distribution: inside the sums of the per-change quantiles
    assert sum(c["q10"] for c in singles) <= total["q10"] <= total["q50"] <= total["q90"]
    assert total["q90"] <= sum(c["q90"] for c in singles)


def test_an_empty_range_whose_ends_are_swapped_says_so(demo: tuple[Path, str]) -> None:
    """``HEAD..HEAD~2`` priced nothing with exit 0 and no word that the ends were swapped."""
    out, _ = demo
    cfg = load_config(out / "pipeline_config.toml", [])
    repo = out / "repos" / "repo-0"
    doc = estimate(cfg, Target(rev="HEAD..HEAD~2"), repo=repo)
    assert doc["changes"] == []
    n = len(_git(repo, "rev-list", "--no-merges", "HEAD~2..HEAD").split())
    assert doc["note"] == (
        f"HEAD..HEAD~2 holds no commit: nothing to price (HEAD~2..HEAD holds {n} commit(s): "
        "are the ends swapped?)"
    )
    assert "swapped" not in estimate(cfg, Target(rev="HEAD..HEAD"), repo=repo)["note"]


def test_json_goes_to_stdout_only_with_the_contract_keys(demo: tuple[Path, str]) -> None:
    out, _ = demo
    repo = out / "repos" / "repo-1"
    proc = cli("estimate", "-c", str(out / "pipeline_config.toml"), "HEAD~2..HEAD", "--json",
               cwd=repo)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)  # nothing but the JSON document on stdout
    # the run summary's warnings about the model come with its figures (itsdangerous: the run
    # said "mostly noise", the estimate said nothing), in the JSON and in one stderr line
    from standard_coder.pipelines.sch_warnings import warnings

    evaluation = json.loads((out / "sc-output" / "reports" / "sch_evaluation.json").read_text())
    said = list(warnings(evaluation))
    assert set(doc) == {"model", "total", "changes"} | ({"model_warnings"} if said else set())
    assert doc.get("model_warnings", []) == said
    weak = [ln for ln in proc.stderr.splitlines() if "the effort model behind" in ln]
    if said:
        (line,) = weak  # 120 columns: the warning may still wrap, its start is on this line
        line = " ".join(proc.stderr[proc.stderr.index(line) :].split())
        assert line.startswith(
            f"warning: the effort model behind these figures is weak here: {said[0]}"
        )
        assert (f"({len(said) - 1} more caveat" in line) == (len(said) > 1)
    else:
        assert weak == []
    assert set(doc["total"]) == {"sch_hours", "q10", "q50", "q90", "correlation"}
    assert 0.0 <= doc["total"]["correlation"] < 1.0  # what its draws were paired at
    assert len(doc["changes"]) == 2
    for c in doc["changes"]:
        assert {"commit_id", "sch_hours", "q10", "q50", "q90", "lines_added",
                "lines_deleted"} <= set(c)  # fmt: skip


def test_on_an_80_column_terminal_the_title_and_notes_read_whole(demo: tuple[Path, str]) -> None:
    """Session 40: ``Estimate, model: auto (<path>/model.pt)`` wrapped onto two lines over a
    narrow table, and the notes broke inside ``(+0.01 h)``: the title names the model, the
    file has a line of its own, and the notes break outside parentheses."""
    out, _ = demo
    cfg = load_config(out / "pipeline_config.toml", [])
    code, text = in_terminal("estimate", "-c", str(out / "pipeline_config.toml"), "HEAD~2..HEAD",
                             columns=80, cwd=out / "repos" / "repo-1")  # fmt: skip
    assert code == 0, text
    lines = [line.rstrip() for line in text.splitlines()]
    # the model auto chose, as the report names it (session 60: it said "auto" alone)
    chosen = json.loads((out / "sc-output" / "reports" / "sch_evaluation.json").read_text())
    picked = chosen["model_selection"]["chosen"]
    assert cfg.training.predictor == "auto"
    assert lines[0] == f"Estimate, model: auto: {picked}", lines[:3]
    model_file = SchLayout(out / "sc-output").model
    assert f"model file: {model_file}" in lines  # whole: the terminal wraps it, not the table
    notes = [line for line in lines if not line.startswith("model file: ")]
    assert max(len(line) for line in notes) <= 80, text
    weighs = next(i for i, line in enumerate(lines) if " weighs most: " in line)
    block = lines[weighs : next(i for i, line in enumerate(lines) if "for scale:" in line)]
    for line in block:  # each effect whole on its line: "(+0.01" never ends one
        assert len(re.findall(r"\([+-]", line)) == len(re.findall(r"\([+-][\d.]+ h\)", line)), block
    # how the total's range was drawn is said (its q10-q90 read as a plain sum's before)
    said = " ".join(text.split())
    assert "total: q10-q90 of the sum of the changes' draws, their errors" in said, said


@pytest.mark.parametrize("columns", [40, 54, 60])
def test_on_a_narrow_terminal_no_figure_is_cut(demo: tuple[Path, str], columns: int) -> None:
    """Rich cut the figures under about 60 columns (``+12…`` for ``+123/-45``, ``0.…``): the
    change's name folds, and narrower still a change is a block of ``label  value`` lines."""
    out, _ = demo
    repo, cfg = out / "repos" / "repo-1", str(out / "pipeline_config.toml")
    proc = cli("estimate", "-c", cfg, "HEAD~2..HEAD", "--json", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    code, text = in_terminal("estimate", "-c", cfg, "HEAD~2..HEAD", columns=columns, cwd=repo)
    assert code == 0, text
    lines = text.splitlines()
    table = lines[: next(i for i, line in enumerate(lines) if line.startswith("└")) + 1]
    assert all(len(line) <= columns for line in table) and "…" not in "\n".join(table), text
    words = [w for line in table for w in line.replace("│", " ").split()]
    for c in [*doc["changes"], doc["total"]]:
        figures = [f"{c[k]:.2f}" for k in ("sch_hours", "q10", "q50", "q90")]
        if "lines_added" in c:
            figures.append(f"+{c['lines_added']}/-{c['lines_deleted']}")
            assert c["commit_id"][:10] in words, text
        assert all(f in words for f in figures), (figures, text)


def test_on_an_80_column_terminal_the_run_summary_wraps(demo: tuple[Path, str]) -> None:
    """Session 40: the closing summary's ``How sure, ...`` and ``warning: ...`` lines ran past
    an 80-column terminal: they break at spaces outside parentheses, the next lines indented,
    and say the same words; the metric table and the paths stay whole; off a terminal (the
    demo's captured stderr) each stays one line."""
    from standard_coder.pipelines.sch_summary import summary, sure_line
    from standard_coder.pipelines.sch_warnings import warnings

    out, err = demo
    ev = summary(out / "sc-output")["evaluation"]
    said = [sure_line(ev), *(f"warning: {w}" for w in warnings(ev))]
    assert all(line in err.splitlines() for line in said)  # whole off a terminal
    code, text = in_terminal("pipeline", "--config", str(out / "pipeline_config.toml"),
                             columns=80, cwd=out)  # fmt: skip
    assert code == 0, text
    lines = [line.rstrip() for line in text.splitlines()]
    start = lines.index("What the effort model learned (held-out commits)")
    shown = lines[start : next(i for i, x in enumerate(lines) if x.startswith("Report: "))]
    assert max(len(line) for line in shown) <= 80, "\n".join(shown)
    for whole in said:
        first = next(i for i, line in enumerate(shown) if whole.startswith(line))
        end = next((i for i in range(first + 1, len(shown)) if not shown[i].startswith("  ")),
                   len(shown))  # fmt: skip
        assert " ".join(x.strip() for x in shown[first:end]) == whole, shown[first:end]
        if len(whole) > 80:
            assert end - first > 1
        for line in shown[first:end]:  # "(+0.08, 90% interval 0.06 to 0.10)" read whole
            opened = re.findall(r"\([+-]?\d", line)
            read = re.findall(r"\((?:[+-]?[\d.]+, )?90% interval -?[\d.]+ to -?[\d.]+\)", line)
            assert len(opened) == len(read), shown[first:end]
    assert f"Report: {out / 'sc-output' / 'reports' / 'index.html'}" in lines


def test_on_a_54_column_terminal_the_metric_table_fits(demo: tuple[Path, str]) -> None:
    """The metric table was 76 columns wide on any terminal, so a 54-column one broke a figure
    across two lines: its names now break between words beside the figures."""
    from standard_coder.pipelines.sch_summary import summary

    out, _ = demo
    ev = summary(out / "sc-output")["evaluation"]
    code, text = in_terminal("pipeline", "--config", str(out / "pipeline_config.toml"),
                             columns=54, cwd=out)  # fmt: skip
    assert code == 0, text
    lines = [line.rstrip() for line in text.splitlines()]
    start = lines.index("What the effort model learned (held-out commits)")
    table = lines[start : next(i for i, x in enumerate(lines) if x.startswith("binned"))]
    assert all(len(line) <= 54 for line in table), "\n".join(table)
    (nll,) = [line for line in table if line.startswith("neg.")]
    figures = [f"{ev['heldout_nll']:.3f}", f"{ev['baseline_loc_heldout_nll']:.3f}"]
    assert nll.split()[-2:] == figures, "\n".join(table)


def _worktree(demo: tuple[Path, str], tmp_path: Path) -> tuple[Any, Path, Path]:
    """The demo's config and a copy of its first repository to change: (cfg, repo, target)."""
    out, _ = demo
    repo = shutil.copytree(out / "repos" / "repo-0", tmp_path / "wt")
    return load_config(out / "pipeline_config.toml", []), repo, sorted(repo.rglob("*.py"))[0]


def test_a_working_tree_diff_and_a_patch_file_are_priced(
    demo: tuple[Path, str], tmp_path: Path
) -> None:
    cfg, repo, target = _worktree(demo, tmp_path)
    clean = estimate(cfg, Target(worktree=True), repo=repo)
    assert clean["changes"][0]["lines_added"] == 0
    assert {k: v for k, v in clean["total"].items() if k != "correlation"} == {
        "sch_hours": 0.0, "q10": 0.0, "q50": 0.0, "q90": 0.0}  # fmt: skip
    body = "".join(f"def added_{i}(x):\n    return x * {i} + len(str(x))\n\n" for i in range(12))
    target.write_text(target.read_text() + body)
    (repo / "brand_new.py").write_text("import os\n\nVALUE = os.sep * 3\n")
    doc = estimate(cfg, Target(worktree=True), repo=repo)
    (change,) = doc["changes"]
    assert change["source"] == f"worktree:{repo.resolve()}"
    assert change["lines_added"] == body.count("\n") + 3
    assert change["q90"] > change["q10"] > 0 and change["sch_hours"] > 0
    patch = tmp_path / "change.patch"
    patch.write_text(_git(repo, "diff", "HEAD"))
    doc = estimate(cfg, Target(diff=patch), repo=None)
    assert doc["changes"][0]["source"] == str(patch)
    assert doc["changes"][0]["lines_added"] == body.count("\n")
    assert doc["total"]["sch_hours"] == doc["changes"][0]["sch_hours"] > 0
    assert "reapplies" not in doc["changes"][0]  # new work
    assert "priced as one change" not in doc.get("note", "")  # a commit-sized patch
    # a release's worth of work as one patch: its SCH (at most 1 h) is said to read small
    big = "".join(f"def big_{i}(x):\n    return x + {i}\n\n" for i in range(200))
    (repo / "big_module.py").write_text(big)
    doc = estimate(cfg, Target(worktree=True), repo=repo)
    lines = body.count("\n") + 3 + 600  # the changed module, brand_new.py, big_module.py
    assert doc["note"].startswith(f"worktree:{repo.resolve()} changes {lines} lines"), doc["note"]
    assert "priced as one change, and a change's SCH is at most 1 h" in doc["note"]
    # the same large change as a commit: one change, but its SCH reads small beside its lines
    # all the same (said of the diff alone before session 60)
    _git(repo, "add", "big_module.py")
    _git(repo, "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-qm", "big")
    by_id = estimate(cfg, Target(rev="HEAD"), repo=repo)
    head = by_id["changes"][0]["commit_id"][:10]
    assert (
        f"{head} changes more lines than 98 % of commits do (median 12; up to 600 here)"
        in (by_id["note"])
    ), by_id.get("note")
    assert "priced as one change" not in by_id["note"]  # no "its commits" to price it by
    _git(repo, "reset", "-q", "--hard", "HEAD~1")
    target.write_text(target.read_text() + body)  # the reset took the worktree's change too
    (repo / "brand_new.py").write_text("import os\n\nVALUE = os.sep * 3\n")
    # `git diff | standard-coder estimate --diff -`: the same change, read from stdin
    config = str(demo[0] / "pipeline_config.toml")
    piped = subprocess.run(
        [sys.executable, "-m", "standard_coder", "estimate", "-c", config, "--diff", "-",
         "--repo", str(repo), "--json"],
        input=patch.read_text(), capture_output=True, text=True, env=child_env(), timeout=600,
    )  # fmt: skip
    assert piped.returncode == 0, piped.stderr
    from_file = cli("estimate", "-c", config, "--diff", str(patch), "--repo", str(repo), "--json")
    assert json.loads(piped.stdout)["total"] == json.loads(from_file.stdout)["total"]


def test_a_renamed_file_read_from_git_is_a_rename_as_the_mine_reads_it(
    demo: tuple[Path, str], tmp_path: Path
) -> None:
    cfg, repo, target = _worktree(demo, tmp_path)
    renamed = target.with_name("renamed_" + target.name)
    _git(repo, "mv", str(target.relative_to(repo)), str(renamed.relative_to(repo)))
    (change,) = estimate(cfg, Target(worktree=True), repo=repo)["changes"]
    assert (change["lines_added"], change["lines_deleted"]) == (0, 0)  # not all lines again
    _git(repo, "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-q", "-m", "mv")
    (change,) = estimate(cfg, Target(rev="HEAD"), repo=repo)["changes"]
    assert (change["lines_added"], change["lines_deleted"]) == (0, 0)


def test_a_patch_that_re_applies_a_mined_commit_says_so(
    demo: tuple[Path, str], tmp_path: Path
) -> None:
    cfg, repo, _ = _worktree(demo, tmp_path)
    ids = _git(repo, "log", "--no-merges", "--format=%H").split()
    # a mined commit of real size (its lines distinctive in the history), as a patch
    sizes = {c: _git(repo, "show", "--numstat", "--format=", c) for c in ids[:40]}
    chosen = max(ids[:40], key=lambda c: sum(int(x.split()[0]) for x in sizes[c].splitlines()))
    patch = tmp_path / "again.patch"
    patch.write_text(_git(repo, "show", "--format=", chosen))
    doc = estimate(cfg, Target(diff=patch), repo=None)
    again = doc["changes"][0]["reapplies"]
    assert again["commit_id"] == chosen and again["share"] == 1.0 and again["lines"] >= 3
    # the commit itself, in its place in the history, re-applies nothing
    in_place = estimate(cfg, Target(rev=chosen), repo=repo)
    assert "reapplies" not in in_place["changes"][0]
    # and the person reading the table is told
    proc = cli("estimate", "--config", str(demo[0] / "pipeline_config.toml"), "--diff",
               str(patch))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert f"re-applies {chosen[:10]} (100% of its" in proc.stdout
    assert "priced as written" in proc.stdout
    # the same lines written again in the mined repository's working tree (its history is
    # found by the repository's id in the mine), left as they were afterwards
    mined = demo[0] / "repos" / "repo-0"
    again_lines = [ln[1:] for ln in patch.read_text().splitlines()
                   if ln.startswith("+") and not ln.startswith("+++")]  # fmt: skip
    scratch = mined / "written_again.py"
    try:
        scratch.write_text("\n".join(again_lines) + "\n")
        doc = estimate(cfg, Target(worktree=True), repo=mined)
        assert doc["changes"][0]["reapplies"]["commit_id"] == chosen
    finally:
        scratch.unlink()
    assert "reapplies" not in estimate(cfg, Target(worktree=True), repo=mined)["changes"][0]


def test_the_mines_ids_of_a_repository_include_the_configured_path_that_leads_to_it(
    tmp_path: Path,
) -> None:
    from standard_coder.pipelines.sch_estimate import _mined_ids
    from standard_coder.sch.mining.discovery import repo_id

    real = tmp_path / "real"
    real.mkdir()
    subprocess.run(["git", "init", "-q", str(real)], check=True)
    (tmp_path / "link").symlink_to(real)
    (tmp_path / "c.toml").write_text('[repos]\ninclude_paths = ["link"]\n')
    cfg = load_config(tmp_path / "c.toml", [])
    # the mine names it by the configured path; estimate finds it from the resolved one
    assert _mined_ids(cfg, real) == {repo_id(real), repo_id(tmp_path / "link")}


def test_a_reformatted_file_is_not_counted_and_the_estimate_says_so(
    demo: tuple[Path, str], tmp_path: Path
) -> None:
    cfg, repo, target = _worktree(demo, tmp_path)
    target.write_text(target.read_text() + "\n\n\n")  # blank lines: the same program
    (change,) = estimate(cfg, Target(worktree=True), repo=repo)["changes"]
    assert change["lines_added"] == 3
    assert change["left_out"] == {"generated_files": 0, "generated_lines_added": 0,
                                  "formatting_files": 1, "formatting_lines_added": 3}  # fmt: skip
    config = str(demo[0] / "pipeline_config.toml")
    proc = cli("estimate", "--config", config, "--worktree", "--repo", str(repo))
    assert proc.returncode == 0, proc.stderr
    said = " ".join((proc.stdout + proc.stderr).split())  # the console wraps long lines
    assert "not counted: 0 generated file(s) (+0 lines), 1 formatting-only file(s)" in said
    assert "(+3 lines)" in said
    # every file left out: its hours are said to be the model's level, not a measure
    assert change["only_left_out"] == change["sch_hours"] > 0
    assert f"no counted code is left, so its {change['sch_hours']:.2f} h is the model's" in said


def test_a_commit_without_code_in_the_mined_languages_is_0_h_and_says_why(
    demo: tuple[Path, str], tmp_path: Path
) -> None:
    cfg, repo, target = _worktree(demo, tmp_path)
    (repo / "NOTES.md").write_text("# Notes\n\nRelease steps, written down.\n")
    _git(repo, "add", "NOTES.md")
    _git(repo, "-c", "user.name=A", "-c", "user.email=a@example.com", "commit", "-qm", "notes")
    target.write_text(target.read_text() + "\ndef extra(x):\n    return x + 1\n")
    subject = "[pre-commit.ci] code"  # a subject's brackets are the author's, not markup
    _git(repo, "-c", "user.name=A", "-c", "user.email=a@example.com", "commit", "-qam", subject)
    notes, code = estimate(cfg, Target(rev="HEAD~2..HEAD"), repo=repo)["changes"]
    assert notes["no_language_files"] is True and notes["sch_hours"] == 0.0
    assert notes["q90"] == 0.0 and notes["lines_added"] == 0
    assert "no_language_files" not in code and code["sch_hours"] > 0
    assert "top_features" not in notes and code["top_features"]  # 0 h by rule: nothing weighed
    config = str(demo[0] / "pipeline_config.toml")
    proc = cli("estimate", "--config", config, "HEAD~2..HEAD", "--repo", str(repo))
    assert proc.returncode == 0, proc.stderr
    said = " ".join((proc.stdout + proc.stderr).split())  # the console wraps long lines
    short = _git(repo, "rev-parse", "HEAD~1").strip()[:10]
    assert f"{short}: no file in the mined languages (python) outside the excluded paths" in said
    assert f"{short} weighs most" not in said
    assert f"{_git(repo, 'rev-parse', 'HEAD').strip()[:10]} {subject}" in said
    # the features that weigh most are said in words (the JSON keeps the column's name too)
    top = code["top_features"][0]
    assert top["what"] == describe_feature(top["feature"]) != ""
    assert f"weighs most: {top['what']} ×{top['count']:g}" in said
    # ... read against what a change with every feature at its training mean prices at
    typical = code["typical_sch_hours"]  # each weighed change's, in the JSON
    assert 0 < typical < 1
    assert f"a change with every feature at its training mean prices at {typical:.2f} h" in said
    assert "truncated to 1 h per change" in said  # what a 0.8 h estimate of a large change means
    assert "Estimate, model: " in said and "Estimate (" not in said  # not "(auto (/x/model.pt))"


def test_a_commit_by_an_author_the_mine_leaves_out_is_priced_and_says_so(
    demo: tuple[Path, str], tmp_path: Path
) -> None:
    """A bot's commit is priced as asked, but team output leaves it out: a range's total and
    team output's differ by it, which the estimate says."""
    cfg, repo, target = _worktree(demo, tmp_path)
    target.write_text(target.read_text() + "\ndef pinned(x):\n    return x\n")
    bot = ("-c", "user.name=dependabot[bot]", "-c", "user.email=49699333+dependabot[bot]@x")
    _git(repo, *bot, "commit", "-qam", "Bump a pin")
    (change,) = estimate(cfg, Target(rev="HEAD"), repo=repo)["changes"]
    assert change["sch_hours"] > 0
    assert change["author_left_out"].startswith("dependabot[bot] <")
    proc = cli("estimate", "--config", str(demo[0] / "pipeline_config.toml"), "HEAD",
               "--repo", str(repo))  # fmt: skip
    said = " ".join((proc.stdout + proc.stderr).split())
    assert "whom [filters.authors] leaves out" in said and "team output does not count it" in said
    (person,) = estimate(cfg, Target(rev="HEAD~1"), repo=repo)["changes"]
    assert "author_left_out" not in person


def test_bad_input_exits_2_with_one_line(demo: tuple[Path, str], tmp_path: Path) -> None:
    out, _ = demo
    config = out / "pipeline_config.toml"
    # two configured repositories and the current directory is in neither
    proc = cli("estimate", "-c", str(config), "HEAD", cwd=tmp_path)
    assert proc.returncode == 2
    assert "--repo" in proc.stderr and "repo-0" in proc.stderr and "repo-1" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = cli("estimate", "-c", str(config), "no-such-rev", "--repo", str(out / "repos/repo-0"))
    assert proc.returncode == 2 and "no-such-rev" in proc.stderr and "Traceback" not in proc.stderr
    # no trained model under another base_dir: fail fast naming the stage
    proc = cli("estimate", "-c", str(config), "--set", f"outputs.base_dir={tmp_path / 'none'}",
               "--repo", str(out / "repos/repo-0"))  # fmt: skip
    assert proc.returncode == 2 and "train_sch" in proc.stderr, proc.stderr
    cfg = load_config(config, [])
    with pytest.raises(EstimateInputError, match="repositories"):
        estimate(cfg, Target(rev="HEAD"), repo=None, cwd=tmp_path)
    # an end of a range that names nothing: named, not git's command line
    proc = cli("estimate", "-c", str(config), "HEAD..nosuch", "--repo", str(out / "repos/repo-0"))
    assert proc.returncode == 2 and "'nosuch' names no commit" in proc.stderr, proc.stderr
    assert "rev-list" not in proc.stderr
    # a folder that is no repository, a repository with no commit yet: said in words
    (tmp_path / "plain").mkdir()
    proc = cli("estimate", "-c", str(config), "--worktree", "--repo", str(tmp_path / "plain"))
    assert proc.returncode == 2 and "plain: not a git repository" in proc.stderr, proc.stderr
    subprocess.run(["git", "init", "-q", str(tmp_path / "new")], check=True)
    proc = cli("estimate", "-c", str(config), "HEAD", "--repo", str(tmp_path / "new"))
    assert proc.returncode == 2 and "has no commits yet" in proc.stderr, proc.stderr
    # standing in a repository the config does not mine, with one mined: never the other one
    other = tmp_path / "other"
    subprocess.run(["git", "init", "-q", str(other)], check=True)
    one = load_config(config, [f"repos.include_paths=['{out / 'repos' / 'repo-0'}']"])
    with pytest.raises(EstimateInputError, match="does not mine") as err:
        estimate(one, Target(worktree=True), repo=None, cwd=other)
    assert str(other) in str(err.value) and str(out / "repos" / "repo-0") in str(err.value)
    # the configured repository moved away or never one: checked as --repo is (it was git's
    # command line, or "has no commits yet", for a folder that does not exist)
    for path, why in ((tmp_path / "moved", "no such directory"),
                      (tmp_path / "plain", "not a git repository")):  # fmt: skip
        gone = load_config(config, [f"repos.include_paths=['{path}']"])
        for target in (Target(rev="HEAD"), Target(worktree=True)):
            with pytest.raises(EstimateInputError) as err:
                estimate(gone, target, repo=None, cwd=tmp_path)
            assert str(err.value).startswith(f"[repos] include_paths: {path}: {why} ("), err


def test_a_change_to_vendored_code_only_is_0_h_and_names_the_path_rule(
    demo: tuple[Path, str], tmp_path: Path
) -> None:
    """A working tree whose only change is a Python file under ``vendor/`` (excluded by default)
    was said to have no file changed, or no file in the mined languages: it names the files and
    the rule that left them out."""
    cfg, repo, _ = _worktree(demo, tmp_path)
    (repo / "vendor").mkdir()
    (repo / "vendor" / "lib.py").write_text("x = 1\n")
    _git(repo, "add", "vendor")
    _git(repo, "-c", "user.name=A", "-c", "user.email=a@example.com", "commit", "-qm", "vendor")
    (repo / "vendor" / "lib.py").write_text("x = 1\ny = 2\n")
    for target in (Target(worktree=True), Target(rev="HEAD")):
        (change,) = estimate(cfg, target, repo=repo)["changes"]
        assert change["excluded_files"] == ["vendor/lib.py"], target
        assert change["sch_hours"] == 0.0 and "no_change" not in change
        assert "no_language_files" not in change
    config = str(demo[0] / "pipeline_config.toml")
    proc = cli("estimate", "--config", config, "--worktree", "--repo", str(repo))
    assert proc.returncode == 0, proc.stderr
    said = " ".join((proc.stdout + proc.stderr).split())
    assert "(vendor/lib.py) are all under [filters.languages] exclude_paths" in said
    assert "no file changed" not in said


def test_an_empty_range_a_clean_tree_and_a_first_commit_to_be(
    demo: tuple[Path, str], tmp_path: Path
) -> None:
    """``main..HEAD`` with nothing new is 0 h, exit 0 (a CI step); a clean working tree is said
    to have no change (not blamed on languages); before the first commit, what is staged is the
    change."""
    out, _ = demo
    config = str(out / "pipeline_config.toml")
    repo = out / "repos" / "repo-0"
    proc = cli("estimate", "-c", config, "HEAD..HEAD", "--repo", str(repo), "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["changes"] == [] and doc["total"]["sch_hours"] == 0 and "no commit" in doc["note"]
    proc = cli("estimate", "-c", config, "HEAD..HEAD", "--repo", str(repo))
    assert proc.returncode == 0 and "nothing to price (0 SCH h)" in proc.stdout, proc.stdout
    clean = estimate(load_config(out / "pipeline_config.toml", []), Target(worktree=True),
                     repo=repo)["changes"][0]  # fmt: skip
    assert clean.get("no_change") and "no_language_files" not in clean
    fresh = tmp_path / "fresh"
    subprocess.run(["git", "init", "-q", str(fresh)], check=True)
    (fresh / "app.py").write_text("def area(w, h):\n    return w * h\n\n\nprint(area(2, 3))\n")
    subprocess.run(["git", "-C", str(fresh), "add", "app.py"], check=True)
    staged = estimate(load_config(out / "pipeline_config.toml", []), Target(worktree=True),
                      repo=fresh)["changes"][0]  # fmt: skip
    assert staged["lines_added"] == 5 and staged["sch_hours"] > 0, staged


def test_team_output_sums_to_the_per_commit_predictions(demo: tuple[Path, str]) -> None:
    from standard_coder.pipelines.sch_effort import load_effort_model
    from standard_coder.reporting.team_output import read_csv
    from standard_coder.sch.mining.store import iter_commits
    from standard_coder.sch.team_output import iso_week

    out, _ = demo
    layout = SchLayout(out / "sc-output")
    rows = read_csv(layout.team_output_csv)
    assert rows and list(rows[0]) == ["period", "author", "repo", "n_changes", "sch_hours",
                                      "sch_q10", "sch_q90"]  # fmt: skip
    model, rep = load_effort_model(layout.model, layout.change_rep)
    commits = list(iter_commits(layout.db, with_contents=True))
    sch = model.predict(rep.transform(commits)).sch
    want: dict[tuple[str, str, str], list[Any]] = defaultdict(lambda: [0, 0.0])
    for rec, s in zip(commits, sch, strict=True):
        cell = want[(iso_week(rec.authored_at, rec.author_tz_offset_min), rec.author_id, rec.repo)]
        cell[0] += 1
        cell[1] += float(s)
    got = {(r["period"], r["author"], r["repo"]): r for r in rows}
    assert set(got) == set(want)
    for key, (n, total) in want.items():
        assert got[key]["n_changes"] == n
        assert got[key]["sch_hours"] == pytest.approx(total, rel=1e-4, abs=1e-5)
        assert got[key]["sch_q10"] <= got[key]["sch_q90"]
    assert sum(r["n_changes"] for r in rows) == len(commits)
    assert all(r["period"][4:6] == "-W" for r in rows)
    if layout.team_output_parquet.exists():
        import pyarrow.parquet as pq

        table = pq.read_table(layout.team_output_parquet)
        assert table.column_names == list(rows[0])
        assert np.isclose(sum(table.column("sch_hours").to_pylist()),
                          sum(r["sch_hours"] for r in rows))  # fmt: skip
    for by in ("repo", "author"):
        assert (layout.team_output_plots / f"by_{by}.png").read_bytes().startswith(b"\x89PNG")
    # each listed address with its person's name (itsdangerous' report showed addresses only)
    names = json.loads(layout.team_output_people.read_text())["names"]
    assert set(names) == {r["author"] for r in rows}
    by_author: dict[str, Counter[str]] = defaultdict(Counter)
    for rec in commits:
        by_author[rec.author_id][rec.author_name] += 1
    for address, name in names.items():
        assert by_author[address].most_common(1)[0][1] == by_author[address][name]
    from standard_coder.reporting.team_output import render_team_output
    from standard_coder.runner.report import SectionInput

    html = render_team_output(SectionInput(out / "sc-output", None, None, {}))
    hours: Counter[str] = Counter()
    for r in rows:
        hours[r["author"]] += r["sch_hours"]
    top = hours.most_common(1)[0][0]  # the first row of the per-author table
    assert f"{names[top]} <span class='muted'>{top}</span>" in html
    html = (layout.reports / "index.html").read_text()
    assert "Team output" in html and "Per author" in html and "Per repository" in html


def test_team_output_prices_train_schs_counts_byte_identical_to_a_fresh_extraction(
    demo: tuple[Path, str],
) -> None:
    from standard_coder.pipelines.sch_effort import load_effort_model
    from standard_coder.sch.features.commit_counts import load_commit_counts
    from standard_coder.sch.mining.store import iter_commits
    from standard_coder.sch.team_output import csv_text, team_output

    out, _ = demo
    layout = SchLayout(out / "sc-output")
    model, rep = load_effort_model(layout.model, layout.change_rep)
    counts = load_commit_counts(layout.commit_counts, rep)
    commits = list(iter_commits(layout.db, with_contents=True))
    assert len(counts) == len(commits)
    keys = [(c.repo, c.commit_id) for c in commits]
    np.testing.assert_array_equal(counts.rows(keys), rep.raw_matrix(commits))
    # the stage reused them (no extraction of its own) and wrote what a fresh extraction gives
    assert "team_output: features of" in (out / "sc-output" / "logs" / "run.log").read_text()
    fresh = team_output(model, rep, commits, seed=load_config(out / "pipeline_config.toml")
                        .runner.seed)  # fmt: skip
    assert layout.team_output_csv.read_text() == csv_text(fresh.rows)


def test_team_output_extracts_the_counts_itself_when_the_stored_ones_do_not_fit(
    demo: tuple[Path, str],
) -> None:
    """A counts file of another vocabulary (or unreadable) is named in a warning and the stage
    extracts every commit's counts itself: the same report."""
    out, _ = demo
    layout = SchLayout(out / "sc-output")
    want = layout.team_output_csv.read_bytes()
    good = layout.commit_counts.read_bytes()
    try:
        layout.commit_counts.write_bytes(b"not an npz")
        proc = cli("pipeline", "--config", str(out / "pipeline_config.toml"),
                   "--stages", "team_output", "--force")  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        (line,) = [s for s in proc.stderr.splitlines() if "features again" in s]
        assert line.startswith("[warn] team_output: extracting every commit's features again: ")
        assert "commit_counts.npz: unreadable" in line and "WARNING" not in proc.stderr
        assert layout.team_output_csv.read_bytes() == want
    finally:
        layout.commit_counts.write_bytes(good)


def test_a_merge_commit_is_priced_as_the_commits_it_merged(
    demo: tuple[Path, str], tmp_path: Path
) -> None:
    """``estimate MERGE`` prices ``MERGE^1..MERGE`` (as mining counts commits: no merges) and
    says so, in the JSON (``merges``, ``note``) and under the table; never a silent 0 h."""
    out, _ = demo
    config = str(demo[0] / "pipeline_config.toml")
    repo = shutil.copytree(out / "repos" / "repo-0", tmp_path / "merged")
    who = ("-c", "user.name=t", "-c", "user.email=t@t")
    _git(repo, "checkout", "-qb", "topic", "HEAD~3")
    for k in range(2):
        (repo / f"topic_{k}.py").write_text(
            "".join(f"def t{k}_{i}(x):\n    return sorted(x)[{i}:]\n\n" for i in range(6))
        )
        _git(repo, "add", "-A")
        _git(repo, *who, "commit", "-qm", f"topic {k}")
    _git(repo, "checkout", "-q", "-")
    _git(repo, *who, "merge", "-q", "--no-ff", "topic", "-m", "merge topic")
    topic = _git(repo, "rev-list", "--reverse", "HEAD^1..HEAD^2").split()
    cfg = load_config(out / "pipeline_config.toml", [])
    doc = estimate(cfg, Target(rev="HEAD"), repo=repo)
    assert [c["commit_id"] for c in doc["changes"]] == topic
    assert doc["merges"] == [_git(repo, "rev-parse", "HEAD").strip()]
    assert "is a merge, priced as the 2 commit(s) it merged" in doc["note"]
    assert doc["total"]["sch_hours"] > 0
    assert estimate(cfg, Target(rev="HEAD^1..HEAD"), repo=repo)["total"] == doc["total"]
    human = cli("estimate", "-c", config, "--repo", str(repo), "HEAD")
    assert human.returncode == 0 and "note: HEAD (" in human.stdout, human.stdout


def test_forecast_prices_a_ticket_as_estimate_prices_its_commits(demo: tuple[Path, str]) -> None:
    """One figure per change across the product: a ticket of two commits costs, on average, the
    SCH ``estimate`` gives them (the truncated mean), not the raw model mean; a ticket whose diff
    touches no file in the mined languages costs 0 h, as ``estimate --diff`` says."""
    from standard_coder.forecasting.inputs import Ticket
    from standard_coder.pipelines.sch_effort import model_effort_for
    from standard_coder.sch.estimate import Languages

    out, _ = demo
    cfg = load_config(out / "pipeline_config.toml", [])
    layout = SchLayout(out / "sc-output")
    repo = out / "repos" / "repo-0"
    ids = _git(repo, "rev-list", "HEAD~2..HEAD").split()
    doc = estimate(cfg, Target(rev="HEAD~2..HEAD"), repo=repo)
    effort = model_effort_for(layout.model, layout.change_rep, layout.db, seed=cfg.runner.seed,
                              rng_seed=3, langs=Languages())  # fmt: skip
    docs_only = (
        "diff --git a/NOTES.md b/NOTES.md\n--- a/NOTES.md\n+++ b/NOTES.md\n@@ -0,0 +1 @@\n+x\n"
    )
    got = effort([Ticket(id="T-1", status="todo", commit_ids=ids),
                  Ticket(id="T-2", status="todo", diff=docs_only)])  # fmt: skip
    assert got["T-1"].shape == (4000,)  # estimate's draw count
    # each change's draws average its SCH exactly (whatever the seed): the means agree
    assert float(got["T-1"].mean()) == pytest.approx(doc["total"]["sch_hours"], rel=1e-6)
    assert float(got["T-1"].max()) <= 2.0  # each change at most 1 h, as estimate truncates
    assert not got["T-2"].any()
    again = model_effort_for(layout.model, layout.change_rep, layout.db, seed=cfg.runner.seed,
                             rng_seed=3)  # fmt: skip
    assert np.array_equal(again([Ticket(id="T-1", status="todo", commit_ids=ids)])["T-1"],
                          got["T-1"])  # fmt: skip
    # what the pricing found: the tickets and changes it paired (a 0 h ticket pairs nothing)
    assert (effort.found.paired_tickets, effort.found.paired_changes) == (1, len(ids))
    assert not effort.found.notes
    # a ticket whose diff is a release's worth of code: priced as one change, and said so
    big = "".join(f"+def big_{i}(x):\n+    return x + {i}\n+\n" for i in range(200))
    release = f"diff --git a/big.py b/big.py\n--- /dev/null\n+++ b/big.py\n@@ -0,0 +1,600 @@\n{big}"
    priced = effort([Ticket(id="T-1", status="todo", commit_ids=ids),
                     Ticket(id="BIG", status="todo", diff=release)])  # fmt: skip
    (note,) = effort.found.notes
    assert note.startswith("ticket BIG's diff changes 600 lines"), note
    assert float(priced["BIG"].max()) <= 1.0  # one change: at most 1 h
    assert (effort.found.paired_tickets, effort.found.paired_changes) == (2, len(ids) + 1)
    # a ticket's diff that changes a file (not one it adds) cannot show it whole: said once
    edit = _git(repo, "show", "--format=", ids[0])
    assert "--- /dev/null" not in edit.split("\n@@")[0], "the demo's commit changes a file"
    effort([Ticket(id="E-1", status="todo", diff=edit),
            Ticket(id="E-2", status="todo", diff=edit), Ticket(id="NEW", status="todo",
                                                          diff=release)])  # fmt: skip
    said = [n for n in effort.found.notes if "without the contents" in n]
    assert said == [
        "tickets E-1, E-2: the diff is priced without the contents of the files it changes (a "
        "ticket's diff is read on its own, so their syntax features are not counted); "
        "`estimate --diff` reads them at HEAD of the repository and can price the same change "
        "otherwise, and commit_ids price it as committed"
    ]


def test_a_ticket_of_one_commit_has_that_commits_estimate_q10_mean_q90(
    demo: tuple[Path, str],
) -> None:
    """The forecast drew 1,000 draws per change seeded by the forecast's ``rng_seed`` and the id
    as the ticket lists it; ``estimate`` draws 4,000 seeded by ``runner.seed`` and the full id.
    A ticket whose only change is a commit now has exactly that commit's estimate figures,
    whichever way the ticket abbreviates the id and whatever the forecast's own seed."""
    from standard_coder.forecasting.inputs import Ticket
    from standard_coder.pipelines.sch_effort import model_effort_for

    out, _ = demo
    cfg = load_config(out / "pipeline_config.toml", [])
    layout = SchLayout(out / "sc-output")
    repo = out / "repos" / "repo-1"
    full = _git(repo, "rev-parse", "HEAD~1").strip()
    want = estimate(cfg, Target(rev=full), repo=repo)["changes"][0]
    assert want["sch_hours"] > 0
    effort = model_effort_for(layout.model, layout.change_rep, layout.db, seed=cfg.runner.seed,
                              rng_seed=cfg.forecasting.rng_seed + 1)  # fmt: skip
    draws = effort([Ticket(id="T-9", status="todo", commit_ids=[full[:10]])])["T-9"]
    q10, q50, q90 = np.quantile(draws, [0.1, 0.5, 0.9])
    assert (q10, q50, q90) == (want["q10"], want["q50"], want["q90"])
    assert float(draws.mean()) == pytest.approx(want["sch_hours"], rel=1e-9)


def test_a_ticket_commit_on_a_branch_the_mine_did_not_read_is_priced_from_git(
    demo: tuple[Path, str], tmp_path: Path
) -> None:
    """A ticket in progress lists a commit of a feature branch (the mine reads the checked-out
    branch): the forecast reads it from the configured repository as ``estimate`` does, with
    estimate's figures; ``forecast-check`` and the forecast stage accept it, the stage asks
    git where it is once (its input check and its pricing share the lookup), and it reruns
    when that branch moves (the repositories' refs are its inputs)."""
    from standard_coder.forecasting.inputs import ForecastInputError, Ticket
    from standard_coder.pipelines.sch_effort import model_effort_for

    out, _ = demo
    repos = tmp_path / "repos"  # the fixture's repositories stay as they are
    shutil.copytree(out / "repos", repos)
    repo = repos / "repo-1"
    ident = ("-c", "user.name=Ann", "-c", "user.email=ann@example.com")
    _git(repo, "checkout", "-q", "-b", "feature")
    (repo / "feature.py").write_text(
        "def f(x):\n    return x + 1\n\n\ndef g(y):\n    return 2 * y\n"
    )
    _git(repo, "add", "feature.py")
    _git(repo, *ident, "commit", "-q", "-m", "Add a feature")
    cid = _git(repo, "rev-parse", "HEAD").strip()
    _git(repo, "checkout", "-q", "-")
    cfg = load_config(out / "pipeline_config.toml", [])
    layout = SchLayout(out / "sc-output")
    want = estimate(cfg, Target(rev=cid), repo=repo)["changes"][0]
    ticket = Ticket(id="T-9", status="in_progress", commit_ids=[cid[:12]])
    effort = model_effort_for(layout.model, layout.change_rep, layout.db, seed=cfg.runner.seed,
                              rng_seed=1, repos=[repos / "repo-0", repo])  # fmt: skip
    draws = effort([ticket])["T-9"]
    assert tuple(np.quantile(draws, [0.1, 0.5, 0.9])) == (want["q10"], want["q50"], want["q90"])
    blind = model_effort_for(layout.model, layout.change_rep, layout.db, seed=cfg.runner.seed,
                             rng_seed=1)  # fmt: skip
    with pytest.raises(ForecastInputError, match="nor in a configured repository"):
        blind([ticket])

    base = tmp_path / "sc-output"
    shutil.copytree(out / "sc-output", base, ignore=shutil.ignore_patterns("run-cache", "lock*"))
    sprint = json.loads((out / "sprint_inputs.json").read_text())
    in_review = next(t for t in sprint["tickets"] if t.get("commit_ids"))
    in_review["commit_ids"] = [*in_review["commit_ids"], cid[:12]]
    (tmp_path / "sprint.json").write_text(json.dumps(sprint))
    config = str(out / "pipeline_config.toml")
    sets = ("--set", f"outputs.base_dir={base}", "--set", f'repos.include_paths=["{repos}/*"]',
            "--set", f"forecasting.sprint_inputs_path={tmp_path / 'sprint.json'}")  # fmt: skip
    proc = cli("forecast-check", "-c", config, *sets)
    assert proc.returncode == 0, proc.stderr
    log = counting_git(tmp_path / "bin")
    path = f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}"
    proc = cli("pipeline", "--config", config, *sets, "--stages", "forecast", PATH=path)
    assert proc.returncode == 0, proc.stderr
    asked = [x for x in log.read_text().splitlines() if f"{cid[:12]}^{{commit}}" in x]
    where = [x.split()[1] for x in asked]  # git -C <repository> ...
    assert asked and len(where) == len(set(where)), asked  # once in each repository it tried
    assert where[-1] == str(repo)  # found in the last one asked

    proc = cli("pipeline", "--config", config, *sets, "--stages", "forecast")
    assert "[skip] forecast: up to date" in proc.stderr, proc.stderr
    _git(repo, "branch", "-f", "feature", f"{cid}~1")  # the branch moved: read git again
    proc = cli("pipeline", "--config", config, *sets, "--stages", "forecast")
    assert proc.returncode == 0 and "[run] forecast: input changed: git:" in proc.stderr, (
        proc.stderr
    )


def test_a_truncated_model_is_named_with_exit_2_by_every_command_that_loads_it(
    demo: tuple[Path, str], tmp_path: Path
) -> None:
    """estimate, the team_output stage and the forecast's ticket pricing read ``model.pt``
    through one loader: a truncated file is one line naming it and how to rebuild it, exit 2
    (as ``eval`` says), never a traceback."""
    from standard_coder.pipelines.sch_effort import ModelUnreadable, model_effort_for

    out, _ = demo
    base = tmp_path / "sc-output"
    shutil.copytree(out / "sc-output", base, ignore=shutil.ignore_patterns("run-cache", "lock*"))
    layout = SchLayout(base)
    layout.model.write_bytes(layout.model.read_bytes()[:1000])
    config = str(out / "pipeline_config.toml")
    moved = f"outputs.base_dir={base}"
    repo = str(out / "repos" / "repo-0")
    for args in (
        ("estimate", "-c", config, "--set", moved, "--repo", repo),
        ("pipeline", "--config", config, "--set", moved, "--stages", "team_output"),
    ):
        proc = cli(*args)
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr and "PytorchStreamReader" not in proc.stderr
        said = next(ln for ln in proc.stderr.splitlines() if str(layout.model) in ln)
        assert "corrupt or truncated" in said and "--to train_sch" in said, said
    proc = cli("estimate", "-c", config, "--set", moved, "--repo", repo)
    assert f"--config {config} --to train_sch" in proc.stderr  # the command to run, in full
    with pytest.raises(ModelUnreadable, match="corrupt or truncated"):
        model_effort_for(layout.model, layout.change_rep, layout.db, seed=0, rng_seed=3)
    # a truncated representation.json: the same, through the one loader of change_rep/
    shutil.copy2(out / "sc-output" / layout.model.relative_to(base), layout.model)
    meta = layout.change_rep / "representation.json"
    meta.write_text(meta.read_text("utf-8")[:200], "utf-8")
    for args in (
        ("estimate", "-c", config, "--set", moved, "--repo", repo),
        ("pipeline", "--config", config, "--set", moved, "--stages", "team_output"),
        ("pipeline", "--config", config, "--set", moved, "--stages", "forecast"),
    ):
        proc = cli(*args)
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr and "Expecting" not in proc.stderr
        said = next(ln for ln in proc.stderr.splitlines() if str(meta) in ln)
        assert "not valid JSON (it ends too early)" in said and "--to train_sch" in said, said


def test_standing_in_a_submodule_of_the_mined_repository_names_both(
    demo: tuple[Path, str], tmp_path: Path
) -> None:
    """README: standing in a repository the config does not mine exits 2 naming both; a
    submodule inside the mined repository priced the superproject's HEAD silently."""
    out, _ = demo
    sub_src, sup = tmp_path / "lib", tmp_path / "super"
    for repo in (sub_src, sup):
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
        (repo / "m.py").write_text("x = 1\n")
        _git(repo, "add", "m.py")
        _git(repo, "-c", "user.name=A", "-c", "user.email=a@x", "commit", "-qm", "one")
    _git(sup, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub_src), "vendor")
    _git(sup, "-c", "user.name=A", "-c", "user.email=a@x", "commit", "-qm", "vendor lib")
    config = str(out / "pipeline_config.toml")
    mined = f"repos.include_paths=['{sup}']"
    (sup / "vendor" / "m.py").write_text("x = 1\ny = 2\n")
    for args in (("HEAD",), ("--worktree",)):
        proc = cli("estimate", "-c", config, "--set", mined, *args, cwd=sup / "vendor")
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr and len(proc.stderr.splitlines()) == 1
        assert f"--repo {sup / 'vendor'} " in proc.stderr and f"--repo {sup} " in proc.stderr
        assert "submodule" in proc.stderr
    # a folder of the mined repository itself is still priced, and --repo picks the submodule
    (sup / "pkg").mkdir()
    proc = cli("estimate", "-c", config, "--set", mined, "HEAD", "--json", cwd=sup / "pkg")
    assert proc.returncode == 0, proc.stderr
    proc = cli("estimate", "-c", config, "--set", mined, "--worktree", "--json",
               "--repo", str(sup / "vendor"), cwd=sup / "vendor")  # fmt: skip
    assert proc.returncode == 0 and json.loads(proc.stdout)["changes"][0]["lines_added"] == 1
    # with two repositories configured, standing in a third names it too (it said only
    # "in none of them")
    two = f"repos.include_paths=['{sup}', '{sub_src}']"
    proc = cli("estimate", "-c", config, "--set", two, "HEAD", cwd=out / "repos" / "repo-0")
    assert proc.returncode == 2, proc.stderr
    assert (
        f"(it is in the repository {out / 'repos' / 'repo-0'}, which the config does not mine"
        in (" ".join(proc.stderr.split()))
    )
    # --repo naming one configured repository, the commit in another: that one is named
    (sub_src / "lib_only.py").write_text("def f():\n    return 2\n")
    _git(sub_src, "add", "lib_only.py")
    _git(sub_src, "-c", "user.name=A", "-c", "user.email=a@x", "commit", "-qm", "lib only")
    lib_head = _git(sub_src, "rev-parse", "HEAD").strip()
    proc = cli("estimate", "-c", config, "--set", two, "--repo", str(sup), lib_head)
    assert proc.returncode == 2, proc.stderr
    said = " ".join(proc.stderr.split())
    assert f"no such commit in {sup}; it is in {sub_src}, also configured: --repo {sub_src}" in said
    # a relative revision resolves in any repository (to another change): no other is named
    depth = len(_git(sup, "rev-list", "--first-parent", "HEAD").split())
    while len(_git(sub_src, "rev-list", "--first-parent", "HEAD").split()) <= depth + 1:
        _git(sub_src, "-c", "user.name=A", "-c", "user.email=a@x", "commit", "-q",
             "--allow-empty", "-m", "more")  # fmt: skip
    proc = cli("estimate", "-c", config, "--set", two, "--repo", str(sup), f"HEAD~{depth}")
    assert proc.returncode == 2 and "also configured" not in proc.stderr, proc.stderr


def test_a_patch_prices_as_the_same_change_in_the_working_tree(
    demo: tuple[Path, str], tmp_path: Path
) -> None:
    """A patch's files' contents are rebuilt (HEAD of the repository + its hunks; a new file's
    added lines), so its syntax features, price and draws are the working tree's; a patch that
    does not apply to HEAD says which files went without their contents."""
    cfg, repo, target = _worktree(demo, tmp_path)
    body = "".join(f"def added_{i}(x):\n    return [x] * {i}\n\n" for i in range(6))
    target.write_text(target.read_text().replace("\n", "\n" + body, 1))
    (repo / "brand_new.py").write_text("import os\n\n\ndef sep(n):\n    return os.sep * n\n")
    _git(repo, "add", "-A")
    worktree = estimate(cfg, Target(worktree=True), repo=repo)["changes"][0]
    patch = tmp_path / "change.patch"
    patch.write_text(_git(repo, "diff", "--cached", "HEAD"))
    priced = estimate(cfg, Target(diff=patch), repo=repo)["changes"][0]
    for key in ("sch_hours", "q10", "q50", "q90", "top_features", "lines_added"):
        assert priced[key] == worktree[key], key
    assert "no_contents" not in priced
    other = tmp_path / "other.patch"  # a context line that is not what HEAD holds
    rel = target.relative_to(repo).as_posix()
    other.write_text(patch.read_text().replace("\n ", "\n x", 1))
    doc = estimate(cfg, Target(diff=other), repo=repo)
    assert doc["changes"][0]["no_contents"] == [rel], doc["changes"][0]
    proc = cli("estimate", "-c", str(demo[0] / "pipeline_config.toml"), "--diff", str(other),
               "--repo", str(repo))  # fmt: skip
    said = " ".join(proc.stdout.split())  # the console wraps the note
    assert proc.returncode == 0 and f"priced without the contents of {rel} " in said, said


def test_worktree_counts_untracked_files_before_and_after_the_first_commit_and_names_them(
    demo: tuple[Path, str], tmp_path: Path
) -> None:
    """The working tree's change is what is staged, changed and untracked (of the mined
    languages; .gitignore respected), before the first commit as after it; the untracked files
    are named, so a scratch file counted is seen."""
    out, _ = demo
    cfg = load_config(out / "pipeline_config.toml", [])
    fresh = tmp_path / "fresh"
    subprocess.run(["git", "init", "-q", str(fresh)], check=True)
    (fresh / "app.py").write_text("def area(w, h):\n    return w * h\n")
    _git(fresh, "add", "app.py")
    (fresh / "scratch.py").write_text("x = 1\ny = 2\nz = 3\n")
    (fresh / "ignored.py").write_text("q = 1\n")
    (fresh / ".gitignore").write_text("ignored.py\n")
    first = estimate(cfg, Target(worktree=True), repo=fresh)["changes"][0]
    assert first["lines_added"] == 2 + 3 and first["untracked"] == ["scratch.py"], first
    _git(fresh, "-c", "user.name=A", "-c", "user.email=a@x", "commit", "-qm", "one")
    (fresh / "app.py").write_text("def area(w, h):\n    return w * h\n\n\nAREA = area(2, 3)\n")
    later = estimate(cfg, Target(worktree=True), repo=fresh)["changes"][0]
    assert later["lines_added"] == 3 + 3 and later["untracked"] == ["scratch.py"], later
    proc = cli("estimate", "-c", str(out / "pipeline_config.toml"), "--worktree", "--repo",
               str(fresh))  # fmt: skip
    said = " ".join(proc.stdout.split())
    assert (
        proc.returncode == 0
        and "counts 1 untracked file(s) of the mined languages (scratch.py)" in said
    )


def test_a_format_patch_series_prices_as_its_commits(
    demo: tuple[Path, str], tmp_path: Path
) -> None:
    """Each mail of a series is read as the mails before it left its files (not at HEAD, where
    a file two mails change would not take the second), so it prices as the commit it was; a
    mail names its commit, and is drawn as that commit (the same q10/q50/q90 as estimate's)."""
    cfg, repo, target = _worktree(demo, tmp_path)
    for i in range(2):  # two commits to one file
        body = "".join(f"def step_{i}_{j}(x):\n    return [x] * {j}\n\n" for j in range(5))
        target.write_text(target.read_text().replace("\n", "\n" + body, 1))
        _git(repo, "-c", "user.name=A", "-c", "user.email=a@x", "commit", "-qam", f"step {i}")
    commits = estimate(cfg, Target(rev="HEAD~2..HEAD"), repo=repo)["changes"]
    series = tmp_path / "series.patch"
    series.write_text(_git(repo, "format-patch", "--stdout", "HEAD~2..HEAD"))
    _git(repo, "reset", "-q", "--hard", "HEAD~2")
    mails = estimate(cfg, Target(diff=series), repo=repo)["changes"]
    assert len(mails) == len(commits) == 2
    for mail, commit in zip(mails, commits, strict=True):
        assert "no_contents" not in mail, mail
        assert mail["sch_hours"] == pytest.approx(commit["sch_hours"], abs=1e-9), mail["source"]
        assert [mail[q] for q in ("q10", "q50", "q90")] == pytest.approx(
            [commit[q] for q in ("q10", "q50", "q90")], abs=1e-9
        )


def test_the_forecast_reads_the_mined_database_only_when_a_ticket_lists_commits(
    demo: tuple[Path, str], tmp_path: Path
) -> None:
    """The forecast stage declares what it opens: the mined database when a ticket lists
    commit ids (it decides whether an id is known), not for a sprint of diffs (priced by the
    model alone), nor for story points (no model: the stage runs before the first mine)."""
    out, _ = demo
    base = tmp_path / "sc-output"
    shutil.copytree(out / "sc-output", base, ignore=shutil.ignore_patterns("run-cache", "lock*"))
    layout = SchLayout(base)
    sprint = json.loads((out / "sprint_inputs.json").read_text())
    config = str(out / "pipeline_config.toml")

    def forecast(tickets: list[dict[str, Any]], where: Path = base) -> str:
        path = tmp_path / "sprint.json"
        path.write_text(json.dumps({**sprint, "tickets": tickets}))
        proc = cli("pipeline", "--config", config, "--stages", "forecast",
                   "--set", f"outputs.base_dir={where}",
                   "--set", f"forecasting.sprint_inputs_path={path}")  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        return proc.stderr

    versions = iter(range(101, 200))

    def touch_db() -> None:  # the database changes (as a new mine changes it)
        con = sqlite3.connect(layout.db)
        try:
            con.execute(f"PRAGMA user_version = {next(versions)}")
        finally:
            con.close()

    def manifest_inputs() -> list[str]:
        manifest = json.loads((base / "stages" / "forecast" / "manifest.json").read_text())
        return list(manifest["inputs"])

    lists = [t for t in sprint["tickets"] if t.get("commit_ids")]
    assert lists and any(t.get("diff") for t in sprint["tickets"])
    diffs = [{k: v for k, v in t.items() if k != "commit_ids"} for t in sprint["tickets"]]
    diffs = [t for t in diffs if t.get("diff") or t.get("story_points") or t["status"] == "done"]
    assert "[run] forecast" in forecast(diffs)
    assert not any(k.endswith("mined_commits.sqlite") for k in manifest_inputs())
    touch_db()
    said = forecast(diffs)  # a diff reads no mined commit (train_sch, which does, is stale)
    (skip,) = [ln for ln in said.splitlines() if ln.startswith("[skip] forecast")]
    assert "[run] forecast" not in said and "mined_commits" not in skip, said

    assert "[run] forecast" in forecast(sprint["tickets"])
    assert any(k.endswith("raw/mined_commits.sqlite") for k in manifest_inputs())
    touch_db()
    said = forecast(sprint["tickets"])
    assert "[run] forecast: input changed: " in said and "mined_commits.sqlite" in said, said

    points = [t for t in sprint["tickets"] if t.get("story_points") or t["status"] == "done"]
    points = [{k: v for k, v in t.items() if k not in ("diff", "commit_ids")} for t in points]
    fresh = tmp_path / "fresh"  # nothing mined: the story points alone need no stage before
    assert "[run] forecast" in forecast(points, fresh)
    assert not (fresh / "raw").exists() and list((fresh / "forecasts").glob("*_forecast.json"))
