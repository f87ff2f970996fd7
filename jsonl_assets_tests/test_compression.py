from __future__ import annotations

import gzip
import io

import pytest
import zstandard

from jsonl_assets.core.compression import (
    FrameCompressor,
    TruncatedInput,
    detect_compression,
    iter_decompressed,
)

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
    """Members of every size, some with a name or an extra field, zero padding between
    some, read in pieces smaller than a header: every byte out once, every member marked."""
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
        members.append(member + (b"\x00" * (i % 3) if i % 13 == 0 else b""))
        expected.append(data)
    stream = io.BytesIO(b"".join(members))
    out = list(iter_decompressed(stream, "gzip", chunk))
    assert b"".join(out) == b"".join(expected)


def test_a_stream_of_many_empty_gzip_members_ends_with_the_record_after_them() -> None:
    empty = gzip.compress(b"", mtime=0)
    data = gzip.compress(b'{"a": 1}\n', mtime=0) + empty * 50_000 + gzip.compress(b"end\n", mtime=0)
    assert b"".join(iter_decompressed(io.BytesIO(data), "gzip")) == b'{"a": 1}\nend\n'
