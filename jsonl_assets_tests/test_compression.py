from __future__ import annotations

import gzip
import io
import struct
import zlib

import pytest
import zstandard

from jsonl_assets.core.compression import (
    FrameCompressor,
    TruncatedInput,
    detect_compression,
    iter_decompressed,
)


def with_header_crc(member: bytes, bad: bool = False) -> bytes:
    """`member` (a 10-byte header, no optional fields after it) with FHCRC set and its CRC16."""
    header = member[:3] + bytes([member[3] | 2]) + member[4:10]
    crc = zlib.crc32(header) & 0xFFFF
    return header + struct.pack("<H", crc ^ (0x5555 if bad else 0)) + member[10:]


PAYLOAD = b"".join(f'{{"n": {i}, "t": "línea {i}"}}\n'.encode() for i in range(20000))


@pytest.mark.parametrize("codec", ["none", "gzip", "zstd"])
def test_frames_round_trip_and_are_deterministic(codec: str) -> None:
    a = FrameCompressor(codec, threads=1)
    b = FrameCompressor(codec, threads=2)
    frames = [a.compress(PAYLOAD[:50000]), a.compress(PAYLOAD[50000:])]
    assert frames == [b.compress(PAYLOAD[:50000]), b.compress(PAYLOAD[50000:])]
    blob = b"".join(frames)
    assert detect_compression(blob) == codec
    assert b"".join(iter_decompressed(io.BytesIO(blob), codec, chunk=4096)) == PAYLOAD


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_truncated_stream_yields_good_prefix_then_reports_offset(codec: str) -> None:
    blob = (
        gzip.compress(PAYLOAD, mtime=0)
        if codec == "gzip"
        else zstandard.ZstdCompressor().compress(PAYLOAD)
    )
    cut = blob[: len(blob) // 2]
    got = []
    with pytest.raises(TruncatedInput) as info:
        for chunk in iter_decompressed(io.BytesIO(cut), codec, chunk=1024):
            got.append(chunk)
    assert info.value.offset > 0
    out = b"".join(got)
    assert out and PAYLOAD.startswith(out)


@pytest.mark.parametrize("chunk", [7, 64, 1 << 20])
def test_many_tiny_gzip_members_headers_and_padding_across_reads(chunk: int) -> None:
    """Members of every size, some with a name, an extra field or a header CRC, zero padding
    after the last, read in pieces smaller than a header: every byte out once."""
    members, expected = [], []
    for i in range(3000):
        data = f"line {i}\n".encode() * (i % 5)
        member = gzip.compress(data, mtime=0)
        if i % 7 == 0:  # FNAME set, a name across the read boundary
            member = (
                member[:3]
                + bytes([member[3] | 8])
                + member[4:10]
                + b"n" * (i % 50)
                + b"\x00"
                + member[10:]
            )
        if i % 11 == 0:  # FEXTRA
            member = (
                member[:3] + bytes([member[3] | 4]) + member[4:10] + b"\x03\x00abc" + member[10:]
            )
        if i % 13 == 0 and i % 7 and i % 11:  # FHCRC, on a header without name or extra
            member = with_header_crc(member)
        members.append(member)
        expected.append(data)
    stream = io.BytesIO(b"".join(members) + b"\x00" * 9)
    out = list(iter_decompressed(stream, "gzip", chunk))
    assert b"".join(out) == b"".join(expected)


def test_a_stream_of_many_empty_gzip_members_ends_with_the_record_after_them() -> None:
    empty = gzip.compress(b"", mtime=0)
    data = gzip.compress(b'{"a": 1}\n', mtime=0) + empty * 50_000 + gzip.compress(b"end\n", mtime=0)
    assert b"".join(iter_decompressed(io.BytesIO(data), "gzip")) == b'{"a": 1}\nend\n'


def _read(blob: bytes) -> tuple[bytes, TruncatedInput | None]:
    """What `iter_decompressed` yields from `blob`, and the error it ends with."""
    got: list[bytes] = []
    try:
        for data in iter_decompressed(io.BytesIO(blob), "gzip", 7):
            got.append(data)
    except TruncatedInput as exc:
        return b"".join(got), exc
    return b"".join(got), None


def test_reserved_gzip_flag_bits_are_damage() -> None:
    """RFC 1952 2.3.1.2: a reader must refuse a member with FLG bits 5-7 set."""
    good = gzip.compress(b"a\n", mtime=0)
    for bit in (0x20, 0x40, 0x80):
        bad = good[:3] + bytes([good[3] | bit]) + good[4:]
        out, exc = _read(good + bad)
        assert out == b"a\n" and exc is not None and not exc.cut
        assert exc.offset == len(good) and "reserved header flag bits" in exc.detail


def test_a_gzip_header_crc_is_checked() -> None:
    member = gzip.compress(b"a\n", mtime=0)
    assert _read(with_header_crc(member)) == (b"a\n", None)
    out, exc = _read(member + with_header_crc(member, bad=True))
    assert out == b"a\n" and exc is not None and not exc.cut
    assert exc.offset == len(member) and "header CRC16" in exc.detail


def test_zero_padding_is_allowed_only_at_the_end_of_a_gzip_file() -> None:
    """gzip -dc and zlib stop at zeros after a member: a member after them is damage."""
    one, two = gzip.compress(b"a\n", mtime=0), gzip.compress(b"b\n", mtime=0)
    assert _read(one + two + b"\x00" * 8) == (b"a\nb\n", None)
    out, exc = _read(one + b"\x00" * 8 + two)
    assert out == b"a\n" and exc is not None and not exc.cut
    assert exc.offset == len(one) and "zero padding is allowed only at the end" in exc.detail
    out, exc = _read(b"\x00" * 8 + one)
    assert out == b"" and exc is not None and "not a gzip file" in exc.detail
    assert _read(b"") == (b"", None)
