"""Config sections every pipeline shares: ``[pipeline]``, ``[outputs]``, ``[runner]``."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field, field_validator

from standard_coder.config.base import ConfigPath, Seed, StrictModel
from standard_coder.runner.layout import DEFAULT_BASE_DIR, DEFAULT_RETENTION_DAYS


class PipelineSection(StrictModel):
    """Which pipeline the file describes."""

    name: str = Field(
        "sch",
        description="built-in pipeline to run (sch = mine -> train_sch -> team_output -> forecast)",
    )
    entry: str | None = Field(
        None, description='a Python pipeline instead: "pkg.module:object" or "path/file.py:object"'
    )


class OutputsSection(StrictModel):
    """Where results go."""

    base_dir: ConfigPath = Field(
        DEFAULT_BASE_DIR, description="output root (manifests, runs, logs, models, reports)"
    )  # type: ignore[assignment]
    retention_days: int = Field(
        DEFAULT_RETENTION_DAYS, ge=0, description="runs older than this are removed by `gc`"
    )


class DaskSection(StrictModel):
    """The Dask cluster that per-item work runs on (with executor = "dask")."""

    address: str | None = Field(
        None, description='the Dask scheduler, "tcp://HOST:PORT" (a running `dask scheduler`)'
    )

    @field_validator("address")
    @classmethod
    def _an_address(cls, v: str | None) -> str | None:
        """The same check, and the same words, as ``--executor dask://HOST:PORT``."""
        from standard_coder.runner.dask_executor import address_problem

        why = None if v is None else address_problem(v)
        if why is not None:
            raise ValueError(why)
        return v


class CacheSection(StrictModel):
    """The content-addressed stage cache: stage outputs stored by fingerprint."""

    enable: bool | None = Field(
        None,
        description="store stage outputs by fingerprint and restore them instead of rerunning "
        "(unset: on when dir or remote is set)",
    )
    dir: ConfigPath | None = Field(
        None, description="the local store (default: <base_dir>/run-cache)"
    )
    remote: str | None = Field(
        None,
        description="a shared store, any fsspec URL (file:///srv/cache, sftp://host/path, "
        "s3://bucket/prefix): pulled before a stage runs, pushed after",
    )
    remote_options: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description="fsspec storage options of the remote (key_filename, endpoint_url, ...)",
    )


class RunnerSection(StrictModel):
    """How stages run."""

    seed: Seed = Field(42, description="run seed: python, numpy and torch are seeded from it")
    device: str = Field(
        "auto",
        pattern=r"^(auto|cpu|mps|cuda(:[0-9]+)?)$",
        description="torch device: auto, cpu, cuda, cuda:N or mps; "
        "unavailable devices fall back cuda -> mps -> cpu",
    )
    workers: int = Field(
        0,
        ge=0,
        le=256,
        description="processes for per-item work (repos, authors); 0 = one per CPU core, up to 8",
    )

    def resolved_workers(self) -> int:
        """``workers``, with 0 meaning one per CPU core (at most 8)."""
        return self.workers or max(1, min(8, os.cpu_count() or 1))

    stop_grace_s: float = Field(
        10.0, gt=0, description="seconds between SIGTERM and SIGKILL for command stages"
    )
    executor: Literal["local", "dask"] = Field(
        "local",
        description="where per-item work (authors, feature batches, repositories) runs: local "
        "(a process pool of `workers`) or dask (the cluster at [runner.dask] address)",
    )
    dask: DaskSection = Field(default_factory=DaskSection)
    precision: Literal["fp32", "bf16"] = Field(
        "fp32",
        description="effort-model training precision: bf16 = bfloat16 autocast where the device "
        "supports it (else fp32, with a warning); the precision used is in the model checkpoint "
        "and the stage summary",
    )
