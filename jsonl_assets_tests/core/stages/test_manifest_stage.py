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
