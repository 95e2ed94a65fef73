"""A CanItEdit-style edit evaluator: apply a completion, run the hidden tests, score the edit.

For each (task, completion): the completion is raw code (a fenced block is unwrapped) or a model
answer with an ``<action>`` (applied to the task's ``pre``). The result runs with the task's
tests (``exec(code); exec(tests)``, CanItEdit's way) in the sandbox (``sandbox.py``: subprocess,
timeout, rlimits, temp dir, no network) under ``coverage``. Reported:

- ``pass@1``: per task, the share of its completions that pass; averaged over tasks;
- ``excess_code``: among passing completions, the share of changed lines (vs ``pre``; only
  lines coverage counts as statements) that the tests never executed (CanItEdit's ExcessCode);
- ``exact_match`` (whitespace-normalised equality with ``post``) and ``similarity`` (difflib
  ratio with ``post``);
- ``mean_rules_per_task`` over tasks answered with actions.

Statuses: ``pass``, ``fail`` (an exception, a failed assert), ``timeout`` (killed after the
limit: a slow or endless program), ``invalid_action`` (the action does not parse or apply).
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from difflib import SequenceMatcher
from typing import Any

from standard_coder.codeedit.actions import apply_action, count_rules, parse_answer
from standard_coder.codeedit.errors import CodeEditError, SandboxStopped
from standard_coder.codeedit.sandbox import Limits, run_sandboxed

DRIVER = """\
import json, os, sys
import coverage
here = os.path.abspath("solution.py")
cov = coverage.Coverage(data_file=None, include=[here], config_file=False)
status, error = "pass", ""
g = {"__name__": "__main__"}
cov.start()
try:
    exec(compile(open(here).read(), here, "exec"), g)
    exec(compile(open("tests.py").read(), os.path.abspath("tests.py"), "exec"), g)
except SystemExit as exc:
    if exc.code not in (0, None):
        status, error = "fail", "SystemExit(%r)" % (exc.code,)
except BaseException as exc:
    status, error = "fail", (type(exc).__name__ + ": " + str(exc))[:300]
finally:
    cov.stop()
_, statements, _, missing, _ = cov.analysis2(here)
with open("result.json", "w") as fh:
    json.dump({"status": status, "error": error, "statements": statements,
               "missing": missing}, fh)
"""
_FENCED = re.compile(r"```[\w+#-]*\n(.*?)```", re.DOTALL)


@dataclass(frozen=True)
class Task:
    """One editing problem: ``pre`` + instruction -> ``post``, checked by hidden ``tests``."""

    id: str
    pre: str
    post: str
    tests: str
    language: str = "python"


@dataclass
class Outcome:
    """One completion's result."""

    task_id: str
    status: str
    exact_match: bool = False
    similarity: float = 0.0
    excess_code: float | None = None
    rules: int | None = None
    seconds: float = 0.0
    error: str = ""


def _norm(code: str) -> str:
    return "\n".join(line.rstrip() for line in code.strip().splitlines())


def changed_lines(pre: str, out: str) -> set[int]:
    """1-based line numbers of ``out`` inserted or replaced relative to ``pre``."""
    a, b = pre.splitlines(), out.splitlines()
    changed: set[int] = set()
    for tag, _, _, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag in ("replace", "insert"):
            changed.update(range(j1 + 1, j2 + 1))
    return changed


def excess_code(pre: str, out: str, statements: Iterable[int], missing: Iterable[int]) -> float:
    """Share of changed executable lines the tests did not run (0 when none changed)."""
    changed = changed_lines(pre, out) & set(statements)
    return len(changed & set(missing)) / len(changed) if changed else 0.0


def run_completion(
    task: Task,
    completion: str,
    limits: Limits | None = None,
    *,
    actions_only: bool = False,
    should_stop: Callable[[], bool] | None = None,
) -> Outcome:
    """Apply ``completion`` to ``task`` and run its tests in the sandbox (``actions_only``: a
    completion without an ``<action>`` is an ``invalid_action``, not code to run).

    Raises:
        SandboxStopped: ``should_stop()`` turned true while the tests ran.
    """
    limits = limits or Limits(timeout_s=10.0, cpu_s=10)
    rules = None
    if actions_only or "<action>" in completion:
        try:
            action = parse_answer(completion).action
            rules = count_rules(action)
            code = apply_action(action, task.pre, task.language)
        except CodeEditError as exc:
            return Outcome(task.id, "invalid_action", rules=rules, error=str(exc)[:500])
    else:
        fenced = _FENCED.findall(completion)
        code = fenced[-1] if fenced else completion
    files = {"solution.py": code, "tests.py": task.tests, "driver.py": DRIVER}
    result = run_sandboxed(
        [sys.executable, "-I", "driver.py"], files, limits=limits, read_back=["result.json"],
        should_stop=should_stop,
    )  # fmt: skip
    out = Outcome(
        task.id, "timeout", exact_match=_norm(code) == _norm(task.post),
        similarity=round(SequenceMatcher(None, code, task.post).ratio(), 4), rules=rules,
        seconds=round(result.seconds, 3),
    )  # fmt: skip
    if result.timed_out:
        out.error = f"killed after {limits.timeout_s} s"
        return out
    if "result.json" not in result.files:  # killed by a limit (CPU, memory) or a crash
        out.status = "timeout" if result.returncode in (-9, -24) else "fail"
        out.error = (result.stderr.strip().splitlines() or [f"exit {result.returncode}"])[-1]
        return out
    doc = json.loads(result.files["result.json"])
    out.status, out.error = doc["status"], doc["error"]
    if out.status == "pass":
        out.excess_code = round(excess_code(task.pre, code, doc["statements"], doc["missing"]), 4)
    return out


def summarize(outcomes: list[Outcome]) -> dict[str, Any]:
    """pass@1, ExcessCode, exact match, similarity and rules per task over all outcomes."""
    by_task: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        by_task[o.task_id].append(o)
    n = len(by_task)
    passing = [o for o in outcomes if o.status == "pass"]
    with_rules = {t: [o.rules for o in os if o.rules is not None] for t, os in by_task.items()}
    rule_tasks = {t: sum(r) / len(r) for t, r in with_rules.items() if r}
    statuses: dict[str, int] = defaultdict(int)
    for o in outcomes:
        statuses[o.status] += 1
    return {
        "tasks": n,
        "completions": len(outcomes),
        "pass@1": round(sum(sum(o.status == "pass" for o in os) / len(os)
                            for os in by_task.values()) / n, 4) if n else None,
        "excess_code": round(sum(o.excess_code or 0.0 for o in passing) / len(passing), 4)
        if passing else None,
        "exact_match": round(sum(o.exact_match for o in outcomes) / len(outcomes), 4)
        if outcomes else None,
        "similarity": round(sum(o.similarity for o in outcomes) / len(outcomes), 4)
        if outcomes else None,
        "mean_rules_per_task": round(sum(rule_tasks.values()) / len(rule_tasks), 4)
        if rule_tasks else None,
        "statuses": dict(sorted(statuses.items())),
        "outcomes": [asdict(o) for o in outcomes],
    }  # fmt: skip


@dataclass(frozen=True)
class Coverage:
    """Which tasks a set of completions answers.

    Attributes:
        tasks: the number of tasks.
        unanswered: ids of the tasks without a completion (in task order): not scored.
        unknown: completion task ids that match no task (in the completions' order): ignored.
    """

    tasks: int
    unanswered: tuple[str, ...]
    unknown: tuple[str, ...]

    @property
    def answered(self) -> int:
        """Tasks with at least one completion (the ones pass@1 is over)."""
        return self.tasks - len(self.unanswered)


def coverage(task_ids: Sequence[str], completions: Mapping[str, Sequence[str]]) -> Coverage:
    """Match ``completions`` (by task id) against ``task_ids``.

    Example:
        >>> coverage(["1", "2"], {"2": ["..."], "x": ["..."]})
        Coverage(tasks=2, unanswered=('1',), unknown=('x',))
    """
    known = set(task_ids)
    return Coverage(
        tasks=len(task_ids),
        unanswered=tuple(t for t in task_ids if not completions.get(t)),
        unknown=tuple(c for c in completions if c not in known),
    )


def evaluate(
    tasks: Iterable[Task],
    completions: dict[str, list[str]],
    limits: Limits | None = None,
    *,
    actions_only: bool = False,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Run every completion of every task (a task without completions is skipped).

    Raises:
        SandboxStopped: ``should_stop()`` turned true (checked before and during each
            completion's tests): nothing is scored.
    """
    outcomes = []
    for task in tasks:
        for text in completions.get(task.id, []):
            if should_stop is not None and should_stop():
                raise SandboxStopped("stopped before every completion was scored")
            outcome = run_completion(
                task, text, limits, actions_only=actions_only, should_stop=should_stop
            )
            outcomes.append(outcome)
    return summarize(outcomes)
