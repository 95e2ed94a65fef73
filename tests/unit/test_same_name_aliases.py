"""One person, one author: addresses that share a name are joined (``identities``)."""

from __future__ import annotations

from standard_coder.sch.mining.identities import name_key, resolve, same_name_aliases

WORK = ("Jane Roe", "jane.roe@corp.example")
HOME = ("Jane Roe", "jane@home.example")


def test_the_addresses_of_one_full_name_are_one_author_named_by_the_busiest() -> None:
    aliases = same_name_aliases([WORK, WORK, HOME, ("Rick Poe", "rick@x.example")])
    assert aliases == {"jane@home.example": "jane.roe@corp.example"}
    assert resolve(aliases, "jane@home.example") == "jane.roe@corp.example"
    assert resolve(aliases, "rick@x.example") == "rick@x.example"


def test_case_and_spacing_of_a_name_do_not_matter() -> None:
    aliases = same_name_aliases([WORK, WORK, ("jane  ROE", "jane@home.example")])
    assert aliases == {"jane@home.example": "jane.roe@corp.example"}


def test_names_chain_addresses_together() -> None:
    # "Kurt Griffiths" joins two addresses, the handle "kgriffs" a third to one of them
    aliases = same_name_aliases(
        [
            ("Kurt Griffiths", "kgriffs@users.noreply.github.com"),
            ("Kurt Griffiths", "kgriffs@users.noreply.github.com"),
            ("Kurt Griffiths", "kurt@work.example"),
            ("kgriffs", "kgriffs@users.noreply.github.com"),
            ("kgriffs", "mail@kgriffs.example"),
        ]
    )
    assert aliases == {
        "kurt@work.example": "kgriffs@users.noreply.github.com",
        "mail@kgriffs.example": "kgriffs@users.noreply.github.com",
    }


def test_a_one_word_name_joins_only_as_a_handle() -> None:
    # two different people called Max stay two; a handle that is an address's user part joins
    assert same_name_aliases([("Max", "max.a@a.example"), ("max", "mtaran@b.example")]) == {}
    aliases = same_name_aliases(
        [("delgan", "delgan@users.noreply.github.com"), ("delgan", "delgan.py@gmail.example")]
    )
    assert aliases == {"delgan@users.noreply.github.com": "delgan.py@gmail.example"}


def test_placeholder_names_never_join() -> None:
    for name in ("Your Name", "root", "Unknown", "  "):
        assert name_key(name) is None
        assert same_name_aliases([(name, "root@host-a"), (name, "root@host-b")]) == {}


def test_a_tie_is_broken_by_sort_order_whatever_the_input_order() -> None:
    a, b = ("Jane Roe", "b@x.example"), ("Jane Roe", "a@x.example")
    assert same_name_aliases([a, b]) == same_name_aliases([b, a]) == {"b@x.example": "a@x.example"}


def test_github_private_addresses_are_compared_as_one_identity_first() -> None:
    aliases = same_name_aliases(
        [("Jane Roe", "4711+jane@users.noreply.github.com"), ("Jane Roe", "jane@corp.example")]
    )
    assert aliases == {"jane@users.noreply.github.com": "jane@corp.example"}


def test_rows_ending_with_an_author_take_the_joined_one() -> None:
    from standard_coder.sch.mining.identities import resolve_rows

    aliases = {"jane@home.example": "jane.roe@corp.example"}
    rows = [("m1", 100, 60, "jane@home.example"), ("m2", 200, 0, "rick@x.example")]
    assert resolve_rows(aliases, rows) == [
        ("m1", 100, 60, "jane.roe@corp.example"),
        ("m2", 200, 0, "rick@x.example"),
    ]
    assert resolve_rows({}, rows) == rows


def test_a_person_is_listed_under_an_address_not_what_a_broken_git_config_wrote() -> None:
    # boltons: "Kurt Rose" committed most under the email "=", then from three addresses
    kurt = [("Kurt Rose", "=")] * 5 + [("Kurt Rose", "kurt@kurtrose.example")] * 2
    kurt += [("Kurt Rose", "doublereedkurt@mail.example")]
    aliases = same_name_aliases(kurt)
    assert aliases == {"=": "kurt@kurtrose.example",
                       "doublereedkurt@mail.example": "kurt@kurtrose.example"}  # fmt: skip
