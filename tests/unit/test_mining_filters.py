"""Author, repository and language filters; option keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from standard_coder.config.mining import FiltersSection, ReposSection
from standard_coder.pipelines.sch_options import mine_options
from standard_coder.sch.mining.filters import (
    AuthorRule,
    RepoRule,
    extension_map,
    is_agent,
    language_of,
    pathspec_for,
    validate_patterns,
)


@pytest.mark.parametrize(
    ("name", "email"),
    [
        ("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com"),
        ("renovate[bot]", "bot@renovateapp.com"),
        ("github-actions", "41898282+github-actions[bot]@users.noreply.github.com"),
        ("pre-commit-ci[bot]", "66853113+pre-commit-ci[bot]@users.noreply.github.com"),
        ("pyup.io bot", "github-bot@pyup.io"),
        ("pyup-bot", "github-bot@pyup.io"),
        ("OpenStack Proposal Bot", "openstack-infra@lists.openstack.org"),
        ("copilot-swe-agent[bot]", "198982749+Copilot@users.noreply.github.com"),  # both
    ],
)
def test_bots_are_excluded_by_default(name: str, email: str) -> None:
    assert not AuthorRule().allows(name, email)
    assert AuthorRule(exclude_bots=False, exclude_agents=False).allows(name, email)


@pytest.mark.parametrize(
    ("name", "email"),
    [  # AI coding agents committing under their own name (identities seen in public histories)
        ("Claude", "noreply@anthropic.com"),
        ("Copilot", "198982749+Copilot@users.noreply.github.com"),
        ("Cursor Agent", "cursoragent@cursor.com"),
        ("Jane Doe (aider)", "jane@example.com"),
    ],
)
def test_agents_are_excluded_by_default_and_apart_from_bots(name: str, email: str) -> None:
    assert not AuthorRule().allows(name, email)
    assert not AuthorRule(exclude_bots=False).allows(name, email)
    assert AuthorRule(exclude_agents=False).allows(name, email)


@pytest.mark.parametrize(
    ("name", "email"),
    [  # people whose names or addresses look a little like a bot's or an agent's
        ("Aider Ibragimov", "aider.ibragimov@gmail.com"),
        ("Zac Hatfield-Dodds", "zac@anthropic.com"),
        ("Alexander Botello", "alexander.botello@g.austincc.edu"),
        ("Vostretsov Nikita", "whalebot.helmsman@gmail.com"),
        ("James", "50501825+Gobot1234@users.noreply.github.com"),
        ("Jo Talbot", "jo@example.com"),
    ],
)
def test_people_are_kept(name: str, email: str) -> None:
    assert AuthorRule().allows(name, email)
    assert not is_agent(f"{name} <{email}>")


@pytest.mark.parametrize(
    "identity",
    [  # Co-authored-by trailers of AI coding agents, as public histories hold them
        "Claude Opus 4.8 <noreply@anthropic.com>",
        "Claude Opus 5 (1M context) <noreply@anthropic.com>",
        "Anthropic Claude Opus 4 <claude@anthropic.com>",
        "Cursor <cursoragent@cursor.com>",
        "Cursor AI <ai@cursor.sh>",
        "Composer <composer@cursor.com>",
        "Copilot <223556219+Copilot@users.noreply.github.com>",
        "Copilot <copilot@github.com>",
        "aider (openai/gpt-5) <noreply@aider.chat>",
        "google-labs-jules[bot] <161369871+google-labs-jules[bot]@users.noreply.github.com>",
        "copilot-swe-agent[bot] <198982749+Copilot@users.noreply.github.com>",
    ],
)
def test_agents_are_known_as_co_authors(identity: str) -> None:
    assert is_agent(identity)


@pytest.mark.parametrize(
    "identity",
    [  # people and bots that are not coding agents
        "Jane Doe <12345+jane@users.noreply.github.com>",
        "pre-commit-ci[bot] <66853113+pre-commit-ci[bot]@users.noreply.github.com>",
        "dependabot[bot] <49699333+dependabot[bot]@users.noreply.github.com>",
        "Zac Hatfield-Dodds <zac@anthropic.com>",
        "not an address",
    ],
)
def test_others_are_not_agents(identity: str) -> None:
    assert not is_agent(identity)


def test_author_include_exclude_substring_and_regex() -> None:
    human = ("Jane Doe", "12345+jane@users.noreply.github.com")
    assert AuthorRule().allows(*human)
    assert not AuthorRule(exclude=("JANE",)).allows(*human)
    assert AuthorRule(include=("re:^jane",)).allows(*human)
    assert not AuthorRule(include=("re:^doe",)).allows(*human)
    assert not AuthorRule(include=("jane",), exclude=("noreply",)).allows(*human)
    with pytest.raises(ValueError, match="invalid regex"):
        validate_patterns(["re:("])


def test_repo_rule() -> None:
    assert RepoRule().allows("gson", "/x/gson")
    assert not RepoRule(exclude=("gs",)).allows("gson", "/x/gson")
    assert RepoRule(include=("re:/x/",)).allows("gson", "/x/gson")


def test_languages_by_extension() -> None:
    ext = extension_map(["python", "java"], {"python": [".py"], "java": ["java"], "go": [".go"]})
    assert ext == {".py": "python", ".java": "java"}
    assert language_of("src/A.PY", ext, ()) == "python"
    assert language_of("src/A.java", ext, ()) == "java"
    assert language_of("main.go", ext, ()) is None
    assert language_of("dir.py/README", ext, ()) is None
    assert language_of("vendor/lib.py", ext, ("vendor/",)) is None
    assert pathspec_for(ext, ("vendor/",)) == [
        ":(icase)*.java",
        ":(icase)*.py",
        ":(exclude)*vendor/*",
    ]
    with pytest.raises(ValueError, match="no extensions"):
        extension_map(["cobol"], {"python": [".py"]})


def test_an_extension_two_enabled_languages_list_is_a_config_error() -> None:
    """A file counts as one language: ``.h`` under both ``c`` and ``cpp`` went to the first
    enabled one, silently. Listed under two languages of which one is enabled, it is no error."""
    extensions = {"c": [".c", ".h"], "cpp": [".cc", "H"], "go": [".go", ".h"]}
    with pytest.raises(ValueError, match=r"extension '\.h' is listed for both 'c' and 'cpp'"):
        FiltersSection.model_validate(
            {"languages": {"enabled": ["c", "cpp"], "extensions": extensions}}
        )
    ok = FiltersSection.model_validate({"languages": {"enabled": ["c"], "extensions": extensions}})
    assert extension_map(ok.languages.enabled, ok.languages.extensions) == {
        ".c": "c",
        ".h": "c",
    }


def test_options_from_sections_and_keys(tmp_path: Path) -> None:
    repos = ReposSection(include_paths=["code/*", "~/x"], max_commits_per_repo=10)
    filters = FiltersSection.model_validate({"authors": {"exclude": ["re:^ci@"]}})
    o = mine_options(repos, filters, base_dir=tmp_path / "out", config_dir=tmp_path)
    assert o.include_paths == (str(tmp_path / "code/*"), str(Path("~/x").expanduser()))
    assert o.max_commits_per_repo == 10
    assert o.extract.ext_map == ((".py", "python"), (".pyi", "python"))
    o2 = mine_options(repos, FiltersSection(), base_dir=tmp_path, config_dir=tmp_path)
    assert o.extract_key() == o2.extract_key()  # authors do not change what is extracted
    assert o.filter_key() != o2.filter_key()
    assert o2.authors.exclude_agents is True and o2.merge_by_name is False  # the defaults
    switched = FiltersSection.model_validate(
        {"authors": {"exclude_agents": False, "merge_by_name": True}}
    )
    o3 = mine_options(repos, switched, base_dir=tmp_path, config_dir=tmp_path)
    assert o3.authors.exclude_agents is False and o3.merge_by_name is True
    assert o3.filter_key() != o2.filter_key()
    bad = FiltersSection.model_validate({"authors": {"include": ["re:["]}})
    with pytest.raises(ValueError, match="invalid regex"):
        mine_options(repos, bad, base_dir=tmp_path)


def test_a_github_account_is_one_identity_with_or_without_its_number() -> None:
    from standard_coder.sch.mining.filters import author_identity

    assert author_identity("1731933+Elacuesta@users.noreply.github.com", "E") == (
        "elacuesta@users.noreply.github.com"
    )
    assert author_identity(" elacuesta@users.noreply.github.com ", "E") == (
        "elacuesta@users.noreply.github.com"
    )
    # only GitHub's private addresses lose a number: a plus address elsewhere is its own
    assert author_identity("123+jane@example.com", "Jane") == "123+jane@example.com"
    assert author_identity("Jane@Example.com", "Jane") == "jane@example.com"


def test_an_author_without_an_address_is_known_by_name() -> None:
    from standard_coder.sch.mining.filters import author_identity

    # two people who committed with an empty address are two authors, not one ""
    assert author_identity("", "niemeyer") == "niemeyer <>"
    assert author_identity("  ", "gl@clarisys.fr") == "gl@clarisys.fr <>"
    assert author_identity("", " Gustavo   Niemeyer ") == "gustavo niemeyer <>"
    assert author_identity("", "") == ""
    # an address decides whatever the name says
    assert author_identity("g@n.example", "niemeyer") == "g@n.example"
