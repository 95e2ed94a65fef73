"""What a commit's subject line says about its change: its length and the kind of work it names.

Counts of one subject (:data:`SUBJECT_NAMES`): ``subject|words`` (words in the subject line) and
one 0/1 flag per kind of work its words name, matched as whole words, case-insensitively:

- ``fix``: fix, fixes, fixed, bug; ``typo``: typo, spelling, grammar;
- ``doc``: docs, documentation, docstring, readme, comment; ``test``: test(s), testing, coverage;
- ``release``: release, bump, version, changelog, prepare, a dotted number (``1.2``, ``3.12``);
- ``add``: add, implement, support, new, introduce, feature; ``remove``: remove, delete, drop,
  deprecate, clean up, unused; ``refactor``: refactor, rename, move, simplify, reorganise;
- ``style``: style, lint, flake8, black, format, pep8, isort, ruff, pre-commit, whitespace, mypy,
  typing; ``ci``: ci, travis, GitHub Actions, workflow, tox, appveyor; ``deps``: dependency,
  upgrade, update, pin, requirements; ``revert``; ``minor``: wip, tweak, minor, small, oops;
- ``pull_request``: a pull request number, ``(#123)``, ``gh-123``, ``#123``;
- ``conventional``: a one-word prefix and a colon, as Conventional Commits write their type
  (``fix:``, ``feat(api):``) and many projects their area (``docs:``, ``sch:``).

A cross-repository prior fitted on these patterns reads them as they are: changing one changes
what its inputs mean, and needs the prior fitted again.

A change without a subject (a working tree, a raw patch, an empty message) has none: its counts
are NaN, which the representation reads as "unknown" and gives the fitted changes' mean
(docs/effort-models.md, "Commit subjects").
"""

from __future__ import annotations

import re

import numpy as np

_KINDS: dict[str, str] = {
    "fix": r"\bfix(es|ed|ing)?\b|\bbugs?\b",
    "typo": r"\btypos?\b|\bspelling\b|\bgrammar\b",
    "doc": r"\bdocs?\b|\bdocument|\bdocstring|\breadme\b|\bcomments?\b",
    "test": r"\btests?\b|\btesting\b|\bcoverage\b",
    "release": r"\brelease\b|\bbump\b|\bversion\b|\bchangelog\b|\bprepare\b|\bv?\d+\.\d+",
    "add": r"\badd(s|ed|ing)?\b|\bimplement|\bsupport\b|\bnew\b|\bintroduc|\bfeat",
    "remove": r"\bremov|\bdelet|\bdrop\b|\bdeprecat|\bclean ?up\b|\bunused\b",
    "refactor": r"\brefactor|\brename|\bmov(e|es|ed|ing)\b|\bsimplif|\breorgani",
    "style": r"\bstyle\b|\blint|\bflake8\b|\bblack\b|\bformat|\bpep ?8\b|\bisort\b|\bruff\b"
    r"|\bpre-commit\b|\bwhitespace\b|\bmypy\b|\btyping\b",
    "ci": r"\bci\b|\btravis\b|\bgithub actions?\b|\bworkflows?\b|\btox\b|\bappveyor\b",
    "deps": r"\bdeps?\b|\bdependenc|\bupgrade\b|\bupdate\b|\bpin\b|\brequirements\b",
    "revert": r"\brevert",
    "minor": r"\bwip\b|\btweak|\bminor\b|\bsmall\b|\boops\b",
    "pull_request": r"\(#\d+\)|\bgh-\d+|#\d+",
    "conventional": r"^\w+(\([^)]*\))?!?:",
}
_PATTERNS = tuple(re.compile(p, re.IGNORECASE) for p in _KINDS.values())
SUBJECT_PREFIX = "subject|"
"""What every commit subject column's name starts with."""
SUBJECT_NAMES: tuple[str, ...] = tuple(SUBJECT_PREFIX + k for k in ("words", *_KINDS))
"""Column names of a subject's counts, in :func:`subject_counts` order."""


def no_subject() -> np.ndarray:
    """The counts of a change whose subject is unknown: NaN in every column."""
    return np.full(len(SUBJECT_NAMES), np.nan)


def subject_counts(subject: str) -> np.ndarray:
    """``subject``'s counts in :data:`SUBJECT_NAMES` order; NaN (unknown) for an empty one.

    Only the first line counts (a message's body is not a subject)."""
    line = subject.strip().split("\n", 1)[0].strip() if subject else ""
    if not line:
        return no_subject()
    flags = [1.0 if p.search(line) else 0.0 for p in _PATTERNS]
    return np.array([float(len(line.split())), *flags])
