"""Per-language token bag over the deleted and inserted lines of a change (paper §3).

A change's lines are taken from the per-file unified diff hunks: ``+``/``-`` lines only (no
context lines, no ``@@`` lines, no file headers or paths). Each line is tokenized on its own with
one compiled regex (hunks are fragments and do not parse), and each token is classed as a
keyword, an operator/separator, a number, a string literal or an identifier. The surface counts
of Table I (files touched, spaces, tokens, lines added, lines deleted) come from the same pass,
plus two refinements of lines added: ``lines_added_unmoved`` (see :func:`unmoved_added`) and
``lines_added_source`` (lines added outside test files, :data:`TEST_PATH`).
"""

from __future__ import annotations

import keyword
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from standard_coder.sch.records import FileChange

SURFACE_NAMES: tuple[str, ...] = (
    "files_touched",
    "spaces",
    "tokens",
    "lines_added",
    "lines_deleted",
    "lines_added_unmoved",
    "lines_added_source",
)
"""Table I's five surface counts, then ``lines_added_unmoved`` and ``lines_added_source``
(docs/effort-models.md, "Size backbone", "Combined backbone"). ``TABLE_I_SURFACE`` are the
first five."""
TABLE_I_SURFACE: tuple[str, ...] = SURFACE_NAMES[:5]
TEST_PATH = re.compile(r"(^|/)(tests?|testing)/|(^|/)test_[^/]*$|_test\.py$|(^|/)conftest\.py$")
"""A test file's path (a ``tests``/``test``/``testing`` folder, ``test_*``, ``*_test.py``,
``conftest.py``): its lines do not count in ``lines_added_source``."""

EXTENSION_LANGUAGE: dict[str, str] = {
    ".py": "python", ".pyi": "python", ".java": "java", ".js": "javascript", ".jsx": "javascript",
    ".mjs": "javascript", ".cjs": "javascript", ".ts": "typescript", ".tsx": "typescript",
    ".go": "go", ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp",
    ".hh": "cpp", ".hxx": "cpp", ".rs": "rust", ".rb": "ruby", ".kt": "kotlin", ".kts": "kotlin",
    ".cs": "csharp", ".scala": "scala", ".php": "php", ".swift": "swift", ".dart": "dart",
    ".ex": "elixir", ".exs": "elixir", ".hs": "haskell", ".lua": "lua",
}  # fmt: skip
"""A file's language by extension: every extension of ``[filters.languages]``'s default table
(``config/mining.py``, a test keeps the two agreeing); another is ``other``."""

_JAVA_KW = [
    "abstract",
    "assert",
    "boolean",
    "break",
    "byte",
    "case",
    "catch",
    "char",
    "class",
    "const",
    "continue",
    "default",
    "do",
    "double",
    "else",
    "enum",
    "extends",
    "final",
    "finally",
    "float",
    "for",
    "goto",
    "if",
    "implements",
    "import",
    "instanceof",
    "int",
    "interface",
    "long",
    "native",
    "new",
    "package",
    "private",
    "protected",
    "public",
    "return",
    "short",
    "static",
    "strictfp",
    "super",
    "switch",
    "synchronized",
    "this",
    "throw",
    "throws",
    "transient",
    "try",
    "void",
    "volatile",
    "while",
    "var",
    "record",
    "yield",
    "true",
    "false",
    "null",
]
_JS_KW = [
    "break",
    "case",
    "catch",
    "class",
    "const",
    "continue",
    "debugger",
    "default",
    "delete",
    "do",
    "else",
    "export",
    "extends",
    "finally",
    "for",
    "function",
    "if",
    "import",
    "in",
    "instanceof",
    "new",
    "return",
    "super",
    "switch",
    "this",
    "throw",
    "try",
    "typeof",
    "var",
    "void",
    "while",
    "with",
    "yield",
    "let",
    "static",
    "enum",
    "await",
    "async",
    "of",
    "null",
    "true",
    "false",
    "undefined",
    "interface",
    "type",
    "implements",
    "private",
    "protected",
    "public",
    "readonly",
]
_GO_KW = [
    "break",
    "case",
    "chan",
    "const",
    "continue",
    "default",
    "defer",
    "else",
    "fallthrough",
    "for",
    "func",
    "go",
    "goto",
    "if",
    "import",
    "interface",
    "map",
    "package",
    "range",
    "return",
    "select",
    "struct",
    "switch",
    "type",
    "var",
    "nil",
    "true",
    "false",
]
_C_KW = [
    "auto",
    "break",
    "case",
    "char",
    "const",
    "continue",
    "default",
    "do",
    "double",
    "else",
    "enum",
    "extern",
    "float",
    "for",
    "goto",
    "if",
    "inline",
    "int",
    "long",
    "register",
    "restrict",
    "return",
    "short",
    "signed",
    "sizeof",
    "static",
    "struct",
    "switch",
    "typedef",
    "union",
    "unsigned",
    "void",
    "volatile",
    "while",
    "class",
    "namespace",
    "template",
    "typename",
    "public",
    "private",
    "protected",
    "virtual",
    "new",
    "delete",
    "this",
    "nullptr",
    "bool",
    "true",
    "false",
    "try",
    "catch",
    "throw",
    "using",
]
_RUST_KW = [
    "as",
    "break",
    "const",
    "continue",
    "crate",
    "else",
    "enum",
    "extern",
    "false",
    "fn",
    "for",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "match",
    "mod",
    "move",
    "mut",
    "pub",
    "ref",
    "return",
    "self",
    "Self",
    "static",
    "struct",
    "super",
    "trait",
    "true",
    "type",
    "unsafe",
    "use",
    "where",
    "while",
    "async",
    "await",
    "dyn",
]

KEYWORDS: dict[str, frozenset[str]] = {
    "python": frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) - {"_"},
    "java": frozenset(_JAVA_KW),
    "javascript": frozenset(_JS_KW),
    "typescript": frozenset(_JS_KW),
    "go": frozenset(_GO_KW),
    "c": frozenset(_C_KW),
    "cpp": frozenset(_C_KW),
    "rust": frozenset(_RUST_KW),
}

OPERATORS: tuple[str, ...] = (
    ">>>=", "<<=", ">>=", "**=", "//=", "...", "===", "!==", ">>>", "->", "=>", "::", "==", "!=",
    "<=", ">=", "&&", "||", "++", "--", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<", ">>",
    "**", "//", ":=", "?.", "??", "+", "-", "*", "/", "%", "=", "<", ">", "!", "~", "&", "|", "^",
    "?", ":", ".", ",", ";", "(", ")", "[", "]", "{", "}", "@", "#", "\\", "$",
)  # fmt: skip

_TOKEN_RE = re.compile(
    r"(?P<str>\"(?:[^\"\\]|\\.)*\"?|'(?:[^'\\]|\\.)*'?|`[^`]*`?)"
    r"|(?P<num>\d[\w.]*)"
    r"|(?P<id>[^\W\d]\w*)"
    r"|(?P<op>" + "|".join(re.escape(o) for o in OPERATORS) + r")"
)
_SPACE_RE = re.compile(r"[ \t]")


def language_of(path: str) -> str:
    """Language name from a path's extension (``other`` when unknown)."""
    dot = path.rfind(".")
    return EXTENSION_LANGUAGE.get(path[dot:].lower(), "other") if dot >= 0 else "other"


@dataclass
class TokenCounts:
    """Raw (unscaled) token-bag and surface counts of one change (summable for squashes)."""

    bag: Counter[str] = field(default_factory=Counter)
    """Keys ``lang|kind|token`` where kind is ``kw``, ``op`` or ``id``; plus ``lang|num|`` etc."""
    surface: list[float] = field(default_factory=lambda: [0.0] * len(SURFACE_NAMES))

    def add(self, other: TokenCounts) -> None:
        """Sum ``other`` into this (squashed commits sum their features)."""
        self.bag.update(other.bag)
        self.surface = [a + b for a, b in zip(self.surface, other.surface, strict=True)]


def changed_lines(diff: str) -> tuple[list[str], int, int]:
    """Deleted and inserted line bodies of a headerless unified diff, plus (added, deleted)."""
    out: list[str] = []
    added = deleted = 0
    for line in diff.splitlines():
        if not line:
            continue
        c = line[0]
        if c == "+":
            if line.startswith("+++ ") and (line[4:6] in ("b/", "/d") or line[4:] == "/dev/null"):
                continue  # a stray file header
            added += 1
            out.append(line[1:])
        elif c == "-":
            if line.startswith("--- ") and (line[4:6] in ("a/", "/d") or line[4:] == "/dev/null"):
                continue
            deleted += 1
            out.append(line[1:])
    return out, added, deleted


def count_lines(lines: Iterable[str], language: str, counts: TokenCounts) -> int:
    """Tokenize ``lines`` of ``language`` into ``counts.bag``; return the number of tokens."""
    kws = KEYWORDS.get(language, frozenset())
    bag = counts.bag
    n_tok = 0
    spaces = 0
    local: Counter[str] = Counter()
    for line in lines:
        spaces += len(_SPACE_RE.findall(line))
        for m in _TOKEN_RE.finditer(line):
            n_tok += 1
            kind = m.lastgroup
            if kind == "id":
                tok = m.group()
                local[("kw|" if tok in kws else "id|") + tok] += 1
            elif kind == "op":
                local["op|" + m.group()] += 1
            else:
                local[f"{kind}|"] += 1
    for k, v in local.items():
        bag[f"{language}|{k}"] += v
    counts.surface[1] += spaces
    counts.surface[2] += n_tok
    return n_tok


def changed_lines_text(diffs: Iterable[str]) -> Iterator[tuple[str, str]]:
    """``("+" or "-", text)`` of every inserted or deleted line of the diffs, its text stripped
    of surrounding whitespace; blank lines and file headers (``+++ ``/``--- ``) are skipped."""
    for diff in diffs:
        for line in diff.splitlines():
            if len(line) < 2 or line[0] not in "+-" or line.startswith(("+++ ", "--- ")):
                continue
            body = line[1:].strip()
            if body:
                yield line[0], body


def unmoved_added(diffs: Iterable[str]) -> int:
    """Non-blank inserted lines of one commit that no deleted line of the same commit matches.

    A line whose text (stripped of surrounding whitespace) is also deleted anywhere in the
    commit, in any file, counts as moved, not written: each deleted line pardons one inserted
    line with the same text (a multiset match), so a function moved between files or a block
    re-indented under a new ``if`` adds only its really new lines. Blank lines never count.
    """
    deleted: Counter[str] = Counter()
    inserted: list[str] = []
    for sign, body in changed_lines_text(diffs):
        (inserted.append(body) if sign == "+" else deleted.update((body,)))
    n = 0
    for body in inserted:
        if deleted[body] > 0:
            deleted[body] -= 1
        else:
            n += 1
    return n


def file_token_counts(files: Iterable[FileChange]) -> TokenCounts:
    """Token bag and surface counts over all touched files of one commit."""
    counts = TokenCounts()
    n_files = 0
    diffs: list[str] = []
    unseen = 0
    for f in files:
        n_files += 1
        if f.is_binary:
            continue
        lines, added, deleted = changed_lines(f.diff)
        count_lines(lines, f.language or language_of(f.path), counts)
        # prefer the mined line counts (they survive diff truncation)
        mined_added = f.lines_added if (f.lines_added or not f.diff) else added
        counts.surface[3] += mined_added
        counts.surface[6] += 0 if TEST_PATH.search(f.path) else mined_added
        counts.surface[4] += f.lines_deleted if (f.lines_deleted or not f.diff) else deleted
        diffs.append(f.diff)
        unseen += max(0, mined_added - added)  # lines past the diff cap: counted as written
    counts.surface[0] += n_files
    counts.surface[5] += unmoved_added(diffs) + unseen
    return counts
