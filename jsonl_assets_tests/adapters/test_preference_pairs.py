from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from jsonl_assets.core.adapters import build_adapter, resolve_options
from jsonl_assets.core.adapters.base import Adapted, AdapterError
from jsonl_assets.core.rules import RecordContext, record_errors


def adapt(raw: Any, **options: Any) -> Adapted:
    fn = build_adapter(
        "preference_pairs", resolve_options("preference_pairs", options, "preference")
    )
    [out] = fn(raw)
    return out


def assert_valid(a: Adapted) -> None:
    assert "id" not in a.record and "metadata" not in a.record
    problems = record_errors(a.record, "preference", RecordContext())
    assert problems == [], problems


def msg(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "content": [{"type": "text", "text": text}]}


def test_strings() -> None:
    raw = {
        "prompt": "Suggest a name for a bakery by the sea.",
        "chosen": "Salt & Crumb",
        "rejected": "Bakery 1",
    }
    out = adapt(raw)
    assert orjson.dumps(out.record) == orjson.dumps(
        {
            "messages": [msg("user", "Suggest a name for a bakery by the sea.")],
            "candidates": [
                {
                    "candidate_id": "chosen",
                    "label": "chosen",
                    "messages": [msg("assistant", "Salt & Crumb")],
                },
                {
                    "candidate_id": "rejected",
                    "label": "rejected",
                    "messages": [msg("assistant", "Bakery 1")],
                },
            ],
        }
    )
    assert_valid(out)


def test_ultrafeedback_style_full_conversations_repeat_the_prompt() -> None:
    prompt = "Erkläre Photosynthese in einem Satz."
    raw = {
        "prompt": prompt,
        "prompt_id": "9f2c",
        "chosen": [
            {"role": "user", "content": prompt},
            {
                "role": "assistant",
                "content": "Pflanzen wandeln Licht, Wasser und CO₂ in Zucker und Sauerstoff um.",
            },
        ],
        "rejected": [
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": "Das ist, wenn Pflanzen wachsen."},
        ],
        "score_chosen": 9.0,
        "score_rejected": 3.5,
    }
    before = copy.deepcopy(raw)
    out = adapt(raw)
    assert raw == before
    assert out.record["messages"] == [msg("user", prompt)]
    assert out.record["candidates"][0]["messages"] == [
        msg("assistant", "Pflanzen wandeln Licht, Wasser und CO₂ in Zucker und Sauerstoff um.")
    ]
    assert out.record["candidates"][1]["messages"] == [
        msg("assistant", "Das ist, wenn Pflanzen wachsen.")
    ]
    assert_valid(out)


def test_a_repeated_prompt_message_saying_more_is_kept_in_its_side() -> None:
    # Stripped as a repeat of a prompt string, such a message lost its other keys (name,
    # weight, annotations). Now, as with a prompt list (whose repeat must equal it whole), only
    # a bare {"role": "user", "content": prompt} is stripped; anything more stays in its side.
    answer = {"role": "assistant", "content": "A"}
    cases = [
        ({"name": "bob"}, {**msg("user", "hi"), "name": "bob"}),
        (
            {"weight": 0, "annotations": {"lang": "en"}},
            {**msg("user", "hi"), "annotations": {"lang": "en", "weight": 0}},
        ),
    ]
    for extra, expected in cases:
        head = {"role": "user", "content": "hi", **extra}
        for prompt in ("hi", [{"role": "user", "content": "hi"}]):
            out = adapt({"prompt": prompt, "chosen": [head, answer], "rejected": "B"})
            assert out.record["messages"] == [msg("user", "hi")]
            assert out.record["candidates"][0]["messages"] == [expected, msg("assistant", "A")]
            assert_valid(out)
    # A bare repeat (content as a string or as one text part) is still stripped.
    for content in ("hi", [{"type": "text", "text": "hi"}]):
        bare = {"role": "user", "content": content}
        out = adapt(
            {
                "prompt": "hi",
                "chosen": [bare, answer],
                "rejected": [bare, {**answer, "content": "B"}],
            }
        )
        assert [c["messages"] for c in out.record["candidates"]] == [
            [msg("assistant", "A")],
            [msg("assistant", "B")],
        ]


def test_repeated_messages_are_equal_as_json_types_included() -> None:
    # Python's == takes 1, 1.0 and True for one value: a context message was stripped from a
    # side (or taken from the other side) whose value differed in type, which then vanished.
    one = {"role": "user", "content": "q", "weight": 1}
    true = {**one, "weight": True}
    answer = {"role": "assistant", "content": "A"}
    out = adapt(
        {"prompt": [one], "chosen": [true, answer], "rejected": [one, answer | {"content": "B"}]}
    )
    assert out.record["candidates"][0]["messages"][0]["annotations"] == {"weight": True}
    assert out.record["candidates"][1]["messages"] == [msg("assistant", "B")]
    # No prompt: the context is the sides' common prefix, equal as JSON.
    shared = [one, answer]
    out = adapt({"chosen": [*shared, one, answer], "rejected": [*shared, true, answer]})
    assert len(out.record["messages"]) == 2
    sides = [c["messages"][0]["annotations"] for c in out.record["candidates"]]
    assert sides == [{"weight": 1}, {"weight": True}]
    assert type(sides[0]["weight"]) is int
    with pytest.raises(AdapterError) as err:
        adapt({"chosen": [one, answer], "rejected": [one | {"weight": 1.0}, answer]})
    assert err.value.reason == "adapter:no_shared_context"
    # Sides differing only in a value's type are not identical.
    out = adapt(
        {"prompt": "q", "chosen": [answer | {"weight": 1}], "rejected": [answer | {"weight": True}]}
    )
    assert [c["messages"][0]["annotations"] for c in out.record["candidates"]] == sides


def test_a_repeated_message_with_a_null_key_is_compared_as_written() -> None:
    # Parquet gives every message each key some message has, null where unset. The null
    # `name` made the repeat "carry more", so it was not stripped, yet it was written without
    # the null key: each candidate began with a verbatim copy of the prompt turn.
    user = {"role": "user", "content": "q", "name": None}
    chosen = [user, {"role": "assistant", "content": "a", "name": "bot"}]
    rejected = [user, {"role": "assistant", "content": "b", "name": None}]
    for prompt in ("q", [{"role": "user", "content": "q"}], [user]):
        out = adapt({"prompt": prompt, "chosen": chosen, "rejected": rejected})
        assert out.record["messages"] == [msg("user", "q")]
        assert [c["messages"] for c in out.record["candidates"]] == [
            [{**msg("assistant", "a"), "name": "bot"}],
            [msg("assistant", "b")],
        ]
        assert_valid(out)
    # No prompt: the common prefix is compared as written too.
    out = adapt({"chosen": chosen, "rejected": [{"role": "user", "content": "q"}, rejected[1]]})
    assert out.record["messages"] == [msg("user", "q")]
    assert [len(c["messages"]) for c in out.record["candidates"]] == [1, 1]
    # A null deeper down (a part's key) is as absent as well; a value is not.
    part = {"role": "user", "content": [{"type": "text", "text": "q", "cache_control": None}]}
    out = adapt({"prompt": "q", "chosen": [part, chosen[1]], "rejected": "b"})
    assert out.record["candidates"][0]["messages"] == [{**msg("assistant", "a"), "name": "bot"}]
    named = {**user, "name": "bob"}
    out = adapt({"prompt": "q", "chosen": [named, chosen[1]], "rejected": "b"})
    assert out.record["candidates"][0]["messages"][0] == {**msg("user", "q"), "name": "bob"}


def test_a_whitespace_only_system_is_kept_as_given() -> None:
    # It vanished (no message, no trace); the spec allows any text, and `chat` keeps a blank
    # system message as written. Only "" (and null) count as no system prompt.
    out = adapt({"prompt": "q", "chosen": "a", "rejected": "b", "system": "  \n"})
    assert out.record["messages"] == [msg("system", "  \n"), msg("user", "q")]
    assert_valid(out)
    out = adapt({"prompt": "q", "chosen": "a", "rejected": "b", "system": ""})
    assert out.record["messages"] == [msg("user", "q")]

    prompt = [
        {"role": "system", "content": "You are a terse assistant."},
        {"role": "user", "content": "Capital of Australia?"},
        {"role": "assistant", "content": "Canberra."},
        {"role": "user", "content": "Population?"},
    ]
    raw = {
        "prompt": prompt,
        "chosen": [{"role": "assistant", "content": "About 470,000 (2023)."}],
        "rejected": [*prompt, {"role": "assistant", "content": "Sydney has 5 million."}],
    }
    out = adapt(raw)
    assert [m["role"] for m in out.record["messages"]] == ["system", "user", "assistant", "user"]
    assert out.record["candidates"][0]["messages"] == [msg("assistant", "About 470,000 (2023).")]
    assert out.record["candidates"][1]["messages"] == [msg("assistant", "Sydney has 5 million.")]
    assert_valid(out)


def test_no_prompt_shared_prefix_is_the_context() -> None:
    shared = [
        {"role": "user", "content": "Can you help me write a cover letter?"},
        {"role": "assistant", "content": "Sure — what job is it for?"},
        {"role": "user", "content": "A barista position."},
    ]
    raw = {
        "chosen": [*shared, {"role": "assistant", "content": "Dear Hiring Manager, ..."}],
        "rejected": [*shared, {"role": "assistant", "content": "Just wing it."}],
        "system": "Be kind.",
    }
    out = adapt(raw)
    assert [m["role"] for m in out.record["messages"]] == ["system", "user", "assistant", "user"]
    assert out.record["messages"][0] == msg("system", "Be kind.")
    assert [len(c["messages"]) for c in out.record["candidates"]] == [1, 1]
    assert_valid(out)
    # One side longer than the other: each side keeps at least its last message.
    longer = {"chosen": [*shared, {"role": "assistant", "content": "Dear..."}], "rejected": shared}
    out = adapt(longer)
    assert len(out.record["messages"]) == 2
    assert out.record["candidates"][1]["messages"] == [msg("user", "A barista position.")]


@pytest.mark.parametrize(
    ("raw", "reason", "needle"),
    [
        (
            {"prompt": "p", "chosen": "same", "rejected": "same"},
            "adapter:no_differing_turn",
            "identical",
        ),
        ({"prompt": "p", "rejected": "r"}, "adapter:missing_field", "chosen"),
        ({"prompt": "p", "chosen": 1, "rejected": "r"}, "adapter:wrong_type", "chosen"),
        ({"prompt": {"text": "p"}, "chosen": "c", "rejected": "r"}, "adapter:wrong_type", "prompt"),
        ({"chosen": "c", "rejected": "r"}, "adapter:missing_field", "prompt"),
        (
            {
                "chosen": [{"role": "user", "content": "a"}],
                "rejected": [{"role": "user", "content": "b"}],
            },
            "adapter:no_shared_context",
            "share no leading messages",
        ),
        (
            {"prompt": "p", "chosen": [{"role": "user", "content": "p"}], "rejected": "r"},
            "adapter:empty_candidate",
            "chosen",
        ),
        (
            {"prompt": "p", "chosen": [{"role": "critic", "content": "c"}], "rejected": "r"},
            "adapter:unknown_role",
            "critic",
        ),
    ],
)
def test_malformed(raw: Any, reason: str, needle: str) -> None:
    with pytest.raises(AdapterError) as err:
        adapt(raw)
    assert err.value.reason == reason
    assert needle in err.value.detail


def test_field_options() -> None:
    raw = {"question": "Best tea?", "good": "Sencha, brewed at 70 °C.", "bad": "Coffee."}
    out = adapt(raw, prompt_field="question", chosen_field="good", rejected_field="bad")
    assert out.record["candidates"][0]["messages"] == [msg("assistant", "Sencha, brewed at 70 °C.")]
    assert_valid(out)
    with pytest.raises(ValueError, match="must be distinct"):
        resolve_options(
            "preference_pairs", {"chosen_field": "x", "rejected_field": "x"}, "preference"
        )
    with pytest.raises(ValueError, match=r"cannot produce 'sft'.*\['preference'\]"):
        resolve_options("preference_pairs", None, "sft")
    with pytest.raises(ValueError, match="unknown option 'chosen'"):
        resolve_options("preference_pairs", {"chosen": "a"}, "preference")


def test_tool_call_in_context_answered_in_candidates() -> None:
    call = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "c1",
                "type": "function",
                "function": {"name": "lookup_order", "arguments": '{"order_no": "A-77"}'},
            }
        ],
    }
    raw = {
        "prompt": [{"role": "user", "content": "Where is order A-77?"}, call],
        "chosen": [
            {"role": "tool", "tool_call_id": "c1", "content": '{"status": "shipped"}'},
            {"role": "assistant", "content": "It has shipped."},
        ],
        "rejected": [
            {"role": "tool", "tool_call_id": "c1", "content": '{"status": "shipped"}'},
            {"role": "assistant", "content": "No idea."},
        ],
    }
    out = adapt(raw)
    assert out.record["candidates"][0]["messages"][0]["content"] == [
        {
            "type": "tool_result",
            "name": "lookup_order",
            "call_id": "c1",
            "result": {"status": "shipped"},
        }
    ]
    ctx = RecordContext(toolsets={"shop": frozenset({"lookup_order"})}, file_toolset_id="shop")
    assert record_errors(out.record, "preference", ctx) == []


def test_a_zero_and_a_negative_zero_are_different_values() -> None:
    """Before: `same_json` took 0.0 and -0.0 for one value (`0.0 == -0.0`), though they are
    written apart: a chosen turn carrying -0.0 was stripped as a repeat of a prompt turn
    carrying 0.0 (the -0.0 lost), and a chosen and a rejected differing only by the sign of
    a zero were `adapter:no_differing_turn`."""
    from jsonl_assets.core.adapters.annotations import same_json

    assert not same_json(0.0, -0.0) and not same_json({"a": [-0.0]}, {"a": [0.0]})
    assert same_json(-0.0, -0.0) and same_json({"a": [0.0, 1]}, {"a": [0.0, 1]})
    prompt = [{"role": "user", "content": "p", "w": 0.0}]
    chosen = [{"role": "user", "content": "p", "w": -0.0}, msg("assistant", "c")]
    out = adapt({"prompt": prompt, "chosen": chosen, "rejected": "r"})
    written = orjson.dumps(out.record)
    assert b'"w":0.0' in written and b'"w":-0.0' in written, written
    sides = [[msg("user", "p"), {"role": "assistant", "content": "c", "w": x}] for x in (0.0, -0.0)]
    out = adapt({"prompt": "p", "chosen": sides[0][1:], "rejected": sides[1][1:]})
    assert_valid(out)
