"""Change features: token bag, surface counts, AST edits, representation fit/transform/save."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from standard_coder.sch.features import (
    ChangeRepresentation,
    RepresentationMismatch,
    ast_edits,
    extract_raw,
)
from standard_coder.sch.features.ast_edits import (
    AST_NAMES,
    AstCache,
    _whole_file,
    ast_edit_features,
    split_top_level,
)
from standard_coder.sch.features.synthetic import synthetic_changes
from standard_coder.sch.features.tokens import (
    SURFACE_NAMES,
    changed_lines,
    file_token_counts,
    unmoved_added,
)
from standard_coder.sch.records import CommitRecord, FileChange


def fc(
    diff: str,
    before: str | None = None,
    after: str | None = None,
    path: str = "a.py",
    language: str = "python",
    added: int = 0,
    deleted: int = 0,
) -> FileChange:
    return FileChange(path=path, old_path=path, language=language, lines_added=added,
                      lines_deleted=deleted, is_binary=False, diff=diff, before=before,
                      after=after)  # fmt: skip


def commit(cid: str, *files: FileChange, t: int = 0, repo: str = "r") -> CommitRecord:
    return CommitRecord(repo=repo, commit_id=cid, author_id="a@x", author_name="A",
                        authored_at=t, author_tz_offset_min=0, committed_at=t,
                        files=files)  # fmt: skip


def A(name: str) -> int:
    return AST_NAMES.index(name)


def test_changed_lines_skip_context_hunk_headers_and_stray_file_headers() -> None:
    diff = "--- a/x.py\n+++ b/x.py\n@@ -1,2 +1,2 @@\n ctx = 1\n-old = 2\n+new = 3\n\\ No newline\n"
    lines, added, deleted = changed_lines(diff)
    assert lines == ["old = 2", "new = 3"]
    assert (added, deleted) == (1, 1)


def test_token_bag_classes_keywords_operators_identifiers_and_surface() -> None:
    diff = "@@ -1 +1,2 @@\n-if a == b:\n+while a != b:\n+    return f(a)\n"
    c = file_token_counts([fc(diff, path="src/some_path_name.py")])
    bag = c.bag
    assert bag["python|kw|if"] == 1 and bag["python|kw|while"] == 1 and bag["python|kw|return"] == 1
    assert bag["python|op|=="] == 1 and bag["python|op|!="] == 1 and bag["python|op|("] == 1
    assert bag["python|id|a"] == 3 and bag["python|id|f"] == 1
    assert not any("some_path_name" in k or "@@" in k for k in bag)  # no paths, no headers
    surface = dict(zip(SURFACE_NAMES, c.surface, strict=True))
    assert surface["files_touched"] == 1
    assert surface["lines_added"] == 2 and surface["lines_deleted"] == 1
    assert surface["tokens"] == sum(bag.values())
    assert surface["spaces"] == 3 + 3 + 5  # "if a == b:", "while a != b:", "    return f(a)"


def test_unmoved_lines_leave_out_moves_reindents_and_blank_lines() -> None:
    # a function moved from a.py to b.py, with one really new line and a blank line
    moved_out = "@@ -1,3 +0,0 @@\n-def f(x):\n-    return x + 1\n-\n"
    moved_in = "@@ -0,0 +1,4 @@\n+def f(x):\n+    y = 2\n+    return x + 1\n+\n"
    assert unmoved_added([moved_out, moved_in]) == 1
    # a block re-indented under a new condition: only the condition is new
    assert unmoved_added(["@@\n-foo()\n-bar()\n+if ok:\n+    foo()\n+    bar()\n"]) == 1
    # one deleted line pardons one inserted copy, not every copy
    assert unmoved_added(["@@\n-x = 1\n+x = 1\n+x = 1\n"]) == 1
    assert unmoved_added(["@@\n+\n+   \n"]) == 0
    c = file_token_counts(
        [fc(moved_out, path="a.py", deleted=3), fc(moved_in, path="b.py", added=4)]
    )
    surface = dict(zip(SURFACE_NAMES, c.surface, strict=True))
    assert surface["lines_added"] == 4 and surface["lines_added_unmoved"] == 1
    # lines past the stored diff's cap count as written (the mined count survives truncation)
    cut = file_token_counts([fc("@@\n+a = 1\n+b = 2\n", added=10)])
    assert dict(zip(SURFACE_NAMES, cut.surface, strict=True))["lines_added_unmoved"] == 10


def test_source_lines_leave_out_test_files() -> None:
    """``lines_added_source``: lines added outside test files (docs/effort-models.md,
    "Combined backbone")."""
    two = "@@\n+a = 1\n+b = 2\n"
    files = [fc(two, path="src/pkg/core.py", added=2), fc(two, path="tests/test_core.py", added=2),
             fc(two, path="pkg/testing/util.py", added=2), fc(two, path="pkg/conftest.py", added=2),
             fc(two, path="pkg/io_test.py", added=2), fc(two, path="docs/latest.rst", added=2),
             fc(two, path="pkg/contest.py", added=2)]  # fmt: skip
    surface = dict(zip(SURFACE_NAMES, file_token_counts(files).surface, strict=True))
    assert surface["lines_added"] == 14
    assert surface["lines_added_source"] == 6  # core.py, latest.rst, contest.py
    cut = file_token_counts([fc(two, path="a.py", added=10)])  # past the diff cap: mined count
    assert dict(zip(SURFACE_NAMES, cut.surface, strict=True))["lines_added_source"] == 10


def test_java_keywords_are_per_language() -> None:
    c = file_token_counts([fc("@@\n+public class X implements Y {}\n", path="X.java",
                              language="java")])  # fmt: skip
    assert c.bag["java|kw|public"] == 1 and c.bag["java|kw|implements"] == 1
    c2 = file_token_counts([fc("@@\n+public = 1\n")])
    assert c2.bag["python|id|public"] == 1


BEFORE = (
    "import os\n\n\ndef f(x):\n    return x + 1\n\n\nclass K:\n    def m(self):\n        return 1\n"
)
AFTER = (
    "import os\n\n\ndef f(x):\n    return g(x) + 2\n\n\n"
    "class K:\n    def m(self):\n        return 1\n"
    "\n\ndef h(y):\n    for i in range(y):\n        print(i)\n"
)


def test_ast_edits_functions_calls_and_node_deltas() -> None:
    v = ast_edit_features([fc("", BEFORE, AFTER)])
    assert v[A("ast|functions_added")] == 1  # h
    assert v[A("ast|functions_changed")] == 1  # f
    assert v[A("ast|functions_removed")] == 0
    assert v[A("ast|classes_changed")] == 0  # K untouched
    assert v[A("ast_delta|For")] == 1
    assert v[A("ast|calls_added")] >= 3  # f->g, h->range, h->print
    assert v[A("ast|missing")] == 0 and v[A("ast|python_files")] == 1


def test_ast_chunked_path_matches_whole_file_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    s = synthetic_changes(40, seed=3, broken_share=0.0)
    files = [f for c in s.commits for f in c.files] + [fc("", BEFORE, AFTER)]
    fast = [ast_edit_features([f], AstCache()) for f in files]
    assert all(_whole_file(AstCache(), f.before, f.after) is not None for f in files)
    monkeypatch.setattr(ast_edits, "_chunked", lambda *a: None)  # force whole-file parses
    slow = [ast_edit_features([f], AstCache()) for f in files]
    np.testing.assert_array_equal(np.array(fast), np.array(slow))


def test_missing_ast_flag_for_python2_file_and_new_file_counts_all() -> None:
    py2 = 'print "hello"\n'
    v = ast_edit_features([fc("", py2, py2 + 'print "x"\n')])
    assert v[A("ast|missing")] == 1 and v[:-2].sum() == 0
    new = ast_edit_features([fc("", None, "def f():\n    return 1\n")])
    assert new[A("ast|functions_added")] == 1 and new[A("ast|missing")] == 0


def test_split_top_level_keeps_decorators_and_else_with_their_statement() -> None:
    src = "@d\ndef f():\n    pass\nif x:\n    y = 1\nelse:\n    y = 2\nz = 3\n"
    assert split_top_level(src) == ["@d\ndef f():\n    pass\n",
                                    "if x:\n    y = 1\nelse:\n    y = 2\n", "z = 3\n"]  # fmt: skip


def test_squashed_group_sums_features() -> None:
    a = commit("1", fc("@@\n+x = 1\n", added=1))
    b = commit("2", fc("@@\n+while y:\n", added=1), fc("@@\n-z\n", path="b.py", deleted=1))
    ra, rb, rg = extract_raw([a, b, [a, b]], with_ast=False)
    np.testing.assert_array_equal(rg.surface, ra.surface + rb.surface)
    assert rg.tokens.bag == ra.tokens.bag + rb.tokens.bag


@pytest.fixture(scope="module")
def synth() -> list[CommitRecord]:
    return synthetic_changes(120, seed=1).commits


def test_representation_fits_on_train_only_and_scales(synth: list[CommitRecord]) -> None:
    train, test = synth[:80], synth[80:]
    test = [*test, commit("new", fc("@@\n+brand_new_identifier_xyz = 1\n", added=1))]
    rep = ChangeRepresentation(kind="hybrid", top_n_identifiers=5).fit(train)
    assert "python|id|brand_new_identifier_xyz" not in rep.feature_names_
    X = rep.transform(train)
    assert X.dtype == np.float32 and np.abs(X.mean(axis=0)).max() < 1e-4
    Xt = rep.transform(test)
    other = rep.feature_names_.index("python|id|<other>")
    raw = rep.raw_matrix(test)
    assert raw[-1, other] >= 1  # unseen identifier -> <other>
    assert np.isfinite(Xt).all()
    assert sum(1 for n in rep.feature_names_ if "|id|" in n) == 5 + 1
    assert any(n.startswith("ast|") for n in rep.feature_names_)
    tok = ChangeRepresentation(kind="tokens", top_n_identifiers=5).fit(train)
    assert not any(n.startswith("ast") for n in tok.feature_names_)
    loc = ChangeRepresentation(kind="loc").fit(train)
    assert loc.feature_names_ == ["surface|lines_added", "surface|lines_deleted"]


def test_checksum_changes_with_feature_settings(synth: list[CommitRecord]) -> None:
    raws = extract_raw(synth[:80])
    base = ChangeRepresentation(kind="hybrid", top_n_identifiers=5).fit(raws)
    same = ChangeRepresentation(kind="hybrid", top_n_identifiers=5).fit(raws)
    assert base.checksum_ == same.checksum_
    assert base.vocabulary_checksum_ == same.vocabulary_checksum_
    for other in (ChangeRepresentation(kind="hybrid", top_n_identifiers=6),
                  ChangeRepresentation(kind="tokens", top_n_identifiers=5)):  # fmt: skip
        other.fit(raws)
        assert other.checksum_ != base.checksum_
        assert other.vocabulary_checksum_ != base.vocabulary_checksum_
    # other training data -> other scaling -> other checksum
    assert ChangeRepresentation(kind="hybrid", top_n_identifiers=5).fit(
        raws[:60]).checksum_ != base.checksum_  # fmt: skip


def test_save_load_roundtrip_and_tamper_refused(synth: list[CommitRecord], tmp_path: Path) -> None:
    rep = ChangeRepresentation(kind="tokens", top_n_identifiers=4).fit(synth[:80])
    rep.save(tmp_path / "rep")
    assert not list((tmp_path / "rep").glob("*.tmp"))
    back = ChangeRepresentation.load(tmp_path / "rep")
    assert back.checksum_ == rep.checksum_
    np.testing.assert_array_equal(back.transform(synth[80:]), rep.transform(synth[80:]))
    meta_path = tmp_path / "rep" / "representation.json"
    meta = json.loads(meta_path.read_text())
    meta["feature_names"][0] = "python|kw|tampered"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(RepresentationMismatch, match="checksum"):
        ChangeRepresentation.load(tmp_path / "rep")


def test_not_fitted_guard() -> None:
    with pytest.raises(NotFittedError):
        ChangeRepresentation().transform([])


def _corpus() -> list[Path]:
    import argparse
    import dataclasses
    import typing

    own = sorted(Path(ast_edits.__file__).parents[2].rglob("*.py"))
    return [Path(m.__file__) for m in (argparse, dataclasses, typing) if m.__file__] + own


def test_class_member_summaries_equal_the_whole_statement_walk() -> None:
    """Summing cached per-member summaries gives exactly the whole-class walk (real code)."""
    import ast

    cache = AstCache()
    n_classes = 0
    for path in _corpus():
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        for node in ast.parse(source).body:
            n_classes += isinstance(node, ast.ClassDef)
            got, want = cache.summarise(node, lines), ast_edits.summarise_statement(node, lines)
            np.testing.assert_array_equal(got.counts, want.counts)
            assert (got.functions, got.classes, got.calls) == (
                want.functions, want.classes, want.calls)  # fmt: skip
    assert n_classes > 50


def test_a_one_line_change_in_a_big_class_walks_only_that_method(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import argparse

    before = Path(argparse.__file__).read_text(encoding="utf-8")  # type: ignore[arg-type]
    anchor = "    def parse_known_args(self, args=None, namespace=None):\n"
    assert anchor in before  # ArgumentParser, a class of about 700 lines
    after = before.replace(anchor, anchor + "        audit_call(args)\n", 1)
    cache = AstCache()
    full = ast_edit_features([fc("", None, before)], cache)  # a new file: walks every member
    assert full[A("ast|missing")] == 0 and full[A("ast|classes_added")] > 5
    walked: list[str] = []
    real = ast_edits.summarise_statement

    def spy(node: Any, lines: list[str], scope: str = "", **kw: Any) -> Any:
        walked.append(f"{scope}.{getattr(node, 'name', type(node).__name__)}")
        return real(node, lines, scope, **kw)

    monkeypatch.setattr(ast_edits, "summarise_statement", spy)
    v = ast_edit_features([fc("", before, after)], cache)
    assert v[A("ast|functions_changed")] == 1 and v[A("ast|classes_changed")] == 1
    assert v[A("ast_delta|Call")] == 1 and v[A("ast|calls_added")] == 1
    assert walked == [".ArgumentParser", "ArgumentParser.parse_known_args"]
    # and the same numbers as walking both whole classes
    monkeypatch.setattr(ast_edits.AstCache, "summarise", lambda self, n, ls: real(n, ls))
    np.testing.assert_array_equal(v, ast_edit_features([fc("", before, after)], AstCache()))
