"""readers/json_scan.py: the second passes over a JSON text walk it without recursion, so a
text orjson reads (1,024 levels) is judged at any depth; a pass built on the standard
library's recursive parser gave up silently past ~1,000 levels."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jsonl_assets.core.readers.duplicate_keys import repeated_key
from jsonl_assets.core.readers.exact_numbers import jsonl_problem
from jsonl_assets.core.readers.json_scan import build_value, first_repeated_key

DEEP = b"[" * 1020 + b"]" * 1020


def test_orjson_reads_what_the_standard_library_cannot() -> None:
    orjson.loads(DEEP)
    with pytest.raises(RecursionError):
        json.loads(DEEP)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (b'{"id":"a","d":' + DEEP + b',"id":"b"}', "id"),
        (b'{"d":' + b"[" * 1000 + b'{"k":1,"k":2}' + b"]" * 1000 + b"}", "k"),
        (b'{"a":' + DEEP + b',"\\u0061":1}', "a"),  # the same key, escaped
        (b'{"a":' + DEEP + b',"b":{"a":1}}', None),  # another object's key
    ],
)
def test_a_repeated_key_is_found_at_any_depth(text: bytes, key: str | None) -> None:
    assert repeated_key(text, orjson.loads(text)) == key


def test_an_inexact_number_is_named_with_its_path_at_any_depth() -> None:
    text = b'{"d":' + DEEP + b',"a":[{"x":[0, "s", 123456789012345678901234567890]}]}'
    why = jsonl_problem(text)
    assert why is not None
    assert why.startswith("a[0].x[2]: the number 123456789012345678901234567890 ")
    deep = b'{"d":' + b"[" * 1000 + b"1.00000000000000000001" + b"]" * 1000 + b"}"
    assert (jsonl_problem(deep) or "").startswith("d" + "[0]" * 1000 + ": the number ")


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=12,
)


@given(_json)
def test_build_value_is_what_orjson_reads(value: Any) -> None:
    text = orjson.dumps(value)
    assert build_value(text, int, float) == orjson.loads(text)
    assert first_repeated_key(text) is None


def test_build_value_reads_any_depth_and_keeps_the_last_of_a_repeated_key() -> None:
    value = build_value(DEEP, int, float)
    for _ in range(1019):  # `==` would recurse
        assert type(value) is list and len(value) == 1
        value = value[0]
    assert value == []
    assert build_value(b'{"a": 1, "b": 2, "a": 3}', int, float) == {"a": 3, "b": 2}
