"""Config sections -> the domain's option objects (the domain packages never see the schema).

``sch/`` and ``forecasting/`` take plain option dataclasses; this module is the one place that
builds them from ``[repos]``, ``[filters]``, ``[training]`` and ``[forecasting]`` (a stage gets its
sections back from its params with :func:`standard_coder.pipelines.wiring.section_from_params`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel

if TYPE_CHECKING:
    from standard_coder.config.forecasting import ForecastingSection
    from standard_coder.config.mining import FiltersSection, LanguageFilter, ReposSection
    from standard_coder.forecasting.options import ForecastOptions
    from standard_coder.runner.context import StageContext
    from standard_coder.sch.estimate import Languages
    from standard_coder.sch.mining.options import MineOptions

M = TypeVar("M", bound=BaseModel)


def languages_of(section: LanguageFilter) -> Languages:
    """``[filters.languages]`` as the files a change counts (``estimate``, forecast tickets)."""
    from standard_coder.sch.estimate import Languages
    from standard_coder.sch.mining.filters import extension_map

    return Languages(
        ext_map=extension_map(section.enabled, section.extensions),
        exclude_substrings=tuple(section.exclude_paths),
    )


def mine_options(
    repos: ReposSection,
    filters: FiltersSection,
    base_dir: Path,
    config_dir: Path | None = None,
    *,
    chunk_size: int = 500,
    commit_files: bool = False,
    commit_body: bool = False,
) -> MineOptions:
    """``MineOptions`` from ``[repos]`` and ``[filters.*]``; relative globs are anchored at
    ``config_dir`` (default: the working directory), GitHub mirrors go to ``<base_dir>/repos``.
    ``commit_files``: count every commit's files of any language, ``commit_body``: keep every
    commit's message body (``[training.features] commit_files`` and ``commit_body``, the two
    training keys the mine serves).

    Raises:
        ValueError: an invalid ``re:`` pattern or a language without extensions.
    """
    from standard_coder.sch.mining.extract import ExtractOptions
    from standard_coder.sch.mining.filters import (
        AuthorRule,
        RepoRule,
        extension_map,
        pathspec_for,
        validate_patterns,
    )
    from standard_coder.sch.mining.options import MineOptions

    cdir = Path(config_dir) if config_dir is not None else Path.cwd()

    def anchor(pat: str) -> str:
        p = os.path.expanduser(pat)
        return p if os.path.isabs(p) else str(cdir / p)

    for pats in (
        filters.authors.include,
        filters.authors.exclude,
        filters.repos.include,
        filters.repos.exclude,
    ):
        validate_patterns(pats)
    ext_map = extension_map(filters.languages.enabled, filters.languages.extensions)
    excl = tuple(filters.languages.exclude_paths)
    return MineOptions(
        include_paths=tuple(anchor(p) for p in repos.include_paths),
        exclude_paths=tuple(anchor(p) for p in repos.exclude_paths),
        github_repos=tuple(repos.include_github_repos),
        mirror_dir=str(Path(base_dir) / "repos"),
        max_commits_per_repo=repos.max_commits_per_repo,
        authors=AuthorRule(
            include=tuple(filters.authors.include),
            exclude=tuple(filters.authors.exclude),
            exclude_bots=filters.authors.exclude_bots,
            exclude_agents=filters.authors.exclude_agents,
        ),
        merge_by_name=filters.authors.merge_by_name,
        repos=RepoRule(include=tuple(filters.repos.include), exclude=tuple(filters.repos.exclude)),
        extract=ExtractOptions(
            ext_map=tuple(sorted(ext_map.items())),
            exclude_substrings=excl,
            pathspec=tuple(pathspec_for(ext_map, excl)),
            max_files_per_commit=repos.max_files_per_commit,
            max_lines_per_commit=repos.max_lines_per_commit,
            store_contents=repos.store_contents,
            max_blob_bytes=repos.max_blob_bytes,
        ),
        chunk_size=chunk_size,
        pull_requests=repos.pull_request_times,
        merge_times=repos.merge_times,
        other_commit_times=repos.other_commit_times,
        commit_files=commit_files,
        commit_body=commit_body,
    )


def forecast_options(section: ForecastingSection) -> ForecastOptions:
    """``ForecastOptions`` from ``[forecasting]``."""
    from standard_coder.forecasting.options import ForecastOptions
    from standard_coder.forecasting.scenarios import ScenarioSpec

    return ForecastOptions(
        n_sims=section.n_sims,
        rng_seed=section.rng_seed,
        story_points_to_sch=section.story_points_to_sch,
        story_points_cv=section.story_points_cv,
        unit=section.unit,
        ticket_effort=section.ticket_effort,
        throughput_method=section.throughput_method,
        story_points_fallback=section.story_points_fallback,
        backtest_min_history=section.backtest_min_history,
        scenarios=tuple(
            ScenarioSpec(
                name=s.name,
                days_off={k: tuple(v) for k, v in s.days_off.items()},
                scope_growth_percent=s.scope_growth_percent,
                member_joins=dict(s.member_joins),
                member_leaves=tuple(s.member_leaves),
            )
            for s in section.scenarios
        ),
    )


def effort_device(ctx: StageContext) -> str:
    """The effort models' device: ``auto`` while the run's device is the configured ``auto``
    (then a model too small to gain from an accelerator trains on the CPU and the log says
    so: ``sch/predictors/placement.py``), else the resolved device."""
    return "auto" if ctx.device_preference == "auto" else ctx.device
