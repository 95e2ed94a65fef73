"""Compression of diffs and blobs: always readable by plain ``zlib.decompress``, and the same
bytes for the same content in any process or thread (two mines of one history store the same
bytes: docs/mining.md)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zlib
from concurrent.futures import ThreadPoolExecutor

import pytest

from standard_coder.sch.mining import extract

SAMPLES = [b"", b"x", b"def f():\n    return 1\n" * 300, os.urandom(5000), b"a" * 70_000]


@pytest.mark.parametrize("data", SAMPLES, ids=["empty", "one", "code", "random", "long"])
def test_default_compressor_round_trips(data: bytes) -> None:
    assert zlib.decompress(extract.zcompress(data)) == data


def test_stored_bytes_are_the_standard_librarys_in_any_thread_or_process() -> None:
    assert extract.zcompress is extract.zlib_compress
    texts = [(f"def f{i}(x):\n    return x * {i}\n" * (1 + i % 40)).encode() for i in range(300)]
    serial = [extract.zcompress(t) for t in texts]
    assert all(len(c) < len(t) for c, t in zip(serial, texts, strict=True) if len(t) > 200)
    with ThreadPoolExecutor(max_workers=4) as ex:
        threaded = list(ex.map(extract.zcompress, reversed(texts)))[::-1]
    assert threaded == serial
    code = (
        "import hashlib, sys\n"
        "from standard_coder.sch.mining.extract import zcompress\n"
        "junk = [bytes(range(256)) * k for k in range(1, 400)]\n"  # a heap unlike this one's
        "texts = [(f'def f{i}(x):\\n    return x * {i}\\n' * (1 + i % 40)).encode()"
        " for i in range(300)]\n"
        "print(hashlib.sha256(b''.join(zcompress(t) for t in texts)).hexdigest())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == hashlib.sha256(b"".join(serial)).hexdigest()
