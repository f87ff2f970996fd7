"""value_text: a record's value as messages show it: compact JSON, bounded, never recursive."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from jsonl_assets.core.readers.duplicate_keys import repeated_key_detail
from jsonl_assets.core.rules import RecordContext, record_problems
from jsonl_assets.core.rules.vocabulary import short
from jsonl_assets.core.value_text import value_text

_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30,
)


def _nested(depth: int) -> list[Any]:
    outer: list[Any] = []
    inner = outer
    for _ in range(depth):
        inner.append([])
        inner = inner[0]
    return outer


@given(_JSON, st.integers(4, 120))
def test_a_value_is_its_compact_json_cut_to_the_limit(value: Any, limit: int) -> None:
    full = orjson.dumps(value).decode()
    expected = full if len(full) <= limit else full[: limit - 3] + "..."
    assert value_text(value, limit) == expected


def test_deep_long_and_odd_values_are_shown_bounded_without_raising() -> None:
    deep = _nested(100_000)  # repr() raises RecursionError at about 1,000
    assert value_text(deep, 20) == "[" * 17 + "..."
    assert value_text({"k": deep}) == '{"k":' + "[" * 72 + "..."
    assert len(value_text("x" * 10_000_000)) == 80
    assert value_text(list(range(10**6)), 12) == "[0,1,2,3,..."
    assert value_text(10**5000, 10) == "1000000..."  # str() refuses over 4,300 digits
    assert value_text(float("nan")) == "NaN"
    assert value_text("\ud800") == '"\\ud800"'  # a lone surrogate, escaped
    assert [value_text(v) for v in (None, True, "a'b")] == ["null", "true", '"a\'b"']


def test_rule_messages_show_a_deep_value_bounded() -> None:
    """A role nested 900 deep is a D10 finding, not a RecursionError in the validator."""
    assert short(_nested(5000), 12) == "[[[[[[[[[..."
    assert short(10**5000, 12) == "100000000..."
    assert (short(True), short("it"), short(None)) == ("True", "'it'", "None")  # as before
    record = {
        "id": "r",
        "messages": [
            {"role": _nested(900), "content": [{"type": "text", "text": "q"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "a"}]},
        ],
    }
    problems = record_problems(record, "sft", RecordContext())
    roles = [p for p in problems if p.rule == "D10"]
    assert roles and "[[[[" in roles[0].message and len(roles[0].message) < 200


def test_a_repeated_key_is_named_cut_to_80_characters() -> None:
    """A duplicate_key detail names the key as before, but a megabyte key no longer makes a
    megabyte detail."""
    assert "repeats the key 'k':" in repeated_key_detail("k")
    detail = repeated_key_detail("x" * 1_000_000)
    assert "'" + "x" * 76 + "...: a parser" in detail and len(detail) < 200
