"""metadata.json accounts for every built partition that read an input, shards or not: a
partition whose every input was quarantined keeps its accounting and source files (so the card
and the report count its losses), but gets no `files` entry (spec C8: at least one shard)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jsonl_assets.core.config import load_config
from jsonl_assets.core.manifest_builder import EXTENSION_KEY, PartitionShards, build_manifest


def _file(source: str, file: str) -> dict[str, Any]:
    return {"source": source, "file": file, "sha256": "0" * 64, "bytes": 10}


def _accounting(source: str, read: int, written: int) -> dict[str, Any]:
    quarantined = read - written
    reasons = {"parse_error": quarantined} if quarantined else {}
    counts = {"read": read, "written": written, "quarantined": quarantined}
    return {**counts, "per_source": {source: {**counts, "quarantined_by_reason": reasons}}}


def test_a_partition_with_every_input_quarantined_is_accounted(sample_project: Path) -> None:
    cfg = load_config(sample_project)
    shard = {"path": "data/a.jsonl.zst", "compression": "zstd", "record_count": 5}
    partitions = [
        PartitionShards(
            "sft",
            "train",
            shards=[{**shard, "sha256": "1" * 64}],
            files=[_file("support_chats", "raw/chats.jsonl")],
            accounting=_accounting("support_chats", 5, 5),
        ),
        PartitionShards(
            "cpt",
            "train",
            shards=[],
            files=[_file("garden_notes", "raw/notes.jsonl")],
            accounting=_accounting("garden_notes", 20, 0),
        ),
        PartitionShards(  # built, but nothing was charged to it: nothing to account for
            "rft", "validation", shards=[], accounting={"read": 0, "written": 0, "quarantined": 0}
        ),
    ]
    doc = build_manifest(cfg, partitions)
    extension = doc["extensions"][EXTENSION_KEY]
    assert list(extension["accounting"]) == ["sft|train", "cpt|train"]
    notes = extension["accounting"]["cpt|train"]
    assert (notes["read"], notes["written"], notes["quarantined"]) == (20, 0, 20)
    assert notes["sources"]["garden_notes"]["quarantined_by_reason"] == {"parse_error": 20}
    files = [(f["source"], f["file"]) for f in extension["source_files"]]
    assert ("garden_notes", "raw/notes.jsonl") in files
    assert [(f["objective"], f["split"]) for f in doc["files"]] == [("sft", "train")]
