"""``runner/jsonfile.py``: one line naming the file and the cause for every way a JSON object
file can be wrong, raised as the caller's own error class (real files, no mocks)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from standard_coder.runner.jsonfile import (
    JsonFileError,
    parse_json_object,
    read_json_object,
    read_json_object_or_none,
)


class _Bad(Exception):
    """A caller's own error class."""


def _said(path: Path) -> str:
    with pytest.raises(_Bad) as info:
        read_json_object(path, _Bad, "sprint inputs")
    line = str(info.value)
    assert "\n" not in line and line.startswith(f"{path}: "), line
    assert "Traceback" not in line and "Errno" not in line, line
    return line[len(f"{path}: ") :]


def test_an_object_comes_back(tmp_path: Path) -> None:
    f = tmp_path / "s.json"
    f.write_text('{"a": [1, 2], "b": {"c": "é"}}', "utf-8")
    assert read_json_object(f, _Bad, "sprint inputs") == {"a": [1, 2], "b": {"c": "é"}}


def test_a_byte_order_mark_is_allowed(tmp_path: Path) -> None:
    f = tmp_path / "s.json"
    f.write_bytes(b"\xef\xbb\xbf" + b'{"a": 1}')
    assert read_json_object(f, _Bad, "sprint inputs") == {"a": 1}


def test_missing(tmp_path: Path) -> None:
    assert _said(tmp_path / "nope.json") == "missing (sprint inputs file not found)"


def test_a_folder(tmp_path: Path) -> None:
    (tmp_path / "d.json").mkdir()
    assert _said(tmp_path / "d.json") == "is a folder, expected a sprint inputs file"


def test_unreadable_because_a_file_stands_where_a_folder_must_be(tmp_path: Path) -> None:
    """Root reads any file whatever its mode: a path through a file is unreadable for all."""
    (tmp_path / "plain").write_text("x")
    assert _said(tmp_path / "plain" / "s.json") == "cannot be read (Not a directory)"


def test_empty_and_blank(tmp_path: Path) -> None:
    f = tmp_path / "s.json"
    for text in ("", " \n\t"):
        f.write_text(text)
        assert _said(f) == "the sprint inputs file is empty (expected a JSON object)"


def test_binary_garbage_is_not_utf8(tmp_path: Path) -> None:
    f = tmp_path / "s.json"
    f.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    assert _said(f) == "not valid JSON (not UTF-8 text)"


def test_truncated_json_ends_too_early(tmp_path: Path) -> None:
    f = tmp_path / "s.json"
    text = json.dumps({"tickets": [{"id": "T-1", "points": 3}] * 5}, indent=2)
    for cut in (1, 40, len(text) - 1):
        f.write_text(text[:cut] + "\n")
        assert _said(f) == "not valid JSON (it ends too early)"


def test_a_syntax_error_gives_line_and_column(tmp_path: Path) -> None:
    f = tmp_path / "s.json"
    f.write_text('{\n  "a": 1,\n  b: 2\n}\n')
    said = _said(f)
    assert said.startswith("not valid JSON (line 3, column 3: "), said
    f.write_text('{"a": 1} x')
    assert _said(f) == "not valid JSON (line 1, column 10: Extra data)"


@pytest.mark.parametrize(
    ("text", "kind"),
    [("[1, 2]", "array"), ('"x"', "string"), ("3", "number"), ("true", "boolean"),
     ("null", "null")],
)  # fmt: skip
def test_not_an_object(tmp_path: Path, text: str, kind: str) -> None:
    f = tmp_path / "s.json"
    f.write_text(text)
    assert _said(f) == f"the sprint inputs file is a JSON {kind}, not an object"


def test_any_callable_builds_the_error(tmp_path: Path) -> None:
    got: list[str] = []

    def make(line: str) -> Exception:
        got.append(line)
        return KeyError(line)

    with pytest.raises(KeyError):
        read_json_object(tmp_path / "nope.json", make, "label map")
    assert got == [f"{tmp_path / 'nope.json'}: missing (label map file not found)"]


def test_parse_gives_the_cause_without_a_path() -> None:
    with pytest.raises(JsonFileError) as info:
        parse_json_object(b"[]", "run state")
    assert str(info.value) == "the run state file is a JSON array, not an object"
    assert isinstance(info.value, ValueError)


def test_or_none_gives_the_object(tmp_path: Path) -> None:
    f = tmp_path / "s.json"
    f.write_bytes(b"\xef\xbb\xbf" + b'{"a": [1], "b": null}')
    assert read_json_object_or_none(f) == {"a": [1], "b": None}


@pytest.mark.parametrize(
    ("content", "cause"),
    [
        (b"", "the JSON file is empty (expected a JSON object)"),
        (b'{"a": ', "not valid JSON (it ends too early)"),
        (b"\xff\xfe", "not valid JSON (not UTF-8 text)"),
        (b"[1, 2]", "the JSON file is a JSON array, not an object"),
        (b"null", "the JSON file is a JSON null, not an object"),
    ],
)
def test_or_none_reads_a_damaged_file_as_absent_and_says_why_at_debug(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: bytes, cause: str
) -> None:
    f = tmp_path / "s.json"
    f.write_bytes(content)
    with caplog.at_level("DEBUG", logger="standard_coder.runner.jsonfile"):
        assert read_json_object_or_none(f) is None
    assert [r.getMessage() for r in caplog.records] == [f"{f}: {cause}, read as absent"]


def test_or_none_a_missing_file_is_absent_without_a_word(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("DEBUG", logger="standard_coder.runner.jsonfile"):
        assert read_json_object_or_none(tmp_path / "nope.json") is None
    assert caplog.records == []


def test_or_none_a_folder_or_a_file_in_the_way_is_absent(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "d.json").mkdir()
    (tmp_path / "f").write_text("x", "utf-8")
    with caplog.at_level("DEBUG", logger="standard_coder.runner.jsonfile"):
        assert read_json_object_or_none(tmp_path / "d.json") is None
        assert read_json_object_or_none(tmp_path / "f" / "s.json") is None
    said = [r.getMessage() for r in caplog.records]
    assert said[0].startswith(f"{tmp_path / 'd.json'}: is a folder ("), said
    assert said[1].startswith(f"{tmp_path / 'f' / 's.json'}: cannot be read ("), said


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)


@given(st.dictionaries(st.text(), _JSON, max_size=5))
def test_every_object_round_trips(doc: dict[str, object]) -> None:
    assert parse_json_object(json.dumps(doc).encode("utf-8"), "x") == doc


@given(st.binary(max_size=64))
def test_any_bytes_give_an_object_or_one_line(data: bytes) -> None:
    try:
        doc = parse_json_object(data, "x")
    except JsonFileError as exc:
        assert "\n" not in str(exc) and str(exc)
    else:
        assert isinstance(doc, dict)


def test_field_problem_names_the_first_missing_or_mistyped_key() -> None:
    from standard_coder.runner.jsonfile import field_problem

    types = {"kind": str, "steps": int, "rate": (int, float), "note": str}
    ok = {"kind": "a", "steps": 3, "rate": 0.5}
    assert field_problem(ok, types, ("kind", "steps")) is None
    assert field_problem({"steps": 3}, types, ("kind",)) == "missing key 'kind'"
    assert field_problem({**ok, "steps": True}, types) == "'steps' is not an integer"  # no bool
    assert field_problem({**ok, "rate": "x"}, types) == "'rate' is not an integer or a number"
    assert field_problem({**ok, "note": None}, types) is None  # an optional null is absent
    assert field_problem({**ok, "kind": None}, types, ("kind",)) == "'kind' is not a string"
    assert field_problem({**ok, "kind": 1}, types, said={"kind": "a name"}) == (
        "'kind' is not a name"
    )
