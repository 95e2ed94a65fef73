"""Formatting-only file changes are left out of a change's features (a commit that runs a
formatter over 3,000 lines is minutes of work; on real histories such commits are rare but
among the largest)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from standard_coder.sch.features.formatting import is_formatting_only
from standard_coder.sch.features.raw_change import RawChange, extract_raw, left_out_counts
from standard_coder.sch.features.representation import ChangeRepresentation
from standard_coder.sch.records import CommitRecord, FileChange

BEFORE = """\
import os
def load(path, mode='r'):
    # read it all
    with open(path, mode) as f: return f.read()
x = {'a':1,
  'b':2}
"""
AFTER = """\
import os


def load(path, mode="r"):
    # read it all
    with open(path, mode) as f:
        return f.read()


x = {
    "a": 1,
    "b": 2,
}
"""


def fc(before: str | None, after: str | None, language: str = "python",
       path: str = "m.py") -> FileChange:  # fmt: skip
    return FileChange(path=path, old_path=None, language=language,
                      lines_added=(after or "").count("\n"),
                      lines_deleted=(before or "").count("\n"), is_binary=False,
                      before=before, after=after)  # fmt: skip


def test_a_black_style_reformat_is_formatting_only() -> None:
    assert is_formatting_only(fc(BEFORE, AFTER))
    assert is_formatting_only(fc(AFTER, BEFORE))  # either way round
    wrapped = "y = f(a, b)\n"
    assert is_formatting_only(fc(wrapped, "y = f(\n    a,\n    b,\n)\n"))  # magic trailing comma
    assert is_formatting_only(fc("z = (1)\n", "z = 1\n"))  # a redundant parenthesis


def test_a_change_to_the_program_or_its_comments_is_not() -> None:
    block = "if a:\n    b()\nc()\n"
    assert not is_formatting_only(fc(block, "if a:\n    b()\n    c()\n"))  # indentation is code
    assert not is_formatting_only(fc(BEFORE, AFTER.replace("# read it all", "# read it")))
    doc = 'def f():\n    """One line."""\n'
    assert not is_formatting_only(fc(doc, 'def f():\n    """One\n    line."""\n'))  # docstring
    assert not is_formatting_only(fc("import a\nimport b\n", "import b\nimport a\n"))
    assert not is_formatting_only(fc("x = 'a b'\n", 'x = "ab"\n'))  # inside a string
    assert not is_formatting_only(fc("print 'x'\n", "print  'x'\n"))  # Python 2: not parsed here
    assert not is_formatting_only(fc(None, AFTER))  # added
    assert not is_formatting_only(fc(BEFORE, None))  # deleted
    assert not is_formatting_only(fc(AFTER, AFTER))  # a rename: no lines


def test_other_languages_by_whitespace_where_it_is_not_syntax() -> None:
    js = "function f(a){return a+1}\n"
    pretty = "function f(a) {\n  return a + 1;\n}\n"
    assert is_formatting_only(fc(js, "function f(a) {\n  return a + 1\n}\n", "javascript", "f.js"))
    assert not is_formatting_only(fc(js, pretty, "javascript", "f.js"))  # a semicolon added
    assert is_formatting_only(fc("int x=1;\n", "int x = 1;\n", "c", "x.c"))
    assert not is_formatting_only(fc("x=1\n", "x = 1\n", "ruby", "x.rb"))  # not known: counts


def _record(*files: FileChange) -> CommitRecord:
    return CommitRecord(repo="r", commit_id="a", author_id="x", author_name="x", authored_at=0,
                        author_tz_offset_min=0, committed_at=0, files=files)  # fmt: skip


def test_features_count_only_the_files_with_more_than_formatting(tmp_path: Path) -> None:
    code = fc("def f():\n    return 1\n", "def f():\n    return 2\n", path="a.py")
    reformat = fc(BEFORE, AFTER, path="b.py")
    rec = _record(code, reformat)
    (raw,) = extract_raw([rec], with_ast=True)
    (every,) = extract_raw([rec], with_ast=True, skip_formatting=False)
    assert raw.tokens.surface[0] == 1 and every.tokens.surface[0] == 2  # files touched
    assert raw.tokens.surface[3] == code.lines_added  # lines added: the code's only
    assert every.tokens.surface[3] == code.lines_added + reformat.lines_added
    # what was left out is counted (and survives the feature ledger's JSON)
    assert raw.left_out.tolist() == [0, 0, 1, reformat.lines_added]
    assert every.left_out.tolist() == [0, 0, 0, 0]
    back_raw = RawChange.from_json(json.loads(json.dumps(raw.to_json())))
    assert back_raw.left_out.tolist() == raw.left_out.tolist()
    twice = left_out_counts([raw, raw])
    assert twice["formatting_files"] == 2 and twice["generated_files"] == 0
    assert twice["formatting_lines_added"] == 2 * reformat.lines_added
    on = ChangeRepresentation(kind="hybrid").fit([rec])
    off = ChangeRepresentation(kind="hybrid", skip_formatting=False).fit([rec])
    assert on.vocabulary_checksum_ != off.vocabulary_checksum_  # a model never mixes the two
    back = ChangeRepresentation.load(on.save(tmp_path / "on"))
    assert back.skip_formatting and back.checksum_ == on.checksum_
    np.testing.assert_array_equal(back.raw_matrix([rec]), on.raw_matrix([rec]))
    # saved before the option existed: no key, fitted counting every file
    old_dir = off.save(tmp_path / "old")
    meta = json.loads((old_dir / "representation.json").read_text())
    del meta["skip_formatting"]
    (old_dir / "representation.json").write_text(json.dumps(meta))
    old = ChangeRepresentation.load(old_dir)
    assert not old.skip_formatting and old.checksum_ == off.checksum_
    np.testing.assert_array_equal(old.raw_matrix([rec]), off.raw_matrix([rec]))
