"""The rows of a Parquet file whose footer is damaged (parquet_footer.py), read without
letting polars' reader near it.

The intact row groups are decoded by pyarrow, only they (`arrow_batches(groups=...)`), and
get the conversions and checks every row gets (parquet.py); each row of a damaged row group
is `corrupt_file`, unread, counted by what its columns prove. A file `num_rows` other than
the sum of its row groups' is told once, after the last row (`corrupt_file`): the rows are
those the row groups hold, none invented. Should pyarrow not match polars' types (it then
hands no batch), the stretch is read by a polars slice; rows it fails on or leaves out are
`corrupt_file`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from jsonl_assets.core.readers.parquet import (
    _POLARS_ERRORS,
    ShortRead,
    _converted,
    _corrupt_row,
    _Count,
    _emit,
)
from jsonl_assets.core.readers.parquet_decode import arrow_batches
from jsonl_assets.core.readers.parquet_values import has_float
from jsonl_assets.core.traces import Rejection

if TYPE_CHECKING:
    from pathlib import Path

    import polars as pl

    from jsonl_assets.core.readers.base import ReadItem
    from jsonl_assets.core.readers.parquet_checks import Inspection
    from jsonl_assets.core.readers.parquet_footer import Footer


class DamagedFooter(Exception):
    """A row group the footer describes wrongly (parquet_footer.py)."""


def read_intact(
    path: Path,
    footer: Footer,
    scans: tuple[tuple[pl.LazyFrame, str | None], pl.Schema],
    batch_rows: int,
    limit: int,
    seen: Inspection,
) -> Iterator[ReadItem]:
    """The rows of `footer`'s row groups in order: intact ones read, damaged ones
    quarantined; `scans`: the file's converted frame with its flag column, and its schema."""
    (frame, flag), schema = scans
    floats = any(has_float(t) for t in frame.collect_schema().values())
    done = _Count()
    claimed = 0  # where polars' reader (the footer's counts) places the next row group
    groups = footer.groups
    i = 0
    while i < len(groups):
        if (why := groups[i].why) is not None:
            first, rows = done.n, groups[i].rows
            for _ in range(rows):
                done.n += 1
                yield _corrupt_row(done.n, first + 1, first + rows, DamagedFooter(why))
            claimed += groups[i].claimed
            i += 1
            continue
        j = i
        while j < len(groups) and groups[j].why is None:
            j += 1
        rows = sum(g.rows for g in groups[i:j])
        first, end = done.n, done.n + rows
        pieces = arrow_batches(path, batch_rows, schema, groups=list(range(i, j)))
        error: BaseException = ShortRead(f"row groups {i}-{j - 1} gave fewer rows than they hold")
        try:
            if pieces is None:
                fast = frame.slice(claimed, rows).collect_batches(
                    chunk_size=batch_rows, maintain_order=True
                )
                yield from _emit(fast, done, limit, floats, flag, seen)
            else:
                converted = (piece for raw in pieces for piece in _converted(raw))
                yield from _emit(converted, done, limit, floats, flag, seen)
        except _POLARS_ERRORS as exc:
            error = exc
        bad_from = done.n
        while done.n < end:
            done.n += 1
            yield _corrupt_row(done.n, bad_from + 1, end, error)
        done.n = max(done.n, first)
        claimed += sum(g.claimed for g in groups[i:j])
        i = j
    if footer.claimed != footer.total:
        missing = footer.claimed - footer.total
        rest = (
            f"the {missing} rows it counts beyond them cannot be found"
            if missing > 0
            else "every row of them was read"
        )
        yield Rejection(
            position=done.n + 1,
            reason="corrupt_file",
            detail=f"the Parquet footer gives the file {footer.claimed} rows, but its row "
            f"groups hold {footer.total}: {rest} (a damaged footer)",
        )
