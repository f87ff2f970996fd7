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
