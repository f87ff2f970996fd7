"""Item spans of a JSON array (json_items.py): on valid arrays they are exactly the items,
however the stream is cut; on damaged ones they keep each item's ends. `array_at` finds the
array under a key path as ijson's prefix names it."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jsonl_assets.core.readers.json_items import Span, array_at, array_spans, arrays_at

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


_KEYS = st.text(alphabet=st.sampled_from('ab"\\[]{}:,. é'), min_size=1, max_size=4)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_KEYS, min_size=1, max_size=3),
    st.lists(_VALUES, max_size=4),
    st.dictionaries(_KEYS, _VALUES, max_size=3),
    st.sampled_from([1, 2, 3, 7, 4096]),
)
def test_array_at_finds_the_array_under_its_keys_however_the_stream_is_cut(
    keys: list[str], items: list[Any], noise: dict[str, Any], size: int
) -> None:
    doc: Any = items
    for key in reversed(keys):  # siblings before the path, and a decoy array under them
        doc = {**{k: v for k, v in noise.items() if k != key}, "decoy": [noise], key: doc}
    data = orjson.dumps(doc)
    pieces = iter([data[i : i + size] for i in range(0, len(data), size)])
    found = b"".join(array_at(pieces, keys))
    assert found.startswith(orjson.dumps(items))
    assert [
        orjson.loads(s.data) for s in array_spans(iter([found]), 1 << 20) if not s.tail
    ] == items


def test_array_at_yields_nothing_without_such_an_array() -> None:
    assert list(array_at(iter([b'{"data": {"item": [1]}, "x": [2]}']), ["data"])) == []
    assert list(array_at(iter([b'[{"data": [1]}]']), ["data"])) == []


@pytest.mark.parametrize("size", [1, 2, 3, 7, 4096])
def test_arrays_at_finds_every_array_under_the_keys_in_one_pass(size: int) -> None:
    data = (
        b'{"data": [{"a": "]"}, 2], "x": {"data": [9]}, "data": [], "n": [[1]],'
        b' "d\\u0061ta": ["\\"]", [3]], "data": [4'
    )
    pieces = iter([data[i : i + size] for i in range(0, len(data), size)])
    arrays = [[(s.data, s.closed) for s in spans] for spans in arrays_at(pieces, ["data"], 64)]
    assert arrays == [
        [(b'{"a": "]"}', True), (b"2", True)],
        [],
        [(b'"\\"]"', True), (b"[3]", True)],
        [(b"4", False)],
    ]
    assert next(pieces, None) is None  # one pass: the stream is read once, to its end
