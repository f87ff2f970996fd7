"""Shard families: which family (`<objective>-<split>[-<content_type>]`) a source file's
records go to, the names a partition's shards may take, and the content digest of a family.

The digest - length, line count and sha256 of a family's accepted lines, in order - is taken
from the records as they are handed to the shard writer, and recorded in the shards stage's
report; `shards_verified` decompresses the shards and compares.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Final

from jsonl_assets.core.config import PipelineConfig
from jsonl_assets.core.store.work_files import PartitionDirs

DEFAULT_CONTENT_TYPE: Final = "general"


def family_pattern(dirs: PartitionDirs) -> re.Pattern[str]:
    """Names of every shard this partition may own, whatever the sharding settings."""
    return re.compile(
        rf"^{re.escape(dirs.family_prefix)}-(?:[a-z0-9][a-z0-9_]*-)?\d{{5}}\.jsonl(?:\.gz|\.zst)?$"
    )


def file_family(cfg: PipelineConfig, dirs: PartitionDirs, entry: dict[str, Any]) -> str:
    """The shard family of a source file (an entry of the extracted stage's `files`)."""
    if cfg.output.shard_by != "content_type":
        return dirs.family_prefix
    source = next(s for s in cfg.sources if s.name == entry["source"])
    return f"{dirs.family_prefix}-{source.content_type or DEFAULT_CONTENT_TYPE}"


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
