"""Compression of diffs and blobs: always readable by plain ``zlib.decompress``."""

from __future__ import annotations

import os
import zlib

import pytest

from standard_coder.sch.mining import extract

SAMPLES = [b"", b"x", b"def f():\n    return 1\n" * 300, os.urandom(5000), b"a" * 70_000]


@pytest.mark.parametrize("data", SAMPLES, ids=["empty", "one", "code", "random", "long"])
def test_zlib_fallback_round_trips(data: bytes) -> None:
    assert zlib.decompress(extract.zlib_compress(data)) == data


@pytest.mark.parametrize("data", SAMPLES, ids=["empty", "one", "code", "random", "long"])
def test_default_compressor_round_trips(data: bytes) -> None:
    assert zlib.decompress(extract.zcompress(data)) == data


def test_isal_is_used_when_installed() -> None:
    pytest.importorskip("isal.isal_zlib", reason="isal not installed", exc_type=ImportError)
    assert extract.zcompress is not extract.zlib_compress
    code = SAMPLES[2]
    assert len(extract.zcompress(code)) < len(code) // 5
