"""What a Parquet file's footer says that polars does not: read by hand, without pyarrow.

Two things polars 2.1 reads without a word, which the reader must not write altered:
- a map that repeats a key: polars builds its Map keeping the last value of a repeated key;
- a duration in seconds: polars holds milliseconds at the finest coarse unit and multiplies
  on read, wrapping around past 64 bits (2**62 s reads as 0 ms, 2**63 - 1 s as -1 s).
And one it cannot read at all, and panics on: a list_view column.

So the footer is read here: the row groups' column chunks (Thrift compact protocol: each
leaf's value count and min/max statistics) and the Arrow schema writers such as pyarrow store
in it (`ARROW:schema`, a flatbuffer: the Arrow types polars turns into others). Only the
fields needed are kept; anything unexpected makes a function return None, and the caller
then reads the file as polars does.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from jsonl_assets.core.store.base import StorePath, store_for

_MAGIC: Final = b"PAR1"
MAX_FOOTER: Final = 64 << 20
# Arrow `Type` union members (Schema.fbs) this module looks at.
ARROW_DURATION: Final = 18
ARROW_LIST_VIEWS: Final = {25: "list_view", 26: "large_list_view"}
_SECOND: Final = 0  # Arrow TimeUnit.SECOND


@dataclass(frozen=True, slots=True)
class Chunk:
    """One leaf column of one row group: its path, value count (one per level entry: nulls
    and empty lists count one) and min/max statistics as stored (None when absent)."""

    path: tuple[str, ...]
    num_values: int
    min: bytes | None
    max: bytes | None


@dataclass(frozen=True, slots=True)
class RowGroup:
    num_rows: int
    chunks: tuple[Chunk, ...]


@dataclass(frozen=True, slots=True)
class ArrowLeaf:
    """A leaf of a top-level column in the Arrow schema: its column, its index among that
    column's leaves (the Parquet leaves are in the same order), its Arrow type id and, for
    a duration, its unit."""

    column: str
    index: int
    type_id: int
    unit: int | None


def footer(path: StorePath) -> bytes | None:
    """The Thrift bytes of the file's footer, or None (not Parquet, encrypted, damaged)."""
    store = store_for(path)
    stat = store.stat(path)
    if stat is None or stat.size < 12:
        return None
    with store.open_read(path, stat.size - 8) as handle:
        tail = handle.read(8)
    size = int.from_bytes(tail[:4], "little")
    if tail[4:] != _MAGIC or not 0 < size <= min(MAX_FOOTER, stat.size - 12):
        return None
    with store.open_read(path, stat.size - 8 - size, stat.size - 8) as handle:
        return handle.read()


def row_groups(data: bytes) -> list[RowGroup] | None:
    """The row groups of a footer's FileMetaData, or None when it cannot be parsed."""
    try:
        meta = _Thrift(data).struct()
        groups = []
        for group in meta.get(4, []):
            chunks = []
            for chunk in group.get(1, []):
                col = chunk[3]
                stats = col.get(12, {})
                chunks.append(
                    Chunk(
                        path=tuple(p.decode("utf-8", "surrogateescape") for p in col[3]),
                        num_values=col[5],
                        min=stats.get(6, stats.get(2)),
                        max=stats.get(5, stats.get(1)),
                    )
                )
            groups.append(RowGroup(num_rows=group[3], chunks=tuple(chunks)))
    except (IndexError, KeyError, TypeError, ValueError, AttributeError, struct.error):
        return None
    return groups


def arrow_leaves(encoded: str) -> list[ArrowLeaf] | None:
    """The leaves of the Arrow schema stored as `ARROW:schema` (base64 of an IPC Schema
    message), or None when it cannot be parsed."""
    try:
        buf = base64.b64decode(encoded)
        if buf[:4] == b"\xff\xff\xff\xff":  # the IPC continuation marker
            buf = buf[4:]
        size = int.from_bytes(buf[:4], "little")
        fb = _Flat(buf[4 : 4 + size])
        message = fb.root()
        if fb.scalar(message, 1, "B", 0) != 1:  # MessageHeader.Schema
            return None
        schema = fb.table(message, 2)
        leaves: list[ArrowLeaf] = []
        for field in fb.tables(schema, 1):
            column = fb.string(field, 0)
            for i, (type_id, unit) in enumerate(_leaf_types(fb, field)):
                leaves.append(ArrowLeaf(column, i, type_id, unit))
    except (IndexError, TypeError, ValueError, UnicodeDecodeError, struct.error):
        return None
    return leaves


def _leaf_types(fb: _Flat, field: int) -> Iterator[tuple[int, int | None]]:
    """Depth first, the type id (and duration unit) of each leaf under `field`."""
    type_id = fb.scalar(field, 2, "B", 0)
    children = fb.tables(field, 5)
    if not children or type_id in ARROW_LIST_VIEWS:
        unit = None
        if type_id == ARROW_DURATION:
            unit = fb.scalar(fb.table(field, 3), 0, "h", 1)
        yield type_id, unit
        return
    for child in children:
        yield from _leaf_types(fb, child)


def seconds(unit: int | None) -> bool:
    return unit == _SECOND


class _Thrift:
    """A reader of the Thrift compact protocol: structs as {field id: value}."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def byte(self) -> int:
        b = self.data[self.pos]
        self.pos += 1
        return b

    def varint(self) -> int:
        shift = result = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7

    def zigzag(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def value(self, kind: int) -> Any:
        if kind in (1, 2):
            return kind == 1
        if kind == 3:
            return self.byte()
        if kind in (4, 5, 6):
            return self.zigzag()
        if kind == 7:
            self.pos += 8
            return struct.unpack_from("<d", self.data, self.pos - 8)[0]
        if kind == 8:
            n = self.varint()
            self.pos += n
            if self.pos > len(self.data):
                raise ValueError("binary past the end")
            return self.data[self.pos - n : self.pos]
        if kind in (9, 10):
            head = self.byte()
            n = head >> 4 if head >> 4 != 15 else self.varint()
            inner = head & 0x0F
            if inner in (1, 2):  # booleans in a list are one byte each
                return [self.byte() == 1 for _ in range(n)]
            return [self.value(inner) for _ in range(n)]
        if kind == 11:
            n = self.varint()
            kinds = self.byte() if n else 0
            return {self.value(kinds >> 4): self.value(kinds & 0x0F) for _ in range(n)}
        if kind == 12:
            return self.struct()
        raise ValueError(f"unknown Thrift type {kind}")

    def struct(self) -> dict[int, Any]:
        fields: dict[int, Any] = {}
        last = 0
        while (head := self.byte()) != 0:
            delta, kind = head >> 4, head & 0x0F
            last = last + delta if delta else self.zigzag()
            fields[last] = self.value(kind)
        return fields


class _Flat:
    """A reader of flatbuffer tables (offsets as the flatbuffers format defines them)."""

    def __init__(self, buf: bytes) -> None:
        self.buf = buf

    def _u32(self, pos: int) -> int:
        return int(struct.unpack_from("<I", self.buf, pos)[0])

    def root(self) -> int:
        return self._u32(0)

    def _slot(self, table: int, slot: int) -> int | None:
        vtable = table - struct.unpack_from("<i", self.buf, table)[0]
        at = 4 + 2 * slot
        if at >= struct.unpack_from("<H", self.buf, vtable)[0]:
            return None
        offset = struct.unpack_from("<H", self.buf, vtable + at)[0]
        return table + offset if offset else None

    def scalar(self, table: int, slot: int, fmt: str, default: int) -> int:
        pos = self._slot(table, slot)
        return default if pos is None else int(struct.unpack_from("<" + fmt, self.buf, pos)[0])

    def table(self, table: int, slot: int) -> int:
        pos = self._slot(table, slot)
        if pos is None:
            raise ValueError("missing table")
        return pos + self._u32(pos)

    def string(self, table: int, slot: int) -> str:
        start = self.table(table, slot)
        return self.buf[start + 4 : start + 4 + self._u32(start)].decode("utf-8")

    def tables(self, table: int, slot: int) -> list[int]:
        pos = self._slot(table, slot)
        if pos is None:
            return []
        vector = pos + self._u32(pos)
        items = (vector + 4 + 4 * i for i in range(self._u32(vector)))
        return [item + self._u32(item) for item in items]
