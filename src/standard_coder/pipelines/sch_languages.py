"""The flagship's config as every command reads it, with ``[filters.languages] detect``: a
repository whose files at HEAD hold no enabled language is mined in the languages it holds.

The defaults count Python. A first run on a TypeScript or Go repository used to mine nothing and
stop with ``nothing to learn from`` and the setting to copy; with ``detect`` (on by default)
every command (``pipeline``, ``status``, ``estimate``, ``forecast``, ``eval``) reads the config
through :func:`load_sch_config`, which, when **none** of the configured local repositories has
a file of an enabled language at HEAD, counts the known languages their files are in instead
and says so in one warning line. Where any repository has such a file nothing changes, so a
Python history (or a mix of Python and other repositories) is mined exactly as before.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from standard_coder.config.mining import LanguageFilter
    from standard_coder.config.schema import FlagshipConfig

log = logging.getLogger(__name__)

MIN_SHARE = 0.05
"""A language found at HEAD is counted when it has at least this share of the files of known
languages found there (a few build scripts beside the code are not a language of the code)."""


def load_sch_config(path: Path, overrides: list[str] | None = None) -> FlagshipConfig:
    """``load_config`` of the flagship's config, then :func:`detect_languages`."""
    from standard_coder.config import load_config

    return detect_languages(load_config(Path(path), list(overrides or [])))


def detect_languages(cfg: FlagshipConfig) -> FlagshipConfig:
    """``cfg`` with ``[filters.languages] enabled`` set to the languages found at HEAD of its
    local repositories when ``detect`` is on and none of them has a file of an enabled
    language there (a warning names them and how to turn it off); else ``cfg`` itself."""
    from standard_coder.config.mining import LanguageFilter
    from standard_coder.runner.console import say_warning

    langs = cfg.filters.languages
    if not langs.detect:
        return cfg
    found = _languages_found(cfg, langs)
    if not found:
        return cfg
    total = sum(found.values())
    chosen = [lang for lang, n in found.items() if n >= MIN_SHARE * total]
    try:
        detected = LanguageFilter.model_validate({**langs.model_dump(), "enabled": chosen})
    except ValueError:  # two of them claim one extension: the user's own list says which
        return cfg
    listed = ", ".join(f"{lang} ({found[lang]} file{'' if found[lang] == 1 else 's'})"
                       for lang in chosen)  # fmt: skip
    say_warning(
        f"[filters.languages] enabled = {json.dumps(list(langs.enabled))}: no repository has "
        f"a file of it at HEAD; counting {listed} instead (set detect = false to keep the list)",
        log,
    )
    filters = cfg.filters.model_copy(update={"languages": detected})
    return cfg.model_copy(update={"filters": filters})


def _languages_found(cfg: FlagshipConfig, langs: LanguageFilter) -> dict[str, int]:
    """Files per known language at HEAD over ``cfg``'s local repositories, most first; empty
    when any of them has a file of an enabled language (or none can be listed)."""
    from standard_coder.pipelines.sch_mine import languages_at_head, local_repositories
    from standard_coder.pipelines.sch_options import mine_options
    from standard_coder.sch.mining.discovery import path_problem

    root = cfg.config_path.parent if cfg.config_path else None
    try:
        opts = mine_options(cfg.repos, cfg.filters, cfg.outputs.base_dir, root)
    except ValueError:  # the mine names a bad pattern itself
        return {}
    totals: dict[str, int] = {}
    for repo in local_repositories(opts, cfg.outputs.base_dir):
        if path_problem(repo) is not None:  # missing or no repository: the mine names it
            continue
        counts = languages_at_head(repo, langs.extensions, langs.exclude_paths)
        if any(counts.get(lang) for lang in langs.enabled):
            return {}
        for lang, n in counts.items():
            totals[lang] = totals.get(lang, 0) + n
    return dict(sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])))
