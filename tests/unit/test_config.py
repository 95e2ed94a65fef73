"""The flagship config schema: strict keys, config-relative paths, overrides, the template."""

from __future__ import annotations

from pathlib import Path

import pytest

from standard_coder.config import ConfigError, load_config
from standard_coder.config.template import render_template


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "pipeline_config.toml"
    p.write_text(text)
    return p


def test_unknown_key_names_path_and_nearest(tmp_path: Path) -> None:
    p = write(tmp_path, "[training.optim]\nepochz = 5\n")
    with pytest.raises(ConfigError) as exc:
        load_config(p)
    msg = str(exc.value)
    assert str(p) in msg
    assert "training.optim.epochz" in msg
    assert "did you mean 'epochs'" in msg


def test_wrong_type_names_key_and_value(tmp_path: Path) -> None:
    p = write(tmp_path, '[training.optim]\nepochs = "ten"\n')
    with pytest.raises(ConfigError, match=r"training\.optim\.epochs.*'ten'"):
        load_config(p)


def test_unknown_section(tmp_path: Path) -> None:
    p = write(tmp_path, "[trainig]\n")
    with pytest.raises(ConfigError, match="did you mean 'training'"):
        load_config(p)


def test_bad_toml(tmp_path: Path) -> None:
    p = write(tmp_path, "[outputs\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(p)


def test_paths_relative_to_config_file(tmp_path: Path) -> None:
    sub = tmp_path / "cfg"
    sub.mkdir()
    p = sub / "c.toml"
    p.write_text('[outputs]\nbase_dir = "out"\n[forecasting]\nsprint_inputs_path = "s.json"\n')
    cfg = load_config(p)
    assert cfg.outputs.base_dir == sub / "out"
    assert cfg.forecasting.sprint_inputs_path == sub / "s.json"


def test_home_expanded(tmp_path: Path) -> None:
    p = write(tmp_path, '[outputs]\nbase_dir = "~/sc"\n')
    assert load_config(p).outputs.base_dir == Path.home() / "sc"


def test_overrides_are_validated(tmp_path: Path) -> None:
    p = write(tmp_path, "")
    cfg = load_config(p, ["training.mdn.components=3", "runner.device=cpu"])
    assert cfg.training.mdn.components == 3
    assert cfg.runner.device == "cpu"
    with pytest.raises(ConfigError, match=r"training\.mdn\.componets"):
        load_config(p, ["training.mdn.componets=3"])
    with pytest.raises(ConfigError, match=r"runner\.device"):
        load_config(p, ["runner.device=tpu"])
    with pytest.raises(ConfigError, match=r"expected KEY\.PATH=VALUE"):
        load_config(p, ["runner.device"])


def test_an_error_in_a_set_key_blames_the_set_not_the_file(tmp_path: Path) -> None:
    p = write(tmp_path, '[training.optim]\nepochs = "ten"\n')
    with pytest.raises(ConfigError) as exc:
        load_config(p, ["bad.key=1", "runner.device=tpu"])
    lines = str(exc.value).splitlines()
    assert lines[0] == f"{p}: invalid configuration"
    said = dict(line.strip().split(": ", 1) for line in lines[1:])
    assert "training.optim.epochs" in said  # the file's own mistake, as before
    assert said["bad (from --set bad.key=1)"].startswith("unknown key")
    assert "runner.device (from --set runner.device=tpu)" in said


def test_a_bare_word_set_where_a_list_goes_says_the_list_form(tmp_path: Path) -> None:
    """--set parses TOML: ``repos.include_paths=src`` is text, not a list; the line gives the
    form that works."""
    p = write(tmp_path, "")
    with pytest.raises(ConfigError) as exc:
        load_config(p, ["repos.include_paths=src"])
    (line,) = str(exc.value).splitlines()[1:]
    assert line.endswith("""(got 'src'); a list: --set 'repos.include_paths=["src"]'"""), line
    load_config(p, ['repos.include_paths=["src"]'])  # the form it gives loads


def test_a_check_of_two_keys_names_both_set_keys(tmp_path: Path) -> None:
    """Two keys that must agree, both set with --set: the line names both (not the first
    only), and not an unrelated --set of the same section."""
    from standard_coder.config.vision import load_vision_config

    p = tmp_path / "v.toml"
    p.write_text('[pipeline]\nname = "vision"\n')
    sets = ["vision.num_steps=3", "vision.model_type=testing", "vision.img_size=9"]
    with pytest.raises(ConfigError) as exc:
        load_vision_config(p, sets)
    (line,) = str(exc.value).splitlines()[1:]
    assert line.startswith(
        "  vision (from --set vision.model_type=testing, --set vision.img_size=9): "
        "model_type = 'testing' needs an even img_size"
    )


def test_an_unknown_language_is_named_with_its_nearest(tmp_path: Path) -> None:
    p = write(tmp_path, '[filters.languages]\nenabled = ["pyton"]\n')
    with pytest.raises(ConfigError) as exc:
        load_config(p)
    msg = str(exc.value)
    assert str(p) in msg and "filters.languages" in msg and "'pyton'" in msg
    assert "did you mean 'python'" in msg and "Value error" not in msg


def test_a_config_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    p = tmp_path / "pipeline_config.toml"
    p.write_bytes(b'[repos]\ninclude_paths = ["caf\xe9"]\n')
    with pytest.raises(ConfigError, match=rf"{p}: not UTF-8 text \(byte 0xe9 on line 2\)"):
        load_config(p)


def test_template_is_accepted_unchanged_and_lists_every_key(tmp_path: Path) -> None:
    text = render_template()
    p = write(tmp_path, text)
    cfg = load_config(p)
    assert cfg.outputs.base_dir == tmp_path / "sc-output"
    for key in (
        "include_paths",
        "exclude_bots",
        "label_samples_per_commit",
        "n_sims",
        "history_days",
    ):
        assert f"{key} =" in text
    # every line that is not a comment or table header is a key = value
    for line in text.splitlines():
        if line and not line.startswith(("#", "[")):
            assert " = " in line, line


def test_template_scenarios_comment_shows_how_to_write_one(tmp_path: Path) -> None:
    text = render_template()
    lines = text.splitlines()
    comment = lines[lines.index("scenarios = []") - 1]
    assert "[[forecasting.scenarios]]" in comment and "member_joins" in comment
    edited = text.replace("scenarios = []\n", "") + (
        '\n[[forecasting.scenarios]]\nname = "hire"\nmember_joins = {newbie = 5.0}\n'
        "scope_growth_percent = 10\n"
    )
    cfg = load_config(write(tmp_path, edited))
    assert [s.name for s in cfg.forecasting.scenarios] == ["hire"]
    assert cfg.forecasting.scenarios[0].member_joins == {"newbie": 5.0}


def test_default_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, ""))
    assert cfg.outputs.base_dir == tmp_path / "sc-output"


def test_device_accepts_cuda_index_and_rejects_others(tmp_path: Path) -> None:
    p = write(tmp_path, "")
    assert load_config(p, ["runner.device=cuda:1"]).runner.device == "cuda:1"
    with pytest.raises(ConfigError, match=r"runner\.device"):
        load_config(p, ["runner.device=cuda:x"])


def test_workers_zero_means_one_per_core(tmp_path: Path) -> None:
    import os

    p = write(tmp_path, "")
    assert load_config(p).runner.resolved_workers() == max(1, min(8, os.cpu_count() or 1))
    assert load_config(p, ["runner.workers=3"]).runner.resolved_workers() == 3


def test_recency_half_life_defaults_bounds_and_off(tmp_path: Path) -> None:
    from standard_coder.pipelines.sch_train_options import recency_of

    assert recency_of(load_config(write(tmp_path, "")).training) == 0.25
    off = load_config(write(tmp_path, "[training]\nrecency_half_life = 0\n")).training
    assert off.recency_half_life == 0 and recency_of(off) is None
    multitask = off.model_copy(update={"predictor": "multitask", "recency_half_life": 0.5})
    assert recency_of(multitask) == 0.5  # multitask (and its LOC baseline) as every predictor
    with pytest.raises(ConfigError, match=r"training\.recency_half_life"):
        load_config(write(tmp_path, "[training]\nrecency_half_life = -0.1\n"))


@pytest.mark.parametrize("force", [False, True])
def test_init_config_on_a_folder_says_so_and_suggests_a_file_in_it(
    tmp_path: Path, force: bool
) -> None:
    from typer.testing import CliRunner

    from standard_coder.cli import commands  # noqa: F401  (registers the commands)
    from standard_coder.cli.app import app

    args = ["init-config", str(tmp_path), *(["--force"] if force else [])]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2
    line = res.output.strip()
    assert "\n" not in line and "--force" not in line
    assert f"{tmp_path} is a folder" in line and str(tmp_path / "pipeline_config.toml") in line
    assert list(tmp_path.iterdir()) == []


def test_init_config_says_which_folder_it_created(tmp_path: Path) -> None:
    """A mistyped path made its folders without a word; the first one it made is named."""
    from typer.testing import CliRunner

    from standard_coder.cli import commands  # noqa: F401  (registers the commands)
    from standard_coder.cli.app import app

    path = tmp_path / "projcet" / "sub" / "pipeline_config.toml"
    res = CliRunner().invoke(app, ["init-config", str(path)])
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[0] == f"created the folder {tmp_path / 'projcet'}"
    assert path.is_file()
    again = CliRunner().invoke(app, ["init-config", str(path.with_name("other.toml"))])
    assert again.exit_code == 0 and "created the folder" not in again.output


def test_a_suggested_command_repeats_the_set_overrides(tmp_path: Path) -> None:
    """``estimate --set training.predictor=quantile`` without that model said to run the
    pipeline without the --set: a command that trains another model. The config keeps its
    overrides (not part of the file) and the command it suggests repeats them, quoted."""
    path = write(tmp_path, "")
    cfg = load_config(path, ["training.predictor=quantile", 'repos.include_paths=["a b"]'])
    assert cfg.pipeline_command("--to", "train_sch") == (
        f"standard-coder pipeline --config {path} --set training.predictor=quantile "
        "--set 'repos.include_paths=[\"a b\"]' --to train_sch"
    )
    assert "set_overrides" not in cfg.model_dump()
