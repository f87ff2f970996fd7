"""A Parquet footer as a Thrift compact-protocol struct (field id -> [type, value]), to damage
it field by field in tests (FileMetaData: 3 num_rows, 4 row_groups; RowGroup: 1 columns,
3 num_rows; ColumnChunk: 3 meta_data; ColumnMetaData: 5 num_values, 7 total_compressed_size,
9 data_page_offset, 11 dictionary_page_offset)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

Struct = dict[int, list[Any]]


def load(path: Path) -> tuple[bytes, Struct]:
    """The bytes before the footer, and the footer."""
    data = path.read_bytes()
    size = int.from_bytes(data[-8:-4], "little")
    meta, _ = _read_struct(data, len(data) - 8 - size)
    return data[: len(data) - 8 - size], meta


def save(path: Path, body: bytes, meta: Struct) -> None:
    footer = _write_struct(meta)
    path.write_bytes(body + footer + len(footer).to_bytes(4, "little") + b"PAR1")


def row_groups(meta: Struct) -> list[Struct]:
    return meta[4][1][1]


def chunk_meta(group: Struct, column: int) -> Struct:
    return group[1][1][1][column][3][1]


def _uvarint(b: bytes, i: int) -> tuple[int, int]:
    r = s = 0
    while True:
        x = b[i]
        i += 1
        r |= (x & 0x7F) << s
        s += 7
        if not x & 0x80:
            return r, i


def _enc_uv(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _read_val(b: bytes, i: int, t: int) -> tuple[Any, int]:
    if t in (1, 2):
        return t == 1, i
    if t == 3:
        return b[i], i + 1
    if t in (4, 5, 6):
        v, i = _uvarint(b, i)
        return (v >> 1) ^ -(v & 1), i
    if t == 7:
        return b[i : i + 8], i + 8
    if t == 8:
        n, i = _uvarint(b, i)
        return bytes(b[i : i + n]), i + n
    if t in (9, 10):
        h = b[i]
        i += 1
        n, et = h >> 4, h & 15
        if n == 15:
            n, i = _uvarint(b, i)
        out = []
        for _ in range(n):
            if et in (1, 2):
                v, i = b[i] == 1, i + 1
            else:
                v, i = _read_val(b, i, et)
            out.append(v)
        return (et, out), i
    if t == 12:
        return _read_struct(b, i)
    raise ValueError(t)


def _read_struct(b: bytes, i: int) -> tuple[Struct, int]:
    fields: Struct = {}
    last = 0
    while True:
        h = b[i]
        i += 1
        if h == 0:
            return fields, i
        t, d = h & 15, h >> 4
        if d:
            fid = last + d
        else:
            v, i = _uvarint(b, i)
            fid = (v >> 1) ^ -(v & 1)
        last = fid
        v, i = _read_val(b, i, t)
        fields[fid] = [t, v]


def _write_val(t: int, v: Any) -> bytes:
    if t == 3:
        return bytes([v])
    if t in (4, 5, 6):
        return _enc_uv((v << 1) ^ (v >> 63))
    if t == 7:
        return v
    if t == 8:
        return _enc_uv(len(v)) + v
    if t in (9, 10):
        et, items = v
        n = len(items)
        out = bytes([(n << 4) | et]) if n < 15 else bytes([0xF0 | et]) + _enc_uv(n)
        for x in items:
            out += bytes([1 if x else 2]) if et in (1, 2) else _write_val(et, x)
        return out
    return _write_struct(v)


def _write_struct(fields: Struct) -> bytes:
    out = bytearray()
    last = 0
    for fid in sorted(fields):
        t, v = fields[fid]
        if t in (1, 2):
            t = 1 if v else 2
        d = fid - last
        out += (
            bytes([(d << 4) | t]) if 0 < d <= 15 else bytes([t]) + _enc_uv((fid << 1) ^ (fid >> 63))
        )
        last = fid
        if t not in (1, 2):
            out += _write_val(t, v)
    out.append(0)
    return bytes(out)
