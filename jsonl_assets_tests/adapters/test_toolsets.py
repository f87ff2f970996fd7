"""Declared tools: what a tool says beyond the spec's tool keys (OpenAI's `strict`, vendor
keys) is kept beside the spec entry, never dropped; a tool with two different schemas is
rejected."""

from __future__ import annotations

import pytest

from jsonl_assets.core.adapters import build_adapter, resolve_options
from jsonl_assets.core.adapters.base import AdapterError
from jsonl_assets.core.adapters.toolsets import (
    TOOL_EXTRAS,
    spec_tool,
    toolset_from_declared,
    toolset_id_for,
)

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}}


def test_tool_keys_beyond_the_spec_are_kept_in_the_tools_shape() -> None:
    openai = {
        "type": "function",
        "cache_control": {"type": "ephemeral"},
        "function": {"name": "w", "description": "d", "strict": True, "parameters": SCHEMA},
    }
    tool, extras = spec_tool(openai, "tools[0]")
    assert tool == {"name": "w", "description": "d", "input_schema": SCHEMA}
    assert extras == {"cache_control": {"type": "ephemeral"}, "function": {"strict": True}}
    bare = {"name": "w", "input_schema": SCHEMA, "x-owner": "team", "examples": None}
    assert spec_tool(bare, "tools[0]") == (
        {"name": "w", "input_schema": SCHEMA},
        {"x-owner": "team"},
    )
    # parameters and input_schema both, equal: nothing is lost
    both = {"name": "w", "parameters": SCHEMA, "input_schema": dict(SCHEMA)}
    assert spec_tool(both, "t") == ({"name": "w", "input_schema": SCHEMA}, None)


def test_a_tool_with_two_different_schemas_is_rejected() -> None:
    other = {"type": "object", "properties": {"OTHER": {"type": "string"}}}
    with pytest.raises(AdapterError) as err:
        spec_tool({"function": {"name": "w", "parameters": SCHEMA, "input_schema": other}}, "t")
    assert err.value.reason == "adapter:bad_tools"
    assert "parameters and input_schema" in err.value.detail


def test_a_toolset_with_extras_carries_them_and_gets_its_own_id() -> None:
    def tools(strict: object) -> list[dict[str, object]]:
        fn = {"name": "w", "parameters": SCHEMA}
        if strict is not None:
            fn["strict"] = strict
        return [{"type": "function", "function": fn}]

    plain = toolset_from_declared(tools(None), "tools")
    strict = toolset_from_declared(tools(True), "tools")
    lax = toolset_from_declared(tools(False), "tools")
    assert plain is not None and strict is not None and lax is not None
    spec = [{"name": "w", "input_schema": SCHEMA}]
    assert plain == {"id": toolset_id_for(spec), "tools": spec}  # as before: no extras key
    assert strict[TOOL_EXTRAS] == {"w": {"function": {"strict": True}}}
    assert strict["tools"] == lax["tools"] == spec
    assert len({plain["id"], strict["id"], lax["id"]}) == 3


def test_functions_beside_tools_are_merged_into_one_toolset_or_rejected() -> None:
    f = {"type": "function", "function": {"name": "f", "parameters": SCHEMA}}
    g = {"name": "g", "description": "d"}
    merged = toolset_from_declared([f], "tools", ([g], "functions"))
    assert merged is not None
    assert merged["tools"] == [
        {"name": "f", "input_schema": SCHEMA},
        {"name": "g", "description": "d"},
    ]
    # a tool both lists declare alike is one entry
    same = toolset_from_declared([f, g], "tools", ([f["function"]], "functions"))
    assert same == merged
    # declared differently (the schema, or only a key beyond the spec's): neither can be chosen
    for other in ({"name": "f"}, {"name": "f", "parameters": SCHEMA, "strict": True}):
        with pytest.raises(AdapterError) as err:
            toolset_from_declared([f], "tools", ([g, other], "functions"))
        assert err.value.reason == "adapter:bad_tools"
        assert "tools[0] and functions[1]" in err.value.detail and '"f"' in err.value.detail
    # either list alone, or empty beside the other
    assert toolset_from_declared(None, "tools", ([g], "functions")) == toolset_from_declared(
        [g], "tools"
    )
    assert toolset_from_declared([], "tools", (None, "functions")) is None


def test_the_chat_adapter_keeps_functions_given_beside_tools() -> None:
    fn = build_adapter("chat", resolve_options("chat", None, "sft"))
    raw = {
        "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "functions": [{"name": "g"}],
    }
    [out] = fn(raw)
    assert out.toolset is not None and out.toolset["tools"] == [{"name": "f"}, {"name": "g"}]
    assert out.record["toolset_id"] == out.toolset["id"]
    raw["functions"] = [{"name": "f", "description": "other"}]
    with pytest.raises(AdapterError) as err:
        fn(raw)
    assert err.value.reason == "adapter:bad_tools"


def _calling(adapter: str, tool: str) -> dict[str, object]:
    """A raw record of `adapter` that calls `tool` and declares no tools."""
    if adapter == "chat":
        call = {"id": "x1", "type": "function", "function": {"name": tool, "arguments": "{}"}}
        return {
            "messages": [
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": "x1", "content": "ok"},
                {"role": "assistant", "content": "done"},
            ]
        }
    return {
        "conversations": [
            {"from": "human", "value": "q"},
            {"from": "function_call", "value": f'{{"name": "{tool}", "arguments": {{}}}}'},
            {"from": "observation", "value": "ok"},
            {"from": "gpt", "value": "done"},
        ]
    }


@pytest.mark.parametrize("adapter", ["chat", "sharegpt"])
def test_a_record_calling_tools_it_does_not_declare_inherits_the_default_toolset(
    adapter: str,
) -> None:
    """With `defaults.toolset_id` set, a record declaring no tools names no toolset and
    derives none (it inherits the default, which the validator judges its calls by: E2); a
    toolset is made up from the calls only when no toolset applies."""
    raw = _calling(adapter, "delete_everything")
    plain = resolve_options(adapter, {}, "sft")
    (inherits,) = build_adapter(adapter, plain, default_toolset_id="shop")(raw)
    assert "toolset_id" not in inherits.record and inherits.toolset is None
    # the option still names its toolset, default or not
    named = resolve_options(adapter, {"toolset_id": "other"}, "sft")
    for default in (None, "shop"):
        (opted,) = build_adapter(adapter, named, default_toolset_id=default)(raw)
        assert opted.record["toolset_id"] == "other" and opted.toolset is None
    # declared tools are the record's toolset, default or not
    declared = dict(raw, tools=[{"name": "delete_everything"}])
    (own,) = build_adapter(adapter, plain, default_toolset_id="shop")(declared)
    assert own.toolset is not None and own.record["toolset_id"] == own.toolset["id"]
    # no toolset applies: the calls make one (as before)
    (derived,) = build_adapter(adapter, plain)(raw)
    assert derived.toolset == {
        "id": toolset_id_for([{"name": "delete_everything"}]),
        "tools": [{"name": "delete_everything"}],
    }
    assert derived.record["toolset_id"] == derived.toolset["id"]


def test_many_tools_declared_in_both_lists_are_merged_in_linear_time() -> None:
    """Each tool of `functions` finds its `tools` twin by name, not by a scan of every tool
    before it (quadratic: 16,000 tools took 8 s; these 60,000 take well over a minute with
    the scan, about a second without)."""
    n = 60_000
    fns = [{"name": f"tool_{i}", "description": "d"} for i in range(n)]
    tools = [{"type": "function", "function": f} for f in fns]
    fn = build_adapter("chat", resolve_options("chat", None, "sft"))
    messages = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    [out] = fn({"messages": messages, "tools": tools, "functions": fns})
    assert out.toolset == toolset_from_declared(tools, "tools")
    assert out.toolset is not None and len(out.toolset["tools"]) == n
    # the last one declared differently: named by both its places
    other = [*fns[:-1], {"name": f"tool_{n - 1}", "description": "other"}]
    with pytest.raises(AdapterError) as err:
        fn({"messages": messages, "tools": tools, "functions": other})
    assert err.value.reason == "adapter:bad_tools"
    assert f"tools[{n - 1}] and functions[{n - 1}] both declare tool" in err.value.detail
