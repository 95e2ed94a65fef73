"""Glossary: find the terms of a transcript and give every mention the term's spelling.

Terms come from three places: the user's list (``extra_terms``, always kept, their spelling
wins), capitalised phrases (names: ``Ada Lovelace``, ``Demucs``) and frequent content words.
Applying the glossary rewrites exact mentions in any case and near-misses (difflib similarity at
or above a threshold, e.g. ``Demucks`` -> ``Demucs``) to the term's spelling. Pure Python.

Example:
    >>> terms = build_terms(segments, extra_terms=["WhisperX"], min_count=2, max_terms=50)
    >>> fixed, report = apply_terms(segments, terms, threshold=0.8)
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

from standard_coder.audio.transcript import Segment, Word

__all__ = ["Term", "apply_terms", "build_terms", "terms_tsv"]

WORD = re.compile(r"[A-Za-z][A-Za-z0-9'’-]*")
STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "let",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "okay",
        "yes",
        "yeah",
        "well",
        "really",
        "thing",
        "things",
        "going",
        "get",
        "got",
        "one",
        "two",
        "three",
        "like",
        "know",
        "think",
        "right",
        "say",
        "said",
        "see",
        "look",
        "make",
        "made",
        "way",
        "time",
        "then",
    ]
)


@dataclass
class Term:
    term: str
    source: str  # "user", "capitalised" or "frequency"
    count: int = 0
    variants: list[str] = field(default_factory=list)


def _sentences(text: str) -> list[list[str]]:
    return [WORD.findall(part) for part in re.split(r"[.!?;:]+", text)]


def build_terms(
    segments: list[Segment], *, extra_terms: list[str], min_count: int = 2, max_terms: int = 50
) -> list[Term]:
    """The term list: user terms first, then capitalised phrases, then frequent words."""
    words = [w for s in segments for w in WORD.findall(s.text)]
    lower_counts = Counter(w.lower() for w in words)
    caps: Counter[str] = Counter()
    for seg in segments:
        for sentence in _sentences(seg.text):
            run: list[str] = []
            for i, w in enumerate([*sentence, ""]):
                # a capital after the sentence start marks a name; at the start only when the
                # word is capitalised elsewhere too (counted below)
                capital = w[:1].isupper() and w.lower() not in STOPWORDS
                if capital and (i > 0 or run or lower_counts[w.lower()] > 1):
                    run.append(w)
                    continue
                if run:
                    caps[" ".join(run[:3])] += 1
                run = []
    terms: dict[str, Term] = {}
    for given in extra_terms:
        name = given.strip()
        if name and name.lower() not in terms:
            terms[name.lower()] = Term(name, "user")
    found: list[Term] = [Term(p, "capitalised", n) for p, n in caps.most_common() if n >= min_count]
    found += [
        Term(w, "frequency", n)
        for w, n in lower_counts.most_common()
        if n >= min_count and len(w) >= 4 and w not in STOPWORDS and not w.isdigit()
    ]
    named = [t for t in [*terms.values(), *found] if t.source != "frequency"]
    inside = {w.lower() for t in named for w in t.term.split()}
    for t in found:
        if t.source == "frequency" and t.term.lower() in inside:
            continue
        if len(terms) >= max_terms + sum(x.source == "user" for x in terms.values()):
            break
        if t.term.lower() not in terms:
            terms[t.term.lower()] = t
    return list(terms.values())


def _similar(a: str, b: str) -> float:
    return SequenceMatcher(None, a.lower(), b.lower()).ratio()


def _fix_tokens(
    tokens: list[str], terms: list[Term], threshold: float
) -> list[tuple[int, int, str]]:
    """Spans ``(i, j, spelling)`` of tokens[i:j] that are mentions of a term."""
    spans: list[tuple[int, int, str]] = []
    i = 0
    by_len = sorted(terms, key=lambda t: -len(t.term.split()))
    while i < len(tokens):
        for t in by_len:
            n = len(t.term.split())
            cand = " ".join(tokens[i : i + n])
            if len(tokens) - i < n or not cand:
                continue
            exact = cand.lower() == t.term.lower()
            glued = "".join(tokens[i : i + n + 1])  # "Whisper X" heard for "WhisperX"
            if not exact and len(tokens) - i > n and glued.lower() == t.term.lower():
                spans.append((i, i + n + 1, t.term))
                i += n + 1
                break
            # near-misses only for user and capitalised terms of 4+ letters (names, jargon)
            near = (
                not exact
                and t.source != "frequency"
                and len(t.term) >= 4
                and cand[:1].lower() == t.term[:1].lower()
                and _similar(cand, t.term) >= threshold
            )
            if exact or near:
                spans.append((i, i + n, t.term))
                i += n
                break
        else:
            i += 1
    return spans


def _rewrite(text: str, terms: list[Term], threshold: float) -> tuple[str, list[tuple[str, str]]]:
    matches = list(WORD.finditer(text))
    spans = _fix_tokens([m.group() for m in matches], terms, threshold)
    out, pos, changes = [], 0, []
    for i, j, spelling in spans:
        a, b = matches[i].start(), matches[j - 1].end()
        out += [text[pos:a], spelling]
        changes.append((text[a:b], spelling))
        pos = b
    out.append(text[pos:])
    return "".join(out), changes


def _rewrite_words(words: list[Word], terms: list[Term], threshold: float) -> list[Word]:
    """Words with the glossary's spellings; a mention spread over several words ("Whisper X")
    becomes one word spanning their times."""
    owner: list[int] = []
    tokens: list[str] = []
    for k, w in enumerate(words):
        found = WORD.findall(w.word)
        tokens += found
        owner += [k] * len(found)
    out: list[Word] = []
    k = 0
    for i, j, spelling in _fix_tokens(tokens, terms, threshold):
        first, last = owner[i], owner[j - 1]
        out += words[k:first]
        head = WORD.search(words[first].word)
        tail = list(WORD.finditer(words[last].word))[-1]
        text = words[first].word[: head.start() if head else 0] + spelling
        text += words[last].word[tail.end() :]
        out.append(Word(text, words[first].start, words[last].end))
        k = last + 1
    return out + words[k:]


def apply_terms(
    segments: list[Segment], terms: list[Term], *, threshold: float = 0.8
) -> tuple[list[Segment], dict[str, Any]]:
    """Segments with every mention spelled as its term, and a coverage report.

    User and capitalised terms set the spelling of their mentions; frequent words are counted
    and listed (their case is left as spoken).
    """
    spelled = [t for t in terms if t.source != "frequency"]
    counts: Counter[str] = Counter()
    for seg in segments:  # mentions of every term, any case, exact words only
        lower = [w.lower() for w in WORD.findall(seg.text)]
        for t in terms:
            parts = t.term.lower().split()
            counts[t.term] += sum(
                lower[i : i + len(parts)] == parts for i in range(len(lower) - len(parts) + 1)
            )
    fixed: list[Segment] = []
    replaced: Counter[tuple[str, str]] = Counter()
    with_terms = 0
    for seg in segments:
        text, changes = _rewrite(seg.text, spelled, threshold)
        fixed.append(
            Segment(seg.start, seg.end, text, _rewrite_words(seg.words, spelled, threshold))
        )
        low = text.lower()
        with_terms += any(re.search(rf"\b{re.escape(t.term.lower())}\b", low) for t in terms)
        for original, spelling in changes:
            if original != spelling:
                replaced[(original, spelling)] += 1
                if original.lower() != spelling.lower():
                    counts[spelling] += 1  # a near-miss is a mention too
    for t in terms:
        t.count = counts[t.term]
        t.variants = sorted({o for (o, s) in replaced if s == t.term})
    report = {
        "segments": len(segments),
        "segments_with_terms": with_terms,
        "coverage_pct": round(100.0 * with_terms / len(segments), 2) if segments else 0.0,
        "terms": len(terms),
        "unused_terms": [t.term for t in terms if not counts[t.term]],
        "replacements": [
            {"from": o, "to": s, "count": n} for (o, s), n in sorted(replaced.items())
        ],
    }
    return fixed, report


def terms_tsv(terms: list[Term]) -> str:
    """``term, source, count, variants`` as tab-separated text with a header."""
    rows = ["term\tsource\tcount\tvariants"]
    rows += [f"{t.term}\t{t.source}\t{t.count}\t{'|'.join(t.variants)}" for t in terms]
    return "\n".join(rows) + "\n"
