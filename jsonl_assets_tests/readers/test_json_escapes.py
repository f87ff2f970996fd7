from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jsonl_assets.core.readers.json_escapes import (
    LoneSurrogate,
    first_lone_surrogate,
    surrogate_checked,
)

PIECES = ["a", "\\\\", "\\ud800", "\\udc00", "\\ud83d\\ude00", "\\u0041", "\\\\ud800", "\\n",
          'x\\"', "\\uDBFF\\uDFFF", "\\uD800", "\\uDFFF", "é"]  # fmt: skip


def lone_by_walking(data: bytes) -> int | None:
    """The first lone surrogate escape, by walking the string escape by escape."""
    i = 0
    while i < len(data):
        if data[i] != 0x5C:
            i += 1
            continue
        if data[i + 1 : i + 2] != b"u":
            i += 2
            continue
        value = int(data[i + 2 : i + 6], 16)
        if 0xDC00 <= value <= 0xDFFF:
            return i
        if 0xD800 <= value <= 0xDBFF:
            low = data[i + 6 : i + 12]
            if len(low) == 6 and low[:2] == b"\\u" and 0xDC00 <= int(low[2:], 16) <= 0xDFFF:
                i += 12
                continue
            return i
        i += 6
    return None


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from(PIECES), max_size=14),
    st.lists(st.integers(min_value=0, max_value=200), max_size=6),
)
def test_streamed_in_any_pieces_the_bytes_before_the_first_lone_half_come_out_then_it_is_named(
    pieces: list[str], cuts: list[int]
) -> None:
    data = ('"' + "".join(pieces) + '"').encode()
    want = lone_by_walking(data)
    found = first_lone_surrogate(data)
    assert (None if found is None else found.offset) == want
    bounds = sorted({min(c, len(data)) for c in cuts})
    parts = [data[a:b] for a, b in zip([0, *bounds], [*bounds, len(data)], strict=True)]
    out: list[bytes] = []
    named = None
    try:
        for chunk in surrogate_checked(iter(parts)):
            out.append(chunk)
    except LoneSurrogate as exc:
        named = exc.offset
    assert named == want
    assert b"".join(out) == (data if want is None else data[:want])


def test_a_high_half_with_no_low_half_is_named_without_holding_the_stream_back() -> None:
    chunks = iter([b'"\\ud800', b"a" * 10, b"b" * (1 << 20)])
    out = []
    with pytest.raises(LoneSurrogate) as raised:
        for chunk in surrogate_checked(chunks):
            out.append(chunk)
    assert raised.value.offset == 1 and b"".join(out) == b'"'
    assert "\\ud800" in str(raised.value)
