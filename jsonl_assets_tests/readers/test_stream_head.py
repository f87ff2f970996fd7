"""A head read before the records (CSV sniffing, BOM checks) never costs the complete records
of a gzip/zstd stream cut short, whatever the file's size and wherever the cut falls."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zstandard

from jsonl_assets.core.compression import TruncatedInput
from jsonl_assets.core.readers import ReadLimits, SourceFile, read_source
from jsonl_assets.core.readers.csv_rows import sniff_delimiter
from jsonl_assets.core.readers.stream_head import read_head
from jsonl_assets.core.traces import Rejection


def cut_stream(data: bytes, codec: str) -> bytes:
    """`data` compressed and flushed, with no end of member/frame: what a killed writer
    leaves. Every byte of `data` decodes, then the stream ends."""
    if codec == "gzip":
        gz = zlib.compressobj(6, zlib.DEFLATED, 31)
        return gz.compress(data) + gz.flush(zlib.Z_SYNC_FLUSH)
    zst = zstandard.ZstdCompressor().compressobj()
    return zst.compress(data) + zst.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)


def read_cut(tmp_path: Path, data: bytes, codec: str, fmt: str, **options: Any) -> list[Any]:
    path = tmp_path / f"cut.{fmt}"
    path.write_bytes(cut_stream(data, codec))
    return list(read_source(SourceFile(path, path.name), fmt, options, ReadLimits(), tmp_path))


def ends(pieces: list[bytes]) -> list[int]:
    """The offset after each piece of their concatenation."""
    out, at = [], 0
    for piece in pieces:
        at += len(piece)
        out.append(at)
    return out


def check_cut(items: list[Any], kept: list[Any]) -> None:
    """The complete records `kept` (their values), then one corrupt_file at the next position."""
    good = [i for i in items if type(i) is tuple]
    assert [g[1] for g in good] == kept
    assert [g[0] for g in good] == list(range(1, len(kept) + 1))
    last = items[-1]
    assert isinstance(last, Rejection) and last.reason == "corrupt_file"
    assert last.position == len(kept) + 1
    assert len(items) == len(kept) + 1


# A BOM, multi-byte characters, a quoted field over two lines: small (far under 64 KiB).
CSV_ROWS = [f"row {i} ça,{i}\n".encode() for i in range(6)]
CSV_ROWS[3] = b'"two\nlines",3\n'
CSV_PIECES = [b"\xef\xbb\xbftext,n\n", *CSV_ROWS]
CSV_VALUES = [{"text": f"row {i} ça", "n": str(i)} for i in range(6)]
CSV_VALUES[3] = {"text": "two\nlines", "n": "3"}
JSONL_PIECES = [b"\xef\xbb\xbf", *(b'{"text":"l\xc3\xa9 %d"}\n' % i for i in range(6))]
ARRAY_PIECES = [b"\xef\xbb\xbf[", *(b'{"text":"\xc3\xa9 %d"},' % i for i in range(6))]


def every_cut(data: bytes) -> range:
    return range(1, len(data) + 1, 3)


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
@pytest.mark.parametrize("delimiter", [",", None])
def test_a_small_cut_csv_keeps_every_row_that_ended_before_the_cut(
    tmp_path: Path, codec: str, delimiter: str | None
) -> None:
    data = b"".join(CSV_PIECES)
    for cut in every_cut(data):
        items = read_cut(tmp_path, data[:cut], codec, "csv", delimiter=delimiter)
        if cut < ends(CSV_PIECES)[0]:  # the header is cut: no row can be named
            assert [i for i in items if type(i) is tuple] == []
            continue
        kept = sum(end <= cut for end in ends(CSV_PIECES)[1:])
        check_cut(items, CSV_VALUES[:kept])


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_a_small_cut_tsv_keeps_its_rows(tmp_path: Path, codec: str) -> None:
    data = b"a\tb\n" + b"".join(b"%d\tx\n" % i for i in range(500)) + b"500\tcut he"
    items = read_cut(tmp_path, data, codec, "tsv")
    check_cut(items, [{"a": str(i), "b": "x"} for i in range(500)])


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_a_small_cut_jsonl_or_json_array_keeps_its_complete_records(
    tmp_path: Path, codec: str
) -> None:
    for fmt, pieces in (("jsonl", JSONL_PIECES), ("json_array", ARRAY_PIECES)):
        data = b"".join(pieces)
        for cut in every_cut(data):
            closing = 1 if fmt == "json_array" else 0  # an item is whole at its `}`
            kept = sum(end - closing <= cut for end in ends(pieces)[1:])
            items = read_cut(tmp_path, data[:cut], codec, fmt)
            expected = [{"text": ("l" if fmt == "jsonl" else "") + f"é {i}"} for i in range(kept)]
            check_cut(items, expected)


def test_the_delimiter_is_sniffed_from_the_complete_lines_of_a_cut_head() -> None:
    head = b"a;b\n1;2\n3;4\n5,6,7,8,9,10,11"  # the cut line is not a row
    assert sniff_delimiter(head, cut=True) == ";"
    assert sniff_delimiter(b"a;b\n1;2\n3;4\n") == ";"


def test_read_head_defers_the_stream_error_after_the_bytes_before_it() -> None:
    closed: list[bool] = []

    def chunks() -> Iterator[bytes]:
        try:
            yield b"ab"
            yield b"cd"
            raise TruncatedInput("gzip", 7, "cut", cut=True)
        finally:
            closed.append(True)

    start = read_head(chunks(), 100)
    assert (start.data, start.broken) == (b"abcd", True)
    stream = start.stream(1)
    assert next(stream) == b"bcd"
    with pytest.raises(TruncatedInput):
        next(stream)
    whole = read_head(iter([b"abc", b"def"]), 2)
    assert (whole.data, whole.broken, list(whole.stream())) == (b"abc", False, [b"abc", b"def"])
    early = read_head(chunks(), 1)
    early.stream().close()  # closing the stream closes the source's chunks
    assert closed == [True, True]
