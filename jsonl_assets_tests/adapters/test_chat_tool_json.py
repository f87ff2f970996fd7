"""chat: JSON text in tool-call `arguments`, tool results and a `tools` field is parsed
exactly (`parts.embedded_json`), never written with altered numbers or a dropped key."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from jsonl_assets_tests.adapters.test_chat import adapt, reason_of


def _call_chat(arguments: str, result: str, tools: Any = None) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "messages": [
            {"role": "user", "content": "order?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": arguments},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": result},
            {"role": "assistant", "content": "done"},
        ]
    }
    if tools is not None:
        raw["tools"] = tools
    return raw


@pytest.mark.parametrize(
    ("arguments", "reason", "needle"),
    [
        (
            '{"order_no": 123456789012345678901234567890}',
            "adapter:unsupported_value",
            "order_no: the number 123456789012345678901234567890 is an integer beyond 64 bits",
        ),
        (
            '{"amount": 0.1000000000000000000001}',
            "adapter:unsupported_value",
            "would be written as 0.1 ",
        ),
        ('{"a": 1e400}', "adapter:unsupported_value", "beyond the range of a double"),
        ('{"x": 1, "x": 2}', "adapter:duplicate_key", "repeats the key 'x'"),
    ],
)
def test_tool_arguments_no_parsed_value_holds_are_quarantined(
    arguments: str, reason: str, needle: str
) -> None:
    """Before: arguments `{"order_no": 123456789012345678901234567890, "x": 1, "x": 2}` were
    written as `{"order_no": 1.2345678901234568e+29, "x": 2}`."""
    err = reason_of(_call_chat(arguments, "ok"))
    assert err.reason == reason
    assert "messages[1].tool_calls[0].function.arguments" in err.detail
    assert needle in err.detail, err.detail


def test_a_tool_result_no_parsed_value_holds_is_kept_as_its_text() -> None:
    """Before: `{"status": "shipped", "status": "lost", "amount": 0.1000000000000000000001}`
    was written as the result `{"status": "lost", "amount": 0.1}`."""
    for text in (
        '{"status": "shipped", "status": "lost"}',
        '{"amount": 0.1000000000000000000001}',
        '{"id": 18446744073709551616}',
    ):
        out = adapt(_call_chat('{"n": 1}', text))
        [part] = out.record["messages"][2]["content"]
        assert part["result"] == {"content": text}
        assert orjson.loads(orjson.dumps(part["result"]))["content"] == text
    exact = adapt(_call_chat('{"n": 18446744073709551615}', '{"amount": 0.1, "id": 5}'))
    assert exact.record["messages"][1]["content"][0]["arguments"] == {"n": 18446744073709551615}
    assert exact.record["messages"][2]["content"][0]["result"] == {"amount": 0.1, "id": 5}


def test_tools_given_as_json_text_are_parsed_exactly() -> None:
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
    tools = orjson.dumps([tool]).decode()
    out = adapt(_call_chat("{}", "ok", tools=tools))
    assert out.toolset is not None and out.toolset["tools"][0]["name"] == "lookup"
    repeated = tools.replace('"type":"object"', '"type":"object","type":"array"')
    err = reason_of(_call_chat("{}", "ok", tools=repeated))
    assert err.reason == "adapter:duplicate_key" and "tools" in err.detail
    big = tools.replace('"type":"object"', '"type":"object","maximum":1e400')
    err = reason_of(_call_chat("{}", "ok", tools=big))
    assert err.reason == "adapter:unsupported_value" and "maximum" in err.detail
