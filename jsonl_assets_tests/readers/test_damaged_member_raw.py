"""A gzip member / zstd frame failing its checksum: every record it makes `corrupt_file` keeps
the input's bytes as raw, for every format. Before, the CSV, text and JSON array readers gave
no bytes and the entry held the value as JSON (`r1;1` -> `{"text":"r1","b":"1"}`; a UTF-16
chunk decoded and escaped; `{ "n": 1.50 }` -> `{"n":1.5}`), and an input the reader had
rejected there (a JSONL `parse_error` line) kept its own reason instead of `corrupt_file`."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path
from typing import Any

import pytest
import zstandard

from jsonl_assets.core.readers import ReadLimits, SourceFile, read_source, resolve_options
from jsonl_assets.core.traces import Rejection


def _gzip_member(data: bytes, bad: bool) -> bytes:
    member = bytearray(gzip.compress(data, mtime=0))
    if bad:  # the CRC-32 in the trailer: the member decodes, its check fails
        member[-8:-4] = struct.pack("<I", struct.unpack("<I", member[-8:-4])[0] ^ 1)
    return bytes(member)


def _zstd_frame(data: bytes, bad: bool) -> bytes:
    frame = bytearray(zstandard.ZstdCompressor(write_checksum=True).compress(data))
    if bad:  # the content checksum
        frame[-2] ^= 0x40
    return bytes(frame)


MEMBER = {"gzip": _gzip_member, "zstd": _zstd_frame}


def _read(tmp_path: Path, name: str, data: bytes, fmt: str, options: dict[str, Any]) -> list[Any]:
    path = tmp_path / name
    path.write_bytes(data)
    source = SourceFile(path, name)
    resolved = resolve_options(fmt, options)
    return list(read_source(source, fmt, resolved, ReadLimits(), tmp_path / "scratch"))


def _damaged(codec: str, good: bytes, bad: bytes) -> bytes:
    """`good` in a member that verifies, then `bad` in one whose check fails."""
    return MEMBER[codec](good, False) + MEMBER[codec](bad, True)


UTF16 = "para one \u00e9\n\npara two\n".encode("utf-16-le")
ARRAY = b'[{ "text" : "caf\\u00e9", "n": 1.50 },\n  {"text":"b"}]'

CASES = {
    "csv": (
        "a.csv",
        "csv",
        {"delimiter": ";"},
        b"text;b\r\nr1;1\r\n",
        b"r2;2\r\nr3;3;extra\r\n",
        # the last row has a field too many: the reader's csv_field_count, now corrupt_file
        {1: b"r1;1", 2: b"r2;2", 3: b"r3;3;extra"},
    ),
    "text-utf16": (
        "t.txt",
        "text",
        {"encoding": "utf-16-le", "max_chars": 12},
        UTF16[:10],
        UTF16[10:],
        {1: "para one \u00e9\n\n".encode("utf-16-le"), 3: "para two\n".encode("utf-16-le")},
    ),
    "text-document": (
        "d.txt",
        "text",
        {"encoding": "unicode_escape", "mode": "document"},
        b"caf\\u00e9 \\x41",
        b"\nend\n",
        {1: b"caf\\u00e9 \\x41\nend\n"},
    ),
    "json_array": (
        "j.json",
        "json_array",
        {},
        ARRAY[:3],
        ARRAY[3:],
        {1: b'{ "text" : "caf\\u00e9", "n": 1.50 }', 2: b'{"text":"b"}'},
    ),
    "jsonl": (
        "l.jsonl",
        "jsonl",
        {},
        b'{"text":"m1"}\n',
        b'{"text":"m2 a"}\n{bad m2}\n',
        # line 3 was the reader's parse_error; line 1 is in the member that verifies
        {2: b'{"text":"m2 a"}', 3: b"{bad m2}"},
    ),
}


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_records_of_a_damaged_member_are_quarantined_with_their_bytes(
    tmp_path: Path, codec: str, case: str
) -> None:
    name, fmt, options, good, bad, expected = CASES[case]
    items = _read(tmp_path, name, _damaged(codec, good, bad), fmt, options)
    rejected = {i.position: i for i in items if isinstance(i, Rejection)}
    assert {p: (r.reason, r.raw) for p, r in rejected.items()} == {
        p: ("corrupt_file", raw) for p, raw in expected.items()
    }
    assert all(r.raw_reencoded is None for r in rejected.values())
    if fmt == "jsonl":  # the member that verifies is kept
        assert [i[0] for i in items if type(i) is tuple] == [1]
        assert "the reader found parse_error" in rejected[3].detail
    else:
        assert all(isinstance(i, Rejection) for i in items)


def test_a_too_large_row_in_a_damaged_file_keeps_its_prefix_and_size(tmp_path: Path) -> None:
    row = b"x" * 300 + b",1\n"
    path = tmp_path / "a.csv"
    path.write_bytes(_damaged("gzip", b"text,b\nok,1\n", row))
    limits = ReadLimits(max_record_bytes=100)
    items = list(read_source(SourceFile(path, "a.csv"), "csv", {}, limits, tmp_path / "s"))
    big = items[1]
    assert isinstance(big, Rejection)
    assert (big.position, big.reason, big.raw_truncated) == (2, "corrupt_file", True)
    assert big.raw is not None and row.startswith(big.raw)
    assert "the reader found too_large" in big.detail
