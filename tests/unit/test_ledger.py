"""SqliteLedger: a contract suite (doit's _DependencyDbTests shape) plus SQLite specifics:
batch commits under SIGKILL, corrupt files, quarantine."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from standard_coder.runner.context import Ledger
from standard_coder.runner.errors import CorruptStateError
from standard_coder.runner.ledger import FORMAT_VERSION, SqliteLedger
from standard_coder.runner.quarantine import quarantine

MakeLedger = Callable[[Path], SqliteLedger]


@pytest.fixture(params=[1, 3], ids=["per-item", "batch3"])
def make_ledger(request: pytest.FixtureRequest) -> MakeLedger:
    return lambda path: SqliteLedger(path, batch_size=request.param)


class TestLedgerContract:
    """Behaviour every ledger backend must have."""

    def test_is_a_ledger(self, tmp_path: Path, make_ledger: MakeLedger) -> None:
        with make_ledger(tmp_path / "l.sqlite") as led:
            assert isinstance(led, SqliteLedger)
            _as_protocol: Ledger = led  # type-checks against the contract
            assert len(_as_protocol) == 0

    def test_empty(self, tmp_path: Path, make_ledger: MakeLedger) -> None:
        with make_ledger(tmp_path / "l.sqlite") as led:
            assert len(led) == 0
            assert led.get("a") is None
            assert not led.is_done("a", "k")
            assert list(led.items()) == []

    def test_mark_done_and_key(self, tmp_path: Path, make_ledger: MakeLedger) -> None:
        with make_ledger(tmp_path / "l.sqlite") as led:
            led.mark_done("repo-a", "tip1", {"commits": 3})
            assert led.is_done("repo-a", "tip1")
            assert not led.is_done("repo-a", "tip2")
            assert not led.is_done("repo-b", "tip1")
            assert led.get("repo-a") == ("tip1", {"commits": 3})

    def test_new_key_replaces_record(self, tmp_path: Path, make_ledger: MakeLedger) -> None:
        with make_ledger(tmp_path / "l.sqlite") as led:
            led.mark_done("a", "k1", 1)
            led.mark_done("a", "k2", 2)
            assert len(led) == 1
            assert not led.is_done("a", "k1")
            assert led.get("a") == ("k2", 2)

    @pytest.mark.parametrize(
        "result", [None, 0, -1.5, "text", [1, "x", None], {"b": [1, 2], "a": {"n": 1.25}}, True]
    )
    def test_results_round_trip_as_json(
        self, tmp_path: Path, make_ledger: MakeLedger, result: object
    ) -> None:
        path = tmp_path / "l.sqlite"
        with make_ledger(path) as led:
            led.mark_done("x", "k", result)
        with make_ledger(path) as led:
            assert led.get("x") == ("k", result)

    def test_non_json_result_rejected(self, tmp_path: Path, make_ledger: MakeLedger) -> None:
        with make_ledger(tmp_path / "l.sqlite") as led:
            with pytest.raises(TypeError):
                led.mark_done("x", "k", object())
            assert len(led) == 0

    def test_forget(self, tmp_path: Path, make_ledger: MakeLedger) -> None:
        with make_ledger(tmp_path / "l.sqlite") as led:
            led.mark_done("a", "k")
            led.mark_done("b", "k")
            led.forget("a")
            led.forget("missing")
            assert [i for i, _, _ in led.items()] == ["b"]
            assert not led.is_done("a", "k")

    def test_items_sorted(self, tmp_path: Path, make_ledger: MakeLedger) -> None:
        with make_ledger(tmp_path / "l.sqlite") as led:
            for name in ["c", "a", "b"]:
                led.mark_done(name, f"k{name}", name.upper())
            assert list(led.items()) == [("a", "ka", "A"), ("b", "kb", "B"), ("c", "kc", "C")]

    def test_persists_across_reopen(self, tmp_path: Path, make_ledger: MakeLedger) -> None:
        path = tmp_path / "sub" / "l.sqlite"
        with make_ledger(path) as led:
            for i in range(10):
                led.mark_done(f"i{i}", "k", i)
        with make_ledger(path) as led:
            assert len(led) == 10
            assert led.get("i7") == ("k", 7)

    @pytest.mark.parametrize("kind", ["garbage", "truncated", "truncated-page", "foreign-sqlite"])
    def test_corrupted_file(self, tmp_path: Path, make_ledger: MakeLedger, kind: str) -> None:
        path = tmp_path / "l.sqlite"
        _corrupt(path, kind)
        with pytest.raises(CorruptStateError) as info:
            make_ledger(path)
        assert info.value.path == path
        assert str(path) in str(info.value)


def _corrupt(path: Path, kind: str) -> None:
    if kind == "garbage":
        path.write_bytes(b"\x00garbage, not a database" * 100)
        return
    if kind == "foreign-sqlite":
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE t (x)")
        conn.commit()
        conn.close()
        return
    with SqliteLedger(path, batch_size=100) as led:
        for i in range(3000):
            led.mark_done(f"item-{i:05d}", "k", {"pad": "x" * 60, "i": i})
    data = path.read_bytes()
    page = 4096
    cut = (len(data) // page // 2) * page if kind == "truncated-page" else len(data) * 2 // 3 + 17
    path.write_bytes(data[:cut])


def test_version_mismatch_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    SqliteLedger(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = ? WHERE name = 'version'", (str(FORMAT_VERSION + 1),))
    conn.commit()
    conn.close()
    with pytest.raises(CorruptStateError, match="version"):
        SqliteLedger(path)


def test_zero_length_file_is_a_fresh_ledger(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    path.write_bytes(b"")
    with SqliteLedger(path) as led:
        led.mark_done("a", "k")
    with SqliteLedger(path) as led:
        assert led.is_done("a", "k")


def test_wal_mode_and_commits_visible_to_other_readers(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    led = SqliteLedger(path, batch_size=2)
    reader = sqlite3.connect(path)
    try:
        assert reader.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        led.mark_done("a", "k")
        assert reader.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 0  # batch open
        assert led.is_done("a", "k")  # the writer sees its own open batch
        led.mark_done("b", "k")
        assert reader.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 2
        led.mark_done("c", "k")
        led.flush()
        assert reader.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 3
    finally:
        reader.close()
        led.close()
    led.close()  # idempotent


def test_bad_batch_size(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        SqliteLedger(tmp_path / "l.sqlite", batch_size=0)


@pytest.mark.parametrize(("batch", "marked", "expected"), [(1, 7, 7), (3, 7, 6), (10, 7, 0)])
def test_sigkill_keeps_every_committed_batch(
    tmp_path: Path, batch: int, marked: int, expected: int
) -> None:
    """A real SIGKILL mid-batch: committed batches survive, the open one is lost, file intact."""
    path = tmp_path / "l.sqlite"
    code = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from standard_coder.runner.ledger import SqliteLedger
        led = SqliteLedger(Path({str(path)!r}), batch_size={batch})
        for i in range({marked}):
            led.mark_done(f"i{{i}}", "k", i)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], env=os.environ.copy(), timeout=60)
    assert proc.returncode == -signal.SIGKILL
    with SqliteLedger(path) as led:
        assert len(led) == expected
        assert [i for i, _, _ in led.items()] == sorted(f"i{i}" for i in range(expected))


def test_quarantine_moves_file_and_sidecars(tmp_path: Path) -> None:
    path = tmp_path / "state" / "l.sqlite"
    path.parent.mkdir()
    path.write_bytes(b"garbage" * 10)
    Path(f"{path}-wal").write_bytes(b"w")
    Path(f"{path}-shm").write_bytes(b"s")
    qdir = tmp_path / "quarantine"
    moved = quarantine(path, qdir)
    assert moved.parent == qdir and moved.name.startswith("l.sqlite.")
    assert moved.read_bytes() == b"garbage" * 10
    assert Path(f"{moved}-wal").read_bytes() == b"w"
    assert Path(f"{moved}-shm").read_bytes() == b"s"
    assert not path.exists() and not Path(f"{path}-wal").exists()
    # a second quarantine within the same second never overwrites the first
    path.write_bytes(b"again")
    moved2 = quarantine(path, qdir)
    assert moved2 != moved and moved2.read_bytes() == b"again"
    # the engine's recovery: quarantine, then a clean ledger in the same place
    with SqliteLedger(path) as led:
        assert len(led) == 0


_ops = st.lists(
    st.tuples(
        st.sampled_from(["mark", "forget", "reopen"]),
        st.sampled_from(["a", "b", "c", "d"]),
        st.sampled_from(["k1", "k2"]),
        st.integers(-5, 5),
    ),
    max_size=25,
)


@settings(max_examples=40, deadline=None)
@given(ops=_ops, batch=st.integers(1, 4))
def test_matches_a_dict_model(tmp_path_factory: pytest.TempPathFactory, ops, batch) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("prop") / "l.sqlite"
    model: dict[str, tuple[str, int]] = {}
    led = SqliteLedger(path, batch_size=batch)
    try:
        for op, item, key, value in ops:
            if op == "mark":
                led.mark_done(item, key, value)
                model[item] = (key, value)
            elif op == "forget":
                led.forget(item)
                model.pop(item, None)
            else:
                led.close()
                led = SqliteLedger(path, batch_size=batch)
            assert len(led) == len(model)
        assert list(led.items()) == [(i, k, v) for i, (k, v) in sorted(model.items())]
        for item in "abcd":
            for key in ("k1", "k2"):
                assert led.is_done(item, key) == (model.get(item, ("", 0))[0] == key)
    finally:
        led.close()
