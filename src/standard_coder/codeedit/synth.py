"""Synthetic codemods: (pre, instruction, post, gold action), correct by construction.

Each template looks for something to change in a snippet (a call, a function, an import, an
attribute), writes an ast-grep action for it, and ``post`` is what applying that action to
``pre`` gives, so the gold action always reproduces ``post``. Kept only when the action changes
the code and ``post`` still parses. This is the offline "teacher" for part 2's SRL trajectories
(:func:`trajectory`: several codemods chained on one snippet), and :func:`filter_steps` is the
trajectory filter (a step is kept when its action parses, applies and changes the code).
"""

from __future__ import annotations

import hashlib
import random
import shlex
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from standard_coder.codeedit.actions import apply_action, parse_answer, validate_action
from standard_coder.codeedit.errors import CodeEditError
from standard_coder.codeedit.records import EditRecord

KINDS = {
    "python": {"call": "call", "fn": "function", "def": "function_definition",
               "attr": "attribute", "attr_field": "attribute", "import": "import_statement"},
    "javascript": {"call": "call_expression", "fn": "function", "def": "function_declaration",
                   "attr": "member_expression", "attr_field": "property", "import": ""},
}  # fmt: skip

RENAMES = {"print": "log.info", "open": "io.open", "sorted": "stable_sorted", "len": "size_of",
           "warn": "warning", "setDaemon": "set_daemon", "readFileSync": "readFile",
           "log": "info", "append": "push"}  # fmt: skip
IMPORTS = {"json": "ujson", "requests": "httpx", "csv": "unicodecsv", "hashlib": "hashlib2"}
KWARGS = {"open": 'encoding="utf-8"', "subprocess.run": "check=True", "session.get": "timeout=10",
          "json.load": "parse_float=float", "threading.Thread": "daemon=True"}  # fmt: skip
WRAPPERS = ("list", "tuple", "repr")


@dataclass(frozen=True)
class Codemod:
    """One synthetic edit: the record fields plus the gold action."""

    template: str
    language: str
    pre: str
    post: str
    instruction: str
    style: str
    action: dict[str, Any]

    def to_record(self) -> EditRecord:
        digest = hashlib.sha256(
            f"{self.template}\0{self.pre}\0{self.instruction}".encode()
        ).hexdigest()[:16]
        return EditRecord(
            id=f"synthetic-{digest}", source="synthetic", instruction=self.instruction,
            instruction_style=self.style,  # type: ignore[arg-type]
            pre=self.pre, post=self.post, language=self.language,  # type: ignore[arg-type]
            repo=f"synthetic/{self.template}", license="Apache-2.0", tests=None,
            tags=["synthetic", self.template],
            metadata={"gold_action": self.action, "template": self.template},
        )  # fmt: skip


def _yaml_action(language: str, rule: dict[str, Any], fix: str, notes: str) -> dict[str, Any]:
    import yaml

    text = yaml.safe_dump({"rule": rule, "fix": fix}, sort_keys=False, allow_unicode=True)
    return {"type": "ast_grep", "language": language, "mode": "yaml", "rule_yaml": text,
            "notes": notes}  # fmt: skip


def _cli_action(language: str, pattern: str, rewrite: str, notes: str) -> dict[str, Any]:
    cli = f"ast-grep run -p {shlex.quote(pattern)} -r {shlex.quote(rewrite)} -l {language}"
    return {"type": "ast_grep", "language": language, "mode": "cli", "cli": cli, "notes": notes}


def _pick(rng: random.Random, items: Iterable[str]) -> str | None:
    pool = sorted(set(items))
    return rng.choice(pool) if pool else None


Candidate = tuple[str, str, str, dict[str, Any]]  # template, descriptive, lazy, action
Template = Callable[[Any, str, random.Random], Candidate | None]


def _calls(root: Any, lang: str) -> list[str]:
    k = KINDS[lang]
    return [n.field(k["fn"]).text() for n in root.find_all(kind=k["call"]) if n.field(k["fn"])]


def _rename_call(root: Any, lang: str, rng: random.Random) -> Candidate | None:
    name = _pick(rng, (c for c in _calls(root, lang) if c.split(".")[-1] in RENAMES))
    if name is None:
        return None
    head, _, last = name.rpartition(".")
    new = f"{head}.{RENAMES[last]}" if head else RENAMES[last]
    desc = f"Replace every call to `{name}` with a call to `{new}`, keeping the arguments."
    lazy = f"use {new} instead of {name}"
    pattern, fix = f"{name}($$$ARGS)", f"{new}($$$ARGS)"
    if rng.random() < 0.5:
        return "rename_call", desc, lazy, _cli_action(lang, pattern, fix, "rename the call")
    return "rename_call", desc, lazy, _yaml_action(lang, {"pattern": pattern}, fix, "rename")


def _rename_function(root: Any, lang: str, rng: random.Random) -> Candidate | None:
    defs = [n.field("name").text() for n in root.find_all(kind=KINDS[lang]["def"])]
    name = _pick(rng, (d for d in defs if not d.startswith("__")))
    if name is None:
        return None
    new = f"{name}_v2" if rng.random() < 0.5 else f"compute_{name}"
    rule = {"kind": "identifier", "regex": f"^{name}$"}
    desc = f"Rename the function `{name}` to `{new}` everywhere it is defined or used."
    action = _yaml_action(lang, rule, new, "rename the definition and every use")
    return "rename_function", desc, f"rename {name} to {new}", action


def _rename_import(root: Any, lang: str, rng: random.Random) -> Candidate | None:
    kind = KINDS[lang]["import"]
    mods = (
        [n.text().removeprefix("import ").strip() for n in root.find_all(kind=kind)] if kind else []
    )
    name = _pick(rng, (m for m in mods if m in IMPORTS))
    if name is None:
        return None
    new = IMPORTS[name]
    desc = f"Import `{new}` in place of `{name}`, bound to the old name so the code is unchanged."
    action = _yaml_action(lang, {"pattern": f"import {name}"}, f"import {new} as {name}", "")
    return "rename_import", desc, f"switch {name} to {new}", action


def _wrap_call(root: Any, lang: str, rng: random.Random) -> Candidate | None:
    name = _pick(rng, (c for c in _calls(root, lang) if c in ("sorted", "len", "range", "sum")))
    if name is None:
        return None
    wrapper = rng.choice(WRAPPERS)
    desc = f"Wrap each call to `{name}` in `{wrapper}(...)`."
    action = _yaml_action(
        lang, {"pattern": f"{name}($$$ARGS)"}, f"{wrapper}({name}($$$ARGS))", "wrap the call"
    )
    return "wrap_call", desc, f"{wrapper}() around {name}", action


def _add_kwarg(root: Any, lang: str, rng: random.Random) -> Candidate | None:
    name = _pick(rng, (c for c in _calls(root, lang) if c in KWARGS))
    if name is None:
        return None
    kw = KWARGS[name]
    rule = {"all": [{"pattern": f"{name}($$$ARGS)"}, {"not": {"pattern": f"{name}()"}}]}
    desc = f"Pass `{kw}` to every call of `{name}` that has arguments."
    action = _yaml_action(lang, rule, f"{name}($$$ARGS, {kw})", "add a keyword argument")
    return "add_kwarg", desc, f"add {kw} to {name}", action


def _replace_attribute(root: Any, lang: str, rng: random.Random) -> Candidate | None:
    k = KINDS[lang]
    attrs = [n.field(k["attr_field"]).text() for n in root.find_all(kind=k["attr"])]
    name = _pick(rng, (a for a in attrs if a in RENAMES))
    if name is None:
        return None
    new = RENAMES[name].split(".")[-1]
    desc = f"Use the attribute `.{new}` wherever the code reads `.{name}`."
    action = _yaml_action(lang, {"pattern": f"$OBJ.{name}"}, f"$OBJ.{new}", "rename attribute")
    return "replace_attribute", desc, f".{name} -> .{new}", action


TEMPLATES: dict[str, Template] = {
    "rename_call": _rename_call,
    "rename_function": _rename_function,
    "rename_import": _rename_import,
    "wrap_call": _wrap_call,
    "add_kwarg": _add_kwarg,
    "replace_attribute": _replace_attribute,
}


def parses(code: str, language: str) -> bool:
    """``code`` compiles (Python: ``compile``; others: no ERROR node from tree-sitter)."""
    if language == "python":
        try:
            compile(code, "<codemod>", "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            return False
        return True
    from ast_grep_py import SgRoot

    return SgRoot(code, language).root().find(kind="ERROR") is None


def codemod(pre: str, language: str, template: str, rng: random.Random) -> Codemod | None:
    """One codemod of ``template`` on ``pre``, or None (nothing to change, or it breaks code)."""
    from ast_grep_py import SgRoot

    found = TEMPLATES[template](SgRoot(pre, language).root(), language, rng)
    if found is None:
        return None
    name, desc, lazy, action = found
    try:
        post = apply_action(action, pre, language)
    except CodeEditError:
        return None
    if post == pre or not parses(post, language):
        return None
    style = "descriptive" if rng.random() < 0.5 else "lazy"
    return Codemod(name, language, pre, post, desc if style == "descriptive" else lazy, style,
                   action)  # fmt: skip


def generate(
    snippets: Iterable[tuple[str, str]], *, seed: int = 0, templates: Iterable[str] | None = None
) -> Iterator[Codemod]:
    """Every template on every ``(code, language)`` snippet, deterministic for a seed."""
    names = list(templates or TEMPLATES)
    for i, (code, language) in enumerate(snippets):
        for name in names:
            rng = random.Random(f"{seed}:{i}:{name}")
            found = codemod(code, language, name, rng)
            if found is not None:
                yield found


def builtin_snippets() -> list[tuple[str, str]]:
    """The snippets shipped in :mod:`standard_coder.codeedit.snippets`."""
    from standard_coder.codeedit.snippets import JAVASCRIPT, PYTHON

    return [(s, "python") for s in PYTHON] + [(s, "javascript") for s in JAVASCRIPT]


def trajectory(code: str, language: str, steps: int, seed: int = 0) -> list[Codemod]:
    """Up to ``steps`` codemods chained on one snippet (step k's ``pre`` is step k-1's ``post``)."""
    rng = random.Random(seed)
    out: list[Codemod] = []
    names = list(TEMPLATES)
    current = code
    for _ in range(steps):
        rng.shuffle(names)
        for name in names:
            found = codemod(current, language, name, rng)
            if found is not None:
                out.append(found)
                current = found.post
                break
        else:
            break
    return out


def filter_steps(steps: Iterable[dict[str, Any]]) -> tuple[list[dict[str, Any]], Counter[str]]:
    """Keep steps whose action parses, applies and changes the code; count the rest by reason.

    A step is ``{"pre", "language", "action": {...}}`` or ``{"pre", "language", "answer": str}``.
    """
    kept: list[dict[str, Any]] = []
    dropped: Counter[str] = Counter()
    for step in steps:
        try:
            action = step["action"] if "action" in step else parse_answer(step["answer"]).action
            validate_action(action)
        except (CodeEditError, KeyError):
            dropped["unparseable"] += 1
            continue
        try:
            post = apply_action(action, step["pre"], step["language"])
        except CodeEditError:
            dropped["apply_failed"] += 1
            continue
        if post == step["pre"]:
            dropped["no_change"] += 1
            continue
        kept.append({**step, "action": action, "post": post})
    return kept, dropped
