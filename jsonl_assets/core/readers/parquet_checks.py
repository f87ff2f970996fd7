"""A Parquet file looked at with pyarrow before polars reads its rows: refused whole, or the
rows polars would read altered.

`inspect` refuses a file whose schema repeats a name (`duplicate_key`: two columns, or two
fields of a struct at any depth, named alike; each row would be a JSON object repeating a key,
and polars either refuses the file or keeps one of the values: found in pyarrow's Arrow
schema, like the CSV reader's duplicate column names), a file with a column of a type polars
cannot read (`unsupported_type`: list_view, found in pyarrow's Arrow schema before polars
panics on it; decimal256, unknown time zones, see parquet_types.py), and finds, row by row, what polars 2.1 reads without a
word but altered:
- a map that repeats a key: polars builds its Map keeping the last value. pyarrow reads the
  map with its repeats, so each row whose map (at any depth) holds a key twice is
  `duplicate_key`, naming the column and the key; the row's other maps and the other rows
  are written;
- a duration in seconds: polars holds milliseconds at the coarsest and multiplies on read,
  wrapping around past 64 bits (2**62 s reads as 0 ms). Where a row group's min/max
  statistics for such a leaf pass what integer microseconds hold (or are missing), pyarrow
  reads that column of that row group, and each row with a value that does not fit is
  `unsupported_value`;
- a time (time32/time64, any unit) outside a day, [00:00, 24:00): Arrow holds any integer,
  polars reads such a time as null. Checked like the durations in seconds (statistics first,
  then pyarrow's values where they pass the day or are missing): each row holding one is
  `unsupported_value`.
Row groups pyarrow cannot read are left to polars' read, which reports them as damage; a
column of one pyarrow cannot read but polars can is quarantined where it has a value (and,
holding times, where it is null: polars reads a time outside a day as null).
`Inspection.dates` casts the columns holding an Arrow date64 (a Parquet DATE polars reads as
a millisecond Datetime) to the Dates pyarrow reads (parquet_types.date_casts).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from jsonl_assets.core.readers.parquet_decode import polars_ready
from jsonl_assets.core.readers.parquet_types import date_casts, unsupported_column
from jsonl_assets.core.rules.vocabulary import short
from jsonl_assets.core.store.base import StorePath, store_for

MAX_SECONDS: Final = (2**63 - 1) // 10**6  # the most seconds integer microseconds hold
DAY: Final = {"s": 86_400, "ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400_000_000_000}
_ALL_ROWS: Final = 2**63
_ARROW_ERRORS: Final = (pa.ArrowException, OSError, ValueError)


@dataclass(frozen=True, slots=True)
class Finding:
    """Why a row is not written as polars reads it."""

    reason: str
    why: str


@dataclass(frozen=True, slots=True)
class Suspect:
    """Rows `first` to `end` (0-based, end excluded) with a value in `column` are `reason`:
    values that could not be checked. `nulls`: a null in `column` is suspect too (polars reads
    a time outside a day as null)."""

    first: int
    end: int
    column: str
    reason: str
    why: str
    nulls: bool = False

    def rows(self) -> str:
        return f"rows {self.first + 1}-{self.end}" if self.end < _ALL_ROWS else "every row"


@dataclass(slots=True)
class Inspection:
    refused: str | None = None  # why the whole file is not read (as `refused_reason`)
    rows: dict[int, Finding] = field(default_factory=dict)  # by 0-based row
    suspects: list[Suspect] = field(default_factory=list)
    refused_reason: str = "unsupported_type"
    dates: dict[str, Any] = field(default_factory=dict)  # casts that read date64 as dates


def inspect(
    path: StorePath, scan: Callable[[], pl.LazyFrame], groups: list[tuple[int, bool]] | None = None
) -> Inspection:
    """What must be known about the file at `path` before its rows are read (`scan`: its
    lazy frame). Errors reading the file are left to the read, which reports them. `groups`:
    each row group's rows and whether it is read (a damaged footer, parquet_footer.py)."""
    try:
        handle = store_for(path).open_read(path)
    except OSError:
        return Inspection()
    with handle:
        try:
            parquet = pq.ParquetFile(handle)
            arrow = parquet.schema_arrow
        except _ARROW_ERRORS:
            parquet = arrow = None
        if arrow is not None and (repeated := repeated_names(arrow)) is not None:
            return Inspection(
                f"{repeated}, so its rows would hold JSON objects that repeat a key",
                refused_reason="duplicate_key",
            )
        for column in arrow or ():
            if (kind := _list_view(column.type)) is not None:
                return Inspection(
                    f"column {column.name!r} holds the Arrow type {kind}, which polars cannot read"
                )
        try:
            schema = scan().collect_schema()
        except pl.exceptions.PanicException as exc:
            text = str(exc).strip().splitlines()
            return Inspection(f"polars cannot read the file's schema ({text[0] if text else exc})")
        except (pl.exceptions.PolarsError, OSError):
            return Inspection()
        if (why := unsupported_column(schema)) is not None:
            return Inspection(why)
        if parquet is None or arrow is None:
            return Inspection(suspects=_unchecked(schema))
        found = Inspection(dates=_date64_columns(arrow, schema))
        _check(parquet, arrow, found, groups)
        return found


def _date64_columns(arrow: pa.Schema, schema: pl.Schema) -> dict[str, Any]:
    """The casts that give the columns holding a date64 (a Parquet DATE polars reads as a
    Datetime) as dates, as pyarrow reads them (parquet_types.date_casts)."""
    try:
        stored = pl.from_arrow(polars_ready(arrow).empty_table())
    except (*_ARROW_ERRORS, pl.exceptions.PolarsError, pl.exceptions.PanicException):
        return {}
    return date_casts(schema, stored.schema) if isinstance(stored, pl.DataFrame) else {}


def _unchecked(schema: pl.Schema) -> list[Suspect]:
    """Columns polars reads but pyarrow cannot, which may hold what polars alters."""
    why = (
        "pyarrow cannot read the file's footer, so the maps (a repeated key), durations "
        "(seconds past 64-bit microseconds) and times (outside a day) of column {!r} cannot "
        "be checked"
    )
    return [
        Suspect(
            0,
            _ALL_ROWS,
            name,
            "unsupported_value",
            why.format(name),
            nulls=_polars_has(dtype, lambda t: isinstance(t, pl.Time)),
        )
        for name, dtype in schema.items()
        if _polars_has(dtype, lambda t: isinstance(t, pl.Map | pl.Duration | pl.Time))
    ]


def _check(
    parquet: pq.ParquetFile,
    arrow: pa.Schema,
    found: Inspection,
    groups: list[tuple[int, bool]] | None,
) -> None:
    """Every column with a map, a duration in seconds or a time, row group by row group
    (`groups`: see `inspect`)."""
    meta = parquet.metadata
    sizes = groups or [(meta.row_group(g).num_rows, True) for g in range(meta.num_row_groups)]
    leaves = [list(_leaves(column.type)) for column in arrow]
    aligned = sum(map(len, leaves)) == meta.num_columns
    first_leaf = 0
    for column, kinds in zip(arrow, leaves, strict=True):
        start, first_leaf = first_leaf, first_leaf + len(kinds)
        maps, bounded = _has_map(column.type), any(k is not None for k in kinds)
        if not maps and not bounded:
            continue
        row = 0
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            first, row = row, row + sizes[g][0]
            if not sizes[g][1]:
                continue
            ranges = [(group.column(start + i).statistics, k) for i, k in enumerate(kinds)
                      if k is not None] if aligned else [(None, None)]  # fmt: skip
            past = bounded and not all(_within(s, k) for s, k in ranges)
            if not maps and not past:
                continue
            try:
                table = parquet.read_row_group(g, columns=[column.name], use_threads=False)
            except _ARROW_ERRORS as exc:
                why = (
                    f"pyarrow cannot read column {column.name!r} in this row group to check "
                    f"its maps for a repeated key, its durations in seconds and its times ({exc})"
                )
                times = _has_time(column.type)
                found.suspects.append(
                    Suspect(first, row, column.name, "unsupported_value", why, nulls=times)
                )
                continue
            at = first
            for chunk in table.column(0).chunks:
                rows = pa.array(np.arange(at, at + len(chunk), dtype=np.int64))
                _walk(chunk, rows, column.name, found.rows, maps, past)
                at += len(chunk)


def _within(stats: Any, bound: tuple[int, int] | None) -> bool:
    """Whether statistics say every stored integer of a leaf is within `bound` (inclusive)."""
    if stats is None or bound is None or not stats.has_min_max:
        return False
    try:
        low, high = stats.min_raw, stats.max_raw
    except _ARROW_ERRORS:
        return False
    if not isinstance(low, int) or not isinstance(high, int):
        return False
    return low >= bound[0] and high <= bound[1]


def _walk(
    array: pa.Array, rows: pa.Array, name: str, out: dict[int, Finding], maps: bool, bounds: bool
) -> None:
    """Find, in `array` (its values' rows are `rows`), the maps that repeat a key, the
    durations in seconds past what microseconds hold and the times outside a day, at any
    depth."""
    kind = array.type
    if pa.types.is_struct(kind):
        for child in array.flatten():  # null structs make their fields null
            _walk(child, rows, name, out, maps, bounds)
    elif pa.types.is_map(kind):
        entries = pa.list_(pa.struct([kind.key_field, kind.item_field]))
        listed = array.cast(entries)
        owners = pc.list_parent_indices(listed)
        inner = pc.list_flatten(listed)
        keys, values = inner.field(0), inner.field(1)
        if maps:
            for owner, key in _repeats(owners, keys):
                row = rows[owner].as_py()
                why = (
                    f"column {name!r} holds a map that repeats the key {short(key, 80)} (polars keeps "
                    "only its last value)"
                )
                out.setdefault(row, Finding("duplicate_key", why))
        inner_rows = rows.take(owners)
        _walk(keys, inner_rows, name, out, maps, bounds)
        _walk(values, inner_rows, name, out, maps, bounds)
    elif _listlike(kind):
        _walk(pc.list_flatten(array), rows.take(pc.list_parent_indices(array)), name, out,
              maps, bounds)  # fmt: skip
    elif bounds and (bound := _bound(kind)) is not None:
        values = array.view(pa.int32() if kind.bit_width == 32 else pa.int64())
        past = pc.or_(pc.less(values, bound[0]), pc.greater(values, bound[1]))
        for i in pc.indices_nonzero(past.fill_null(False)).to_pylist():
            out.setdefault(
                rows[i].as_py(), Finding("unsupported_value", _why(name, kind, values[i]))
            )


def _why(name: str, kind: pa.DataType, value: pa.Scalar) -> str:
    if pa.types.is_duration(kind):
        return (
            f"column {name!r} holds the duration {value.as_py()} s, which does not fit in "
            "64-bit integer microseconds (polars would wrap it around)"
        )
    return (
        f"column {name!r} holds the time {value.as_py()} {kind.unit} after midnight, outside a "
        "day (00:00 up to 24:00 excluded; polars would read it as null)"
    )


def _bound(kind: pa.DataType) -> tuple[int, int] | None:
    """The stored integers polars reads unaltered for a leaf of `kind` (inclusive): a
    duration in seconds that fits in 64-bit microseconds, a time within a day; None for the
    other types (not checked)."""
    if pa.types.is_duration(kind) and kind.unit == "s":
        return -MAX_SECONDS, MAX_SECONDS
    if pa.types.is_time(kind):
        return 0, DAY[kind.unit] - 1
    return None


def _repeats(owners: pa.Array, keys: pa.Array) -> Iterator[tuple[int, Any]]:
    """(map, key) for each map (by index) whose keys hold that key more than once."""
    table = pa.table({"m": owners, "k": keys})
    try:
        counts = table.group_by(["m", "k"], use_threads=False).aggregate([("m", "count")])
    except (pa.ArrowNotImplementedError, pa.ArrowTypeError):  # keys grouping cannot hash
        seen: set[tuple[int, str]] = set()
        for owner, key in zip(owners.to_pylist(), keys.to_pylist(), strict=True):
            if (owner, repr(key)) in seen:
                yield owner, key
            seen.add((owner, repr(key)))
        return
    repeated = counts.filter(pc.greater(counts["m_count"], 1))
    yield from zip(repeated["m"].to_pylist(), repeated["k"].to_pylist(), strict=True)


def _listlike(kind: pa.DataType) -> bool:
    return (
        pa.types.is_list(kind)
        or pa.types.is_large_list(kind)
        or (pa.types.is_fixed_size_list(kind))
    )


def _leaves(kind: pa.DataType) -> Iterator[tuple[int, int] | None]:
    """Per Parquet leaf column of a value of `kind` in order: the bound its stored integers
    must be within (a duration in seconds, a time; `_bound`), None for others."""
    inner = _nested(kind)
    if inner:
        for t in inner:
            yield from _leaves(t)
    else:
        yield _bound(kind)


def _nested(kind: pa.DataType) -> list[pa.DataType]:
    """The types directly inside `kind`."""
    if isinstance(kind, pa.ExtensionType):
        return [kind.storage_type]
    if pa.types.is_struct(kind):
        return [kind.field(i).type for i in range(kind.num_fields)]
    if pa.types.is_map(kind):
        return [kind.key_type, kind.item_type]
    if _listlike(kind) or pa.types.is_list_view(kind) or pa.types.is_large_list_view(kind):
        return [kind.value_type]
    return []


def repeated_names(arrow: pa.Schema) -> str | None:
    """What repeats a name in `arrow` (the column names, then each struct's field names at any
    depth, in column order), or None."""
    if repeats := _names_twice(arrow.names):
        return f"duplicate column names {repeats}"
    for column in arrow:
        if (repeats := _repeated_fields(column.type)) is not None:
            return f"column {column.name!r} holds a struct with duplicate field names {repeats}"
    return None


def _repeated_fields(kind: pa.DataType) -> list[str] | None:
    """The repeated field names of the first struct in `kind` that repeats one, or None."""
    if pa.types.is_struct(kind) and (repeats := _names_twice([f.name for f in kind])):
        return repeats
    return next((r for t in _nested(kind) if (r := _repeated_fields(t)) is not None), None)


def _names_twice(names: list[str]) -> list[str]:
    """The names that occur more than once, in order of their first repeat."""
    seen: set[str] = set()
    out: list[str] = []
    for name in names:
        if name in seen and name not in out:
            out.append(name)
        seen.add(name)
    return out


def _list_view(kind: pa.DataType) -> str | None:
    """The list_view type in `kind` (polars panics on them), or None."""
    if pa.types.is_list_view(kind):
        return "list_view"
    if pa.types.is_large_list_view(kind):
        return "large_list_view"
    return next((v for t in _nested(kind) if (v := _list_view(t)) is not None), None)


def _has_map(kind: pa.DataType) -> bool:
    return pa.types.is_map(kind) or any(_has_map(t) for t in _nested(kind))


def _has_time(kind: pa.DataType) -> bool:
    return pa.types.is_time(kind) or any(_has_time(t) for t in _nested(kind))


def _polars_has(dtype: Any, test: Callable[[Any], bool]) -> bool:
    if test(dtype):
        return True
    if isinstance(dtype, pl.Struct):
        return any(_polars_has(f.dtype, test) for f in dtype.fields)
    if isinstance(dtype, pl.Map):
        return _polars_has(dtype.key, test) or _polars_has(dtype.value, test)
    inner = getattr(dtype, "inner", None)
    return inner is not None and _polars_has(inner, test)
