"""codeedit domain: adapters on their fixtures, schema, dedup, splits, actions, sandbox, reward."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("ast_grep_py", reason="the codeedit extra is not installed")

from tests.paramcheck import stages_whose_params_change

from standard_coder.codeedit import (
    ActionApplyError,
    ActionParseError,
    ActionSchemaError,
    SandboxRefused,
    apply_action,
    srl_reward,
)
from standard_coder.codeedit.actions import load_rules, parse_answer
from standard_coder.codeedit.astgrep_cli import run_cli_action, scan_rule
from standard_coder.codeedit.dataset import (
    Filters,
    Rejections,
    normalize,
    split,
    stats,
    validate,
)
from standard_coder.codeedit.records import (
    committed_schema,
    normalize_language,
    record_json_schema,
)
from standard_coder.codeedit.sandbox import parse_cli
from standard_coder.codeedit.sources import fixture_path, read_source
from standard_coder.codeedit.synth import (
    builtin_snippets,
    filter_steps,
    generate,
    trajectory,
)

SOURCES = ("commitpackft", "editpackft", "ocedataft", "canitedit", "smellycode")


def _read(source: str, path: Path | None = None) -> tuple[list[dict], Rejections]:
    rejects = Rejections()
    out = []
    for cand, bad in read_source(source, path or fixture_path(source)):
        if bad:
            rejects.add(f"{source}:{bad[0]}", bad[1])
        else:
            out.append(cand)
    return out, rejects


def yaml_action(rule_yaml: str, language: str = "python") -> dict:
    return {"type": "ast_grep", "language": language, "mode": "yaml", "rule_yaml": rule_yaml}


# --- schema and adapters ----------------------------------------------------------------------


def test_committed_json_schema_matches_the_model() -> None:
    assert committed_schema() == record_json_schema(), "regenerate edit_record.schema.json"


@pytest.mark.parametrize(
    ("source", "n", "bad"),
    [
        ("commitpackft", 17, {"commitpackft:missing_field:old_contents": 1,
                              "commitpackft:unreadable_row": 1}),
        ("editpackft", 10, {}),
        ("ocedataft", 8, {"ocedataft:no_code_block": 1}),
        ("canitedit", 8, {}),
        ("smellycode", 4, {"smellycode:unpaired_files": 1}),
    ],
)  # fmt: skip
def test_each_adapter_reads_its_upstream_fixture(source: str, n: int, bad: dict) -> None:
    rows, rejects = _read(source)
    assert len(rows) == n and dict(rejects.counts) == bad
    records = validate(rows, rejects)
    assert len(records) == n  # every mapped row is a valid EditRecord
    assert {r.source for r in records} == {source}


def test_adapters_map_upstream_fields() -> None:
    rows, _ = _read("commitpackft")
    first = rows[0]
    assert first["instruction"] == "Fix off-by-one in restock threshold"
    assert first["repo"] == "acme/inventory" and first["instruction_style"] == "commit"
    assert {r["language"] for r in rows} == {"python", "javascript", "go", "rust"}  # "Python" too
    oce, _ = _read("ocedataft")
    assert {r["instruction_style"] for r in oce} == {"lazy", "descriptive"}
    assert oce[0]["pre"].startswith("def get(d, k):") and "```" not in oce[0]["post"]
    cie, _ = _read("canitedit")
    assert cie[0]["tests"].startswith("assert clamp") and cie[0]["id"] == "canitedit-1-descriptive"
    smelly, _ = _read("smellycode")
    assert {r["language"] for r in smelly} == {"java", "javascript", "cpp"}
    assert any(r["instruction"].startswith("Replace the magic number") for r in smelly)


def test_languages_are_normalised_to_one_list() -> None:
    assert [normalize_language(x) for x in ("Python", "py", "C++", "golang", "TSX", "cobol")] == [
        "python", "python", "cpp", "go", "typescript", "other"
    ]  # fmt: skip


def test_schema_violations_and_duplicates_are_counted_not_fatal() -> None:
    rows, rejects = _read("commitpackft")
    rows.append({**rows[1], "id": "x-1", "instruction": "   "})  # blank instruction
    rows.append({**rows[1], "id": "x-2", "language": "klingon"})  # not in the list
    rows.append({**rows[1], "id": "x-3", "surprise": 1})  # unknown field
    records = validate(rows, rejects)
    kept = normalize(records, Filters(), rejects)
    counts = rejects.counts
    assert counts["schema:instruction"] == 1 and counts["schema:language"] == 1
    assert counts["schema:surprise"] == 1
    assert counts["duplicate_exact"] == 1 and counts["duplicate_near"] == 1
    assert counts["noop_edit"] == 1
    assert rejects.samples["duplicate_exact"] == ["commitpackft-ffffffffffff-7cff49"]
    assert len(kept) == 17 - 3  # exact dup, near dup, no-op


def test_splits_are_repo_disjoint_and_canitedit_is_test_only() -> None:
    rejects = Rejections()
    rows = [r for s in SOURCES for r in _read(s)[0]]
    rows += [m.to_record().model_dump() for m in generate(builtin_snippets())]
    kept = normalize(validate(rows, rejects), Filters(), rejects)
    for seed in range(5):
        parts = split(kept, seed=seed, dev=0.2, test=0.2)
        repos = {name: {r.repo or r.id for r in recs} for name, recs in parts.items()}
        assert not repos["train"] & repos["dev"] and not repos["train"] & repos["test"]
        assert not repos["dev"] & repos["test"]
        assert all(r.source != "canitedit" for r in parts["train"] + parts["dev"])
        doc = stats(parts, rejects)
        assert doc["repo_overlap"] == []
        assert sum(doc["totals"].values()) == len(kept)
    assert doc["counts"]["test"]["canitedit"]["python"] == 8


# --- the action language ----------------------------------------------------------------------

PRE = "import os\n\n\ndef f(x):\n    print(x, 1)\n    if x:\n        print(os.path.join(x, 'a'))\n"


def test_fix_templates_render_metavariables() -> None:
    out = apply_action(
        yaml_action("rule:\n  pattern: print($$$ARGS)\nfix: logging.info($$$ARGS)\n"), PRE,
        "python",
    )  # fmt: skip
    assert "logging.info(x, 1)" in out and "logging.info(os.path.join(x, 'a'))" in out
    assert "print" not in out


RULES = [
    "rule:\n  pattern: print($$$ARGS)\nfix: logging.info($$$ARGS)\n",
    "rule:\n  pattern: print($A, $B)\nfix: print($B, $A)\n",
    "rule:\n  pattern: os.path.join($$$A)\nfix: Path($$$A)\n",
    "rule:\n  pattern: print($A)\nfix: |-\n  if DEBUG:\n      print($A)\n",
    "rule:\n  kind: identifier\n  regex: ^x$\nfix: value\n",
    "rule:\n  pattern: |-\n    if $C:\n        $$$B\n"
    "fix: |-\n  if not $C:\n      pass\n  else:\n      $$$B\n",
    "rule:\n  pattern: print($A, $$$R)\ntransform:\n  U:\n    convert:\n      source: $A\n"
    "      toCase: upperCase\nfix: print($U, $$$R)\n",
]


@pytest.mark.parametrize("rule", RULES)
def test_python_path_agrees_with_the_ast_grep_cli(rule: str) -> None:
    ours = apply_action(yaml_action(rule), PRE, "python")
    (doc,) = load_rules(rule)
    assert ours == scan_rule(doc, PRE, "python")
    assert ours != PRE


def test_synthetic_gold_actions_agree_with_the_cli_on_a_sample() -> None:
    mods = [m for m in generate(builtin_snippets()) if m.action["mode"] == "yaml"][::4]
    assert len(mods) >= 8
    for m in mods:
        (doc,) = load_rules(m.action["rule_yaml"])
        assert scan_rule(doc, m.pre, m.language) == m.post, m.template


def test_cli_mode_runs_on_pre() -> None:
    action = {"type": "ast_grep", "language": "python", "mode": "cli",
              "cli": "ast-grep run -p 'print($$$A)' -r 'log($$$A)'"}  # fmt: skip
    assert apply_action(action, PRE, "python").count("log(") == 2


@pytest.mark.parametrize(
    "cli",
    [
        "rm -rf /",
        "python -c 'print(1)'",
        "ast-grep new rule",
        "ast-grep run -p 'print($A)' -r 'x' -U",
        "ast-grep run -p 'print($A)' /etc/passwd",
        "ast-grep scan -r rule.yml",
        "ast-grep run -p 'print($A)' -r x; rm -rf /",
        "ast-grep run -p 'print($A)' -r x && curl example.com",
        "ast-grep run -p 'print($A)' -r x | sh",
        'ast-grep run -p "$(whoami)"',
        "ast-grep run -p `id`",
        "ast-grep run -p 'a' > out.txt",
    ],
)
def test_sandbox_refuses_other_commands_and_shell_syntax(cli: str) -> None:
    with pytest.raises(SandboxRefused):
        parse_cli(cli)
    with pytest.raises(SandboxRefused):
        run_cli_action(cli, PRE, "python")


def test_quoted_metacharacters_in_a_pattern_are_allowed() -> None:
    cmd = parse_cli("ast-grep run -p 'a | b' -r '$A && $B' -l python")
    assert cmd.options == {"--pattern": "a | b", "--rewrite": "$A && $B", "--lang": "python"}


def test_invalid_actions_raise_typed_errors() -> None:
    with pytest.raises(ActionSchemaError, match="type"):
        apply_action({"type": "sed", "language": "python", "mode": "yaml", "rule_yaml": "x"},
                     PRE, "python")  # fmt: skip
    with pytest.raises(ActionSchemaError, match="rule_yaml"):
        apply_action({"type": "ast_grep", "language": "python", "mode": "yaml"}, PRE, "python")
    with pytest.raises(ActionSchemaError, match="language"):
        apply_action(yaml_action("rule: {pattern: x}\nfix: y\n", "go"), PRE, "python")
    with pytest.raises(ActionApplyError, match="YAML"):
        apply_action(yaml_action("rule: [unclosed\n"), PRE, "python")
    with pytest.raises(ActionApplyError, match="rejected"):
        apply_action(yaml_action("rule:\n  kind: 12\n  nonsense: 1\nfix: y\n"), PRE, "python")
    with pytest.raises(ActionParseError):
        parse_answer("<think>no action</think>")
    with pytest.raises(ActionParseError):
        parse_answer("<action>{not json}</action>")


def test_answer_blocks_are_optional_around_the_action() -> None:
    a = {"type": "ast_grep", "language": "python", "mode": "cli", "cli": "ast-grep run -p x"}
    assert parse_answer(f"<action>{json.dumps(a)}</action>").action == a
    full = parse_answer(f"<think>t</think><action>{json.dumps({'action': a})}</action>"
                        "<state_update>s</state_update>")  # fmt: skip
    assert full.action == a and full.think == "t" and full.state_update == "s"


# --- synthetic codemods ---------------------------------------------------------------------


def test_every_synthetic_gold_action_reproduces_its_post() -> None:
    mods = list(generate(builtin_snippets(), seed=3))
    assert len(mods) >= 30
    assert set(Counter(m.template for m in mods)) == {
        "rename_call", "rename_function", "rename_import", "wrap_call", "add_kwarg",
        "replace_attribute",
    }  # fmt: skip
    for m in mods:
        assert m.post != m.pre
        assert apply_action(m.action, m.pre, m.language) == m.post
        compile(m.post, "<post>", "exec") if m.language == "python" else None


def test_trajectories_chain_and_the_filter_drops_bad_steps() -> None:
    code, lang = builtin_snippets()[0]
    steps = trajectory(code, lang, steps=3, seed=1)
    assert len(steps) == 3 and steps[1].pre == steps[0].post
    good = {"pre": steps[0].pre, "language": lang, "action": steps[0].action}
    noop = {"pre": code, "language": lang,
            "action": yaml_action("rule: {pattern: nothing_here($A)}\nfix: y\n")}  # fmt: skip
    kept, dropped = filter_steps([
        good, noop, {"pre": code, "language": lang, "answer": "no action"},
        {"pre": code, "language": lang, "action": yaml_action("rule: {kind: 1, x: 2}\nfix: y\n")},
    ])  # fmt: skip
    assert [k["post"] for k in kept] == [steps[0].post]
    assert dict(dropped) == {"no_change": 1, "unparseable": 1, "apply_failed": 1}


# --- the SRL reward ---------------------------------------------------------------------------

TEACHER = yaml_action("rule:\n  pattern: print($$$A)\nfix: log($$$A)\n")


def _answer(action: dict) -> str:
    return f"<think>..</think><action>{json.dumps(action)}</action>"


def test_reward_on_hand_made_pairs() -> None:
    assert srl_reward(_answer(TEACHER), TEACHER) == 1.0
    assert srl_reward(_answer({**TEACHER, "notes": "other words"}), TEACHER) == 1.0
    same_as_cli = {"type": "ast_grep", "language": "python", "mode": "cli",
                   "cli": "ast-grep run -p 'print($$$A)' -r 'log($$$A)'"}  # fmt: skip
    near = yaml_action("rule:\n  pattern: print($$$A)\nfix: logger($$$A)\n")
    far = yaml_action("rule:\n  kind: call\nfix: x\n")
    r_cli, r_near, r_far = (srl_reward(_answer(a), TEACHER) for a in (same_as_cli, near, far))
    assert 0.85 < r_cli < 1.0  # same rule and fix, only the mode differs: 1 - 0.7 * 0.1 - S_str
    assert 0.9 < r_near < 1.0 and 0.0 < r_far < 0.5
    assert r_far < r_cli and r_far < r_near
    for bad in ("no action at all", "<action>{oops</action>",
                _answer({"type": "ast_grep", "language": "python", "mode": "yaml"}),
                _answer({**same_as_cli, "cli": "rm -rf /"})):  # fmt: skip
        assert srl_reward(bad, TEACHER) == -0.2


def test_a_completions_file_that_misses_tasks_is_named_with_what_it_missed() -> None:
    """No match, a partial match, unknown ids only, no task at all: one line each, naming the
    file; a file answering every task (and nothing else) gives none."""
    from standard_coder.codeedit.evaluator import coverage
    from standard_coder.pipelines.codeedit_stages import coverage_warning

    ids = [str(i) for i in range(1, 8)]
    path = Path("answers.jsonl")

    def warn(completions: dict[str, list[str]], tasks: list[str] = ids) -> str | None:
        return coverage_warning(path, coverage(tasks, completions), tasks)

    none = warn({"canitedit-1-lazy": ["x"], "canitedit-2-lazy": ["y"]})
    assert none == (
        "answers.jsonl: no completion's task_id matched a CanItEdit test task id, so nothing was "
        "scored (pass@1 null): expected task ids 1, 2, 3, 4, 5, … (7 in all); found "
        "canitedit-1-lazy, canitedit-2-lazy"
    )
    assert warn({}) is not None and "found no completion at all" in str(warn({}))
    partial = warn({"1": ["a"], "2": ["b"], "9": ["c"]})
    assert partial == (
        "answers.jsonl: 5 of 7 CanItEdit test tasks have no completion and are not scored "
        "(3, 4, 5, 6, 7); pass@1 is over the other 2; 1 task_id(s) match no CanItEdit test "
        "task and are ignored (9)"
    )
    every = {i: ["a"] for i in ids}
    assert warn(every) is None
    assert warn({**every, "x": ["b"]}) == (
        "answers.jsonl: 1 task_id(s) match no CanItEdit test task and are ignored (x)"
    )
    assert "no CanItEdit test task to score" in str(warn({"1": ["a"]}, []))


CODEEDIT_CHANGES = {
    # key=value -> the stages whose params change (the others stay cached)
    "codeedit.eval_timeout_s=3": {"evaluate", "evaluate_models"},
    "codeedit.completions='c.jsonl'": {"evaluate"},
    "codeedit.max_bytes=1000": {"normalize"},
    "codeedit.dev_fraction=0.2": {"split"},
    "codeedit_train.stage1_steps=3": {"sft_stage1", "stage2_report"},
    "codeedit_train.stage0_steps=3": {"sft_stage0", "stage2_report"},
    "codeedit_train.srl_steps=3": {"srl_stage2", "stage2_report"},
    "codeedit_train.max_new_tokens=8": {"validate_stage1", "evaluate_models", "stage2_report"},
    "codeedit_train.tiny_layers=1": {"base_model", "stage2_report"},
    "codeedit_train.learning_rate=0.01": {"sft_stage0", "sft_stage1", "stage2_report"},
    "codeedit_train.checkpoint_every=2": set(),  # how often trainers save: Stage.settings
    # every stage that draws from the seed: synthetic records, the split, the model, training
    "runner.seed=5": {"ingest", "split", "base_model", "sft_stage0", "sft_stage1", "srl_stage2"},
}  # fmt: skip


@pytest.mark.parametrize("change", sorted(CODEEDIT_CHANGES))
def test_a_codeedit_key_changes_the_params_of_the_stages_that_read_it(
    tmp_path: Path, change: str
) -> None:
    from standard_coder.pipelines.codeedit import build

    config = tmp_path / "pipeline_config.toml"
    config.write_text('[pipeline]\nname = "codeedit"\n[codeedit_train]\nenabled = true\n')
    assert stages_whose_params_change(build, config, change) == CODEEDIT_CHANGES[change]


def test_codeedit_stage_keys_name_every_key_a_stage_reads() -> None:
    """A new key must be given to the stages that read it (or changing it reruns nothing)."""
    from standard_coder.config.codeedit import CodeEditSection
    from standard_coder.config.codeedit_train import CodeEditTrainSection
    from standard_coder.pipelines import codeedit, codeedit_eval, codeedit_train

    named = {k for keys in codeedit.STAGE_KEYS.values() for k in keys}
    assert set(CodeEditSection.model_fields) == named
    named = {k for keys in codeedit_train.STAGE_KEYS.values() for k in keys}
    named |= codeedit_eval.EVAL_KEYS | set(codeedit_train.SETTINGS_KEYS)
    # enabled, model and base_model choose the stages and their inputs
    assert set(CodeEditTrainSection.model_fields) - named == {"enabled", "model", "base_model"}


def test_a_training_mix_naming_an_unknown_source_is_a_config_error(tmp_path: Path) -> None:
    from standard_coder.config import ConfigError
    from standard_coder.config.codeedit import validate_codeedit_config

    with pytest.raises(ConfigError, match=r"stage1_mix: unknown source 'synthetics'; the sources"):
        validate_codeedit_config(
            {"codeedit_train": {"stage1_mix": {"synthetics": 1.0}}}, tmp_path / "p.toml"
        )
