"""Stage and pipeline definitions: what to run, never how (the engine runs them).

A :class:`Stage` is pure data plus a ``run(ctx)`` callable. A :class:`Pipeline` is an
ordered list of stages (canonical order is a topological order of ``deps``).

Example:
    >>> def count(ctx: StageContext) -> None: ...
    >>> Stage(name="count", run=count, inputs=(Path("data"),), outputs=(Path("out/n.txt"),))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from standard_coder.runner.context import StageContext
    from standard_coder.runner.report.page import ReportSection


@dataclass(frozen=True)
class Stage:
    """One step of a pipeline.

    Attributes:
        name: unique stage name (``[a-z0-9_-]``).
        run: the work, ``run(ctx)``; raises to fail the stage.
        deps: names of upstream stages: they run first, and their outputs become this stage's
            inputs (all of them, or those named in ``reads``).
        inputs: files or folders whose content invalidates the stage (absolute paths).
        git_inputs: git repositories whose refs invalidate the stage (cheap: no history read).
        params: the config slice that must invalidate the stage (JSON-serialisable).
        settings: config the stage reads that cannot change its outputs (a checkpoint
            cadence): ``ctx.settings``, never in the fingerprint, so changing one reruns
            nothing, and a stage stopped part-way resumes its partial work under the new value.
            Only for what a resume-exact stage provably does not depend on (JSON-serialisable).
        outputs: files or folders the stage must produce (absolute paths).
        named_inputs: inputs the stage reads by name (``ctx.inputs["truth"]``); they join
            ``inputs`` (a path listed in both counts once).
        named_outputs: outputs the stage writes by name (``ctx.outputs["model"]``); they join
            ``outputs``.
        code_files: source files whose content is the code version (default: the module of
            ``run`` and every module of its code base it imports, directly or not:
            :func:`~standard_coder.runner.codeclosure.module_closure`).
        version: explicit code version; when set it replaces hashing ``code_files``.
        device_sensitive: include the selected device in the fingerprint.
        description: one line for ``status`` and the report.
        role: ``"data"``, ``"train"`` or ``"other"``: which Make data/training targets run it
            (``standard-coder stages``); None derives it from the graph (runner/roles.py).
        param_labels: what a param is called where the user sets it, for the rerun reason
            (``{"seed": "runner.seed"}``: ``params changed: runner.seed 5 -> 7``); names only
            what is shown, never the fingerprint.
        staged_outputs: ``ctx.outputs`` point beside the stage's partial work and replace the
            finished outputs only when it completes (:mod:`~standard_coder.runner.staging`):
            a run stopped under other params leaves the last completed outputs whole. Not for
            a stage that reads its own earlier outputs.
        private_outputs: outputs (among ``outputs``/``named_outputs``) that record how the run
            went rather than its result (wall time, the step it resumed from): checked, hashed
            and restored like the others, but not inputs of the stages downstream, so a rebuild
            with the same result reruns nothing after it. A stage that shows them (a report)
            names them in its own inputs.
        reads: the upstream outputs the stage reads, each an output of one of its ``deps`` or a
            file or folder inside one (``data/processed/test`` of a dep's ``data/processed``):
            of its deps' outputs, only these are its inputs, so a change to another (the train
            split, a coverage report) reruns nothing here. None (the default): every output of
            every dep but their ``private_outputs``; ``()``: none, the deps only order the
            stage. A path that is no dep's output is refused (``validate_pipeline``). A path in
            ``inputs``/``named_inputs`` is an input whatever ``reads`` says, so a stage that
            names its upstream folder there names the part it reads instead.
        requires: modules the stage imports that may be missing, each with how to install it
            (``{"faster_whisper": "pip install faster-whisper"}``): a run that selects the
            stage fails before any stage runs when one cannot be found.
        bad_inputs: what the pipeline found wrong with the stage's configured input when it
            was built, one line each naming it and the cause (``[repos] include_paths: /x: no
            such directory``): ``status`` and ``--dry-run`` show the selected stage as ``cannot
            run`` and exit 2. A run still runs the stage, which names them when it fails (it may
            do the rest of its work first: the mine mines the other repositories).
        input_keys: inputs the stage reads through a *key*, ``{input: key}``: the fingerprint
            covers the key's bytes in place of the input's, so a change to the input that leaves
            the key as it was reruns nothing here. The key is a small file the stage that
            writes the input writes beside it, a digest of every part of it this stage reads
            (the mine's database holds, besides the changes, which commits it has looked at: a
            commit touching no enabled language changes the file, not what training reads).
            Each input must be one of the stage's inputs and each key an output of one of its
            deps that it reads (``validate_pipeline``).
        invalid_inputs: a configured input the stage cannot run with at all (a sprint file that
            does not validate), one line each: a run that selects the stage refuses to start,
            exit 2, before any stage has run (not after the hours of the stages before it), and
            ``status`` shows ``cannot run``.
    """

    name: str
    run: Callable[[StageContext], None]
    deps: Sequence[str] = ()
    inputs: Sequence[Path] = ()
    git_inputs: Sequence[Path] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    outputs: Sequence[Path] = ()
    code_files: Sequence[Path] | None = None
    version: str | None = None
    device_sensitive: bool = False
    description: str = ""
    named_inputs: Mapping[str, Path] = field(default_factory=dict)
    named_outputs: Mapping[str, Path] = field(default_factory=dict)
    role: str | None = None
    param_labels: Mapping[str, str] = field(default_factory=dict)
    staged_outputs: bool = False
    requires: Mapping[str, str] = field(default_factory=dict)
    private_outputs: Sequence[Path] = ()
    bad_inputs: Sequence[str] = ()
    invalid_inputs: Sequence[str] = ()
    reads: Sequence[Path] | None = None
    input_keys: Mapping[Path, Path] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.role not in (None, "data", "train", "other"):
            raise ValueError(
                f"stage {self.name}: role {self.role!r}: expected data, train or other"
            )
        # The engine sees one list of inputs and one of outputs; names are for the stage.
        for plain, named in (("inputs", self.named_inputs), ("outputs", self.named_outputs)):
            paths = list(getattr(self, plain))
            paths += [p for p in named.values() if p not in paths]
            object.__setattr__(self, plain, tuple(paths))
        if self.reads is not None:
            object.__setattr__(self, "reads", tuple(self.reads))
        stray = [str(p) for p in self.private_outputs if p not in self.outputs]
        if stray:
            raise ValueError(
                f"stage {self.name}: private_outputs {', '.join(stray)} are not among its outputs"
            )


@dataclass(frozen=True)
class RunCacheSettings:
    """``[cache]``: the local store and the optional shared one.

    Attributes:
        dir: the local content-addressed store (objects and entries).
        remote: an fsspec URL shared between machines (None: local only).
        remote_options: fsspec storage options for ``remote`` (key file, endpoint, ...).
    """

    dir: Path
    remote: str | None = None
    remote_options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DistributedTraining:
    """The pipeline trains with ``torch.distributed`` DDP and must be launched by ``torchrun``
    (:mod:`~standard_coder.runner.ddp`): rank 0 runs the pipeline, the other ranks follow.

    Attributes:
        setting: the config setting that asked for it, as the user wrote it (named in the one
            line shown when the run is not launched by ``torchrun``).
    """

    setting: str = 'distributed = "ddp"'


@dataclass(frozen=True)
class Pipeline:
    """Stages in canonical order, plus where they write.

    Attributes:
        name: pipeline name (shown in events and the report).
        stages: stages in canonical (topological) order.
        base_dir: output root: manifests, runs, logs, checkpoints live below it.
        seed: the run seed handed to every stage context.
        device: preferred device (``auto``, ``cpu``, ``cuda``, ``mps``); resolved with fallback.
        workers: local process-pool size for ``ctx.map`` (1 = in-process).
        executor: where ``ctx.map`` items run instead of the local pool: ``"dask://HOST:PORT"``
            (a Dask scheduler) or another registered executor spec; None = the local pool.
        run_cache: the content-addressed stage cache (``[cache]``); None = off.
        distributed: DDP training under ``torchrun`` (set by the pipeline from its own config,
            e.g. the ``sch`` pipeline's ``[training] distributed = "ddp"``); None = one process,
            and a launch by ``torchrun`` is refused.
        stop_grace_s: seconds between SIGTERM to a command stage's group and SIGKILL.
        config: the resolved config (recorded in the run folder; hashed in env stamps).
        report_sections: the pipeline's own sections of the run report, after the runner's
            stages table (see :class:`~standard_coder.runner.report.ReportSection`).
        root: the project folder (the config file's folder): relative paths in stage params are
            taken from it (``ctx.root_dir``), and inputs are named relative to it. Default:
            ``base_dir``'s parent.
        on_finish: called with ``base_dir`` after a successful ``pipeline`` run (not a dry
            run), e.g. to print the results a user came for.
        left_out: stages this pipeline has but this configuration leaves out, each with why
            (``--stages forecast`` without sprint files says so, not "no such stage").
    """

    name: str
    stages: Sequence[Stage]
    base_dir: Path
    seed: int = 0
    device: str = "auto"
    workers: int = 1
    executor: str | None = None
    run_cache: RunCacheSettings | None = None
    distributed: DistributedTraining | None = None
    stop_grace_s: float = 10.0
    config: Mapping[str, Any] = field(default_factory=dict)
    report_sections: Sequence[ReportSection] = ()
    root: Path | None = None
    on_finish: Callable[[Path], None] | None = None
    left_out: Mapping[str, str] = field(default_factory=dict)
