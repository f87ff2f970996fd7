"""The pipeline config (`data/pipeline.yaml`): loading, validation and typed access.

Every problem is a `ConfigError` naming the file and the dotted key, raised before any data
is touched: unknown keys, bad values, unknown adapter/format/option names, missing files and
globs that match nothing. Paths in the config are relative to the config file's folder.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import orjson
import yaml

from jsonl_assets.core.config_yaml import MAX_CONFIG_BYTES, YamlProblem, load_strict
from jsonl_assets.core.output_dirs import DirProblem, check_own_dirs, check_source_overlap
from jsonl_assets.core.rules.quality_policy import (
    DEFAULT_POLICY,
    PolicyError,
    QualityPolicy,
    parse_policy,
)
from jsonl_assets.core.rules.spec_vocabulary import COMPRESSIONS, OBJECTIVES, SPLITS
from jsonl_assets.core.source_globs import bracket_hint, expand_glob
from jsonl_assets.core.traces import file_name
from jsonl_assets.core.verify.toolsets import toolset_errors

CONFIG_ENV_VAR: Final = "JSONL_ASSETS_CONFIG"
DEFAULT_CONFIG_PATH: Final = Path("data/pipeline.yaml")

SOURCE_SPLITS: Final = (*SPLITS, "auto")
SHARD_BY: Final = ("objective", "content_type")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_CONTENT_TYPE_RE = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_CRON_RE = re.compile(r"^(\S+\s+){4}\S+$")


class ConfigError(Exception):
    """A config problem: `file`, dotted `key`, and what is wrong."""

    def __init__(self, file: Path | str, key: str, message: str) -> None:
        self.file = str(file)
        self.key = key
        self.message = message
        where = f"{self.file}: {key}" if key else self.file
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True, slots=True)
class DatasetConfig:
    name: str
    description: str
    dataset_id: str | None = None
    license: str | None = None
    contact: str | None = None
    tags: tuple[str, ...] = ()
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


@dataclass(frozen=True, slots=True)
class SourceConfig:
    name: str
    objective: str
    adapter: str
    split: str
    inputs: tuple[SourceInput, ...]
    patterns: tuple[str, ...]
    adapter_options: Mapping[str, Any] = field(default_factory=dict)
    read_options: Mapping[str, Any] = field(default_factory=dict)
    format: str | None = None
    id_field: str | None = None
    content_type: str | None = None
    license: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
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

    def fingerprint(self) -> str:
        """sha256 of the config's canonical content (not its path or formatting)."""
        return hashlib.sha256(orjson.dumps(self.raw, option=orjson.OPT_SORT_KEYS)).hexdigest()


def resolve_config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """--config beats $JSONL_ASSETS_CONFIG beats data/pipeline.yaml (relative to the cwd)."""
    chosen = explicit or os.environ.get(CONFIG_ENV_VAR) or DEFAULT_CONFIG_PATH
    return Path(chosen).expanduser().resolve()


def load_config(path: str | os.PathLike[str] | None = None) -> PipelineConfig:
    cfg_path = resolve_config_path(path)
    if not cfg_path.exists():
        raise ConfigError(cfg_path, "", "config file not found")
    if not cfg_path.is_file():
        raise ConfigError(cfg_path, "", "not a regular file")
    if cfg_path.stat().st_size > MAX_CONFIG_BYTES:
        raise ConfigError(cfg_path, "", f"larger than {MAX_CONFIG_BYTES >> 20} MiB")
    try:
        data = load_strict(cfg_path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(cfg_path, "", f"not valid YAML: {exc}") from exc
    except YamlProblem as exc:
        raise ConfigError(cfg_path, exc.key, exc.message) from None
    return parse_config(data, cfg_path)


class _Reader:
    """Typed access to one mapping of the YAML tree, tracking the dotted key for errors."""

    def __init__(self, file: Path, key: str, data: Any, allowed: Sequence[str]) -> None:
        self.file = file
        self.key = key
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(file, key or "<root>", f"must be a mapping, got {_type(data)}")
        unknown = sorted(str(k) for k in data if k not in allowed)
        if unknown:
            raise ConfigError(
                file,
                self.sub(unknown[0]),
                f"unknown key; allowed keys here: {', '.join(allowed)}",
            )
        self.data: dict[str, Any] = data

    def sub(self, name: str) -> str:
        return f"{self.key}.{name}" if self.key else name

    def error(self, name: str, message: str) -> ConfigError:
        return ConfigError(self.file, self.sub(name), message)

    def has(self, name: str) -> bool:
        return self.data.get(name) is not None

    def str_(self, name: str, default: str | None = None, *, required: bool = False) -> Any:
        value = self.data.get(name)
        if value is None:
            if required:
                raise self.error(name, "is required")
            return default
        if not isinstance(value, str) or not value.strip():
            raise self.error(name, f"must be a non-empty string, got {_type(value)}")
        return value

    def choice(self, name: str, choices: Sequence[str], default: str | None = None) -> Any:
        value = self.str_(name, default, required=default is None)
        if value not in choices:
            raise self.error(name, f"must be one of {', '.join(choices)}; got {value!r}")
        return value

    def int_(self, name: str, default: int | None, *, minimum: int = 0) -> Any:
        value = self.data.get(name, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.error(name, f"must be an integer >= {minimum}, got {value!r}")
        return value

    def rate(self, name: str, default: float) -> float:
        value = self.data.get(name, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            raise self.error(name, f"must be a number between 0 and 1, got {value!r}")
        if not 0 <= value <= 1:
            raise self.error(name, f"must be between 0 and 1, got {value!r}")
        return float(value)

    def mapping(self, name: str) -> dict[str, Any]:
        value = self.data.get(name)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.error(name, f"must be a mapping, got {_type(value)}")
        return value


def _type(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def parse_config(data: Any, cfg_path: Path) -> PipelineConfig:
    """Validate a parsed YAML document; `cfg_path` anchors relative paths and error messages."""
    root = cfg_path.parent
    top = _Reader(
        cfg_path,
        "",
        data,
        (
            "dataset",
            "output",
            "splits",
            "thresholds",
            "limits",
            "toolsets",
            "defaults",
            "schedule",
            "sensor",
            "sources",
            "quality",
        ),
    )
    dataset = _parse_dataset(_Reader(cfg_path, "dataset", top.data.get("dataset"), _DATASET_KEYS))
    output = _parse_output(_Reader(cfg_path, "output", top.data.get("output"), _OUTPUT_KEYS), root)
    splits = _Reader(cfg_path, "splits", top.data.get("splits"), ("validation", "test"))
    validation_ratio = splits.rate("validation", 0.05)
    test_ratio = splits.rate("test", 0.05)
    if validation_ratio + test_ratio >= 1:
        raise ConfigError(cfg_path, "splits", "validation + test must be below 1")
    thr = _Reader(
        cfg_path, "thresholds", top.data.get("thresholds"), (*_THRESHOLD_KEYS, "per_objective")
    )
    thresholds = _parse_thresholds(thr, Thresholds())
    per_objective = _Reader(
        cfg_path, "thresholds.per_objective", thr.data.get("per_objective"), OBJECTIVES
    )
    objective_thresholds = {
        objective: _parse_thresholds(
            _Reader(cfg_path, per_objective.sub(objective), value, _THRESHOLD_KEYS), thresholds
        )
        for objective, value in per_objective.data.items()
    }
    limits = _Reader(cfg_path, "limits", top.data.get("limits"), ("max_record_bytes",))
    max_record_bytes = limits.int_("max_record_bytes", 16 * 1024 * 1024, minimum=1024)
    schedule = _Reader(cfg_path, "schedule", top.data.get("schedule"), ("cron",))
    cron = schedule.str_("cron", "0 3 * * *")
    if not _CRON_RE.match(cron):
        raise schedule.error("cron", f"must be a five-field cron expression, got {cron!r}")
    sensor = _Reader(cfg_path, "sensor", top.data.get("sensor"), ("interval_seconds",))
    interval = sensor.int_("interval_seconds", 60, minimum=5)
    toolsets = _parse_toolsets(cfg_path, top.data.get("toolsets"))
    defaults = top.data.get("defaults")
    if defaults is not None and not isinstance(defaults, dict):
        raise ConfigError(cfg_path, "defaults", "must be a mapping (spec defaults object)")
    quality = _parse_quality(cfg_path, "quality", top.data.get("quality"), DEFAULT_POLICY, None)
    raw_sources = top.data.get("sources")
    if not isinstance(raw_sources, list) or not raw_sources:
        raise ConfigError(cfg_path, "sources", "must be a non-empty list of source entries")
    sources = tuple(
        _parse_source(cfg_path, root, f"sources[{i}]", entry, max_record_bytes, quality=quality)
        for i, entry in enumerate(raw_sources)
    )
    seen: set[str] = set()
    for i, source in enumerate(sources):
        if source.name in seen:
            raise ConfigError(
                cfg_path, f"sources[{i}].name", f"duplicate source name {source.name!r}"
            )
        seen.add(source.name)
    _check_source_overlap(cfg_path, output, sources)
    return PipelineConfig(
        path=cfg_path,
        root=root,
        dataset=dataset,
        output=output,
        validation_ratio=validation_ratio,
        test_ratio=test_ratio,
        thresholds=thresholds,
        objective_thresholds=objective_thresholds,
        max_record_bytes=max_record_bytes,
        sources=sources,
        toolsets=toolsets,
        defaults=defaults,
        schedule_cron=cron,
        sensor_interval_seconds=interval,
        raw=data,
        quality=quality,
    )


def _check_source_overlap(
    cfg_path: Path, output: OutputConfig, sources: Sequence[SourceConfig]
) -> None:
    dirs = {
        "output.dir": output.dir,
        "output.work_dir": output.work_dir,
        "output.quarantine_dir": output.quarantine_dir,
    }
    entries = [
        (f"sources[{i}]", s.patterns, [f.path for f in s.inputs]) for i, s in enumerate(sources)
    ]
    try:
        check_source_overlap(dirs, cfg_path.parent, entries)
    except DirProblem as exc:
        raise ConfigError(cfg_path, exc.key, exc.message) from None


_DATASET_KEYS: Final = (
    "name",
    "dataset_id",
    "description",
    "license",
    "contact",
    "tags",
    "created_at",
)
_OUTPUT_KEYS: Final = (
    "dir",
    "compression",
    "level",
    "max_records_per_shard",
    "max_bytes_per_shard",
    "shard_by",
    "work_dir",
    "quarantine_dir",
)
_THRESHOLD_KEYS: Final = (
    "max_parse_failure_rate",
    "max_duplicate_id_rate",
    "max_invalid_rate",
    "max_adapter_reject_rate",
)
_SOURCE_KEYS: Final = (
    "name",
    "paths",
    "objective",
    "adapter",
    "split",
    "format",
    "read_options",
    "options",
    "id_field",
    "content_type",
    "license",
    "metadata",
    "quality",
    "thresholds",
)
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def _parse_dataset(r: _Reader) -> DatasetConfig:
    tags = r.data.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise r.error("tags", "must be a list of strings")
    created_at = r.str_("created_at")
    if created_at is not None and not _ISO_DATETIME.match(created_at):
        raise r.error(
            "created_at",
            f"must be an ISO-8601 date-time like 2025-03-01T12:00:00Z, got {created_at!r}",
        )
    return DatasetConfig(
        name=r.str_("name", required=True),
        description=r.str_("description", required=True),
        dataset_id=r.str_("dataset_id"),
        license=r.str_("license"),
        contact=r.str_("contact"),
        tags=tuple(tags),
        created_at=created_at,
    )


def _parse_output(r: _Reader, root: Path) -> OutputConfig:
    compression = r.choice("compression", COMPRESSIONS, "zstd")
    level = r.int_("level", None, minimum=0 if compression != "zstd" else 1)
    if level is not None and compression == "gzip" and level > 9:
        raise r.error("level", "gzip levels run from 0 to 9")
    if level is not None and compression == "zstd" and level > 22:
        raise r.error("level", "zstd levels run from 1 to 22")
    max_records = r.int_("max_records_per_shard", 100_000, minimum=1)
    max_bytes = r.int_("max_bytes_per_shard", None, minimum=256)
    if max_records is None and max_bytes is None:
        raise r.error(
            "max_records_per_shard", "set max_records_per_shard, max_bytes_per_shard or both"
        )
    dirs = {
        name: (root / r.str_(name, default)).resolve()
        for name, default in (
            ("dir", "package"),
            ("work_dir", "work"),
            ("quarantine_dir", "quarantine"),
        )
    }
    try:
        check_own_dirs({r.sub(name): path for name, path in dirs.items()})
    except DirProblem as exc:
        raise ConfigError(r.file, exc.key, exc.message) from None
    return OutputConfig(
        dir=dirs["dir"],
        work_dir=dirs["work_dir"],
        quarantine_dir=dirs["quarantine_dir"],
        compression=compression,
        level=level,
        max_records_per_shard=max_records,
        max_bytes_per_shard=max_bytes,
        shard_by=r.choice("shard_by", SHARD_BY, "objective"),
    )


def _parse_thresholds(r: _Reader, base: Thresholds) -> Thresholds:
    return Thresholds(**{key: r.rate(key, getattr(base, key)) for key in _THRESHOLD_KEYS})


def _parse_source_thresholds(r: _Reader) -> dict[str, float]:
    """The keys a source's `thresholds` sets, each a rate."""
    return {key: r.rate(key, 0.0) for key in _THRESHOLD_KEYS if key in r.data}


def _parse_toolsets(cfg_path: Path, value: Any) -> tuple[Mapping[str, Any], ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError(cfg_path, "toolsets", "must be a list of spec toolsets")
    errors = toolset_errors(value)  # the package verifier's B1-B7 errors
    if errors:
        raise ConfigError(cfg_path, *errors[0])
    return tuple(value)


def _parse_quality(
    cfg_path: Path, key: str, data: Any, base: QualityPolicy, objective: str | None
) -> QualityPolicy:
    try:
        return parse_policy(data, base, objective)
    except PolicyError as exc:
        raise ConfigError(cfg_path, f"{key}.{exc.key}" if exc.key else key, exc.message) from exc


def _parse_source(
    cfg_path: Path,
    root: Path,
    key: str,
    entry: Any,
    max_record_bytes: int,
    *,
    quality: QualityPolicy = DEFAULT_POLICY,
) -> SourceConfig:
    # Imported here: the registries import the readers/adapters, which import nothing of ours back.
    from jsonl_assets.core.adapters import resolve_options
    from jsonl_assets.core.readers import READERS, infer_format
    from jsonl_assets.core.readers import resolve_options as resolve_read_options

    r = _Reader(cfg_path, key, entry, _SOURCE_KEYS)
    name = r.str_("name", required=True)
    if not _NAME_RE.match(name):
        raise r.error("name", f"must match {_NAME_RE.pattern}, got {name!r}")
    objective = r.choice("objective", OBJECTIVES)
    split = r.choice("split", SOURCE_SPLITS)
    adapter = r.str_("adapter", required=True)
    try:
        adapter_options = resolve_options(adapter, r.mapping("options"), objective)
    except ValueError as exc:
        raise r.error(
            "options" if r.has("options") and "option" in str(exc) else "adapter", str(exc)
        ) from exc
    fmt = r.str_("format")
    if fmt is not None and fmt not in READERS:
        raise r.error(
            "format", f"unknown format {fmt!r}; valid formats: {', '.join(sorted(READERS))}"
        )
    patterns = r.data.get("paths")
    if isinstance(patterns, str):
        patterns = [patterns]
    if (
        not isinstance(patterns, list)
        or not patterns
        or not all(isinstance(p, str) and p for p in patterns)
    ):
        raise r.error(
            "paths", "must be a glob or a non-empty list of globs (relative to the config file)"
        )
    inputs: dict[str, SourceInput] = {}
    for i, pattern in enumerate(patterns):
        matched = [Path(p) for p in expand_glob(str(root / pattern))]
        if not matched:
            raise r.error(
                f"paths[{i}]",
                f"glob {pattern!r} matched no file (relative to {root})"
                + bracket_hint(root, pattern),
            )
        for path in matched:
            rel, rel_b64 = file_name(Path(os.path.relpath(path.resolve(), root)).as_posix())
            try:
                file_format = fmt or infer_format(rel)
            except ValueError as exc:
                raise r.error(f"paths[{i}]", f"{rel}: {exc}; set `format` for this source") from exc
            inputs[rel] = SourceInput(
                path=path.resolve(), rel=rel, format=file_format, rel_b64=rel_b64
            )
    read_options = r.mapping("read_options")
    for file_format in sorted({i.format for i in inputs.values()}):
        try:
            resolve_read_options(file_format, read_options)
        except ValueError as exc:
            raise r.error("read_options", str(exc)) from exc
    id_field = r.str_("id_field")
    if id_field is None and adapter == "mapping" and adapter_options.get("id"):
        id_field = adapter_options["id"]  # the mapping adapter's `id` path is the source id
    content_type = r.str_("content_type")
    if content_type is not None and not _CONTENT_TYPE_RE.match(content_type):
        raise r.error(
            "content_type",
            f"must match {_CONTENT_TYPE_RE.pattern} (it becomes part of shard names)",
        )
    metadata = r.mapping("metadata")
    thresholds = _parse_source_thresholds(
        _Reader(cfg_path, f"{key}.thresholds", r.data.get("thresholds"), _THRESHOLD_KEYS)
    )
    return SourceConfig(
        name=name,
        objective=objective,
        adapter=adapter,
        split=split,
        inputs=tuple(inputs[k] for k in sorted(inputs)),
        patterns=tuple(patterns),
        adapter_options=adapter_options,
        read_options=read_options,
        format=fmt,
        id_field=id_field,
        content_type=content_type,
        license=r.str_("license"),
        metadata=metadata,
        quality=_parse_quality(
            cfg_path, r.sub("quality"), r.data.get("quality"), quality, objective
        ),
        thresholds=thresholds,
    )
