"""How ``status`` / ``--dry-run`` word a stage's plan when an upstream stage will run first:
``upstream will run: a``, or ``may run`` when each such upstream is read through a key
(``Stage.input_keys``) or may itself be skipped, and an upstream output deleted by hand named as
what the upstream makes again (:func:`~standard_coder.runner.engine.plan_pipeline`)."""

from __future__ import annotations

from pathlib import Path

from standard_coder.runner.decision import Decision, Reason
from standard_coder.runner.definition import StageView

__all__ = ["upstream_decision", "upstream_explains"]


def upstream_explains(view: StageView, decision: Decision, will_run: set[str]) -> bool:
    """Whether an upstream stage that will run is the better reason than ``decision``: its
    input changed is an upstream output, or it could not be assessed because such an output is
    gone."""
    return _upstream_input(view, decision) or _remade(view, decision, will_run)


def _upstream_input(view: StageView, decision: Decision) -> bool:
    """``input changed`` names no input of the stage's own (an upstream stage's output, or one
    it no longer reads: a predictor change moves the model's path), so a rerun of an upstream
    stage is the better reason (a changed sprint file keeps its own)."""
    if decision.code is not Reason.INPUT_CHANGED:
        return False
    upstream = {spec.name for specs in view.reads_from.values() for spec in specs}
    own = [spec.name for spec in view.inputs if spec.name not in upstream]
    changed = decision.input or decision.detail
    return not any(changed == n or changed.startswith(n.rstrip("/") + "/") for n in own)


def _remade(view: StageView, decision: Decision, will_run: set[str]) -> bool:
    """The stage could not be assessed because an output of an upstream stage that will run
    is gone (deleted by hand): that stage makes it again, which is the reason to give, not
    ``PATH: declared path does not exist``."""
    if decision.code is not Reason.ERROR:
        return False
    gone = [spec.path for dep in view.read_deps if dep in will_run
            for spec in view.reads_from[dep] if not spec.path.exists()]  # fmt: skip
    return any(str(path) in decision.detail for path in gone)  # that error, not another


def upstream_decision(
    view: StageView, upstream: list[str], may_run: set[str], own: Decision
) -> Decision:
    """``upstream will run: a, b``, or, when each of them is read through a key or may itself
    be skipped, a reason saying the stage runs only if what it reads changes (a commit touching
    no enabled language reruns the mine, not the training). ``own``: the stage's decision from
    its inputs as they are; one that already differs from its record (``input changed``) runs
    whatever the upstream writes."""
    if not own.skip and own.code is not Reason.ERROR:
        return Decision(False, Reason.UPSTREAM_WILL_RUN, ", ".join(upstream))
    keyed = {Path(p) for p in view.stage.input_keys}
    keyed |= {Path(k) for k in view.stage.input_keys.values()}

    def keyed_only(dep: str) -> bool:
        return bool(view.reads_from[dep]) and all(s.path in keyed for s in view.reads_from[dep])

    through_key = [d for d in upstream if keyed_only(d)]
    maybe = [d for d in upstream if d in may_run and d not in through_key]
    if len(through_key) + len(maybe) < len(upstream):
        return Decision(False, Reason.UPSTREAM_WILL_RUN, ", ".join(upstream))
    said = []
    if through_key:
        said.append(f"upstream will run: {', '.join(through_key)}, read through a key (it "
                    "reruns only if what it reads changes)")  # fmt: skip
    if maybe:
        said.append(f"upstream may run: {', '.join(maybe)}")
    return Decision(False, Reason.UPSTREAM_MAY_CHANGE, "; ".join(said))
