"""The pipeline config's schema: strict pydantic models of the YAML document (`extra="forbid"`).

A source's `adapter` + `options` validate through a discriminated union keyed on the adapter
name, each member carrying that adapter's own options model (declared in its module).
Cross-file checks (globs, dirs, formats per file, objective fit) are in `loading.py`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Final, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model, field_validator

from jsonl_assets.core.adapters import ADAPTERS
from jsonl_assets.core.blank_text import is_blank
from jsonl_assets.core.config.config_yaml import datetime_advice
from jsonl_assets.core.config.cron import cron_problem
from jsonl_assets.core.field_paths import parse_path
from jsonl_assets.core.file_names import os_path
from jsonl_assets.core.readers import READERS
from jsonl_assets.core.rules.spec_vocabulary import SPLITS
from jsonl_assets.core.rules.vocabulary import is_iso_datetime, json_type_name
from jsonl_assets.core.value_text import value_text

SOURCE_SPLITS: Final = (*SPLITS, "auto")
SHARD_BY: Final = ("objective", "content_type")
NAME_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
CONTENT_TYPE_RE: Final = re.compile(r"^[a-z0-9][a-z0-9_]*$")
MAX_CONTENT_TYPE_CHARS: Final = 100
"""The longest content type a shard name holds (a file name has at most 255 bytes)."""
ISO_DATETIME: Final = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
)


def content_type_name_problem(value: Any) -> str | None:
    """Why `value` cannot name a shard family under `output.shard_by: content_type`, as the
    rest of a sentence about where it is (None when it can: a string matching
    `CONTENT_TYPE_RE` of at most `MAX_CONTENT_TYPE_CHARS` characters, or null, the family
    `general`). The one rule for a record's `metadata.content_type` (transformed quarantines
    it as `content_type_name`) and for the content type a source's config gives its records
    (refused when the config loads). The value is shown by `value_text`."""
    if value is None:
        return None
    if type(value) is not str:
        return f"{value_text(value)} is {json_type_name(value)}, not a string"
    if CONTENT_TYPE_RE.fullmatch(value) and len(value) <= MAX_CONTENT_TYPE_CHARS:
        return None
    size = f"; it has {len(value)}" if len(value) > MAX_CONTENT_TYPE_CHARS else ""
    return (
        f"{value_text(value)} cannot name a shard: with output.shard_by: content_type it must "
        f"match {CONTENT_TYPE_RE.pattern} (at most {MAX_CONTENT_TYPE_CHARS} characters{size})"
    )


def _not_blank(value: str) -> str:
    """A string with a visible character: blank is `blank_text.is_blank`, the definition
    every reader, adapter, rule and verify's A4 judge by (so a name the config takes is one
    the build's own verify takes)."""
    if is_blank(value):
        raise ValueError(
            f"must be a non-empty string, not blank (only whitespace or invisible characters), "
            f"got {value!r}"
        )
    return value


Text = Annotated[str, AfterValidator(_not_blank)]  # a string with a visible character


def _os_path(value: str) -> str:
    """A string the OS can take as a path: no NUL byte, and encodable as UTF-8 (the
    problems no file system check could report later, only a crash)."""
    problem = os_path_problem(value)
    if problem is not None:
        raise ValueError(f"{problem}, got {value!r}")
    return value


def os_path_problem(value: str) -> str | None:
    """Why the OS would refuse `value` as a path whatever the file system, or None."""
    if "\0" in value:
        return "must not contain a NUL byte (no path can hold one)"
    try:
        os_path(value)  # its UTF-8 bytes, whatever the locale (core/file_names.py)
    except UnicodeEncodeError:
        return "cannot be encoded as a file name"
    return None


# A path or glob of the config (dirs, source paths): non-empty, and one the OS can take.
PathText = Annotated[Text, AfterValidator(_os_path)]
Rate = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Dataset(Model):
    name: Text
    description: Text
    dataset_id: Text | None = None
    license: Text | None = None
    contact: Text | None = None
    tags: list[Text] | None = None  # `[]` is set (copied), unlike absent
    created_at: Text | None = None

    @field_validator("created_at")
    @classmethod
    def _iso(cls, value: str | None) -> str | None:
        if value is not None and not (ISO_DATETIME.fullmatch(value) and is_iso_datetime(value)):
            try:
                hint = f" (as a date-time: '{datetime_advice(dt.datetime.fromisoformat(value))}')"
            except ValueError:
                hint = ""
            raise ValueError(
                f"must be an ISO-8601 date-time like 2025-03-01T12:00:00Z, got {value!r}{hint}"
            )
        return value


class Output(Model):
    dir: PathText = "package"
    work_dir: PathText = "work"
    quarantine_dir: PathText = "quarantine"
    compression: Literal["none", "gzip", "zstd"] = "zstd"
    level: Annotated[int, Field(ge=0)] | None = None
    max_records_per_shard: Annotated[int, Field(ge=1)] | None = 100_000
    max_bytes_per_shard: Annotated[int, Field(ge=256)] | None = None
    shard_by: Literal["objective", "content_type"] = "objective"
    retention_hours: Annotated[float, Field(ge=0)] = 24.0
    # A partition's plain JSONL is cut into chunks of about this many bytes, read in parallel.
    chunk_bytes: Annotated[int, Field(ge=4096)] = 256 << 20


class Splits(Model):
    validation: Rate = 0.05
    test: Rate = 0.05


DEFAULT_SPLITS: Final = Splits()  # the ratios a config that sets none gets


class SourceThresholds(Model):
    """Threshold overrides: a key left out inherits (global <- per objective <- source)."""

    max_parse_failure_rate: Rate | None = None
    max_duplicate_id_rate: Rate | None = None
    max_invalid_rate: Rate | None = None
    max_adapter_reject_rate: Rate | None = None


class PerObjective(Model):
    sft: SourceThresholds | None = None
    preference: SourceThresholds | None = None
    rft: SourceThresholds | None = None
    cpt: SourceThresholds | None = None


class GlobalThresholds(Model):
    max_parse_failure_rate: Rate = 0.05
    max_duplicate_id_rate: Rate = 0.05
    max_invalid_rate: Rate = 0.05
    max_adapter_reject_rate: Rate = 0.05
    per_objective: PerObjective | None = None


# Largest `limits.max_record_bytes`: the CSV reader hands it to `csv.field_size_limit` (a C
# long, 32 bits on some platforms) and to `readline` (a C ssize_t); a record is held whole in
# memory, so 2 GiB is far past any record a build can use.
MAX_RECORD_BYTES_BOUND: Final = (1 << 31) - 1


class Limits(Model):
    max_record_bytes: Annotated[int, Field(ge=1024, le=MAX_RECORD_BYTES_BOUND)] = 16 * 1024 * 1024


DEFAULT_LIMITS: Final = Limits()


class Schedule(Model):
    cron: Text = "0 3 * * *"

    @field_validator("cron")
    @classmethod
    def _five_fields(cls, value: str) -> str:
        problem = cron_problem(value)
        if problem is not None:
            raise ValueError(f"{problem}, got {value!r}")
        return value


# Dagster's GraphQL API (what the UI reads) sends `minIntervalSeconds` as a 32-bit Int.
MAX_INTERVAL_SECONDS: Final = (1 << 31) - 1


class Sensor(Model):
    interval_seconds: Annotated[int, Field(ge=5, le=MAX_INTERVAL_SECONDS)] = 60


class Ui(Model):
    """How the Dagster UI labels the assets: the owning team (a placeholder by default)."""

    team: Annotated[
        str,
        Field(
            pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$",
            description="a name of at most 63 letters, digits, '_', '.' or '-' that starts "
            "with a letter or a digit (Dagster's owner team)",
        ),
    ] = "llm-data"


class SourceFields(Model):
    """The keys every source has; `adapter` and `options` come from its union member."""

    name: Text
    paths: PathText | list[PathText]
    objective: Literal["sft", "preference", "rft", "cpt"]
    split: Literal["train", "validation", "test", "auto"]
    format: Text | None = None
    read_options: dict[str, Any] | None = None
    id_field: Text | None = None
    content_type: Text | None = None
    license: Text | None = None
    metadata: dict[str, Any] | None = None
    # Top-level fields of each raw record copied, when present, into its record's metadata.
    metadata_fields: list[Text] | None = None
    quality: Any = None  # parsed by rules.quality_policy (it knows the rule names)
    thresholds: SourceThresholds | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_RE.fullmatch(value):
            raise ValueError(f"must match {NAME_RE.pattern}, got {value!r}")
        return value

    @field_validator("content_type")
    @classmethod
    def _content_type(cls, value: str | None) -> str | None:
        if value is not None and not CONTENT_TYPE_RE.fullmatch(value):
            raise ValueError(
                f"must match {CONTENT_TYPE_RE.pattern} (it becomes part of shard names)"
            )
        return value

    @field_validator("id_field")
    @classmethod
    def _id_field(cls, value: str | None) -> str | None:
        if value is not None:
            parse_path(value)  # one path rule (field_paths): a bad path stops the load
        return value

    @field_validator("format")
    @classmethod
    def _format(cls, value: str | None) -> str | None:
        if value is not None and value not in READERS:
            raise ValueError(
                f"unknown format {value!r}; valid formats: {', '.join(sorted(READERS))}"
            )
        return value


def _source_member(name: str) -> type[SourceFields]:
    options = ADAPTERS[name].options
    return create_model(  # type: ignore[call-overload,no-any-return]
        f"Source_{name}",
        __base__=SourceFields,
        adapter=(Literal[name], ...),
        options=(options | None, None),
    )


SOURCE_MEMBERS: Final = {name: _source_member(name) for name in ADAPTERS}
Source = Annotated[Union[tuple(SOURCE_MEMBERS.values())], Field(discriminator="adapter")]  # noqa: UP007


class Document(Model):
    dataset: Dataset
    output: Output = Output()
    splits: Splits = Splits()
    thresholds: GlobalThresholds = GlobalThresholds()
    limits: Limits = Limits()
    toolsets: Any = None  # checked by the toolset-shape check (loading._parse_toolsets)
    defaults: dict[str, Any] | None = None
    schedule: Schedule = Schedule()
    sensor: Sensor = Sensor()
    ui: Ui = Ui()
    sources: Annotated[list[Source], Field(min_length=1)]
    quality: Any = None  # parsed by rules.quality_policy
