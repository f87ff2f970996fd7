"""The typed, resolved pipeline config the rest of the code reads (built by `loading.py`)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from jsonl_assets.core.config.models import DEFAULT_SPLITS
from jsonl_assets.core.rules.quality_policy import DEFAULT_POLICY, QualityPolicy
from jsonl_assets.core.store.base import FileStat, existing_stat
from jsonl_assets.core.store.url import is_url


@dataclass(frozen=True, slots=True)
class DatasetConfig:
    name: str
    description: str
    dataset_id: str | None = None
    license: str | None = None
    contact: str | None = None
    tags: tuple[str, ...] | None = None  # None: not set; () is set, and copied
    created_at: str | None = None


@dataclass(frozen=True, slots=True)
class OutputConfig:
    dir: Path
    work_dir: Path
    quarantine_dir: Path
    compression: str = "zstd"
    level: int | None = None
    max_records_per_shard: int | None = 100_000
    max_bytes_per_shard: int | None = None
    shard_by: str = "objective"
    retention_hours: float = 24.0  # unlisted shards are collected this long after a publish
    chunk_bytes: int = 256 << 20  # the chunk plan's cut size (no effect on the package bytes)


@dataclass(frozen=True, slots=True)
class Thresholds:
    max_parse_failure_rate: float = 0.05
    max_duplicate_id_rate: float = 0.05
    max_invalid_rate: float = 0.05
    max_adapter_reject_rate: float = 0.05


@dataclass(frozen=True, slots=True)
class SourceInput:
    """One file a source's globs matched: where to open it and its config-relative name."""

    path: Path
    rel: str  # valid UTF-8; a name that is not is escaped (traces.file_name)
    format: str
    rel_b64: str | None = None  # base64 of the raw name when it is not valid UTF-8
    listed: FileStat | None = None  # an object's stat from the glob's listing
    # Why a matched path is not a regular file (a FIFO, a dangling symlink: see
    # source_globs.not_a_file): it is never opened, and is quarantined whole, unread.
    not_a_file: str | None = None

    def observed_stat(self) -> FileStat:
        """The file as this build knows it: an object as its listing showed it (every read
        is then held to that version, and no request is spent on a HEAD), a local file as a
        `stat` shows it now (a path that is not a file: no bytes)."""
        if self.not_a_file is not None:
            return FileStat(0, 0)
        return self.listed if self.listed is not None else existing_stat(self.path)


@dataclass(frozen=True, slots=True)
class SourceConfig:
    name: str
    objective: str
    adapter: str
    split: str
    inputs: tuple[SourceInput, ...]
    patterns: tuple[str, ...]  # a local glob as the OS takes it (`file_names.shown` shows it)
    adapter_options: Mapping[str, Any] = field(default_factory=dict)
    read_options: Mapping[str, Any] = field(default_factory=dict)
    format: str | None = None
    id_field: str | None = None
    content_type: str | None = None
    license: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    metadata_fields: tuple[str, ...] = ()  # raw fields copied into each record's metadata
    quality: QualityPolicy = DEFAULT_POLICY  # the global policy with the source's overrides
    # `sources[].thresholds`: only the keys the config sets (they override the global and
    # per-objective values for this source).
    thresholds: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    path: Path
    root: Path
    dataset: DatasetConfig
    output: OutputConfig
    validation_ratio: float
    test_ratio: float
    thresholds: Thresholds
    objective_thresholds: Mapping[str, Thresholds]
    max_record_bytes: int
    sources: tuple[SourceConfig, ...]
    toolsets: tuple[Mapping[str, Any], ...] = ()
    defaults: Mapping[str, Any] | None = None
    schedule_cron: str = "0 3 * * *"
    sensor_interval_seconds: int = 60
    team: str = "llm-data"  # owner (team:<name>) and `team` tag of the Dagster assets
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)
    quality: QualityPolicy = DEFAULT_POLICY

    def thresholds_for(self, objective: str) -> Thresholds:
        return self.objective_thresholds.get(objective, self.thresholds)

    def source(self, name: str) -> SourceConfig:
        return next(s for s in self.sources if s.name == name)

    def sources_for(self, objective: str, split: str) -> list[SourceConfig]:
        """Sources that can feed partition objective|split, in config order."""
        return [
            s
            for s in self.sources
            if s.objective == objective and (s.split == split or s.split == "auto")
        ]

    def routing_ratios(self, objective: str, split: str) -> tuple[float, float]:
        """The split ratios as partition objective|split's records depend on them: one no
        `split: auto` source feeds is routed by none, so it gets the default ratios (a ratio
        change leaves it up to date, as the sensor does: `source_fingerprints`)."""
        if any(s.split == "auto" for s in self.sources_for(objective, split)):
            return self.validation_ratio, self.test_ratio
        return DEFAULT_SPLITS.validation, DEFAULT_SPLITS.test

    def uses_object_storage(self) -> bool:
        """Whether the package, the quarantine or a source is on object storage."""
        locations = [self.output.dir, self.output.quarantine_dir]
        locations += [p for s in self.sources for p in s.patterns]
        return any(is_url(x) for x in locations)

    def fingerprint(self) -> str:
        """sha256 of the config's canonical content (not its path or formatting)."""
        return hashlib.sha256(orjson.dumps(self.raw, option=orjson.OPT_SORT_KEYS)).hexdigest()
