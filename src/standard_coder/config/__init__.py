"""Config schemas (pydantic): the flagship ``pipeline_config.toml`` and shared helpers."""

from standard_coder.config.base import ConfigError, ConfigPath, StrictModel
from standard_coder.config.schema import FlagshipConfig, load_config

__all__ = ["ConfigError", "ConfigPath", "FlagshipConfig", "StrictModel", "load_config"]
