"""A Parquet footer checked against itself and the file's size, before polars reads a row.

polars trusts the footer: a column chunk placed past the end of the file's data (a cut or
partly copied file given its footer again), a dictionary page offset past it (polars reads
a chunk from its dictionary offset whenever one is set), a zero-row row group placed so, or
a row group whose `num_rows` disagrees with its columns' value counts make it panic in its
async executor (a Rust panic block on stderr per attempt, thousands when probed row by row);
a negative offset, size or count makes it panic opening the footer; a file `num_rows` other
than the sum of its row groups' makes it invent or drop rows. So each footer is checked
with pyarrow's metadata (`check`): a row group failing is quarantined unread, each of its
rows `corrupt_file`, counted by what its columns' value counts prove; a footer that
contradicts itself beyond that (a negative value, a row group whose counts cannot be
proven) makes the file one `corrupt_file`. parquet.py reads a damaged file's intact row
groups with pyarrow, never polars.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Final

import pyarrow as pa
import pyarrow.parquet as pq

from jsonl_assets.core.store.base import StorePath, store_for

_TAIL: Final = 8  # footer length (4 bytes, little-endian) and the magic `PAR1`


@dataclass(frozen=True, slots=True)
class Group:
    """One row group: the rows its columns prove, the rows the footer claims, and why it
    cannot be read (None: intact)."""

    rows: int
    claimed: int
    why: str | None = None


@dataclass(frozen=True, slots=True)
class Footer:
    """What the footer check found. `fatal`: why no row of the file can be trusted."""

    claimed: int = 0  # the file's num_rows
    groups: list[Group] = field(default_factory=list)
    fatal: str | None = None

    @property
    def total(self) -> int:
        return sum(g.rows for g in self.groups)

    @property
    def damaged(self) -> bool:
        """Whether polars must not read the file (a row group or the row count is wrong)."""
        return (
            self.fatal is not None
            or self.claimed != self.total
            or any(g.why is not None or g.rows != g.claimed for g in self.groups)
        )


def check(path: StorePath) -> Footer:
    """The footer of the file at `path` checked; an intact `Footer()` (nothing found) when
    pyarrow cannot read it (polars then says why the file cannot be read)."""
    try:
        with store_for(path).open_read(path) as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(size - _TAIL)
            tail = handle.read(_TAIL)
            handle.seek(0)
            meta = pq.ParquetFile(handle).metadata
    except (pa.ArrowException, OSError, ValueError):  # an unreadable footer: polars says why
        return Footer()
    data_end = size - _TAIL - int.from_bytes(tail[:4], "little")
    if meta.num_rows < 0:
        return Footer(fatal=f"the footer gives the file {meta.num_rows} rows")
    groups: list[Group] = []
    for i in range(meta.num_row_groups):
        group = meta.row_group(i)
        if (why := _negative(group)) is not None:
            return Footer(fatal=f"row group {i}: {why}")
        rows = _proven_rows(meta, group)
        if rows is None:
            return Footer(
                fatal=f"row group {i} claims {group.num_rows} rows, which its columns' value "
                "counts contradict, and they do not agree on another count"
            )
        why = _extent_problem(group, data_end)
        if why is None and rows != group.num_rows:
            why = f"the footer gives it {group.num_rows} rows, its columns hold {rows} values each"
        groups.append(Group(rows, group.num_rows, f"row group {i}: {why}" if why else None))
    return Footer(meta.num_rows, groups)


def _negative(group: pq.RowGroupMetaData) -> str | None:
    """Why a count, offset or size of `group` is negative (polars panics opening such a
    footer), or None."""
    if group.num_rows < 0:
        return f"{group.num_rows} rows"
    for c in range(group.num_columns):
        chunk = group.column(c)
        for name in ("data_page_offset", "dictionary_page_offset", "total_compressed_size"):
            value = getattr(chunk, name)
            if value is not None and value < 0:
                return f"column chunk {chunk.path_in_schema!r} has {name} {value}"
        if chunk.num_values < 0:
            return f"column chunk {chunk.path_in_schema!r} has {chunk.num_values} values"
    return None


def _proven_rows(meta: pq.FileMetaData, group: pq.RowGroupMetaData) -> int | None:
    """The rows of `group` its columns prove: a flat column holds one value per row, a
    repeated one at least one. None when they contradict each other or `num_rows` beyond
    that."""
    flat = set()
    for c in range(group.num_columns):
        values = group.column(c).num_values
        if meta.schema.column(c).max_repetition_level == 0:
            flat.add(values)
        elif values < group.num_rows:
            return None
    if not flat:
        return group.num_rows
    return flat.pop() if len(flat) == 1 else None


def _extent_problem(group: pq.RowGroupMetaData, data_end: int) -> str | None:
    """Why a column chunk of `group` lies outside the file's data (the bytes before its
    footer), as polars reads it: from the dictionary page offset when one is set, else from
    the data page offset, `total_compressed_size` bytes; None when all lie within."""
    for c in range(group.num_columns):
        chunk = group.column(c)
        dictionary = chunk.dictionary_page_offset if chunk.has_dictionary_page else None
        start = chunk.data_page_offset if dictionary is None else dictionary
        end = start + chunk.total_compressed_size
        if end > data_end:
            return (
                f"the footer places column chunk {chunk.path_in_schema!r} at bytes "
                f"{start}-{end}, past the end of the file's data at byte {data_end} (a cut "
                "or partly copied file)"
            )
    return None
