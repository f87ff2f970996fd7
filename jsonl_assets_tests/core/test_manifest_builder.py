"""metadata.json keeps what a record's declared tools say beyond the spec's tool keys in
`extensions.x-jsonl-assets.tool_extras`, by toolset id: the toolsets hold spec keys only
(rule B4) and nothing the source said is dropped."""

from __future__ import annotations

from pathlib import Path

import orjson

from jsonl_assets.core.build import build_partition, publish
from jsonl_assets.core.config import load_config
from jsonl_assets.core.verify.package import verify_package
from jsonl_assets_tests.conftest import package_shards, read_shard, write_config

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}}


def _record(n: int, tool: dict) -> dict:
    call = {"id": "c", "type": "function", "function": {"name": "w", "arguments": "{}"}}
    return {
        "tools": [tool],
        "messages": [
            {"role": "user", "content": f"u{n}"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "c", "content": "ok"},
            {"role": "assistant", "content": "v"},
        ],
    }


def test_tool_keys_beyond_the_spec_go_to_the_manifests_extensions(tmp_path: Path) -> None:
    fn = {"name": "w", "description": "d", "parameters": SCHEMA}
    tools = [
        {"type": "function", "function": {**fn, "strict": True}},
        {"type": "function", "function": {**fn, "strict": False}, "vendor": {"x": 1}},
        {"type": "function", "function": fn},
    ]
    raw = tmp_path / "raw"
    raw.mkdir()
    rows = [_record(n, tool) for n, tool in enumerate(tools)]
    (raw / "a.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    config = write_config(
        tmp_path / "pipeline.yaml",
        {
            "dataset": {"name": "t", "description": "tool extras"},
            "sources": [
                {
                    "name": "a",
                    "paths": ["raw/a.jsonl"],
                    "objective": "sft",
                    "adapter": "chat",
                    "split": "train",
                }
            ],
        },
    )
    cfg = load_config(config)
    build_partition(cfg, "sft|train")
    publish(cfg)
    package = tmp_path / "package"
    doc = orjson.loads((package / "metadata.json").read_bytes())
    spec = {"name": "w", "description": "d", "input_schema": SCHEMA}
    assert [t["tools"] for t in doc["toolsets"]] == [[spec]] * 3  # three ids, spec keys only
    records = [r for path in package_shards(package) for r in read_shard(path)]
    by_text = {r["messages"][0]["content"][0]["text"]: r["toolset_id"] for r in records}
    extras = doc["extensions"]["x-jsonl-assets"]["tool_extras"]
    assert extras == {
        by_text["u0"]: {"w": {"function": {"strict": True}}},
        by_text["u1"]: {"w": {"function": {"strict": False}, "vendor": {"x": 1}}},
    }
    assert by_text["u2"] not in extras
    assert list(extras) == sorted(extras)
    report = verify_package(package)
    assert report.ok, report.findings[:5]
