"""Quarantine details of the transformed stage: a record's value is shown as bounded JSON
(`value_text`), so no value, however deep or long, fails the partition or bloats a detail;
a `metadata_fields` conflict names where the clashing key is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from jsonl_assets.core.build import build_partition, publish
from jsonl_assets.core.config import load_config
from jsonl_assets_tests.conftest import package_shards, read_shard, write_config


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def _build(
    root: Path, lines: list[str], adapter: str, output: dict | None = None, **source: Any
) -> tuple[list, list]:
    """Published records and quarantined entries of a one-file sft build in `root`."""
    raw = root / "raw"
    raw.mkdir(parents=True)
    (raw / "a.jsonl").write_text("\n".join(lines) + "\n")
    config = write_config(
        root / "pipeline.yaml",
        {
            "dataset": {"name": "t", "description": "details"},
            **({"output": output} if output else {}),
            "thresholds": {"max_adapter_reject_rate": 1.0},
            "sources": [
                {
                    "name": "a",
                    "paths": ["raw/a.jsonl"],
                    "objective": "sft",
                    "adapter": adapter,
                    "split": "train",
                    **source,
                }
            ],
        },
    )
    cfg = load_config(config)
    build_partition(cfg, "sft|train")
    publish(cfg)
    records = [r for path in package_shards(root / "package") for r in read_shard(path)]
    quarantined = [
        orjson.loads(line)
        for path in sorted((root / "quarantine").rglob("transformed.jsonl"))
        for line in path.read_bytes().splitlines()
    ]
    return records, quarantined


def _chat(i: int) -> dict[str, Any]:
    return {
        "id": f"r{i}",
        "messages": [
            {"role": "user", "content": f"Q{i}?"},
            {"role": "assistant", "content": f"A{i}."},
        ],
    }


def test_a_deep_id_value_is_missing_id_and_the_partition_is_built(tmp_path: Path) -> None:
    lines = [orjson.dumps(_chat(i)).decode() for i in range(5)]
    lines.insert(2, '{"id":' + _deep(1000) + "," + orjson.dumps(_chat(9)).decode()[11:])
    records, quarantined = _build(tmp_path, lines, "chat", id_field="id")
    assert sorted(r["id"] for r in records) == [f"a:r{i}" for i in range(5)]
    assert [(q["reason"], q["trace"]["line"]) for q in quarantined] == [("missing_id", 3)]
    assert quarantined[0]["detail"].endswith("(got " + "[" * 77 + "...)")


def test_deep_values_in_adapter_details_are_quarantined_never_a_crash(tmp_path: Path) -> None:
    """A role, a part type and a tool call type nested 1,000 deep each reject their record
    (repr() raised RecursionError; a list part type raised TypeError), with a bounded
    detail; the good record is written."""
    deep = _deep(1000)
    user = '{"role":"user","content":"q"}'
    lines = [
        '{"messages":[{"role":' + deep + ',"content":"q"}]}',
        '{"messages":[{"role":"user","content":[{"type":' + deep + "}]}]}",
        '{"messages":['
        + user
        + ',{"role":"assistant","content":null,"tool_calls":[{"type":'
        + deep
        + ',"function":{"name":"f","arguments":"{}"}}]}]}',
        '{"messages":[' + user + ',{"role":"assistant","content":"a"}]}',
    ]
    records, quarantined = _build(tmp_path, lines, "chat")
    assert len(records) == 1
    assert [(q["reason"], q["trace"]["line"]) for q in quarantined] == [
        ("adapter:unknown_role", 1),
        ("adapter:unsupported_content", 2),
        ("adapter:unsupported_content", 3),
    ]
    for q in quarantined:
        assert "[[[[...]" not in q["detail"] and "[" * 77 + "..." in q["detail"]
        assert len(q["detail"]) < 300


def test_an_alpaca_instance_key_clashing_with_a_metadata_field_names_the_instance(
    tmp_path: Path,
) -> None:
    """The clash is with `instances[0].cat`, not with the record's own metadata (which holds
    no `cat`), and the detail says the record's other instance goes with it; a clash with
    the record's own metadata still names that."""
    rows = [
        {
            "id": "x",
            "instruction": "I",
            "instances": [{"input": "i", "output": "o1", "cat": "k"}, {"output": "o2"}],
            "cat": "top",
            "metadata": {"m": 1},
        },
        {"id": "y", "instruction": "I", "output": "o", "cat": "top", "metadata": {"cat": "m"}},
        {"id": "z", "instruction": "I", "instances": [{"output": "o", "cat": "top"}], "cat": "top"},
    ]
    lines = [orjson.dumps(r).decode() for r in rows]
    records, quarantined = _build(tmp_path, lines, "alpaca", id_field="id", metadata_fields=["cat"])
    assert [r["id"] for r in records] == ["a:z#1"]
    assert [q["reason"] for q in quarantined] == ["adapter:metadata_conflict"] * 2
    first, second = (q["detail"] for q in quarantined)
    assert 'field "cat" and instances[0].cat ' in first and "own metadata" not in first
    assert "the whole input record is refused, with all 2 records it makes" in first
    assert 'field "cat" and its own metadata.cat hold' in second and "whole" not in second


def test_a_metadata_field_clash_of_deep_values_is_quarantined(tmp_path: Path) -> None:
    """Values nested 600 deep on both sides are compared without recursion (same_json
    raised RecursionError and failed the partition); the clash is quarantined, the equal
    pair is not a conflict (it is too deep to write: unserializable)."""
    user = '{"role":"user","content":"q"},{"role":"assistant","content":"a"}'
    lines = [
        '{"messages":['
        + user
        + '],"cat":'
        + _deep(600)
        + ',"metadata":{"cat":'
        + _deep(600)[:-600]
        + "[1"
        + "]" * 601
        + "}}",
        '{"messages":['
        + user
        + '],"cat":'
        + _deep(600)
        + ',"metadata":{"cat":'
        + _deep(600)
        + "}}",
        '{"messages":[' + user + '],"cat":"ok"}',
    ]
    records, quarantined = _build(tmp_path, lines, "chat", metadata_fields=["cat"])
    assert [r["metadata"]["cat"] for r in records] == ["ok"]
    assert [(q["reason"], q["trace"]["line"]) for q in quarantined] == [
        ("adapter:metadata_conflict", 1),
        ("unserializable", 2),
    ]


def test_a_content_type_name_detail_shows_the_value_as_bounded_json(tmp_path: Path) -> None:
    """With shard_by: content_type, the `content_type_name` detail shows the record's value
    as `value_text` does (JSON quoting, cut to 80 characters), a non-string with its JSON
    type: not Python's repr() (`'Bad Name'`) nor its type (`a int`)."""
    values = ["Bad Name", "it's", 7, True, {"a": [1]}, "Q" * 5000, "a" * 101]
    lines = [
        orjson.dumps({**_chat(i), "metadata": {"content_type": v}}).decode()
        for i, v in enumerate([*values, "ok"])
    ]
    out = {"shard_by": "content_type"}
    records, quarantined = _build(tmp_path, lines, "native", out, id_field="id")
    assert [r["id"] for r in records] == ["a:r7"]
    assert [q["reason"] for q in quarantined] == ["content_type_name"] * len(values)
    rule = (
        "cannot name a shard: with output.shard_by: content_type it must match "
        "^[a-z0-9][a-z0-9_]*$ (at most 100 characters"
    )
    assert [q["detail"] for q in quarantined] == [
        f'metadata.content_type "Bad Name" {rule})',
        f'metadata.content_type "it\'s" {rule})',
        "metadata.content_type 7 is an integer, not a string",
        "metadata.content_type true is a boolean, not a string",
        'metadata.content_type {"a":[1]} is an object, not a string',
        f'metadata.content_type "{"Q" * 76}... {rule}; it has 5000)',
        f'metadata.content_type "{"a" * 76}... {rule}; it has 101)',
    ]
