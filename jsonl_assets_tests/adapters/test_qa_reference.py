from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from jsonl_assets.core.adapters import build_adapter, resolve_options
from jsonl_assets.core.adapters.base import Adapted, AdapterError
from jsonl_assets.core.adapters.parts import NOT_NUMERIC
from jsonl_assets.core.adapters.qa_reference import parse_number
from jsonl_assets.core.rules import RecordContext, record_errors, record_problems
from jsonl_assets.core.rules.reject_reasons import ADAPTER_REJECT_RATE, known_rate

GSM8K_REGEX = r"(?<!#)####\s*(.+?)\s*$"  # as the README gives it


def adapter(**options: Any) -> Any:
    return build_adapter("qa_reference", resolve_options("qa_reference", options, "rft"))


def adapt(raw: Any, **options: Any) -> Adapted:
    [out] = adapter(**options)(raw)
    return out


def assert_valid(a: Adapted) -> None:
    assert "id" not in a.record and "metadata" not in a.record
    # errors and warnings: the reference must also satisfy the F10 companion-data checks
    problems = record_problems(a.record, "rft", RecordContext())
    assert problems == [], problems


def test_gsm8k_corpus_all_numeric(corpus: Path) -> None:
    path = corpus / "gsm8k" / "test.jsonl"
    fn = adapter(answer_regex=GSM8K_REGEX, grading="numeric")
    with_solution = adapter(answer_regex=GSM8K_REGEX, grading="numeric", keep_solution=True)
    lines = path.read_bytes().splitlines()
    assert len(lines) == 1319
    answers: list[int | float] = []
    for line in lines:
        raw = orjson.loads(line)
        [out] = fn(raw)
        ref = out.record["reference"]
        assert ref["grading"] == {"type": "numeric", "tolerance": 0}
        assert type(ref["answer"]) in (int, float)
        final = raw["answer"].rsplit("####", 1)[1].strip()
        assert ref["answer"] == float(final.replace(",", ""))
        answers.append(ref["answer"])
        assert out.record["messages"] == [
            {"role": "user", "content": [{"type": "text", "text": raw["question"]}]}
        ]
        assert_valid(out)
        [solved] = with_solution(raw)
        assert solved.record["messages"][1] == {
            "role": "assistant",
            "content": [{"type": "text", "text": raw["answer"]}],
        }
        assert_valid(solved)
    assert 1450000 in answers  # "1,450,000" in the corpus
    assert all(type(a) is int for a in answers)  # GSM8K answers are integers


def test_exact_match_default_and_key_order() -> None:
    out = adapt({"question": "What is 9 times 7?", "answer": "63"})
    assert orjson.dumps(out.record) == (
        b'{"messages":[{"role":"user","content":[{"type":"text","text":"What is 9 times 7?"}]}],'
        b'"reference":{"grading":{"type":"exact_match"},"answer":"63"}}'
    )
    assert_valid(out)
    number = adapt({"question": "g on Earth?", "answer": 9.81})
    assert number.record["reference"]["answer"] == 9.81


@pytest.mark.parametrize("space", [" ", "\u3000", "\xa0", "\u2028", "\n\t"])
def test_numeric_answer_may_have_unicode_whitespace_around_it(space: str) -> None:
    out = adapt({"question": "q", "answer": f"{space}1,234{space}"}, grading="numeric")
    assert out.record["reference"]["answer"] == 1234


def test_numeric_parsing_and_tolerance() -> None:
    out = adapt(
        {"question": "g on Earth in m/s², two decimals?", "answer": "9.81"},
        grading="numeric",
        tolerance=0.01,
    )
    assert out.record["reference"] == {
        "grading": {"type": "numeric", "tolerance": 0.01},
        "answer": 9.81,
    }
    assert_valid(out)
    assert parse_number("1,234", "a") == 1234
    assert parse_number("-12,345,678.25", "a") == -12345678.25
    # Not thousands commas (no group of thousands starts with 0: `0,125` is a decimal comma).
    for text in ("3,14", "0,5", "1,2,3", "1,2345", ",123", "12,34.5", "0,125", "-0,500", "00,250"):
        with pytest.raises(AdapterError) as info:
            parse_number(text, "a")
        assert info.value.reason == NOT_NUMERIC, text
    assert parse_number(" -3.0 ", "a") == -3 and type(parse_number("-3.0", "a")) is int
    assert parse_number("2.5e3", "a") == 2500
    assert parse_number(".5", "a") == 0.5
    direct = adapt({"question": "q", "answer": 42}, grading="numeric")
    assert direct.record["reference"]["answer"] == 42


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("9007199254740993.0", 9007199254740993),  # an int, not the double 9007199254740992
        ("18446744073709551615", 2**64 - 1),
        ("-9223372036854775808", -(2**63)),
        ("1e20", 1e20),  # beyond 64 bits, but a double holds it exactly
        ("100000000000000000000", 1e20),
        ("1.5e300", 1.5e300),
        ("0.1", 0.1),
        ("-0.0", 0),
        ("1,234.5", 1234.5),
    ],
)
def test_numeric_answers_are_written_as_the_number_written(text: str, number: float) -> None:
    """Before: `9007199254740993.0` became 9007199254740992 (float() then int()), and `1e20`
    the int 10**20, quarantined as the reader code `unsupported_value`."""
    value = parse_number(text, "answer")
    assert value == number and type(value) is type(number)
    out = adapt(
        {"question": "q", "answer": f"#### {text}"}, answer_regex=GSM8K_REGEX, grading="numeric"
    )
    written = orjson.dumps(out.record["reference"]["answer"])
    assert Decimal(written.decode()) == Decimal(text.replace(",", ""))
    assert_valid(out)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("0.30000000000000000001", "would be written as 0.3 "),
        ("123456789012345678901234567890", "integer beyond 64 bits"),
        ("18446744073709551616", "integer beyond 64 bits"),
        ("1e-400", "would be written as 0.0 "),
        # 2**70: a double holds it exactly, but its shortest text is another number
        ("1180591620717411303424", "would be written as 1.1805916207174113e+21 "),
        # Before: `adapter:not_numeric`, "is not a finite number": a number out of range
        ("1e400", "is beyond the range of a double"),
        ("-1E400", "is beyond the range of a double"),
        ("1e999", "is beyond the range of a double"),
        # Before: decimal.InvalidOperation (an exponent of 19+ digits) out of the adapter
        ("1e999999999999999999999", "is beyond the range of a double"),
        ("-2.5E+99999999999999999999", "is beyond the range of a double"),
        ("1e-999999999999999999999", "would be written as 0.0"),
    ],
)
def test_numeric_answers_no_number_holds_are_adapter_unsupported_value(
    text: str, needle: str
) -> None:
    """Before: `0.30000000000000000001` was written as 0.3, silently."""
    for fn in (
        lambda: adapt(
            {"question": "q", "answer": f"#### {text}"}, answer_regex=GSM8K_REGEX, grading="numeric"
        ),
        lambda: build_adapter(
            "mapping",
            resolve_options(
                "mapping",
                {"objective": "rft", "user": "q", "answer": "a", "grading": "numeric"},
                "rft",
            ),
        )({"q": "q", "a": text}),
    ):
        with pytest.raises(AdapterError) as err:
            fn()
        assert err.value.reason == "adapter:unsupported_value"
        assert text in err.value.detail and needle in err.value.detail, err.value.detail
        # Before: 2**70 was "an integer beyond 64 bits that a double does not hold" (false)
        assert "does not hold" not in err.value.detail, err.value.detail
    assert known_rate("adapter:unsupported_value") == ADAPTER_REJECT_RATE


def test_any_of() -> None:
    listed = adapt(
        {"question": "A primary colour?", "answer": ["red", "blue", "yellow"]}, grading="any_of"
    )
    assert listed.record["reference"] == {
        "grading": {"type": "any_of"},
        "answers": ["red", "blue", "yellow"],
    }
    assert_valid(listed)
    split = adapt(
        {"question": "Hauptstadt der Schweiz?", "answer": "Bern | Berne |  "},
        grading="any_of",
        answers_separator="|",
    )
    assert split.record["reference"]["answers"] == ["Bern", "Berne"]
    # Only Unicode whitespace is stripped from the parts: U+001C..U+001F are content.
    kept = adapt(
        {"question": "q", "answer": "\u3000a\x1f |\xa0\x1c| \u2028 "},
        grading="any_of",
        answers_separator="|",
    )
    assert kept.record["reference"]["answers"] == ["a\x1f", "\x1c"]
    single = adapt({"question": "q", "answer": "only"}, grading="any_of")
    assert single.record["reference"]["answers"] == ["only"]


def test_regex_without_group_and_custom_fields() -> None:
    out = adapt(
        {"problem": "Largest prime below 20?", "solution": "Checking 19: prime. Answer: 19"},
        question_field="problem",
        answer_field="solution",
        answer_regex=r"\d+$",
        grading="numeric",
    )
    assert out.record["reference"]["answer"] == 19
    assert record_errors(out.record, "rft", RecordContext()) == []


@pytest.mark.parametrize(
    ("raw", "options", "reason", "needle"),
    [
        (
            {"question": "q", "answer": "no marker"},
            {"answer_regex": GSM8K_REGEX},
            "adapter:answer_not_found",
            "answer_regex",
        ),
        (
            {"question": "q", "answer": "#### eighteen"},
            {"answer_regex": GSM8K_REGEX, "grading": "numeric"},
            "adapter:not_numeric",
            "eighteen",
        ),
        (
            {"question": "q", "answer": "#### $18"},
            {"answer_regex": GSM8K_REGEX, "grading": "numeric"},
            "adapter:not_numeric",
            "$18",
        ),
        ({"question": "q", "answer": True}, {"grading": "numeric"}, "adapter:not_numeric", "bool"),
        # A control character (U+001C..U+001F, stripped by str.strip) is no whitespace.
        (
            {"question": "q", "answer": "18\x1f"},
            {"grading": "numeric"},
            "adapter:not_numeric",
            "18",
        ),
        (
            {"question": "q", "answer": "\x1c18"},
            {"grading": "numeric"},
            "adapter:not_numeric",
            "18",
        ),
        ({"question": "q"}, {}, "adapter:missing_field", "answer"),
        ({"answer": "a"}, {}, "adapter:missing_field", "question"),
        ({"question": "q", "answer": {"x": 1}}, {}, "adapter:wrong_type", "answer"),
        (
            {"question": "q", "answer": 5},
            {"answer_regex": GSM8K_REGEX},
            "adapter:wrong_type",
            "answer",
        ),
        (
            {"question": "q", "answer": 5},
            {"keep_solution": True},
            "adapter:wrong_type",
            "keep_solution",
        ),
        (
            {"question": "q", "answer": " | "},
            {"grading": "any_of", "answers_separator": "|"},
            "adapter:answer_not_found",
            "no answers",
        ),
        (
            {"question": "q", "answer": "x"},
            {"answer_regex": r"(\d+)?x"},
            "adapter:answer_not_found",
            "group 1",
        ),
    ],
)
def test_malformed(raw: Any, options: dict[str, Any], reason: str, needle: str) -> None:
    with pytest.raises(AdapterError) as err:
        adapt(raw, **options)
    assert err.value.reason == reason
    assert needle in err.value.detail


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"grading": "fuzzy"}, "grading' must be one of"),
        ({"tolerance": "0.1"}, "tolerance' must be a number \\(int or float\\)"),
        ({"tolerance": True}, "tolerance' must be a number \\(int or float\\)"),
        ({"tolerance": -1}, "tolerance must be a finite number >= 0"),
        ({"keep_solution": "yes"}, "keep_solution' must be bool"),
        ({"answer_regex": "(unclosed"}, "does not compile"),
        ({"answers_separator": ""}, "must not be empty"),
        ({"answer_pattern": "x"}, "unknown option 'answer_pattern'"),
    ],
)
def test_option_validation(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        resolve_options("qa_reference", options, "rft")


def test_wrong_objective() -> None:
    with pytest.raises(ValueError, match=r"cannot produce 'sft' records; it produces \['rft'\]"):
        resolve_options("qa_reference", None, "sft")


def _outcome(fn: Any, answer: str) -> Any:
    try:
        [out] = fn({"question": "q", "answer": answer})
    except AdapterError as exc:
        return exc.reason  # the detail names the pattern
    return out.record


def test_the_documented_gsm8k_pattern_finds_what_the_plain_one_finds() -> None:
    """`####\\s*(.+?)\\s*$` began a scan to the end at every `#` of a run (a 30,000-character
    answer: 9 s); `(?<!#)` starts it once per run, with the same answers."""
    plain = adapter(answer_regex=r"####\s*(.+?)\s*$", grading="exact_match")
    documented = adapter(answer_regex=GSM8K_REGEX, grading="exact_match")
    texts = ["3+4=7\n#### 7", "##### 5", "#### 1\n#### 2 ", "a ## #### b\n", "####\n\n x ", "# 1"]
    for text in texts:
        assert _outcome(plain, text) == _outcome(documented, text), text
    hostile = _outcome(documented, "#" * 300_000 + "\nnothing")
    assert hostile == "adapter:answer_not_found"
