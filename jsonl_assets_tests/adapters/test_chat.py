from __future__ import annotations

import copy
import hashlib
from typing import Any

import orjson
import pytest

from jsonl_assets.core.adapters import build_adapter, resolve_options
from jsonl_assets.core.adapters.base import Adapted, AdapterError
from jsonl_assets.core.rules import RecordContext, record_errors, record_problems

WEATHER_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
    },
]

TOOL_CHAT = {
    "messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Wie ist das Wetter in München, und wie spät ist es?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_abc",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "München"}'},
                },
                {
                    "id": "call_def",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": "{}"},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_abc", "content": '{"temp_c": 21, "sky": "klar"}'},
        {"role": "tool", "tool_call_id": "call_def", "content": "14:05"},
        {
            "role": "assistant",
            "content": "In München sind es 21 °C bei klarem Himmel; es ist 14:05.",
        },
    ],
    "tools": WEATHER_TOOLS,
}


def adapt(raw: Any, **options: Any) -> Adapted:
    fn = build_adapter("chat", resolve_options("chat", options, "sft"))
    [out] = fn(raw)
    return out


def assert_valid(a: Adapted, toolsets: dict[str, frozenset[str]] | None = None) -> None:
    known = dict(toolsets or {})
    if a.toolset is not None:
        assert a.toolset["id"] == a.record["toolset_id"]
        known[a.toolset["id"]] = frozenset(t["name"] for t in a.toolset["tools"])
    assert "id" not in a.record and "metadata" not in a.record
    problems = record_errors(a.record, "sft", RecordContext(toolsets=known))
    assert problems == [], problems


def reason_of(raw: Any, **options: Any) -> AdapterError:
    with pytest.raises(AdapterError) as err:
        adapt(raw, **options)
    return err.value


def test_plain_multi_turn_chat() -> None:
    raw = {
        "messages": [
            {"role": "system", "content": "Réponds en français."},
            {"role": "user", "content": "Bonjour ! Qui es-tu ?", "name": "amélie"},
            {"role": "assistant", "content": "Je suis un assistant. 😊"},
            {"role": "user", "content": ""},
            {"role": "assistant", "content": "Vous n'avez rien écrit."},
        ],
        "metadata": {"lang": "fr"},
    }
    out = adapt(raw)
    assert orjson.dumps(out.record) == orjson.dumps(
        {
            "messages": [
                {"role": "system", "content": [{"type": "text", "text": "Réponds en français."}]},
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "Bonjour ! Qui es-tu ?"}],
                    "name": "amélie",
                },
                {
                    "role": "assistant",
                    "content": [{"type": "text", "text": "Je suis un assistant. 😊"}],
                },
                {"role": "user", "content": [{"type": "text", "text": ""}]},
                {
                    "role": "assistant",
                    "content": [{"type": "text", "text": "Vous n'avez rien écrit."}],
                },
            ]
        }
    )
    assert out.metadata == {"lang": "fr"}
    assert out.toolset is None
    assert_valid(out)


def test_tool_calls_results_and_declared_tools() -> None:
    before = copy.deepcopy(TOOL_CHAT)
    out = adapt(TOOL_CHAT)
    assert before == TOOL_CHAT
    expected_tools = [
        {
            "name": "get_weather",
            "description": "Current weather for a city",
            "input_schema": WEATHER_TOOLS[0]["function"]["parameters"],
        },
        {"name": "get_time", "input_schema": {"type": "object", "properties": {}}},
    ]
    digest = hashlib.sha256(orjson.dumps(expected_tools, option=orjson.OPT_SORT_KEYS)).hexdigest()
    assert out.toolset == {"id": "tools-" + digest[:12], "tools": expected_tools}
    assert list(out.record) == ["toolset_id", "messages"]
    msgs = out.record["messages"]
    assert msgs[2] == {
        "role": "assistant",
        "content": [
            {
                "type": "tool_call",
                "name": "get_weather",
                "call_id": "call_abc",
                "arguments": {"city": "München"},
            },
            {"type": "tool_call", "name": "get_time", "call_id": "call_def", "arguments": {}},
        ],
    }
    assert msgs[3]["content"] == [
        {
            "type": "tool_result",
            "name": "get_weather",
            "call_id": "call_abc",
            "result": {"temp_c": 21, "sky": "klar"},
        }
    ]
    assert msgs[4]["content"][0]["result"] == {"content": "14:05"}
    assert [list(p) for p in msgs[3]["content"]] == [["type", "name", "call_id", "result"]]
    assert_valid(out)
    # The same tools, as bare function dicts, give the same toolset id.
    bare = {**TOOL_CHAT, "tools": [t["function"] for t in WEATHER_TOOLS]}
    assert adapt(bare).toolset == out.toolset


def test_calls_without_declared_tools_derive_a_toolset_or_use_the_configured_one() -> None:
    raw = {k: v for k, v in TOOL_CHAT.items() if k != "tools"}
    derived = adapt(raw)
    assert derived.toolset is not None
    assert derived.toolset["tools"] == [{"name": "get_time"}, {"name": "get_weather"}]
    assert derived.record["toolset_id"] == derived.toolset["id"]
    assert_valid(derived)

    configured = adapt(raw, toolset_id="weather-tools")
    assert configured.toolset is None
    assert configured.record["toolset_id"] == "weather-tools"
    assert_valid(configured, {"weather-tools": frozenset({"get_weather", "get_time"})})
    # Declared tools win over the configured toolset.
    assert adapt(TOOL_CHAT, toolset_id="weather-tools").record["toolset_id"].startswith("tools-")
    # A record with no calls and no tools gets no toolset unless one is configured.
    plain = {
        "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    }
    assert "toolset_id" not in adapt(plain).record
    assert adapt(plain, toolset_id="weather-tools").record["toolset_id"] == "weather-tools"


def test_legacy_functions_and_function_role() -> None:
    raw = {
        "messages": [
            {"role": "user", "content": "What's 2 to the 10th?"},
            {
                "role": "assistant",
                "content": "",
                "function_call": {"name": "power", "arguments": '{"base": 2, "exp": 10}'},
            },
            {"role": "function", "name": "power", "content": "1024"},
            {"role": "assistant", "content": "2^10 = 1024."},
        ],
        "functions": [{"name": "power", "description": "x ** y", "parameters": {"type": "object"}}],
    }
    out = adapt(raw)
    msgs = out.record["messages"]
    assert msgs[1]["content"] == [
        {
            "type": "tool_call",
            "name": "power",
            "call_id": "call_1",
            "arguments": {"base": 2, "exp": 10},
        }
    ]
    assert msgs[2] == {
        "role": "tool",
        "content": [
            {
                "type": "tool_result",
                "name": "power",
                "call_id": "call_1",
                "result": {"content": "1024"},
            }
        ],
    }
    assert out.toolset is not None and out.toolset["tools"][0]["name"] == "power"
    assert_valid(out)


def test_multimodal_parts_reasoning_and_annotations() -> None:
    raw = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in this picture, and what is said here?"},
                    {
                        "type": "image_url",
                        "image_url": {"url": "https://example.org/leaf.png", "detail": "high"},
                    },
                    {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}},
                    {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
                ],
            },
            {
                "role": "assistant",
                "content": "A leaf; the clip says hello.",
                "reasoning_content": "The image shows a green leaf.",
                "weight": 1,
                "refusal": None,
            },
        ]
    }
    out = adapt(raw)
    user, assistant = out.record["messages"]
    assert user["content"][1] == {"type": "image", "ref": {"uri": "https://example.org/leaf.png"}}
    assert user["content"][2] == {
        "type": "image",
        "ref": {"uri": "data:image/jpeg;base64,/9j/4AAQ"},
        "mime_type": "image/jpeg",
    }
    assert user["content"][3] == {
        "type": "audio",
        "ref": {"uri": "data:audio/wav;base64,UklGRg=="},
        "mime_type": "audio/wav",
    }
    assert assistant == {
        "role": "assistant",
        "content": [
            {"type": "reasoning", "text": "The image shows a green leaf."},
            {"type": "text", "text": "A leaf; the clip says hello."},
        ],
        "annotations": {"weight": 1},
    }
    assert user["annotations"] == {"part_extras": {"1": {"image_url": {"detail": "high"}}}}
    assert_valid(out)


def test_part_keys_a_spec_part_cannot_hold_are_kept_in_the_message_annotations() -> None:
    cache = {"type": "ephemeral"}
    raw = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "q", "cache_control": cache},
                    {
                        "type": "input_audio",
                        "input_audio": {"data": "AA==", "format": "wav", "rate": 16000},
                        "id": "a1",
                    },
                    {"type": "text", "text": "plain"},
                ],
                "annotations": {"lang": "en"},
                "weight": 0,
            },
            {"role": "assistant", "content": [{"type": "refusal", "refusal": "no", "x": 1}]},
            {"role": "user", "content": "next"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            },
            {
                "role": "tool",
                "tool_call_id": "c1",
                "content": [{"type": "text", "text": "{}", "cache_control": cache}],
            },
            {"role": "assistant", "content": "done"},
        ]
    }
    messages = adapt(raw).record["messages"]
    assert messages[0]["annotations"] == {
        "lang": "en",
        "weight": 0,
        "part_extras": {
            "0": {"cache_control": cache},
            "1": {"input_audio": {"rate": 16000}, "id": "a1"},
        },
    }
    assert messages[1]["annotations"] == {"part_extras": {"0": {"x": 1}}}
    assert "annotations" not in messages[2] and "annotations" not in messages[3]
    assert messages[4]["annotations"] == {"part_extras": {"0": {"cache_control": cache}}}


def test_empty_text_beside_tool_calls_is_dropped() -> None:
    raw = {
        "messages": [
            {"role": "user", "content": "time?"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "id": "t1",
                        "type": "function",
                        "function": {"name": "get_time", "arguments": ""},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "t1", "content": [{"type": "text", "text": "09:00"}]},
            {"role": "assistant", "content": "It is 09:00."},
        ]
    }
    msgs = adapt(raw).record["messages"]
    assert msgs[1]["content"] == [
        {"type": "tool_call", "name": "get_time", "call_id": "t1", "arguments": {}}
    ]
    assert msgs[2]["content"][0]["result"] == {"content": "09:00"}


def test_record_problems_has_no_warnings_for_a_complete_tool_exchange() -> None:
    out = adapt(TOOL_CHAT)
    assert out.toolset is not None
    ctx = RecordContext(
        toolsets={out.toolset["id"]: frozenset(t["name"] for t in out.toolset["tools"])},
        tool_schemas={
            out.toolset["id"]: {t["name"]: t["input_schema"] for t in out.toolset["tools"]}
        },
    )
    assert record_problems(out.record, "sft", ctx) == []


@pytest.mark.parametrize(
    ("raw", "reason", "needle"),
    [
        ({}, "adapter:missing_field", "messages"),
        ({"messages": {"role": "user"}}, "adapter:wrong_type", "messages"),
        ({"messages": [{"role": "narrator", "content": "x"}]}, "adapter:unknown_role", "narrator"),
        ({"messages": [{"content": "x"}]}, "adapter:missing_field", "role"),
        ({"messages": [{"role": ["user"], "content": "x"}]}, "adapter:unknown_role", '["user"]'),
        ({"messages": ["hello"]}, "adapter:wrong_type", "messages[0]"),
        ({"messages": [{"role": "user", "content": 42}]}, "adapter:wrong_type", "content"),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "file", "file": {"file_id": "f1"}}]}
                ]
            },
            "adapter:unsupported_content",
            "file",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "input_audio", "input_audio": {"data": "x", "format": "aiff"}}
                        ],
                    }
                ]
            },
            "adapter:unsupported_content",
            "aiff",
        ),
        (
            {
                "messages": [
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "id": "c",
                                "type": "function",
                                "function": {"name": "f", "arguments": "{city: Paris}"},
                            }
                        ],
                    }
                ]
            },
            "adapter:bad_arguments_json",
            "arguments",
        ),
        (
            {"messages": [{"role": "tool", "tool_call_id": "nope", "content": "x"}]},
            "adapter:unmatched_tool_result",
            "nope",
        ),
        ({"messages": [], "tools": "get_time"}, "adapter:bad_tools", "tools"),
        ({"messages": [], "tools": [{"description": "no name"}]}, "adapter:missing_field", "name"),
        ({"messages": [], "tools": [{"name": "a"}, {"name": "a"}]}, "adapter:bad_tools", "twice"),
        ("just text", "adapter:wrong_type", "record"),
    ],
)
def test_malformed(raw: Any, reason: str, needle: str) -> None:
    err = reason_of(raw)
    assert err.reason == reason
    assert needle in err.detail


def _call_with_arguments(arguments: str) -> dict[str, Any]:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": arguments}}
    return {
        "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "tool_calls": [call]}]
    }


@pytest.mark.parametrize("arguments", ["", " ", "\n\t\r "])
def test_arguments_of_json_whitespace_are_no_arguments(arguments: str) -> None:
    call = adapt(_call_with_arguments(arguments)).record["messages"][1]["content"][0]
    assert call["arguments"] == {}


@pytest.mark.parametrize("arguments", ["\u3000", "\xa0", "\x1f", "\x1c\x1d", "\u2028"])
def test_arguments_of_other_characters_are_not_json_never_dropped(arguments: str) -> None:
    # No JSON text: not written as {} (the characters would vanish), rejected.
    err = reason_of(_call_with_arguments(arguments))
    assert err.reason == "adapter:bad_arguments_json"
    assert "arguments" in err.detail


@pytest.mark.parametrize("tools", ["\u3000", "\x1f"])
def test_a_tools_string_of_non_json_whitespace_is_bad_tools(tools: str) -> None:
    err = reason_of({"messages": [{"role": "user", "content": "q"}], "tools": tools})
    assert err.reason == "adapter:bad_tools"


def test_option_validation() -> None:
    with pytest.raises(ValueError, match=r"cannot produce 'preference'.*\['sft'\]"):
        resolve_options("chat", None, "preference")
    with pytest.raises(ValueError, match=r"unknown option 'tools_field'.*messages_field"):
        resolve_options("chat", {"tools_field": "x"}, "sft")
    with pytest.raises(ValueError, match="toolset_id' must be str"):
        resolve_options("chat", {"toolset_id": 3}, "sft")


def test_messages_field_option() -> None:
    raw = {
        "conversation": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]
    }
    assert_valid(adapt(raw, messages_field="conversation"))
