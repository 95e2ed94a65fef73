"""The content-addressed stage cache through the real CLI, on the command-pipeline example.

- local: switching a param back restores the earlier outputs (``cache_pulled``, no
  ``stage_running``), and ``status`` says so first;
- remote (``file://``, a real SFTP server: OpenSSH's ``sshd`` on 127.0.0.1, and a real S3 server:
  moto's standalone server from PyPI, on 127.0.0.1, through s3fs): a second base
  folder pulls every stage; a corrupted or truncated remote object is detected and recomputed.
"""

from __future__ import annotations

import getpass
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from proctools import child_env

pytestmark = [pytest.mark.integration]

HERE = Path(__file__).parent
EXAMPLE = HERE.parents[1] / "examples" / "command_pipeline"
STAGES = ["prepare", "featurize", "train"]
OUTS = ["out/prepared.json", "out/features.json", "out/model.json"]


def _env() -> dict[str, str]:
    return child_env()


def project(root: Path, cache: str = "") -> Path:
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("sc-output", "out"))
    config = root / "pipeline.toml"
    config.write_text(config.read_text() + "\n" + cache, encoding="utf-8")
    return config


def cli(command: str, config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "standard_coder", command, "--config", str(config), *args]
    return subprocess.run(
        cmd, capture_output=True, text=True, env=_env(), timeout=300, cwd=config.parent
    )


def events(config: Path) -> list[dict[str, Any]]:
    path = config.parent / "sc-output" / "logs" / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def last_run(config: Path) -> list[dict[str, Any]]:
    evs = events(config)
    run_id = evs[-1]["run_id"]
    return [e for e in evs if e["run_id"] == run_id]


def named(evs: list[dict[str, Any]], event: str) -> list[str]:
    return [e["stage"] for e in evs if e["event"] == event]


def outputs(config: Path) -> dict[str, bytes]:
    return {o: (config.parent / o).read_bytes() for o in OUTS}


def test_switching_a_param_back_restores_from_the_local_cache(tmp_path: Path) -> None:
    config = project(tmp_path / "p", "[cache]\nenable = true\n")
    assert cli("pipeline", config).returncode == 0
    first = outputs(config)
    assert named(last_run(config), "cache_pushed") == STAGES
    assert (tmp_path / "p" / "sc-output" / "run-cache" / "entries").is_dir()
    done = cli("pipeline", config, "--set", "params.train.epochs=5")
    assert done.returncode == 0, done.stderr
    assert named(last_run(config), "stage_running") == ["train"]
    assert outputs(config)["out/model.json"] != first["out/model.json"]

    status = cli("status", config, "--json")
    rows = {r["stage"]: r for r in json.loads(status.stdout)["stages"]}
    assert rows["train"]["reason"].startswith("would restore from cache (local)"), rows
    assert cli("status", config).stdout.count("would restore from cache") == 1

    done = cli("pipeline", config)  # epochs back to 2
    assert done.returncode == 0, done.stderr
    evs = last_run(config)
    assert named(evs, "stage_running") == []
    pulled = [e for e in evs if e["event"] == "cache_pulled"]
    assert [(e["stage"], e["source"]) for e in pulled] == [("train", "local")]
    assert "[restore] train: restored from cache (local)" in done.stderr  # not just "[run]"
    assert outputs(config) == first
    # restored outputs are recorded like computed ones: the next run skips everything
    assert cli("pipeline", config).returncode == 0
    assert named(last_run(config), "stage_skipped") == STAGES


def test_cache_is_off_by_default_and_bad_settings_are_one_line(tmp_path: Path) -> None:
    for name, cache in (("p", ""), ("r", f'[cache]\nenable = false\nremote = "{tmp_path}"\n')):
        config = project(tmp_path / name, cache)
        assert cli("pipeline", config).returncode == 0
        assert named(last_run(config), "cache_pushed") == []
        assert not (tmp_path / name / "sc-output" / "run-cache").exists()
    bad = project(tmp_path / "q", '[cache]\nremote = ""\n')
    done = cli("pipeline", bad)
    assert done.returncode == 2 and "cache.remote" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def _objects(remote: Path) -> list[Path]:
    return sorted(p for p in (remote / "objects").rglob("*") if p.is_file())


def _share(tmp_path: Path, url: str, options: str = "") -> tuple[Path, Path]:
    cache = f'[cache]\nremote = "{url}"\n{options}'
    return project(tmp_path / "a", cache), project(tmp_path / "b", cache)


def _second_pulls_everything(a: Path, b: Path) -> None:
    done = cli("pipeline", a)
    assert done.returncode == 0, done.stderr
    pushed = [e for e in last_run(a) if e["event"] == "cache_pushed"]
    assert [(e["stage"], e["to"]) for e in pushed] == [(s, "local+remote") for s in STAGES]
    status = cli("status", b, "--json")
    rows = {r["stage"]: r["reason"] for r in json.loads(status.stdout)["stages"]}
    assert rows["prepare"].startswith("would restore from cache (remote)"), rows
    done = cli("pipeline", b)
    assert done.returncode == 0, done.stderr
    evs = last_run(b)
    assert named(evs, "stage_running") == []
    pulled = [(e["stage"], e["source"]) for e in evs if e["event"] == "cache_pulled"]
    assert pulled == [(s, "remote") for s in STAGES]
    assert outputs(b) == outputs(a)
    # restores are said apart from skips (they read "ok: 0 ran, 3 skipped")
    assert "ok: 0 ran, 3 restored from the run cache, 0 skipped (run " in done.stderr


def test_second_base_folder_pulls_every_stage_from_a_file_remote(tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    a, b = _share(tmp_path, remote.as_uri())
    _second_pulls_everything(a, b)
    # no temporary upload is left visible under a final name
    assert not [p for p in remote.rglob("*") if p.name.startswith(".tmp-")]
    entries = sorted((remote / "entries").glob("*.json"))
    assert len(entries) == 3


@pytest.mark.parametrize("damage", ["corrupt", "truncate"])
def test_damaged_remote_object_is_detected_and_recomputed(tmp_path: Path, damage: str) -> None:
    remote = tmp_path / "remote"
    a, b = _share(tmp_path, remote.as_uri())
    assert cli("pipeline", a).returncode == 0
    model_sha = _model_sha(a)
    victim = next(p for p in _objects(remote) if p.name == model_sha)
    data = victim.read_bytes()
    if damage == "corrupt":
        victim.write_bytes(bytes([data[0] ^ 0xFF]) + data[1:])
    else:
        victim.write_bytes(data[: len(data) // 2])
    done = cli("pipeline", b)
    assert done.returncode == 0, done.stderr
    evs = last_run(b)
    assert named(evs, "cache_corrupt") == ["train"]
    assert named(evs, "stage_running") == ["train"]  # the others were pulled
    assert outputs(b) == outputs(a)
    # the bad object was replaced by the recomputed stage's push
    assert victim.read_bytes() == data


def test_a_damaged_local_object_is_pulled_again_from_the_remote(tmp_path: Path) -> None:
    """A local object that fails its checksum was deleted and the stage ran, though the
    remote held a good copy: the remote's is pulled, the stage does not run."""
    remote = tmp_path / "remote"
    a, _ = _share(tmp_path, remote.as_uri())
    assert cli("pipeline", a).returncode == 0
    first = outputs(a)
    model_sha = _model_sha(a)
    local = [p for p in (a.parent / "sc-output").rglob(model_sha) if p.is_file()]
    assert local, "the local store holds the model"
    for p in local:
        p.write_bytes(b"x" + p.read_bytes()[1:])
    (a.parent / "out" / "model.json").unlink()
    done = cli("pipeline", a)
    assert done.returncode == 0, done.stderr
    evs = last_run(a)
    assert named(evs, "cache_corrupt") == ["train"] and named(evs, "stage_running") == []
    pulled = [(e["stage"], e["source"]) for e in evs if e["event"] == "cache_pulled"]
    assert pulled == [("train", "remote")], pulled
    assert "trying the remote" in " ".join(done.stderr.split())
    assert outputs(a) == first


def test_a_remote_that_cannot_be_used_is_said_once_a_run(tmp_path: Path) -> None:
    """A remote under a plain file: every stage runs and stores locally, and the run said so
    twice per stage (pull and push); once a kind is enough."""
    (tmp_path / "plain").write_text("not a folder")
    config = project(
        tmp_path / "p", f'[cache]\nremote = "{(tmp_path / "plain" / "rc").as_uri()}"\n'
    )
    done = cli("pipeline", config)
    assert done.returncode == 0, done.stderr
    said = [line for line in done.stderr.splitlines() if "run cache" in line]
    # once for pulling, once for pushing, each saying what it means for the run (a remote
    # that only refuses pushes still restores: "every stage runs" would be wrong there)
    assert len(said) == 2, said
    assert "said once this run: stages run instead of restoring from it" in said[0], said
    assert "said once this run: results stay in the local cache only" in said[1], said
    assert named(last_run(config), "stage_running") == STAGES


def test_a_remote_host_that_never_answers_is_tried_once_a_kind_without_tracebacks(
    tmp_path: Path,
) -> None:
    """An ``sftp://`` remote whose port accepts and never speaks SSH: each try waited its
    timeout twice a stage (91 s for three stages of 0.2 s) and paramiko's own log printed a
    dozen tracebacks. Now the pull and the push are each tried once a run (one warning each),
    and the transport's log stays off the console. A real listening socket counts the tries."""
    import socket
    import threading

    pytest.importorskip("paramiko")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    tries: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        while not done.is_set():
            try:
                tries.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    port = server.getsockname()[1]
    quick = "{ banner_timeout = 1, timeout = 1, auth_timeout = 1 }"
    config = project(tmp_path / "p", f'[cache]\nremote = "sftp://me@127.0.0.1:{port}/rc"\n'
                     f"remote_options = {quick}\n")  # fmt: skip
    try:
        ran = cli("pipeline", config)
    finally:
        done.set()
        thread.join()
        server.close()
        for conn in tries:
            conn.close()
    assert ran.returncode == 0, ran.stderr
    said = [line for line in ran.stderr.splitlines() if "run cache" in line]
    assert len(said) == 2 and "Traceback" not in ran.stderr and "paramiko" not in ran.stderr
    assert "Exception (client)" not in ran.stderr, ran.stderr
    assert len(tries) == 2, len(tries)  # one pull, one push: not two a stage
    assert named(last_run(config), "stage_running") == STAGES


def _model_sha(config: Path) -> str:
    import hashlib

    return hashlib.sha256((config.parent / "out" / "model.json").read_bytes()).hexdigest()


# ------------------------------------------------------------------ a real SFTP server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def sftp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """OpenSSH's sshd (Debian's openssh-server) on 127.0.0.1 with a key made for the test."""
    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    if not Path(sshd).exists() or shutil.which("ssh-keygen") is None:
        pytest.skip("OpenSSH server not installed (apt-get install openssh-server)")
    pytest.importorskip("paramiko")
    d = tmp_path_factory.mktemp("sshd")
    for name in ("host", "user"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)], check=True
        )
    shutil.copy(d / "user.pub", d / "authorized_keys")
    port = _free_port()
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host'}\n"
        f"AuthorizedKeysFile {d / 'authorized_keys'}\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
        f"PidFile {d / 'sshd.pid'}\nSubsystem sftp internal-sftp\n",
        encoding="utf-8",
    )
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation folder
    log = open(d / "sshd.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sshd, "-D", "-e", "-f", str(d / "sshd_config")], stderr=log)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.skip(f"sshd did not start: {(d / 'sshd.log').read_text()[-300:]}")
                time.sleep(0.1)
        yield {"port": str(port), "key": str(d / "user"), "user": getpass.getuser()}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_second_base_folder_pulls_every_stage_over_sftp(
    tmp_path: Path, sftp_server: dict[str, str]
) -> None:
    remote = tmp_path / "remote"
    url = f"sftp://{sftp_server['user']}@127.0.0.1:{sftp_server['port']}{remote}"
    options = f'remote_options = {{ key_filename = "{sftp_server["key"]}" }}\n'
    a, b = _share(tmp_path, url, options)
    _second_pulls_everything(a, b)
    assert len(list((remote / "entries").glob("*.json"))) == 3
    assert not [p for p in remote.rglob("*") if p.name.startswith(".tmp-")]


def test_noop_rerun_imports_neither_dask_nor_fsspec(tmp_path: Path) -> None:
    """A Dask executor and a remote cache configured: the no-op rerun loads neither (nor torch
    or numpy); the command stages never call ``ctx.map``, so no scheduler is needed."""
    cache = (
        f'[cache]\nremote = "{(tmp_path / "remote").as_uri()}"\n'
        '[runner]\nexecutor = "dask"\n[runner.dask]\naddress = "tcp://127.0.0.1:9"\n'
    )
    config = project(tmp_path / "p", cache)
    config.write_text(config.read_text().replace("[runner]\nstop_grace_s = 5\n", ""))
    assert cli("pipeline", config).returncode == 0
    code = (
        "import sys; from standard_coder.runner.front import main; "
        "from standard_coder.pipelines import BUILTINS; "
        "rc = main(sys.argv[1:], BUILTINS); "
        "loaded = {'dask', 'distributed', 'fsspec', 'torch', 'numpy'} & set(sys.modules); "
        "assert not loaded, loaded; sys.exit(rc)"
    )
    again = subprocess.run(
        [sys.executable, "-c", code, "pipeline", "--config", str(config)],
        capture_output=True, text=True, env=_env(), timeout=120,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert named(last_run(config), "stage_skipped") == STAGES
    stamp = sorted((tmp_path / "p" / "sc-output" / "runs").glob("*/env_stamp.json"))[-1]
    assert json.loads(stamp.read_text())["executor"] == {
        "kind": "dask",
        "address": "tcp://127.0.0.1:9",
    }


def test_a_local_entry_whose_outputs_do_not_check_out_is_replaced(tmp_path: Path) -> None:
    config = project(tmp_path / "p", '[cache]\ndir = "rc"\n')
    assert cli("pipeline", config).returncode == 0
    first = outputs(config)
    train_fp = next(e for e in last_run(config) if e["event"] == "cache_pushed" and
                    e["stage"] == "train")["fingerprint"]  # fmt: skip
    entry_path = tmp_path / "p" / "rc" / "entries" / f"{train_fp}.json"
    entry = json.loads(entry_path.read_text())
    entry["checksums"] = {k: "0" * 64 for k in entry["checksums"]}  # as if recorded wrongly
    entry_path.write_text(json.dumps(entry))
    (tmp_path / "p" / "out" / "model.json").unlink()
    done = cli("pipeline", config)
    assert done.returncode == 0, done.stderr
    evs = last_run(config)
    assert named(evs, "cache_corrupt") == ["train"] and named(evs, "stage_running") == ["train"]
    assert outputs(config) == first
    assert json.loads(entry_path.read_text())["checksums"] != entry["checksums"]


# ------------------------------------------------------- a real S3-compatible server (moto)


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """moto's standalone S3 server (PyPI ``moto[server]``) as its own process on 127.0.0.1,
    with a bucket made for the test; the CLI reaches it through s3fs."""
    pytest.importorskip("s3fs")
    if importlib.util.find_spec("moto") is None:
        pytest.skip("moto not installed (pip install 'moto[server]')")
    d = tmp_path_factory.mktemp("moto")
    port = _free_port()
    log = open(d / "moto.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env={**_env(), **S3_KEYS},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.skip(f"moto server did not start: {(d / 'moto.log').read_text()[-300:]}")
                time.sleep(0.1)
        endpoint = f"http://127.0.0.1:{port}"
        _s3fs(endpoint).mkdir("sc-cache")
        yield {"endpoint": endpoint}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


S3_KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def _s3fs(endpoint: str) -> Any:
    import s3fs

    return s3fs.S3FileSystem(
        key="testing", secret="testing", endpoint_url=endpoint, use_listings_cache=False,
        client_kwargs={"region_name": "eu-west-1"},
    )  # fmt: skip


def _s3_options(endpoint: str) -> str:
    return (
        'remote_options = { key = "testing", secret = "testing", '
        f'endpoint_url = "{endpoint}", client_kwargs = {{ region_name = "eu-west-1" }} }}\n'
    )


def test_second_base_folder_pulls_every_stage_over_s3(
    tmp_path: Path, s3_server: dict[str, str]
) -> None:
    a, b = _share(tmp_path, "s3://sc-cache/pull", _s3_options(s3_server["endpoint"]))
    _second_pulls_everything(a, b)
    fs = _s3fs(s3_server["endpoint"])
    assert len(fs.ls("sc-cache/pull/entries")) == 3
    keys = fs.find("sc-cache/pull")
    assert not [k for k in keys if "/.tmp-" in k]  # no upload visible under another name


@pytest.mark.parametrize("damage", ["corrupt", "truncate"])
def test_damaged_s3_object_is_detected_and_recomputed(
    tmp_path: Path, s3_server: dict[str, str], damage: str
) -> None:
    prefix = f"sc-cache/{damage}"
    a, b = _share(tmp_path, f"s3://{prefix}", _s3_options(s3_server["endpoint"]))
    assert cli("pipeline", a).returncode == 0
    sha = _model_sha(a)
    fs = _s3fs(s3_server["endpoint"])
    key = f"{prefix}/objects/{sha[:2]}/{sha}"
    data = fs.cat_file(key)
    fs.pipe_file(key, bytes([data[0] ^ 0xFF]) + data[1:] if damage == "corrupt"
                 else data[: len(data) // 2])  # fmt: skip
    done = cli("pipeline", b)
    assert done.returncode == 0, done.stderr
    evs = last_run(b)
    assert named(evs, "cache_corrupt") == ["train"]
    assert named(evs, "stage_running") == ["train"]  # the others were pulled
    assert outputs(b) == outputs(a)
    assert fs.cat_file(key) == data  # the recomputed stage's push replaced the bad object
