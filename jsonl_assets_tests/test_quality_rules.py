"""Quality rules and the quality policy on real record dicts (spec-valid records, as the
validated stage hands them over after the spec's error rules)."""

from __future__ import annotations

import sys
import unicodedata
from typing import Any

import orjson
import pytest

from jsonl_assets.core.rules import RecordContext, record_errors
from jsonl_assets.core.rules.quality_policy import (
    DEFAULT_POLICY,
    POLICY_KEYS,
    PolicyError,
    parse_policy,
    source_quality,
)
from jsonl_assets.core.rules.quality_rules import (
    BLANK_CHARS,
    RULE_OBJECTIVES,
    content_blank,
    is_blank,
    quality_findings,
)
from jsonl_assets_tests.test_spec_rules import SPEC_EXAMPLES

ALL = frozenset(RULE_OBJECTIVES)


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def msg(role: str, *parts: dict[str, Any]) -> dict[str, Any]:
    return {"role": role, "content": list(parts)}


def sft(*messages: dict[str, Any]) -> dict[str, Any]:
    return {"id": "r", "messages": list(messages)}


def rules_of(record: dict[str, Any], objective: str, rules: frozenset[str] = ALL) -> list[str]:
    # Every record here is valid: the rules only ever see spec-valid records.
    assert record_errors(record, objective, RecordContext(toolsets={"t": frozenset({"f"})})) == []
    return [rule for rule, _ in quality_findings(record, objective, rules) or ()]


def test_blank_chars_are_whitespace_format_characters_and_fillers() -> None:
    fillers = "\u034f\u115f\u1160\u180b\u180c\u180d\u2800\u3164\uffa0" + "".join(
        map(chr, range(0xFE00, 0xFE10))
    )
    derived = "".join(
        c
        for c in map(chr, range(sys.maxunicode + 1))
        # Whitespace is Unicode's White_Space: str.isspace() less U+001C..U+001F (control chars)
        if (c.isspace() and c not in "\x1c\x1d\x1e\x1f")
        or unicodedata.category(c) == "Cf"
        or c in fillers
    )
    assert derived == BLANK_CHARS


@pytest.mark.parametrize(
    "value",
    ["", " ", "\n\t\r", "\u00a0", "\u3000", "\u2028\u2029", "\u200b", "\ufeff", "\u200d\u2060",
     "\u3164", "\u2800", " \u00ad ", "\U000e0020", "\x09\x0d", "\x85", "\u200a\u205f"],
)  # fmt: skip
def test_blank_text(value: str) -> None:
    assert is_blank(value)
    assert content_blank([text(value)])
    assert content_blank(value)


@pytest.mark.parametrize(
    "value",
    ["a", " a ", "\u200bx", "0", ".", "\u00e9", "\U0001f600", "-", "\x1c", "\x1d", "\x1e",
     "\x1f", "\x1c\x1d\x1f", " \x1e\u3000", "\x01", "\x1b"],
)  # fmt: skip
def test_not_blank_text(value: str) -> None:
    assert not is_blank(value)
    assert not content_blank([text(" "), text(value)])


def test_what_carries_content() -> None:
    assert content_blank([])
    assert content_blank(None)
    assert content_blank([text(""), text("  ")])
    assert not content_blank([{"type": "json", "data": {"a": 1}}])
    assert not content_blank([{"type": "json", "data": 0}])
    assert content_blank([{"type": "json", "data": {}}])
    assert content_blank([{"type": "json", "data": " "}])
    assert not content_blank([{"type": "image", "ref": {"uri": "x.png"}}])
    call = {"type": "tool_call", "name": "f", "call_id": "c", "arguments": {}}
    assert not content_blank([call])
    assert not content_blank([{"type": "reasoning", "text": "hm"}])


def test_sft_final_assistant_turn() -> None:
    ok = sft(msg("user", text("q")), msg("assistant", text("a")))
    assert rules_of(ok, "sft") == []
    assert rules_of(sft(msg("user", text("q")), msg("assistant", text(" \u3000"))), "sft") == [
        "empty_assistant"
    ]
    assert rules_of(sft(msg("user", text("q")), msg("assistant")), "sft") == ["empty_assistant"]
    # Only reasoning: no answer.
    thinking = msg("assistant", {"type": "reasoning", "text": "let me see"}, text(""))
    found = quality_findings(sft(msg("user", text("q")), thinking), "sft", ALL)
    assert found == [
        (
            "empty_assistant",
            "messages[1] (the final assistant turn): content is empty or blank "
            "(it holds only reasoning, no answer)",
        )
    ]
    # An earlier empty assistant turn is fine; the final one decides.
    multi = sft(
        msg("user", text("q")),
        msg("assistant", text("")),
        msg("user", text("more")),
        msg("assistant", text("a")),
    )
    assert rules_of(multi, "sft") == []
    # A final tool call is an answer.
    call = {"type": "tool_call", "name": "f", "call_id": "c", "arguments": {}}
    result = {"type": "tool_result", "name": "f", "call_id": "c", "result": {}}
    tools = {
        **sft(msg("user", text("q")), msg("assistant", call), msg("tool", result)),
        "toolset_id": "t",
    }
    assert rules_of(tools, "sft") == []


@pytest.mark.parametrize("answer", ["\x1e", "\x1c\x1d\x1f", "\x01", " \x1f "])
def test_an_answer_of_control_characters_is_not_blank(answer: str) -> None:
    # U+001C..U+001F are control characters, no whitespace (README: blank is Unicode
    # whitespace, format characters and fillers), like U+0001: the rules leave them alone.
    record = sft(msg("user", text(answer)), msg("assistant", text(answer)))
    assert rules_of(record, "sft") == []


def test_sft_prompting_user_turn() -> None:
    blank_user = sft(
        msg("system", text("Be brief.")), msg("user", text("\u00a0")), msg("assistant", text("a"))
    )
    assert rules_of(blank_user, "sft") == ["empty_user"]
    # No user turn at all is not judged in sft (an assistant may speak first).
    assert rules_of(sft(msg("system", text("s")), msg("assistant", text("hi"))), "sft") == []
    # A blank user turn after the final assistant turn is not the prompt.
    trailing = sft(msg("user", text("q")), msg("assistant", text("a")), msg("user", text("")))
    assert rules_of(trailing, "sft") == []
    both = sft(msg("user", text(" ")), msg("assistant", text(" ")))
    assert rules_of(both, "sft") == ["empty_assistant", "empty_user"]
    assert rules_of(both, "sft", frozenset({"empty_user"})) == ["empty_user"]
    assert rules_of(both, "sft", frozenset()) == []


def rft(reference: dict[str, Any], *messages: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "r",
        "messages": list(messages or [msg("user", text("q"))]),
        "reference": reference,
    }


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ({"grading": {"type": "exact_match"}, "answer": "63"}, []),
        ({"grading": {"type": "numeric", "tolerance": 0}, "answer": 0}, []),
        ({"grading": {"type": "exact_match"}, "answer": ""}, ["empty_reference"]),
        ({"grading": {"type": "exact_match"}, "answer": " \u200b"}, ["empty_reference"]),
        ({"grading": {"type": "exact_match"}, "answer": None}, ["empty_reference"]),
        ({"grading": {"type": "any_of"}, "answers": ["a", "b"]}, []),
        ({"grading": {"type": "any_of"}, "answers": ["a", "\u3000"]}, ["empty_reference"]),
        ({"grading": {"type": "any_of"}, "answers": []}, ["empty_reference"]),
        ({"answers": {"x": 1}}, []),
        ({"answers": {}}, ["empty_reference"]),
        ({"grading": {"type": "rubric"}, "rubric": {"must_have": ["x"]}}, []),
        ({}, []),  # no answer at all: the spec's F8 warning, not a quality rule
    ],
)
def test_rft_reference(reference: dict[str, Any], expected: list[str]) -> None:
    assert rules_of(rft(reference), "rft") == expected


def test_rft_question() -> None:
    ref = {"grading": {"type": "exact_match"}, "answer": "4"}
    assert rules_of(rft(ref, msg("user", text(""))), "rft") == ["empty_user"]
    assert rules_of(rft(ref, msg("system", text("Answer."))), "rft") == ["empty_user"]
    found = quality_findings(rft(ref, msg("system", text("Answer."))), "rft", ALL)
    assert found == [("empty_user", "messages: no user turn (the question is missing)")]
    # A worked answer after the question does not hide it.
    worked = rft(ref, msg("user", text(" ")), msg("assistant", text("2+2=4")))
    assert rules_of(worked, "rft") == ["empty_user"]


def pref(context: list[dict[str, Any]], chosen: Any, rejected: Any) -> dict[str, Any]:
    return {
        "id": "r",
        "messages": context,
        "candidates": [
            {"label": "chosen", "messages": [msg("assistant", *chosen)]},
            {"label": "rejected", "messages": [msg("assistant", *rejected)]},
        ],
    }


def test_preference() -> None:
    user = [msg("user", text("q"))]
    assert rules_of(pref(user, [text("a")], [text("b")]), "preference") == []
    assert rules_of(pref(user, [text("a")], [text(" ")]), "preference") == ["empty_candidate"]
    assert rules_of(pref(user, [], [text("b")]), "preference") == ["empty_candidate"]
    found = quality_findings(pref(user, [text("a")], [text("")]), "preference", ALL)
    assert found is not None and "candidates[1].messages[0]" in found[0][1]
    assert "rejected" in found[0][1]
    blank_prompt = pref([msg("user", text("\t"))], [text("a")], [text("b")])
    assert rules_of(blank_prompt, "preference") == ["empty_user"]
    assert rules_of(pref([], [text("a")], [text("b")]), "preference") == []  # D4 warns
    no_message = pref(user, [text("a")], [text("b")])
    no_message["candidates"][1]["messages"] = []  # spec-valid (a D4 warning), nothing to prefer
    found = quality_findings(no_message, "preference", ALL)
    assert found is not None and found[0][0] == "empty_candidate"
    assert "candidates[1].messages (the rejected candidate): no message" in found[0][1]


def cpt(*messages: dict[str, Any]) -> dict[str, Any]:
    return {"id": "r", "messages": list(messages)}


def test_cpt_documents() -> None:
    assert rules_of(cpt(msg("document", text("Rock pools..."))), "cpt") == []
    assert rules_of(cpt(msg("document", text(" \n"))), "cpt") == ["empty_document"]
    title = {"type": "json", "data": {"title": "T"}}
    assert rules_of(cpt(msg("document", title), msg("document", text(""))), "cpt") == [
        "empty_document"
    ]
    assert rules_of(cpt(msg("document", text(" ")), msg("document", text("x"))), "cpt") == []
    pdf = {"type": "document", "ref": {"uri": "a.pdf"}}
    assert rules_of(cpt(msg("document", pdf)), "cpt") == []
    # A system prompt does not make up for a blank document.
    assert rules_of(cpt(msg("system", text("s")), msg("document", text(""))), "cpt") == [
        "empty_document"
    ]
    # Without document messages (F12 warns), all messages are judged.
    assert rules_of(cpt(msg("user", text("words"))), "cpt") == []
    assert rules_of(cpt(msg("user", text(" "))), "cpt") == ["empty_document"]


@pytest.mark.parametrize(("objective", "line"), SPEC_EXAMPLES)
def test_the_spec_examples_are_not_useless(objective: str, line: str) -> None:
    assert quality_findings(orjson.loads(line), objective, ALL) is None


def test_default_policy() -> None:
    assert DEFAULT_POLICY.actions == {
        "empty_assistant": "quarantine",
        "empty_user": "quarantine",
        "empty_reference": "quarantine",
        "empty_candidate": "quarantine",
        "empty_document": "quarantine",
        "spec_warnings": "warn",
    }
    assert set(POLICY_KEYS) == set(DEFAULT_POLICY.actions)
    assert source_quality(DEFAULT_POLICY, "sft").rules == {"empty_assistant", "empty_user"}
    assert source_quality(DEFAULT_POLICY, "cpt").rules == {"empty_document"}


def test_a_source_policy_overrides_rule_by_rule() -> None:
    base = parse_policy({"empty_user": "warn", "spec_warnings": "quarantine"})
    source = parse_policy({"empty_assistant": "keep"}, base, "sft")
    assert source.actions["empty_user"] == "warn"
    assert source.actions["empty_assistant"] == "keep"
    assert source.spec_warnings == "quarantine"
    quality = source_quality(source, "sft")
    assert quality.rules == {"empty_user"}
    assert parse_policy(None, base) is base


@pytest.mark.parametrize(
    ("data", "objective", "key"),
    [
        ([], None, ""),
        ({"empty": "warn"}, None, "empty"),
        ({"empty_user": "Quarantine"}, None, "empty_user"),
        ({"empty_user": None}, None, "empty_user"),
        ({"empty_document": "warn"}, "sft", "empty_document"),
        ({"empty_candidate": "keep"}, "rft", "empty_candidate"),
    ],
)
def test_bad_policies(data: Any, objective: str | None, key: str) -> None:
    with pytest.raises(PolicyError) as err:
        parse_policy(data, DEFAULT_POLICY, objective)
    assert err.value.key == key
