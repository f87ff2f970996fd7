from __future__ import annotations

import codecs

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jsonl_assets.core.readers.csv_text import ESCAPED, ESCAPES, raw_codec, text_bytes


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=40), st.sampled_from(["utf-8", "utf-16-le", "utf-32-be", "cp1252"]))
def test_any_bytes_decoded_come_back_as_they_were(data: bytes, codec: str) -> None:
    """Whatever the bytes, valid or not (a lone surrogate unit, a cut character), the text
    decoded with the escapes turns back into exactly them."""
    text = codecs.getincrementaldecoder(codec)(ESCAPES).decode(data, final=True)
    assert text_bytes(text, codec) == data
    if ESCAPED.search(text) is None:
        assert text == data.decode(codec)


@pytest.mark.parametrize(
    ("encoding", "head", "codec"),
    [
        ("utf-16", codecs.BOM_UTF16_BE + b"\x00a", "utf-16-be"),
        ("UTF_16", codecs.BOM_UTF16_LE + b"a\x00", "utf-16-le"),
        ("utf-32", codecs.BOM_UTF32_BE, "utf-32-be"),
        ("utf-32", codecs.BOM_UTF32_LE, "utf-32-le"),
        ("utf-8-sig", codecs.BOM_UTF8, "utf-8"),
        ("latin_1", b"a", "iso8859-1"),
    ],
)
def test_the_raw_codec_writes_the_files_byte_order_without_a_bom(
    encoding: str, head: bytes, codec: str
) -> None:
    assert raw_codec(encoding, head) == codec
