"""Parquet rows decoded by pyarrow, batch by batch, checked before polars sees them.

Two decoders read a file's rows, and they agree on every row: pyarrow here, for a file with
a row group of more than `batch_rows` rows (memory follows the batch), and polars' own
reader for the others, a row group at a time (parquet.py). One decoder for every file was
measured and rejected: 300,000 chat-like rows in row groups of 8,192 took 1.41-1.65 s
through pyarrow's batches against 1.07-1.13 s through polars' reader, run one after the
other (decoding alone: 0.21 s by pyarrow and `pl.from_arrow` against 0.065 s by polars;
with `iter_rows`, 0.91 s against 0.66 s). So that `batch_rows` never changes the
output, polars' reader is only the fast path for rows it reads whole and without a word:
whatever it fails on (an error: invalid UTF-8 is one for polars, a whole row group) or does
not deliver (rows missing against the footer: its streaming engine ends a file quietly when
a worker thread panics) is read again here, from the first row not delivered
(`arrow_batches(..., start=)`), with the checks below; the conversions both decoders' rows
get are the same expressions (parquet_values.py), which compute on no value out of range.
Only a file pyarrow cannot open, or whose columns it would give polars with another type
than polars' reader gives, is read by polars alone (then damage is found by slices).

Each batch is validated in full (`RecordBatch.validate(full=True)`: offsets and UTF-8)
before `pl.from_arrow` sees it: pyarrow does not check that a STRING cell holds UTF-8, and
polars panics on one that does not (a Rust backtrace on stderr, "PyObject pointer is
null"). A batch that fails is walked leaf by leaf (list items, struct fields, map keys and
values): each row holding a string that is not UTF-8 becomes a `BadRow` (`invalid_utf8`,
naming the column path, e.g. `v[].t`, `m{key}`), and the batch's other rows go on to
polars.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from jsonl_assets.core.store.base import StorePath, store_for

_ARROW_ERRORS: Final = (pa.ArrowException, OSError, ValueError)
_MAX_DIGITS: Final = 38  # polars' Decimal is 128 bits


@dataclass(frozen=True, slots=True)
class BadRow:
    """One row not handed to polars: its reason code and why."""

    reason: str
    why: str


Piece = pl.DataFrame | BadRow


def arrow_batches(
    path: StorePath,
    batch_rows: int,
    schema: pl.Schema,
    start: int | None = None,
    stop: int | None = None,
    groups: list[int] | None = None,
) -> Iterator[Piece] | None:
    """The file's rows in order (from row `start`, 0-based, when given), as polars frames of
    at most `batch_rows` rows and `BadRow`s, decoded by pyarrow one batch at a time (memory
    follows the batch, not the row group). None when pyarrow cannot open the file or would
    hand polars a column of another type than polars' own reader gives (`schema`): such a
    file is read by polars, so that every value is the one polars reads. Without `start`,
    None too when no row group holds more than `batch_rows` rows and no column holds a
    decimal256: polars' reader decodes those about three times as fast (see the module
    docstring), but panics on a decimal256 in a struct (every row holding one was
    `unsupported_value`). With `stop` (a row group's first row), the row groups from it on
    are not read. With `groups`, those row groups are read (in that order), no other (a
    file whose footer is damaged, parquet_footer.py). A read error is an OSError."""
    try:
        handle = store_for(path).open_read(path)
    except OSError:
        return None
    try:
        parquet = pq.ParquetFile(handle)
        meta = parquet.metadata
        sizes = _before(stop, [meta.row_group(i).num_rows for i in range(meta.num_row_groups)])
        target = polars_ready(parquet.schema_arrow)
        # a decimal256 in a struct makes polars' own reader panic on each row holding one
        narrowed = target != parquet.schema_arrow
        wanted = start is not None or groups is not None or narrowed
        wanted = wanted or any(n > batch_rows for n in sizes)
        empty = pl.from_arrow(target.empty_table()) if wanted else None
        same = isinstance(empty, pl.DataFrame) and empty.schema == schema
    except (*_ARROW_ERRORS, pl.exceptions.PolarsError, pl.exceptions.PanicException):
        same = False
    if not same:
        handle.close()
        return None
    cast = target if narrowed else None
    if groups is None:
        groups, start = _from(sizes, start or 0)
    return _pieces(handle, parquet, batch_rows, groups, start or 0, cast)


def _from(sizes: list[int], start: int) -> tuple[list[int], int]:
    """The row groups holding the rows from `start` on, and where in the first it falls."""
    first = 0
    while first < len(sizes) and sizes[first] <= start:
        start -= sizes[first]
        first += 1
    return list(range(first, len(sizes))), start


def _before(stop: int | None, sizes: list[int]) -> list[int]:
    """The row counts of the row groups that end by row `stop` (all of them without it)."""
    if stop is None:
        return sizes
    kept, end = [], 0
    for n in sizes:
        if end + n > stop:
            break
        kept.append(n)
        end += n
    return kept


def polars_ready(schema: pa.Schema) -> pa.Schema:
    """`schema` with each decimal256 of at most 38 digits, at any depth, a decimal128 of the
    same precision and scale: polars reads such a Parquet column as that Decimal, but its
    Arrow import has no Int256 and panics on a decimal256 (a Rust "operator does not support
    primitive `Int256`" block on stderr). The cast keeps every value (38 digits fit)."""
    return pa.schema([f.with_type(_narrowed(f.type)) for f in schema], schema.metadata)


def _narrowed(kind: pa.DataType) -> pa.DataType:
    if pa.types.is_decimal256(kind) and kind.precision <= _MAX_DIGITS:
        return pa.decimal128(kind.precision, kind.scale)
    if pa.types.is_struct(kind):
        return pa.struct([f.with_type(_narrowed(f.type)) for f in kind])
    if pa.types.is_map(kind):
        key, item = kind.key_field, kind.item_field
        return pa.map_(
            key.with_type(_narrowed(key.type)),
            item.with_type(_narrowed(item.type)),
            kind.keys_sorted,
        )
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        inner = kind.value_field.with_type(_narrowed(kind.value_type))
        if pa.types.is_fixed_size_list(kind):
            return pa.list_(inner, kind.list_size)
        return pa.large_list(inner) if pa.types.is_large_list(kind) else pa.list_(inner)
    return kind


def _pieces(
    handle: Any,
    parquet: pq.ParquetFile,
    batch_rows: int,
    groups: list[int],
    start: int,
    cast: pa.Schema | None,
) -> Iterator[Piece]:
    """The rows of `groups` from their row `start` on (cast to `cast` when given,
    `polars_ready`)."""
    with handle:
        if not groups:
            return
        try:
            batches = parquet.iter_batches(
                batch_size=batch_rows, row_groups=groups, use_threads=False
            )
            for batch in batches:
                if start >= batch.num_rows:
                    start -= batch.num_rows
                    continue
                if start:
                    batch, start = batch.slice(start), 0
                if cast is not None:
                    batch = batch.cast(cast)
                yield from _checked(batch)
        except pa.ArrowException as exc:
            raise OSError(f"pyarrow: {exc}") from exc


def _checked(batch: pa.RecordBatch) -> Iterator[Piece]:
    """`batch` as frames, the rows holding a string that is not UTF-8 as `BadRow`s."""
    try:
        batch.validate(full=True)
        bad: dict[int, str] = {}
    except pa.ArrowInvalid:
        bad = bad_utf8_rows(batch)
    start = 0
    for row in sorted(bad):
        if row > start:
            yield _frame(batch, start, row)
        why = f"column {bad[row]!r} holds a string that is not valid UTF-8"
        yield BadRow("invalid_utf8", why)
        start = row + 1
    if start < batch.num_rows:
        yield _frame(batch, start, batch.num_rows)


def _frame(batch: pa.RecordBatch, start: int, end: int) -> pl.DataFrame:
    """Rows `start` to `end` (excluded) of `batch`, copied out when they are only part of it
    (so no byte of a rejected row is behind the frame)."""
    if start > 0 or end < batch.num_rows:
        batch = batch.take(pa.array(np.arange(start, end, dtype=np.int64)))
    frame = pl.from_arrow(batch)
    assert isinstance(frame, pl.DataFrame)
    return frame


def bad_utf8_rows(batch: pa.RecordBatch) -> dict[int, str]:
    """Rows (0-based in `batch`) holding a string that is not UTF-8, at any depth, each with
    the path of the first such column found."""
    out: dict[int, str] = {}
    rows = pa.array(np.arange(batch.num_rows, dtype=np.int64))
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        _walk(column, rows, name, out)
    return out


def _walk(array: pa.Array, rows: pa.Array, path: str, out: dict[int, str]) -> None:
    """Record in `out` the rows (`rows`: the row of each value of `array`) of the strings in
    `array`, at any depth, that are not UTF-8."""
    kind = array.type
    if pa.types.is_struct(kind):
        for i, child in enumerate(array.flatten()):
            _walk(child, rows, f"{path}.{kind.field(i).name}", out)
    elif pa.types.is_map(kind):
        listed = array.cast(pa.list_(pa.struct([kind.key_field, kind.item_field])))
        inner_rows = rows.take(pc.list_parent_indices(listed))
        inner = pc.list_flatten(listed)
        _walk(inner.field(0), inner_rows, f"{path}{{key}}", out)
        _walk(inner.field(1), inner_rows, f"{path}{{value}}", out)
    elif (
        pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind)
    ):
        inner_rows = rows.take(pc.list_parent_indices(array))
        _walk(pc.list_flatten(array), inner_rows, f"{path}[]", out)
    elif pa.types.is_dictionary(kind):
        bad = _bad_values(array.dictionary)
        if bad:
            codes = array.indices.to_pylist()
            for i, code in enumerate(codes):
                if code in bad:
                    out.setdefault(rows[i].as_py(), path)
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        for i in _bad_values(array):
            out.setdefault(rows[i].as_py(), path)


def _bad_values(array: pa.Array) -> set[int]:
    """Indexes of the strings in `array` that are not UTF-8 (an empty set at once when all
    are: the check of each value runs only on an array that fails validation)."""
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return set()
    try:
        array.validate(full=True)
        return set()
    except pa.ArrowInvalid:
        pass
    raw = array.cast(pa.large_binary() if pa.types.is_large_string(array.type) else pa.binary())
    bad = set()
    for i, value in enumerate(raw.to_pylist()):
        if value is None:
            continue
        try:
            value.decode("utf-8")
        except UnicodeDecodeError:
            bad.add(i)
    return bad
