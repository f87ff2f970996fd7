from __future__ import annotations

from typing import Any

import orjson
import pytest

from jsonl_assets.core.adapters import build_adapter, resolve_options
from jsonl_assets.core.adapters.base import Adapted, AdapterError
from jsonl_assets.core.rules import RecordContext, record_problems


def adapt(raw: Any, objective: str, **options: Any) -> Adapted:
    resolved = resolve_options("mapping", {"objective": objective, **options}, objective)
    [out] = build_adapter("mapping", resolved)(raw)
    return out


def assert_valid(a: Adapted, objective: str) -> None:
    assert "id" not in a.record and "metadata" not in a.record
    problems = record_problems(a.record, objective, RecordContext())
    assert problems == [], problems


NESTED = {
    "uid": 17,
    "data": {
        "sys": "Antworte kurz.",
        "q": "Wie heißt die Hauptstadt von Kanada?",
        "turns": [{"text": "Ottawa."}, {"text": "Toronto."}],
        "gold": "1,000",
        "doc": {"title": "Kanada", "body": "Kanada ist ein Staat in Nordamerika …"},
    },
}


def text_of(msg: dict[str, Any]) -> str:
    return msg["content"][0]["text"]


def test_sft_with_nested_paths_and_list_index() -> None:
    out = adapt(
        NESTED, "sft", system="data.sys", user="data.q", assistant="data.turns.0.text", id="uid"
    )
    assert orjson.dumps(out.record) == orjson.dumps(
        {
            "messages": [
                {"role": "system", "content": [{"type": "text", "text": "Antworte kurz."}]},
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "Wie heißt die Hauptstadt von Kanada?"}],
                },
                {"role": "assistant", "content": [{"type": "text", "text": "Ottawa."}]},
            ]
        }
    )
    assert_valid(out, "sft")


def test_preference() -> None:
    out = adapt(
        NESTED,
        "preference",
        prompt="data.q",
        chosen="data.turns.0.text",
        rejected="data.turns.1.text",
    )
    assert [text_of(m) for m in out.record["messages"]] == ["Wie heißt die Hauptstadt von Kanada?"]
    assert [c["label"] for c in out.record["candidates"]] == ["chosen", "rejected"]
    assert text_of(out.record["candidates"][1]["messages"][0]) == "Toronto."
    assert_valid(out, "preference")


def test_rft_numeric_and_default_exact_match() -> None:
    out = adapt(NESTED, "rft", user="data.q", answer="data.gold", grading="numeric", tolerance=0.5)
    assert out.record["reference"] == {
        "grading": {"type": "numeric", "tolerance": 0.5},
        "answer": 1000,
    }
    assert_valid(out, "rft")
    exact = adapt(
        NESTED, "rft", user="data.q", answer="data.turns.0.text", assistant="data.turns.0.text"
    )
    assert exact.record["reference"] == {"grading": {"type": "exact_match"}, "answer": "Ottawa."}
    assert [m["role"] for m in exact.record["messages"]] == ["user", "assistant"]
    assert_valid(exact, "rft")


def test_cpt() -> None:
    out = adapt(NESTED, "cpt", document="data.doc.body", system="data.sys")
    assert [m["role"] for m in out.record["messages"]] == ["system", "document"]
    assert text_of(out.record["messages"][1]) == "Kanada ist ein Staat in Nordamerika …"
    assert_valid(out, "cpt")


@pytest.mark.parametrize(
    ("raw", "options", "reason", "needle"),
    [
        (
            NESTED,
            {"user": "data.question", "assistant": "data.turns.0.text"},
            "adapter:missing_field",
            "'data.question'",
        ),
        (
            NESTED,
            {"user": "data.q", "assistant": "data.turns.5.text"},
            "adapter:missing_field",
            "'data.turns.5.text'",
        ),
        (
            NESTED,
            {"user": "data.q.x", "assistant": "data.turns.0.text"},
            "adapter:missing_field",
            "'x' under data.q",
        ),
        (
            NESTED,
            {"user": "data.turns", "assistant": "data.turns.0.text"},
            "adapter:wrong_type",
            "data.turns",
        ),
        (
            NESTED,
            {"user": "data.q", "assistant": "data.sys", "id": "missing_id"},
            "adapter:missing_field",
            "missing_id",
        ),
        (
            {"data": {"q": "a", "a": "b"}, "uid": [1]},
            {"user": "data.q", "assistant": "data.a", "id": "uid"},
            "adapter:wrong_type",
            "id",
        ),
    ],
)
def test_malformed(raw: Any, options: dict[str, Any], reason: str, needle: str) -> None:
    with pytest.raises(AdapterError) as err:
        adapt(raw, "sft", **options)
    assert err.value.reason == reason
    assert needle in err.value.detail


def test_preference_identical_sides() -> None:
    with pytest.raises(AdapterError) as err:
        adapt(NESTED, "preference", prompt="data.q", chosen="data.sys", rejected="data.sys")
    assert err.value.reason == "adapter:no_differing_turn"


@pytest.mark.parametrize(
    ("options", "objective", "message"),
    [
        ({"user": "q", "assistant": "a"}, "sft", "needs option 'objective'"),
        (
            {"objective": "rft", "user": "q", "answer": "a"},
            "sft",
            "does not match the source's objective 'sft'",
        ),
        ({"objective": "sft", "user": "q"}, "sft", "needs option\\(s\\) \\['assistant'\\]"),
        (
            {"objective": "sft", "user": "q", "assistant": "a", "chosen": "c"},
            "sft",
            "\\['chosen'\\] do not apply",
        ),
        (
            {"objective": "preference", "prompt": "p", "chosen": "c"},
            "preference",
            "\\['rejected'\\]",
        ),
        (
            {"objective": "cpt", "document": "d", "grading": "numeric"},
            "cpt",
            "\\['grading'\\] do not apply",
        ),
        ({"objective": "rft", "user": "q", "answer": "a", "tolerance": -2}, "rft", ">= 0"),
        ({"objective": "sft", "user": "a..b", "assistant": "c"}, "sft", "empty segment"),
        (
            {"objective": "sft", "user": "q", "assistant": "a", "questions": "x"},
            "sft",
            "unknown option 'questions'",
        ),
        ({"objective": "sft", "user": 3, "assistant": "a"}, "sft", "'user' must be str"),
        ({"objective": "training", "user": "q", "assistant": "a"}, "sft", "does not match"),
    ],
)
def test_option_validation(options: dict[str, Any], objective: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        resolve_options("mapping", options, objective)


def test_resolved_options_are_complete() -> None:
    resolved = resolve_options("mapping", {"objective": "cpt", "document": "text"}, "cpt")
    assert resolved["objective"] == "cpt" and resolved["document"] == "text"
    assert resolved["user"] is None and resolved["grading"] is None


@pytest.mark.parametrize(
    ("objective", "options"),
    [
        ("sft", {"user": "q", "assistant": "a"}),
        ("preference", {"prompt": "q", "chosen": "a", "rejected": "b"}),
        ("rft", {"user": "q", "answer": "a"}),
        ("cpt", {"document": "a"}),
    ],
)
def test_the_record_own_metadata_object_is_kept(objective: str, options: dict[str, str]) -> None:
    # It was dropped: every adapter keeps it (README: "A record's metadata keeps every value
    # the record brought: its own metadata object first").
    meta = {"lang": "en", "licence": "CC-BY-4.0"}
    raw = {"q": "q", "a": "a", "b": "b", "metadata": meta}
    out = adapt(raw, objective, **options)
    assert out.metadata == meta
    assert "metadata" not in out.record
    # As elsewhere, only an object is the record's metadata (another value is a field).
    assert adapt({**raw, "metadata": "x"}, objective, **options).metadata is None


@pytest.mark.parametrize("empty", [{"sys": ""}, {"sys": None}, {}, {"sys": {"x": None}}])
def test_an_optional_path_holding_no_value_writes_no_message(empty: dict[str, Any]) -> None:
    # A system path holding "" was written as an empty system message, null was wrong_type
    # and a missing one missing_field: an optional path is an optional text field, where
    # nothing there, null and "" are no value (README, Adapters), as alpaca's `system`.
    raw = {"q": "hi", "a": "yo", **empty}
    path = "sys.y" if "sys" in empty and type(empty["sys"]) is dict else "sys"
    out = adapt(raw, "sft", user="q", assistant="a", system=path)
    assert [m["role"] for m in out.record["messages"]] == ["user", "assistant"]
    assert_valid(out, "sft")
    rft = adapt({"q": "hi", "n": 4, **empty}, "rft", user="q", answer="n", assistant=path)
    assert [m["role"] for m in rft.record["messages"]] == ["user"]
    cpt = adapt({"d": "text", **empty}, "cpt", document="d", user=path)
    assert [m["role"] for m in cpt.record["messages"]] == ["document"]
    # Whitespace-only text is text, kept as given; another type is still wrong_type.
    kept = adapt({**raw, "sys": " "}, "sft", user="q", assistant="a", system="sys")
    assert kept.record["messages"][0] == {
        "role": "system",
        "content": [{"type": "text", "text": " "}],
    }
    with pytest.raises(AdapterError) as err:
        adapt({**raw, "sys": 3}, "sft", user="q", assistant="a", system="sys")
    assert err.value.reason == "adapter:wrong_type"


@pytest.mark.parametrize(
    ("raw", "objective", "options"),
    [
        ({"q": "hi", "a": None}, "sft", {"user": "q", "assistant": "a"}),
        ({"q": None, "a": "yo"}, "sft", {"user": "q", "assistant": "a"}),
        (
            {"p": "hi", "c": None, "r": "no"},
            "preference",
            {"prompt": "p", "chosen": "c", "rejected": "r"},
        ),
        (
            {"q": "hi", "d": {"a": None}},
            "rft",
            {"user": "q", "answer": "d.a", "grading": "numeric"},
        ),
        ({"q": "hi", "d": {"a": None}}, "rft", {"user": "q", "answer": "d.a"}),
        ({"q": "hi", "d": {"a": None}}, "rft", {"user": "q", "answer": "d.a", "grading": "any_of"}),
        ({"doc": None}, "cpt", {"document": "doc"}),
    ],
)
def test_a_required_path_holding_null_is_missing_field(
    raw: dict[str, Any], objective: str, options: dict[str, Any]
) -> None:
    # It was adapter:wrong_type ("got null"), or not_numeric ("is a NoneType"): README says
    # missing_field is "a required field is absent or null".
    with pytest.raises(AdapterError) as err:
        adapt(raw, objective, **options)
    assert err.value.reason == "adapter:missing_field"
    assert "is null" in err.value.detail


def test_a_numeric_answer_of_another_type_names_its_json_type() -> None:
    with pytest.raises(AdapterError) as err:
        adapt({"q": "hi", "a": [1]}, "rft", user="q", answer="a", grading="numeric")
    assert err.value.reason == "adapter:not_numeric"
    assert "is array, not a number" in err.value.detail
