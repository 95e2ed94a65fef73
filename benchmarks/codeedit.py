"""Actions applied per second: the ast-grep-py path (with our ``fix`` rendering) against the
sandboxed ``ast-grep scan`` CLI, on every synthetic codemod of the built-in snippets; both must
give the same code (the same check as the unit cross-check, on all of them, not a sample).

    PYTHONPATH=src python benchmarks/codeedit.py [--repeat 3]

Last line: JSON with python_per_s, cli_per_s, ratio, actions, agree.
"""

from __future__ import annotations

import argparse
import json
import time

from standard_coder.codeedit.actions import apply_rule, load_rules
from standard_coder.codeedit.astgrep_cli import scan_rule
from standard_coder.codeedit.synth import builtin_snippets, generate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    mods = [m for m in generate(builtin_snippets()) if m.action["mode"] == "yaml"]
    jobs = [(load_rules(m.action["rule_yaml"])[0], m) for m in mods]
    t0 = time.perf_counter()
    for _ in range(args.repeat):
        ours = [apply_rule(m.pre, m.language, doc) for doc, m in jobs]
    t_py = (time.perf_counter() - t0) / args.repeat
    t0 = time.perf_counter()
    cli = [scan_rule(doc, m.pre, m.language) for doc, m in jobs]
    t_cli = time.perf_counter() - t0
    agree = sum(a == b == m.post for a, b, (_, m) in zip(ours, cli, jobs, strict=True))
    n = len(jobs)
    result = {
        "actions": n,
        "agree": agree,
        "python_per_s": round(n / t_py, 1),
        "cli_per_s": round(n / t_cli, 1),
        "ratio": round(t_cli / t_py, 1),
    }
    print(f"{'apply path':<28} {'actions/s':>10}")
    print(f"{'ast-grep-py + our fix':<28} {result['python_per_s']:>10}")
    print(f"{'sandboxed ast-grep CLI':<28} {result['cli_per_s']:>10}")
    print(f"python path is {result['ratio']}x faster; {agree}/{n} identical to the CLI")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
