"""The pipeline config: `load_config(path)` -> `PipelineConfig`, or a `ConfigError` naming the
file, the dotted key and what is wrong (schema in `models.py`, loading in `loading.py`)."""

from jsonl_assets.core.config.errors import ConfigError
from jsonl_assets.core.config.loading import (
    CONFIG_ENV_VAR,
    DEFAULT_CONFIG_PATH,
    check_buckets,
    load_config,
    parse_config,
    resolve_config_path,
)
from jsonl_assets.core.config.pipeline import (
    DatasetConfig,
    OutputConfig,
    PipelineConfig,
    SourceConfig,
    SourceInput,
    Thresholds,
)

__all__ = [
    "CONFIG_ENV_VAR",
    "DEFAULT_CONFIG_PATH",
    "ConfigError",
    "DatasetConfig",
    "OutputConfig",
    "PipelineConfig",
    "SourceConfig",
    "SourceInput",
    "Thresholds",
    "check_buckets",
    "load_config",
    "parse_config",
    "resolve_config_path",
]
