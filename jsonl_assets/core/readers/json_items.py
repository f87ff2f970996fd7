"""The items of a JSON array as byte spans, found by looking only at strings (with their
escapes) and brackets; `array_at` finds an array nested under object keys the same way, and
`arrays_at` every such array (an object may repeat a key) in one pass. What is wrong inside
an item (invalid UTF-8, NaN, a bad token) does not move its ends, so the json_array reader
can reject a damaged item and read the items after it. Commas between items are counted, not
required: the reader rejects an item with other than one before it. Validity is the parser's business. Memory: one item's first
`limit` + 1 bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final

import orjson

_OUTSIDE: Final = re.compile(rb'["\[\]{},]')
_IN_STRING: Final = re.compile(rb'["\\]')
_WS: Final = b" \t\r\n"
_OPENERS: Final = frozenset(b'"[{')
_NOT_WS: Final = re.compile(rb"[^ \t\r\n]")
_STRUCTURE: Final = re.compile(rb'["\[\]{}:,]')
_KEY_CAP: Final = 1 << 16  # a longer key is kept cut: it cannot be one of the path's keys
_BEFORE, _BETWEEN, _ITEM, _AFTER = range(4)


@dataclass(frozen=True, slots=True)
class Span:
    """One item: its bytes (the first `limit` + 1 when `size` is larger); `closed` False when
    the file ends inside it; `tail` True for data after the array's `]` (not an item);
    `commas` the commas between it and the item before (one is right; none for the first)."""

    data: bytes
    size: int
    closed: bool = True
    tail: bool = False
    commas: int = 1


class _Collect:
    """The bytes of the span being read, at most `cap` of them kept, in one buffer: a span is
    added to piece by piece, a byte per bracket in deep nesting, and a list of pieces cost
    about 60 bytes of memory per byte (a bytes object and a list slot each)."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.buffer = bytearray()
        self.kept = 0
        self.size = 0

    def add(self, data: bytes) -> None:
        self.size += len(data)
        if self.kept < self.cap:
            piece = data[: self.cap - self.kept]
            self.buffer += piece
            self.kept += len(piece)

    def span(self, closed: bool = True, tail: bool = False, commas: int = 1) -> Span:
        data = bytes(self.buffer)
        self.buffer = bytearray()
        stripped = len(data) - len(data.rstrip(_WS))
        size = self.size - stripped if self.size == self.kept else self.size
        return Span(data[: len(data) - stripped], size, closed, tail, commas)


def array_spans(
    chunks: Iterator[bytes], limit: int, rest: list[bytes] | None = None
) -> Iterator[Span]:
    """The spans of the items of the array that starts the stream, then a `tail` span if
    anything but whitespace follows its `]`; an unclosed last span if the file ends first.
    With `rest`, the stream stops at the `]`: what follows it in its chunk goes to `rest`."""
    phase = _BEFORE
    depth = commas = before = 0
    in_string = escaped = False
    item = _Collect(limit + 1)
    for chunk in chunks:
        i, n = 0, len(chunk)
        while i < n:
            if phase in (_BEFORE, _BETWEEN):
                m = _NOT_WS.search(chunk, i)
                if m is None:
                    break
                j = m.start()
                if phase == _BEFORE:  # the array's `[` (the caller saw that it is one)
                    phase, i, commas = _BETWEEN, j + 1, 0
                    continue
                if chunk[j] == 0x2C:  # `,`
                    commas += 1
                    i = j + 1
                    continue
                if chunk[j] == 0x5D:  # `]`
                    phase, i = _AFTER, j + 1
                    item = _Collect(limit + 1)
                    continue
                phase, depth, i = _ITEM, 0, j
                item, before, commas = _Collect(limit + 1), commas, 0
                continue
            if phase == _AFTER:
                if rest is not None:
                    rest.append(chunk[i:])
                    return
                m = _NOT_WS.search(chunk, i) if not item.size else None
                if m is not None:
                    item.add(chunk[m.start() :])
                elif item.size:
                    item.add(chunk[i:])
                break
            if escaped:  # the escaped byte opened this chunk
                escaped = False
                item.add(chunk[i : i + 1])
                i += 1
                continue
            if in_string:
                m = _IN_STRING.search(chunk, i)
                if m is None:
                    item.add(chunk[i:])
                    break
                j = m.start()
                if chunk[j] == 0x5C:  # a backslash: the next byte is escaped
                    if j + 1 >= n:
                        escaped = True
                        item.add(chunk[i:])
                        break
                    item.add(chunk[i : j + 2])
                    i = j + 2
                    continue
                in_string = False
                item.add(chunk[i : j + 1])
                i = j + 1
                if depth == 0:  # a string item ends with its quote
                    yield item.span(commas=before)
                    phase, commas = _BETWEEN, 0
                continue
            if depth > 1 and (end := _safe_end(chunk, i, depth)) > i:
                # Deep nesting in one C-level step, not a bracket at a time.
                item.add(chunk[i:end])
                depth += chunk.count(b"[", i, end) + chunk.count(b"{", i, end)
                depth -= chunk.count(b"]", i, end) + chunk.count(b"}", i, end)
                i = end
                continue
            m = _OUTSIDE.search(chunk, i)
            if m is None:
                item.add(chunk[i:])
                break
            j = m.start()
            c = chunk[j]
            if depth == 0 and c in _OPENERS and (item.size or j > i):
                # A scalar item, then a string or container with no comma: two items.
                item.add(chunk[i:j])
                yield item.span(commas=before)
                item, before, i = _Collect(limit + 1), 0, j
                continue
            if c == 0x22:  # `"`
                in_string = True
                item.add(chunk[i : j + 1])
                i = j + 1
            elif c == 0x5B or c == 0x7B:  # `[` `{`
                depth += 1
                item.add(chunk[i : j + 1])
                i = j + 1
            elif c == 0x2C and depth == 0:  # `,` after a scalar item
                item.add(chunk[i:j])
                yield item.span(commas=before)
                phase, i, commas = _BETWEEN, j + 1, 1
            elif c == 0x5D and depth == 0:  # `]` after a scalar item: the array ends
                item.add(chunk[i:j])
                yield item.span(commas=before)
                phase, i = _AFTER, j + 1
                item = _Collect(limit + 1)
            elif c == 0x5D or c == 0x7D:  # `]` `}`
                item.add(chunk[i : j + 1])
                i = j + 1
                if depth > 0:
                    depth -= 1
                    if depth == 0:
                        yield item.span(commas=before)
                        phase = _BETWEEN
            else:  # a comma inside a container
                item.add(chunk[i : j + 1])
                i = j + 1
    if phase == _ITEM:
        yield item.span(closed=False, commas=before)
    elif phase == _AFTER and item.size:
        yield item.span(tail=True)
    elif phase == _BETWEEN:
        yield Span(b"", 0, closed=False)  # no `]`: the array never ends


def _safe_end(chunk: bytes, start: int, depth: int) -> int:
    """How far from `start` an item `depth` levels deep cannot end (a byte closes at most one
    level) and holds no string: its bytes there need no look one by one."""
    end = min(len(chunk), start + depth - 1)
    quote = chunk.find(b'"', start, end)
    return end if quote < 0 else quote


class _Chunks:
    """A stream of chunks that a reader can give back the unread end of one to."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.back: list[bytes] = []

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        return self.back.pop() if self.back else next(self.chunks)


def array_at(chunks: Iterator[bytes], keys: Sequence[str]) -> Iterator[bytes]:
    """The stream from the `[` of the first array under object keys `keys` (ijson's prefix
    `keys[0].keys[1]...`, the top-level value an object) to its end; nothing if there is
    none. What comes before it is only scanned for structure."""
    stream = _Chunks(chunks)
    for _ in _array_starts(stream, keys):
        yield from stream
        return


def arrays_at(chunks: Iterator[bytes], keys: Sequence[str], limit: int) -> Iterator[Iterator[Span]]:
    """The item spans (`array_spans`, with no tail) of every array under object keys `keys`,
    in file order: an object may repeat a key, and ijson reads every array at the path. One
    pass over the stream: after an array's `]` the scan for the next goes on from there."""
    stream = _Chunks(chunks)
    for _ in _array_starts(stream, keys):
        rest: list[bytes] = []
        spans = array_spans(stream, limit, rest)
        yield spans
        for _span in spans:  # whatever the caller left unread of this array
            pass
        stream.back.extend(rest)


def _array_starts(stream: _Chunks, keys: Sequence[str]) -> Iterator[None]:
    """Scans `stream` for structure; at the `[` of each array under `keys` it gives the bytes
    from that `[` back to `stream` and yields: the caller reads the array and gives back what
    follows its `]`, where the scan goes on (the array's own bytes are not scanned here)."""
    path: list[str | None] = []  # the key of each open object; None for an open array
    key = b""  # the last string read in an object (its key once a `:` follows)
    in_string = escaped = False
    want = list(keys)
    for chunk in stream:
        i, n = 0, len(chunk)
        while i < n:
            if in_string:
                if escaped:
                    escaped, i = False, i + 1
                    if len(key) < _KEY_CAP:
                        key += chunk[i - 1 : i]
                    continue
                m = _IN_STRING.search(chunk, i)
                end = n if m is None else m.start()
                if len(key) < _KEY_CAP:
                    key += chunk[i:end]
                if m is None:
                    break
                if chunk[end] == 0x5C:  # a backslash: the next byte is escaped
                    escaped, i = True, end + 1
                    if len(key) < _KEY_CAP:
                        key += b"\\"
                    continue
                in_string, i = False, end + 1
                continue
            m = _STRUCTURE.search(chunk, i)
            if m is None:
                break
            j, c = m.start(), chunk[m.start()]
            i = j + 1
            if c == 0x22:  # `"`: a key or a string value
                in_string, key = True, b""
            elif c == 0x3A and path and path[-1] is not None:  # `:` after a key
                path[-1] = _decoded(key)
            elif c == 0x5B and path == want:  # `[` of an array under the keys
                stream.back.append(chunk[j:])
                yield
                break  # the scan goes on after the array's `]`
            elif c == 0x5B:  # `[`
                path.append(None)
            elif c == 0x7B:  # `{`
                path.append("")
            elif c in (0x5D, 0x7D) and path:  # `]` `}`
                path.pop()


def _decoded(key: bytes) -> str:
    try:
        return str(orjson.loads(b'"' + key + b'"'))
    except orjson.JSONDecodeError:
        return ""
