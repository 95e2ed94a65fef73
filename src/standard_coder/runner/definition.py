"""A pipeline's definition as the engine sees it: validation, and each stage's resolved view.

:func:`validate_pipeline` checks names, deps and output ownership; :class:`StageView` resolves a
stage's inputs (its deps' outputs, files, git repositories), outputs, params and code version
once per run; :class:`LazyDevice` resolves the torch device on first use only.
:func:`upstream_reads` is the one place that says which of its deps' outputs a stage reads.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from standard_coder.runner.decision import PathSpec
from standard_coder.runner.errors import PipelineDefinitionError
from standard_coder.runner.fingerprint import code_version as hash_code
from standard_coder.runner.paramvalues import json_default, param_problem
from standard_coder.runner.stage import Pipeline, Stage
from standard_coder.runner.suggest import did_you_mean

log = logging.getLogger("standard_coder.runner")

_NAME_OK = set("abcdefghijklmnopqrstuvwxyz0123456789_-")


def validate_pipeline(pipeline: Pipeline) -> None:
    """Check names, dependencies, canonical order and params (:mod:`.paramvalues`).

    Raises:
        PipelineDefinitionError: bad or duplicate name, unknown dep, a dep listed later, an
            output of two stages, or a ``reads`` path that is no output of the stage's deps.
    """
    base = Path(pipeline.base_dir)
    if base.exists() and not base.is_dir():  # not "move it away": it may be the user's input
        raise PipelineDefinitionError(
            f"the output folder {base} is a file: set base_dir ([outputs] base_dir in a "
            "pipeline file) to a folder"
        )
    seen: dict[str, Stage] = {}
    places = _OutputPlaces(base)
    for stage in pipeline.stages:
        if not stage.name or not set(stage.name) <= _NAME_OK:
            raise PipelineDefinitionError(
                f"stage {stage.name!r}: name must use only a-z, 0-9, '_' and '-'"
            )
        if stage.name in seen:
            raise PipelineDefinitionError(f"stage {stage.name!r}: duplicate stage name")
        if stage.name in stage.deps:
            raise PipelineDefinitionError(
                f"stage {stage.name!r}: lists itself as a dep; a stage cannot depend on itself"
            )
        for dep in stage.deps:
            if dep not in seen:
                names = [s.name for s in pipeline.stages if s.name != stage.name]
                where = (
                    f"an unknown stage{did_you_mean(dep, names)}"
                    if dep not in names
                    else (
                        f"listed after it: list {dep!r} before {stage.name!r} in "
                        "Pipeline.stages (or remove the cycle)"
                    )
                )
                raise PipelineDefinitionError(f"stage {stage.name!r}: dep {dep!r} is {where}")
        for out in stage.outputs:
            places.check(stage, Path(out))
        _check_reads(stage, seen)
        _check_keys(stage, seen)
        for field_name in ("params", "settings"):
            bad = param_problem(getattr(stage, field_name))
            if bad is not None:
                raise PipelineDefinitionError(
                    f"stage {stage.name!r}: {field_name}.{bad[0]}: {bad[1]}"
                )
        seen[stage.name] = stage


RUNNER_FOLDERS = ("runs", "stages", "checkpoints", "cache", "logs", "quarantine")
"""The runner's own folders under the base folder (:class:`.layout.RunnerLayout`)."""


def _norm(path: Path) -> Path:
    """``path`` absolute and without ``..`` or ``.`` parts (no file system look-up)."""
    return Path(os.path.abspath(path))


class _OutputPlaces:
    """Checks that each output is outside the runner's own state (and does not hold it), is
    not one of its stage's inputs (nor holds one, nor lies in one), and does not hold or lie
    inside another stage's output: each made the stage rerun on every run or fail only once it
    ran. Paths are compared normalised; sets keep it linear in the number of outputs."""

    def __init__(self, base: Path) -> None:
        self.base = _norm(base)
        self.state = {self.base / f for f in RUNNER_FOLDERS}
        self.outputs: dict[Path, tuple[str, Path]] = {}  # normalised -> (stage, as given)
        self.holders: dict[Path, list[Path]] = {}  # a folder above outputs -> those outputs

    def check(self, stage: Stage, given: Path) -> None:
        out = _norm(given)
        parents = set(out.parents)
        if out == self.base or out in self.state or parents & self.state:
            inside = next(iter(parents & self.state), None)
            where = "is the output folder" if out == self.base else f"is inside {inside or out}"
            raise PipelineDefinitionError(
                f"stage {stage.name!r}: output {given} {where}, the runner's own state: choose "
                "a path outside it"
            )
        if out in self.base.parents:
            raise PipelineDefinitionError(
                f"stage {stage.name!r}: output {given} holds the output folder {self.base}, the "
                "runner's own state: it changes on every run; choose a path beside it"
            )
        for path in stage.inputs:
            inp = _norm(Path(path))
            if inp == out or out in inp.parents or inp in parents:
                raise PipelineDefinitionError(
                    f"stage {stage.name!r}: {given} is an output and {path} an input of it: a "
                    "stage that writes what it reads changes its own input every run; write "
                    "elsewhere"
                )
        if out in self.outputs:
            name, other_given = self.outputs[out]
            raise PipelineDefinitionError(
                f"stage {stage.name!r}: output {given} is also an output of stage {name!r}"
                + (f" (as {other_given})" if other_given != given else "")
            )
        outers = [p for p in out.parents if p in self.outputs]
        for other in [*outers, *self.holders.get(out, [])]:
            name, other_given = self.outputs[other]
            if name == stage.name:
                continue  # a stage's folder and a file in it: its own to declare
            held, holder = (given, other_given) if other in outers else (other_given, given)
            raise PipelineDefinitionError(
                f"stage {stage.name!r}: output {given} and stage {name!r}'s output "
                f"{other_given} nest ({held} is inside {holder}): give each stage its own path"
            )
        self.outputs[out] = (stage.name, given)
        for parent in parents:
            self.holders.setdefault(parent, []).append(out)


def _check_reads(stage: Stage, seen: Mapping[str, Stage]) -> None:
    """Every ``reads`` path of ``stage`` is an output of one of its deps, or inside one."""
    made = [o for dep in stage.deps for o in seen[dep].outputs]
    for path in stage.reads or ():
        if _holder(Path(path), made) is None:
            deps = ", ".join(repr(d) for d in stage.deps)
            where = f"of its deps ({deps}) nor inside one" if deps else "of a dep: it has no deps"
            raise PipelineDefinitionError(
                f"stage {stage.name!r}: reads {path}, which is no output {where}"
            )


def _check_keys(stage: Stage, seen: Mapping[str, Stage]) -> None:
    """Every ``input_keys`` input is an input of ``stage`` and its key another output of the
    dep (one ``stage`` reads) that writes the input: a key of one stage cannot stand for what
    another stage, or the user, writes."""
    reads = upstream_reads(stage, seen)
    read = [p for paths in reads.values() for p in paths]
    inputs = {Path(p) for p in (*stage.inputs, *read)}
    for path, key in stage.input_keys.items():
        if Path(path) not in inputs:
            raise PipelineDefinitionError(
                f"stage {stage.name!r}: input_keys names {path}, which is none of its inputs "
                "(named_inputs, or an output of a dep it reads)"
            )
        writers = [dep for dep, paths in reads.items() if Path(key) in paths]
        made = writers and _holder(Path(path), seen[writers[0]].outputs) is not None
        if not made or Path(key) == Path(path):
            raise PipelineDefinitionError(
                f"stage {stage.name!r}: input_keys gives {path} the key {key}, which is no "
                "other output of the dep it reads that writes the input: the stage that writes "
                "the input writes its key"
            )


def _holder(path: Path, outputs: Iterable[Path]) -> Path | None:
    """The output among ``outputs`` that is ``path`` or a folder holding it (None: none)."""
    for out in outputs:
        if path == Path(out) or Path(out) in path.parents:
            return Path(out)
    return None


def upstream_reads(stage: Stage, by_name: Mapping[str, Stage]) -> dict[str, list[Path]]:
    """Dep name -> what ``stage`` reads of that dep's outputs (every dep is a key).

    With ``stage.reads`` None: all the dep's outputs but its ``private_outputs``; else the
    ``reads`` paths that are the dep's outputs or inside them (an empty list: the dep only
    orders the stage). These paths, and only these, are the stage's inputs through its deps.
    """
    out: dict[str, list[Path]] = {}
    for dep in stage.deps:
        upstream = by_name[dep]
        if stage.reads is None:
            out[dep] = [Path(o) for o in upstream.outputs if o not in upstream.private_outputs]
        else:
            held = (Path(p) for p in stage.reads)
            out[dep] = [p for p in held if _holder(p, upstream.outputs) is not None]
    return out


def display_name(path: Path, root: Path) -> str:
    """``path`` relative to the pipeline root (as manifests and events name it)."""
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return str(path)


RUN_KEY = "run: "
"""How the code index names the function a stage runs (``run: steps.evaluate``)."""


def run_name(run: object) -> str:
    """``module.qualname`` of a stage's function (a callable object's class); a
    ``functools.partial``'s function with its bound arguments, ``steps.train(lr=0.5)``:
    each by its JSON text when it has a faithful one (as params), else by its type
    (``<Tokenizer>``: an object's text holds a memory address that changes every run)."""
    target = _unwrap(run)
    target = target if hasattr(target, "__qualname__") else type(target)
    module = getattr(target, "__module__", "") or ""
    if module.startswith("_sc_entry_"):  # a pipeline file's (runner.entry): named by the file
        source = getattr(sys.modules.get(module), "__file__", None)
        module = Path(source).name if source else module
    return f"{module}.{getattr(target, '__qualname__', '?')}{_bound_text(run)}"


def _bound_text(run: object) -> str:
    """``(0.1, lr=0.5)``: the arguments a (nested) ``functools.partial`` binds, innermost
    first as the call receives them; empty for anything else."""
    import functools

    args: list[object] = []
    keywords: dict[str, object] = {}
    while isinstance(run, functools.partial):
        args[:0] = run.args  # an outer partial's positional arguments come after the inner's
        keywords = {**run.keywords, **keywords}  # the outer's keywords win
        run = run.func
    if not args and not keywords:
        return ""
    texts = [_argument_text(a) for a in args]
    texts += [f"{k}={_argument_text(v)}" for k, v in sorted(keywords.items())]
    return f"({', '.join(texts)})"


def _argument_text(value: object) -> str:
    """A bound argument's JSON text, or ``<Type>`` when it has no faithful JSON form."""
    if param_problem({"value": value}) is not None:
        return f"<{type(value).__name__}>"
    return json.dumps(value, sort_keys=True, default=json_default)


def _unwrap(run: object) -> object:
    """The function a ``functools.partial`` (nested or not) calls; anything else as it is."""
    import functools

    while isinstance(run, functools.partial):
        run = run.func
    return run


def _function_text(run: object) -> str:
    """The source text of a function that has no module file (defined in a notebook cell or
    by ``exec``), as ``inspect`` finds it (IPython keeps its cells for it), else its code's
    bytecode and constants; "" when neither is there (``functools.partial``: its function's)."""
    import inspect

    run = _unwrap(run)
    try:
        return inspect.getsource(run)  # type: ignore[arg-type]
    except (OSError, TypeError):
        code = getattr(run, "__code__", None)
        return _code_text(code) if code is not None else ""


def _code_text(code: Any) -> str:
    """A code object's bytecode, names and constants, nested functions' the same way (their
    ``repr`` holds a memory address, which differs from one process to the next)."""
    consts = [_code_text(c) if hasattr(c, "co_code") else repr(c) for c in code.co_consts]
    return repr((code.co_code, code.co_names, consts))


class StageView:
    """A stage's resolved inputs, outputs, code version and params.

    Attributes:
        reads_from: dep name -> the paths of its outputs this stage reads
            (:func:`upstream_reads`), as inputs are named.
        read_deps: the deps it reads something of, in ``deps`` order: a rerun of one of them
            may change its inputs, a rerun of another dep cannot.
    """

    def __init__(self, stage: Stage, pipeline: Pipeline, root: Path) -> None:
        by_name = {s.name: s for s in pipeline.stages}
        self.stage = stage
        self.reads_from = {
            dep: [PathSpec(display_name(p, root), p) for p in paths]
            for dep, paths in upstream_reads(stage, by_name).items()
        }
        self.read_deps = tuple(dep for dep, specs in self.reads_from.items() if specs)
        ins: dict[str, PathSpec] = {}
        for specs in self.reads_from.values():
            for spec in specs:
                ins[spec.name] = spec
        for path in stage.inputs:
            ins[display_name(path, root)] = PathSpec(display_name(path, root), Path(path))
        for repo in stage.git_inputs:
            name = "git:" + display_name(repo, root)
            ins[name] = PathSpec(name, Path(repo), git=True)
        for path, key in stage.input_keys.items():  # read through a key: its bytes are hashed
            name = display_name(Path(path), root)
            ins[name] = PathSpec(name, Path(path), key=Path(key))
            ins.pop(display_name(Path(key), root), None)  # counted as the input it stands for
        self.inputs = [ins[k] for k in sorted(ins)]
        self.outputs = [PathSpec(display_name(p, root), Path(p)) for p in stage.outputs]
        self.params = json.loads(json.dumps(dict(stage.params), default=json_default))
        self.settings = json.loads(json.dumps(dict(stage.settings), default=json_default))
        self.root = root
        self._code: str | None = None
        self._code_files: list[Path] = []

    @property
    def code_version(self) -> str:
        """``stage.version``, else the hash of ``code_files`` (default: the module of ``run``
        and the modules of its code base it imports, :func:`.codeclosure.module_closure`)."""
        if self._code is None:
            stage = self.stage
            if stage.version is not None:
                self._code = stage.version
            else:
                files = stage.code_files
                extra = ""
                if files is None:
                    # a partial's module is functools: the function it calls is the code
                    name = getattr(_unwrap(stage.run), "__module__", "") or ""
                    module = sys.modules.get(name)
                    source = getattr(module, "__file__", None)
                    # `python -m pkg.script` runs pkg/script.py as __main__: its real name
                    # places it in its package
                    name = getattr(getattr(module, "__spec__", None), "name", None) or name
                    from standard_coder.runner.codeclosure import module_closure  # ast: lazily

                    files = module_closure(name, Path(source)) if source else []
                    if not source:  # a notebook cell, exec'd code: the function's own text
                        extra = _function_text(stage.run)
                    else:  # which function of those files runs (a builder may switch it)
                        extra = RUN_KEY + run_name(stage.run)
                self._code_files = [Path(f) for f in files]
                self._code = hash_code(files, extra)
        return self._code

    def code_digests(self) -> dict[str, str]:
        """Each code file (named as inputs are) -> the sha256 of its bytes (``missing`` when
        unreadable): ``code_files`` or the default's, or a command stage's scripts; empty for
        another stage with an explicit ``version``. Only read to name the file behind ``code
        changed``."""
        _ = self.code_version
        scripts = getattr(self.stage.run, "version_files", ())  # a command stage's
        files = self._code_files or [Path(f) for f in scripts]
        out: dict[str, str] = {}
        if self._code_files and self.stage.code_files is None:  # the default: it names its run
            out[RUN_KEY + run_name(self.stage.run)] = "run"
        for path in files:
            try:
                out[display_name(path, self.root)] = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                out[display_name(path, self.root)] = "missing"
        return out


class LazyDevice:
    """The pipeline's device preference, resolved (with fallback) on the first call.

    With a ``cache_file`` (the base folder's ``cache/device.json``) a no-op rerun on a GPU
    machine reuses the answer torch gave last time instead of importing torch; a stage about
    to run calls :meth:`verified`, which asks torch when the answer was a stored one.
    """

    def __init__(
        self, preference: str, cache_file: Path | None = None, *, write_cache: bool = True
    ) -> None:
        self.preference = preference
        self.value: str | None = None
        self.fallback: str | None = None
        self.cache_file = cache_file
        self.write_cache = write_cache
        self._verified = False
        self._stored_name: str | None = None

    def __call__(self) -> str:
        if self.value is None:
            try:
                from standard_coder.runner.device import resolve_device_cached
            except ImportError:
                self.value = "cpu" if self.preference == "auto" else self.preference
                self._verified = True
            else:
                self.value, self.fallback, self._verified, self._stored_name = (
                    resolve_device_cached(self.preference, self.cache_file, write=self.write_cache)
                )
                if self.fallback:
                    log.warning("device: %s", self.fallback)
        return self.value

    def name(self) -> str | None:
        """The GPU's name stored with a cached CUDA answer while torch is not imported (the
        env stamp's ``device_name`` without importing torch on a no-op rerun), else None. It
        came with the answer: ``cache/device.json`` is read once."""
        if self._verified or self.value is None or "torch" in sys.modules:
            return None
        return self._stored_name

    def verified(self) -> str:
        """The device checked with torch now if it came from the cache (a stage will run)."""
        value = self()
        if not self._verified:
            from standard_coder.runner.device import machine_key, resolve_device, store_device

            device, reason = resolve_device(self.preference)
            self._verified = True
            if device != value:
                log.warning("device: %s now (it was %s when last checked)", device, value)
                self.value, self.fallback = device, reason
                if self.cache_file is not None and self.write_cache:
                    store_device(self.cache_file, machine_key(self.preference), device, reason)
        return self.value or value
