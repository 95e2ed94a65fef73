"""The byte-level ``git log`` parser."""

from __future__ import annotations

import io

import pytest

from standard_coder.sch.mining.gitlog import (
    MARKER,
    iter_records,
    parse_record,
    parse_tz_offset,
    section_stats,
    split_sections,
)

A = "a" * 40
B = "b" * 40
O1 = "1" * 40
O2 = "2" * 40


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("+0000", 0), ("+0530", 330), ("-0500", -300), ("-0930", -570), ("+1400", 840), ("x", 0)],
)
def test_tz_offset_is_minutes_east_of_utc(text: str, minutes: int) -> None:
    assert parse_tz_offset(text) == minutes


def record(sha: str, subject: bytes = b"subj", body: bytes = b"") -> bytes:
    head = b"\x00".join(
        [
            sha.encode(),
            B.encode(),
            b"Jos\xe9",
            b"j@x",
            b"1700000000 -0500",
            b"1700000100",
            b"c@x",
            subject,
        ]
    )
    return MARKER + head + b"\x00\n" + body


PATCH = (
    b"diff --git a/old.py b/new.py\nsimilarity index 80%\nrename from old.py\nrename to new.py\n"
    b"index 1..2 100644\n--- a/old.py\n+++ b/new.py\n@@ -1,2 +1,3 @@\n a\n-b\n+c\n+d\n"
    b"diff --git a/img.py b/img.py\nnew file mode 100644\nindex 0..3\nBinary files /dev/null"
    b" and b/img.py differ\n"
)
RAW = (
    f":100644 100644 {O1} {O2} R080\x00old.py\x00new.py\x00".encode()
    + f":000000 100644 {'0' * 40} {O2} A\x00img.py\x00\x00".encode()
)


def test_parse_record_header_raw_and_sections() -> None:
    c = parse_record(record(A, body=RAW + PATCH))
    assert (c.commit_id, c.parents, c.author_name, c.author_email) == (A, B, "Jos\ufffd", "j@x")
    assert (c.authored_at, c.author_tz_offset_min, c.committed_at) == (1700000000, -300, 1700000100)
    assert c.committer_email == "c@x"
    assert [(e.status, e.path, e.old_path) for e in c.entries] == [
        ("R080", b"new.py", b"old.py"),
        ("A", b"img.py", None),
    ]
    assert len(c.sections) == 2
    added, deleted, binary, hunks = section_stats(c.sections[0])
    assert (added, deleted, binary) == (2, 1, False)
    assert hunks == b"@@ -1,2 +1,3 @@\n a\n-b\n+c\n+d\n"
    assert section_stats(c.sections[1])[:3] == (0, 0, True)


def test_lines_looking_like_headers_inside_hunks_are_counted() -> None:
    sec = b"diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n---- x\n++++ y\n"
    assert section_stats(sec)[:2] == (1, 1)
    assert split_sections(b"no patch here") == []


def test_iter_records_splits_across_blocks_and_clips_giants() -> None:
    big = b"+" + b"x" * 3_000_000 + b"\n"
    stream = io.BytesIO(record(A, body=RAW + PATCH) + record(B, body=big) + record(O1))
    got = list(iter_records(stream, max_record_bytes=1 << 20))
    assert [parse_record(r).commit_id for r, _ in got] == [A, B, O1]
    assert [clip for _, clip in got] == [False, True, False]
    assert len(got[1][0]) <= (1 << 20) + len(MARKER) + 16


def test_iter_records_empty_stream() -> None:
    assert list(iter_records(io.BytesIO(b""), 1 << 20)) == []
