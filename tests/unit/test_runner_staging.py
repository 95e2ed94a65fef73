"""Staged outputs put in place: on the base folder's file system and across file systems."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from standard_coder.runner.staging import staged_paths, swap_cut_short, swap_in

_SHM = Path("/dev/shm")


def _stage_and_swap(cdir: Path, out_dir: Path) -> None:
    outputs = {"model": out_dir / "model" / "weights.bin", "report": out_dir / "eval.json"}
    (out_dir / "model").mkdir(parents=True)
    (out_dir / "model" / "weights.bin").write_bytes(b"old weights")
    (out_dir / "model" / "stale.txt").write_text("only the old model had this\n")
    (out_dir / "eval.json").write_text('{"old": true}\n')
    staged = staged_paths(cdir, outputs)
    staged["model"].write_bytes(b"new weights")
    (staged["model"].parent / "extra.txt").write_text("new sibling\n")
    staged["report"].write_text('{"new": true}\n')

    swap_in(cdir, outputs)

    assert (out_dir / "model" / "weights.bin").read_bytes() == b"new weights"
    assert (out_dir / "model" / "extra.txt").read_text() == "new sibling\n"
    assert (out_dir / "model" / "stale.txt").read_text() == "only the old model had this\n"
    assert (out_dir / "eval.json").read_text() == '{"new": true}\n'
    assert not (cdir / "staged").exists() and not swap_cut_short(cdir)
    leftovers = [p.name for p in out_dir.rglob("*") if p.name.startswith(".")]
    assert leftovers == []  # no `.x.old` / `.x.tmp` beside the outputs


def test_staged_outputs_replace_the_finished_ones(tmp_path: Path) -> None:
    _stage_and_swap(tmp_path / "checkpoints" / "train", tmp_path / "outputs")


@pytest.fixture
def other_file_system(tmp_path: Path) -> Iterator[Path]:
    if not _SHM.is_dir() or not os.access(_SHM, os.W_OK):
        pytest.skip("no writable /dev/shm")
    if _SHM.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("/dev/shm is on the same file system as the test folder")
    folder = _SHM / f"standard-coder-test-{uuid.uuid4().hex}"
    folder.mkdir()
    try:
        yield folder
    finally:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


def test_staged_outputs_on_another_file_system_are_copied_into_place(
    tmp_path: Path, other_file_system: Path
) -> None:
    """The outputs on a tmpfs, the checkpoints on disk: os.replace fails with EXDEV."""
    _stage_and_swap(tmp_path / "checkpoints" / "train", other_file_system / "outputs")


def test_a_folder_output_on_another_file_system_is_swapped_whole(
    tmp_path: Path, other_file_system: Path
) -> None:
    cdir = tmp_path / "checkpoints" / "train"
    real = other_file_system / "models" / "work_inference"
    real.mkdir(parents=True)
    (real / "old_author.npz").write_bytes(b"old")
    staged = staged_paths(cdir, {"wi": real})
    staged["wi"].mkdir()
    (staged["wi"] / "author.npz").write_bytes(b"new")

    swap_in(cdir, {"wi": real})

    assert sorted(p.name for p in real.iterdir()) == ["author.npz"]
    assert sorted(p.name for p in real.parent.iterdir()) == ["work_inference"]
