"""Row groups a Parquet footer places past the end of the file's data, found before any
row is read.

A file cut and given its footer again (a partial copy, a writer that died and a tool that
"repaired" it) has a footer whose column chunks reach past the bytes the file holds. polars
panics in its async executor when asked to read one ("assertion failed: range.end as u64 <=
self.size", a Rust panic block on stderr per probe; a whole backtrace with
`RUST_BACKTRACE=1`), so the reader never asks: the rows of such a row group are quarantined
as `corrupt_file` from the footer alone (parquet.py), and the other row groups are read.
"""

from __future__ import annotations

import os
from typing import Final

import pyarrow as pa
import pyarrow.parquet as pq

from jsonl_assets.core.store.base import StorePath, store_for

_TAIL: Final = 8  # footer length (4 bytes, little-endian) and the magic `PAR1`


def out_of_bounds(path: StorePath) -> list[tuple[int, int, str]]:
    """The row ranges (first row, end row, 0-based, end excluded) of the row groups whose
    column chunks reach past the file's data (the bytes before its footer), each with why;
    merged when adjacent. Empty when the footer cannot be read (polars finds that) or every
    row group lies within the file."""
    try:
        with store_for(path).open_read(path) as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(size - _TAIL)
            tail = handle.read(_TAIL)
            handle.seek(0)
            meta = pq.ParquetFile(handle).metadata
    except (pa.ArrowException, OSError, ValueError):  # an unreadable footer: polars says why
        return []
    data_end = size - _TAIL - int.from_bytes(tail[:4], "little")
    ranges: list[tuple[int, int, str]] = []
    first = 0
    for i in range(meta.num_row_groups):
        group = meta.row_group(i)
        end = first + group.num_rows
        reach = max((_chunk_end(group.column(c)) for c in range(group.num_columns)), default=0)
        if reach > data_end and group.num_rows:
            why = (
                f"the footer places row group {i} at bytes up to {reach}, past the end of the "
                f"file's data at byte {data_end} (a cut or partly copied file)"
            )
            if ranges and ranges[-1][1] == first:
                ranges[-1] = (ranges[-1][0], end, ranges[-1][2])
            else:
                ranges.append((first, end, why))
        first = end
    return ranges


def _chunk_end(chunk: pq.ColumnChunkMetaData) -> int:
    """The byte just after a column chunk (its dictionary page first, when it has one)."""
    start = chunk.data_page_offset
    if chunk.has_dictionary_page and chunk.dictionary_page_offset:
        start = min(start, chunk.dictionary_page_offset)
    return start + chunk.total_compressed_size
