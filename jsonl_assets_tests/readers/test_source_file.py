from __future__ import annotations

import gzip
import hashlib
import json
import os
import zlib
from pathlib import Path

import pytest
import zstandard

from jsonl_assets.core.compression import TruncatedInput
from jsonl_assets.core.readers import ReadLimits, read_source
from jsonl_assets.core.readers.source_file import ChunkReader, SourceChangedError, SourceFile
from jsonl_assets_tests.test_compression import frame_header_with_window_log, long_window_frame

PAYLOAD = b"".join(b'{"n": %d, "t": "line %d"}\n' % (i, i) for i in range(50_000))


def compress(data: bytes, codec: str) -> bytes:
    if codec == "gzip":
        return gzip.compress(data, mtime=0)
    if codec == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    return data


# The extension lies on purpose: detection must come from the magic bytes.
LYING_NAME = {"none": "data.jsonl.gz", "gzip": "data.jsonl.zst", "zstd": "data.jsonl"}


@pytest.mark.parametrize("codec", ["none", "gzip", "zstd"])
def test_detects_codec_by_magic_and_hashes_stored_bytes(tmp_path: Path, codec: str) -> None:
    stored = compress(PAYLOAD, codec)
    path = tmp_path / LYING_NAME[codec]
    path.write_bytes(stored)
    source = SourceFile(path, LYING_NAME[codec])
    assert source.compression == codec
    assert source.size == len(stored)
    with pytest.raises(RuntimeError, match="only after the file has been read"):
        _ = source.sha256
    assert b"".join(source.chunks(size=4096)) == PAYLOAD
    assert source.sha256 == hashlib.sha256(stored).hexdigest()
    source.ensure_unchanged()


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_truncation_keeps_prefix_and_still_hashes_whole_file(tmp_path: Path, codec: str) -> None:
    stored = compress(PAYLOAD, codec)[: len(compress(PAYLOAD, codec)) * 2 // 3]
    path = tmp_path / "cut.bin"
    path.write_bytes(stored)
    source = SourceFile(path, "cut.bin")
    got: list[bytes] = []
    with pytest.raises(TruncatedInput) as info:
        for chunk in source.chunks():
            got.append(chunk)
    out = b"".join(got)
    assert len(out) > len(PAYLOAD) // 3 and PAYLOAD.startswith(out)
    assert info.value.compression == codec and 0 < info.value.offset <= len(stored)
    assert source.sha256 == hashlib.sha256(stored).hexdigest()
    source.ensure_unchanged()


def test_gzip_truncation_loses_nothing_decoded_before_the_damage(tmp_path: Path) -> None:
    # Everything zlib could decode from the cut stream must come out before the error.
    stored = compress(PAYLOAD, "gzip")
    cut = stored[: len(stored) // 2]
    decodable = zlib_prefix(cut)
    path = tmp_path / "cut.gz"
    path.write_bytes(cut)
    got: list[bytes] = []
    with pytest.raises(TruncatedInput):
        for chunk in SourceFile(path, "cut.gz").chunks():
            got.append(chunk)
    assert b"".join(got) == decodable


def zlib_prefix(gz: bytes) -> bytes:
    return zlib.decompressobj(wbits=31).decompress(gz)


def test_zstd_bomb_comes_out_in_bounded_chunks(tmp_path: Path) -> None:
    stored = zstandard.ZstdCompressor().compress(b"a" * 60_000_000)
    assert len(stored) < 10_000
    path = tmp_path / "bomb.zst"
    path.write_bytes(stored)
    total = 0
    biggest = 0
    for chunk in SourceFile(path, "bomb.zst").chunks():
        total += len(chunk)
        biggest = max(biggest, len(chunk))
    assert total == 60_000_000
    assert biggest <= (1 << 20) + (4 << 20)


def test_zstd_multiple_frames_and_trailing_garbage(tmp_path: Path) -> None:
    cctx = zstandard.ZstdCompressor()
    frames = cctx.compress(PAYLOAD[:1000]) + cctx.compress(PAYLOAD[1000:3000])
    path = tmp_path / "f.zst"
    path.write_bytes(frames)
    assert b"".join(SourceFile(path, "f.zst").chunks()) == PAYLOAD[:3000]
    path.write_bytes(frames + b"garbage!")
    got: list[bytes] = []
    with pytest.raises(TruncatedInput) as info:
        for chunk in SourceFile(path, "f.zst").chunks():
            got.append(chunk)
    assert b"".join(got) == PAYLOAD[:3000]
    assert info.value.offset == len(frames)


def test_change_after_open_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(PAYLOAD)
    source = SourceFile(path, "a.jsonl")
    chunks = source.chunks(size=65536)
    next(chunks)
    with open(path, "ab") as fh:
        fh.write(b'{"n": -1}\n')
    for _ in chunks:
        pass
    with pytest.raises(SourceChangedError, match=r"a\.jsonl: .*size"):
        source.ensure_unchanged()


def test_replaced_file_is_detected_by_inode(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(PAYLOAD)
    source = SourceFile(path, "a.jsonl")
    stat = path.stat()
    other = tmp_path / "b.jsonl"
    other.write_bytes(PAYLOAD)
    os.utime(other, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    os.replace(other, path)
    with pytest.raises(SourceChangedError, match="inode"):
        b"".join(source.chunks())


def test_unchanged_file_passes_and_hash_remaining_hashes_unread_file(tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(PAYLOAD)
    source = SourceFile(path, "a.bin")
    assert source.hash_remaining() == hashlib.sha256(PAYLOAD).hexdigest()
    source.ensure_unchanged()


def test_abandoned_read_leaves_hash_to_hash_remaining(tmp_path: Path) -> None:
    stored = compress(PAYLOAD, "gzip")
    path = tmp_path / "a.gz"
    path.write_bytes(stored)
    source = SourceFile(path, "a.gz")
    chunks = source.chunks(size=1024)
    next(chunks)
    chunks.close()
    assert source.hash_remaining() == hashlib.sha256(stored).hexdigest()


@pytest.mark.parametrize("codec", ["none", "zstd"])
def test_local_path_for_random_access(tmp_path: Path, codec: str) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(compress(PAYLOAD, codec))
    source = SourceFile(path, "x.bin")
    local = source.local_path_for_random_access(tmp_path / "scratch")
    assert local.read_bytes() == PAYLOAD
    assert source.is_scratch_copy(local) == (codec != "none")
    if codec != "none":
        assert local.parent == tmp_path / "scratch"


def test_local_path_removes_partial_copy_on_damage(tmp_path: Path) -> None:
    stored = compress(PAYLOAD, "zstd")
    path = tmp_path / "x.zst"
    path.write_bytes(stored[: len(stored) // 2])
    scratch = tmp_path / "scratch"
    with pytest.raises(TruncatedInput):
        SourceFile(path, "x.zst").local_path_for_random_access(scratch)
    assert list(scratch.iterdir()) == []


def test_chunk_reader_serves_reads_across_chunks() -> None:
    reader = ChunkReader(iter([b"abc", b"", b"defgh", b"i"]))
    assert reader.read(2) == b"ab"
    assert reader.read(5) == b"c"
    assert reader.read(3) == b"def"
    assert reader.read() == b"ghi"
    assert reader.read(1) == b""
    assert reader.consumed == 9


@pytest.mark.parametrize("fmt", ["jsonl", "json_array"])
def test_a_source_written_with_zstd_long_28_is_read_not_called_damaged(
    tmp_path: Path, fmt: str
) -> None:
    """`zstd --long=28` from a pipe declares a 256 MiB window, over zstd's default decoder
    limit (128 MiB): a valid file, read whole (sources allow zstd's maximum, 2 GiB)."""
    records = [{"id": f"n{i}", "text": f"note {i}"} for i in range(200)]
    body = (
        b"".join(json.dumps(r).encode() + b"\n" for r in records)
        if fmt == "jsonl"
        else json.dumps(records).encode()
    )
    path = tmp_path / f"notes.{fmt}.zst"
    path.write_bytes(long_window_frame(body, 28))
    items = list(read_source(SourceFile(path, path.name), fmt, {}, ReadLimits(), tmp_path))
    assert [item[1] for item in items] == records  # type: ignore[index]


def test_a_source_frame_over_zstd_maximum_window_is_refused_saying_why(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl.zst"
    path.write_bytes(long_window_frame(b'{"id": "a"}\n', 20) + frame_header_with_window_log(32))
    *kept, rejection = read_source(SourceFile(path, path.name), "jsonl", {}, ReadLimits(), tmp_path)
    assert [item[1] for item in kept] == [{"id": "a"}]  # type: ignore[index]
    assert rejection.reason == "corrupt_file"  # type: ignore[union-attr]
    detail = rejection.detail  # type: ignore[union-attr]
    assert "damaged" not in detail and "window of 4096 MiB" in detail and "--long=31" in detail
