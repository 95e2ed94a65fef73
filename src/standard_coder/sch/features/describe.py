"""Feature names in words: what a column of the change representation counts, for people.

The representation's columns are named by family (``surface|lines_added``, ``python|kw|if``,
``ast_delta|Assert``, ``subject|fix``, ...; docs/effort-models.md, "Change representation").
:func:`describe_feature` says each in a few words (``estimate``'s "weighs most" line); a name of
no known family is returned as it is.
"""

from __future__ import annotations

__all__ = ["describe_feature"]

LANGUAGES = {
    "python": "Python",
    "javascript": "JavaScript",
    "typescript": "TypeScript",
    "java": "Java",
    "go": "Go",
    "rust": "Rust",
    "c": "C",
    "cpp": "C++",
    "csharp": "C#",
    "ruby": "Ruby",
    "kotlin": "Kotlin",
    "swift": "Swift",
    "scala": "Scala",
    "php": "PHP",
    "dart": "Dart",
    "elixir": "Elixir",
    "haskell": "Haskell",
    "lua": "Lua",
}

SURFACE = {
    "files_touched": "files touched",
    "spaces": "whitespace characters",
    "tokens": "tokens",
    "lines_added": "lines added",
    "lines_deleted": "lines deleted",
    "lines_added_unmoved": "lines added, not moved",
    "lines_added_source": "lines added outside tests",
}

AST = {
    "functions_added": "functions added",
    "functions_removed": "functions removed",
    "functions_changed": "functions changed",
    "classes_added": "classes added",
    "classes_removed": "classes removed",
    "classes_changed": "classes changed",
    "calls_added": "calls added between functions",
    "calls_removed": "calls removed between functions",
    "python_files": "Python files parsed",
    "missing": "Python files that did not parse",
}

SUBJECT = {
    "words": "words in the subject",
    "pull_request": "subject names an issue or pull request number (#123)",
    "conventional": "subject in conventional-commit form",
}

SUBJECT_KINDS = {  # the words each kind matches (sch/features/subject.py), the main ones
    "fix": "fix, bug",
    "typo": "typo, spelling, grammar",
    "doc": "docs, readme, docstring, comment",
    "test": "test, testing, coverage",
    "release": "release, bump, version, changelog, a version number",
    "add": "add, implement, support, new, feature",
    "remove": "remove, delete, drop, deprecate, unused",
    "refactor": "refactor, rename, move, simplify",
    "style": "style, lint, format, typing",
    "ci": "CI, workflow, tox",
    "deps": "dependency, upgrade, update, pin, requirements",
    "revert": "revert",
    "minor": "wip, tweak, minor, small",
}
"""A subject kind's words: ``3.7`` is a "release" word, which the subject need not say."""

FILES = {
    "other_lines_added": "lines added in other files (docs, config, data)",
    "other_lines_deleted": "lines deleted in other files (docs, config, data)",
    "doc_lines_added": "documentation lines added",
    "config_lines_added": "configuration lines added",
    "files": "files touched, any language",
    "folders": "folders touched",
}

BODY = {
    "lines": "lines of the message body",
    "words": "words of the message body",
    "co_authors": "co-authors",
}

TOKEN_KINDS = {"kw": "keyword", "op": "operator"}
TOKEN_FAMILIES = (*TOKEN_KINDS, "id", "num", "str")


def describe_feature(name: str) -> str:
    """``name`` (a representation column) in words, e.g. ``python|kw|if`` -> ``Python keyword
    `if```, ``subject|fix`` -> ``subject of the "fix" kind (fix, bug)``; a name of no known
    family: ``name``."""
    family, _, rest = name.partition("|")
    if family == "surface":
        return SURFACE.get(rest, name)
    if family == "ast":
        return AST.get(rest, name)
    if family == "ast_delta" and rest:
        return f"Python syntax: {rest} nodes added or removed"
    if family == "subject" and rest:
        if rest in SUBJECT_KINDS:
            return f'subject of the "{rest}" kind ({SUBJECT_KINDS[rest]})'
        return SUBJECT.get(rest, f'subject says "{rest}"')
    if family == "files":
        return FILES.get(rest, name)
    if family == "body":
        return BODY.get(rest, name)
    if family == "prior" and rest == "cross_repo":
        return "the cross-repository prior's score"
    if rest.partition("|")[0] in TOKEN_FAMILIES:  # a language's token bag: python|kw|if
        return _token(LANGUAGES.get(family, family.capitalize()), rest, name)
    return name


def _token(language: str, rest: str, name: str) -> str:
    kind, _, token = rest.partition("|")
    if kind in TOKEN_KINDS and token:
        return f"{language} {TOKEN_KINDS[kind]} `{token}`"
    if kind == "id":
        if token == "<other>":
            return f"other {language} identifiers"
        return f"{language} identifier `{token}`" if token else f"{language} identifiers"
    if kind == "num":
        return f"{language} numbers"
    if kind == "str":
        return f"{language} strings"
    return name
