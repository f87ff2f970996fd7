"""Compression: detection by magic bytes, streaming decompression that notices truncation,
and deterministic frame compression for shards and work files.

Shards are written as a sequence of independent frames (zstd frames or gzip members), one
per batch of records. Concatenated frames are a valid stream for every reader, each frame's
compressed size is known exactly when it is made (so rotation by on-disk bytes is
deterministic), and a frame's bytes depend only on its input and the codec settings.

zstd is always driven in its multi-threaded mode (threads >= 1): its output is identical for
any number of threads, whereas the single-threaded mode (threads = 0) produces other bytes.
Fixing the mode keeps shards byte-identical whatever the worker count.
"""

from __future__ import annotations

import gzip
import io
import struct
import zlib
from collections.abc import Iterator
from typing import BinaryIO, Final

import zstandard

GZIP_MAGIC: Final = b"\x1f\x8b"
ZSTD_MAGIC: Final = b"\x28\xb5\x2f\xfd"
READ_CHUNK: Final = 1 << 20

DEFAULT_LEVELS: Final = {"none": 0, "gzip": 6, "zstd": 3}


class TruncatedInput(Exception):
    """A compressed stream ended (or broke) before its end-of-stream marker."""

    def __init__(self, compression: str, offset: int, detail: str) -> None:
        super().__init__(f"{compression} stream damaged at compressed offset {offset}: {detail}")
        self.compression = compression
        self.offset = offset
        self.detail = detail


def detect_compression(head: bytes) -> str:
    """Codec named by the first bytes of a file: `gzip`, `zstd` or `none`."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "none"


def compression_from_extension(name: str) -> str:
    if name.endswith(".gz"):
        return "gzip"
    if name.endswith(".zst") or name.endswith(".zstd"):
        return "zstd"
    return "none"


class _CountingReader(io.RawIOBase):
    """Wraps a binary stream and counts the compressed bytes consumed."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.consumed += n
        return n


def iter_decompressed(raw: BinaryIO, compression: str, chunk: int = READ_CHUNK) -> Iterator[bytes]:
    """Yield decompressed chunks of `raw`; raise TruncatedInput if the stream is damaged.

    Everything decompressed before the damage has been yielded when the error is raised,
    so callers keep the good records that precede it.
    """
    if compression == "none":
        while data := raw.read(chunk):
            yield data
    elif compression == "gzip":
        yield from _iter_gzip(raw, chunk)
    elif compression == "zstd":
        yield from _iter_zstd(raw, chunk)
    else:
        raise ValueError(f"unknown compression {compression!r}")


def _iter_gzip(raw: BinaryIO, chunk: int) -> Iterator[bytes]:
    counter = _CountingReader(raw)
    reader = gzip.GzipFile(fileobj=io.BufferedReader(counter, READ_CHUNK), mode="rb")
    try:
        # read1, not read: GzipFile.read(n) drops what it decompressed when the stream breaks.
        while data := reader.read1(chunk):
            yield data
    except (EOFError, OSError, zlib.error) as exc:
        raise TruncatedInput("gzip", counter.consumed, str(exc)) from exc


# Compressed bytes handed to the zstd decompressor per call. A zstd block yields at most
# 128 KiB and costs at least 4 bytes, so one call yields at most 4 MiB whatever the input (a
# decompression bomb included). The slicing costs about 0.3 s per GB decompressed.
_ZSTD_FEED: Final = 128


def _iter_zstd(raw: BinaryIO, chunk: int) -> Iterator[bytes]:
    dctx = zstandard.ZstdDecompressor()
    dobj = dctx.decompressobj()
    offset = 0  # compressed bytes fully handed to the decompressor
    in_frame = False
    pending: list[bytes] = []  # small outputs gathered into chunks of about `chunk`
    pending_len = 0
    while data := raw.read(chunk):
        view = memoryview(data)
        pos = 0
        while pos < len(view):
            piece = view[pos : pos + _ZSTD_FEED]
            try:
                out = dobj.decompress(piece)
            except zstandard.ZstdError as exc:
                if pending:
                    yield b"".join(pending)
                raise TruncatedInput("zstd", offset, str(exc)) from exc
            in_frame = True
            if dobj.eof:
                used = len(piece) - len(dobj.unused_data)
                dobj = dctx.decompressobj()
                in_frame = False
            else:
                used = len(piece)
            pos += used
            offset += used
            if out:
                pending.append(out)
                pending_len += len(out)
                if pending_len >= chunk:
                    yield b"".join(pending)
                    pending = []
                    pending_len = 0
    if pending:
        yield b"".join(pending)
    if in_frame:
        raise TruncatedInput("zstd", offset, "stream ended inside a frame")


class FrameCompressor:
    """Compresses one batch of bytes into one self-contained, deterministic frame."""

    def __init__(self, compression: str, level: int | None = None, threads: int = 1) -> None:
        if compression not in DEFAULT_LEVELS:
            raise ValueError(f"unknown compression {compression!r}")
        self.compression = compression
        self.level = DEFAULT_LEVELS[compression] if level is None else level
        self._zstd = (
            zstandard.ZstdCompressor(level=self.level, threads=max(1, threads), write_checksum=True)
            if compression == "zstd"
            else None
        )

    def compress(self, data: bytes) -> bytes:
        if self.compression == "none":
            return data
        if self._zstd is not None:
            return self._zstd.compress(data)
        return gzip_member(data, self.level)


def gzip_member(data: bytes, level: int) -> bytes:
    """One gzip member with mtime 0, no file name and OS byte 255: no clock, no host."""
    xfl = 2 if level == 9 else (4 if level == 1 else 0)
    header = b"\x1f\x8b\x08\x00" + struct.pack("<I", 0) + bytes((xfl, 255))
    body = zlib.compress(data, level, wbits=-15)
    trailer = struct.pack("<II", zlib.crc32(data) & 0xFFFFFFFF, len(data) & 0xFFFFFFFF)
    return header + body + trailer
