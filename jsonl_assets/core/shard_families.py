"""Shard families: which family (`<objective>-<split>[-<content_type>]`) a record goes to
(its own content type under `output.shard_by: content_type`), the names a partition's shards may take, the content digest of a family, and
the partition's snapshot folder `data/<objective>-<split>-<digest>/` its shards are published in.

The digest - length, line count and sha256 of a family's accepted lines, in order - is taken
from the records as they are handed to the shard writer, and recorded in the shards stage's
report; `shards_verified` decompresses the shards and compares.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

import orjson

from jsonl_assets.core.config import PipelineConfig
from jsonl_assets.core.config.models import content_type_name_problem
from jsonl_assets.core.rules.spec_vocabulary import OBJECTIVES, SPLITS
from jsonl_assets.core.stage_report import StageError
from jsonl_assets.core.store.work_files import PartitionDirs

DEFAULT_CONTENT_TYPE: Final = "general"
SNAPSHOT_DIGEST_CHARS: Final = 16
SNAPSHOT_FOLDER: Final = re.compile(r"^(?P<prefix>[a-z]+-[a-z]+)-[0-9a-f]{16}$")
"""A partition's snapshot folder in `data/`: `<objective>-<split>-<16 hex digits>`."""


def snapshot_folder(family_prefix: str, shards: Iterable[tuple[str, str, int]]) -> str:
    """`data/<objective>-<split>-<digest>`: the folder a partition's shards are published in.

    The digest is a function of the shards' content alone - sha256 over their (file name,
    sha256, size), sorted - so the same config and source bytes give the same folder on any
    machine, a changed partition gets a new folder (never a published file's name), and an
    unchanged one keeps its folder (its files are reused as they are)."""
    return f"data/{family_prefix}-{snapshot_digest(shards)}"


def snapshot_digest(files: Iterable[tuple[str, str, int]]) -> str:
    """16 hex digits of sha256 over the (file name, sha256, size) of `files`, sorted: the
    name of a content-addressed folder (of shards, or of a partition's quarantine)."""
    listed = sorted([Path(name).name, sha, size] for name, sha, size in files)
    return hashlib.sha256(orjson.dumps(listed)).hexdigest()[:SNAPSHOT_DIGEST_CHARS]


SHARD_NUMBER_DIGITS: Final = 5
"""A shard's number in its family: five digits, zero-padded (the spec's naming convention,
`<prefix>-<split>-NNNNN`), so a family holds at most `MAX_SHARDS` shards."""
MAX_SHARDS: Final = 10**SHARD_NUMBER_DIGITS
_NUMBER: Final = rf"\d{{{SHARD_NUMBER_DIGITS}}}"


class TooManyShards(StageError):
    """A family would need more shards than its names can number: the partition fails before
    its first shard without a name of ours is written."""


def shard_file_name(family: str, number: int, extension: str) -> str:
    """`<family>-NNNNN<extension>`: the name of a family's shard `number` (0-based). Raises
    TooManyShards for a number five digits cannot write (a longer name would not be ours to
    the package's checks and its garbage collection)."""
    if not 0 <= number < MAX_SHARDS:
        partition = "|".join(family.split("-")[:2])
        raise TooManyShards(
            f"{partition}: shard family {family} needs more than {MAX_SHARDS} shards, and shard "
            f"numbers have {SHARD_NUMBER_DIGITS} digits (the spec's `NNNNN`); raise "
            "output.max_records_per_shard or output.max_bytes_per_shard so that the "
            "partition fits (nothing of it was published)"
        )
    return f"{family}-{number:0{SHARD_NUMBER_DIGITS}d}{extension}"


_PARTITION: Final = (
    f"(?:{'|'.join(map(re.escape, OBJECTIVES))})-(?:{'|'.join(map(re.escape, SPLITS))})"
)
_SHARD_PATH: Final = re.compile(
    rf"data/(?:(?P<folder>{_PARTITION})-[0-9a-f]{{{SNAPSHOT_DIGEST_CHARS}}}/)?"
    rf"(?P<family>{_PARTITION})-(?:[a-z0-9][a-z0-9_]*-)?{_NUMBER}\.jsonl(?:\.gz|\.zst)?"
)


def is_shard_path(rel: str) -> bool:
    """Whether `rel` (relative to the package) has the shape of a shard path this project
    writes: `data/<objective>-<split>-<16 hex>/<objective>-<split>[-<type>]-NNNNN.jsonl[.zst|.gz]`
    (its snapshot folder) or, as before snapshot folders, `data/<that file name>`. Nothing
    else - `metadata.json`, `../x`, an absolute path, a README - is ever a shard of ours,
    whatever a metadata.json or a ledger says."""
    found = _SHARD_PATH.fullmatch(rel)
    return found is not None and found["folder"] in (None, found["family"])


def shard_name_pattern(family_prefix: str) -> re.Pattern[str]:
    """Names of every shard partition `<objective>-<split>` (`family_prefix`) may own."""
    return re.compile(
        rf"^{re.escape(family_prefix)}-(?:[a-z0-9][a-z0-9_]*-)?{_NUMBER}\.jsonl(?:\.gz|\.zst)?$"
    )


def file_family(cfg: PipelineConfig, dirs: PartitionDirs, entry: dict[str, Any]) -> str:
    """The shard family of a source file's records (an entry of the extracted stage's
    `files`) when shards are not split by content type (else `record_family`, per record)."""
    if cfg.output.shard_by != "content_type":
        return dirs.family_prefix
    source = next(s for s in cfg.sources if s.name == entry["source"])
    return f"{dirs.family_prefix}-{source.content_type or DEFAULT_CONTENT_TYPE}"


def content_type_problem(value: Any) -> str | None:
    """Why a record's `metadata.content_type` cannot name its shard family under
    `output.shard_by: content_type` (None when it can): `content_type_name_problem`, the
    rule the config's own content types are held to when it loads."""
    problem = content_type_name_problem(value)
    return None if problem is None else f"metadata.content_type {problem}"


def record_family(family_prefix: str, line: bytes) -> str:
    """`<objective>-<split>-<content_type>`: the family of a record's line under
    `output.shard_by: content_type`, by the record's own `metadata.content_type` (the
    source's only where the record set none: transform_stage), `general` without one - so
    a shard's name agrees with every record in it. The transformed stage quarantined the
    records whose content type cannot name a shard (`content_type_problem`)."""
    metadata = orjson.loads(line).get("metadata")
    value = metadata.get("content_type") if type(metadata) is dict else None
    if content_type_problem(value) is not None:  # not made by the transformed stage
        raise StageError(f"{family_prefix}: a record's {content_type_problem(value)}")
    return f"{family_prefix}-{value or DEFAULT_CONTENT_TYPE}"


def family_of(path: str) -> str:
    """`data/sft-train-00003.jsonl.zst` -> `sft-train`."""
    return Path(path).name.split(".", 1)[0].rsplit("-", 1)[0]


class FamilyContent:
    """Length, line count and sha256 of a family's lines, fed in order."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.bytes = 0
        self.records = 0

    def update(self, block: bytes, records: int) -> None:
        """`block` holds `records` whole newline-terminated lines."""
        self._hash.update(block)
        self.bytes += len(block)
        self.records += records

    def as_json(self) -> dict[str, Any]:
        return {"bytes": self.bytes, "records": self.records, "sha256": self._hash.hexdigest()}
