"""Item spans of a JSON array (json_items.py): on valid arrays they are exactly the items,
however the stream is cut; on damaged ones they keep each item's ends."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from jsonl_assets.core.readers.json_items import Span, array_spans

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.text(alphabet=st.sampled_from('ab"\\[]{},: \n\té😀'), max_size=8)
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=12,
)


def spans(data: bytes, size: int, limit: int = 1 << 20) -> list[Span]:
    return list(array_spans(iter([data[i : i + size] for i in range(0, len(data), size)]), limit))


@settings(max_examples=300, deadline=None)
@given(st.lists(_VALUES, max_size=6), st.booleans(), st.sampled_from([1, 2, 3, 7, 4096]))
def test_the_spans_of_a_valid_array_are_its_items(
    items: list[Any], indent: bool, size: int
) -> None:
    data = orjson.dumps(items, option=orjson.OPT_INDENT_2 if indent else 0)
    found = spans(data, size)
    assert [orjson.loads(s.data) for s in found] == items
    assert [s.commas for s in found] == ([0] + [1] * len(items))[: len(items)]
    assert all(s.closed and not s.tail and s.size == len(s.data) for s in found)


def test_damage_inside_an_item_does_not_move_its_ends() -> None:
    data = b'[{"a": NaN}, {"b": "\xff]}"}, 3 , "x,]" {"c": 1},, [1, [2]]] tail'
    for size in (1, 5, 100):
        found = spans(data, size)
        assert [(s.data, s.commas, s.tail) for s in found] == [
            (b'{"a": NaN}', 0, False),
            (b'{"b": "\xff]}"}', 1, False),
            (b"3", 1, False),
            (b'"x,]"', 1, False),
            (b'{"c": 1}', 0, False),
            (b"[1, [2]]", 2, False),
            (b"tail", 1, True),
        ]


def test_an_item_past_the_limit_keeps_a_prefix_and_its_size() -> None:
    big = b'{"a": "' + b"x" * 5000 + b'"}'
    found = spans(b"[" + big + b", 2]", 64, limit=100)
    assert [(s.data, s.size) for s in found] == [(big[:101], len(big)), (b"2", 1)]


def test_a_file_that_ends_inside_the_array() -> None:
    assert [(s.data, s.closed) for s in spans(b'[{"a": 1}, {"b": "x', 4)] == [
        (b'{"a": 1}', True),
        (b'{"b": "x', False),
    ]
    assert [(s.data, s.closed) for s in spans(b'[{"a": 1}, ', 4)] == [
        (b'{"a": 1}', True),
        (b"", False),
    ]
