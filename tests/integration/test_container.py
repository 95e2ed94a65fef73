"""The CPU image, built and run with podman: the demo in it writes to a folder on the host, and
a second run skips every stage.

Runs where podman works and the base image is there (``localhost/debian-base:bookworm``, or its
tarball cached by ``scripts/container-base.sh`` in ``~/.cache/standard-coder/``, imported here);
skipped with the reason printed otherwise (``pytest -rs``). The image is built by ``make build``,
run by ``make deploy``: the same commands a user types.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PODMAN = ["podman", "--storage-driver", "vfs"]
BASE = os.environ.get("SC_CONTAINER_BASE", "localhost/debian-base:bookworm")
IMAGE = "localhost/standard-coder:ci"
CACHE = Path(os.environ.get("BASE_CACHE", Path.home() / ".cache" / "standard-coder"))

pytestmark = [pytest.mark.container, pytest.mark.slow]


def _podman_problem() -> str | None:
    """Why podman cannot build here, or None."""
    if shutil.which("podman") is None:
        return "podman is not installed (apt-get install podman)"
    if shutil.which("make") is None:
        return "GNU make is not installed"
    info = subprocess.run([*PODMAN, "info"], capture_output=True, text=True, timeout=120)
    if info.returncode != 0:
        return f"podman does not work here: {(info.stderr.strip().splitlines() or ['?'])[-1]}"
    for where in (_storage_root(), Path(os.environ.get("TMPDIR", "/var/tmp"))):
        free = shutil.disk_usage(where).free if where.exists() else None
        if free is not None and free < MIN_FREE_BYTES:
            return (f"only {free / 2**30:.1f} GiB free under {where}: a vfs build of the image "
                    f"needs about {MIN_FREE_BYTES / 2**30:.0f} GiB")  # fmt: skip
    if subprocess.run([*PODMAN, "image", "exists", BASE], timeout=60).returncode == 0:
        return None
    tarball = CACHE / "debian-base-bookworm.tar.gz"
    if not tarball.is_file():
        return f"no base image {BASE} and no cached {tarball} (make base-image makes both)"
    env = {**os.environ, "PODMAN": " ".join(PODMAN), "BASE_IMAGE": BASE, "BASE_CACHE": str(CACHE)}
    imported = subprocess.run(
        [str(ROOT / "scripts" / "container-base.sh"), "--import-only"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    if imported.returncode != 0:
        return f"importing {tarball} failed: {imported.stderr.strip()[-300:]}"
    return None


MIN_FREE_BYTES = 8 * 2**30
"""vfs copies every layer whole: the base (0.3 GB), the builder stage with every wheel (2.4 GB),
the runtime stage (1.7 GB) and podman's temporary copy of a layer being committed."""


def _storage_root() -> Path:
    """Where podman keeps images (``podman info``'s graphRoot), else its default."""
    out = subprocess.run([*PODMAN, "info", "--format", "{{.Store.GraphRoot}}"],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    root = Path(out.stdout.strip() or "/var/lib/containers/storage")
    return root if root.exists() else root.parent


def make(*args: str, timeout: float) -> tuple[subprocess.CompletedProcess[str], float]:
    t0 = time.monotonic()
    out = subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), f"PY={sys.executable}", *args],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=timeout,
    )
    return out, time.monotonic() - t0


@pytest.fixture
def image() -> Iterator[str]:
    """The image's tag; removed afterwards with the dangling stage images (vfs: ~2 GB each)."""
    problem = _podman_problem()
    if problem:
        pytest.skip(problem)
    _remove_working_containers()
    yield IMAGE
    subprocess.run([*PODMAN, "rmi", "-f", IMAGE], capture_output=True, timeout=300)
    _remove_working_containers()
    subprocess.run([*PODMAN, "image", "prune", "-f"], capture_output=True, timeout=300)


def _remove_working_containers() -> None:
    """Remove buildah's working containers that a failed or killed build leaves behind.

    ``--force-rm`` covers a build that fails, not one killed by a timeout; with vfs each left
    container holds a full copy of its stage (~2 GB), and a few of them filled this machine's disk
    in one CI run (``no space left on device`` while committing a layer).
    """
    listed = subprocess.run(
        [*PODMAN, "ps", "--all", "--external", "--format", "{{.ID}} {{.Names}}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    stale = [
        line.split()[0]
        for line in listed.stdout.splitlines()
        if len(line.split()) == 2 and "-working-container" in line.split()[1]
    ]
    if stale:
        subprocess.run([*PODMAN, "rm", "-f", *stale], capture_output=True, timeout=300)


# The suite's 600 s per test is too short for a podman build with vfs on 2 shared cores.
@pytest.mark.timeout(1800)
def test_image_builds_runs_the_demo_and_skips_every_stage_on_rerun(
    tmp_path: Path, image: str
) -> None:
    built, build_s = make("build", f"BASE_IMAGE={BASE}", f"IMAGE={image}", timeout=900)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    size = subprocess.run(
        [*PODMAN, "image", "inspect", "--format", "{{.Size}}", image],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # a pipeline whose extra the image lacks (EXTRAS=sch,vision): one line, exit 2, no container
    audio = make("deploy", "PIPELINE=audio", f"IMAGE={image}", f"OUT={tmp_path / 'a'}", timeout=120)
    assert audio[0].returncode == 2, audio[0].stdout + audio[0].stderr
    assert f"deploy: {image} has the extras sch,vision, not audio's: make build " in audio[0].stderr
    assert not (tmp_path / "a").exists()
    out = tmp_path / "out"
    # the vision demo at its tiny size: the flagship's takes minutes more on 2 shared cores
    deploy = ("deploy", "PIPELINE=vision", f"IMAGE={image}", f"OUT={out}", "DEMO_ARGS=--size tiny")
    first, first_s = make(*deploy, timeout=900)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    # what the demo wrote inside the container is on the host
    base = out / "sc-output"
    assert (out / "pipeline_config.toml").is_file()
    assert (base / "reports" / "index.html").stat().st_size > 0
    predictions = base / "predictions" / "test" / "predictions.jsonl"
    assert len(predictions.read_text().splitlines()) == 128  # tiny_infer_subset
    assert "ok: 3 ran, 0 skipped" in first.stderr + first.stdout
    again, again_s = make(*deploy, timeout=600)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    text = again.stdout + again.stderr
    assert "ok: 0 ran, 3 skipped" in text, text[-3000:]
    for stage in ("prepare", "train", "evaluate"):
        assert f"[skip] {stage}: up to date" in text, text[-3000:]
    figures = {
        "build_s": round(build_s, 1),
        "image_bytes": int(size.stdout.strip() or 0),
        "demo_tiny_s": round(first_s, 1),
        "rerun_s": round(again_s, 1),
    }
    print("container:", json.dumps(figures))
