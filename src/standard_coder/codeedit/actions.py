"""The action language: parse a model answer, validate its action, apply it to ``pre``.

A model answers ``<think>…</think><action>{json}</action><state_update>…</state_update>``
(``<think>`` and ``<state_update>`` optional). The JSON is the action object::

    {"type": "ast_grep", "language": "python", "mode": "yaml" | "cli",
     "rule_yaml": "...", "cli": "ast-grep run -p ... -r ...", "notes": "..."}

``mode = yaml`` applies every YAML document of ``rule_yaml`` in order with ``ast-grep-py``; the
``fix`` template is rendered here (the Python API leaves meta-variables unreplaced). A ``fix``
given as a FixConfig mapping (``expandStart``/``expandEnd``) goes to the real CLI instead.
``mode = cli`` runs the allow-listed command on ``pre`` in the sandbox (``sandbox.py``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from standard_coder.codeedit.errors import ActionApplyError, ActionParseError, ActionSchemaError
from standard_coder.codeedit.records import LANGUAGES, normalize_language

_BLOCK = re.compile(r"<(think|action|state_update)>(.*?)</\1>", re.DOTALL)
_RULE_KEYS = ("rule", "constraints", "utils", "transform")
_METAVAR = re.compile(r"\$\$\$([A-Z_][A-Z0-9_]*)|\$([A-Z_][A-Z0-9_]*)")


class Action(BaseModel):
    """The validated action object."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["ast_grep"]
    language: str
    mode: Literal["yaml", "cli"]
    rule_yaml: str | None = None
    cli: str | None = None
    notes: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> Action:
        lang = normalize_language(self.language)
        if lang == "other":
            raise ValueError(f"language {self.language!r}: expected one of {LANGUAGES[:-1]}")
        self.language = lang
        if self.mode == "yaml" and not (self.rule_yaml or "").strip():
            raise ValueError("mode 'yaml' needs a non-empty rule_yaml")
        if self.mode == "cli" and not (self.cli or "").strip():
            raise ValueError("mode 'cli' needs a non-empty cli")
        return self


@dataclass(frozen=True)
class Answer:
    """A parsed model answer."""

    action: dict[str, Any]
    think: str | None = None
    state_update: str | None = None


def parse_answer(text: str) -> Answer:
    """Split a model answer into its blocks; the action JSON must be one object.

    Accepts ``{"action": {...}}`` (the plan's wrapped form) as well as the bare object.

    Raises:
        ActionParseError: no ``<action>`` block, more than one, or its JSON is not an object.
    """
    blocks: dict[str, list[str]] = {}
    for tag, body in _BLOCK.findall(text or ""):
        blocks.setdefault(tag, []).append(body.strip())
    actions = blocks.get("action", [])
    if len(actions) != 1:
        raise ActionParseError(f"answer: expected one <action>…</action> block, got {len(actions)}")
    try:
        obj = json.loads(actions[0])
    except json.JSONDecodeError as exc:
        raise ActionParseError(f"answer: <action> is not JSON: {exc}") from None
    if isinstance(obj, dict) and set(obj) == {"action"} and isinstance(obj["action"], dict):
        obj = obj["action"]
    if not isinstance(obj, dict):
        raise ActionParseError("answer: <action> must hold a JSON object")
    return Answer(
        action=obj,
        think=next(iter(blocks.get("think", [])), None),
        state_update=next(iter(blocks.get("state_update", [])), None),
    )


def validate_action(action: dict[str, Any]) -> Action:
    """Check an action object against the schema.

    Raises:
        ActionSchemaError: one line naming the first bad field.
    """
    if not isinstance(action, dict):
        raise ActionSchemaError(f"action: expected an object, got {type(action).__name__}")
    try:
        return Action.model_validate(action)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "action"
        raise ActionSchemaError(f"action.{where}: {err['msg']}") from None


def load_rules(rule_yaml: str) -> list[dict[str, Any]]:
    """The YAML documents of ``rule_yaml`` (each one ast-grep rule with ``rule`` and ``fix``).

    Raises:
        ActionApplyError: not YAML, or a document is not a mapping with a ``rule``.
    """
    import yaml

    try:
        docs = [d for d in yaml.safe_load_all(rule_yaml) if d is not None]
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "invalid"
        raise ActionApplyError(f"rule_yaml: not valid YAML: {first}") from None
    if not docs:
        raise ActionApplyError("rule_yaml: no rule in it")
    for i, doc in enumerate(docs):
        if not isinstance(doc, dict) or not isinstance(doc.get("rule"), dict):
            raise ActionApplyError(f"rule_yaml: document {i + 1} has no 'rule' mapping")
    return docs


def _indent_of(src: str, index: int) -> str:
    line_start = src.rfind("\n", 0, index) + 1
    line = src[line_start:index]
    return line[: len(line) - len(line.lstrip(" \t"))]


def _capture(src: str, match: Any, name: str, multi: bool) -> str | None:
    if multi:
        nodes = match.get_multiple_matches(name)
        if not nodes:
            return ""
        return src[nodes[0].range().start.index : nodes[-1].range().end.index]
    node = match.get_match(name)
    if node is not None:
        return src[node.range().start.index : node.range().end.index]
    transformed = match.get_transformed(name)
    return None if transformed is None else str(transformed)


def render_fix(template: str, match: Any, src: str) -> str:
    """``fix`` with ``$A`` / ``$$$A`` (and transform outputs) replaced by what they matched.

    Like the CLI, the template's continuation lines take the matched node's indentation, and a
    multi-line capture is re-indented to the column it is pasted at. An unknown meta-variable
    renders as empty text (as the CLI does).
    """
    base = _indent_of(src, match.range().start.index)
    out: list[str] = []
    pos = 0
    for hit in _METAVAR.finditer(template):
        out.append(template[pos : hit.start()])
        name, multi = (hit.group(1), True) if hit.group(1) else (hit.group(2), False)
        text = _capture(src, match, name, multi) or ""
        if "\n" in text:
            line_so_far = "".join(out).rsplit("\n", 1)[-1]
            pad = line_so_far[: len(line_so_far) - len(line_so_far.lstrip(" \t"))]
            text = _reindent(text, _indent_of(src, _first_index(src, match, name, multi)), pad)
        out.append(text)
        pos = hit.end()
    out.append(template[pos:])
    lines = "".join(out).split("\n")
    return "\n".join([lines[0], *[(base + ln) if ln else ln for ln in lines[1:]]])


def _first_index(src: str, match: Any, name: str, multi: bool) -> int:
    if multi:
        nodes = match.get_multiple_matches(name)
        return int(nodes[0].range().start.index) if nodes else 0
    node = match.get_match(name)
    return int(node.range().start.index) if node is not None else 0


def _reindent(text: str, old: str, new: str) -> str:
    lines = text.split("\n")
    fixed = [ln[len(old) :] if ln.startswith(old) else ln.lstrip(" \t") for ln in lines[1:]]
    return "\n".join([lines[0], *[(new + ln) if ln else ln for ln in fixed]])


def apply_rule(src: str, language: str, doc: dict[str, Any]) -> str:
    """Apply one ast-grep rule document (``rule`` + ``fix``) to ``src`` with ast-grep-py.

    Raises:
        ActionApplyError: the rule is rejected by ast-grep or has no string ``fix``.
    """
    from ast_grep_py import SgRoot

    fix = doc.get("fix")
    if not isinstance(fix, str):
        raise ActionApplyError("rule_yaml: 'fix' must be a string template on the Python path")
    config = {k: doc[k] for k in _RULE_KEYS if k in doc}
    try:
        root = SgRoot(src, language).root()
        matches = root.find_all(config)  # type: ignore[call-overload]
    except BaseException as exc:  # the Rust side raises plain Exceptions (even panics)
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        first = (str(exc).splitlines() or ["invalid rule"])[0]
        raise ActionApplyError(f"rule_yaml: ast-grep rejected the rule: {first}") from None
    edits = []
    end = -1
    for m in sorted(matches, key=lambda m: (m.range().start.index, -m.range().end.index)):
        if m.range().start.index < end:
            continue  # nested in a match already rewritten (the CLI keeps the outermost)
        end = m.range().end.index
        edits.append(m.replace(render_fix(fix, m, src)))
    return src if not edits else str(root.commit_edits(edits))


def apply_action(action: dict[str, Any], pre: str, language: str) -> str:
    """Apply an action object (the JSON inside ``<action>``) to ``pre``; returns the new code.

    ``language`` is the code's language; the action's own ``language`` must agree with it.

    Raises:
        ActionSchemaError: the action breaks the schema (``SandboxRefused`` for a bad ``cli``).
        ActionApplyError: the rule or command fails (``SandboxTimeout`` when it runs too long).
    """
    act = validate_action(action)
    lang = normalize_language(language)
    if lang != act.language:
        raise ActionSchemaError(f"action.language: {act.language!r} but the code is {lang!r}")
    if act.mode == "cli":
        from standard_coder.codeedit.astgrep_cli import run_cli_action

        return run_cli_action(act.cli or "", pre, lang)
    out = pre
    for doc in load_rules(act.rule_yaml or ""):
        if isinstance(doc.get("fix"), dict):
            from standard_coder.codeedit.astgrep_cli import scan_rule

            out = scan_rule(doc, out, lang)
        else:
            out = apply_rule(out, lang, doc)
    return out


def count_rules(action: dict[str, Any]) -> int:
    """Rules in an action (YAML documents; a ``cli`` command is one)."""
    act = validate_action(action)
    return 1 if act.mode == "cli" else len(load_rules(act.rule_yaml or ""))
