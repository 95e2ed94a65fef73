"""Synthetic Python commits whose token content is driven by a latent effort (tests, benchmarks).

Each commit has a latent coding time ``h`` (hours, log-normal). The number of "logic" units
(small functions with loops, comprehensions, lambdas) grows with ``h``; the number of cheap
lines (module-level settings, comments) does not. Lines added therefore correlate only weakly
with effort while the token bag and AST deltas carry it, which is what the paper claims for
real changes. Labels are ``n_samples`` draws per commit around the commit's coding time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from standard_coder.sch.records import CommitRecord, FileChange

_LOGIC = (
    "def compute_{k}(items, limit):\n"
    "    result = [x * 2 for x in items if x > limit]\n"
    "    while result and result[-1] >= limit:\n"
    "        result.pop()\n"
    "    return sorted(result, key=lambda v: -v)\n"
)
_CHEAP = 'SETTING_{k} = "value_{k}"  # plain setting\n'


@dataclass(frozen=True)
class SyntheticChanges:
    """Commits, their label samples (hours) and the latent coding time per commit."""

    commits: list[CommitRecord]
    samples: np.ndarray
    true_hours: np.ndarray

    @property
    def keys(self) -> list[tuple[str, str]]:
        return [(c.repo, c.commit_id) for c in self.commits]


def _file(
    path: str, before: str | None, units: int, cheap: int, deleted: int, k0: int, broken: bool
) -> tuple[FileChange, int]:
    old_lines = before.splitlines(keepends=True) if before else []
    settings = [i for i, ln in enumerate(old_lines) if ln.startswith("SETTING_")]
    drop = set(settings[:deleted])
    kept = [ln for i, ln in enumerate(old_lines) if i not in drop]
    new: list[str] = []
    for u in range(units):
        new += _LOGIC.format(k=k0 + u).splitlines(keepends=True)
    for c in range(cheap):
        new.append(_CHEAP.format(k=k0 + units + c))
    if broken:
        new.append('print "python 2 style"\n')
    after = "".join(kept + new)
    diff = [f"@@ -1,{len(drop)} +{len(kept) + 1},{len(new)} @@"]
    diff += ["-" + old_lines[i].rstrip("\n") for i in sorted(drop)]
    diff += ["+" + ln.rstrip("\n") for ln in new]
    fc = FileChange(
        path=path,
        old_path=path if before is not None else None,
        language="python",
        lines_added=len(new),
        lines_deleted=len(drop),
        is_binary=False,
        diff="\n".join(diff) + "\n",
        before=before,
        after=after,
    )
    return fc, k0 + units + cheap


def synthetic_changes(
    n_commits: int = 600,
    *,
    n_samples: int = 50,
    n_repos: int = 2,
    seed: int = 0,
    label_noise: float = 0.35,
    broken_share: float = 0.01,
    with_contents: bool = True,
) -> SyntheticChanges:
    """Generate ``n_commits`` synthetic commits over ``n_repos`` repos (time-ordered per repo).

    ``with_contents=False`` keeps only the diffs (no before/after; for large token-only sets).
    """
    rng = np.random.default_rng(seed)
    commits: list[CommitRecord] = []
    hours = np.empty(n_commits)
    contents: dict[tuple[int, str], str] = {}
    k = 0
    t0 = 1_600_000_000
    for i in range(n_commits):
        repo = i % n_repos
        h = float(np.exp(rng.normal(np.log(0.35), 0.8)))
        hours[i] = h
        n_files = 1 + int(rng.poisson(0.4))
        units_total = int(rng.poisson(4.0 * h)) + (1 if rng.random() < 0.5 else 0)
        split = rng.multinomial(units_total, [1.0 / n_files] * n_files)
        files = []
        for f in range(n_files):
            path = f"pkg/mod_{int(rng.integers(0, 40))}_{f}.py"
            before = contents.get((repo, path)) if with_contents else None
            cheap = int(rng.poisson(np.exp(rng.normal(2.0, 1.0))))
            deleted = int(rng.poisson(1.5))
            fc, k = _file(
                path, before, int(split[f]), cheap, deleted, k, bool(rng.random() < broken_share)
            )
            if with_contents and fc.after is not None:
                contents[(repo, path)] = fc.after
            elif not with_contents:
                fc = FileChange(path=fc.path, old_path=fc.path, language=fc.language,
                                lines_added=fc.lines_added, lines_deleted=fc.lines_deleted,
                                is_binary=False, diff=fc.diff)  # fmt: skip
            files.append(fc)
        t = t0 + i * 3600 + int(rng.integers(0, 600))
        commits.append(CommitRecord(
            repo=f"repo{repo}", commit_id=f"{i:040x}", author_id=f"a{i % 3}@x.org",
            author_name=f"A{i % 3}", authored_at=t, author_tz_offset_min=0, committed_at=t,
            subject=f"change {i}", files=tuple(files)))  # fmt: skip
    centre = hours * np.exp(rng.normal(0.0, label_noise, n_commits))
    samples = centre[:, None] * np.exp(rng.normal(0.0, label_noise, (n_commits, n_samples)))
    return SyntheticChanges(commits, samples.astype(np.float32), hours)
