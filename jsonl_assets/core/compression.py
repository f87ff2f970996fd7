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

import io
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Final

import zstandard

from jsonl_assets.core.picklable_errors import Picklable
from jsonl_assets.core.zstd_frames import (
    ZSTD_MAGIC,
    FrameEnd,
    FrameScanner,
    is_skippable_frame,
    window_refusal,
)

GZIP_MAGIC: Final = b"\x1f\x8b"
READ_CHUNK: Final = 1 << 20

DEFAULT_LEVELS: Final = {"none": 0, "gzip": 6, "zstd": 3}

# The largest zstd window decoded. Shards: zstd's default (`--long=27`), which every level we
# write stays within. Sources: zstd's maximum on 64-bit (`--long=31`); a frame allocates only
# the window it declares (a frame of known size: at most its size).
SHARD_MAX_WINDOW: Final = 1 << 27
SOURCE_MAX_WINDOW: Final = 1 << 31


class TruncatedInput(Picklable):
    """A compressed stream ended (or broke) before its end-of-stream marker. `cut`: the
    stored bytes simply end (what was decompressed before is a prefix of the content), as
    opposed to bytes that do not decode or fail a checksum."""

    def __init__(
        self, compression: str, offset: int, detail: str, cut: bool = False, damaged: bool = True
    ) -> None:
        what = "damaged" if damaged else "refused"  # refused: valid, but over a reader limit
        self.headline = f"{compression} stream {what} at compressed offset {offset}"
        super().__init__(f"{self.headline}: {detail}")
        self.compression = compression
        self.offset = offset
        self.detail = detail
        self.cut = cut


@dataclass(frozen=True)
class MemberEnd:
    """Yielded after each gzip member / zstd frame when asked (`markers=True`)."""

    index: int
    offset: int  # compressed offset of the member's first byte
    bad: str | None  # why its checksum failed, or None


@dataclass(frozen=True)
class DamagedLines:
    """Lines (1-based, physical) that a damaged member's bytes touch; `last` None: to the end."""

    first: int
    last: int | None
    detail: str

    def __contains__(self, line: int) -> bool:
        return self.first <= line and (self.last is None or line <= self.last)


def detect_compression(head: bytes) -> str:
    """Codec named by the first bytes of a file: `gzip`, `zstd` or `none`."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    # A skippable frame: pzstd writes one before each frame, other tools put metadata there.
    if head.startswith(ZSTD_MAGIC) or is_skippable_frame(head):
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


def iter_decompressed(
    raw: BinaryIO,
    compression: str,
    chunk: int = READ_CHUNK,
    *,
    skip_bad_members: bool = False,
    max_window: int = SHARD_MAX_WINDOW,
) -> Iterator[bytes]:
    """Yield decompressed chunks of `raw`; raise TruncatedInput if the stream is damaged.

    Everything decompressed before the damage has been yielded when the error is raised,
    so callers keep the good records that precede it. A gzip member whose CRC-32 or length
    does not match, or a zstd frame whose content checksum does not, is damage too, found only
    at its end (its whole content has been yielded); with `skip_bad_members` (the caller knows
    the bad members from `damaged_lines`) the stream goes on with the next member. Without it
    (shards, verify) the first bad member ends the stream. A zstd frame whose window is over
    `max_window` is refused (TruncatedInput, not marked damaged, saying so).
    """
    if compression == "none":
        while data := raw.read(chunk):
            yield data
    elif compression == "gzip":
        for data in _iter_gzip(raw, chunk, markers=False, skip_bad=skip_bad_members):
            yield data  # type: ignore[misc]
    elif compression == "zstd":
        for data in _iter_zstd(raw, chunk, False, skip_bad_members, max_window):
            yield data  # type: ignore[misc]
    else:
        raise ValueError(f"unknown compression {compression!r}")


def damaged_lines(
    raw: BinaryIO,
    compression: str,
    chunk: int = READ_CHUNK,
    max_window: int = SHARD_MAX_WINDOW,
) -> list[DamagedLines]:
    """The lines of the decompressed content that damaged gzip members / zstd frames touch,
    in one streaming pass (nothing is held but a chunk).

    A member whose checksum fails (gzip CRC-32 and length; zstd content checksum, when the
    frame has one) covers its own lines; a member that does not decode covers its lines and
    everything after it (the stream cannot be followed past it). A stream that merely ends
    inside its last member is not listed: its bytes are a prefix of the content, and the
    reader reports the cut line as `corrupt_file`.
    """
    if compression == "none":
        return []
    items = (
        _iter_gzip(raw, chunk, markers=True, skip_bad=True)
        if compression == "gzip"
        else _iter_zstd(raw, chunk, True, True, max_window)
    )
    found: list[DamagedLines] = []
    newlines = 0  # in the content so far
    first = 1  # line of the current member's first byte
    ends_line = True  # the content so far ends with a newline (or is empty)
    try:
        for item in items:
            if type(item) is MemberEnd:
                if item.bad is not None:
                    last = newlines if ends_line else newlines + 1
                    if last >= first:
                        found.append(DamagedLines(first, last, item.bad))
                first = newlines + 1
                continue
            newlines += item.count(b"\n")  # type: ignore[union-attr]
            ends_line = item.endswith(b"\n")  # type: ignore[union-attr]
    except TruncatedInput as exc:
        if not exc.cut:
            found.append(DamagedLines(first, None, str(exc)))
    return found


class _Pull:
    """Compressed bytes, read on demand, with the offset of the first unconsumed one. Taking
    bytes moves a position instead of copying what is left, so a stream of many tiny members
    costs what its bytes cost."""

    def __init__(self, raw: BinaryIO, chunk: int) -> None:
        self.raw = raw
        self.chunk = chunk
        self._buf = b""
        self._pos = 0
        self.offset = 0

    def available(self) -> int:
        return len(self._buf) - self._pos

    def fill(self, n: int) -> bool:
        """Make at least `n` bytes available if the stream has them."""
        while self.available() < n:
            data = self.raw.read(max(self.chunk, n - self.available()))
            if not data:
                return False
            self._buf = self._buf[self._pos :] + data
            self._pos = 0
        return True

    def peek(self, n: int, start: int = 0) -> bytes:
        return self._buf[self._pos + start : self._pos + start + n]

    def find(self, sub: bytes, start: int) -> int:
        at = self._buf.find(sub, self._pos + start)
        return at - self._pos if at >= 0 else -1

    def take(self, n: int) -> bytes:
        out = self._buf[self._pos : self._pos + n]
        self._pos += len(out)
        self.offset += len(out)
        return out

    def give_back(self, n: int) -> None:
        """Un-take the last `n` bytes taken (still in the buffer)."""
        self._pos -= n
        self.offset -= n

    def skip_zeros(self) -> None:
        """Pass zero bytes (padding after the last gzip member)."""
        while self.fill(1) and self._buf[self._pos] == 0:
            rest = self._buf[self._pos :]
            self.take(len(rest) - len(rest.lstrip(b"\x00")))


_FIRST_FEED: Final = 4096  # bytes first given to a member's inflater (then doubled)


def _iter_gzip(raw: BinaryIO, chunk: int, markers: bool, skip_bad: bool) -> Iterator[object]:
    """gzip members one after the other (RFC 1952), each inflated and checked (CRC-32, length).

    Zero bytes after a member are padding only at the very end of the file (GNU gzip skips
    them there); a member after them is damage: gzip -dc and zlib stop at the zeros, so
    readers would differ on the content. Zeros before the first member are not gzip."""
    src = _Pull(raw, chunk)
    member = 0
    while True:
        if member:
            padding = src.offset
            src.skip_zeros()
            if not src.fill(1):
                return
            if src.offset != padding:
                raise TruncatedInput(
                    "gzip",
                    padding,
                    f"{src.offset - padding} zero bytes before member {member}: zero padding "
                    "is allowed only at the end of the file (gzip -dc and zlib stop at it)",
                )
        elif not src.fill(1):
            return
        start = src.offset
        _gzip_header(src, member)
        inflater = zlib.decompressobj(-15)
        crc = 0
        size = 0
        feed = _FIRST_FEED  # what follows a small member is copied back, so feed little first
        while not inflater.eof:
            if not src.fill(1):
                raise TruncatedInput("gzip", src.offset, "stream ended inside a member", True)
            data = src.take(min(feed, src.available()))
            feed = min(feed * 2, chunk)
            while data:
                try:
                    out = inflater.decompress(data, chunk)
                except zlib.error as exc:
                    raise TruncatedInput("gzip", start, f"member {member}: {exc}") from exc
                data = inflater.unconsumed_tail
                if out:
                    crc = zlib.crc32(out, crc)
                    size += len(out)
                    yield out
                if inflater.eof:
                    break
        src.give_back(len(inflater.unused_data))  # the bytes after the member
        if not src.fill(8):
            raise TruncatedInput("gzip", src.offset, "stream ended inside a member trailer", True)
        want_crc, want_size = struct.unpack("<II", src.take(8))
        bad = None
        if want_crc != crc or want_size != size & 0xFFFFFFFF:
            bad = (
                f"gzip member {member} at compressed offset {start} failed its check "
                f"(CRC-32 {crc:08x}, stored {want_crc:08x}; length {size}, stored {want_size})"
            )
            if not skip_bad:
                raise TruncatedInput("gzip", start, bad)
        if markers:
            yield MemberEnd(member, start, bad)
        member += 1


_MAX_HEADER: Final = 1 << 20
_RESERVED_FLAGS: Final = 0xE0  # FLG bits 5-7 (RFC 1952 2.3.1.2)


def _gzip_header(src: _Pull, member: int) -> None:
    """Consume one member header; TruncatedInput if it is not one."""
    at = src.offset
    if not src.fill(10):
        raise TruncatedInput("gzip", at, "stream ended inside a member header", True)
    head = src.peek(10)
    if head[:2] != GZIP_MAGIC or head[2] != 8:
        what = "not a gzip member" if member else "not a gzip file"
        raise TruncatedInput("gzip", at, f"{what} (bytes {head[:3].hex()})")
    flags = head[3]
    if flags & _RESERVED_FLAGS:
        raise TruncatedInput(
            "gzip",
            at,
            f"member {member}: reserved header flag bits set (FLG {flags:#04x}); RFC 1952 "
            "2.3.1.2 requires a reader to refuse them",
        )
    n = 10
    if flags & 4:  # FEXTRA
        if not src.fill(n + 2):
            raise TruncatedInput("gzip", at, "stream ended inside a member header", True)
        n += 2 + int.from_bytes(src.peek(2, n), "little")
    for flag in (8, 16):  # FNAME, FCOMMENT: zero-terminated
        if flags & flag:
            while (end := src.find(b"\x00", n)) < 0:
                if src.available() > _MAX_HEADER:  # a hostile header is not buffered whole
                    raise TruncatedInput(
                        "gzip", at, f"member header longer than {_MAX_HEADER} bytes"
                    )
                if not src.fill(src.available() + 1):
                    raise TruncatedInput("gzip", at, "stream ended inside a member header", True)
            n = end + 1
    if flags & 2:  # FHCRC: the low 16 bits of the CRC-32 of the header bytes before it
        if not src.fill(n + 2):
            raise TruncatedInput("gzip", at, "stream ended inside a member header", True)
        want = int.from_bytes(src.peek(2, n), "little")
        got = zlib.crc32(src.peek(n)) & 0xFFFF
        if want != got:
            raise TruncatedInput(
                "gzip",
                at,
                f"member {member}: header CRC16 {want:04x} does not match its header "
                f"(computed {got:04x})",
            )
        n += 2
    if not src.fill(n):
        raise TruncatedInput("gzip", at, "stream ended inside a member header", True)
    src.take(n)


# Compressed bytes handed to the zstd decompressor per call. A zstd block yields at most
# 128 KiB and costs at least 4 bytes, so one call yields at most 4 MiB whatever the input (a
# decompression bomb included). The slicing costs about 0.3 s per GB decompressed.
_ZSTD_FEED: Final = 128
_NO_END: Final = 1 << 62  # no checksum ahead to stop the feed at


def _iter_zstd(
    raw: BinaryIO, chunk: int, markers: bool, skip_bad: bool, max_window: int
) -> Iterator[object]:
    """zstd frames one after the other, each decoded and, when it has a content checksum,
    checked. With `skip_bad`, `FrameScanner` reads the frame boundaries ahead of the decoder: a
    frame's content and its checksum are fed apart, so the whole content is yielded before the
    check, and a frame that fails it is passed to go on with the next one. Without it (shards,
    verify) the first error ends the stream and no scanning is paid for."""
    dctx = zstandard.ZstdDecompressor(max_window_size=max_window)
    dobj = dctx.decompressobj()
    frames = FrameScanner() if skip_bad else None
    current: FrameEnd | None = None  # the frame being decoded, once the scanner has its end
    feed_to = _NO_END  # compressed offset the current piece may not pass (its checksum)
    offset = 0  # compressed bytes fully handed to the decompressor
    frame = 0
    frame_start = 0
    in_frame = False
    pending: list[bytes] = []  # small outputs gathered into chunks of about `chunk`
    pending_len = 0
    while data := raw.read(chunk):
        if frames is not None:
            frames.feed(data)
            current = None
        base = offset  # compressed offset of data[0]
        view = memoryview(data)
        pos = 0
        while pos < len(view):
            if frames is not None and (current is None or offset >= min(feed_to, current.end)):
                current, feed_to = _current_frame(frames, offset)
            piece = view[pos : min(pos + _ZSTD_FEED, feed_to - base)]
            try:
                out = dobj.decompress(piece)
            except zstandard.ZstdError as exc:
                if pending:
                    yield b"".join(pending)
                    pending = []
                    pending_len = 0
                start = frame_start if in_frame else offset
                where = f"frame {frame} at compressed offset {start}"
                head = bytes(view[start - base : start - base + 18]) if start >= base else b""
                if refused := window_refusal(str(exc), head, max_window):
                    raise TruncatedInput(
                        "zstd", start, f"{where}: {refused}", damaged=False
                    ) from exc
                if not skip_bad or not _failed_checksum(exc, current, offset):
                    raise TruncatedInput("zstd", offset, f"{where}: {exc}") from exc
                bad = f"zstd {where} failed its content checksum ({exc})"
                if markers:
                    yield MemberEnd(frame, start, bad)
                dobj = dctx.decompressobj()
                in_frame = False
                frame += 1
                pos += current.end - offset  # type: ignore[union-attr]
                offset = current.end  # type: ignore[union-attr]
                continue
            if not in_frame:
                frame_start = offset
            in_frame = True
            ended = dobj.eof
            if ended:
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
            if pending and (pending_len >= chunk or (ended and markers)):
                yield b"".join(pending)
                pending = []
                pending_len = 0
            if ended:
                if markers:
                    yield MemberEnd(frame, frame_start, None)
                frame += 1
    if pending:
        yield b"".join(pending)
    if in_frame:
        raise TruncatedInput("zstd", offset, "stream ended inside a frame", True)


def _current_frame(frames: FrameScanner, offset: int) -> tuple[FrameEnd | None, int]:
    """The frame `offset` is in, if the scanner has read its end, and the offset the decoder
    is fed up to before its checksum (the content, then the checksum, in separate calls)."""
    while frames.frames and frames.frames[0].end <= offset:
        frames.frames.popleft()
    current = frames.frames[0] if frames.frames else None
    if current is None or current.checksum is None or current.checksum <= offset:
        return current, _NO_END
    return current, current.checksum


def _failed_checksum(exc: zstandard.ZstdError, frame: FrameEnd | None, offset: int) -> bool:
    """The decoder stopped at `offset` on a content checksum that does not match (the frame
    decoded whole; the scanner knows where it ends), not on bytes that do not decode."""
    return (
        "checksum" in str(exc)
        and frame is not None
        and frame.checksum is not None
        and frame.checksum <= offset < frame.end
    )


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
