"""The config settings that decide a partition's records, as the record stages' fingerprints
hold them: each source's part (`extracted`, `transformed`, `validated`) and the global part.

One implementation for both readers: the stages' fingerprints (what `build` rebuilds) and the
source digests of the `raw_sources_changed` sensor (what it requests), so the two cannot
drift. Values are resolved (`paths: x` and `paths: [x]` give one), never the entry as written.
"""

from __future__ import annotations

from typing import Any

from jsonl_assets.core.config import PipelineConfig, SourceConfig
from jsonl_assets.core.config.models import DEFAULT_LIMITS
from jsonl_assets.core.file_names import file_key


def extract_source_settings(source: SourceConfig) -> dict[str, Any]:
    """A source as the extracted stage reads it: its files (name, format) and read options."""
    return {
        "name": source.name,
        "split": source.split,
        "format": source.format,
        "read_options": dict(source.read_options),
        "files": [[file_key(i.rel, i.rel_b64), i.format] for i in source.inputs],
    }


def transform_source_settings(source: SourceConfig) -> dict[str, Any]:
    """A source as the transformed stage makes its records: adapter, ids, fields copied."""
    return {
        "name": source.name,
        "adapter": source.adapter,
        "options": dict(source.adapter_options),
        "split": source.split,
        "id_field": source.id_field,
        "content_type": source.content_type,
        "license": source.license,
        "metadata": dict(source.metadata),
        # Only when set: the fingerprints of configs without it stay as they were.
        **({"metadata_fields": list(source.metadata_fields)} if source.metadata_fields else {}),
    }


def validate_source_settings(source: SourceConfig) -> Any:
    """A source as the validated stage judges it: its effective quality policy (the global
    policy merged with the source's overrides), however the config spells it."""
    return source.quality.to_json()


def default_toolset_id(cfg: PipelineConfig) -> str | None:
    """The config's `defaults.toolset_id`: the toolset of records that name none."""
    named = (cfg.defaults or {}).get("toolset_id")
    return named if type(named) is str else None


def extract_globals(cfg: PipelineConfig) -> list[Any]:
    """The global settings the extracted stage's fingerprint holds (`too_large`)."""
    return [cfg.max_record_bytes]


def transform_globals(cfg: PipelineConfig) -> list[Any]:
    """The global settings the transformed stage's fingerprint holds besides the split
    ratios (`PipelineConfig.routing_ratios`, per partition), each only when set."""
    # content_type sharding quarantines a content type that cannot name a shard
    by_type = ["shard_by", "content_type"] if cfg.output.shard_by == "content_type" else []
    default = default_toolset_id(cfg)  # records declaring no tools inherit it
    inherited = ["defaults.toolset_id", default] if default is not None else []
    return [*by_type, *inherited]


def validate_globals(cfg: PipelineConfig) -> list[Any]:
    """The global settings the validated stage's fingerprint holds (before the policies)."""
    return [list(cfg.toolsets), None if cfg.defaults is None else dict(cfg.defaults)]


def global_settings(cfg: PipelineConfig) -> dict[str, list[Any]]:
    """Every stage's global settings, keyed by stage."""
    return {
        "extracted": extract_globals(cfg),
        "transformed": transform_globals(cfg),
        "validated": validate_globals(cfg),
    }


DEFAULT_GLOBALS = {
    "extracted": [DEFAULT_LIMITS.max_record_bytes],
    "transformed": [],
    "validated": [[], None],
}  # `global_settings` of a config that sets none of them


def source_settings(cfg: PipelineConfig, source: SourceConfig) -> dict[str, list[Any]]:
    """All the settings that decide the records `source` gives, as the fingerprints of the
    record stages of a partition it feeds hold them: its own (resolved) and the global ones;
    for a `split: auto` source the split ratios too (they route each of its records).
    Thresholds, shard sizes and compression decide no record: they are not here."""
    ratios = [cfg.validation_ratio, cfg.test_ratio] if source.split == "auto" else []
    return {
        "extracted": [*extract_globals(cfg), extract_source_settings(source)],
        "transformed": [transform_source_settings(source), *ratios, *transform_globals(cfg)],
        "validated": [*validate_globals(cfg), validate_source_settings(source)],
    }
