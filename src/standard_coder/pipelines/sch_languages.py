"""The flagship's config as every command reads it, with ``[filters.languages] detect``: a
repository that holds (almost) no file of an enabled language is mined in the languages it holds.

The defaults count Python. A first run on a TypeScript or Go repository used to mine nothing and
stop with ``nothing to learn from`` and the setting to copy (and one on a Go project with a
few Python scripts learned from the scripts alone); with ``detect`` (on by default) every
command (``pipeline``, ``status``, ``estimate``, ``forecast``, ``eval``) reads the config through
:func:`load_sch_config`, which, when in **every** configured local repository the enabled
languages hold under 5 % of the files of known languages at HEAD, also counts each language
holding 5 % or more of them and says so in one warning line. Where one repository is 5 % or
more in an enabled language nothing changes, so a Python history (or a mix of Python and other
repositories) is mined exactly as before. Which languages are counted is read outside
documentation and example folders (:data:`ASIDE`) where the project has files of a known
language outside them.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from standard_coder.config.mining import LanguageFilter
    from standard_coder.config.schema import FlagshipConfig

log = logging.getLogger(__name__)

MIN_SHARE = 0.05
"""Detection acts when the enabled languages hold under this share of every repository's files
of known languages at HEAD (a Go project with two Python scripts), and counts each language
with at least this share of them (a few build scripts beside the code are not its language)."""


ASIDE = re.compile(
    r"^(?:docs?|documentation)/"  # the project's documentation, at the top
    r"|^examples?[-_][^/]*/"  # example_flutter_app/, at the top
    r"|(?:^|/)(?:documentation|examples?|samples?|demos?)/",  # plugins/x/example/, anywhere
    re.IGNORECASE,
)
"""Documentation and example folders (after GitHub linguist's documentation rules: ``docs/``
at the top, not a package named ``doc`` deeper down; example folders at any depth): their
files do not make a language counted beside the project's (Alamofire's generated
documentation's JavaScript, 10 of its 108 files; dio's example apps' C and C++ runners, 32 of
188), nor a project's language for whether detection acts (a Go project's Sphinx
``docs/conf.py``). Where a repository has no file of a known language outside them, its files
inside them are what it holds."""


def load_sch_config(path: Path, overrides: list[str] | None = None) -> FlagshipConfig:
    """``load_config`` of the flagship's config, then :func:`detect_languages`."""
    from standard_coder.config import load_config

    return detect_languages(load_config(Path(path), list(overrides or [])))


def detect_languages(cfg: FlagshipConfig) -> FlagshipConfig:
    """``cfg`` with the languages found at HEAD of its local repositories counted too when
    ``detect`` is on and in every one of them the enabled languages hold under
    :data:`MIN_SHARE` of the files of known languages (a warning names them and how to turn
    it off); else ``cfg`` itself. Enabled languages with no file there are dropped."""
    from standard_coder.config.mining import LanguageFilter
    from standard_coder.pipelines.sch_mine import file_count
    from standard_coder.runner.console import say_warning

    langs = cfg.filters.languages
    if not langs.detect:
        return cfg
    found, aside = _languages_found(cfg, langs)
    total = sum(found.values())
    others = [lang for lang, n in found.items()
              if lang not in langs.enabled and n >= MIN_SHARE * total]  # fmt: skip
    if not others:
        return cfg
    kept = [lang for lang in langs.enabled if found.get(lang)]
    try:
        detected = LanguageFilter.model_validate({**langs.model_dump(), "enabled": kept + others})
    except ValueError:  # two of them claim one extension: the user's own list says which
        return cfg
    listed = ", ".join(f"{lang} ({file_count(found[lang])})" for lang in others)
    enabled = json.dumps(list(langs.enabled))
    head = "HEAD" + (" outside documentation and example folders" if aside else "")
    if kept:
        mine = sum(found[lang] for lang in kept)
        why = (f"only {mine} of the {total} files of known languages at {head} are in it; "
               f"also counting {listed}")  # fmt: skip
    else:
        why = f"no repository has a file of it at {head}; counting {listed} instead"
    say_warning(f"[filters.languages] enabled = {enabled}: {why} (set detect = false to keep "
                "the list)", log)  # fmt: skip
    filters = cfg.filters.model_copy(update={"languages": detected})
    return cfg.model_copy(update={"filters": filters})


def _languages_found(cfg: FlagshipConfig, langs: LanguageFilter) -> tuple[dict[str, int], bool]:
    """Files per known language at HEAD over ``cfg``'s local repositories, most first (outside
    :data:`ASIDE` folders where a repository has such files), and whether files in them were
    left out; empty when the enabled languages hold :data:`MIN_SHARE` or more of one
    repository's files of known languages (a Python history stops at its first repository), or
    none can be listed."""
    from standard_coder.pipelines.sch_mine import local_repositories, paths_at_head
    from standard_coder.pipelines.sch_options import mine_options
    from standard_coder.sch.mining.discovery import path_problem
    from standard_coder.sch.mining.filters import count_languages

    root = cfg.config_path.parent if cfg.config_path else None
    try:
        opts = mine_options(cfg.repos, cfg.filters, cfg.outputs.base_dir, root)
    except ValueError:  # the mine names a bad pattern itself
        return {}, False
    totals: dict[str, int] = {}
    aside = False
    for repo in local_repositories(opts, cfg.outputs.base_dir):
        if path_problem(repo) is not None:  # missing or no repository: the mine names it
            continue
        paths = paths_at_head(repo)
        counts = count_languages(paths, langs.extensions, langs.exclude_paths)
        main = [p for p in paths if not ASIDE.search(p)]
        outside = count_languages(main, langs.extensions, langs.exclude_paths)
        if outside and outside != counts:
            counts, aside = outside, True
        ours = sum(counts.get(lang, 0) for lang in langs.enabled)
        if counts and ours >= MIN_SHARE * sum(counts.values()):
            return {}, False
        for lang, n in counts.items():
            totals[lang] = totals.get(lang, 0) + n
    return dict(sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))), aside
