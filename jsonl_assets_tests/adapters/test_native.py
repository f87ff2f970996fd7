from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from jsonl_assets.core.adapters import build_adapter, resolve_options
from jsonl_assets.core.adapters.base import Adapted, AdapterError
from jsonl_assets.core.rules import RecordContext, record_errors


def adapt(raw: Any, objective: str) -> list[Adapted]:
    fn = build_adapter("native", resolve_options("native", None, objective))
    return list(fn(raw))


def assert_valid(
    a: Adapted, objective: str, toolsets: dict[str, frozenset[str]] | None = None
) -> None:
    assert "id" not in a.record and "metadata" not in a.record
    problems = record_errors(a.record, objective, RecordContext(toolsets=toolsets or {}))
    assert problems == [], problems


def test_sft_string_content_is_promoted_id_dropped_metadata_moved() -> None:
    raw = {
        "id": "garden-003",
        "messages": [
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "Wie oft gieße ich Basilikum? 🌿"},
            {
                "role": "assistant",
                "content": [
                    {"type": "reasoning", "text": "Basil likes moist soil."},
                    {"type": "text", "text": "Every one to two days."},
                ],
                "name": "gardener",
            },
        ],
        "metadata": {"source": "helpdesk", "rating": 5},
    }
    before = copy.deepcopy(raw)
    [out] = adapt(raw, "sft")
    assert raw == before  # the raw value is untouched
    assert out.metadata == {"source": "helpdesk", "rating": 5}
    assert out.toolset is None and out.id_suffix == ""
    assert orjson.dumps(out.record) == orjson.dumps(
        {
            "messages": [
                {"role": "system", "content": [{"type": "text", "text": "Answer briefly."}]},
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "Wie oft gieße ich Basilikum? 🌿"}],
                },
                before["messages"][2],
            ]
        }
    )
    assert_valid(out, "sft")


def test_spec_shaped_record_is_passed_through_without_copying_messages() -> None:
    raw = {
        "toolset_id": "shop-tools",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Where is order A-77?"}]},
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_call",
                        "name": "lookup_order",
                        "call_id": "c1",
                        "arguments": {"order_no": "A-77"},
                    }
                ],
            },
            {
                "role": "tool",
                "content": [
                    {
                        "type": "tool_result",
                        "name": "lookup_order",
                        "call_id": "c1",
                        "result": {"status": "shipped"},
                    }
                ],
            },
            {"role": "assistant", "content": [{"type": "text", "text": "It has shipped."}]},
        ],
    }
    [out] = adapt(raw, "sft")
    assert out.record == raw
    assert out.record is not raw
    assert out.record["messages"] is raw["messages"]  # hot path: nothing rebuilt
    assert out.metadata is None
    assert list(out.record) == ["toolset_id", "messages"]  # source key order kept
    assert_valid(out, "sft", {"shop-tools": frozenset({"lookup_order"})})


def test_preference_candidates_are_promoted() -> None:
    raw = {
        "id": "name-09",
        "messages": [{"role": "user", "content": "Suggest a name for a bakery by the sea."}],
        "candidates": [
            {
                "candidate_id": "a",
                "label": "chosen",
                "messages": [{"role": "assistant", "content": "Salt & Crumb"}],
            },
            {
                "candidate_id": "b",
                "label": "rejected",
                "messages": [
                    {"role": "assistant", "content": [{"type": "text", "text": "Bakery 1"}]}
                ],
            },
        ],
    }
    before = copy.deepcopy(raw)
    [out] = adapt(raw, "preference")
    assert raw == before
    cands = out.record["candidates"]
    assert cands[0]["messages"] == [
        {"role": "assistant", "content": [{"type": "text", "text": "Salt & Crumb"}]}
    ]
    assert list(cands[0]) == ["candidate_id", "label", "messages"]
    assert cands[1] is raw["candidates"][1]  # unchanged candidate not copied
    assert_valid(out, "preference")


def test_rft_and_cpt_records_pass_through() -> None:
    rft = {
        "id": "phys-02",
        "messages": [{"role": "user", "content": "g on Earth in m/s^2, two decimals?"}],
        "reference": {"grading": {"type": "numeric", "tolerance": 0.01}, "answer": 9.81},
    }
    [out] = adapt(rft, "rft")
    assert out.record["reference"] is rft["reference"]
    assert_valid(out, "rft")
    cpt = {
        "messages": [
            {
                "role": "document",
                "content": [{"type": "json", "data": {"title": "Rock Pools", "year": 2021}}],
            },
            {
                "role": "document",
                "content": "Rock pools form where retreating tides leave water...",
            },
        ]
    }
    [out] = adapt(cpt, "cpt")
    assert out.record["messages"][1]["content"][0]["type"] == "text"
    assert_valid(out, "cpt")


def test_unknown_keys_are_kept_for_the_validator() -> None:
    raw = {
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hey", "mood": "x"},
        ],
        "score": 0.7,
    }
    [out] = adapt(raw, "sft")
    assert out.record["score"] == 0.7
    assert out.record["messages"][1]["mood"] == "x"
    rules = {p.rule for p in record_errors(out.record, "sft", RecordContext())}
    assert {"D6", "D9"} <= rules


def test_malformed_inputs() -> None:
    with pytest.raises(AdapterError) as err:
        adapt(["not", "an", "object"], "sft")
    assert err.value.reason == "adapter:wrong_type"
    with pytest.raises(AdapterError) as err:
        adapt({"messages": [], "metadata": "free text"}, "sft")
    assert err.value.reason == "adapter:wrong_type"
    assert "metadata" in err.value.detail
    # A message list that is not a list is left for the validator (D3), not "fixed".
    [out] = adapt({"messages": "hello"}, "sft")
    assert out.record == {"messages": "hello"}


def test_native_takes_no_options() -> None:
    for objective in ("sft", "preference", "rft", "cpt"):
        assert resolve_options("native", {}, objective) == {"objective": objective}
    with pytest.raises(ValueError, match="unknown option 'strict'"):
        resolve_options("native", {"strict": True}, "sft")
