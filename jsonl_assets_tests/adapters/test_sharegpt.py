from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from jsonl_assets.core.adapters import build_adapter, resolve_options
from jsonl_assets.core.adapters.base import Adapted, AdapterError
from jsonl_assets.core.rules import RecordContext, record_errors, record_problems


def adapter(**options: Any) -> Any:
    return build_adapter("sharegpt", resolve_options("sharegpt", options, "sft"))


def adapt(raw: Any, **options: Any) -> Adapted:
    [out] = adapter(**options)(raw)
    return out


def toolsets_of(a: Adapted) -> dict[str, frozenset[str]]:
    if a.toolset is None:
        return {}
    assert a.toolset["id"] == a.record["toolset_id"]
    return {a.toolset["id"]: frozenset(t["name"] for t in a.toolset["tools"])}


def assert_valid(a: Adapted) -> None:
    assert "id" not in a.record and "metadata" not in a.record
    problems = record_errors(a.record, "sft", RecordContext(toolsets=toolsets_of(a)))
    assert problems == [], problems


def test_fastchat_corpus_all_500_adapt_and_pass_the_record_rules(corpus: Path) -> None:
    path = corpus / "sharegpt" / "dummy_conversation.json"
    with path.open(encoding="utf-8") as fh:
        items = json.load(fh)
    assert len(items) == 500
    fn = adapter()
    for item in items:
        [out] = fn(item)
        assert_valid(out)
        msgs = out.record["messages"]
        assert len(msgs) == len(item["conversations"])
        for msg, turn in zip(msgs, item["conversations"], strict=True):
            assert msg["role"] == {"human": "user", "gpt": "assistant"}[turn["from"]]
            assert msg["content"] == [{"type": "text", "text": turn["value"]}]
        assert out.toolset is None and out.metadata is None


LLAMA_FACTORY_TOOLS = {
    "conversations": [
        {"from": "human", "value": "Was kostet ein Flug von Berlin nach Tokio am 3. März?"},
        {
            "from": "function_call",
            "value": '{"name": "search_flights", "arguments": {"from": "BER", "to": "HND", "date": "2025-03-03"}}',
        },
        {"from": "observation", "value": '{"cheapest": {"price_eur": 812, "airline": "ANA"}}'},
        {"from": "gpt", "value": "Der günstigste Flug kostet 812 € mit ANA."},
    ],
    "system": "Du bist ein Reiseassistent.",
    "tools": json.dumps(
        [
            {
                "name": "search_flights",
                "description": "Search flights between two airports",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "from": {"type": "string"},
                        "to": {"type": "string"},
                        "date": {"type": "string"},
                    },
                    "required": ["from", "to"],
                },
            }
        ],
        ensure_ascii=False,
    ),
}


def test_function_call_and_observation_with_tools_and_system() -> None:
    out = adapt(LLAMA_FACTORY_TOOLS)
    msgs = out.record["messages"]
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "tool", "assistant"]
    assert msgs[0]["content"] == [{"type": "text", "text": "Du bist ein Reiseassistent."}]
    assert msgs[2]["content"] == [
        {
            "type": "tool_call",
            "name": "search_flights",
            "call_id": "call_1",
            "arguments": {"from": "BER", "to": "HND", "date": "2025-03-03"},
        }
    ]
    assert msgs[3]["content"] == [
        {
            "type": "tool_result",
            "name": "search_flights",
            "call_id": "call_1",
            "result": {"cheapest": {"price_eur": 812, "airline": "ANA"}},
        }
    ]
    assert out.toolset is not None
    assert out.toolset["tools"][0]["input_schema"]["required"] == ["from", "to"]
    assert_valid(out)
    schemas = {out.toolset["id"]: {"search_flights": out.toolset["tools"][0]["input_schema"]}}
    ctx = RecordContext(toolsets=toolsets_of(out), tool_schemas=schemas)
    assert record_problems(out.record, "sft", ctx) == []


def test_parallel_calls_string_arguments_and_plain_observations() -> None:
    raw = {
        "conversations": [
            {"from": "user", "value": "Weather in Oslo and Lima?"},
            {
                "from": "function_call",
                "value": '[{"name": "weather", "arguments": "{\\"city\\": \\"Oslo\\"}"}, {"name": "weather", "arguments": {"city": "Lima"}}]',
            },
            {"from": "observation", "value": "Oslo: -3 °C, snow"},
            {"from": "tool", "value": "Lima: 19 °C, cloudy"},
            {"from": "assistant", "value": "Oslo is snowy at -3 °C; Lima is cloudy at 19 °C."},
        ]
    }
    out = adapt(raw)
    msgs = out.record["messages"]
    calls = msgs[1]["content"]
    assert [(c["call_id"], c["arguments"]) for c in calls] == [
        ("call_1", {"city": "Oslo"}),
        ("call_2", {"city": "Lima"}),
    ]
    assert msgs[2]["content"][0]["call_id"] == "call_1"
    assert msgs[2]["content"][0]["result"] == {"content": "Oslo: -3 °C, snow"}
    assert msgs[3]["content"][0]["call_id"] == "call_2"
    # No tools declared: a description-less toolset of the called names keeps it consistent.
    assert out.toolset is not None and out.toolset["tools"] == [{"name": "weather"}]
    assert_valid(out)
    configured = adapt(raw, toolset_id="weather-tools")
    assert configured.toolset is None and configured.record["toolset_id"] == "weather-tools"


def test_roles_are_case_insensitive_and_extra_keys_become_annotations() -> None:
    raw = {
        "id": "x1",
        "conversations": [
            {"from": "system", "value": "Be terse."},
            {"from": "Human", "value": "2+2?", "lang": "en"},
            {"from": "ChatGPT", "value": "4", "markdown": None},
            {"from": "human", "value": ""},
            {"from": "bard", "value": "…"},
        ],
    }
    out = adapt(raw)
    roles = [m["role"] for m in out.record["messages"]]
    assert roles == ["system", "user", "assistant", "user", "assistant"]
    assert out.record["messages"][1] == {
        "role": "user",
        "content": [{"type": "text", "text": "2+2?"}],
        "annotations": {"lang": "en"},
    }
    assert "annotations" not in out.record["messages"][2]
    assert_valid(out)


def test_role_content_variant_through_options() -> None:
    raw = {
        "messages": [
            {"role": "user", "content": "Name a prime."},
            {"role": "assistant", "content": "Seven."},
        ]
    }
    out = adapt(raw, conversations_field="messages", role_key="role", content_key="content")
    assert out.record["messages"][1] == {
        "role": "assistant",
        "content": [{"type": "text", "text": "Seven."}],
    }
    assert_valid(out)


@pytest.mark.parametrize(
    ("raw", "reason", "needle"),
    [
        ({"id": "a"}, "adapter:missing_field", "conversations"),
        ({"conversations": "hi"}, "adapter:wrong_type", "conversations"),
        (
            {"conversations": [{"from": "narrator", "value": "Once..."}]},
            "adapter:unknown_role",
            "narrator",
        ),
        ({"conversations": [{"from": "human"}]}, "adapter:missing_field", "value"),
        ({"conversations": [{"from": "human", "value": ["a"]}]}, "adapter:wrong_type", "value"),
        ({"conversations": [{"value": "x"}]}, "adapter:missing_field", "from"),
        (
            {"conversations": [{"from": "function_call", "value": "search(q=1)"}]},
            "adapter:bad_arguments_json",
            "conversations[0].value",
        ),
        (
            {"conversations": [{"from": "function_call", "value": '{"arguments": {}}'}]},
            "adapter:missing_field",
            "name",
        ),
        (
            {"conversations": [{"from": "observation", "value": "42"}]},
            "adapter:unmatched_tool_result",
            "conversations[0]",
        ),
        ({"conversations": [], "tools": "[{broken"}, "adapter:bad_tools", "tools"),
        ({"conversations": [], "system": 7}, "adapter:wrong_type", "system"),
    ],
)
def test_malformed(raw: Any, reason: str, needle: str) -> None:
    with pytest.raises(AdapterError) as err:
        adapt(raw)
    assert err.value.reason == reason
    assert needle in err.value.detail


def test_option_validation() -> None:
    with pytest.raises(ValueError, match="cannot produce 'cpt'"):
        resolve_options("sharegpt", None, "cpt")
    with pytest.raises(ValueError, match=r"unknown option 'roles'.*conversations_field"):
        resolve_options("sharegpt", {"roles": {}}, "sft")
    with pytest.raises(ValueError, match="role_key' must be str"):
        resolve_options("sharegpt", {"role_key": ["from"]}, "sft")


def test_function_calls_no_parsed_value_holds_are_quarantined_observations_kept_as_text() -> None:
    """Before: `"account": 12345678901234567890123` was written as 1.2345678901234568e+22,
    `"amount": 0.1000000000000000000001` as 0.1, `"to": "A", "to": "B"` as `"to": "B"`, and
    the observation `{"txn": 98765432109876543210987}` as `{"txn": 9.876543210987655e+22}`."""

    def conversation(call: str, observation: str) -> dict[str, Any]:
        return {
            "conversations": [
                {"from": "human", "value": "pay"},
                {"from": "function_call", "value": call},
                {"from": "observation", "value": observation},
                {"from": "gpt", "value": "paid"},
            ]
        }

    for arguments, reason, needle in (
        ('{"account": 12345678901234567890123}', "unsupported_value", "arguments.account:"),
        ('{"amount": 0.1000000000000000000001}', "unsupported_value", "would be written as 0.1 "),
        ('{"to": "A", "to": "B"}', "duplicate_key", "'to'"),
        ('"{\\"n\\": 1e400}"', "unsupported_value", "beyond the range"),  # arguments as text
    ):
        call = '{"name": "pay", "arguments": ' + arguments + "}"
        with pytest.raises(AdapterError) as err:
            adapt(conversation(call, "ok"))
        assert err.value.reason == "adapter:" + reason
        assert "conversations[1].value" in err.value.detail
        assert needle in err.value.detail, err.value.detail
    observation = '{"txn": 98765432109876543210987}'
    out = adapt(conversation('{"name": "pay", "arguments": {"to": "A"}}', observation))
    assert out.record["messages"][2]["content"][0]["result"] == {"content": observation}
    assert_valid(out)


def test_an_id_in_a_function_call_is_the_call_id_and_other_keys_are_kept() -> None:
    calls = [
        {"name": "weather", "arguments": {"city": "Oslo"}, "id": "w-1", "index": 0},
        {"name": "weather", "arguments": {"city": "Lima"}},
    ]
    raw = {
        "conversations": [
            {"from": "human", "value": "Oslo and Lima?"},
            {"from": "function_call", "value": json.dumps(calls)},
            {"from": "observation", "value": "-3"},
            {"from": "observation", "value": "19"},
            {"from": "function_call", "value": json.dumps({"name": "weather", "id": "call_2"})},
            {"from": "observation", "value": "-4"},
            {"from": "gpt", "value": "Cold, warm."},
        ]
    }
    out = adapt(raw)
    msgs = out.record["messages"]
    # the given ids are used; a synthesised one never repeats a given one (call_2 is taken)
    assert [p["call_id"] for p in msgs[1]["content"]] == ["w-1", "call_2_1"]
    assert [msgs[i]["content"][0]["call_id"] for i in (2, 3, 4, 5)] == [
        "w-1",
        "call_2_1",
        "call_2",
        "call_2",
    ]
    assert msgs[1]["annotations"] == {"call_extras": {"0": {"index": 0}}}
    assert "annotations" not in msgs[4]
    assert_valid(out)
    # a single object's keys are kept under "0", never overwriting the turn's annotations
    raw["conversations"][4]["value"] = json.dumps({"name": "weather", "id": "x", "strict": True})
    assert adapt(raw).record["messages"][4]["annotations"] == {
        "call_extras": {"0": {"strict": True}}
    }
    raw["conversations"][4]["annotations"] = {"call_extras": {}}
    with pytest.raises(AdapterError) as err:
        adapt(raw)
    assert err.value.reason == "adapter:annotation_conflict"
    raw["conversations"][4] = {"from": "function_call", "value": '{"name": "w", "id": 7}'}
    with pytest.raises(AdapterError) as err:
        adapt(raw)
    assert err.value.reason == "adapter:wrong_type" and ".id" in err.value.detail


def test_a_whitespace_only_system_is_kept_and_an_empty_one_is_none() -> None:
    turns = [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]
    out = adapt({"conversations": turns, "system": " \n"})
    assert out.record["messages"][0] == {
        "role": "system",
        "content": [{"type": "text", "text": " \n"}],
    }
    out = adapt({"conversations": turns, "system": ""})
    assert [m["role"] for m in out.record["messages"]] == ["user", "assistant"]


@pytest.mark.parametrize("name", ["", " ", "\u200b", "\u3000\t"])
def test_a_blank_tool_name_is_refused_called_or_declared_by_every_adapter(name: str) -> None:
    """Before: a call named "" or " " was written, and its derived toolset ([{"name": ""}]) was
    one a config's `toolsets` refuses ("must not be blank"); declared, "" was refused and " "
    written. Now one rule (`parts.tool_name`, the config's `is_blank`) for all of them."""
    chat = build_adapter("chat", resolve_options("chat", {}, "sft"))
    user = {"role": "user", "content": "q"}
    calls = [
        {"role": "assistant", "tool_calls": [{"function": {"name": name, "arguments": "{}"}}]},
        {"role": "assistant", "function_call": {"name": name, "arguments": "{}"}},
    ]
    declared = {"type": "function", "function": {"name": name, "parameters": {}}}
    records = [{"messages": [user, call]} for call in calls]
    records.append({"messages": [user, {"role": "assistant", "content": "a"}], "tools": [declared]})
    for raw in records:
        with pytest.raises(AdapterError) as err:
            chat(raw)
        assert err.value.reason == "adapter:wrong_type", err.value
        assert "must be a tool name with a visible character" in err.value.detail
    call = json.dumps({"name": name, "arguments": {}})
    with pytest.raises(AdapterError) as err:
        adapt(
            {
                "conversations": [
                    {"from": "human", "value": "q"},
                    {"from": "function_call", "value": call},
                ]
            }
        )
    assert "must be a tool name with a visible character" in err.value.detail
