"""metadata.json from the partitions' results: tool keys beyond the spec's go to
`extensions.x-jsonl-assets.tool_extras` by toolset id (rule B4: toolsets hold spec keys only),
and every built partition that read an input is accounted for, shards or not (spec C8: only a
partition with shards gets a `files` entry)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from jsonl_assets.core.build import build_partition, publish
from jsonl_assets.core.config import load_config
from jsonl_assets.core.manifest_builder import EXTENSION_KEY, PartitionShards, build_manifest
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


# A key the config may set to an empty value, with that value; the parent its copy is in.
EMPTY_VALUES: dict[str, tuple[str | None, Any]] = {
    "tags": ("dataset", []),
    "defaults": (None, {}),
    "toolsets": (None, []),
}


def _config_with(tmp_path: Path, key: str, value: Any) -> Path:
    """A one-record chat config with `key` (under its parent) set to `value` ("absent": not
    set)."""
    (tmp_path / "raw").mkdir(exist_ok=True)
    row = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    (tmp_path / "raw" / "a.jsonl").write_bytes(orjson.dumps(row) + b"\n")
    source = {"name": "a", "paths": ["raw/a.jsonl"], "objective": "sft", "adapter": "chat"}
    data: dict[str, Any] = {
        "dataset": {"name": "t", "description": "d"},
        "sources": [{**source, "split": "train"}],
    }
    parent = EMPTY_VALUES[key][0]
    if value != "absent":
        (data[parent] if parent else data)[key] = value
    return write_config(tmp_path / "pipeline.yaml", data)


@pytest.mark.parametrize("key", sorted(EMPTY_VALUES))
def test_an_empty_value_the_config_sets_is_copied_as_set(tmp_path: Path, key: str) -> None:
    """`dataset: {tags: []}` (and `defaults: {}`, `toolsets: []`) was left out of
    metadata.json without a word: "copied when set", and an empty value is set. Absent or
    null, the key stays absent."""
    parent, empty = EMPTY_VALUES[key]

    def copied(doc: dict[str, Any]) -> dict[str, Any]:
        return doc[parent] if parent else doc

    for value in (None, "absent"):
        doc = build_manifest(load_config(_config_with(tmp_path, key, value)), [])
        assert key not in copied(doc), value
    cfg = load_config(_config_with(tmp_path, key, empty))
    assert copied(build_manifest(cfg, []))[key] == empty
    build_partition(cfg, "sft|train")
    publish(cfg)
    doc = orjson.loads((tmp_path / "package" / "metadata.json").read_bytes())
    assert copied(doc)[key] == empty
    report = verify_package(tmp_path / "package")
    assert report.ok, report.findings[:5]
