from __future__ import annotations

import codecs
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jsonl_assets.core.readers import (
    OptionsError,
    ReadLimits,
    SourceFile,
    read_source,
    resolve_options,
)
from jsonl_assets.core.readers.csv_text import ESCAPED, ESCAPES, file_codec, raw_codec, text_bytes


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


@pytest.mark.parametrize(
    ("encoding", "head", "bom", "codec"),
    [
        ("utf-16", codecs.BOM_UTF16_LE + b"a\x00", 2, "utf-16-le"),
        ("utf-32", codecs.BOM_UTF32_LE, 4, "utf-32-le"),
        ("utf-16", b"a\x00", 0, f"utf-16-{sys.byteorder[0]}e"),
        ("utf-8-sig", codecs.BOM_UTF8 + b"a", 3, "utf-8"),
        ("utf-8-sig", b"a", 0, "utf-8"),
        ("utf-16-le", codecs.BOM_UTF16_LE, 0, "utf-16-le"),  # a BOM the codec keeps as text
    ],
)
def test_the_file_codec_says_which_bytes_are_a_bom_and_how_the_rest_reads(
    encoding: str, head: bytes, bom: int, codec: str
) -> None:
    assert file_codec(encoding, head) == (bom, codec)


@pytest.mark.parametrize("fmt", ["csv", "tsv", "text"])
def test_encoding_options_are_canonical_codec_names(fmt: str) -> None:
    """Readers compare names (`utf-8-sig`): `UTF_8_SIG` must not be another codec to them."""
    for spelt, name in [("UTF_8_SIG", "utf-8-sig"), ("UTF8", "utf-8"), ("latin_1", "iso8859-1")]:
        assert resolve_options(fmt, {"encoding": spelt})["encoding"] == name
    with pytest.raises(OptionsError, match="unknown codec 'nope'"):
        resolve_options(fmt, {"encoding": "nope"})


@pytest.mark.parametrize("encoding", ["utf_8_sig", "UTF-8-SIG"])
def test_a_csv_row_with_bad_utf8_is_invalid_utf8_whatever_the_spelling(
    tmp_path: Path, encoding: str
) -> None:
    """Before: `utf_8_sig` made it invalid_encoding (the reader compared names as given)."""
    path = tmp_path / "t.csv"
    path.write_bytes(b"a,b\n1,\xff\n")
    items = list(
        read_source(
            SourceFile(path, "t.csv"), "csv", {"encoding": encoding}, ReadLimits(), tmp_path
        )
    )
    assert [(i.position, i.reason, i.raw) for i in items] == [(1, "invalid_utf8", b"1,\xff")]
