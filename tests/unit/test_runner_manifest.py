"""Manifests: build, validate, read, write, JSON Schema; fingerprint helpers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from standard_coder.runner import manifest as mf
from standard_coder.runner.errors import CorruptStateError
from standard_coder.runner.fingerprint import fingerprint, flatten, params_diff


def _doc(**over: Any) -> dict[str, Any]:
    doc = mf.build_manifest(
        stage="train",
        inputs={"data": "a" * 64},
        inputs_checksum="b" * 64,
        params={"train.lr": 0.01},
        runner_version="0.1.0",
        outputs={"out/model.json": "c" * 64},
        outputs_checksum="d" * 64,
        fingerprint="e" * 64,
        code_version="f" * 64,
        device=None,
        now=1000.0,
    )
    doc.update(over)
    return doc


def test_build_has_seed_fields_and_additions() -> None:
    doc = _doc()
    for name in (
        "stage",
        "inputs",
        "inputs_checksum",
        "params",
        "runner_version",
        "outputs",
        "timestamp",
        "last_checked_ts",
        "schema_version",
        "fingerprint",
        "code_version",
        "outputs_checksum",
        "device",
    ):
        assert name in doc
    assert doc["schema_version"] == mf.SCHEMA_VERSION
    assert mf.validate_manifest(doc) == []


def test_write_read_roundtrip(tmp_path: Path) -> None:
    path = mf.manifest_path(tmp_path, "train")
    mf.write_manifest(path, _doc())
    assert mf.read_manifest(path) == json.loads(path.read_text())
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_missing_manifest_is_none(tmp_path: Path) -> None:
    assert mf.read_manifest(tmp_path / "none.json") is None


@pytest.mark.parametrize("content", [b"", b"{trunc", b"\xff\xfe", b"[1, 2]", b'{"stage": 1}'])
def test_corrupt_manifest_raises(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "manifest.json"
    path.write_bytes(content)
    with pytest.raises(CorruptStateError):
        mf.read_manifest(path)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "the manifest file is empty (expected a JSON object)"),
        (b'{"stage": "a",', "not valid JSON (it ends too early)"),
        (b"\xff\xfe", "not valid JSON (not UTF-8 text)"),
        (b"[1, 2]", "the manifest file is a JSON array, not an object"),
    ],
)
def test_a_corrupt_manifest_says_why_in_words(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "manifest.json"
    path.write_bytes(content)
    with pytest.raises(CorruptStateError) as info:
        mf.read_manifest(path)
    assert info.value.reason == reason and str(info.value) == f"{path}: {reason}"
    assert mf.validate_file(path) == [f"(file): {reason}"]


def test_a_folder_at_the_manifest_path_is_a_storage_error_not_corruption(tmp_path: Path) -> None:
    """The disk, not the data: nothing to quarantine (``fserrors``)."""
    (tmp_path / "manifest.json").mkdir()
    with pytest.raises(IsADirectoryError):
        mf.read_manifest(tmp_path / "manifest.json")


def test_validate_names_field() -> None:
    doc = _doc()
    del doc["fingerprint"]
    doc["params"] = "x"
    problems = mf.validate_manifest(doc)
    assert "fingerprint: missing" in problems
    assert any(p.startswith("params: wrong type") for p in problems)


def test_refuses_to_write_invalid(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="stage"):
        mf.write_manifest(tmp_path / "m.json", _doc(stage=3))


def test_json_schema_accepts_built_and_names_bad_field(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_doc()))
    assert mf.validate_file(good) == []
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(_doc(fingerprint="xyz")))
    problems = mf.validate_file(bad)
    assert problems and problems[0].startswith("fingerprint:")
    missing = tmp_path / "missing.json"
    doc = _doc()
    del doc["outputs_checksum"]
    missing.write_text(json.dumps(doc))
    assert any(p.startswith("outputs_checksum:") for p in mf.validate_file(missing))
    assert mf.json_schema()["title"] == "StageManifest"


def test_params_diff_reads_like_the_issue() -> None:
    assert params_diff({"train": {"lr": 0.001}}, {"train": {"lr": 0.01}}) == [
        "train.lr 0.001 -> 0.01"
    ]
    assert params_diff({"a": 1}, {"a": 1, "b": "x"}) == ["b (new) -> x"]
    assert params_diff({"a": 1}, {}) == ["a 1 -> (removed)"]
    # a number given as text (--set 'params.steps="200"') reads as a change, quoted
    assert params_diff({"steps": 200}, {"steps": "200"}) == ['steps 200 -> "200"']
    assert params_diff({"lr": "0.1"}, {"lr": 0.1}) == ['lr "0.1" -> 0.1']
    assert params_diff({"p": "auto"}, {"p": "mdn"}) == ["p auto -> mdn"]  # text stays bare


def test_params_diff_names_a_param_by_its_config_key() -> None:
    labels = {"seed": "runner.seed", "opt": "training.optim"}
    assert params_diff({"seed": 5, "opt": {"lr": 1}}, {"seed": 7, "opt": {"lr": 2}}, labels) == [
        "training.optim.lr 1 -> 2",
        "runner.seed 5 -> 7",
    ]
    assert params_diff({"seedling": 1}, {"seedling": 2}, labels) == ["seedling 1 -> 2"]


def test_fingerprint_changes_with_each_part() -> None:
    base = dict(
        inputs_checksum="i", params={"a": 1}, code_version="c", runner_version="r", device=None
    )
    fp = fingerprint(**base)  # type: ignore[arg-type]
    for key, value in [
        ("inputs_checksum", "j"),
        ("params", {"a": 2}),
        ("code_version", "d"),
        ("runner_version", "s"),
        ("device", "cuda"),
    ]:
        assert fingerprint(**{**base, key: value}) != fp  # type: ignore[arg-type]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.dictionaries(st.text("abc", min_size=1, max_size=3), inner, max_size=3),
    max_leaves=8,
)


@given(st.dictionaries(st.text("xyz", min_size=1, max_size=3), json_values, max_size=4))
def test_params_diff_empty_iff_equal_flattened(params: dict[str, Any]) -> None:
    assert params_diff(params, params) == []
    assert flatten(params) == flatten(json.loads(json.dumps(params)))


def test_a_change_inside_a_list_of_tables_is_named_by_index() -> None:
    """One changed date of one ``[[forecasting.scenarios]]`` printed the whole list twice
    (about 900 characters on each of the [run], [done] and status lines)."""
    from standard_coder.runner.fingerprint import params_diff

    def scenarios(day: str) -> dict[str, object]:
        return {"forecasting": {"scenarios": [
            {"name": "ann off", "days_off": {"ann": [day]}},
            {"name": "more scope", "scope_factor": 1.2},
        ]}}  # fmt: skip

    assert params_diff(scenarios("2026-03-03"), scenarios("2026-03-04")) == [
        'forecasting.scenarios[0].days_off.ann ["2026-03-03"] -> ["2026-03-04"]'
    ]
    fewer = {
        "forecasting": {"scenarios": [{"name": "ann off", "days_off": {"ann": ["2026-03-03"]}}]}
    }
    assert params_diff(scenarios("2026-03-03"), fewer) == [
        "forecasting.scenarios[1].name more scope -> (removed)",
        "forecasting.scenarios[1].scope_factor 1.2 -> (removed)",
    ]
