"""``wrap_outside_parentheses``: notes under tables break at spaces outside short parentheses."""

from __future__ import annotations

from standard_coder.runner.console import wrap_outside_parentheses

NOTE = (
    'filtered: 160 touching no enabled language (read, so counted in "new") and 665 by excluded '
    'authors (bots, AI agents, [filters.authors]): never read, so not counted in "new"'
)


def test_a_short_parenthesis_is_never_broken_and_the_words_are_kept() -> None:
    for width in (40, 60, 80, 120):
        lines = wrap_outside_parentheses(NOTE, width)
        assert " ".join(lines) == NOTE
        assert all(len(line) <= width for line in lines), (width, lines)
        if width >= 2 * len("(bots, AI agents, [filters.authors]):"):  # short: kept whole
            assert all(line.count("(") == line.count(")") for line in lines), (width, lines)
    assert wrap_outside_parentheses(NOTE, 80) == [
        'filtered: 160 touching no enabled language (read, so counted in "new") and 665',
        "by excluded authors (bots, AI agents, [filters.authors]): never read, so not",
        'counted in "new"',
    ]


def test_a_long_parenthesis_breaks_as_a_sentence_and_odd_text_still_wraps() -> None:
    long = "x (" + " ".join(["word"] * 20) + ") y"
    lines = wrap_outside_parentheses(long, 30)
    assert " ".join(lines) == long and all(len(line) <= 30 for line in lines)
    assert wrap_outside_parentheses("an unclosed ( paren here and more", 12) == [
        "an unclosed", "( paren here", "and more",
    ]  # fmt: skip
    assert wrap_outside_parentheses("", 80) == []
    assert wrap_outside_parentheses("a-very-long-path/" * 8, 20) == ["a-very-long-path/" * 8]
