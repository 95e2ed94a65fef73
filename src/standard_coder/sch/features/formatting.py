"""Formatting-only file changes: a file a formatter rewrote (``black``, ``ruff format``,
``gofmt``, ``prettier``) changed no code, so a change's features leave it out, as they leave out
generated files (``generated.py``): a commit that reformats 3,000 lines is minutes of work.

A modified file is formatting-only when its contents before and after the change hold the
same program:

- Python (whitespace is syntax there): the same syntax tree (``ast.dump`` of both parses), and
  the same text once whitespace, quotes, parentheses, commas and backslashes are taken out
  (so comments are unchanged too, and the cheap text check runs first: most files fail it
  without being parsed). Quote style, line wrapping, redundant parentheses, magic trailing
  commas, blank lines and indentation width are formatting; a docstring reflowed, a comment
  edited, imports reordered are not.
- Languages where whitespace between tokens is not syntax (``WHITESPACE_FREE``): the same text
  once all whitespace is taken out (what ``git diff -w`` shows as empty).
- Any other language: never (nothing is known about its syntax).

Both sides' contents are needed (a file added or deleted is never formatting-only); where they
were not mined (the ``tokens`` representation, a blob over ``max_blob_bytes``), the file counts.
Measured on real histories in docs/effort-models.md ("Formatting-only files").
"""

from __future__ import annotations

import ast
import warnings

from standard_coder.sch.records import FileChange

__all__ = ["WHITESPACE_FREE", "is_formatting_only"]

WHITESPACE_FREE = frozenset({"java", "javascript", "typescript", "go", "rust", "c", "cpp",
                             "csharp", "kotlin", "swift", "php", "dart", "lua"})  # fmt: skip
"""Languages (``[filters.languages]`` names) whose whitespace between tokens is not syntax."""
_PYTHON_LAYOUT = str.maketrans("", "", "'\"(),\\")
"""What a Python formatter may add or take out besides whitespace."""


def _squeeze(text: str) -> str:
    return "".join(text.split())


def _same_python(before: str, after: str) -> bool:
    if _squeeze(before).translate(_PYTHON_LAYOUT) != _squeeze(after).translate(_PYTHON_LAYOUT):
        return False
    try:
        with warnings.catch_warnings():  # invalid escapes in old code warn on every parse
            warnings.simplefilter("ignore")
            return ast.dump(ast.parse(before)) == ast.dump(ast.parse(after))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False  # not parseable here (Python 2, null bytes, too deep): counts as code


def is_formatting_only(f: FileChange) -> bool:
    """Whether the change to this file is formatting only (module docstring)."""
    if f.is_binary or f.before is None or f.after is None or f.before == f.after:
        return False
    language = f.language.lower()
    if language == "python":
        return _same_python(f.before, f.after)
    if language in WHITESPACE_FREE:
        return _squeeze(f.before) == _squeeze(f.after)
    return False
