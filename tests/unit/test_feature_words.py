"""Feature names in words (``estimate``'s "weighs most" line)."""

from __future__ import annotations

import pytest

from standard_coder.sch.features.describe import describe_feature


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("surface|lines_added_unmoved", "lines added, not moved"),
        ("surface|lines_added_source", "lines added outside tests"),
        ("python|kw|if", "Python keyword `if`"),
        ("python|op|!=", "Python operator `!=`"),
        ("python|id|self", "Python identifier `self`"),
        ("python|id|<other>", "other Python identifiers"),
        ("python|num|", "Python numbers"),
        ("python|str|", "Python strings"),
        ("typescript|kw|interface", "TypeScript keyword `interface`"),
        ("kotlin|kw|fun", "Kotlin keyword `fun`"),  # a language the user added
        ("ast_delta|Assert", "Python syntax: Assert nodes added or removed"),
        ("ast|functions_added", "functions added"),
        ("ast|missing", "Python files that did not parse"),
        ("subject|words", "words in the subject"),
        ("subject|fix", 'subject of the "fix" kind (fix, bug)'),
        # "Upgrade support for Python 3.7+" is of the release and deps kinds: it said
        # 'subject says "release"' of a subject that says neither word
        (
            "subject|release",
            'subject of the "release" kind (release, bump, version, changelog, a version number)',
        ),
        (
            "subject|deps",
            'subject of the "deps" kind (dependency, upgrade, update, pin, requirements)',
        ),
        ("subject|pull_request", "subject names an issue or pull request number (#123)"),
        ("files|doc_lines_added", "documentation lines added"),
        ("body|co_authors", "co-authors"),
        ("prior|cross_repo", "the cross-repository prior's score"),
        ("lines_added", "lines_added"),  # the LOC representation's own names stay
        ("surface|something_new", "surface|something_new"),
    ],
)
def test_feature_names_in_words(name: str, words: str) -> None:
    assert describe_feature(name) == words


def test_every_subject_kind_is_said_with_its_words() -> None:
    from standard_coder.sch.features.subject import SUBJECT_NAMES

    for name in SUBJECT_NAMES:
        assert "subject says" not in describe_feature(name), name
