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
        ("subject|fix", 'subject says "fix"'),
        ("subject|pull_request", "subject names a pull request"),
        ("files|doc_lines_added", "documentation lines added"),
        ("body|co_authors", "co-authors"),
        ("prior|cross_repo", "the cross-repository prior's score"),
        ("lines_added", "lines_added"),  # the LOC representation's own names stay
        ("surface|something_new", "surface|something_new"),
    ],
)
def test_feature_names_in_words(name: str, words: str) -> None:
    assert describe_feature(name) == words
