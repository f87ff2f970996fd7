"""The first bytes of a stream, read before its records (the CSV reader's sniffing, the BOM
checks of the text, JSONL and JSON array readers), without losing what follows them.

A damaged gzip/zstd stream raises `TruncatedInput` after yielding every byte it decoded. Read
for a head, such an error would come up before any record was parsed, and the complete records
of a small file cut short would all be lost (the whole file one `corrupt_file` at its start).
`read_head` keeps the error and raises it from the rest of the stream, after the head, so the
reader meets it where it falls: after every complete record before the cut.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class StreamHead:
    """`data`: at least the size asked for from the front of the stream (all of it if shorter,
    or all that came before an error); `rest`: the chunks after it, raising that error first."""

    data: bytes
    rest: Iterator[bytes]
    broken: bool  # the stream raised an error while the head was read (raised by `rest`)

    def stream(self, skip: int = 0) -> Iterator[bytes]:
        """The whole stream again, its first `skip` bytes (a BOM) left out; closing it closes
        the rest (a source's chunks release their file)."""
        return _Joined(self.data[skip:], self.rest)


class _Joined:
    """`head`, then `rest`; `close()` closes `rest` even before the first read."""

    def __init__(self, head: bytes, rest: Iterator[bytes]) -> None:
        self._head = head
        self._rest = rest

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self._head:
            head, self._head = self._head, b""
            return head
        return next(self._rest)

    def close(self) -> None:
        self._head = b""
        close = getattr(self._rest, "close", None)
        if close is not None:
            close()


def read_head(chunks: Iterator[bytes], size: int) -> StreamHead:
    """At least `size` bytes from the front of `chunks`; an error raised on the way is deferred
    to the rest of the stream (see the module doc)."""
    parts: list[bytes] = []
    got = 0
    try:
        while got < size:
            chunk = next(chunks, None)
            if chunk is None:
                break
            parts.append(chunk)
            got += len(chunk)
    except Exception as exc:  # a damaged stream (TruncatedInput): raised after the head
        return StreamHead(b"".join(parts), _raising(exc), broken=True)
    return StreamHead(b"".join(parts), chunks, broken=False)


def _raising(exc: Exception) -> Iterator[bytes]:
    raise exc
    yield b""  # pragma: no cover - makes this a generator: raised when first read
