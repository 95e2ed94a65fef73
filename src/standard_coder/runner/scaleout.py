"""Where a pipeline's items run and where its stage outputs are cached: the one reader of
``[runner] executor``, ``[runner.dask] address`` and ``[cache]`` (any pipeline file).

```toml
[runner]
executor = "dask"                 # "local" (default): the local process pool
[runner.dask]
address = "tcp://10.0.0.5:8786"   # a running Dask scheduler

[cache]
enable = true                     # default: on when dir or remote is set, else off
dir = "run-cache"                 # default: <base_dir>/run-cache (relative: the file's folder)
remote = "sftp://cache-host/srv/sc-cache"   # any fsspec URL (file://, s3://, sftp://, ...)
remote_options = { key_filename = "~/.ssh/id_ed25519" }  # fsspec storage options
```

``--executor dask://HOST:PORT`` (or ``local``) replaces ``[runner] executor`` for one run.
This module reads and checks only; it imports neither Dask nor fsspec.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from standard_coder.runner.errors import PipelineDefinitionError
from standard_coder.runner.stage import Pipeline, RunCacheSettings

__all__ = ["RUN_CACHE_DIR", "RunCacheSettings", "apply_scale_out", "read_cache", "read_executor"]

RUN_CACHE_DIR = "run-cache"
"""The local run cache's folder below ``base_dir`` when ``[cache] dir`` is not given."""


def _table(data: Mapping[str, Any], key: str, source: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise PipelineDefinitionError(f"{source}: {key}: expected a table")
    return value


def read_executor(data: Mapping[str, Any], source: str) -> str | None:
    """The executor spec of a parsed pipeline file: None (the local pool) or ``dask://...``.

    Raises:
        PipelineDefinitionError: a bad value (the message names the file and key).
    """
    runner = _table(data, "runner", source)
    kind = runner.get("executor", "local")
    if kind == "local":
        return None
    if kind != "dask":
        raise PipelineDefinitionError(
            f'{source}: runner.executor: expected "local" or "dask" (got {kind!r})'
        )
    dask = _table(runner, "dask", source)
    address = dask.get("address")
    if not isinstance(address, str) or not address:
        raise PipelineDefinitionError(
            f'{source}: runner.dask.address: expected "tcp://HOST:PORT" when '
            'runner.executor = "dask"'
        )
    return executor_spec(address, f"{source}: runner.dask.address")


def executor_spec(value: str, where: str) -> str | None:
    """``--executor`` / ``address`` -> a spec for ``make_executor`` (None for ``local``).

    Raises:
        PipelineDefinitionError: neither ``local`` nor ``dask://HOST:PORT`` / ``tcp://HOST:PORT``.
    """
    from standard_coder.runner.dask_executor import address_problem  # no Dask imported

    text = value.strip()
    if text == "local":
        return None
    why = address_problem(text)
    if why is not None:
        why = (
            "expected local, " + why.removeprefix("expected ")
            if why.startswith("expected")
            else why
        )
        raise PipelineDefinitionError(f"{where}: {why} (got {value!r})")
    host_port = text.partition("://")[2].rstrip("/")
    return f"dask://{host_port}"


def read_cache(
    data: Mapping[str, Any], config_path: Path, base_dir: Path
) -> RunCacheSettings | None:
    """``[cache]`` of a parsed pipeline file: None (off) unless ``enable = true`` or a ``dir`` or
    ``remote`` is given (``enable = false`` wins).

    Raises:
        PipelineDefinitionError: a bad value (the message names the file and key).
    """
    source = str(config_path)
    cache = _table(data, "cache", source)
    unknown = sorted(set(cache) - {"enable", "dir", "remote", "remote_options"})
    if unknown:
        raise PipelineDefinitionError(
            f"{source}: cache.{unknown[0]}: unknown key (valid: dir, enable, remote, "
            "remote_options)"
        )
    options = _table(cache, "remote_options", source)
    enable = cache.get("enable", "dir" in cache or "remote" in cache)
    if not isinstance(enable, bool):
        raise PipelineDefinitionError(f"{source}: cache.enable: expected true or false")
    if not enable:
        return None
    folder = cache.get("dir")
    if folder is None:
        path = Path(base_dir) / RUN_CACHE_DIR
    elif isinstance(folder, str) and folder:
        path = Path(folder).expanduser()
        path = path if path.is_absolute() else Path(config_path).parent / path
    else:
        raise PipelineDefinitionError(f"{source}: cache.dir: expected a non-empty string")
    remote = cache.get("remote")
    if remote is not None and (not isinstance(remote, str) or not remote.strip()):
        raise PipelineDefinitionError(
            f"{source}: cache.remote: expected a URL such as file:///srv/cache or s3://bucket/x"
        )
    if isinstance(remote, str) and "://" not in remote:
        remote_path = Path(remote).expanduser()
        if not remote_path.is_absolute():
            remote_path = Path(config_path).parent / remote_path
        remote = remote_path.resolve().as_uri()
    return RunCacheSettings(path, remote, dict(options))


def apply_scale_out(
    pipeline: Pipeline,
    data: Mapping[str, Any],
    config_path: Path,
    *,
    executor: str | None = None,
) -> Pipeline:
    """The pipeline with the file's executor and run cache (a Python pipeline's own explicit
    settings win over the file's defaults); ``executor`` is ``--executor``.

    Raises:
        PipelineDefinitionError: a bad ``[runner]``/``[cache]`` value or ``--executor``.
    """
    spec = read_executor(data, str(config_path))
    if executor is not None:
        spec = executor_spec(executor, "--executor")
    elif spec is None:
        spec = pipeline.executor
    cache = pipeline.run_cache
    if cache is None:
        cache = read_cache(data, config_path, Path(pipeline.base_dir))
    return dataclasses.replace(pipeline, executor=spec, run_cache=cache)
