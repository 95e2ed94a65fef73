"""The source files a Python stage runs: the module defining its ``run`` and every module of the
user's own code that it imports, directly or through another (the default code version).

A stage without ``code_files`` or ``version`` used to be versioned by the one file defining
``run``, so a change to a helper in another module left the stage skipped with outputs the new
code would not make (the issue users of Flyte, Prefect and DVC report). This module follows
imports statically, without importing anything:

- ``import a.b``, ``from a.b import c`` (``a/b/c.py`` when it is a module, else ``a/b``) and
  relative imports, at module level or inside functions, and the ``__init__.py`` of every
  package on the way (importing ``a.b`` runs ``a/__init__.py``);
- only into the **code base** of the start module: the folder that holds its top-level package
  (or the module itself, for a top-level module or a script run as ``__main__``). A name whose
  first part is a module or package in that folder is followed; anything else (the standard
  library, installed packages) is not. Where that folder is an installed-packages folder
  (``site-packages``, ``dist-packages``) or the standard library, only names of the start's
  own top-level package are followed.

``importlib.import_module("a.b")`` and ``__import__("a.b")`` with a literal name are followed
too; a name computed at run time cannot be seen: list such modules in ``code_files``. A file
that does not parse is hashed and not followed.
"""

from __future__ import annotations

import ast
import os
import sysconfig
from pathlib import Path

_IMPORTS: dict[tuple[str, int, int], tuple[tuple[int, str], ...]] = {}
"""(path, mtime_ns, size) -> the file's imports as (level, dotted name): parsed once a process."""
_IMPORTS_KEPT = 20_000
"""Entries :data:`_IMPORTS` holds before it starts afresh (a long-lived process)."""


def _imports(path: Path) -> tuple[tuple[int, str], ...]:
    """(relative level, dotted name) of every import in ``path``; ``from m import x`` gives
    both ``m.x`` and ``m`` (which of them is a module is decided when resolving). Nothing for
    a file that cannot be read or parsed."""
    try:
        st = path.stat()
        key = (str(path), st.st_mtime_ns, st.st_size)
        if key in _IMPORTS:
            return _IMPORTS[key]
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        return ()
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((0, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            for alias in node.names:
                if alias.name != "*":
                    found.append((node.level, f"{base}.{alias.name}" if base else alias.name))
            found.append((node.level, base))
        elif isinstance(node, ast.Call) and _imports_by_name(node):
            found.append((0, node.args[0].value))  # type: ignore[attr-defined]
    out = tuple(found)
    if len(_IMPORTS) >= _IMPORTS_KEPT:
        _IMPORTS.clear()
    _IMPORTS[key] = out
    return out


def _imports_by_name(call: ast.Call) -> bool:
    """``importlib.import_module("a.b")``, ``import_module("a.b")`` or ``__import__("a.b")``
    with a literal absolute name (a name computed at run time cannot be read)."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    first = call.args[0] if call.args else None
    return (
        name in ("import_module", "__import__")
        and isinstance(first, ast.Constant)
        and isinstance(first.value, str)
        and first.value.replace(".", "").replace("_", "").isalnum()
        and not first.value.startswith(".")
    )


def _is_dir(path: Path) -> bool:
    return os.path.isdir(path)  # False on any error (a name too long, no permission)


def _is_file(path: Path) -> bool:
    return os.path.isfile(path)


def _installed_or_stdlib(folder: Path) -> bool:
    """Whether ``folder`` holds installed packages or the standard library (not user code)."""
    if folder.name in ("site-packages", "dist-packages"):
        return True
    paths = sysconfig.get_paths()
    stdlib = {os.path.realpath(paths[k]) for k in ("stdlib", "platstdlib") if k in paths}
    return os.path.realpath(folder) in stdlib


class _CodeBase:
    """Where the start module's code lives, and how dotted names map to its files.

    Paths stay as Python finds them (absolute, links not resolved): a module reached through a
    symlinked file or package imports what lies beside the link."""

    def __init__(self, module_name: str, module_file: Path) -> None:
        file = Path(os.path.abspath(module_file))
        parts = [] if module_name == "__main__" else module_name.split(".")
        if not parts:  # a script run as __main__: a top-level module named after its file
            parts = [file.stem]
        # a dotted name deeper than the file's folders (a module loaded under a made-up name)
        # stops at the file system's root
        up = min(len(parts) - 1 + (file.name == "__init__.py"), len(file.parents) - 1)
        self.root = file.parents[up]
        self.top = parts[0]
        self.own_only = _installed_or_stdlib(self.root)

    def follows(self, name: str) -> bool:
        first = name.split(".", 1)[0]
        if not first:
            return False
        if self.own_only:
            return first == self.top
        return _is_dir(self.root / first) or _is_file(self.root / f"{first}.py")

    def files_of(self, name: str) -> list[Path]:
        """The module's file and its packages' ``__init__.py``, as Python would run them (a
        package before a module of the same name); the packages alone where the last part is
        no source file here (a namespace folder, an extension module); empty where a package
        on the way is missing."""
        parts = name.split(".")
        out: list[Path] = []
        folder = self.root
        for i, part in enumerate(parts):
            pkg_init = folder / part / "__init__.py"
            if i == len(parts) - 1:
                if _is_file(pkg_init):
                    return [*out, pkg_init]
                module = folder / f"{part}.py"
                return [*out, module] if _is_file(module) else out
            if _is_file(pkg_init):
                out.append(pkg_init)
            elif not _is_dir(folder / part):
                return []
            folder = folder / part
        return out

    def package_of(self, file: Path) -> list[str] | None:
        """The dotted package ``file`` belongs to, as parts (for relative imports); None for a
        file outside the code base."""
        try:
            return list(file.relative_to(self.root).with_suffix("").parts[:-1])
        except ValueError:
            return None


def module_closure(module_name: str, module_file: Path) -> list[Path]:
    """The start module's file and every file of its code base it imports, directly or not
    (module docstring), sorted. Never raises for what it reads: a file it cannot read or parse
    is listed and not followed."""
    base = _CodeBase(module_name, Path(module_file))
    start = Path(os.path.abspath(module_file))
    seen: dict[str, Path] = {}  # real path -> the path Python finds it by
    todo = [start]
    while todo:
        file = todo.pop()
        real = os.path.realpath(file)
        if real in seen:
            continue
        seen[real] = file
        package = base.package_of(file)
        if package is None:
            continue
        for level, name in _imports(file):
            if level:
                if level > len(package):  # above the top package: Python refuses it
                    continue
                anchor = package[: len(package) - (level - 1)]
                name = ".".join([*anchor, name] if name else anchor)
            if not name or not base.follows(name):
                continue
            todo.extend(
                found for found in base.files_of(name) if os.path.realpath(found) not in seen
            )
    return sorted(seen.values())
