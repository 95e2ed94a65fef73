"""The real ``ast-grep`` CLI, always inside the sandbox: ``cli`` actions and the rule oracle.

``scan_rule`` is also the oracle the tests cross-check the Python path against: the CLI
implements the full ``fix`` semantics (FixConfig, transforms, indentation).
"""

from __future__ import annotations

from typing import Any

from standard_coder.codeedit.errors import ActionApplyError, ActionSchemaError, SandboxTimeout
from standard_coder.codeedit.records import SUFFIX, normalize_language
from standard_coder.codeedit.sandbox import Limits, ast_grep_binary, parse_cli, run_sandboxed

LIMITS = Limits(timeout_s=20.0, cpu_s=20)


def file_name(language: str) -> str:
    """The temp file name the CLI reads for ``language`` (its extension picks the parser)."""
    return "input" + SUFFIX.get(language, ".txt")


def _run(args: list[str], pre: str, language: str, limits: Limits | None) -> str:
    name = file_name(language)
    argv = [str(ast_grep_binary()), *args, "-U", name]
    result = run_sandboxed(argv, {name: pre}, limits=limits or LIMITS, read_back=[name])
    if result.timed_out:
        raise SandboxTimeout(f"ast-grep: killed after {limits or LIMITS} (timeout)")
    # ast-grep exits 1 when nothing matched (like grep); anything on stderr is an error
    if result.returncode not in (0, 1) or "error" in result.stderr.lower():
        first = (result.stderr.strip().splitlines() or [f"exit {result.returncode}"])[0]
        raise ActionApplyError(f"ast-grep {args[0]}: {first}")
    if name not in result.files:
        raise ActionApplyError(f"ast-grep {args[0]}: the input file vanished")
    return result.files[name]


def run_cli_action(command: str, pre: str, language: str, limits: Limits | None = None) -> str:
    """Run an allow-listed ``ast-grep run|scan`` string on ``pre`` (written to a temp file).

    Raises:
        SandboxRefused: the command is not allow-listed.
        ActionSchemaError: its ``--lang`` disagrees with ``language``.
        ActionApplyError / SandboxTimeout: ast-grep failed or ran too long.
    """
    cmd = parse_cli(command)
    opts = dict(cmd.options)
    if cmd.subcommand == "run":
        given = opts.get("--lang")
        if given is not None and normalize_language(given) != language:
            raise ActionSchemaError(f"cli: --lang {given!r} but the code is {language!r}")
        opts["--lang"] = language
    args = [cmd.subcommand]
    for name, value in opts.items():
        args += [name, value]
    return _run(args, pre, language, limits)


def scan_rule(doc: dict[str, Any], pre: str, language: str, limits: Limits | None = None) -> str:
    """Apply one rule document with ``ast-grep scan --inline-rules`` (full ``fix`` semantics)."""
    import yaml

    full = {"id": doc.get("id", "action-rule"), "language": language, **doc}
    full["language"] = language
    text = yaml.safe_dump(full, sort_keys=False, allow_unicode=True)
    return _run(["scan", "--inline-rules", text], pre, language, limits)
