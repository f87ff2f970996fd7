"""The `chat` adapter keeps every message field the source gives: what it does not map goes to
the message's annotations, a collision there is a quarantine reason, never an overwrite; and
synthesised call ids never repeat an id the source gives."""

from __future__ import annotations

from typing import Any

import pytest

from jsonl_assets.core.adapters import build_adapter, resolve_options
from jsonl_assets.core.adapters.base import Adapted, AdapterError
from jsonl_assets.core.rules import RecordContext, record_errors


def adapt(raw: Any, adapter: str = "chat", objective: str = "sft") -> Adapted:
    fn = build_adapter(adapter, resolve_options(adapter, None, objective))
    [out] = fn(raw)
    return out


def errors(a: Adapted, objective: str = "sft") -> list[Any]:
    known = {}
    if a.toolset is not None:
        known[a.toolset["id"]] = frozenset(t["name"] for t in a.toolset["tools"])
    return record_errors(a.record, objective, RecordContext(toolsets=known))


def chat(*messages: dict[str, Any]) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": "u"}, *messages]}


def test_message_fields_not_mapped_are_kept_in_the_annotations() -> None:
    cases: list[tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any] | None]] = [
        # a second, different reasoning text beside reasoning_content
        (
            {"role": "assistant", "content": "v", "reasoning_content": "R1", "reasoning": "R2"},
            [{"type": "reasoning", "text": "R1"}, {"type": "text", "text": "v"}],
            {"reasoning": "R2"},
        ),
        # the same text twice is mapped once
        (
            {"role": "assistant", "content": "v", "reasoning_content": "R", "reasoning": "R"},
            [{"type": "reasoning", "text": "R"}, {"type": "text", "text": "v"}],
            None,
        ),
        # non-string reasoning and refusal
        (
            {"role": "assistant", "content": "v", "reasoning": {"s": 1}, "refusal": ["no"]},
            [{"type": "text", "text": "v"}],
            {"reasoning": {"s": 1}, "refusal": ["no"]},
        ),
        # tool_call_id outside a tool message
        (
            {"role": "assistant", "content": "v", "tool_call_id": "T"},
            [{"type": "text", "text": "v"}],
            {"tool_call_id": "T"},
        ),
        # a falsy tool_calls that is not a list is a value all the same
        (
            {"role": "assistant", "content": "v", "tool_calls": ""},
            [{"type": "text", "text": "v"}],
            {"tool_calls": ""},
        ),
    ]
    for message, content, expected in cases:
        got = adapt(chat(message)).record["messages"][1]
        assert got["content"] == content, message
        assert got.get("annotations") == expected, message


def test_keys_a_tool_message_does_not_use_are_kept() -> None:
    raw = chat(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "ok", "refusal": "R", "weight": 2},
        {"role": "assistant", "content": "done"},
    )
    tool = adapt(raw).record["messages"][2]
    assert tool["annotations"] == {"refusal": "R", "weight": 2}


def test_a_tool_message_name_differing_from_its_call_reaches_the_validator() -> None:
    raw = chat(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "function": {"name": "weather", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "name": "stocks", "content": "sunny"},
        {"role": "assistant", "content": "v"},
    )
    out = adapt(raw)
    assert out.record["messages"][2]["content"][0]["name"] == "stocks"
    assert [e.rule for e in errors(out)] == ["E6"]
    raw["messages"][2]["name"] = "weather"  # the same name: valid
    assert errors(adapt(raw)) == []


def test_an_annotation_collision_is_quarantined_not_overwritten() -> None:
    raw = chat({"role": "assistant", "content": "v", "annotations": {"weight": 1}, "weight": 0})
    with pytest.raises(AdapterError) as err:
        adapt(raw)
    assert err.value.reason == "adapter:annotation_conflict"
    assert "annotations.weight is 1" in err.value.detail and "weight = 0" in err.value.detail
    # true and 1 are different JSON values
    raw["messages"][1].update(annotations={"weight": True}, weight=1)
    with pytest.raises(AdapterError):
        adapt(raw)
    # an equal value loses nothing
    raw["messages"][1].update(annotations={"weight": 1, "by": "x"}, weight=1)
    assert adapt(raw).record["messages"][1]["annotations"] == {"weight": 1, "by": "x"}
    # the source's own part_extras key beside part keys a spec part cannot hold
    raw = chat(
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "v", "cache_control": {"type": "ephemeral"}}],
            "annotations": {"part_extras": "mine"},
        }
    )
    with pytest.raises(AdapterError) as err:
        adapt(raw)
    assert err.value.reason == "adapter:annotation_conflict"


def _legacy_then_explicit(explicit_id: str) -> dict[str, Any]:
    return chat(
        {"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": "{}"}},
        {"role": "function", "name": "f", "content": "r1"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": explicit_id, "function": {"name": "g", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": explicit_id, "content": "r2"},
        {"role": "assistant", "content": "ok"},
    )


def test_a_synthesised_call_id_never_repeats_a_source_id() -> None:
    out = adapt(_legacy_then_explicit("call_1"))
    msgs = out.record["messages"]
    ids = [msgs[i]["content"][0]["call_id"] for i in (1, 2, 3, 4)]
    assert ids == ["call_1_1", "call_1_1", "call_1", "call_1"]
    assert errors(out) == []
    # without a collision the id stays call_<n>
    msgs = adapt(_legacy_then_explicit("abc")).record["messages"]
    assert msgs[1]["content"][0]["call_id"] == "call_1"
    # call_1_1 taken too: the next free k
    raw = _legacy_then_explicit("call_1")
    raw["messages"][3]["tool_calls"].append(
        {"id": "call_1_1", "function": {"name": "h", "arguments": "{}"}}
    )
    raw["messages"].insert(5, {"role": "tool", "tool_call_id": "call_1_1", "content": "r3"})
    out = adapt(raw)
    assert out.record["messages"][1]["content"][0]["call_id"] == "call_1_2"
    assert errors(out) == []


def test_preference_pairs_synthesised_ids_avoid_ids_of_every_side() -> None:
    call = {"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": ""}}
    raw = {
        "prompt": [{"role": "user", "content": "q"}, call, {"role": "function", "name": "f"}],
        "chosen": [
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "call_1", "function": {"name": "g", "arguments": "{}"}}],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "r"},
            {"role": "assistant", "content": "yes"},
        ],
        "rejected": "no",
    }
    out = adapt(raw, "preference_pairs", "preference")
    assert out.record["messages"][1]["content"][0]["call_id"] == "call_1_1"
    assert out.record["candidates"][0]["messages"][0]["content"][0]["call_id"] == "call_1"


def _called(*calls: dict[str, Any], legacy: dict[str, Any] | None = None) -> dict[str, Any]:
    """A chat whose assistant makes `calls` (and the `legacy` function_call), each answered."""
    call: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": list(calls)}
    if legacy is not None:
        call["function_call"] = legacy
    answers = [{"role": "tool", "tool_call_id": c["id"], "content": "ok"} for c in calls]
    if legacy is not None:
        answers.append({"role": "function", "name": legacy["name"], "content": "ok"})
    return chat(call, *answers, {"role": "assistant", "content": "done"})


def test_tool_call_keys_a_tool_call_part_cannot_hold_are_kept_in_call_extras() -> None:
    first = {
        "id": "c1",
        "type": "function",
        "index": 3,
        "function": {"name": "f", "arguments": "{}", "strict": True},
    }
    second = {"id": "c2", "function": {"name": "f", "arguments": "{}"}}
    legacy = {"name": "g", "arguments": "{}", "id": "fc-1", "vendor": {"x": 1}, "none": None}
    out = adapt(_called(first, second, legacy=legacy))
    msg = out.record["messages"][1]
    assert [p["call_id"] for p in msg["content"]] == ["c1", "c2", "fc-1"]
    assert msg["annotations"] == {
        "call_extras": {
            "0": {"index": 3, "function": {"strict": True}},
            "function_call": {"vendor": {"x": 1}},
        }
    }
    assert errors(out) == []
    # nothing beyond the mapped keys: no annotations
    assert "annotations" not in adapt(_called(second)).record["messages"][1]
    # the source's own call_extras annotation is never overwritten
    raw = _called(first)
    raw["messages"][1]["annotations"] = {"call_extras": {"0": {"index": 0}}}
    with pytest.raises(AdapterError) as err:
        adapt(raw)
    assert err.value.reason == "adapter:annotation_conflict"
    assert "call_extras" in err.value.detail


def test_a_legacy_function_call_id_is_the_call_id() -> None:
    legacy = {"name": "f", "arguments": "{}", "id": "fc-77"}
    out = adapt(_called(legacy=legacy))
    msgs = out.record["messages"]
    assert msgs[1]["content"][0]["call_id"] == "fc-77"
    assert msgs[2]["content"][0]["call_id"] == "fc-77"
    assert "annotations" not in msgs[1]
    assert errors(out) == []
    # a synthesised id never repeats a legacy call's id
    raw = _called({"function": {"name": "g", "arguments": "{}"}, "id": None})
    raw["messages"][1]["tool_calls"][0].pop("id")
    raw["messages"][2] = {"role": "tool", "name": "g", "content": "ok"}
    raw["messages"].insert(
        3, {"role": "assistant", "content": None, "function_call": {**legacy, "id": "call_1"}}
    )
    raw["messages"].insert(4, {"role": "function", "name": "f", "content": "r"})
    msgs = adapt(raw).record["messages"]
    assert msgs[1]["content"][0]["call_id"] == "call_1_1"
    assert msgs[3]["content"][0]["call_id"] == "call_1"
    # an id that is not a string cannot be a call id
    with pytest.raises(AdapterError) as err:
        adapt(_called(legacy={**legacy, "id": 77}))
    assert err.value.reason == "adapter:wrong_type" and "function_call.id" in err.value.detail


def test_a_tool_message_of_several_text_parts_keeps_their_boundaries() -> None:
    def result(content: Any) -> Any:
        raw = _called({"id": "c1", "function": {"name": "f", "arguments": "{}"}})
        raw["messages"][2]["content"] = content
        out = adapt(raw)
        assert errors(out) == []
        return out.record["messages"][2]

    two = [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]
    assert result(two)["content"][0]["result"] == {"content": two}
    assert result(two)["content"][0]["result"] != result("ab")["content"][0]["result"]
    # one part is the text itself (a JSON object is the result, as for a string)
    assert result([{"type": "text", "text": '{"x": 1}'}])["content"][0]["result"] == {"x": 1}
    # no part is no text: the empty list, never the text "" (nor null)
    assert result([])["content"][0]["result"] == {"content": []}
    # part keys a text part cannot hold are kept by part index
    tagged = [two[0], {**two[1], "cache_control": {"type": "ephemeral"}}]
    msg = result(tagged)
    assert msg["content"][0]["result"] == {"content": two}
    assert msg["annotations"] == {"part_extras": {"1": {"cache_control": {"type": "ephemeral"}}}}


def test_empty_values_are_kept_and_null_says_nothing_by_one_rule_everywhere() -> None:
    """One rule for message, part and call keys (adapters/unmapped.py): null is as absent,
    every other value is kept. Before: a message key holding [] or {} vanished (chat and
    sharegpt), while a part or call key holding them was kept, and a part key's null too."""
    raw = chat(
        {"role": "user", "content": "q", "tags": [], "labels": {}, "gone": None},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "a", "cache_control": {}, "seen": None},
                {"type": "image_url", "image_url": {"url": "https://x/i.png", "detail": None}},
            ],
            "weight": 1,
            "extra": {},
            "tool_calls": [
                {
                    "id": "c1",
                    "index": None,
                    "flags": [],
                    "function": {"name": "f", "arguments": "{}", "strict": {}},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "ok", "meta": {}},
        {"role": "assistant", "content": "done", "tool_calls": []},
    )
    messages = adapt(raw).record["messages"]
    assert messages[1]["annotations"] == {"tags": [], "labels": {}}
    assert messages[2]["annotations"] == {
        "weight": 1,
        "extra": {},
        "part_extras": {"0": {"cache_control": {}}},
        "call_extras": {"0": {"flags": [], "function": {"strict": {}}}},
    }
    assert messages[3]["annotations"] == {"meta": {}}
    assert messages[4]["annotations"] == {"tool_calls": []}
    turns = {
        "conversations": [
            {"from": "human", "value": "q", "tags": [], "none": None},
            {"from": "gpt", "value": "a", "scores": {}},
        ]
    }
    sharegpt = adapt(turns, "sharegpt").record["messages"]
    assert [m.get("annotations") for m in sharegpt] == [{"tags": []}, {"scores": {}}]


@pytest.mark.parametrize(
    ("fmt", "extras"),
    [
        ("ogg", None),
        ("opus", {"part_extras": {"0": {"input_audio": {"format": "opus"}}}}),
        ("wav", None),
        ("mp3", None),
    ],
)
def test_an_audio_format_its_media_type_does_not_name_is_kept(
    fmt: str, extras: dict[str, Any] | None
) -> None:
    """Before: "opus" and "ogg" both became audio/ogg and nothing said which it was."""
    part = {"type": "input_audio", "input_audio": {"data": "AAAA", "format": fmt}}
    raw = {"messages": [{"role": "user", "content": [part]}, {"role": "assistant", "content": "a"}]}
    msg = adapt(raw).record["messages"][0]
    assert msg["content"][0]["type"] == "audio"
    assert msg.get("annotations") == extras


def test_an_empty_text_part_given_beside_tool_calls_is_kept() -> None:
    """Before: an explicit {"type": "text", "text": ""} beside tool calls was dropped, with
    its index (which part_extras use); only the string "content": "" says no text."""
    call = {"id": "c1", "function": {"name": "f", "arguments": "{}"}}

    def first_parts(content: Any, **more: Any) -> list[dict[str, Any]]:
        raw = chat(
            {"role": "assistant", "content": content, "tool_calls": [call], **more},
            {"role": "tool", "tool_call_id": "c1", "content": "ok"},
            {"role": "assistant", "content": "done"},
        )
        return adapt(raw).record["messages"][1]["content"]

    empty = {"type": "text", "text": ""}
    assert [p["type"] for p in first_parts("")] == ["tool_call"]
    assert [p["type"] for p in first_parts("", refusal=5)] == ["tool_call"]
    assert first_parts([{"type": "text", "text": "a"}, empty])[:2] == [
        {"type": "text", "text": "a"},
        empty,
    ]
    assert first_parts([empty])[0] == empty


def test_empty_string_content_beside_tool_calls_writes_no_text_part_whatever_else_is_given() -> (
    None
):
    """Before: with a `refusal` (a part appended after the content) the empty text part of
    `"content": ""` stayed; only the last part was looked at."""
    call = {"id": "c1", "function": {"name": "f", "arguments": "{}"}}
    legacy = {"name": "f", "arguments": "{}"}

    def first_parts(**more: Any) -> list[dict[str, Any]]:
        raw = chat(
            {"role": "assistant", "content": "", **more},
            {"role": "tool", "tool_call_id": "c1", "content": "ok"},
            {"role": "assistant", "content": "done"},
        )
        return adapt(raw).record["messages"][1]["content"]

    for calls in ({"tool_calls": [call]}, {"function_call": {**legacy, "id": "c1"}}):
        for more in ({}, {"refusal": "no"}, {"refusal": ""}, {"reasoning_content": "why"}):
            parts = first_parts(**calls, **more)
            assert {"type": "text", "text": ""} not in parts, (calls, more)
            assert parts[-1]["type"] == "tool_call"
    assert [p.get("text") for p in first_parts(tool_calls=[call], refusal="no")] == ["no", None]
    assert [p.get("text") for p in first_parts(tool_calls=[call], refusal="no", reasoning="r")] == [
        "r",
        "no",
        None,
    ]


def test_a_tool_result_of_null_empty_text_or_no_part_stays_three_results() -> None:
    """Before: content null was written {"content": ""}, as the text "" is."""
    results = []
    for content in (None, "", []):
        raw = _called({"id": "c1", "function": {"name": "f", "arguments": "{}"}})
        raw["messages"][2]["content"] = content
        out = adapt(raw)
        assert errors(out) == []
        results.append(out.record["messages"][2]["content"][0]["result"])
    assert results == [{"content": None}, {"content": ""}, {"content": []}]
