"""Ground-truth developer simulator: real git repositories plus the true coding time per commit.

Each simulated developer works in sessions (paper footnote 2 by default: 9-17 local time on
weekdays, coding blocks exponential with mean 50 min before noon and 20 min after, breaks with
mean 30 min, a commit with probability 4% per coding minute). Commits are written with
``git fast-import`` into one or more real repositories with fixed author and committer dates in
each author's time zone, so commit ids are stable for a seed. Each commit's content is a Python
change whose size and token mix depend on the true coding minutes behind it.

Output layout::

    OUT_DIR/repo-0/ ... repo-{n-1}/   real git repositories (branch main, checked out)
    OUT_DIR/truth.json                per commit: true coding minutes since the author's
                                      previous commit (any repo), author, times

Example:
    >>> res = simulate_small_team(tmp_path, seed=1)          # doctest: +SKIP
    >>> truth = load_truth(res.truth_path)                    # doctest: +SKIP
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import os
import random
import subprocess
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from standard_coder.runner.atomic import atomic_write_text
from standard_coder.runner.jsonfile import FieldTypes, field_problem, read_json_object
from standard_coder.sch.teamsim.codegen import RepoCode, change_for_minutes
from standard_coder.sch.teamsim.families import FAMILIES, family_author
from standard_coder.sch.teamsim.schedule import (
    AuthorSpec,
    CodingTrace,
    ScheduleSpec,
    simulate_coding,
)

__all__ = [
    "FAMILIES",
    "AuthorSpec",
    "ScheduleSpec",
    "SimulationResult",
    "TeamSpec",
    "Truth",
    "TruthCommit",
    "load_truth",
    "simulate_small_team",
    "simulate_team",
]

TRUTH_SCHEMA_VERSION = 1
FIRST_NAMES = ("Ada", "Brian", "Chen", "Dana", "Emeka", "Farah", "Goran", "Hana", "Ivan", "Jun")
LAST_NAMES = ("Lovel", "Kern", "Wei", "Scott", "Obi", "Haddad", "Petrov", "Sato", "Ilic", "Park")


@dataclass(frozen=True)
class TeamSpec:
    """What to simulate. ``authors`` overrides the generated ones (``n_authors`` etc. ignored)."""

    n_authors: int = 3
    weeks: int = 8
    n_repos: int = 1
    start: dt.date = dt.date(2024, 1, 1)
    """First simulated local date (a Monday by default)."""
    schedule: ScheduleSpec = field(default_factory=ScheduleSpec)
    tz_offsets_min: tuple[int, ...] = (0, 60, -300, 330, -480, 540)
    """Generated author i gets ``tz_offsets_min[i % len]``."""
    holidays: tuple[dt.date, ...] = ()
    switch_after_weeks: int | None = None
    """Generated authors switch to the mirrored schedule after this many weeks (paper Fig. 4)."""
    alias_emails: bool = True
    """The first generated author also commits with a second email (resolved by ``.mailmap``)."""
    alias_prob: float = 0.3
    home_repo_prob: float = 0.7
    """Probability that a commit goes to the author's home repo (else a random repo)."""
    broken_prob: float = 0.02
    """Probability that a change leaves a file unparsable (fixed by a later change)."""
    authors: tuple[AuthorSpec, ...] | None = None
    schedule_families: tuple[str, ...] = ()
    """Generated author i follows family ``schedule_families[i % len]`` (see
    ``standard_coder.sch.teamsim.families``); empty: ``schedule`` for everyone. The family
    only shapes the simulated commits; it is recorded in the truth, never shown to a model."""
    commit_rate: tuple[float, float] | None = None
    """``(low, high)``: each generated author commits with a probability per coding minute
    drawn log-uniformly in this range (its own draw per author and ``seed``; the rest of the
    author as without it), instead of the schedule's or family's own (0.025-0.06: a commit in
    every 17-40 coding minutes). Real open-source authors commit far less often: ``(0.005,
    0.02)`` is a commit in every 50-200 coding minutes (docs/work-inference.md, "Commit
    rates like real histories'"). ``None``: the schedule's and families' own."""

    def resolved_authors(self, seed: int = 0) -> tuple[AuthorSpec, ...]:
        """The authors to simulate; family authors vary with ``seed``."""
        if self.authors is not None:
            return self.authors
        authors = self._generated_authors(seed)
        if self.commit_rate is None:
            return authors
        low, high = self.commit_rate
        if not 0.0 < low <= high < 1.0:
            raise ValueError(f"commit_rate {self.commit_rate!r}: expected 0 < low <= high < 1")
        return tuple(
            _with_commit_prob(a, _log_uniform(np.random.default_rng([seed, i, 0xC0]), low, high))
            for i, a in enumerate(authors)
        )

    def _generated_authors(self, seed: int) -> tuple[AuthorSpec, ...]:
        for fam in self.schedule_families:
            if fam not in FAMILIES:
                raise ValueError(
                    f"unknown schedule family {fam!r}, expected one of {list(FAMILIES)}"
                )
        out = []
        for i in range(self.n_authors):
            first = FIRST_NAMES[i % len(FIRST_NAMES)]
            last = LAST_NAMES[(i * 3) % len(LAST_NAMES)]
            suffix = "" if i < len(FIRST_NAMES) else str(i)
            email = f"{first.lower()}.{last.lower()}{suffix}@example.com"
            alias = (
                (f"{first.lower()}{suffix}@home.example.org",)
                if i == 0 and self.alias_emails
                else ()
            )
            if self.schedule_families:
                family = self.schedule_families[i % len(self.schedule_families)]
                rng = np.random.default_rng([seed, i, 0x5C4ED])
                out.append(
                    family_author(
                        family,
                        name=f"{first} {last}{suffix}",
                        email=email,
                        tz_offset_min=self.tz_offsets_min[i % len(self.tz_offsets_min)],
                        start=self.start,
                        weeks=self.weeks,
                        rng=rng,
                        alias_emails=alias,
                    )
                )
                continue
            out.append(
                AuthorSpec(
                    name=f"{first} {last}{suffix}",
                    email=email,
                    tz_offset_min=self.tz_offsets_min[i % len(self.tz_offsets_min)],
                    schedule=self.schedule,
                    switch_after_weeks=self.switch_after_weeks,
                    alias_emails=alias,
                )
            )
        return tuple(out)


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _with_commit_prob(author: AuthorSpec, prob: float) -> AuthorSpec:
    """``author`` committing with ``prob`` per coding minute, before and after a switch."""
    switch_to = author.switch_to
    return replace(
        author,
        schedule=replace(author.schedule, commit_prob=prob),
        switch_to=None if switch_to is None else replace(switch_to, commit_prob=prob),
    )


@dataclass(frozen=True)
class TruthCommit:
    """Ground truth of one commit."""

    repo: str
    commit_id: str
    author: str
    """Canonical author id: the lower-cased primary email (what mailmap resolves to)."""
    email: str
    authored_at: int
    tz_offset_min: int
    coding_minutes: int
    """True coding minutes since the author's previous commit in any repo (first: since start)."""
    interval_minutes: float | None
    """Wall-clock minutes since the author's previous commit (None for the first)."""


@dataclass(frozen=True)
class Truth:
    """Parsed ``truth.json``."""

    commits: tuple[TruthCommit, ...]
    authors: dict[str, dict[str, Any]]
    repos: tuple[str, ...]

    def by_commit_id(self) -> dict[str, TruthCommit]:
        return {c.commit_id: c for c in self.commits}


@dataclass(frozen=True)
class SimulationResult:
    """Where the simulation went and what it holds."""

    out_dir: Path
    repos: tuple[Path, ...]
    truth_path: Path
    n_commits: int
    authors: tuple[str, ...]
    seconds: float


def _git_tz(offset_min: int) -> str:
    sign = "+" if offset_min >= 0 else "-"
    a = abs(offset_min)
    return f"{sign}{a // 60:02d}{a % 60:02d}"


def _data(payload: bytes) -> bytes:
    return b"data %d\n" % len(payload) + payload + b"\n"


def _run_git(args: list[str], cwd: Path, stdin: bytes | None = None) -> None:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0"}
    subprocess.run(["git", *args], cwd=cwd, input=stdin, check=True, capture_output=True, env=env)


def simulate_team(out_dir: Path, spec: TeamSpec | None = None, *, seed: int) -> SimulationResult:
    """Simulate a team and write its repositories and ``truth.json`` into ``out_dir``.

    Args:
        out_dir: target folder (created; must not already hold the repositories).
        spec: what to simulate (default: ``TeamSpec()``).
        seed: the same seed and spec give the same commit ids and truth.

    Returns:
        A ``SimulationResult`` naming the repositories and the truth file.
    """
    t0 = time.perf_counter()
    spec = spec or TeamSpec()
    out_dir = Path(out_dir).resolve()  # git runs inside each repo: relative paths would move
    out_dir.mkdir(parents=True, exist_ok=True)
    authors = spec.resolved_authors(seed)
    ss = np.random.SeedSequence(seed)
    author_seqs = ss.spawn(len(authors) + 1)
    content_rng = np.random.default_rng(author_seqs[-1])
    code_rng = random.Random(int(content_rng.integers(2**62)))
    holidays = frozenset(spec.holidays)
    midnight_utc = calendar.timegm(spec.start.timetuple())

    # 1. who codes when
    rows: list[tuple[int, int, int, int]] = []  # (unix seconds, author, recorded offset, minutes)
    traces: list[CodingTrace] = []
    for ai, author in enumerate(authors):
        rng = np.random.default_rng(author_seqs[ai])
        trace = simulate_coding(
            author, start=spec.start, weeks=spec.weeks, holidays=holidays, rng=rng
        )
        traces.append(trace)
        commit_secs = midnight_utc + trace.commit_utc_minutes() * 60 + trace.commit_seconds
        true_minutes = trace.coding_minutes_between()
        recorded = trace.commit_offsets()
        if author.recorded_tz_offset_min is not None:
            recorded = np.full_like(recorded, author.recorded_tz_offset_min)
        rows.extend(
            (int(s), ai, int(z), int(m))
            for s, z, m in zip(commit_secs, recorded, true_minutes, strict=True)
        )
    rows.sort()

    # 2. what each commit changes, in time order per repo
    repo_names = tuple(f"repo-{r}" for r in range(spec.n_repos))
    repo_code = [RepoCode() for _ in repo_names]
    streams: list[list[bytes]] = [[] for _ in repo_names]
    marks: list[int] = [0] * len(repo_names)
    mailmap = "".join(
        f"{a.name} <{a.email}> <{alias}>\n" for a in authors for alias in a.alias_emails
    ).encode()
    meta: list[dict[str, Any]] = []
    last_secs: dict[int, int] = {}
    for secs, ai, tz_rec, row_minutes in rows:
        minutes = int(row_minutes)
        author = authors[ai]
        if spec.n_repos == 1 or content_rng.random() < spec.home_repo_prob:
            r = ai % spec.n_repos
        else:
            r = int(content_rng.integers(0, spec.n_repos))
        email = author.email
        if author.alias_emails and content_rng.random() < spec.alias_prob:
            email = str(content_rng.choice(list(author.alias_emails)))
        written, deleted, message = change_for_minutes(
            repo_code[r], minutes, code_rng, broken_prob=spec.broken_prob
        )
        marks[r] += 1
        ident = f"{author.name} <{email}> {secs} {_git_tz(tz_rec)}".encode()
        chunk = [
            b"commit refs/heads/main\n",
            b"mark :%d\n" % marks[r],
            b"author " + ident + b"\n",
            b"committer " + ident + b"\n",
            _data(message.encode()),
        ]
        if marks[r] > 1:
            chunk.append(b"from :%d\n" % (marks[r] - 1))
        elif mailmap:
            chunk.append(b"M 100644 inline .mailmap\n" + _data(mailmap))
        for path in sorted(written):
            chunk.append(
                b"M 100644 inline " + path.encode() + b"\n" + _data(written[path].encode())
            )
        for path in deleted:
            chunk.append(b"D " + path.encode() + b"\n")
        streams[r].append(b"".join(chunk) + b"\n")
        prev = last_secs.get(ai)
        meta.append(
            {
                "repo": repo_names[r],
                "mark": marks[r],
                "author": author.email.lower(),
                "email": email,
                "authored_at": secs,
                "tz_offset_min": tz_rec,
                "coding_minutes": minutes,
                "interval_minutes": None if prev is None else (secs - prev) / 60.0,
            }
        )
        last_secs[ai] = secs

    # 3. write the repositories
    repo_paths: list[Path] = []
    ids: list[dict[int, str]] = []
    for r, name in enumerate(repo_names):
        repo_dir = out_dir / name
        repo_dir.mkdir(parents=True, exist_ok=True)
        _run_git(["-c", "init.defaultBranch=main", "init", "-q"], repo_dir)
        marks_file = repo_dir / ".git" / "sc-marks"
        _run_git(
            ["fast-import", "--quiet", f"--export-marks={marks_file}"],
            repo_dir,
            b"".join(streams[r]),
        )
        table: dict[int, str] = {}
        if marks_file.exists():
            for line in marks_file.read_text().splitlines():
                mk, sha = line.split()
                table[int(mk[1:])] = sha
            marks_file.unlink()
        ids.append(table)
        if table:
            _run_git(["checkout", "-q", "-f", "main"], repo_dir)
        repo_paths.append(repo_dir)

    commits = []
    for row in meta:
        r = repo_names.index(row["repo"])
        commits.append({"commit_id": ids[r][row.pop("mark")], **row})
    author_info = {
        a.email.lower(): {
            "name": a.name,
            "emails": [a.email, *a.alias_emails],
            "tz_offset_min": a.tz_offset_min,
            "switch_after_weeks": a.switch_after_weeks,
            "schedule_family": a.family,
            "commit_prob": a.schedule.commit_prob,
            "n_commits": len(traces[i].commit_minutes),
            "coding_minutes_total": int(traces[i].coding.sum()),
        }
        for i, a in enumerate(authors)
    }
    doc = {
        "schema_version": TRUTH_SCHEMA_VERSION,
        # the name this module had when the schema was fixed (truth.json bytes stay)
        "generator": "standard_coder.sch.simulate",
        "seed": seed,
        "spec": _spec_json(spec),
        "repos": list(repo_names),
        "authors": author_info,
        "commits": commits,
    }
    truth_path = out_dir / "truth.json"
    atomic_write_text(truth_path, json.dumps(doc, indent=1, sort_keys=True))
    return SimulationResult(
        out_dir=out_dir,
        repos=tuple(repo_paths),
        truth_path=truth_path,
        n_commits=len(commits),
        authors=tuple(author_info),
        seconds=time.perf_counter() - t0,
    )


def _spec_json(spec: TeamSpec) -> dict[str, Any]:
    def conv(x: Any) -> Any:
        if isinstance(x, dt.date):
            return x.isoformat()
        if isinstance(x, dict):
            return {k: conv(v) for k, v in x.items()}
        if isinstance(x, list | tuple):
            return [conv(v) for v in x]
        return x

    return dict(conv(asdict(spec)))


def simulate_small_team(
    out_dir: Path, *, n_authors: int = 3, weeks: int = 8, seed: int = 0, n_repos: int = 1
) -> SimulationResult:
    """A tiny default team for tests elsewhere (about 10 commits per author and working day)."""
    return simulate_team(
        out_dir, TeamSpec(n_authors=n_authors, weeks=weeks, n_repos=n_repos), seed=seed
    )


class TruthFileError(ValueError):
    """A ``truth.json`` that cannot be read: one line naming the file (or key) and the cause
    (bad input: exit 2)."""

    exit_code = 2


_TRUTH_COMMIT_FIELDS: FieldTypes = {
    "repo": str, "commit_id": str, "author": str, "email": str, "authored_at": int,
    "tz_offset_min": int, "coding_minutes": int, "interval_minutes": (int, float, type(None)),
}  # fmt: skip


def _truth_commit(f: Path, i: int, c: Any) -> TruthCommit:
    """``commits[i]`` of ``f`` as a :class:`TruthCommit`, or a :class:`TruthFileError` naming
    the first key that is missing or of the wrong type."""
    if not isinstance(c, dict):
        raise TruthFileError(f"{f}: commits[{i}] is not an object")
    if problem := field_problem(c, _TRUTH_COMMIT_FIELDS, _TRUTH_COMMIT_FIELDS):
        raise TruthFileError(f"{f}: commits[{i}]: {problem}")
    return TruthCommit(**{k: c[k] for k in _TRUTH_COMMIT_FIELDS})


def load_truth(path: Path) -> Truth:
    """Read a ``truth.json`` (or every ``truth.json`` under a folder, merged); a file that is
    missing, not JSON, of another schema version or of the wrong shape is a
    :class:`TruthFileError` naming it."""
    path = Path(path)
    files = sorted(path.rglob("truth.json")) if path.is_dir() else [path]
    if not files:
        raise TruthFileError(f"{path}: no truth.json under this folder")
    commits: list[TruthCommit] = []
    authors: dict[str, dict[str, Any]] = {}
    repos: list[str] = []
    for f in files:
        doc = read_json_object(f, TruthFileError, "truth")
        if doc.get("schema_version") != TRUTH_SCHEMA_VERSION:
            raise TruthFileError(
                f"{f}: unsupported truth schema_version {doc.get('schema_version')!r} "
                f"(this version reads {TRUTH_SCHEMA_VERSION})"
            )
        top = {"authors": dict, "repos": list, "commits": list}
        if problem := field_problem(doc, top, top):
            raise TruthFileError(f"{f}: {problem}")
        authors.update(doc["authors"])
        repos.extend(str(r) for r in doc["repos"])
        commits.extend(_truth_commit(f, i, c) for i, c in enumerate(doc["commits"]))
    commits.sort(key=lambda c: (c.authored_at, c.author, c.commit_id))
    return Truth(commits=tuple(commits), authors=authors, repos=tuple(repos))
