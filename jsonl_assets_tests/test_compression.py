from __future__ import annotations

import gzip
import io
import random
import struct
import zlib

import pytest
import zstandard

from jsonl_assets.core.compression import (
    READ_CHUNK,
    SHARD_MAX_WINDOW,
    SOURCE_MAX_WINDOW,
    FrameCompressor,
    TruncatedInput,
    damaged_lines,
    detect_compression,
    iter_decompressed,
)
from jsonl_assets.core.zstd_frames import ZSTD_MAGIC


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


def _multi_frame_zstd() -> tuple[bytes, list[bytes], int]:
    """Frames of every kind the scanner must follow: multi-block (raw, RLE and compressed
    blocks), without a content size, without a checksum, empty, and skippable frames; the
    checksum of one (index `bad` among the content frames) is damaged."""
    rng = random.Random(7)
    parts = [
        PAYLOAD[:300_000],  # several compressed blocks
        rng.randbytes(200_000) + b"\n",  # raw blocks
        b"a" * 300_000 + b"\n",  # RLE blocks
        PAYLOAD[300_000:301_000],
        b"",
        PAYLOAD[301_000:302_000],
    ]
    with_sum = zstandard.ZstdCompressor(write_checksum=True)
    frames = [
        bytearray(with_sum.compress(parts[0])),
        bytearray(with_sum.compress(parts[1])),
        bytearray(
            zstandard.ZstdCompressor(write_checksum=True, write_content_size=False).compress(
                parts[2]
            )
        ),
        bytearray(zstandard.ZstdCompressor(write_checksum=False).compress(parts[3])),
        bytearray(with_sum.compress(parts[4])),
        bytearray(with_sum.compress(parts[5])),
    ]
    bad = 2
    frames[bad][-1] ^= 0x10
    skippable = b"\x5a\x2a\x4d\x18" + (2).to_bytes(4, "little") + b"ok"
    return skippable + b"".join(bytes(f) for f in frames), parts, bad


@pytest.mark.parametrize("chunk", [1, 5, 4096, READ_CHUNK])
def test_a_zstd_frame_failing_its_checksum_is_passed_when_asked(chunk: int) -> None:
    """Like a gzip member failing its CRC-32: its whole content comes out (the last block
    included), `damaged_lines` names its lines, and the frames after it are read; strict
    reading (shards, verify) still stops at it."""
    data, parts, bad = _multi_frame_zstd()
    out = b"".join(iter_decompressed(io.BytesIO(data), "zstd", chunk, skip_bad_members=True))
    assert out == b"".join(parts)
    first = b"".join(parts[:bad]).count(b"\n") + 1
    [damage] = damaged_lines(io.BytesIO(data), "zstd", chunk)
    assert (damage.first, damage.last) == (first, first + parts[bad].count(b"\n") - 1)
    assert "frame 3 at compressed offset" in damage.detail  # the skippable frame is frame 0
    assert "failed its content checksum" in damage.detail
    got = bytearray()
    with pytest.raises(TruncatedInput, match="checksum"):
        for piece in iter_decompressed(io.BytesIO(data), "zstd", chunk):
            got += piece
    assert bytes(got).startswith(b"".join(parts[:bad]))


def test_zstd_bytes_that_do_not_decode_still_end_the_stream() -> None:
    """Only a checksum failure is passed over: a frame whose blocks do not decode leaves
    the rest of the file unread (it cannot be followed)."""
    cctx = zstandard.ZstdCompressor(write_checksum=True)
    frames = [cctx.compress(PAYLOAD[:1000]), bytearray(cctx.compress(PAYLOAD[1000:90_000]))]
    frames[1][zstandard.frame_header_size(bytes(frames[1]))] |= 0b110  # a reserved block type
    data = frames[0] + bytes(frames[1]) + cctx.compress(PAYLOAD[90_000:91_000])
    damage = damaged_lines(io.BytesIO(data), "zstd")
    assert len(damage) == 1 and damage[0].last is None
    with pytest.raises(TruncatedInput):
        b"".join(iter_decompressed(io.BytesIO(data), "zstd", skip_bad_members=True))


def long_window_frame(data: bytes, window_log: int) -> bytes:
    """`data` in one frame of unknown size declaring a 2**window_log window, as
    `zstd --long=N` writes from a pipe."""
    params = zstandard.ZstdCompressionParameters.from_level(
        3, window_log=window_log, enable_ldm=True
    )
    cobj = zstandard.ZstdCompressor(compression_params=params).compressobj()
    return cobj.compress(data) + cobj.flush()


def frame_header_with_window_log(window_log: int) -> bytes:
    """The start of a frame that declares a 2**window_log window (no content size)."""
    return ZSTD_MAGIC + bytes([0, (window_log - 10) << 3]) + b"\x01\x00\x00"


def test_shards_are_read_within_zstd_default_window_and_a_larger_one_is_refused_not_damage() -> (
    None
):
    frame = long_window_frame(PAYLOAD, 28)
    assert zstandard.get_frame_parameters(frame).window_size == 1 << 28
    with pytest.raises(TruncatedInput) as info:
        b"".join(iter_decompressed(io.BytesIO(frame), "zstd"))  # type: ignore[arg-type]
    message = str(info.value)
    assert "damaged" not in message and "refused" in message
    assert "window of 256 MiB" in message and "128 MiB" in message and "--long=27" in message
    assert b"".join(iter_decompressed(io.BytesIO(frame), "zstd", max_window=SOURCE_MAX_WINDOW)) == (  # type: ignore[arg-type]
        PAYLOAD
    )


def test_a_frame_over_the_format_maximum_is_refused_naming_its_window() -> None:
    frame = frame_header_with_window_log(32)
    with pytest.raises(TruncatedInput) as info:
        list(iter_decompressed(io.BytesIO(frame), "zstd", max_window=SOURCE_MAX_WINDOW))  # type: ignore[arg-type]
    assert "window of 4096 MiB" in str(info.value) and "--long=31" in str(info.value)
    [found] = damaged_lines(io.BytesIO(frame), "zstd", max_window=SOURCE_MAX_WINDOW)  # type: ignore[arg-type]
    assert "refused" in found.detail and "damaged" not in found.detail


@pytest.mark.parametrize("level", range(1, 23))
def test_every_zstd_level_we_write_stays_within_the_shard_window(level: int) -> None:
    # No content size known: the window the level picks for a stream of any length.
    assert 1 << zstandard.ZstdCompressionParameters.from_level(level).window_log <= (
        SHARD_MAX_WINDOW
    )
    frame = FrameCompressor("zstd", level).compress(PAYLOAD)
    assert zstandard.get_frame_parameters(frame).window_size <= SHARD_MAX_WINDOW
