"""The reader marks a rejection that leaves bytes of its file unread (`leaves_unread`): a whole
file rejected at once, or damage it cannot read past with bytes after it; not a file merely
cut short at its end, and not the one record of a single-record format."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import pytest

from jsonl_assets.core.readers import ReadLimits, Rejection, SourceFile, read_source

ROWS = b"".join(b'{"a": %d}\n' % i for i in range(2000))
ITEMS = b"[" + b",".join(b'{"a": %d}' % i for i in range(2000)) + b"]"
TEXT = b"".join(b"line %d of some text\n" % i for i in range(2000))


def _rejections(path: Path, fmt: str, **options: str) -> list[Rejection]:
    items = read_source(SourceFile(path, path.name), fmt, options, ReadLimits(), path.parent)
    return [item for item in items if isinstance(item, Rejection)]


def _undecodable_second_member(rows: bytes) -> bytes:
    """Two gzip members of `rows`; the second's Huffman tables damaged: it does not decode."""
    second = bytearray(gzip.compress(rows, mtime=0))
    second[12] ^= 0xFF
    with pytest.raises(zlib.error):
        zlib.decompress(bytes(second[10:]), -15)
    return gzip.compress(rows, mtime=0) + bytes(second)


@pytest.mark.parametrize(
    ("name", "fmt", "data", "unread"),
    [
        ("repeat.csv", "csv", b"a,a\n1,2\n3,4\n", True),
        ("object.json", "json_array", b'{"rows": [{"a": 1}]}', True),
        ("members.jsonl.gz", "jsonl", _undecodable_second_member(ROWS), True),
        ("members.json.gz", "json_array", _undecodable_second_member(ITEMS), True),
        ("lines.txt.gz", "text", _undecodable_second_member(TEXT), True),
        ("cut.jsonl.gz", "jsonl", gzip.compress(ROWS, mtime=0)[:-30], False),
        ("cut.txt.gz", "text", gzip.compress(TEXT, mtime=0)[:-30], False),
        ("bad-line.jsonl", "jsonl", b'{"a": 1}\n{oops\n{"a": 2}\n', False),
    ],
)
def test_a_rejection_says_whether_it_left_the_file_unread(
    tmp_path: Path, name: str, fmt: str, data: bytes, unread: bool
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    rejections = _rejections(path, fmt)
    assert rejections
    assert any(r.leaves_unread for r in rejections) is unread, rejections


def test_a_damaged_document_is_one_record_not_an_unread_file(tmp_path: Path) -> None:
    path = tmp_path / "doc.txt.gz"
    path.write_bytes(_undecodable_second_member(TEXT))
    (rejection,) = _rejections(path, "text", mode="document")
    assert rejection.reason == "corrupt_file" and not rejection.leaves_unread
