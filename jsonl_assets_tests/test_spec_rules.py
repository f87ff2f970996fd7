"""Record rules (checklist D, E, F): spec examples pass, each rule has a failing example,
warnings only come from record_problems, messages are pinned, and the walker never raises."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jsonl_assets.core.rules import (
    ERROR,
    WARNING,
    RecordContext,
    content_problems,
    record_errors,
    record_problems,
)
from jsonl_assets.core.rules.table import FINDINGS

LOOKUP_SCHEMA = {
    "type": "object",
    "properties": {"order_no": {"type": "string"}},
    "required": ["order_no"],
}
SHOP = RecordContext(
    toolsets={"shop-tools": frozenset({"lookup_order"}), "other": frozenset({"weather"})},
    tool_schemas={"shop-tools": {"lookup_order": LOOKUP_SCHEMA}},
    asset_ids=frozenset({"leaf-0042", "call-0007"}),
)
PLAIN = RecordContext()

# Section 10 of the spec, verbatim.
SPEC_EXAMPLES = [
    (
        "sft",
        '{"id":"garden-003","messages":[{"role":"system","content":[{"type":"text","text":"Answer briefly."}]},{"role":"user","content":[{"type":"text","text":"How often should I water basil?"}]},{"role":"assistant","content":[{"type":"reasoning","text":"Basil likes moist soil but not soggy roots."},{"type":"text","text":"Roughly every one to two days, when the top inch of soil is dry."}]}]}',
    ),
    (
        "sft",
        '{"id":"shop-118","toolset_id":"shop-tools","messages":[{"role":"user","content":[{"type":"text","text":"Where is order A-77?"}]},{"role":"assistant","content":[{"type":"tool_call","name":"lookup_order","call_id":"c1","arguments":{"order_no":"A-77"}}]},{"role":"tool","content":[{"type":"tool_result","name":"lookup_order","call_id":"c1","result":{"status":"shipped"}}]},{"role":"assistant","content":[{"type":"text","text":"Order A-77 has shipped."}]}]}',
    ),
    (
        "preference",
        '{"id":"name-09","messages":[{"role":"user","content":[{"type":"text","text":"Suggest a name for a bakery by the sea."}]}],"candidates":[{"candidate_id":"a","label":"chosen","messages":[{"role":"assistant","content":[{"type":"text","text":"Salt & Crumb"}]}]},{"candidate_id":"b","label":"rejected","messages":[{"role":"assistant","content":[{"type":"text","text":"Bakery 1"}]}]}]}',
    ),
    (
        "rft",
        '{"id":"arith-21","messages":[{"role":"user","content":[{"type":"text","text":"What is 9 times 7?"}]}],"reference":{"grading":{"type":"exact_match"},"answer":"63"}}',
    ),
    (
        "rft",
        '{"id":"phys-02","messages":[{"role":"user","content":[{"type":"text","text":"g on Earth in m/s^2, two decimals?"}]}],"reference":{"grading":{"type":"numeric","tolerance":0.01},"answer":9.81}}',
    ),
    (
        "rft",
        '{"id":"essay-5","messages":[{"role":"user","content":[{"type":"text","text":"Explain why leaves change colour."}]}],"reference":{"grading":{"type":"rubric"},"rubric":{"must_have":["mentions chlorophyll breakdown"],"nice_to_have":["mentions carotenoids"],"must_not_have":["claims leaves freeze"]}}}',
    ),
    (
        "cpt",
        '{"id":"tides-001","messages":[{"role":"document","content":[{"type":"json","data":{"title":"Rock Pools","year":2021}}]},{"role":"document","content":[{"type":"text","text":"Rock pools form where retreating tides leave water trapped among stones..."}]}]}',
    ),
]


# --- record builders ----------------------------------------------------------------------


def text(value: str = "hi") -> dict[str, Any]:
    return {"type": "text", "text": value}


def msg(role: str, *parts: Any, **extra: Any) -> dict[str, Any]:
    return {"role": role, "content": list(parts) if parts else [text()], **extra}


def call(call_id: str = "c1", name: str = "lookup_order", **arguments: Any) -> dict[str, Any]:
    args = arguments or {"order_no": "A-1"}
    return {"type": "tool_call", "name": name, "call_id": call_id, "arguments": args}


def result(call_id: str = "c1", name: str = "lookup_order", value: Any = None) -> dict[str, Any]:
    return {
        "type": "tool_result",
        "name": name,
        "call_id": call_id,
        "result": {"ok": True} if value is None else value,
    }


def image(**ref: Any) -> dict[str, Any]:
    return {"type": "image", "ref": ref or {"asset_id": "leaf-0042"}}


def sft(*messages: Any, **extra: Any) -> dict[str, Any]:
    body = list(messages) if messages else [msg("user"), msg("assistant")]
    return {"id": "r-1", "messages": body, **extra}


def tool_sft(*middle: Any) -> dict[str, Any]:
    return sft(msg("user"), *middle, msg("assistant"), toolset_id="shop-tools")


def cand(label: str, **extra: Any) -> dict[str, Any]:
    return {"label": label, "messages": [msg("assistant")], **extra}


def pref(*candidates: Any, **extra: Any) -> dict[str, Any]:
    body = list(candidates) if candidates else [cand("chosen"), cand("rejected")]
    return {"id": "p-1", "messages": [msg("user")], "candidates": body, **extra}


def rft(reference: Any = None, **extra: Any) -> dict[str, Any]:
    ref = {"grading": {"type": "exact_match"}, "answer": "4"} if reference is None else reference
    return {"id": "q-1", "messages": [msg("user")], "reference": ref, **extra}


def cpt(*messages: Any) -> dict[str, Any]:
    return {"id": "d-1", "messages": list(messages) if messages else [msg("document")]}


def without(record: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != key}


# --- spec examples ------------------------------------------------------------------------


@pytest.mark.parametrize(("objective", "line"), SPEC_EXAMPLES)
def test_spec_examples_are_clean(objective: str, line: str) -> None:
    record = orjson.loads(line)
    assert record_errors(record, objective, SHOP) == []
    assert record_problems(record, objective, SHOP) == []


def test_builders_make_clean_records() -> None:
    for objective, record in [
        ("sft", sft()),
        ("sft", tool_sft(msg("assistant", call()), msg("tool", result()))),
        ("sft", sft(msg("user", text(), image()), msg("assistant"))),
        ("preference", pref()),
        ("preference", pref(cand("chosen", candidate_id="a"), cand("rejected", candidate_id="b"))),
        ("rft", rft()),
        ("cpt", cpt()),
    ]:
        assert record_problems(record, objective, SHOP) == [], record


# --- one failing example per error rule ---------------------------------------------------

ERROR_CASES = [
    pytest.param("sft", ["a", "b"], ["D1"], id="D1-array-root"),
    pytest.param("sft", "text", ["D1"], id="D1-string-root"),
    pytest.param("sft", {"id": "r"}, ["D3"], id="D3-missing"),
    pytest.param("sft", {"messages": "hello"}, ["D3"], id="D3-not-array"),
    pytest.param("rft", rft(messages=[]), ["D4"], id="D4-empty"),
    pytest.param("sft", sft(id=7), ["D5"], id="D5-id"),
    pytest.param("sft", sft(toolset_id=7), ["D5"], id="D5-toolset-id"),
    pytest.param("sft", sft(metadata=["x"]), ["D5"], id="D5-metadata"),
    pytest.param("sft", sft(extra=1), ["D6"], id="D6-unknown-key"),
    pytest.param("sft", sft(candidates=[]), ["D6"], id="D6-candidates-in-sft"),
    pytest.param("cpt", {**cpt(), "reference": {}}, ["D6"], id="D6-reference-in-cpt"),
    pytest.param("sft", sft(toolset_id="nope"), ["D8"], id="D8"),
    pytest.param("sft", sft("hello", msg("assistant")), ["D9"], id="D9-not-object"),
    pytest.param("sft", sft({"content": [text()]}, msg("assistant")), ["D9"], id="D9-no-role"),
    pytest.param("sft", sft({"role": "user"}, msg("assistant")), ["D9"], id="D9-no-content"),
    pytest.param("sft", sft(msg("user", weight=1), msg("assistant")), ["D9"], id="D9-unknown-key"),
    pytest.param("sft", sft(msg("bot"), msg("assistant")), ["D10"], id="D10"),
    pytest.param("sft", sft({"role": ["user"], "content": []}, msg("assistant")), ["D10"], id="D10-unhashable"),
    pytest.param("sft", sft({"role": "user", "content": "hi"}, msg("assistant")), ["D11"], id="D11"),
    pytest.param("sft", sft(msg("user", name=3), msg("assistant")), ["D13"], id="D13-name"),
    pytest.param("sft", sft(msg("user", annotations=[]), msg("assistant")), ["D13"], id="D13-annotations"),
    pytest.param("sft", sft(msg("user", "hi"), msg("assistant")), ["D14"], id="D14-not-object"),
    pytest.param("sft", sft(msg("user", {"type": "img"}), msg("assistant")), ["D14"], id="D14-unknown-type"),
    pytest.param("sft", sft(msg("user", {"text": "x"}), msg("assistant")), ["D14"], id="D14-no-type"),
    pytest.param("sft", sft(msg("user", {"type": "text"}), msg("assistant")), ["D15"], id="D15-no-text"),
    pytest.param("sft", sft(msg("user", {"type": "reasoning", "text": 1}), msg("assistant")), ["D15"], id="D15-text-type"),
    pytest.param("sft", sft(msg("user", {"type": "json"}), msg("assistant")), ["D15"], id="D15-json"),
    pytest.param("sft", sft(msg("user", {"type": "audio"}), msg("assistant")), ["D15"], id="D15-no-ref"),
    pytest.param("sft", sft(msg("user", {"type": "video", "ref": "x"}), msg("assistant")), ["D15"], id="D15-ref-type"),
    pytest.param("sft", tool_sft(msg("assistant", without(call(), "arguments"))), ["D15"], id="D15-no-arguments"),
    pytest.param("sft", tool_sft(msg("assistant", {**call(), "name": 5})), ["D15"], id="D15-name-type"),
    pytest.param("sft", tool_sft(msg("assistant", call()), msg("tool", without(result(), "result"))), ["D15"], id="D15-no-result"),
    pytest.param("sft", sft(msg("user", {**text(), "lang": "en"}), msg("assistant")), ["D16"], id="D16-text"),
    pytest.param("sft", sft(msg("user", {**image(), "width": 3}), msg("assistant")), ["D16"], id="D16-media"),
    pytest.param("sft", sft(msg("user", {"type": "image", "ref": {}}), msg("assistant")), ["D17"], id="D17-empty-ref"),
    pytest.param("sft", sft(msg("user", image(asset_id=5)), msg("assistant")), ["D17"], id="D17-asset-id-type"),
    pytest.param("sft", sft(msg("user", image(uri="s3://x", path="y")), msg("assistant")), ["D17"], id="D17-ref-key"),
    pytest.param("sft", sft(msg("user", {**image(), "bytes": -1}), msg("assistant")), ["D18"], id="D18-negative"),
    pytest.param("sft", sft(msg("user", {**image(), "bytes": True}), msg("assistant")), ["D18"], id="D18-bool"),
    pytest.param("sft", sft(msg("user", {**image(), "bytes": 2.5}), msg("assistant")), ["D18"], id="D18-float"),
    pytest.param("sft", sft(msg("user", {**image(), "sha256": 1}), msg("assistant")), ["D18"], id="D18-sha"),
    pytest.param("sft", sft(msg("user", {**image(), "mime_type": None}), msg("assistant")), ["D18"], id="D18-mime"),
    pytest.param("sft", sft(msg("user", image(asset_id="nope")), msg("assistant")), ["D19"], id="D19"),
    pytest.param("sft", tool_sft(msg("assistant", call(name="weather")), msg("tool", result(name="weather"))), ["E2"], id="E2"),
    pytest.param("sft", tool_sft(msg("assistant", call(), call()), msg("tool", result())), ["E4"], id="E4"),
    pytest.param("sft", tool_sft(msg("assistant", call()), msg("tool", result(), result("c9"))), ["E5"], id="E5-unknown"),
    pytest.param("sft", tool_sft(msg("tool", result()), msg("assistant", call())), ["E5"], id="E5-before-call"),
    pytest.param("sft", tool_sft(msg("assistant", call()), msg("tool", result(name="other"))), ["E6"], id="E6"),
    pytest.param("sft", sft(msg("system"), msg("user")), ["F1"], id="F1"),
    pytest.param("preference", without(pref(), "candidates"), ["F2"], id="F2-missing"),
    pytest.param("preference", pref(candidates={}), ["F2"], id="F2-not-array"),
    pytest.param("preference", pref(cand("chosen")), ["F2", "F3"], id="F2-one"),
    pytest.param("preference", pref(cand("chosen"), cand("chosen")), ["F3"], id="F3-no-rejected"),
    pytest.param("preference", pref(cand("rejected"), cand("rejected")), ["F3"], id="F3-no-chosen"),
    pytest.param("preference", pref(cand("chosen"), cand("rejected"), "x"), ["F4"], id="F4-not-object"),
    pytest.param("preference", pref(cand("chosen"), cand("rejected", score=1)), ["F4"], id="F4-key"),
    pytest.param("preference", pref(cand("chosen"), cand("rejected"), without(cand("x"), "label")), ["F4"], id="F4-no-label"),
    pytest.param("preference", pref(cand("chosen"), cand("rejected", messages="x")), ["F4"], id="F4-messages"),
    pytest.param("preference", pref(cand("chosen"), cand("rejected"), cand("neutral")), ["F5"], id="F5"),
    pytest.param("preference", pref(cand("chosen", candidate_id=1), cand("rejected")), ["F6"], id="F6-type"),
    pytest.param("preference", pref(cand("chosen", candidate_id="a"), cand("rejected", candidate_id="a")), ["F6"], id="F6-duplicate"),
    pytest.param("preference", pref(cand("chosen"), {"label": "rejected", "messages": [msg("bot")]}), ["D10"], id="candidate-messages-D10"),
    pytest.param("rft", without(rft(), "reference"), ["F7"], id="F7-missing"),
    pytest.param("rft", rft(reference="63"), ["F7"], id="F7-not-object"),
    pytest.param("cpt", cpt(msg("document"), msg("assistant")), ["F11"], id="F11-assistant"),
    pytest.param("cpt", cpt(msg("document"), msg("tool")), ["F11"], id="F11-tool"),
    pytest.param("cpt", cpt(msg("document", call())), ["F13"], id="F13"),
]  # fmt: skip


@pytest.mark.parametrize(("objective", "record", "rules"), ERROR_CASES)
def test_error_rules(objective: str, record: object, rules: list[str]) -> None:
    errors = record_errors(record, objective, SHOP)
    assert sorted(p.rule for p in errors) == rules
    assert all(p.severity == ERROR for p in errors)
    problems = record_problems(record, objective, SHOP)
    assert [p for p in problems if p.severity == ERROR] == errors


# --- one example per warning rule ---------------------------------------------------------

ARG_SCHEMA = RecordContext(
    toolsets={"t": frozenset({"f"})},
    tool_schemas={
        "t": {
            "f": {
                "type": "object",
                "properties": {"n": {"type": "integer"}, "s": {"type": ["string", "null"]}},
                "required": ["n"],
                "additionalProperties": False,
            }
        }
    },
)


def schema_record(**arguments: Any) -> dict[str, Any]:
    return sft(
        msg("user"),
        msg("assistant", call(name="f", **arguments)),
        msg("tool", result(name="f")),
        msg("assistant"),
        toolset_id="t",
    )


WARNING_CASES = [
    pytest.param("preference", pref(messages=[]), SHOP, ["D4"], id="D4-empty-context"),
    pytest.param("preference", pref(cand("chosen"), cand("rejected", messages=[])), SHOP, ["D4"], id="D4-candidate-empty"),
    pytest.param("sft", sft({"role": "user", "content": []}, msg("assistant")), SHOP, ["D12"], id="D12"),
    pytest.param("sft", sft(msg("user", image(asset_id="leaf-0042", uri="s3://x")), msg("assistant")), SHOP, ["D17"], id="D17-both"),
    pytest.param("sft", sft(msg("user", image()), msg("assistant")), PLAIN, ["D20"], id="D20"),
    pytest.param("sft", sft(msg("document"), msg("assistant")), SHOP, ["D21"], id="D21"),
    pytest.param("preference", pref(cand("chosen"), {"label": "rejected", "messages": [msg("document")]}), SHOP, ["D21"], id="D21-candidate"),
    pytest.param("sft", sft(msg("user"), msg("assistant", call()), msg("tool", result())), PLAIN, ["E3"], id="E3"),
    pytest.param("sft", tool_sft(msg("assistant", call())), SHOP, ["E7"], id="E7"),
    pytest.param("sft", tool_sft(msg("user", call()), msg("tool", result())), SHOP, ["E8"], id="E8-call"),
    pytest.param("sft", tool_sft(msg("assistant", call(), result())), SHOP, ["E8"], id="E8-result"),
    pytest.param("sft", schema_record(s="x"), ARG_SCHEMA, ["E9"], id="E9-required"),
    pytest.param("sft", schema_record(n="1"), ARG_SCHEMA, ["E9"], id="E9-type"),
    pytest.param("sft", schema_record(n=1, z=2), ARG_SCHEMA, ["E9"], id="E9-additional"),
    pytest.param("sft", tool_sft(msg("assistant", {**call(), "arguments": ["A-1"]}), msg("tool", result())), SHOP, ["E10"], id="E10-arguments"),
    pytest.param("sft", tool_sft(msg("assistant", call()), msg("tool", result(value="shipped"))), SHOP, ["E10"], id="E10-result"),
    pytest.param("rft", rft({"notes": "x"}), SHOP, ["F8"], id="F8"),
    pytest.param("rft", rft({"grading": "exact", "answer": 1}), SHOP, ["F9"], id="F9-not-object"),
    pytest.param("rft", rft({"grading": {"type": "llm_judge"}}), SHOP, ["F9"], id="F9-unknown"),
    pytest.param("rft", rft({"grading": {}, "answer": 1}), SHOP, ["F9"], id="F9-no-type"),
    pytest.param("rft", rft({"grading": {"type": "numeric", "tolerance": 0.1}, "answer": "9.8"}), SHOP, ["F10"], id="F10-numeric-answer"),
    pytest.param("rft", rft({"grading": {"type": "numeric", "tolerance": -1}, "answer": 9.8}), SHOP, ["F10"], id="F10-tolerance"),
    pytest.param("rft", rft({"grading": {"type": "any_of"}, "answers": []}), SHOP, ["F10"], id="F10-any-of"),
    pytest.param("rft", rft({"grading": {"type": "rubric"}, "rubric": {"must_have": [1]}}), SHOP, ["F10"], id="F10-rubric"),
    pytest.param("rft", rft({"grading": {"type": "exact_match"}}), SHOP, ["F10"], id="F10-exact"),
    pytest.param("cpt", cpt(msg("user")), SHOP, ["F12"], id="F12"),
]  # fmt: skip


@pytest.mark.parametrize(("objective", "record", "ctx", "rules"), WARNING_CASES)
def test_warning_rules(
    objective: str, record: object, ctx: RecordContext, rules: list[str]
) -> None:
    assert record_errors(record, objective, ctx) == []
    problems = record_problems(record, objective, ctx)
    assert sorted(p.rule for p in problems) == rules
    assert all(p.severity == WARNING for p in problems)


# --- messages, helpers, API edges ---------------------------------------------------------


def test_messages_name_the_path() -> None:
    record = sft(msg("user"), msg("user"), msg("assistant", text(), {"type": "img"}))
    (problem,) = record_errors(record, "sft", SHOP)
    assert problem.message.startswith("messages[2].content[1]: unknown part type 'img'")
    record = tool_sft(msg("assistant", call()), msg("tool", result(name="other")))
    (problem,) = record_errors(record, "sft", SHOP)
    assert problem.message == (
        "messages[2].content[0].name: 'other' differs from 'lookup_order', the name of "
        "call 'c1' at messages[1].content[0]"
    )
    record = pref(cand("chosen"), {"label": "rejected", "messages": [msg("assistant", "x")]})
    (problem,) = record_errors(record, "preference", SHOP)
    assert problem.message.startswith("candidates[1].messages[0].content[0]:")


def test_candidates_are_separate_tool_branches() -> None:
    # Each candidate continues the context: both may answer the context's call c1.
    context = [msg("user"), msg("assistant", call())]
    answer = [msg("tool", result()), msg("assistant")]
    record = {
        "messages": context,
        "toolset_id": "shop-tools",
        "candidates": [
            {"label": "chosen", "messages": answer},
            {"label": "rejected", "messages": [msg("assistant", call("c2")), *answer]},
        ],
    }
    assert record_errors(record, "preference", SHOP) == []
    # The rejected branch leaves c2 unanswered (E7), the chosen branch is complete.
    assert [(p.rule, p.severity) for p in record_problems(record, "preference", SHOP)] == [
        ("E7", WARNING)
    ]
    # A candidate cannot answer a call made only in another candidate.
    record["candidates"][0] = {"label": "chosen", "messages": [msg("tool", result("c2"))]}
    assert [p.rule for p in record_errors(record, "preference", SHOP)] == ["E5"]


def test_record_toolset_overrides_file_and_default() -> None:
    record = sft(
        msg("user"), msg("assistant", call(name="weather")), msg("tool", result(name="weather"))
    )
    assert [p.rule for p in record_errors(record, "sft", SHOP)] == []  # no toolset: E3 only
    file_ctx = RecordContext(
        toolsets=SHOP.toolsets, file_toolset_id="shop-tools", default_toolset_id="other"
    )
    assert [p.rule for p in record_errors(record, "sft", file_ctx)] == ["E2"]
    default_ctx = RecordContext(toolsets=SHOP.toolsets, default_toolset_id="other")
    assert record_errors(record, "sft", default_ctx) == []
    assert record_errors({**record, "toolset_id": "other"}, "sft", file_ctx) == []
    # A missing toolset named by the file entry is reported in the manifest (C5), not per call.
    missing_ctx = RecordContext(toolsets=SHOP.toolsets, file_toolset_id="gone")
    assert record_problems(record, "sft", missing_ctx) == []


def test_content_problems_for_defaults_system() -> None:
    assert content_problems([text("Be kind.")], "defaults.system", PLAIN) == []
    rules = [p.rule for p in content_problems([text(), {"type": "text", "text": 1}], "s", PLAIN)]
    assert rules == ["D15"]
    assert [p.rule for p in content_problems("Be kind.", "s", PLAIN)] == ["D11"]
    (warning,) = content_problems([], "s", PLAIN)
    assert (warning.rule, warning.severity) == ("D12", WARNING)


def test_unknown_objective_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown objective"):
        record_errors(sft(), "chat", PLAIN)
    with pytest.raises(ValueError, match="unknown objective"):
        record_problems([], "chat", PLAIN)


_KEYS = [
    "type", "text", "role", "content", "name", "annotations", "call_id", "arguments", "result",
    "ref", "asset_id", "uri", "bytes", "sha256", "mime_type", "data", "label", "candidate_id",
    "messages", "id", "toolset_id", "metadata", "reference", "candidates", "grading", "answer",
    "answers", "tolerance", "rubric", "must_have", "extra",
]  # fmt: skip
_VALUES = [
    None, True, False, 0, 1, -1, 2.5, "", "x", "c1", "c2", "user", "assistant", "tool",
    "document", "system", "text", "reasoning", "json", "image", "tool_call", "tool_result",
    "chosen", "rejected", "lookup_order", "weather", "shop-tools", "other", "leaf-0042",
    "nope", "numeric", "any_of", "rubric", "exact_match", [], {}, ["x"], {"order_no": 1},
    text(), call(), result(), image(), msg("assistant"), msg("tool", result()),
]  # fmt: skip
_BASES = [
    ("sft", tool_sft(msg("assistant", call()), msg("tool", result()))),
    ("sft", sft(msg("user", text(), image(), {**image(uri="s3://a"), "bytes": 3}), msg("assistant"))),
    ("preference", pref(cand("chosen", candidate_id="a"), cand("rejected", candidate_id="b"))),
    ("rft", rft({"grading": {"type": "numeric", "tolerance": 0.1}, "answer": 1})),
    ("cpt", cpt(msg("document", {"type": "json", "data": {}}), msg("document"))),
]  # fmt: skip
_CONTEXTS = [SHOP, PLAIN, ARG_SCHEMA, RecordContext(toolsets=SHOP.toolsets, default_toolset_id="shop-tools", asset_ids=frozenset())]  # fmt: skip


def _containers(node: Any, out: list[Any]) -> list[Any]:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            out.append(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            out.append(item)
            stack.extend(item)
    return out


# --- messages pinned on a corpus; the walker never raises ----------------------------------

# Every case above, the spec examples, 150 seeded mutations of _BASES and a few bare content
# arrays, with the problems (rule, severity, message, in order) that spec_rules.py reported
# before the rule table replaced it: the quarantine details must not change by a byte.
GOLDEN_MESSAGES = Path(__file__).parent / "golden" / "rule_messages.jsonl"
GOLDEN_CONTEXTS = {"SHOP": SHOP, "PLAIN": PLAIN, "ARG_SCHEMA": ARG_SCHEMA, "DEFAULT": _CONTEXTS[3]}


def _triples(problems: list[Any]) -> list[list[str]]:
    return [[p.rule, p.severity, p.message] for p in problems]


def test_messages_match_the_pinned_corpus() -> None:
    rows = [orjson.loads(line) for line in GOLDEN_MESSAGES.read_bytes().splitlines()]
    assert len(rows) > 250
    codes: set[str] = set()
    for row in rows:
        if "content" in row:
            got = _triples(content_problems(row["content"], "defaults.system", PLAIN))
            assert got == row["problems"], row["case"]
            continue
        ctx = GOLDEN_CONTEXTS[row["ctx"]]
        record, objective = row["record"], row["objective"]
        assert _triples(record_errors(record, objective, ctx)) == row["errors"], row["case"]
        assert _triples(record_problems(record, objective, ctx)) == row["problems"], row["case"]
        codes.update(problem[0] for problem in row["problems"])
    # The corpus reaches every rule code the table declares.
    assert codes == {finding.code for finding in FINDINGS.values() if finding.check is None}


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4)
    | st.sampled_from(_VALUES[6:34]),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(_KEYS) | st.text(max_size=3), children, max_size=5),
    max_leaves=40,
)  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    value=_JSON,
    objective=st.sampled_from(["sft", "preference", "rft", "cpt"]),
    ctx=st.sampled_from(_CONTEXTS),
)
def test_walker_never_raises_and_errors_are_the_problems_errors(
    value: Any, objective: str, ctx: RecordContext
) -> None:
    for record in (value, {"messages": value}, {"messages": [{"role": "user", "content": value}]}):
        problems = record_problems(record, objective, ctx)
        errors = record_errors(record, objective, ctx)
        assert errors == [p for p in problems if p.severity == ERROR]
        for problem in problems:
            assert problem.severity in (ERROR, WARNING) and problem.message
    content_problems(value, "defaults.system", ctx)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_records_never_raise(data: st.DataObject) -> None:
    objective, base = data.draw(st.sampled_from(_BASES))
    record = copy.deepcopy(base)
    objective = data.draw(
        st.sampled_from([objective, objective, "sft", "preference", "rft", "cpt"])
    )
    ctx = data.draw(st.sampled_from(_CONTEXTS))
    for _ in range(data.draw(st.integers(0, 4))):
        nodes = _containers(record, [])
        node = data.draw(st.sampled_from(nodes))
        value = copy.deepcopy(data.draw(st.sampled_from([*_VALUES, *nodes[1:]])))
        if isinstance(node, dict):
            node[data.draw(st.sampled_from(_KEYS))] = value
        else:
            node.append(value)
    problems = record_problems(record, objective, ctx)
    assert record_errors(record, objective, ctx) == [p for p in problems if p.severity == ERROR]


def test_every_reported_key_is_in_the_table_and_every_row_is_reported() -> None:
    # A report under a key the table lacks would be dropped silently (it is in no kept set).
    import re

    import jsonl_assets.core.rules as rules

    source = "".join(path.read_text() for path in Path(rules.__file__).parent.glob("*.py"))
    # report("KEY", ...) in the walk; found.append(("KEY", ...)) for the rft grading (F8-F10).
    reported = set(re.findall(r'(?:report\(|found\.append\(\()\s*"([A-Z]\d+\.\w+)"', source))
    # Rows with their own check are reported by declared.py, under the row's key.
    assert reported == {key for key, finding in FINDINGS.items() if finding.check is None}
