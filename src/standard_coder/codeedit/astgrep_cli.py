"""The real ``ast-grep`` CLI, always inside the sandbox: ``cli`` actions and the rule oracle.

``scan_rule`` is also the oracle the tests cross-check the Python path against: the CLI
implements the full ``fix`` semantics (FixConfig, transforms, indentation).
"""

from __future__ import annotations

import signal
from typing import Any

from standard_coder.codeedit.errors import ActionApplyError, ActionSchemaError, SandboxTimeout
from standard_coder.codeedit.records import SUFFIX, normalize_language
from standard_coder.codeedit.sandbox import Limits, ast_grep_binary, parse_cli, run_sandboxed

LIMITS = Limits(timeout_s=20.0, cpu_s=20)


def file_name(language: str) -> str:
    """The temp file name the CLI reads for ``language`` (its extension picks the parser)."""
    return "input" + SUFFIX.get(language, ".txt")


_NOISE = ("Help:", "See also:", "✖ Caused by", "For more information", "Usage:")


def stderr_line(stderr: str, limit: int = 400) -> str:
    """ast-grep's stderr as one line: the error and its causes, without the help, links and
    code frames it draws around them (``-->``, ``|`` lines)."""
    parts: list[str] = []
    for raw in stderr.splitlines():
        line = raw.strip().lstrip("╰▻").strip()
        if not line or line.startswith(_NOISE) or line.startswith(("-->", "|", "^")):
            continue
        if line[0].isdigit() and "|" in line[:6]:  # a code frame's numbered line
            continue
        if line not in parts:
            parts.append(line)
    text = "; ".join(parts)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _what(args: list[str]) -> str:
    """The subcommand and what it applies: the rule id or the pattern (for the message)."""
    if args[0] == "scan":
        text = args[args.index("--inline-rules") + 1] if "--inline-rules" in args else ""
        rid = next((ln.split(":", 1)[1].strip() for ln in text.splitlines()
                    if ln.startswith("id:")), "?")  # fmt: skip
        return f"scan (rule {rid})"
    pattern = args[args.index("--pattern") + 1] if "--pattern" in args else "?"
    return f"run (pattern {pattern!r})"


def _exit_text(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name} (exit {code})"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit {code}"


def _run(args: list[str], pre: str, language: str, limits: Limits | None) -> str:
    """Run ``ast-grep ARGS -U input.<ext>`` on ``pre`` in the sandbox; the file afterwards.

    ast-grep exits 0 when it applied its rewrites or found nothing to scan, and 1 with nothing
    on stderr when ``run`` matched nothing (like grep): those return the file. Any other exit,
    an exit 1 with a message (e.g. ``scan`` finding error-severity matches, or the sandbox's
    ``unshare`` failing), or an error or warning on stderr raise :class:`ActionApplyError`
    with one line: the subcommand, its rule id or pattern, the file, the exit and the tool's
    stderr (causes included).
    """
    name = file_name(language)
    lim = limits or LIMITS
    argv = [str(ast_grep_binary()), *args, "-U", name]
    result = run_sandboxed(argv, {name: pre}, limits=lim, read_back=[name])
    if result.timed_out:
        raise SandboxTimeout(f"ast-grep {_what(args)} on {name}: killed after {lim} (timeout)")
    err = result.stderr.strip()
    failed = (
        result.returncode not in (0, 1)
        or (result.returncode == 1 and bool(err))
        or "error" in err.lower()
    )
    if failed:
        said = stderr_line(err) or f"nothing on stderr (limits: {lim})"
        raise ActionApplyError(
            f"ast-grep {_what(args)} on {name}: {_exit_text(result.returncode)}: {said}"
        )
    if name not in result.files:
        raise ActionApplyError(f"ast-grep {_what(args)} on {name}: the input file vanished")
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
