"""zstd frame boundaries read from the frame and block headers (RFC 8878 3.1), ahead of the
decoder: where each frame's content checksum starts and where the frame ends.

The decoder says a frame failed its checksum only by an error, after which it cannot go on
and does not say how much it read. Knowing the boundaries lets the reader feed a frame's
content and its checksum separately (so the whole content is decoded before the check) and
go on with the next frame when the check fails, as with a gzip member whose CRC-32 fails.
Nothing is decoded here: headers are a few bytes, the blocks between them are skipped.
"""

from __future__ import annotations

from collections import deque
from typing import Final, NamedTuple

ZSTD_MAGIC: Final = b"\x28\xb5\x2f\xfd"

_DICT_ID_BYTES: Final = (0, 1, 2, 4)
_CONTENT_SIZE_BYTES: Final = (0, 2, 4, 8)  # flag 0 is 1 byte in a single-segment frame
_RLE_BLOCK: Final = 1
_RESERVED_BLOCK: Final = 3
_CHECKSUM_BYTES: Final = 4


def is_skippable_frame(head: bytes) -> bool:
    """A zstd skippable frame (magic 0x184D2A50-0x184D2A5F, little-endian) starts `head`."""
    return len(head) >= 4 and head[0] & 0xF0 == 0x50 and head[1:4] == b"\x2a\x4d\x18"


class FrameEnd(NamedTuple):
    """Compressed offsets of one frame: its checksum's first byte (None: it has none), its end."""

    checksum: int | None
    end: int


class FrameScanner:
    """Fed the compressed bytes in order (`feed`), lists the frames whose last block header
    has been read (`frames`, oldest first; the caller drops those it has passed). Stops at
    bytes that are no frame (`broken`): the decoder fails there too."""

    def __init__(self) -> None:
        self.frames: deque[FrameEnd] = deque()
        self.broken = False
        self._offset = 0  # compressed offset of the next byte fed
        self._head = b""  # header bytes gathered so far
        self._need = 4  # header bytes wanted before `_parse`
        self._in_block = False  # `_head` is a block header (else a frame header)
        self._checksum = False  # the current frame has a content checksum
        self._skip = 0  # bytes to pass before the next header

    def feed(self, data: bytes) -> None:
        pos = 0
        while pos < len(data) and not self.broken:
            if self._skip:
                step = min(self._skip, len(data) - pos)
                self._skip -= step
                pos += step
                self._offset += step
                continue
            step = min(self._need - len(self._head), len(data) - pos)
            self._head += data[pos : pos + step]
            pos += step
            self._offset += step
            if len(self._head) == self._need:
                self._parse()

    def _parse(self) -> None:
        head = self._head
        if self._in_block:
            word = int.from_bytes(head, "little")
            kind = word >> 1 & 3
            if kind == _RESERVED_BLOCK:
                self.broken = True
                return
            self._next_header(4 if word & 1 else 3, block=not word & 1)
            self._skip = 1 if kind == _RLE_BLOCK else word >> 3
            if word & 1:  # the frame's last block
                content_end = self._offset + self._skip
                checksum = _CHECKSUM_BYTES if self._checksum else 0
                self.frames.append(
                    FrameEnd(content_end if checksum else None, content_end + checksum)
                )
                self._skip += checksum
        elif head[:4] == ZSTD_MAGIC:
            if len(head) == 4:
                self._need = 5
                return
            descriptor = head[4]
            single = descriptor >> 5 & 1
            size = (
                5
                + (1 - single)
                + _DICT_ID_BYTES[descriptor & 3]
                + (_CONTENT_SIZE_BYTES[descriptor >> 6] or single)
            )
            if len(head) < size:
                self._need = size
                return
            self._checksum = bool(descriptor & 4)
            self._next_header(3, block=True)
        elif is_skippable_frame(head):
            if len(head) == 4:
                self._need = 8
                return
            self._skip = int.from_bytes(head[4:8], "little")
            self.frames.append(FrameEnd(None, self._offset + self._skip))
            self._next_header(4, block=False)
        else:
            self.broken = True

    def _next_header(self, need: int, block: bool) -> None:
        self._head = b""
        self._need = need
        self._in_block = block


def declared_window(head: bytes) -> int | None:
    """The window a frame header (`head`, from the frame's first byte) declares, in bytes
    (RFC 8878 3.1.1.1.2; a single-segment frame's window is its content size); None when
    `head` does not hold it."""
    if len(head) < 6 or head[:4] != ZSTD_MAGIC:
        return None
    descriptor = head[4]
    if not descriptor >> 5 & 1:
        exponent, mantissa = head[5] >> 3, head[5] & 7
        base = 1 << (10 + exponent)
        return base + (base >> 3) * mantissa
    n = _CONTENT_SIZE_BYTES[descriptor >> 6] or 1
    at = 5 + _DICT_ID_BYTES[descriptor & 3]
    if len(head) < at + n:
        return None
    size = int.from_bytes(head[at : at + n], "little")
    return size + 256 if n == 2 else size


def window_refusal(error: str, head: bytes, limit: int) -> str | None:
    """Why the decoder refused a frame whose window is over `limit` (zstd says "Frame requires
    too much memory"), in words that say so; None for any other error. The frame is not
    damaged: it asks for more memory than the reader allows (`zstd -d` refuses it too without
    `--long`/`--memory`)."""
    if "too much memory" not in error:
        return None
    window = declared_window(head)
    size = f" of {_mib(window)}" if window else ""
    return (
        f"the frame declares a window{size}, over the {_mib(limit)} this reader allows "
        f"(`zstd --long={limit.bit_length() - 1}`): not damage, but a window too large to "
        "decode in bounded memory; recompress it with a smaller window (a lower --long)"
    )


def _mib(n: int) -> str:
    return f"{n / (1 << 20):g} MiB ({n} bytes)"
