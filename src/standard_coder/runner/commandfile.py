"""Command pipelines: a TOML file with ``[[stages]]`` tables becomes a :class:`Pipeline`.

```toml
[outputs]
base_dir = "sc-output"          # relative to this file
[params]
train = { epochs = 3 }
[[stages]]
name = "train"
cmd = ["python", "train.py"]    # or a string, split with shlex (never a shell)
deps = ["train.py", "out/features.json"]
outs = ["out/model.json"]
params = ["train.epochs"]       # dotted keys into [params]
settings = ["train.save_every"] # read from SC_SETTINGS_JSON; changing one reruns nothing
after = ["featurize"]           # ordering only (a dep on another stage's out implies it)
```

Validation is hand-written (no pydantic on the no-op path); every error names the file, the
stage and the key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from standard_coder.runner.command import CommandStage, split_command
from standard_coder.runner.errors import PipelineDefinitionError
from standard_coder.runner.layout import read_outputs
from standard_coder.runner.noop import command_version
from standard_coder.runner.stage import Pipeline, Stage
from standard_coder.runner.suggest import did_you_mean

TOP_KEYS = {"pipeline", "outputs", "runner", "params", "stages", "cache"}
SECTION_KEYS = {
    "pipeline": {"name", "description"},
    "outputs": {"base_dir", "retention_days"},
    "runner": {"seed", "device", "workers", "stop_grace_s", "precision", "executor", "dask"},
}
STAGE_KEYS = {"name", "cmd", "deps", "outs", "params", "settings", "after", "description", "env"}
SCRIPT_SUFFIXES = {".py", ".sh", ".bash", ".r", ".R", ".jl", ".pl", ".rb", ".js", ".ts"}


def _scripts(
    deps: list[Path], argv: list[str], root: Path, produced: Mapping[Path, str]
) -> tuple[set[Path], set[Path]]:
    """The files a command's code version reads, and the folders its Python scripts import
    from. The files: its deps that are scripts (by suffix, or named in ``cmd``), the scripts
    ``cmd`` names that exist in the file's folder (``python train.py``), and for a Python script
    every module of its own folder it imports, directly or not (``from helpers import f``;
    :func:`~standard_coder.runner.codeclosure.module_closure`, as a script run as
    ``__main__``). A script a stage writes (``produced``) is no code of the file's: it may not
    exist when the file is read, and as a dep it is an input."""
    named = [p for p in deps if Path(p).suffix in SCRIPT_SUFFIXES or str(p) in argv]
    named += [root / w for w in argv[1:] if Path(w).suffix in SCRIPT_SUFFIXES]
    found = {Path(os.path.normpath(p)) for p in named if os.path.isfile(p) or p in deps}
    python = [p for p in found if p.suffix == ".py" and p not in produced and os.path.isfile(p)]
    if python:
        from standard_coder.runner.codeclosure import module_closure  # ast: only when needed

        for script in python:
            found.update(Path(os.path.normpath(f)) for f in module_closure("__main__", script))
    found -= set(produced)  # a script or module a stage writes: an input, not code of the file
    # every folder the imports were read in (a package's too): a module added to one may join
    return found, {p.parent for p in found if p.suffix == ".py"}


def is_command_pipeline(data: Mapping[str, Any]) -> bool:
    """A file with ``[[stages]]`` tables is a command pipeline."""
    return "stages" in data


def _fail(source: Path, where: str, message: str) -> PipelineDefinitionError:
    return PipelineDefinitionError(f"{source}: {where}: {message}")


def _str_list(value: Any, source: Path, where: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(source, where, "expected a list of strings")
    return list(value)


def _lookup(params: Mapping[str, Any], dotted: str) -> tuple[bool, Any]:
    node: Any = params
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _leaf_keys(params: Mapping[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key, value in params.items():
        if isinstance(value, Mapping):
            out.extend(_leaf_keys(value, f"{prefix}{key}."))
        else:
            out.append(f"{prefix}{key}")
    return out


def _check_table_override(
    key: str, old: Mapping[str, Any], new: Any, source: Path, read: set[str]
) -> None:
    """A ``--set`` of a whole table must keep the keys stages list one by one (``read``:
    ``train.lr``; a stage that reads the whole table takes what it is given): one that drops
    such a key is refused naming it and the one-key form."""
    kept = set(_leaf_keys(new)) if isinstance(new, Mapping) else set()
    table = key.removeprefix("params.")
    dropped = [
        k for k in _leaf_keys(old)
        if k not in kept and any(
            r == f"{table}.{k}" or r.startswith(f"{table}.{k}.")  # the leaf, or below it
            or (r.startswith(f"{table}.") and f"{table}.{k}".startswith(f"{r}."))  # a sub-table
            for r in read
        )
    ]  # fmt: skip
    if dropped:
        one = next(iter(_leaf_keys(new)), None) if isinstance(new, Mapping) else None
        how = f" (--set {key}.{one}=...)" if one else ""
        raise PipelineDefinitionError(
            f"{source}: --set {key}: replaces the whole table and drops {key}.{dropped[0]}"
            f"{' and more' if len(dropped) > 1 else ''}, which stages read: set its keys one "
            f"at a time{how}"
        )


def _params_read(data: Mapping[str, Any]) -> set[str]:
    """The ``[params]`` keys the file's stages list (``train.lr``, or a whole ``train``)."""
    stages = data.get("stages", [])
    out: set[str] = set()
    for stage in stages if isinstance(stages, list) else []:
        for field in ("params", "settings"):
            listed = stage.get(field, []) if isinstance(stage, Mapping) else []
            out.update(str(k) for k in listed if isinstance(k, str))
    return out


def check_overrides(data: Mapping[str, Any], overrides: Sequence[str], source: Path) -> None:
    """``--set`` keys must name an existing ``[params]`` key or a known section key.

    Raises:
        PipelineDefinitionError: the key is unknown (the message names it).
    """
    if not overrides:
        return
    from standard_coder.runner.overrides import OverrideError, parse_override

    for text in overrides:
        try:
            parts, value = parse_override(text)
        except OverrideError as exc:
            raise PipelineDefinitionError(str(exc)) from None
        key = ".".join(parts)
        settable = ["params." + k for k in _leaf_keys(data.get("params", {}))]
        if parts[0] == "params":
            found, old = _lookup(data.get("params", {}), ".".join(parts[1:]))
            if len(parts) > 1 and found and isinstance(old, Mapping):
                _check_table_override(key, old, value, source, _params_read(data))
            if len(parts) > 1 and found:
                continue
            raise PipelineDefinitionError(
                f"{source}: --set {key}: unknown key{did_you_mean(key, settable)} "
                f"(valid params: {', '.join(settable) or 'none'})"
            )
        if parts[0] in SECTION_KEYS and len(parts) == 2 and parts[1] in SECTION_KEYS[parts[0]]:
            continue
        if _lookup(data.get("params", {}), key)[0]:  # a stage's param, as its reasons once named it
            hint = f"; did you mean 'params.{key}'? ([params] keys are set as params.KEY)"
        else:
            sections = [f"{t}.{k}" for t, keys in SECTION_KEYS.items() for k in sorted(keys)]
            hint = did_you_mean(key, settable + sections)
        raise PipelineDefinitionError(f"{source}: --set {key}: unknown key{hint}")


def load_command_pipeline(
    data: Mapping[str, Any], source: Path, overrides: Sequence[str] = ()
) -> Pipeline:
    """Validate a parsed command-pipeline file and build its :class:`Pipeline`.

    Args:
        data: the parsed TOML.
        source: the file (relative paths are taken from its folder; named in errors).
        overrides: ``--set key.path=value`` (validated against the file first).

    Raises:
        PipelineDefinitionError: unknown key, missing ``cmd``, duplicate stage, unknown param
            key, unknown or cyclic ``after``.
    """
    source = Path(source).resolve()
    root = source.parent
    check_overrides(data, overrides, source)
    if overrides:
        import copy

        from standard_coder.runner.overrides import apply_overrides

        data = apply_overrides(copy.deepcopy(dict(data)), list(overrides))
    for key in data:
        if key not in TOP_KEYS:
            raise _fail(source, key, f"unknown key{did_you_mean(key, sorted(TOP_KEYS))} "
                        f"(valid keys: {', '.join(sorted(TOP_KEYS))})")  # fmt: skip
    for section, allowed in SECTION_KEYS.items():
        table = data.get(section, {})
        if not isinstance(table, Mapping):
            raise _fail(source, section, "expected a table")
        for key in table:
            if key not in allowed:
                raise _fail(
                    source,
                    f"{section}.{key}",
                    f"unknown key{did_you_mean(key, sorted(allowed))} "
                    f"(valid: {', '.join(sorted(allowed))})",
                )
    if "entry" in data.get("pipeline", {}):
        raise _fail(source, "pipeline.entry", "a command pipeline cannot also name an entry")
    params = data.get("params", {})
    if not isinstance(params, Mapping):
        raise _fail(source, "params", "expected a table")
    runner = data.get("runner", {})
    stop_grace = runner.get("stop_grace_s", 10.0)
    if not isinstance(stop_grace, int | float) or stop_grace <= 0:
        raise _fail(source, "runner.stop_grace_s", "expected a positive number")
    raw_stages = data["stages"]
    if not isinstance(raw_stages, list) or not raw_stages:
        raise _fail(source, "stages", "expected one or more [[stages]] tables")

    defs: list[dict[str, Any]] = []
    names: list[str] = []
    for i, raw in enumerate(raw_stages):
        if not isinstance(raw, Mapping):
            raise _fail(source, f"stages[{i}]", "expected a table")
        name = raw.get("name")
        label = f"stage {name!r}" if isinstance(name, str) else f"stages[{i}]"
        if not isinstance(name, str) or not name:
            raise _fail(source, f"{label}: name", "missing or not a string")
        for key in raw:
            if key not in STAGE_KEYS:
                raise _fail(
                    source,
                    f"{label}: {key}",
                    f"unknown key{did_you_mean(key, sorted(STAGE_KEYS))} "
                    f"(valid: {', '.join(sorted(STAGE_KEYS))})",
                )
        if name in names:
            raise _fail(source, f"{label}: name", "duplicate stage name")
        if "cmd" not in raw:
            raise _fail(source, f"{label}: cmd", "missing")
        cmd = raw["cmd"]
        if not (
            isinstance(cmd, str) or (isinstance(cmd, list) and all(isinstance(c, str) for c in cmd))
        ):
            raise _fail(source, f"{label}: cmd", "expected a string or a list of strings")
        try:
            argv = split_command(cmd)
        except ValueError as exc:
            raise _fail(source, f"{label}: cmd", str(exc)) from None
        stage_params = _listed_params(raw, "params", params, source, label)
        settings = _listed_params(raw, "settings", params, source, label)
        both = sorted(set(stage_params) & set(settings))
        if both:
            raise _fail(source, f"{label}: settings", f"{both[0]!r} is also in params: a key "
                        "either reruns the stage (params) or does not (settings)")  # fmt: skip
        env = raw.get("env", {})
        if not isinstance(env, Mapping) or not all(isinstance(v, str) for v in env.values()):
            raise _fail(source, f"{label}: env", "expected a table of strings")
        defs.append(
            {
                "name": name,
                "argv": argv,
                "deps": [
                    root / p for p in _str_list(raw.get("deps", []), source, f"{label}: deps")
                ],
                "outs": [
                    root / p for p in _str_list(raw.get("outs", []), source, f"{label}: outs")
                ],
                "after": _str_list(raw.get("after", []), source, f"{label}: after"),
                "params": stage_params,
                "settings": settings,
                "env": dict(env),
                "description": str(raw.get("description", "")),
            }
        )
        names.append(name)

    produced = {Path(o): d["name"] for d in defs for o in d["outs"]}
    upstream: dict[str, list[str]] = {}
    for d in defs:
        ups: list[str] = []
        for a in d["after"]:
            if a not in names:
                raise _fail(
                    source,
                    f"stage {d['name']!r}: after",
                    f"unknown stage {a!r}{did_you_mean(a, names)} (valid: {', '.join(names)})",
                )
            if a == d["name"]:
                raise _fail(source, f"stage {d['name']!r}: after", "a stage cannot follow itself")
            ups.append(a)
        for p in d["deps"]:
            owner = produced.get(Path(p))
            if owner and owner != d["name"] and owner not in ups:
                ups.append(owner)
        upstream[d["name"]] = ups
    order = _topological(names, upstream, source)
    by_name = {d["name"]: d for d in defs}
    stages = []
    for name in order:
        d = by_name[name]
        outs = {Path(os.path.normpath(p)): n for p, n in produced.items()}
        scripts, folders = _scripts(d["deps"], d["argv"], root, outs)
        version_files = [str(p) for p in sorted(scripts)]
        run = CommandStage(d["argv"], cwd=root, stop_grace_s=float(stop_grace), env=d["env"])
        run.version_files = tuple(version_files)
        run.code_folders = tuple(str(f) for f in sorted(folders))
        inputs = [p for p in d["deps"] if produced.get(Path(p)) is None]
        # of the upstream stages' outs, the ones it lists are its inputs: `after` only orders
        reads = [p for p in d["deps"] if produced.get(Path(p)) not in (None, name)]
        stages.append(
            Stage(
                name=name,
                run=run,
                deps=tuple(upstream[name]),
                inputs=tuple(inputs),
                reads=tuple(reads),
                params=d["params"],
                settings=d["settings"],
                # set with --set params.KEY: the rerun reason names it so
                param_labels={k: f"params.{k}" for k in d["params"]},
                outputs=tuple(d["outs"]),
                version=command_version(list(d["argv"]), version_files),
                description=d["description"],
            )
        )
    try:
        base = read_outputs(data, source).base_dir
    except ValueError as exc:
        raise PipelineDefinitionError(str(exc)) from None
    return Pipeline(
        name=str(data.get("pipeline", {}).get("name", source.stem)),
        stages=tuple(stages),
        base_dir=base,
        seed=int(runner.get("seed", 0)),
        device=str(runner.get("device", "auto")),
        workers=int(runner.get("workers", 1)),
        stop_grace_s=float(stop_grace),
        config=dict(data),
    )


def _listed_params(
    raw: Mapping[str, Any], field: str, params: Mapping[str, Any], source: Path, label: str
) -> dict[str, Any]:
    """The ``[params]`` values a stage lists under ``field`` (``params`` or ``settings``),
    by dotted key; an unknown key is refused naming it."""
    out: dict[str, Any] = {}
    for key in _str_list(raw.get(field, []), source, f"{label}: {field}"):
        found, value = _lookup(params, key)
        if not found:
            leaves = _leaf_keys(params)
            raise _fail(
                source,
                f"{label}: {field}",
                f"unknown param key {key!r}{did_you_mean(key, leaves)} "
                f"(valid: {', '.join(leaves) or 'none'})",
            )
        out[key] = value
    return out


def _topological(names: list[str], upstream: Mapping[str, list[str]], source: Path) -> list[str]:
    order: list[str] = []
    placed: set[str] = set()
    remaining = list(names)
    while remaining:
        for name in remaining:
            if all(u in placed for u in upstream[name]):
                order.append(name)
                placed.add(name)
                remaining.remove(name)
                break
        else:
            raise _fail(
                source, "stages", f"cycle in 'after'/deps among stages: {', '.join(remaining)}"
            )
    return order
