"""Loading the pipeline config (`data/pipeline.yaml`): YAML, schema, globs, dirs.

Every problem is a `ConfigError` naming the file and the dotted key, raised before any data
is touched: unknown keys, bad values, unknown adapter/format/option names, missing files and
globs that match nothing. Paths in the config are relative to the config file's folder, and
are UTF-8 text: the bytes of the file names they stand for (core/file_names.py).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import yaml
from pydantic import ValidationError

from jsonl_assets.core.adapters import resolve_options
from jsonl_assets.core.blank_text import is_blank
from jsonl_assets.core.config.config_yaml import (
    MAX_CONFIG_BYTES,
    YamlProblem,
    load_written,
    syntax_message,
)
from jsonl_assets.core.config.dir_kinds import check_dir_kinds
from jsonl_assets.core.config.errors import ConfigError, from_validation
from jsonl_assets.core.config.models import (
    Dataset,
    Document,
    Output,
    PerObjective,
    SourceFields,
    SourceThresholds,
    content_type_name_problem,
)
from jsonl_assets.core.config.output_dirs import (
    DirProblem,
    check_own_dirs,
    check_source_overlap,
    check_url_dirs,
    check_url_roots,
    guarded_dirs,
)
from jsonl_assets.core.config.path_names import FileNames
from jsonl_assets.core.config.pipeline import (
    DatasetConfig,
    OutputConfig,
    PipelineConfig,
    SourceConfig,
    Thresholds,
)
from jsonl_assets.core.config.source_globs import FolderLinks
from jsonl_assets.core.config.source_inputs import resolved_path, source_inputs
from jsonl_assets.core.config.text_places import decode_message
from jsonl_assets.core.config.toolset_names import (
    check_option_toolset,
    declared_ids,
    parse_toolsets,
)
from jsonl_assets.core.file_names import os_path
from jsonl_assets.core.options import OptionsError, type_name
from jsonl_assets.core.readers import resolve_options as resolve_read_options
from jsonl_assets.core.rules.quality_policy import (
    DEFAULT_POLICY,
    PolicyError,
    QualityPolicy,
    parse_policy,
)
from jsonl_assets.core.rules.spec_vocabulary import OBJECTIVES
from jsonl_assets.core.store.base import local_path
from jsonl_assets.core.store.url import (
    StoreURL,
    dot_segment_problem,
    is_url,
    location,
    missing_bucket,
    scheme_problem,
)

CONFIG_ENV_VAR: Final = "JSONL_ASSETS_CONFIG"
DEFAULT_CONFIG_PATH: Final = Path("data/pipeline.yaml")


def resolve_config_path(
    explicit: str | os.PathLike[str] | None = None, given_as: str = "--config"
) -> Path:
    """--config beats $JSONL_ASSETS_CONFIG beats data/pipeline.yaml (relative to the cwd).
    A path given but empty (`--config ''`, `JSONL_ASSETS_CONFIG=`: an unset shell variable)
    is a ConfigError naming it (`given_as`), never the next choice: that would build
    another config's package."""
    env = os.environ.get(CONFIG_ENV_VAR)
    if explicit is not None and not os.fspath(explicit):
        raise ConfigError(given_as, "", "empty path; name the pipeline config file")
    if explicit is None and env == "":
        raise ConfigError(
            f"${CONFIG_ENV_VAR}", "", "set but empty; name the pipeline config file or unset it"
        )
    chosen = Path(explicit or env or DEFAULT_CONFIG_PATH).expanduser()
    try:
        return chosen.resolve()
    except (OSError, RuntimeError):  # a symlink loop: load_config then says it cannot be read
        return chosen.absolute()


def load_config(
    path: str | os.PathLike[str] | None = None, *, list_files: bool = True
) -> PipelineConfig:
    """The config at `path`; without `list_files` its sources' globs are not expanded (their
    `inputs` are empty): for a chunk worker, which reads the files its chunk plan names."""
    cfg_path = resolve_config_path(path)
    try:
        try:
            cfg_path.stat()
        except FileNotFoundError:
            raise ConfigError(cfg_path, "", "config file not found") from None
        if not cfg_path.is_file():
            raise ConfigError(cfg_path, "", "not a regular file")
        if cfg_path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(
                cfg_path,
                "",
                f"larger than {MAX_CONFIG_BYTES >> 20} MiB: a pipeline config holds settings; "
                "data belongs in the sources",
            )
        raw = cfg_path.read_bytes()
        text = raw.decode("utf-8")
    except OSError as exc:  # no permission to read it, a loop of symlinks, a name too long, ...
        reason = exc.strerror or str(exc)
        if exc.errno == errno.ELOOP:
            reason = f"a loop of symlinks ({reason})"
        raise ConfigError(cfg_path, "", f"cannot be read: {reason}") from None
    except UnicodeDecodeError as exc:  # placed by line and column like a YAML syntax error
        raise ConfigError(cfg_path, "", f"not valid YAML: {decode_message(raw, exc)}") from None
    try:
        data, written = load_written(text)
    except yaml.YAMLError as exc:
        raise ConfigError(cfg_path, "", f"not valid YAML: {syntax_message(exc, text)}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(cfg_path, "", f"not valid YAML: {exc}") from exc
    except YamlProblem as exc:
        raise ConfigError(cfg_path, exc.key, exc.message) from None
    try:
        return parse_config(data, cfg_path, list_files=list_files, written=written)
    except OSError as exc:  # never expected (each check names its key); still a ConfigError
        raise ConfigError(cfg_path, "", f"cannot be loaded: {exc}") from exc


def parse_config(
    data: Any, cfg_path: Path, *, list_files: bool = True, written: Mapping[str, str] | None = None
) -> PipelineConfig:
    """Validate a parsed YAML document; `cfg_path` anchors relative paths and error messages,
    `written` (dotted key -> a plain number's text, `load_written`) the values they show."""
    root = cfg_path.parent
    if not isinstance(data, dict):
        raise ConfigError(cfg_path, "<root>", f"must be a mapping, got {type_name(data)}")
    try:
        doc = Document.model_validate(data)
    except ValidationError as exc:
        raise from_validation(cfg_path, exc, Document, written) from None
    output = _output(cfg_path, doc.output, root)
    if output.shard_by == "content_type":
        for i, entry in enumerate(doc.sources):
            _check_shard_content_type(cfg_path, f"sources[{i}]", entry)
    if doc.splits.validation + doc.splits.test >= 1:
        raise ConfigError(cfg_path, "splits", "validation + test must be below 1")
    base = doc.thresholds
    thresholds = Thresholds(**{k: getattr(base, k) for k in THRESHOLD_KEYS})
    per_objective = base.per_objective or PerObjective()
    objective_thresholds = {
        objective: _override(thresholds, getattr(per_objective, objective))
        for objective in OBJECTIVES
        if getattr(per_objective, objective) is not None
    }
    toolsets = parse_toolsets(cfg_path, doc.toolsets, data.get("defaults"))
    toolset_ids = declared_ids(list(toolsets))
    quality = _parse_quality(cfg_path, "quality", doc.quality, DEFAULT_POLICY, None)
    names = FileNames()  # shared: a file has one name per config, a name one file
    sources = tuple(
        _source(
            cfg_path, root, i, entry, data["sources"][i], quality, list_files, names, toolset_ids
        )
        for i, entry in enumerate(doc.sources)
    )
    seen: set[str] = set()
    for i, source in enumerate(sources):
        if source.name in seen:
            raise ConfigError(
                cfg_path, f"sources[{i}].name", f"duplicate source name {source.name!r}"
            )
        seen.add(source.name)
    _check_source_overlap(cfg_path, output, sources, names.folder_links)
    return PipelineConfig(
        path=cfg_path,
        root=root,
        dataset=_dataset(doc.dataset),
        output=output,
        validation_ratio=float(doc.splits.validation),
        test_ratio=float(doc.splits.test),
        thresholds=thresholds,
        objective_thresholds=objective_thresholds,
        max_record_bytes=doc.limits.max_record_bytes,
        sources=sources,
        toolsets=toolsets,
        defaults=data.get("defaults"),
        schedule_cron=doc.schedule.cron,
        sensor_interval_seconds=doc.sensor.interval_seconds,
        team=doc.ui.team,
        raw=data,
        quality=quality,
    )


def check_buckets(cfg: PipelineConfig) -> None:
    """`ConfigError` unless the bucket of an object-storage `output.dir` or `quarantine_dir`
    exists: a build writes objects into it and never creates one, so it checks this before it
    reads any source (a request to the store: `load_config` makes none for its output)."""
    for name in ("dir", "quarantine_dir"):
        path = getattr(cfg.output, name)
        if isinstance(path, StoreURL):
            try:
                bucket = missing_bucket(path)
            except ValueError as exc:  # the backend's client library is not installed
                raise ConfigError(cfg.path, f"output.{name}", str(exc)) from None
            if bucket is not None:
                raise ConfigError(
                    cfg.path,
                    f"output.{name}",
                    f"{path}: the bucket {bucket!r} does not exist (a build writes into a "
                    "bucket, it never creates one)",
                )


def _dataset(d: Dataset) -> DatasetConfig:
    """`dataset`, with `tags` None when not set: an empty list is set, and copied."""
    tags = None if d.tags is None else tuple(d.tags)
    return DatasetConfig(**{**d.model_dump(), "tags": tags})


def _override(base: Thresholds, given: SourceThresholds) -> Thresholds:
    return Thresholds(
        **{
            k: getattr(base, k) if getattr(given, k) is None else getattr(given, k)
            for k in THRESHOLD_KEYS
        }
    )


def _check_source_overlap(
    cfg_path: Path,
    output: OutputConfig,
    sources: Sequence[SourceConfig],
    links: Mapping[str, FolderLinks],
) -> None:
    guarded = guarded_dirs(
        {
            "output.dir": output.dir,
            "output.work_dir": output.work_dir,
            "output.quarantine_dir": output.quarantine_dir,
        }
    )
    dirs = {key: path for key, path in guarded.items() if not isinstance(path, StoreURL)}
    entries = [  # object-storage globs and objects cannot lie in a local dir
        (
            f"sources[{i}]",
            [p for p in s.patterns if not is_url(p)],
            [f.path for f in s.inputs if not isinstance(f.path, StoreURL)],
        )
        for i, s in enumerate(sources)
    ]
    urls = {key: os.fspath(path) for key, path in guarded.items() if isinstance(path, StoreURL)}
    url_globs = [
        (f"sources[{i}]", [p for p in s.patterns if is_url(p)]) for i, s in enumerate(sources)
    ]
    try:
        check_source_overlap(dirs, cfg_path.parent, entries, links)
        check_url_dirs(urls, url_globs)
    except DirProblem as exc:
        raise ConfigError(cfg_path, exc.key, exc.message) from None


THRESHOLD_KEYS: Final = (
    "max_parse_failure_rate",
    "max_duplicate_id_rate",
    "max_invalid_rate",
    "max_adapter_reject_rate",
)


def _output(cfg_path: Path, o: Output, root: Path) -> OutputConfig:
    if o.level is not None and o.compression == "none":
        raise ConfigError(
            cfg_path,
            "output.level",
            f"compression: none takes no level, got {o.level!r} (remove level, or set "
            "compression: gzip or zstd)",
        )
    if o.level is not None and o.compression == "zstd" and o.level < 1:
        raise ConfigError(cfg_path, "output.level", f"must be an integer >= 1, got {o.level!r}")
    if o.level is not None and o.compression == "gzip" and o.level > 9:
        raise ConfigError(cfg_path, "output.level", "gzip levels run from 0 to 9")
    if o.level is not None and o.compression == "zstd" and o.level > 22:
        raise ConfigError(cfg_path, "output.level", "zstd levels run from 1 to 22")
    if o.max_records_per_shard is None and o.max_bytes_per_shard is None:
        raise ConfigError(
            cfg_path,
            "output.max_records_per_shard",
            "set max_records_per_shard, max_bytes_per_shard or both",
        )
    for name in ("dir", "quarantine_dir", "work_dir"):
        problem = scheme_problem(getattr(o, name))
        if problem is None and is_url(getattr(o, name)):
            problem = dot_segment_problem(getattr(o, name))
        if problem is not None:
            raise ConfigError(cfg_path, f"output.{name}", problem)
    if is_url(o.work_dir):
        raise ConfigError(
            cfg_path, "output.work_dir", "must be a local folder (it is scratch); got a URL"
        )
    dirs = {
        name: location(getattr(o, name))
        if is_url(getattr(o, name))
        else resolved_path(
            cfg_path,
            f"output.{name}",
            root / os.path.expanduser(os_path(local_path(getattr(o, name)))),
        )
        for name in ("dir", "work_dir", "quarantine_dir")
    }
    guarded = guarded_dirs({f"output.{name}": p for name, p in dirs.items()})
    try:  # object-storage locations cannot hold a local dir nor lie in one
        local = {k: p for k, p in guarded.items() if not isinstance(p, StoreURL)}
        check_own_dirs(local)
        check_dir_kinds(local)  # object storage at the build's start (no network here)
        check_url_roots({k: os.fspath(p) for k, p in guarded.items() if isinstance(p, StoreURL)})
    except DirProblem as exc:
        raise ConfigError(cfg_path, exc.key, exc.message) from None
    return OutputConfig(
        dir=dirs["dir"],
        work_dir=dirs["work_dir"],
        quarantine_dir=dirs["quarantine_dir"],
        compression=o.compression,
        level=o.level,
        max_records_per_shard=o.max_records_per_shard,
        max_bytes_per_shard=o.max_bytes_per_shard,
        shard_by=o.shard_by,
        retention_hours=o.retention_hours,
        chunk_bytes=o.chunk_bytes,
    )


def _parse_quality(
    cfg_path: Path, key: str, data: Any, base: QualityPolicy, objective: str | None
) -> QualityPolicy:
    try:
        return parse_policy(data, base, objective)
    except PolicyError as exc:
        raise ConfigError(cfg_path, f"{key}.{exc.key}" if exc.key else key, exc.message) from exc


def _metadata_fields(cfg_path: Path, key: str, s: SourceFields) -> tuple[str, ...]:
    """`metadata_fields`, checked: each once, and none that a record's metadata already gets
    from the build (`trace`) or from this source's config (`metadata`, `license`,
    `content_type`), which would override it."""
    fields = s.metadata_fields or []
    taken = {"trace": "the build's trace", **dict.fromkeys(s.metadata or {}, "metadata")}
    if s.license:
        taken["license"] = "license"
    if s.content_type:
        taken["content_type"] = "content_type"
    for n, name in enumerate(fields):
        where = f"{key}.metadata_fields[{n}]"
        if name in fields[:n]:
            raise ConfigError(cfg_path, where, f"{name!r} is listed twice")
        if name in taken:
            raise ConfigError(
                cfg_path, where, f"{name!r} is a metadata key set by {taken[name]}; pick another"
            )
    return tuple(fields)


def _check_shard_content_type(cfg_path: Path, key: str, s: SourceFields) -> None:
    """With `output.shard_by: content_type`, the content type a source gives the records that
    set none (its `content_type`, else its `metadata.content_type`) must name a shard, by the
    rule `transformed` holds each record to (`content_type_name_problem`): else every such
    record would be quarantined as `content_type_name`, for a value of the config."""
    if s.content_type is not None:
        where, value = f"{key}.content_type", s.content_type
    else:
        where, value = f"{key}.metadata.content_type", (s.metadata or {}).get("content_type")
    problem = content_type_name_problem(value)
    if problem is not None:
        raise ConfigError(
            cfg_path, where, f"{problem}; every record of the source that sets none gets it"
        )


def _check_metadata(cfg_path: Path, key: str, s: SourceFields) -> None:
    """A source's `metadata`: no blank key, no `trace` (the build's), and no `license` or
    `content_type` other than the source's own key of that name gives: the build sets those
    keys from it, so one of two values for the same records would be dropped without a word."""
    own = {"license": s.license, "content_type": s.content_type}
    for name, value in (s.metadata or {}).items():
        where = f"{key}.metadata.{name}"
        if is_blank(name):
            raise ConfigError(
                cfg_path, f"{key}.metadata", f"a blank key {name!r} names nothing; give it a name"
            )
        if name == "trace":
            raise ConfigError(cfg_path, where, "'trace' is the metadata key the build sets")
        if own.get(name) is not None and value != own[name]:
            raise ConfigError(
                cfg_path,
                where,
                f"{value!r} clashes with the source's {name}: {own[name]!r}, which the build "
                f"sets as metadata.{name}; give one value",
            )


def _source(
    cfg_path: Path,
    root: Path,
    i: int,
    s: Any,
    raw: dict[str, Any],
    quality: QualityPolicy,
    list_files: bool,
    names: FileNames,
    toolset_ids: frozenset[str],
) -> SourceConfig:
    """One validated source entry resolved against the files its globs match (none looked
    for without `list_files`; `names`: see `source_inputs`); a toolset its adapter options name
    must be one of `toolset_ids` (the config's)."""
    key = f"sources[{i}]"
    try:
        adapter_options = resolve_options(s.adapter, raw.get("options"), s.objective)
    except OptionsError as exc:
        sub = f"{key}.options.{exc.option}" if exc.option else f"{key}.options"
        raise ConfigError(cfg_path, sub, str(exc)) from None
    except ValueError as exc:  # the adapter itself: unknown, or not for this objective
        raise ConfigError(cfg_path, f"{key}.adapter", str(exc)) from None
    check_option_toolset(cfg_path, key, adapter_options, toolset_ids)
    # `~` means the home dir here as in a shell: `output.dir: ~` must meet the home-dir check.
    given = [s.paths] if isinstance(s.paths, str) else s.paths
    for n, pattern in enumerate(given):
        problem = scheme_problem(pattern)
        if problem is not None:
            raise ConfigError(cfg_path, f"{key}.paths[{n}]", problem)
    # A local glob (`file:///x` is `/x`) is turned into the OS-level `str` of its UTF-8 bytes
    # (core/file_names.py).
    patterns = [p if is_url(p) else os.path.expanduser(os_path(local_path(p))) for p in given]
    if not patterns:
        raise ConfigError(
            cfg_path,
            f"{key}.paths",
            "must be a glob or a non-empty list of globs (relative to the config file)",
        )
    inputs = source_inputs(cfg_path, root, key, s.format, patterns, names) if list_files else {}
    read_options = s.read_options or {}
    # the formats of the files read (a path never read has no options to check)
    for file_format in sorted({i.format for i in inputs.values() if i.not_a_file is None}):
        try:  # the format's options model, keyed on the format name
            resolve_read_options(file_format, read_options)
        except OptionsError as exc:
            sub = f"{key}.read_options.{exc.option}" if exc.option else f"{key}.read_options"
            raise ConfigError(cfg_path, sub, str(exc)) from None
    id_field = s.id_field
    if id_field is None and s.adapter == "mapping" and adapter_options.get("id"):
        id_field = adapter_options["id"]  # the mapping adapter's `id` path is the source id
    given = s.thresholds or SourceThresholds()
    _check_metadata(cfg_path, key, s)
    metadata_fields = _metadata_fields(cfg_path, key, s)
    return SourceConfig(
        name=s.name,
        objective=s.objective,
        adapter=s.adapter,
        split=s.split,
        inputs=tuple(sorted(inputs.values(), key=lambda i: (i.rel, i.rel_b64 or ""))),
        patterns=tuple(patterns),
        adapter_options=adapter_options,
        read_options=read_options,
        format=s.format,
        id_field=id_field,
        content_type=s.content_type,
        license=s.license,
        metadata=s.metadata or {},
        metadata_fields=metadata_fields,
        quality=_parse_quality(
            cfg_path, f"{key}.quality", raw.get("quality"), quality, s.objective
        ),
        thresholds={k: getattr(given, k) for k in THRESHOLD_KEYS if getattr(given, k) is not None},
    )
