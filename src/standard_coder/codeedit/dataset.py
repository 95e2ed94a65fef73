"""Normalise, deduplicate, split and count edit records (the stages' domain logic).

- :func:`normalize`: schema validation (pydantic), filters, exact then near-duplicate removal on
  ``(instruction, pre)``; every dropped record is counted by reason with a sample.
- :func:`split`: repo-disjoint ``train/dev/test`` by a seeded hash of ``repo`` (records without a
  repo are their own group); eval-only sources (CanItEdit) go to ``test`` only.
- :func:`stats`: counts per split x source x language, byte sizes, rejections by reason.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from standard_coder.codeedit.records import EVAL_ONLY_SOURCES, EditRecord

SPLITS = ("train", "dev", "test")
SAMPLE_PER_REASON = 3


@dataclass
class Rejections:
    """Dropped records: a count and a few samples per reason."""

    counts: Counter[str] = field(default_factory=Counter)
    samples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def add(self, reason: str, sample: str) -> None:
        self.counts[reason] += 1
        if len(self.samples[reason]) < SAMPLE_PER_REASON:
            self.samples[reason].append(sample[:200])

    def merge(self, other: Rejections) -> None:
        for reason, n in other.counts.items():
            self.counts[reason] += n
            room = SAMPLE_PER_REASON - len(self.samples[reason])
            self.samples[reason].extend(other.samples.get(reason, [])[: max(room, 0)])

    def to_json(self) -> dict[str, Any]:
        return {
            "counts": dict(sorted(self.counts.items())),
            "samples": {k: v for k, v in sorted(self.samples.items()) if v},
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Rejections:
        out = cls()
        out.counts.update(doc.get("counts", {}))
        for k, v in (doc.get("samples") or {}).items():
            out.samples[k] = list(v)
        return out

    def bad(self) -> int:
        """Records rejected as bad (duplicates are not bad)."""
        return sum(n for r, n in self.counts.items() if not r.startswith("duplicate"))


@dataclass(frozen=True)
class Filters:
    """What normalize keeps: byte limits, languages, no-op edits."""

    max_bytes: int = 200_000
    languages: tuple[str, ...] = ()
    drop_noop: bool = True
    near_dup_threshold: float = 0.85


def validate(candidates: Iterable[dict[str, Any]], rejects: Rejections) -> list[EditRecord]:
    """Candidates that pass the schema (the rest counted as ``schema:<field>``)."""
    out = []
    for cand in candidates:
        try:
            out.append(EditRecord.model_validate(cand))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "record"
            rejects.add(f"schema:{where}", f"{cand.get('id', '?')}: {err['msg']}")
    return out


def _key(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower())


def _shingles(text: str, k: int = 5) -> set[bytes]:
    t = _key(text)
    return {t[i : i + k].encode() for i in range(max(len(t) - k + 1, 1))}


def normalize(
    records: Iterable[EditRecord], filters: Filters, rejects: Rejections
) -> list[EditRecord]:
    """Filter, then drop exact and near duplicates of ``(instruction, pre)`` (first one wins)."""
    from datasketch import MinHash, MinHashLSH

    kept: list[EditRecord] = []
    seen: set[str] = set()
    # LSH at a lower threshold finds candidates; the exact Jaccard of the shingles decides
    lsh = MinHashLSH(threshold=max(filters.near_dup_threshold - 0.3, 0.1), num_perm=128)
    shingles: dict[str, set[bytes]] = {}
    for rec in records:
        size = len(rec.pre.encode()) + len((rec.post or "").encode())
        if size > filters.max_bytes:
            rejects.add("too_large", rec.id)
            continue
        if filters.languages and rec.language not in filters.languages:
            rejects.add("language_filtered", f"{rec.id}: {rec.language}")
            continue
        if rec.post is None and rec.source not in EVAL_ONLY_SOURCES:
            rejects.add("missing_post", rec.id)
            continue
        if filters.drop_noop and rec.post is not None and rec.post == rec.pre:
            rejects.add("noop_edit", rec.id)
            continue
        exact = hashlib.sha256(f"{rec.instruction}\0{rec.pre}".encode()).hexdigest()
        if exact in seen:
            rejects.add("duplicate_exact", rec.id)
            continue
        mine = _shingles(rec.instruction + "\n" + rec.pre)
        mh = MinHash(num_perm=128, seed=1)
        mh.update_batch(list(mine))
        near = [
            other for other in lsh.query(mh)
            if len(mine & shingles[other]) / len(mine | shingles[other])
            >= filters.near_dup_threshold
        ]  # fmt: skip
        if near:
            rejects.add("duplicate_near", f"{rec.id} ~ {near[0]}")
            continue
        seen.add(exact)
        shingles[rec.id] = mine
        lsh.insert(rec.id, mh)
        kept.append(rec)
    return kept


def assign_split(rec: EditRecord, seed: int, dev: float, test: float) -> str:
    """``train|dev|test`` for a record, by a seeded hash of its repo (or id)."""
    if rec.source in EVAL_ONLY_SOURCES:
        return "test"
    group = rec.repo or rec.id
    h = int(hashlib.sha256(f"{seed}:{group}".encode()).hexdigest()[:12], 16) / 16**12
    return "test" if h < test else "dev" if h < test + dev else "train"


def split(
    records: Iterable[EditRecord], *, seed: int, dev: float, test: float
) -> dict[str, list[EditRecord]]:
    """Repo-disjoint splits (every repo's records land in one split)."""
    out: dict[str, list[EditRecord]] = {s: [] for s in SPLITS}
    for rec in records:
        out[assign_split(rec, seed, dev, test)].append(rec)
    return out


def stats(
    splits: dict[str, list[EditRecord]], rejects: Rejections, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """``dataset_stats.json``: counts per split x source x language, bytes, rejections."""
    counts: dict[str, dict[str, dict[str, int]]] = {}
    sizes: dict[str, dict[str, int]] = {}
    repos: dict[str, set[str]] = {}
    for name, recs in splits.items():
        by: dict[str, Counter[str]] = defaultdict(Counter)
        size: Counter[str] = Counter()
        for r in recs:
            by[r.source][r.language] += 1
            size[r.source] += len(r.model_dump_json().encode()) + 1
        counts[name] = {src: dict(sorted(c.items())) for src, c in sorted(by.items())}
        sizes[name] = dict(sorted(size.items()))
        repos[name] = {r.repo or r.id for r in recs}
    overlap = sorted(
        (repos["train"] & repos["dev"]) | (repos["train"] & repos["test"])
        | (repos["dev"] & repos["test"])
    )  # fmt: skip
    return {
        "counts": counts,
        "totals": {name: len(recs) for name, recs in splits.items()},
        "bytes": sizes,
        "repos": {name: len(r) for name, r in repos.items()},
        "repo_overlap": overlap,
        "rejected": rejects.to_json(),
        **(extra or {}),
    }
