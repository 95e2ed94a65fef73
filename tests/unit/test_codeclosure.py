"""A Python stage's default code version: its module and the user code it imports (real files)."""

from __future__ import annotations

import sys
from pathlib import Path

from standard_coder.runner.codeclosure import module_closure


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _names(root: Path, files: list[Path]) -> list[str]:
    return sorted(p.relative_to(root.resolve()).as_posix() for p in files)


def test_a_package_module_brings_what_it_imports_of_its_code_base(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "proj/__init__.py": "",
            "proj/stages.py": (
                "import json\n"
                "from . import util\n"
                "from .models import net\n"
                "import proj.data.load as load\n"
                "def run(ctx):\n"
                "    from proj.late import thing  # inside a function\n"
                "    from shared import helpers\n"
                "    importlib.import_module('proj.plugins.fast')\n"
                "    importlib.import_module(f'proj.plugins.{ctx}')  # computed: unseen\n"
            ),
            "proj/plugins/__init__.py": "",
            "proj/plugins/fast.py": "",
            "proj/plugins/slow.py": "",
            "proj/util.py": "from ..outside import x\n",  # above the top package: ignored
            "proj/models/__init__.py": "",
            "proj/models/net.py": "from proj.models import layers\n",
            "proj/models/layers.py": "import numpy\n",
            "proj/data/__init__.py": "from .formats import csv_reader\n",
            "proj/data/load.py": "",
            "proj/data/formats.py": "",
            "proj/late.py": "def thing(): ...\n",
            "proj/unused.py": "raise SystemExit\n",
            "shared/__init__.py": "",
            "shared/helpers.py": "from shared.broken import y\n",
            "shared/broken.py": "def (:\n",  # does not parse: hashed, not followed
        },
    )
    got = module_closure("proj.stages", tmp_path / "proj" / "stages.py")
    assert _names(tmp_path, got) == [
        "proj/__init__.py",
        "proj/data/__init__.py",
        "proj/data/formats.py",
        "proj/data/load.py",
        "proj/late.py",
        "proj/models/__init__.py",
        "proj/models/layers.py",
        "proj/models/net.py",
        "proj/plugins/__init__.py",
        "proj/plugins/fast.py",
        "proj/stages.py",
        "proj/util.py",
        "shared/__init__.py",
        "shared/broken.py",
        "shared/helpers.py",
    ]


def test_a_script_and_its_sibling_modules(tmp_path: Path) -> None:
    """A top-level module, or the same file run as ``__main__``, follows the modules beside it
    and never the standard library's or an installed package's."""
    _write(
        tmp_path,
        {
            "pipeline.py": "import os, steps\nfrom numpy import array\n",
            "steps.py": "import json\nfrom lib.core import f\n",
            "lib/__init__.py": "",
            "lib/core.py": "",
            "other.py": "",
        },
    )
    want = ["lib/__init__.py", "lib/core.py", "pipeline.py", "steps.py"]
    assert _names(tmp_path, module_closure("pipeline", tmp_path / "pipeline.py")) == want
    assert _names(tmp_path, module_closure("__main__", tmp_path / "pipeline.py")) == want


def test_installed_code_follows_its_own_package_only(tmp_path: Path) -> None:
    site = tmp_path / "lib" / "site-packages"
    _write(
        site,
        {
            "mine/__init__.py": "",
            "mine/stage.py": "import numpy\nfrom mine import helper\n",
            "mine/helper.py": "import requests\n",
            "numpy/__init__.py": "",
            "requests/__init__.py": "",
        },
    )
    got = module_closure("mine.stage", site / "mine" / "stage.py")
    assert _names(site, got) == ["mine/__init__.py", "mine/helper.py", "mine/stage.py"]
    json_file = Path(sys.modules["json"].__file__ or "")
    assert module_closure("json", json_file) != []  # the standard library: its own package
    assert all("site-packages" not in str(p) for p in module_closure("json", json_file))


def test_odd_trees_are_read_as_python_imports_them_and_never_raise(tmp_path: Path) -> None:
    """A package wins over a module of the same name, a namespace sub-folder still runs its
    parent's ``__init__.py``, a module reached through a symlink imports what lies beside the
    link, and an unreadable name, a huge expression or a name above the top package are
    skipped, not raised (review of session 51)."""
    _write(
        tmp_path,
        {
            "app/run.py": (
                "import foo, pkg.ns, helpers\n"
                "import importlib\n"
                f"importlib.import_module('{'a' * 300}')\n"
            ),
            "app/foo.py": "",
            "app/foo/__init__.py": "from . import bar\n",
            "app/foo/bar.py": "",
            "app/pkg/__init__.py": "",
            "app/pkg/ns/data.txt": "",
            "app/helpers.py": "",
            "app/deep.py": "x = " + "+".join(["1"] * 100_000) + "\n",
            "real/linked.py": "import helpers\nfrom .. import nothing\n",
        },
    )
    (tmp_path / "app" / "linked.py").symlink_to(tmp_path / "real" / "linked.py")
    got = module_closure("run", tmp_path / "app" / "run.py")
    want = "app/foo/__init__.py app/foo/bar.py app/helpers.py app/pkg/__init__.py app/run.py"
    assert _names(tmp_path, got) == want.split()
    linked = module_closure("linked", tmp_path / "app" / "linked.py")
    assert _names(tmp_path, linked) == ["app/helpers.py", "app/linked.py"]
    assert _names(tmp_path, module_closure("deep", tmp_path / "app" / "deep.py")) == ["app/deep.py"]
