from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from jsonl_assets.core.adapters import build_adapter, resolve_options
from jsonl_assets.core.adapters.base import Adapted, AdapterError
from jsonl_assets.core.rules import RecordContext, record_errors

# HH-RLHF-style lines (written for these tests, in the dataset's exact layout).
HH_LINES = [
    {
        "chosen": "\n\nHuman: What are some good ways to keep basil alive indoors?\n\nAssistant: Give it a sunny windowsill with at least six hours of light, water when the top of the soil feels dry, and pinch off flower buds so it keeps producing leaves.",
        "rejected": "\n\nHuman: What are some good ways to keep basil alive indoors?\n\nAssistant: Basil is a plant.",
    },
    {
        "chosen": "\n\nHuman: Can you recommend a book for a long flight?\n\nAssistant: Sure! What kind of books do you usually enjoy?\n\nHuman: Mysteries, mostly. Something not too dark.\n\nAssistant: Try “The Thursday Murder Club” by Richard Osman — it's a cosy mystery with a lot of humour.",
        "rejected": "\n\nHuman: Can you recommend a book for a long flight?\n\nAssistant: Sure! What kind of books do you usually enjoy?\n\nHuman: Mysteries, mostly. Something not too dark.\n\nAssistant: I don't read books.",
    },
    {
        "chosen": "\n\nHuman: How do I say “thank you” in Japanese?\n\nAssistant: ありがとう (arigatō). The politer form is ありがとうございます (arigatō gozaimasu).",
        "rejected": "\n\nHuman: How do I say “thank you” in Japanese?\n\nAssistant:",
    },
]


def adapter(**options: Any) -> Any:
    return build_adapter("hh_rlhf", resolve_options("hh_rlhf", options, "preference"))


def adapt(raw: Any, **options: Any) -> Adapted:
    [out] = adapter(**options)(raw)
    return out


def assert_valid(a: Adapted) -> None:
    assert "id" not in a.record and "metadata" not in a.record
    problems = record_errors(a.record, "preference", RecordContext())
    assert problems == [], problems


def msg(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "content": [{"type": "text", "text": text}]}


def test_single_turn() -> None:
    out = adapt(HH_LINES[0])
    assert out.record["messages"] == [
        msg("user", "What are some good ways to keep basil alive indoors?")
    ]
    chosen, rejected = out.record["candidates"]
    assert chosen["label"] == "chosen" and chosen["candidate_id"] == "chosen"
    assert chosen["messages"][0]["content"][0]["text"].startswith("Give it a sunny windowsill")
    assert rejected["messages"] == [msg("assistant", "Basil is a plant.")]
    assert_valid(out)


def test_multi_turn_context_and_unicode() -> None:
    out = adapt(HH_LINES[1])
    assert [m["role"] for m in out.record["messages"]] == ["user", "assistant", "user"]
    assert out.record["messages"][2] == msg("user", "Mysteries, mostly. Something not too dark.")
    assert out.record["candidates"][0]["messages"] == [
        msg(
            "assistant",
            "Try “The Thursday Murder Club” by Richard Osman — it's a cosy mystery with a lot of humour.",
        )
    ]
    assert out.record["candidates"][1]["messages"] == [msg("assistant", "I don't read books.")]
    assert_valid(out)


def test_empty_final_assistant_turn_is_a_valid_rejected_answer() -> None:
    out = adapt(HH_LINES[2])
    assert out.record["candidates"][1]["messages"] == [msg("assistant", "")]
    assert_valid(out)


def test_fixture_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "hh.jsonl"
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in HH_LINES))
    fn = adapter()
    records = [a.record for line in path.read_bytes().splitlines() for a in fn(orjson.loads(line))]
    assert len(records) == 3
    again = [a.record for line in path.read_bytes().splitlines() for a in fn(orjson.loads(line))]
    assert orjson.dumps(records) == orjson.dumps(again)


@pytest.mark.parametrize(
    "turn",
    ["\u3000\u3000你好", "q\x1f", "a\xa0", "b\u2028", " indented", "trailing ", "line\n",
     "\x1c\x1d\x1e", "\t\ttab", "\u200bzero width", "", " "],
)  # fmt: skip
def test_turn_text_is_kept_verbatim(turn: str) -> None:
    # Only the marker and its one separator space are syntax; every other character is content.
    chosen = f"\n\nHuman: {turn}\n\nAssistant: {turn}\n\nHuman: {turn}\n\nAssistant: A{turn}"
    rejected = f"\n\nHuman: {turn}\n\nAssistant: {turn}\n\nHuman: {turn}\n\nAssistant: B{turn}"
    out = adapt({"chosen": chosen, "rejected": rejected})
    assert out.record["messages"] == [msg("user", turn), msg("assistant", turn), msg("user", turn)]
    chosen_side, rejected_side = out.record["candidates"]
    assert chosen_side["messages"] == [msg("assistant", f"A{turn}")]
    assert rejected_side["messages"] == [msg("assistant", f"B{turn}")]


@pytest.mark.parametrize("tail", ["\u3000", "\xa0", "\u2028", "\x1f", " ", "\n"])
def test_answers_differing_only_in_trailing_characters_stay_distinct(tail: str) -> None:
    head = "\n\nHuman: hi\n\nAssistant: "
    out = adapt({"chosen": f"{head}ok{tail}", "rejected": f"{head}ok"})
    assert [c["messages"] for c in out.record["candidates"]] == [
        [msg("assistant", f"ok{tail}")],
        [msg("assistant", "ok")],
    ]


_MARKERS = ("\n\nHuman:", "\n\nAssistant:")
TURN = st.text(max_size=12).filter(lambda t: not any(m in t for m in _MARKERS))


@settings(max_examples=200, deadline=None)
@given(st.lists(TURN, min_size=4, max_size=4))
def test_any_turn_text_round_trips(turns: list[str]) -> None:
    user, answer, chosen, rejected = turns
    assume(chosen != rejected)
    head = f"\n\nHuman: {user}\n\nAssistant: {answer}\n\nHuman: {user}\n\nAssistant: "
    out = adapt({"chosen": head + chosen, "rejected": head + rejected})
    context = [msg("user", user), msg("assistant", answer), msg("user", user)]
    assert out.record["messages"] == context
    assert [c["messages"] for c in out.record["candidates"]] == [
        [msg("assistant", chosen)],
        [msg("assistant", rejected)],
    ]


def test_custom_field_names() -> None:
    raw = {"good": HH_LINES[0]["chosen"], "bad": HH_LINES[0]["rejected"]}
    assert_valid(adapt(raw, chosen_field="good", rejected_field="bad"))


@pytest.mark.parametrize(
    ("raw", "reason", "needle"),
    [
        (
            {"chosen": "Hello there", "rejected": "\n\nHuman: hi\n\nAssistant: yo"},
            "adapter:transcript_unparseable",
            "chosen has no",
        ),
        (
            {
                "chosen": "Preamble\n\nHuman: hi\n\nAssistant: a",
                "rejected": "\n\nHuman: hi\n\nAssistant: b",
            },
            "adapter:transcript_unparseable",
            "before its first turn marker",
        ),
        (
            {"chosen": HH_LINES[0]["chosen"], "rejected": HH_LINES[0]["chosen"]},
            "adapter:no_differing_turn",
            "identical",
        ),
        (
            {
                "chosen": "\n\nHuman: hi\n\nAssistant: yo",
                "rejected": "\n\nHuman:hi\n\nAssistant:yo",
            },
            "adapter:no_differing_turn",
            "separator space",
        ),
        (
            {
                "chosen": "\n\nHuman: hi\n\nAssistant: yo",
                "rejected": "\n\nHuman:  hi \n\nAssistant: yo ",
            },
            "adapter:no_shared_context",
            "first turn",
        ),
        (
            {
                "chosen": " \n\nHuman: hi\n\nAssistant: a",
                "rejected": "\n\nHuman: hi\n\nAssistant: b",
            },
            "adapter:transcript_unparseable",
            "before its first turn marker",
        ),
        (
            {
                "chosen": "\x1f\n\nHuman: hi\n\nAssistant: a",
                "rejected": "\n\nHuman: hi\n\nAssistant: b",
            },
            "adapter:transcript_unparseable",
            "before its first turn marker",
        ),
        (
            {
                "chosen": "\n\nHuman: hi\n\nAssistant: yo\n\nHuman: more?",
                "rejected": "\n\nHuman: hi\n\nAssistant: yo\n\nHuman: bye",
            },
            "adapter:no_differing_turn",
            "no assistant turn",
        ),
        (
            {"chosen": "\n\nHuman: a\n\nAssistant: b", "rejected": "\n\nHuman: c\n\nAssistant: d"},
            "adapter:no_shared_context",
            "first turn",
        ),
        ({"chosen": HH_LINES[0]["chosen"]}, "adapter:missing_field", "rejected"),
        ({"chosen": ["a"], "rejected": "b"}, "adapter:wrong_type", "chosen"),
    ],
)
def test_malformed(raw: Any, reason: str, needle: str) -> None:
    with pytest.raises(AdapterError) as err:
        adapt(raw)
    assert err.value.reason == reason
    assert needle in err.value.detail


def test_option_validation() -> None:
    with pytest.raises(ValueError, match="must differ"):
        resolve_options("hh_rlhf", {"chosen_field": "x", "rejected_field": "x"}, "preference")
    with pytest.raises(ValueError, match="cannot produce 'sft'"):
        resolve_options("hh_rlhf", None, "sft")
    with pytest.raises(ValueError, match="unknown option 'prompt_field'"):
        resolve_options("hh_rlhf", {"prompt_field": "p"}, "preference")
