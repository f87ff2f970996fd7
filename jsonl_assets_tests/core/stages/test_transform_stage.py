"""The transformed stage's record metadata: a source's `metadata_fields` copy raw fields into
each record's metadata, beside what the config and the build add."""

from __future__ import annotations

from pathlib import Path

import orjson

from jsonl_assets.core.build import build_partition, publish
from jsonl_assets.core.config import load_config
from jsonl_assets_tests.conftest import package_shards, read_shard, write_config


def _project(root: Path, metadata_fields: list[str] | None) -> Path:
    raw = root / "raw"
    raw.mkdir(parents=True)
    rows = [
        {"instruction": "q1", "output": "a1", "category": "open_qa", "score": {"n": 1.5}},
        {"instruction": "q2", "output": "a2"},  # no category: nothing is added
        {"instruction": "q3", "output": "a3", "category": None},  # null is a value
        {  # one record per instance: each gets the fields
            "instruction": "q4",
            "category": "seed",
            "instances": [{"input": "", "output": "x"}, {"input": "", "output": "y"}],
        },
    ]
    (raw / "a.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    (raw / "b.csv").write_text("instruction,output,category\nq5,a5,brainstorm\n")
    source = {"objective": "sft", "adapter": "alpaca", "split": "train", "license": "MIT"}
    if metadata_fields is not None:
        source["metadata_fields"] = metadata_fields
    return write_config(
        root / "pipeline.yaml",
        {
            "dataset": {"name": "t", "description": "metadata fields"},
            "sources": [
                {"name": "a", "paths": ["raw/a.jsonl"], **source},
                {"name": "b", "paths": ["raw/b.csv"], **source},
            ],
        },
    )


def _metadata(config: Path) -> list[dict]:
    cfg = load_config(config)
    build_partition(cfg, "sft|train")
    publish(cfg)
    records = [r for path in package_shards(config.parent / "package") for r in read_shard(path)]
    out = []
    for r in records:
        meta = dict(r["metadata"])
        meta["line"] = meta.pop("trace").get("line") or "row"
        out.append(meta)
    return sorted(out, key=lambda m: (str(m["line"]), str(m.get("category"))))


def test_metadata_fields_copy_raw_fields_into_each_records_metadata(tmp_path: Path) -> None:
    kept = _metadata(_project(tmp_path / "kept", ["category", "score"]))
    assert kept == [
        {"category": "open_qa", "score": {"n": 1.5}, "license": "MIT", "line": 1},
        {"license": "MIT", "line": 2},
        {"category": None, "license": "MIT", "line": 3},
        {"category": "seed", "license": "MIT", "line": 4},
        {"category": "seed", "license": "MIT", "line": 4},
        {"category": "brainstorm", "license": "MIT", "line": "row"},
    ]
    plain = _metadata(_project(tmp_path / "plain", None))
    assert [m for m in plain if set(m) != {"license", "line"}] == []
