"""The manifest stage publishes one version of every source file: partitions that read a file
before and after it changed are refused together, and the next build makes them agree."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from jsonl_assets.core.build import build_partition, publish
from jsonl_assets.core.config import load_config
from jsonl_assets.core.stages.manifest_stage import SourceVersionsDiffer
from jsonl_assets_tests.conftest import read_shard, write_config


def _notes(path: Path, first: int, last: int) -> None:
    rows = (
        {"messages": [{"role": "document", "content": f"note {i}"}]} for i in range(first, last)
    )
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))


def test_a_file_that_changed_between_partitions_is_never_published_mixed(tmp_path: Path) -> None:
    raw = tmp_path / "raw" / "notes.jsonl"
    raw.parent.mkdir()
    _notes(raw, 0, 600)
    config = write_config(
        tmp_path / "pipeline.yaml",
        {
            "dataset": {"name": "t", "description": "one version per file"},
            "splits": {"validation": 0.2, "test": 0.2},
            "sources": [
                {
                    "name": "notes",
                    "paths": ["raw/notes.jsonl"],
                    "objective": "cpt",
                    "adapter": "native",
                    "split": "auto",
                }
            ],
        },
    )
    cfg = load_config(config)
    build_partition(cfg, "cpt|train")
    _notes(raw, 100, 600)  # rewritten between the partitions of one build
    build_partition(cfg, "cpt|validation")
    build_partition(cfg, "cpt|test")
    with pytest.raises(SourceVersionsDiffer) as raised:
        publish(cfg)
    assert "raw/notes.jsonl (source notes): cpt|train read sha256" in str(raised.value)
    assert "cpt|validation read" in str(raised.value) and "nothing was published" in str(
        raised.value
    )
    assert not (tmp_path / "package" / "metadata.json").exists()

    cfg = load_config(config)  # the next build: the stale partition is rebuilt
    for key in ("cpt|train", "cpt|validation", "cpt|test"):
        build_partition(cfg, key)
    result = publish(cfg)
    assert result.manifest is not None and result.manifest.published
    package = tmp_path / "package"
    meta = orjson.loads((package / "metadata.json").read_bytes())
    listed = [package / s["path"] for f in meta["files"] for s in f["shards"]]
    records = [r for path in listed for r in read_shard(path)]
    assert len(records) == 500 and len({r["metadata"]["trace"]["sha256"] for r in records}) == 1
    assert [f["sha256"] for f in meta["extensions"]["x-jsonl-assets"]["source_files"]] == [
        records[0]["metadata"]["trace"]["sha256"]
    ]


def _chats(path: Path, count: int, description: str = "d") -> None:
    rows = (
        {
            "messages": [
                {"role": "user", "content": f"q{i}"},
                {"role": "assistant", "content": "a"},
            ],
            "tools": [
                {
                    "type": "function",
                    "function": {"name": f"tool_{i}", "description": description, "parameters": {}},
                }
            ],
        }
        for i in range(count)
    )
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))


def test_a_manifest_a_default_verify_would_refuse_is_not_published(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    _chats(raw / "a.jsonl", 3)
    source = {"name": "c", "paths": ["raw/*.jsonl"], "objective": "sft", "adapter": "chat"}
    config = write_config(
        tmp_path / "pipeline.yaml",
        {"dataset": {"name": "t", "description": "d"}, "sources": [{**source, "split": "train"}]},
    )
    cfg = load_config(config)
    build_partition(cfg, "sft|train")
    assert publish(cfg).manifest.published  # type: ignore[union-attr]
    package = tmp_path / "package"
    meta = (package / "metadata.json").read_bytes()
    listed = [s["path"] for f in orjson.loads(meta)["files"] for s in f["shards"]]
    before = {path: (package / path).read_bytes() for path in listed}

    # 180 distinct tool lists of 100 KB each: an 18 MB metadata.json.
    _chats(raw / "b.jsonl", 180, "x" * 100_000)
    cfg = load_config(config)
    build_partition(cfg, "sft|train")
    result = publish(cfg).manifest
    assert result is not None and not result.published
    assert result.refused is not None and result.error_count == 1
    size = int(result.refused.split(" bytes")[0].rsplit(" ", 1)[1])
    assert size > 16 << 20 and f"more than {16 << 20} (16 MiB)" in result.refused
    assert "183 toolsets and 2 source files" in result.refused
    assert "Nothing was published" in result.refused and "toolset_id" in result.refused
    # The published version stands: its metadata.json and the shards it lists.
    assert (package / "metadata.json").read_bytes() == meta
    assert {path: (package / path).read_bytes() for path in listed} == before
