"""``estimate``'s "weighs most" line says how much each feature moves the SCH, however small."""

from __future__ import annotations

from standard_coder.cli.estimate_cmd import _weighs_most


def _feat(what: str, h: float) -> dict:
    return {"feature": what, "what": what, "count": 2.0, "sch_hours": h}


def test_features_that_move_the_sch_little_are_not_all_said_as_zero() -> None:
    # colorama's shift model: every feature moved a worktree's SCH by under 0.001 h, and the
    # line read "(-0.00 h), (+0.00 h), (+0.00 h)": which weighs most could not be told
    line = _weighs_most("wt", [_feat("files", -0.0003), _feat("lines", 0.0002)])
    assert line == (
        "wt weighs most: files ×2 (-0.0003 h), lines ×2 (+0.0002 h); "
        "no feature alone moves its SCH by 0.005 h or more"
    )


def test_features_that_move_the_sch_are_said_in_hundredths() -> None:
    line = _weighs_most("c", [_feat("lines", 0.02), _feat("words", -0.004)])
    assert line == "c weighs most: lines ×2 (+0.02 h), words ×2 (-0.004 h)"


def test_a_feature_whose_effect_rounds_to_zero_is_not_among_what_weighs_most() -> None:
    # the JSON's 4 decimals made a tiny negative effect -0.0, printed "(-0.00 h)"
    line = _weighs_most("c", [_feat("tokens", -0.0), _feat("lines", 0.02), _feat("raise", 0.0)])
    assert line == "c weighs most: lines ×2 (+0.02 h)"
    assert _weighs_most("c", [_feat("tokens", -0.0)]) == (
        "c: no feature alone moves its SCH (each at its training mean, the same)"
    )


def test_the_total_line_says_how_much_the_pairing_widens() -> None:
    """A correlation of 0.02 barely widens a total of a few changes: it is not said to stop
    the range narrowing (an engineering lead read that as a strong effect); over many changes
    even a small one widens it, and the line says by how much."""
    from standard_coder.cli.estimate_cmd import _total_line

    assert "independent (the training measured no correlation" in _total_line(0.0, 10)
    small = _total_line(0.02, 10)
    assert "correlation 0.02" in small and "almost as if each were independent" in small
    many = _total_line(0.04, 50)  # sqrt(1 + 49 * 0.04) = 1.72
    assert "over 50 changes the range is about 1.7 times as wide" in many, many
    assert "about 1.7 times" in _total_line(0.2, 10)  # sqrt(2.8)
