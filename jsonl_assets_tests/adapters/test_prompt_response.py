from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from jsonl_assets.core.adapters import build_adapter, resolve_options
from jsonl_assets.core.adapters.base import Adapted, AdapterError
from jsonl_assets.core.rules import RecordContext, record_errors


def adapt(raw: Any, **options: Any) -> Adapted:
    fn = build_adapter("prompt_response", resolve_options("prompt_response", options, "sft"))
    [out] = fn(raw)
    return out


def assert_valid(a: Adapted) -> None:
    assert "id" not in a.record and "metadata" not in a.record
    problems = record_errors(a.record, "sft", RecordContext())
    assert problems == [], problems


def texts(a: Adapted) -> list[tuple[str, str]]:
    return [(m["role"], m["content"][0]["text"]) for m in a.record["messages"]]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {"prompt": "Haiku über Regen?", "response": "Tropfen auf dem Dach…"},
            ("Haiku über Regen?", "Tropfen auf dem Dach…"),
        ),
        (
            {"prompt": "The capital of Japan is", "completion": " Tokyo."},
            ("The capital of Japan is", " Tokyo."),
        ),
        ({"question": "2+2?", "answer": "4"}, ("2+2?", "4")),
        (
            {"instruction": "List two primes.", "response": "2 and 3."},
            ("List two primes.", "2 and 3."),
        ),
        # null is as absent: the one pair holding values is the record's (Parquet columns)
        ({"prompt": None, "response": None, "question": "q", "answer": "a"}, ("q", "a")),
    ],
)
def test_detected_pairs(raw: dict[str, Any], expected: tuple[str, str]) -> None:
    out = adapt(raw)
    assert texts(out) == [("user", expected[0]), ("assistant", expected[1])]
    assert_valid(out)


def test_dolly_context_and_system() -> None:
    dolly = {
        "instruction": "When did Virgin Australia start operating?",
        "context": "Virgin Australia commenced services on 31 August 2000 as Virgin Blue.",
        "response": "Virgin Australia commenced services on 31 August 2000.",
        "category": "closed_qa",
    }
    out = adapt(dolly)
    assert texts(out) == [
        (
            "user",
            "When did Virgin Australia start operating?\n\n"
            "Virgin Australia commenced services on 31 August 2000 as Virgin Blue.",
        ),
        ("assistant", "Virgin Australia commenced services on 31 August 2000."),
    ]
    assert_valid(out)
    no_context = adapt({**dolly, "context": ""})
    assert texts(no_context)[0] == ("user", "When did Virgin Australia start operating?")
    with_system = adapt({**dolly, "system": "Answer from the context only."})
    assert texts(with_system)[0] == ("system", "Answer from the context only.")
    assert_valid(with_system)


def test_explicit_fields() -> None:
    raw = {
        "q": "¿Cuánto es 7×8?",
        "a": "56",
        "bg": "Multiplicación.",
        "sys": "Sé breve.",
        "prompt": "ignored",
    }
    out = adapt(raw, prompt_field="q", response_field="a", context_field="bg", system_field="sys")
    assert texts(out) == [
        ("system", "Sé breve."),
        ("user", "¿Cuánto es 7×8?\n\nMultiplicación."),
        ("assistant", "56"),
    ]
    assert_valid(out)


def test_gsm8k_as_sft(corpus: Path) -> None:
    path = corpus / "gsm8k" / "test.jsonl"
    with path.open("rb") as fh:
        for line in list(fh)[:200]:
            raw = orjson.loads(line)
            out = adapt(raw)
            assert texts(out) == [("user", raw["question"]), ("assistant", raw["answer"])]
            assert_valid(out)


@pytest.mark.parametrize(
    ("raw", "reason", "needle"),
    [
        (
            {"title": "x", "body": "y"},
            "adapter:missing_field",
            "prompt/response, prompt/completion, question/answer, instruction/response",
        ),
        ({"prompt": "x", "answer": "y"}, "adapter:missing_field", "prompt/response"),
        ({"prompt": None, "response": "y"}, "adapter:missing_field", "prompt is null"),
        ({"question": "x", "answer": 4}, "adapter:wrong_type", "answer"),
        ({"instruction": "x", "response": "y", "context": ["a"]}, "adapter:wrong_type", "context"),
        (["prompt", "response"], "adapter:wrong_type", "record"),
    ],
)
def test_malformed(raw: Any, reason: str, needle: str) -> None:
    with pytest.raises(AdapterError) as err:
        adapt(raw)
    assert err.value.reason == reason
    assert needle in err.value.detail


def test_option_validation() -> None:
    with pytest.raises(ValueError, match="prompt_field and response_field must be set together"):
        resolve_options("prompt_response", {"prompt_field": "q"}, "sft")
    with pytest.raises(ValueError, match="unknown option 'answer_field'"):
        resolve_options("prompt_response", {"answer_field": "a"}, "sft")
    with pytest.raises(ValueError, match="cannot produce 'preference'"):
        resolve_options("prompt_response", None, "preference")


def test_whitespace_only_system_and_context_are_kept_as_given() -> None:
    # Both vanished (no message, no trace); only "" and null count as absent.
    out = adapt({"prompt": "q", "response": "a", "system": " ", "context": "\n\t"})
    assert texts(out) == [("system", " "), ("user", "q\n\n\n\t"), ("assistant", "a")]
    assert_valid(out)
    out = adapt({"prompt": "q", "response": "a", "system": "", "context": ""})
    assert texts(out) == [("user", "q"), ("assistant", "a")]


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ({"prompt": "2+2?", "response": "4", "completion": "five"}, "completion"),
        (
            {"question": "q", "answer": "a", "instruction": "Say hi", "response": "hi"},
            "instruction",
        ),
        ({"prompt": "p", "response": "r", "question": "q", "answer": "a"}, "question, answer"),
        ({"prompt": "p", "completion": "c", "answer": ""}, "answer"),
        ({"instruction": "i", "response": "r", "context": "c", "input": "x"}, "context and input"),
    ],
)
def test_competing_fields_are_refused_not_dropped(raw: dict[str, Any], needle: str) -> None:
    # A second answer or pair beside the detected one would be dropped whichever is mapped:
    # ambiguous, refused as alpaca refuses `instances` beside an `output`.
    with pytest.raises(AdapterError) as err:
        adapt(raw)
    assert err.value.reason == "adapter:conflicting_fields"
    assert needle in err.value.detail


def test_an_alpaca_input_is_appended_to_the_prompt_as_a_context() -> None:
    raw = {"instruction": "Translate to English", "input": "Hallo Welt", "response": "Hello"}
    out = adapt(raw)
    assert texts(out) == [("user", "Translate to English\n\nHallo Welt"), ("assistant", "Hello")]
    assert_valid(out)
    # "" and null say nothing, here too; a competing key holding null is as absent.
    for empty in ("", None):
        out = adapt({**raw, "input": empty, "completion": None, "context": empty})
        assert texts(out) == [("user", "Translate to English"), ("assistant", "Hello")]
