"""Python AST edit features from a file's before/after contents (the ``hybrid`` representation).

Each side is parsed once (``ast.parse``; only changed ``.py`` files, cached by content digest so a
file's ``after`` in one commit is not parsed again as its ``before`` in the next). Top-level
statements are matched by text digest; only the statements that differ are walked and
summarised: counts of a fixed list of node types, a body digest per function and per class (by
qualified name) and the call edges ``(enclosing function, callee name)``. A change's features are
the deltas between the removed and the added statements. A side that does not parse (Python 2
code, truncated content) sets the missing-AST flag and contributes no deltas for that file.
"""

from __future__ import annotations

import ast
import hashlib
import warnings
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from standard_coder.sch.records import FileChange

NODE_TYPES: tuple[str, ...] = (
    "FunctionDef", "AsyncFunctionDef", "ClassDef", "Return", "Assign", "AugAssign", "AnnAssign",
    "For", "While", "If", "With", "Try", "Raise", "Assert", "Import", "ImportFrom", "Call",
    "Lambda", "IfExp", "ListComp", "DictComp", "SetComp", "GeneratorExp", "Compare", "BoolOp",
    "BinOp", "Subscript", "Attribute", "Yield", "Await", "Match", "JoinedStr", "Global",
)  # fmt: skip
_NODE_INDEX = {n: i for i, n in enumerate(NODE_TYPES)}
_TYPE_INDEX: dict[type, int | None] = {}  # node class -> its NODE_TYPES index (None: not counted)

AST_NAMES: tuple[str, ...] = (
    *(f"ast_delta|{n}" for n in NODE_TYPES),
    "ast|functions_added", "ast|functions_removed", "ast|functions_changed",
    "ast|classes_added", "ast|classes_removed", "ast|classes_changed",
    "ast|calls_added", "ast|calls_removed", "ast|python_files", "ast|missing",
)  # fmt: skip


@dataclass(frozen=True)
class AstSummary:
    """What one top-level statement contributes to AST deltas."""

    counts: np.ndarray
    functions: dict[str, str]
    classes: dict[str, str]
    calls: frozenset[tuple[str, str]]


def _callee(node: ast.Call) -> str:
    f = node.func
    if isinstance(f, ast.Name):
        return f.id
    if isinstance(f, ast.Attribute):
        return "." + f.attr
    return "?"


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def _stmt_span(node: ast.stmt) -> tuple[int, int]:
    first = node.lineno
    for d in getattr(node, "decorator_list", ()):
        first = min(first, d.lineno)
    return first, node.end_lineno or node.lineno


def summarise_statement(
    node: ast.stmt, lines: list[str], scope: str = "", *, skip_body: bool = False
) -> AstSummary:
    """Node-type counts, function/class body digests and call edges of one statement.

    Args:
        node: the statement; ``lines`` is the source it was parsed from.
        scope: qualified name of the enclosing class or function ("" at module level).
        skip_body: leave out the statement's ``body`` (a class header: decorators, bases).
    """
    counts = [0] * len(NODE_TYPES)  # exact integers, an array at the end
    functions: dict[str, str] = {}
    classes: dict[str, str] = {}
    calls: set[tuple[str, str]] = set()
    skipped = {id(b) for b in getattr(node, "body", ())} if skip_body else set()
    index = _TYPE_INDEX
    AST, Def, Call = ast.AST, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef), ast.Call

    def visit(child: ast.AST, scope: str) -> None:
        t = type(child)
        idx = index.get(t, -1)
        if idx == -1:
            idx = index[t] = _NODE_INDEX.get(t.__name__)
        if idx is not None:
            counts[idx] += 1
        inner = scope
        if isinstance(child, Def):
            inner = f"{scope}.{child.name}" if scope else child.name
            a, b = _stmt_span(child)
            digest = _digest("\n".join(lines[a - 1 : b]))
            (classes if t is ast.ClassDef else functions)[inner] = digest
        elif t is Call:
            calls.add((scope, _callee(child)))  # type: ignore[arg-type]
        # ast.iter_child_nodes, inlined (the same children in the same order, a third faster)
        for name in child._fields:
            v = getattr(child, name, None)
            if isinstance(v, list):
                for c in v:
                    if isinstance(c, AST) and id(c) not in skipped:
                        visit(c, inner)
            elif isinstance(v, AST) and id(v) not in skipped:
                visit(v, inner)

    visit(node, scope)
    return AstSummary(np.array(counts, np.float64), functions, classes, frozenset(calls))


_NOT_START = frozenset(" \t\r\n#)]}")
_CONTINUATIONS = ("else", "elif ", "except", "finally")


def split_top_level(source: str) -> list[str]:
    """Cut source into top-level chunks by a cheap line scan (no parsing).

    A chunk starts at a line in column 0 (not a comment, closing bracket or the inside of a
    triple-quoted string) unless the previous chunk is only decorators or ends in ``\\``.
    Wrong cuts (e.g. a column-0 continuation line) only make a chunk fail to parse, which
    sends the file to the whole-file path.
    """
    chunks: list[str] = []
    cur: list[str] = []
    in_triple: str | None = None
    hold = False
    for ln in source.splitlines(keepends=True):
        starts = (in_triple is None and not hold and ln[:1] not in _NOT_START and ln != ""
                  and not ln.startswith(_CONTINUATIONS))  # fmt: skip
        if starts and cur and not cur[-1].startswith("@"):
            chunks.append("".join(cur))
            cur = []
        cur.append(ln)
        for q in ('"""', "'''"):
            if (in_triple is None or in_triple == q) and ln.count(q) % 2 == 1:
                in_triple = None if in_triple == q else q
        hold = ln.rstrip("\r\n").endswith("\\")
    if cur:
        chunks.append("".join(cur))
    return chunks


class AstCache:
    """Caches keyed by content digest (a cheap stand-in for the blob oid).

    A file's content maps to the digests of its top-level statements (one ``ast.parse`` per
    distinct content); a statement digest maps to its summary, computed only for statements
    that differ between the two sides of a change. Cost therefore follows the size of the
    change, not of the file.
    """

    def __init__(self, maxsize: int = 2048) -> None:
        self.maxsize = maxsize
        self._files: OrderedDict[str, dict[str, tuple[ast.stmt, list[str]]] | None] = OrderedDict()
        self._stmts: OrderedDict[str, AstSummary] = OrderedDict()
        self._chunk_files: OrderedDict[str, dict[str, str]] = OrderedDict()
        self._chunks: OrderedDict[str, AstSummary | None] = OrderedDict()
        self._members: OrderedDict[str, AstSummary] = OrderedDict()
        self.parses = 0
        self.chunk_parses = 0

    def chunks(self, source: str) -> dict[str, str]:
        """Top-level chunks of ``source`` by text digest (no parsing)."""
        key = _digest(source) + str(len(source))
        got = self._chunk_files.get(key)
        if got is not None:
            self._chunk_files.move_to_end(key)
            return got
        out: dict[str, str] = {}
        for i, text in enumerate(split_top_level(source)):
            d = _digest(text)
            out[d if d not in out else f"{d}#{i}"] = text
        self._chunk_files[key] = out
        if len(self._chunk_files) > self.maxsize:
            self._chunk_files.popitem(last=False)
        return out

    def chunk_summary(self, key: str, text: str) -> AstSummary | None:
        """Summary of one chunk (parsed alone); None when it does not parse alone."""
        if key in self._chunks:
            return self._chunks[key]
        self.chunk_parses += 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = ast.parse(text)
            lines = text.splitlines()
            s: AstSummary | None = _merge([self.summarise(n, lines) for n in tree.body])
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            s = None
        self._chunks[key] = s
        if len(self._chunks) > 8 * self.maxsize:
            self._chunks.popitem(last=False)
        return s

    def statements(self, source: str) -> dict[str, tuple[ast.stmt, list[str]]] | None:
        """Top-level statements by text digest (None when the source does not parse)."""
        key = _digest(source) + str(len(source))
        if key in self._files:
            self._files.move_to_end(key)
            return self._files[key]
        self.parses += 1
        out: dict[str, tuple[ast.stmt, list[str]]] | None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = ast.parse(source)
            lines = source.splitlines()
            out = {}
            for i, node in enumerate(tree.body):
                a, b = _stmt_span(node)
                text = "\n".join(lines[a - 1 : b])
                d = _digest(text)
                out[d if d not in out else f"{d}#{i}"] = (node, lines)
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            out = None
        self._files[key] = out
        if len(self._files) > self.maxsize:
            self._files.popitem(last=False)
        return out

    def summary(self, key: str, node: ast.stmt, lines: list[str]) -> AstSummary:
        s = self._stmts.get(key)
        if s is None:
            s = self.summarise(node, lines)
            self._stmts[key] = s
            if len(self._stmts) > 4 * self.maxsize:
                self._stmts.popitem(last=False)
        return s

    def summarise(self, node: ast.stmt, lines: list[str]) -> AstSummary:
        """:func:`summarise_statement` of a top-level statement, a class member at a time.

        A class is its header (decorators, bases, the class digest) plus one summary per body
        statement, each cached by the class name and the member's text: a one-line change in
        a 2,000-line class walks the changed method, not the class. The result equals
        ``summarise_statement(node, lines)``.
        """
        if not isinstance(node, ast.ClassDef):
            return summarise_statement(node, lines)
        parts = [summarise_statement(node, lines, skip_body=True)]
        for member in node.body:
            a, b = _stmt_span(member)
            key = f"{node.name}\0{_digest(chr(10).join(lines[a - 1 : b]))}"
            s = self._members.get(key)
            if s is None:
                s = summarise_statement(member, lines, node.name)
                self._members[key] = s
                if len(self._members) > 16 * self.maxsize:
                    self._members.popitem(last=False)
            else:
                self._members.move_to_end(key)
            parts.append(s)
        return _merge(parts)


def _dict_delta(a: dict[str, str], b: dict[str, str]) -> tuple[int, int, int]:
    added = sum(1 for k in b if k not in a)
    removed = sum(1 for k in a if k not in b)
    changed = sum(1 for k, v in b.items() if k in a and a[k] != v)
    return added, removed, changed


def _merge(summaries: list[AstSummary]) -> AstSummary:
    counts = np.zeros(len(NODE_TYPES), np.float64)
    functions: dict[str, str] = {}
    classes: dict[str, str] = {}
    calls: set[tuple[str, str]] = set()
    for s in summaries:
        counts += s.counts
        functions.update(s.functions)
        classes.update(s.classes)
        calls |= s.calls
    return AstSummary(counts, functions, classes, frozenset(calls))


def _whole_file(
    cache: AstCache, before: str | None, after: str | None
) -> tuple[AstSummary, AstSummary] | None:
    empty: dict[str, tuple[ast.stmt, list[str]]] = {}
    b = empty if before is None else cache.statements(before)
    a = empty if after is None else cache.statements(after)
    if b is None or a is None:
        return None
    removed = _merge([cache.summary(k, *v) for k, v in b.items() if k not in a])
    added = _merge([cache.summary(k, *v) for k, v in a.items() if k not in b])
    return removed, added


def _chunked(
    cache: AstCache, before: str | None, after: str | None
) -> tuple[AstSummary, AstSummary] | None:
    b = {} if before is None else cache.chunks(before)
    a = {} if after is None else cache.chunks(after)
    rem = [cache.chunk_summary(k, t) for k, t in b.items() if k not in a]
    add = [cache.chunk_summary(k, t) for k, t in a.items() if k not in b]
    if any(x is None for x in rem) or any(x is None for x in add):
        return None
    return _merge(rem), _merge(add)  # type: ignore[arg-type]


def ast_edit_features(files: Iterable[FileChange], cache: AstCache | None = None) -> np.ndarray:
    """AST edit feature vector (``AST_NAMES``) of one commit's Python files.

    Each side is cut into top-level chunks by a line scan; only the chunks that differ are
    parsed (alone) and walked, so the cost follows the size of the change. When a differing
    chunk does not parse alone, both whole files are parsed; when that fails too the file
    counts in ``ast|missing`` and contributes no deltas.
    """
    cache = cache or AstCache()
    out = np.zeros(len(AST_NAMES), np.float64)
    n_nodes = len(NODE_TYPES)
    for f in files:
        if f.language != "python" and not f.path.endswith(".py"):
            continue
        if f.is_binary or (f.before is None and f.after is None):
            continue
        out[-2] += 1
        pair = _chunked(cache, f.before, f.after) or _whole_file(cache, f.before, f.after)
        if pair is None:
            out[-1] += 1
            continue
        removed, added = pair
        out[:n_nodes] += np.abs(added.counts - removed.counts)
        out[n_nodes : n_nodes + 3] += _dict_delta(removed.functions, added.functions)
        out[n_nodes + 3 : n_nodes + 6] += _dict_delta(removed.classes, added.classes)
        out[n_nodes + 6] += len(added.calls - removed.calls)
        out[n_nodes + 7] += len(removed.calls - added.calls)
    return out
