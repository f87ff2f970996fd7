"""Tool parts against the toolset's input_schemas (tools.py, schemas.py): a call costs the
size of its arguments, never the size of a schema, and what is printed of a manifest value
is short. A manifest of hostile size or depth is the manifest's problem (B7), not the
records'."""

from __future__ import annotations

import tracemalloc
from typing import Any

from jsonl_assets.core.rules import RecordContext, record_problems

N = 20_000  # required keys


def _ctx(schema: dict[str, Any], toolset_id: str = "ts") -> RecordContext:
    return RecordContext(
        toolsets={toolset_id: frozenset({"f"})},
        default_toolset_id=toolset_id,
        tool_schemas={toolset_id: {"f": schema}},
    )


def _record(*arguments: dict[str, Any], name: str = "f") -> dict[str, Any]:
    calls = [
        {"type": "tool_call", "name": name, "call_id": f"c{i}", "arguments": args}
        for i, args in enumerate(arguments)
    ]
    answers = [
        {"type": "tool_result", "name": name, "call_id": f"c{i}", "result": {}}
        for i in range(len(arguments))
    ]
    return {
        "id": "r",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "x"}]},
            {"role": "assistant", "content": calls},
            {"role": "tool", "content": answers},
            {"role": "assistant", "content": [{"type": "text", "text": "ok"}]},
        ],
    }


def test_required_keys_cost_the_arguments_not_the_schema() -> None:
    ctx = _ctx({"type": "object", "required": [f"k{i}" for i in range(N)]})
    record_problems(_record({}), "sft", ctx)  # the schema is read once, here
    record = _record(*({} for _ in range(100)))
    tracemalloc.start()
    try:
        problems = record_problems(record, "sft", ctx)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # Before: every call listed all N missing keys (a 180 KB message each, 20 held).
    assert peak < 500_000
    missing = f"missing required argument(s) 'k0', 'k1', 'k2', 'k3', 'k4' and {N - 5} more"
    assert problems[0].message == f"messages[1].content[0].arguments: {missing}"
    assert len(problems) + sum(problems.omitted.values()) == 100


def test_required_keys_named_are_the_first_missing() -> None:
    ctx = _ctx({"required": ["a", "b", 7, "a", "c"], "properties": {}})
    (problem,) = record_problems(_record({"a": 1}), "sft", ctx)
    assert problem.message.endswith("missing required argument(s) 'b', 'c'")
    present = {f"k{i}": 1 for i in range(N - 6)}
    ctx = _ctx({"required": [f"k{i}" for i in range(N)]})
    (problem,) = record_problems(_record(present), "sft", ctx)
    assert problem.message.endswith(
        f"'k{N - 6}', 'k{N - 5}', 'k{N - 4}', 'k{N - 3}', 'k{N - 2}' and 1 more"
    )
    (problem,) = record_problems(_record({"x": 1}), "sft", _ctx({"required": ["y"]}))
    assert problem.message.endswith("missing required argument(s) 'y'")


def test_a_deeply_nested_type_is_not_judged() -> None:
    """An array inside `type` is not a type name (B7 on metadata.json); before, comparing
    against 1,000 levels of it raised RecursionError, which verify reports as D1."""
    deep: Any = "string"
    for _ in range(1000):
        deep = [deep]
    ctx = _ctx({"type": "object", "properties": {"a": {"type": deep}}})
    assert record_problems(_record({"a": 1}), "sft", ctx) == []
    ctx = _ctx({"properties": {"a": {"type": ["string", ["integer"]]}}})
    assert record_problems(_record({"a": 1.5}), "sft", ctx) == []


def test_types_are_judged_as_before() -> None:
    ctx = _ctx({"properties": {"a": {"type": ["string", "null"]}, "b": {"type": "integer"}}})
    assert record_problems(_record({"a": None, "b": 2.0}), "sft", ctx) == []
    problems = record_problems(_record({"a": 1, "b": True}), "sft", ctx)
    assert [p.message.split("arguments: ")[1] for p in problems] == [
        "argument 'a' is an integer, input_schema expects ['string', 'null']",
        "argument 'b' is a boolean, input_schema expects integer",
    ]
    ctx = _ctx({"properties": {"a": {"type": []}, "b": {"type": "date"}}})
    problems = record_problems(_record({"a": 1, "b": 2}), "sft", ctx)
    assert [p.message.split("arguments: ")[1] for p in problems] == [
        "argument 'a' is an integer, input_schema expects []"
    ]


def test_manifest_values_are_printed_short() -> None:
    ctx = _ctx({"properties": {"a": {"type": ["string"] * 50_000}}})
    (problem,) = record_problems(_record({"a": 1}), "sft", ctx)
    assert "input_schema expects ['string', 'string'," in problem.message
    assert len(problem.message) < 300
    long_id = "t" * 100_000
    ctx = _ctx({}, toolset_id=long_id)
    (problem,) = record_problems(_record({}, name="g"), "sft", ctx)
    assert problem.rule == "E2"
    assert len(problem.message) < 300
    key = "k" * 100_000
    ctx = _ctx({"required": [key]})
    (problem,) = record_problems(_record({}), "sft", ctx)
    assert len(problem.message) < 300


def test_one_schema_index_serves_every_context() -> None:
    from jsonl_assets.core.rules.schemas import SchemaIndex

    index = SchemaIndex({"ts": {"f": {"required": ["a"]}}})
    first = RecordContext(tool_schemas=index)
    second = RecordContext(tool_schemas=first.tool_schemas, file_toolset_id="ts")
    assert first.schema_index is second.schema_index is index
    schema = index.tool("ts", "f")
    assert schema is not None and schema is index.tool("ts", "f")
    assert index.tool("ts", "g") is None and index.tool("other", "f") is None
    assert dict(index) == {"ts": {"f": {"required": ["a"]}}}
