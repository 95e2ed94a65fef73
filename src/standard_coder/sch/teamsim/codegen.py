"""Synthetic Python code changes whose size and token mix depend on the coding time behind them.

A repository is a set of small modules; each module is an import header plus a list of *units*
(top-level functions or classes), each unit valid Python on its own. A change of ``m`` coding
minutes touches 1-3 files (more for longer work) and edits a number of lines that grows with
``m`` (log-normal noise). Short work renames identifiers and tweaks literals or comparisons;
longer work adds functions and classes with control flow and calls, rewrites units and sometimes
deletes old ones. A small share of edits leaves a unit unparsable (fixed by a later edit).
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field

WORDS = (
    "item",
    "value",
    "count",
    "total",
    "name",
    "path",
    "data",
    "result",
    "index",
    "node",
    "record",
    "entry",
    "buffer",
    "config",
    "state",
    "token",
    "offset",
    "size",
    "limit",
    "key",
    "user",
    "order",
    "price",
    "event",
    "queue",
    "cache",
    "report",
    "line",
    "block",
    "score",
)
VERBS = (
    "load",
    "parse",
    "build",
    "update",
    "compute",
    "merge",
    "filter",
    "render",
    "check",
    "read",
    "write",
    "find",
    "split",
    "apply",
    "collect",
    "resolve",
    "format",
    "validate",
    "scan",
    "sort",
)
MODULES = ("os", "re", "json", "math", "itertools", "functools", "collections", "pathlib")
PACKAGES = ("core", "utils", "io", "models", "services", "api")
MAX_FILE_LINES = 140


def _poisson(rng: random.Random, lam: float) -> int:
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _ident(rng: random.Random) -> str:
    return str(rng.choice(WORDS)) + ("" if rng.random() < 0.6 else "_" + str(rng.choice(WORDS)))


def _func_name(rng: random.Random) -> str:
    return f"{rng.choice(VERBS)}_{rng.choice(WORDS)}"


def _expr(rng: random.Random, names: list[str]) -> str:
    a = str(rng.choice(names)) if names else str(int(rng.randrange(0, 10)))
    r = rng.random()
    if r < 0.3:
        return f"{a} {rng.choice(['+', '-', '*', '//', '%'])} {int(rng.randrange(1, 100))}"
    if r < 0.55:
        return f"{_func_name(rng)}({a})"
    if r < 0.7:
        return f"[x for x in {a} if x]"
    if r < 0.85:
        return f"{a}.get({_ident(rng)!r}, {int(rng.randrange(0, 5))})"
    return f"len({a}) > {int(rng.randrange(0, 50))}"


def _body(rng: random.Random, n: int, depth: int, control: float, names: list[str]) -> list[str]:
    pad = "    " * depth
    lines: list[str] = []
    while len(lines) < n:
        r = rng.random()
        if depth < 3 and r < control:
            kind = int(rng.randrange(0, 5))
            inner = max(1, int(rng.randrange(1, 4)))
            cond_name = str(rng.choice(names)) if names else "value"
            if kind == 0:
                lines.append(
                    f"{pad}if {cond_name} {rng.choice(['<', '<=', '>', '>=', '==', '!='])} "
                    f"{int(rng.randrange(0, 100))}:"
                )
                lines += _body(rng, inner, depth + 1, control * 0.5, names)
                if rng.random() < 0.4:
                    lines.append(f"{pad}else:")
                    lines += _body(rng, 1, depth + 1, control * 0.5, names)
            elif kind == 1:
                var = str(rng.choice(WORDS))
                lines.append(f"{pad}for {var} in {cond_name}:")
                lines += _body(rng, inner, depth + 1, control * 0.5, [*names, var])
            elif kind == 2:
                lines.append(f"{pad}while {cond_name} and {int(rng.randrange(1, 9))} > 0:")
                lines += _body(rng, inner, depth + 1, control * 0.5, names)
                lines.append(f"{pad}    break")
            elif kind == 3:
                lines.append(f"{pad}try:")
                lines += _body(rng, inner, depth + 1, control * 0.5, names)
                lines.append(f"{pad}except (KeyError, ValueError) as exc:")
                lines.append(f"{pad}    raise RuntimeError({_ident(rng)!r}) from exc")
            else:
                lines.append(f"{pad}with open({cond_name}) as handle:")
                lines.append(f"{pad}    {_ident(rng).replace('_', '')} = handle.read()")
        else:
            var = _ident(rng)
            if rng.random() < 0.25 and names:
                lines.append(f"{pad}{rng.choice(names)}.{rng.choice(VERBS)}({_expr(rng, names)})")
            else:
                lines.append(f"{pad}{var} = {_expr(rng, names)}")
                names = [*names, var]
    return lines


def make_function(rng: random.Random, n_lines: int, control: float, method: bool = False) -> str:
    """A top-level function (or method when ``method``) of about ``n_lines`` lines."""
    params = [str(p) for p in rng.sample(WORDS, rng.randrange(0, 4))]
    args = (["self"] if method else []) + params
    head = f"def {_func_name(rng)}({', '.join(args)}):"
    body = _body(rng, max(1, n_lines - 2), 1, control, params or ["value"])
    if not params:
        body.insert(0, "    value = []")
    ret = f"    return {rng.choice(params) if params else 'value'}"
    lines = [head, *body, ret]
    if method:
        lines = ["    " + ln for ln in lines]
    return "\n".join(lines)


def make_class(rng: random.Random, n_lines: int, control: float) -> str:
    name = "".join(w.capitalize() for w in _ident(rng).split("_")) + str(
        rng.choice(["Service", "Store", "Parser", "Model"])
    )
    fields = [str(w) for w in rng.sample(WORDS, rng.randrange(1, 4))]
    lines = [f"class {name}:", f'    """{name} of {", ".join(fields)}."""', ""]
    lines.append(f"    def __init__(self, {', '.join(fields)}):")
    lines += [f"        self.{f} = {f}" for f in fields]
    remaining = max(3, n_lines - len(lines))
    while remaining > 0:
        size = min(remaining, int(rng.randrange(3, 10)))
        lines.append("")
        lines.append(make_function(rng, size, control, method=True))
        remaining -= size + 1
    return "\n".join(lines)


@dataclass
class Module:
    """One Python file: imports and units."""

    imports: list[str]
    units: list[str] = field(default_factory=list)
    broken: set[int] = field(default_factory=set)

    def render(self) -> str:
        head = "\n".join(self.imports)
        return (head + "\n\n\n" if head else "") + "\n\n\n".join(self.units) + "\n"

    def n_lines(self) -> int:
        return sum(u.count("\n") + 1 for u in self.units) + len(self.imports)


@dataclass
class RepoCode:
    """The evolving code of one repository."""

    modules: dict[str, Module] = field(default_factory=dict)
    counter: int = 0

    def new_path(self, rng: random.Random) -> str:
        self.counter += 1
        return (
            f"src/{rng.choice(PACKAGES)}/{rng.choice(VERBS)}_{rng.choice(WORDS)}_{self.counter}.py"
        )


def _tweak_unit(unit: str, rng: random.Random, n: int) -> str:
    """Small edits: rename an identifier, change literals, flip a comparison, touch a line."""
    lines = unit.split("\n")
    for _ in range(max(1, n)):
        r = rng.random()
        i = int(rng.randrange(1, len(lines))) if len(lines) > 1 else 0
        if r < 0.35:
            old, new = str(rng.choice(WORDS)), str(rng.choice(WORDS))
            lines = [
                " ".join(
                    tok.replace(old, new) if tok.isidentifier() else tok for tok in ln.split(" ")
                )
                for ln in lines
            ]
        elif r < 0.6:
            lines[i] = re.sub(r"\b\d+\b", lambda _m: str(int(rng.randrange(0, 100))), lines[i])
        elif r < 0.75:
            for a, b in (("<=", "<"), (" < ", " <= "), (">=", ">"), ("==", "!=")):
                if a in lines[i]:
                    lines[i] = lines[i].replace(a, b, 1)
                    break
        elif i > 0:
            indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())] or "    "
            if lines[i].rstrip().endswith(":"):
                indent += "    "
            lines.insert(
                i + 1, f"{indent}{_ident(rng).replace('_', '')} = {int(rng.randrange(0, 99))}"
            )
    return "\n".join(lines)


def _break_unit(unit: str) -> str:
    head, _, rest = unit.partition("\n")
    return head.rstrip(":") + "\n" + rest  # missing colon: a syntax error


def change_for_minutes(
    repo: RepoCode, minutes: float, rng: random.Random, *, broken_prob: float = 0.02
) -> tuple[dict[str, str], list[str], str]:
    """Apply one change worth ``minutes`` of coding to ``repo``.

    Returns ``(written, deleted, message)``: new contents of touched files, deleted paths, and a
    commit message.
    """
    m = max(0.0, float(minutes))
    budget = max(1, round(float(rng.lognormvariate(math.log(1.0 + 1.1 * m**0.85), 0.55))))
    budget = min(budget, 260)
    n_files = 1 + _poisson(rng, min(2.0, m / 45.0))
    n_files = min(n_files, 4)
    control = min(0.45, 0.05 + m / 150.0)
    written: dict[str, str] = {}
    deleted: list[str] = []
    verbs: list[str] = []
    per_file = max(1, budget // n_files)
    for _ in range(n_files):
        paths = sorted(repo.modules)
        new_file = not paths or (m > 20 and rng.random() < 0.12) or (len(paths) < 3 and m > 5)
        if new_file:
            path = repo.new_path(rng)
            imports = [f"import {x}" for x in sorted(set(rng.choices(MODULES, k=2)))]
            mod = Module(imports=imports)
            repo.modules[path] = mod
            verbs.append(f"Add {path.rsplit('/', 1)[-1]}")
        else:
            path = str(rng.choice(paths))
            mod = repo.modules[path]
        before = mod.render() if not new_file else ""
        left = per_file
        # fix units broken by an earlier change first
        for i in sorted(mod.broken):
            mod.units[i] = mod.units[i].replace("\n", ":\n", 1)
            mod.broken.discard(i)
        if mod.units and (m < 12 or rng.random() < 0.4):
            # small edits of existing units
            i = int(rng.randrange(0, len(mod.units)))
            mod.units[i] = _tweak_unit(mod.units[i], rng, min(left, 1 + int(m // 4)))
            left -= min(left, 1 + int(m // 4))
            verbs.append(f"Tweak {path.rsplit('/', 1)[-1]}")
        while left > 0:
            size = min(left + 2, int(rng.randrange(4, 16)) + int(m // 6))
            if mod.units and rng.random() < 0.25:
                i = int(rng.randrange(0, len(mod.units)))
                mod.units[i] = make_function(rng, size, control)  # rewrite
                verbs.append("Rewrite function")
            elif m > 25 and rng.random() < 0.3:
                mod.units.append(make_class(rng, size, control))
                verbs.append("Add class")
            else:
                mod.units.append(make_function(rng, size, control))
                verbs.append("Add function")
            left -= size
        while mod.n_lines() > MAX_FILE_LINES and len(mod.units) > 1:
            mod.units.pop(int(rng.randrange(0, len(mod.units) - 1)))  # clean-up deletions
        if mod.units and rng.random() < broken_prob:
            i = len(mod.units) - 1
            mod.units[i] = _break_unit(mod.units[i])
            mod.broken.add(i)
        text = mod.render()
        if text == before:  # a tweak that matched nothing: make a real (small) change
            mod.units.append(make_function(rng, 3, control))
            text = mod.render()
        written[path] = text
    if len(repo.modules) > 12 and m > 30 and rng.random() < 0.1:
        victim = str(rng.choice(sorted(p for p in repo.modules if p not in written)))
        del repo.modules[victim]
        deleted.append(victim)
        verbs.append(f"Remove {victim.rsplit('/', 1)[-1]}")
    message = "; ".join(dict.fromkeys(verbs)) or "Update"
    return written, deleted, message
