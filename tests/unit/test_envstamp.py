"""Env stamps: keys, values, config and environment hashes, code version from a real git repo."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import pytest
from gitfix import committed_repo, git

from standard_coder.runner.envstamp import (
    KEY_PACKAGES,
    STAMP_FILE,
    build_env_stamp,
    canonical_json,
    code_origin,
    config_hash,
    env_hash,
    finish_env_stamp,
    installed_packages,
    parse_time,
    read_env_stamp,
    write_env_stamp,
)

EXPECTED_KEYS = {
    "schema_version",
    "run_id",
    "config_hash",
    "code_version",
    "python_version",
    "python_implementation",
    "python_executable",
    "platform",
    "system",
    "architecture",
    "device_kind",
    "device_name",
    "packages",
    "env_hash",
    "n_installed_packages",
    "seed",
    "precision",
    "started_at",
    "ended_at",
    "duration_s",
    "status",
    "config",
}


def _stamp(**kw: object) -> dict:
    args: dict = dict(
        run_id="r1",
        config={"a": 1},
        seed=7,
        device_kind="cpu",
        device_name="test cpu",
        started_at=1_700_000_000.0,
        project_root=None,
    )
    args.update(kw)
    return build_env_stamp(**args)


def test_keys_and_values() -> None:
    s = _stamp()
    assert set(s) == EXPECTED_KEYS
    assert s["run_id"] == "r1" and s["seed"] == 7 and s["precision"] == "fp32"
    assert s["device_kind"] == "cpu" and s["device_name"] == "test cpu"
    assert s["python_version"] == platform.python_version()
    assert s["architecture"] == platform.machine() and s["platform"] == platform.platform()
    assert set(s["packages"]) == set(KEY_PACKAGES)
    assert s["packages"]["torch"] == importlib.metadata.version("torch")
    assert s["packages"]["scikit-learn"] == importlib.metadata.version("scikit-learn")
    assert s["started_at"] == "2023-11-14T22:13:20.000+00:00"
    assert parse_time(s["started_at"]) == pytest.approx(1_700_000_000.0)
    assert s["ended_at"] is None and s["status"] == "running"
    assert len(s["config_hash"]) == 64 and len(s["env_hash"]) == 64
    assert _stamp(precision="bf16")["precision"] == "bf16"
    json.dumps(s)  # serialisable as is


def test_config_hash_sensitive_to_values_not_key_order() -> None:
    a = {"training": {"lr": 0.001, "epochs": 5}, "outputs": {"base_dir": Path("/x/out")}}
    b = {"outputs": {"base_dir": "/x/out"}, "training": {"epochs": 5, "lr": 0.001}}
    c = {"training": {"lr": 0.01, "epochs": 5}, "outputs": {"base_dir": "/x/out"}}
    assert config_hash(a) == config_hash(b)
    assert config_hash(a) != config_hash(c)
    assert canonical_json(b) == (
        '{"outputs":{"base_dir":"/x/out"},"training":{"epochs":5,"lr":0.001}}'
    )
    assert config_hash(a) == hashlib.sha256(canonical_json(b).encode()).hexdigest()
    assert _stamp(config=a)["config_hash"] == _stamp(config=b)["config_hash"]
    assert _stamp(config=a)["config_hash"] != _stamp(config=c)["config_hash"]


def test_env_hash_stable_and_content_based() -> None:
    pkgs = installed_packages()
    assert pkgs == sorted(pkgs) and any(p.startswith("torch==") for p in pkgs)
    assert env_hash() == env_hash() == _stamp()["env_hash"]
    assert env_hash() == hashlib.sha256("\n".join(pkgs).encode()).hexdigest()
    assert env_hash(list(reversed(pkgs))) == env_hash(pkgs)
    assert env_hash([*pkgs, "extra-pkg==1.0"]) != env_hash(pkgs)


def test_code_version_from_real_git_checkout(tmp_path: Path) -> None:
    repo = committed_repo(tmp_path)
    head = git(repo, "rev-parse", "HEAD")
    cv = code_origin(repo)
    assert cv == {
        "source": "git",
        "git_commit": head,
        "git_dirty": False,
        "package_version": cv["package_version"],
    }
    (repo / "new_output.txt").write_text("untracked")  # outputs do not make it dirty
    assert code_origin(repo)["git_dirty"] is False
    (repo / "m.py").write_text("x = 2\n")
    assert code_origin(repo)["git_dirty"] is True
    assert _stamp(project_root=repo)["code_version"]["git_commit"] == head


def test_code_version_without_git_is_package_version(tmp_path: Path) -> None:
    from standard_coder import __version__

    cv = code_origin(tmp_path)
    assert cv["source"] == "package" and cv["git_commit"] is None
    assert cv["package_version"] == __version__


def test_write_finish_read(tmp_path: Path) -> None:
    run_dir = tmp_path / "runs" / "r1"
    write_env_stamp(run_dir, _stamp())
    assert [p.name for p in run_dir.iterdir()] == [STAMP_FILE]
    done = finish_env_stamp(
        run_dir, 1_700_000_090.5, status="completed", stage_fingerprints={"mine": "f1"}
    )
    finish_env_stamp(run_dir, 1_700_000_091.0, stage_fingerprints={"train": "f2"})
    back = read_env_stamp(run_dir)
    assert done["duration_s"] == 90.5
    assert back["status"] == "completed" and back["duration_s"] == 91.0
    assert back["stage_fingerprints"] == {"mine": "f1", "train": "f2"}
    assert sorted(p.name for p in run_dir.iterdir()) == [STAMP_FILE]
    (run_dir / STAMP_FILE).write_text("{trunc")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_env_stamp(run_dir)
    for data, cause in (
        (b'{"run_id": "r",', "not valid JSON (it ends too early)"),
        (b"\xff\x00", "not valid JSON (not UTF-8 text)"),
        (b'["r"]', "the env stamp file is a JSON array, not an object"),
    ):
        (run_dir / STAMP_FILE).write_bytes(data)
        with pytest.raises(ValueError) as info:
            read_env_stamp(run_dir)
        assert str(info.value) == f"{run_dir / STAMP_FILE}: {cause}"
    (run_dir / STAMP_FILE).unlink()
    with pytest.raises(FileNotFoundError):
        read_env_stamp(run_dir)


def test_no_heavy_imports(tmp_path: Path) -> None:
    code = (
        "import sys, time\n"
        "from standard_coder.runner.envstamp import build_env_stamp\n"
        "build_env_stamp(run_id='r', config={}, seed=1, device_kind='cpu', device_name='c',"
        " started_at=time.time())\n"
        "heavy = [m for m in ('torch', 'numpy', 'sklearn', 'scipy', 'pydantic', 'matplotlib',"
        " 'tensorboard', 'numba') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    assert time.perf_counter() - t0 < 10


def test_device_name_and_device_resolved_at_the_end(tmp_path: Path) -> None:
    from standard_coder.runner.envstamp import device_name

    assert device_name("cpu").strip()
    assert "mps" in device_name("mps")
    run_dir = tmp_path / "r"
    write_env_stamp(run_dir, _stamp(device_kind="auto", device_name="auto"))
    s = finish_env_stamp(run_dir, 1_700_000_001.0, device_kind="cpu", device_name="Some CPU")
    assert (s["device_kind"], s["device_name"]) == ("cpu", "Some CPU")


def test_fast_package_scan_matches_importlib_metadata() -> None:
    from standard_coder.runner.envstamp import _normalize, package_versions

    slow = {
        f"{_normalize(d.metadata['Name'])}=={d.version}"
        for d in importlib.metadata.distributions()
        if d.metadata and d.metadata["Name"]
    }
    assert set(installed_packages()) == slow
    for name, version in package_versions().items():
        try:
            assert version == importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            assert version is None


def test_package_scan_cache_is_reused_and_invalidated(tmp_path: Path) -> None:
    """The cached scan equals a fresh one, and a changed sys.path folder forces a rescan."""
    import json as _json
    import sys

    from standard_coder.runner import envstamp

    cache = tmp_path / "distributions.json"
    fresh = envstamp._scan_installed()
    assert envstamp._scan_distributions(cache) == fresh
    doc = _json.loads(cache.read_text())
    doc["dists"] = {"only-this": "1.0"}
    cache.write_text(_json.dumps(doc))
    assert envstamp._scan_distributions(cache) == {"only-this": "1.0"}  # reused
    extra = tmp_path / "site"
    extra.mkdir()
    sys.path.append(str(extra))
    try:
        assert envstamp._scan_distributions(cache) == fresh  # sys.path changed: rescanned
    finally:
        sys.path.remove(str(extra))
